"""A menu from YAML text or a file, with every problem located: what ``callcenter ivr check``, the admin
page and the version store use.

The text is either a whole config file (its ``ivr`` section is taken; queues, agents' skills and the
centre's language come from the same file) or a menu on its own (the ``ivr`` section's content: ``mode``,
``start``, ``nodes``, ``survey`` ...), checked against the queues and skills given, if any.
Each problem is a ``ConfigIssue`` (key path such as ``ivr.nodes.main.choices.2``, message with the fix,
line).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.loader import ConfigIssue, _from_pydantic, _from_source
from config.models import FlatIvrConfig, IvrConfig, MenuIvrConfig, Section, ivr_issues
from config.yamlsource import Loc, SourceError, parse, substitute_env
from ivr.model import Menu


class _IvrDocument(Section):
    ivr: IvrConfig


@dataclass
class MenuSource:
    path: str
    ivr: MenuIvrConfig | FlatIvrConfig | None
    issues: list[ConfigIssue] = field(default_factory=list)
    is_config: bool = False  # the file was a whole config, not a menu alone
    queues: set[str] | None = None
    skills: set[str] | None = None
    languages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.ivr is not None and not self.issues

    def menu(self) -> Menu:
        if self.ivr is None:
            raise ValueError("the menu did not load")
        return self.ivr.to_menu(self.languages)

    def survey(self) -> Menu | None:
        if self.ivr is None or self.ivr.survey is None:
            return None
        return self.ivr.survey.to_menu(tuple(self.ivr.languages) or self.languages)

    def messages(self) -> list[str]:
        """One line per problem: 'FILE:LINE: KEY: message; fix: ...'."""
        out = []
        for issue in self.issues:
            where = f"{self.path}:{issue.line}" if issue.line else self.path
            key = f" {issue.key}:" if issue.key else ""
            out.append(f"{where}:{key} {issue.message}")
        return out


def load_menu_text(
    text: str,
    path: str = "<menu>",
    *,
    queues: Collection[str] | None = None,
    skills: Collection[str] | None = None,
    languages: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> MenuSource:
    """Parse and check a menu (or a config's ivr section). Never raises on bad input: see ``issues``."""
    lines: dict[Loc, int] = {}
    try:
        data, lines = parse(text)
        data = substitute_env(data, os.environ if environ is None else environ)
    except SourceError as exc:
        return MenuSource(path, None, [_from_source(i, lines) for i in exc.issues])
    if not isinstance(data, dict):
        return MenuSource(path, None, [ConfigIssue("", "expected a mapping (mode, start, nodes ...)", 1)])
    source = MenuSource(path, None, queues=set(queues) if queues is not None else None,
                        skills=set(skills) if skills is not None else None, languages=languages)
    if "ivr" in data:  # a whole config file
        source.is_config = True
        section = data["ivr"]
        source.queues, source.skills, source.languages = _from_config_data(data)
    else:
        section = data
        lines = {("ivr", *loc): line for loc, line in lines.items()}
    document = {"ivr": section}
    try:
        source.ivr = _IvrDocument.model_validate(document).ivr
    except ValidationError as exc:
        source.issues = _from_pydantic(exc, document, lines)
        return source
    skills_known = source.skills if source.skills else None  # no agents listed: skills are not checked
    found = ivr_issues(source.ivr, source.queues, skills_known, source.languages)
    source.issues = [_from_source(issue, lines) for issue in found]
    return source


def load_menu_file(path: str | Path, *, config: str | Path | None = None) -> MenuSource:
    """``load_menu_text`` of a file; ``config`` (a config file) supplies queues, skills and language for a
    menu file on its own."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return MenuSource(str(path), None, [ConfigIssue("", f"cannot read the file: {exc}")])
    queues = skills = None
    languages: tuple[str, ...] = ()
    if config is not None:
        try:
            data, _ = parse(Path(config).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SourceError) as exc:
            return MenuSource(str(path), None, [ConfigIssue("", f"cannot read the config {config}: {exc}")])
        if isinstance(data, dict):
            queues, skills, languages = _from_config_data(data)
    return load_menu_text(text, str(path), queues=queues, skills=skills, languages=languages)


def _from_config_data(data: dict[str, Any]) -> tuple[set[str] | None, set[str] | None, tuple[str, ...]]:
    """Queue names, agents' skills and the centre language from raw config data (before validation)."""
    queues = {str(q["name"]) for q in data.get("queues") or [] if isinstance(q, dict) and "name" in q}
    skills = {str(s) for a in data.get("agents") or [] if isinstance(a, dict)
              for s in (a.get("skills") or {})}
    centre = data.get("centre") or {}
    language = centre.get("language", "zh") if isinstance(centre, dict) else "zh"
    return (queues or None), (skills or None), (str(language),)
