"""Several Asterisk servers (``pbxs:``): one AMI and one FastAGI listener each (docs/scale.md, "Several PBXs").

The single ``ami:``/``agi:``/``cdr:`` sections stay valid and mean one PBX called "main". With ``pbxs:``, ``ami``
and ``agi`` are taken from the first PBX (what code reading ``cfg.ami`` has always meant: the PBX).
"""

from __future__ import annotations

from typing import Any

from config.models.base import Name, Section
from config.models.services import AgiConfig, AmiConfig, CdrConfig
from config.yamlsource import SourceIssue


class PbxConfig(Section):
    name: Name
    ami: AmiConfig
    agi: AgiConfig = AgiConfig()
    #: this PBX's Master.csv, read by its resync (only with one PBX: see docs/scale.md)
    cdr: CdrConfig | None = None


def pbxs_alias(cls: type, data: Any) -> Any:
    """``pbxs:`` given: ``ami``/``agi`` are the first PBX's; both forms at once is an error (pydantic names it)."""
    if not isinstance(data, dict) or not data.get("pbxs"):
        return data
    if any(key in data for key in ("ami", "agi", "cdr")):
        raise ValueError("give either pbxs or ami/agi/cdr, not both (ami/agi/cdr mean one PBX called 'main')")
    first = data["pbxs"][0] if isinstance(data["pbxs"], list) else None
    if not isinstance(first, dict) or "ami" not in first:
        return data  # the pbxs field's own validation says what is wrong
    out = dict(data)
    out["ami"] = first["ami"]
    if "agi" in first:
        out["agi"] = first["agi"]
    return out


def pbx_issues(pbxs: list[PbxConfig], agent_pbxs: list[str | None]) -> list[SourceIssue]:
    issues: list[SourceIssue] = []
    names = [p.name for p in pbxs]
    for i, name in enumerate(names):
        if name in names[:i]:
            issues.append(SourceIssue(("pbxs", i, "name"), f"duplicate name {name!r}"))
    if len(pbxs) > 1:
        for i, p in enumerate(pbxs):
            if p.cdr is not None:
                issues.append(SourceIssue(("pbxs", i, "cdr"), "CDR reconciliation works with one PBX only; "
                                          "remove cdr here (docs/scale.md)"))
    known = set(names) or {"main"}
    for i, pbx in enumerate(agent_pbxs):
        if pbx is not None and pbx not in known:
            issues.append(SourceIssue(("agents", i, "pbx"), f"unknown PBX {pbx!r} (known: {', '.join(sorted(known))})"))
    return issues
