"""Reading the YAML file: plain data, the line of every key, ${VAR} substitution.

The loader is YAML 1.1 SafeLoader with two traps removed, because a config is written by people:
- ``22:00`` would be the integer 1320 (sexagesimal) and ``0123`` the octal 83: here numbers are plain
  decimal (``-12``, ``3.5``) and everything else stays a string;
- a key given twice in one mapping is an error (YAML silently keeps the last one).

``${VAR}`` and ``${VAR:-default}`` in string values are replaced from the environment; ``$${`` is a
literal ``${``. A missing variable with no default is an error at that key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

Loc = tuple[str | int, ...]

#: A config is a few thousand values; aliases (``*name``) are counted each time they are used, so a
#: "billion laughs" document is refused here instead of expanding for hours.
MAX_NODES = 200_000
#: A config nests a handful of levels; YAML's composer recurses once per level.
MAX_DEPTH = 40


class _Loader(yaml.SafeLoader):
    pass


# Drop YAML 1.1's int/float resolvers (sexagesimal, octal, '1_000') and put decimal ones back.
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)\.[0-9]+$"), list("-+0123456789"))


@dataclass(frozen=True, slots=True)
class SourceIssue:
    loc: Loc
    message: str
    line: int | None = None


class SourceError(Exception):
    def __init__(self, issues: list[SourceIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(i.message for i in issues))


def parse(text: str) -> tuple[Any, dict[Loc, int]]:
    """YAML text -> (data, {key path: 1-based line}). Raises SourceError with line numbers."""
    try:
        loader = _Loader(text)  # refuses control characters at once
    except yaml.YAMLError as exc:
        raise SourceError([SourceIssue((), f"YAML error: {exc}")]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Loc, int] = {}
        issues: list[SourceIssue] = []
        _walk(node, (), lines, issues, [MAX_NODES])
        if issues:
            raise SourceError(issues)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise SourceError([SourceIssue((), f"YAML syntax error: {problem}", line)]) from None
    except yaml.YAMLError as exc:
        raise SourceError([SourceIssue((), f"YAML error: {exc}")]) from None
    except RecursionError:
        raise SourceError([SourceIssue((), f"YAML nested more than {MAX_DEPTH} levels deep")]) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], issues: list[SourceIssue], budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0 or len(loc) > MAX_DEPTH:
        what = f"more than {MAX_NODES} values (aliases counted each time)" if budget[0] < 0 else "nested too deeply"
        raise SourceError([SourceIssue(loc[:3], f"YAML document {what}", node.start_mark.line + 1)])
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(
                    SourceIssue((*loc, key), f"duplicate key {key!r} (first given on line {seen[key]})", line)
                )
                continue
            seen[key] = line
            lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), lines, issues, budget)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, issues, budget)


_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_env(data: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string value. Raises SourceError naming each key."""
    env = os.environ if environ is None else environ
    issues: list[SourceIssue] = []
    result = _substitute(data, (), env, issues)
    if issues:
        raise SourceError(issues)
    return result


def _substitute(value: Any, loc: Loc, env: Mapping[str, str], issues: list[SourceIssue]) -> Any:
    if isinstance(value, dict):
        return {str(k): _substitute(v, (*loc, str(k)), env, issues) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*loc, i), env, issues) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found is not None and (found != "" or default is None):
            return found
        if default is not None:
            return default
        hint = f"${{{name}:-default}}"
        issues.append(SourceIssue(loc, f"environment variable {name} is not set (and no {hint})"))
        return ""

    return _VAR.sub(replace, value)
