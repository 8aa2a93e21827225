"""``load_config(path) -> Config``: read, substitute ${VAR}, validate, and report EVERY error at once.

Each error names the file, the line, the key path (``agents[2].queues[0]``) and what was expected.
Values under secret keys (secret, password, the database URL) are never shown.
"""

from __future__ import annotations

import difflib
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from config.models import Config, CrossCheckError, mask_url
from config.yamlsource import Loc, SourceError, SourceIssue, parse, substitute_env

_SENSITIVE = {"secret", "password", "url", "token"}


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    key: str  # e.g. 'agents[2].queues[0]'; '' for the whole file
    message: str
    line: int | None = None


class ConfigError(Exception):
    def __init__(self, path: str | Path, issues: list[ConfigIssue]) -> None:
        self.path = str(path)
        self.issues = issues
        super().__init__(self.format_errors())

    def format_errors(self) -> str:
        count = len(self.issues)
        lines = [f"{self.path}: {count} configuration error{'s' if count != 1 else ''}"]
        for issue in self.issues:
            where = f"{self.path}:{issue.line}" if issue.line else self.path
            key = f" {issue.key}:" if issue.key else ""
            lines.append(f"  {where}:{key} {issue.message}")
        return "\n".join(lines)


def format_errors(error: ConfigError) -> str:
    return error.format_errors()


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate ``path``. Raises ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [ConfigIssue("", f"cannot read the file: {exc}")]) from None
    return load_config_text(text, path, environ)


def load_config_text(
    text: str, path: str | Path = "<config>", environ: Mapping[str, str] | None = None
) -> Config:
    lines: dict[Loc, int] = {}
    try:
        data, lines = parse(text)
        data = substitute_env(data, environ)
    except SourceError as exc:
        raise ConfigError(path, [_from_source(i, lines) for i in exc.issues]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            path, [ConfigIssue("", "expected a mapping of sections (centre, ami, queues, ...)", 1)]
        )
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, _from_pydantic(exc, data, lines)) from None


def check_config_main(path: str | Path) -> int:
    """`callcenter check-config FILE`: print a summary (0) or every error (1)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc.format_errors(), file=sys.stderr)
        return 1
    menu = config.ivr_menu()
    mode = "flat" if config.ivr is None or config.ivr.mode == "flat" else "menu"
    print(
        f"OK {path}: centre {config.centre.name!r} ({config.centre.timezone}, {config.centre.language}), "
        f"{len(config.queues)} queues, {len(config.agents)} agents, {len(config.shifts)} shifts, "
        f"IVR {mode} with {len(menu.nodes)} nodes, AMI {config.ami.host}:{config.ami.port}, "
        f"FastAGI {config.agi.host}:{config.agi.port}, database {config.database.masked_url}"
    )
    return 0


# --- turning errors into messages ------------------------------------------------------------------


def key_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _from_source(issue: SourceIssue, lines: dict[Loc, int]) -> ConfigIssue:
    line = issue.line if issue.line is not None else _line_for(issue.loc, lines)
    return ConfigIssue(key_path(issue.loc), issue.message, line)


def _data_loc(loc: tuple[str | int, ...], data: Any) -> Loc:
    """Pydantic's loc without the union tags it inserts ('menu', 'function-after[...]')."""
    out: list[str | int] = []
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":  # pydantic's marker for an invalid mapping key: the path already names it
            continue
        if isinstance(data, dict) and str(part) in data:
            out.append(str(part))
            data = data[str(part)]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            out.append(part)
            data = data[part]
        elif last:
            out.append(part)
        # else: a tag that is not a key of the data: drop it
    return tuple(out)


def _from_pydantic(exc: ValidationError, data: Any, lines: dict[Loc, int]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for error in exc.errors(include_url=False):
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, CrossCheckError):
            issues += [_from_source(i, lines) for i in cause.issues]
            continue
        raw_loc = tuple(error["loc"])
        loc = _data_loc(raw_loc, data)
        issues.append(ConfigIssue(key_path(loc), _message(error, raw_loc, loc), _line_for(loc, lines)))
    return issues


def _message(error: Any, raw_loc: tuple[str | int, ...], loc: Loc) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(raw_loc[:-1])
        message = "unknown key"
        if allowed:
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            message += f"; expected one of: {', '.join(allowed)}"
        return message
    message = str(error["msg"]).removeprefix("Value error, ")
    if raw_loc and raw_loc[-1] == "[key]":
        message = f"bad key: {message}"
    value = error.get("input")
    if isinstance(value, dict | list) or kind.startswith("union_tag"):
        return message
    if any(str(part) in _SENSITIVE for part in loc):
        if isinstance(value, str) and "url" in loc:
            return f"{message} (got {mask_url(value)!r})"
        return message  # never echo a secret
    shown = repr(value)
    if shown in message:
        return message
    return f"{message} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the model at ``loc`` (pydantic's loc, tags included), if it can be found."""
    current: Any = Config
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    models = [c for c in _candidates(current) if _is_model(c)]
    return list(models[0].model_fields) if len(models) == 1 else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _candidates(annotation: Any) -> list[Any]:
    """Flatten Annotated / Optional / unions to the plain types inside."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _candidates(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [c for arg in typing.get_args(annotation) for c in _candidates(arg)]
    return [annotation]


def _step(annotation: Any, part: str | int) -> Any:
    for candidate in _candidates(annotation):
        origin = typing.get_origin(candidate)
        if _is_model(candidate) and isinstance(part, str):
            if part in candidate.model_fields:
                return candidate.model_fields[part].annotation
            # A union tag: the value of the model's 'kind' or 'mode' literal.
            for tag_field in ("kind", "mode"):
                field = candidate.model_fields.get(tag_field)
                if field is not None and part in typing.get_args(field.annotation):
                    return candidate
        if origin is list and isinstance(part, int):
            return typing.get_args(candidate)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(candidate)[1]
    return None
