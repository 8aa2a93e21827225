"""The department hierarchy (承办单位): counties, city departments, public-service units, county
departments, townships and streets, loaded from the config's inline list and/or a CSV file.

CSV columns (UTF-8, header row): code,name_zh,name_en,group,parent  (parent empty for a top unit).
About 1,550 units load in a few milliseconds: one pass with the csv module, one pass to check parents.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tickets.settings import TicketsConfig

GROUPS = ("county", "city_department", "public_service", "county_department", "township", "other")
GROUP_NAMES = {
    "zh": {"county": "区县", "city_department": "市直部门", "public_service": "公共服务单位",
           "county_department": "区县部门", "township": "乡镇街道", "other": "其他"},
    "en": {"county": "County", "city_department": "City department", "public_service": "Public-service unit",
           "county_department": "County department", "township": "Township / street", "other": "Other"},
}
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"  # where config/example.yaml lives
CSV_COLUMNS = ("code", "name_zh", "name_en", "group", "parent")


class DepartmentError(ValueError):
    """A department list that cannot be used: names the source and row."""


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    group: str
    parent: str | None = None

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en


@dataclass(slots=True)
class Directory:
    """All departments by code, with their children."""

    by_code: dict[str, Department] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.by_code)

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def __iter__(self) -> Iterator[Department]:
        return iter(self.by_code.values())

    def get(self, code: str) -> Department:
        try:
            return self.by_code[code]
        except KeyError:
            raise DepartmentError(f"unknown department {code!r}") from None

    def ancestors(self, code: str) -> list[str]:
        """Codes from the department's parent up to its top unit."""
        out: list[str] = []
        parent = self.get(code).parent
        while parent is not None:
            out.append(parent)
            parent = self.by_code[parent].parent
        return out

    def subtree(self, code: str) -> list[str]:
        """The department and everything under it (a county sees its townships' tickets)."""
        out, stack = [], [code]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(self.children.get(current, ()))
        return out

    def count_by_group(self) -> dict[str, int]:
        counts = dict.fromkeys(GROUPS, 0)
        for dep in self.by_code.values():
            counts[dep.group] += 1
        return {g: n for g, n in counts.items() if n}


def build(departments: Iterable[tuple[str, Department]]) -> Directory:
    """A directory from (where, department) pairs; `where` names the source row in errors."""
    directory = Directory()
    where_of: dict[str, str] = {}
    for where, dep in departments:
        if dep.group not in GROUPS:
            raise DepartmentError(f"{where}: group {dep.group!r} is not one of {', '.join(GROUPS)}")
        if not dep.code or not dep.name_zh:
            raise DepartmentError(f"{where}: code and name_zh are required")
        if dep.code in directory.by_code:
            raise DepartmentError(f"{where}: duplicate code {dep.code!r} (also {where_of[dep.code]})")
        directory.by_code[dep.code] = dep
        where_of[dep.code] = where
    for code, dep in directory.by_code.items():
        if dep.parent is None:
            continue
        if dep.parent not in directory.by_code:
            raise DepartmentError(f"{where_of[code]}: parent {dep.parent!r} of {code!r} is not a department")
        directory.children.setdefault(dep.parent, []).append(code)
    _check_acyclic(directory, where_of)
    return directory


def _check_acyclic(directory: Directory, where_of: dict[str, str]) -> None:
    done: set[str] = set()
    for start in directory.by_code:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current not in done:
            if current in on_path:
                raise DepartmentError(f"{where_of[current]}: department {current!r} is its own ancestor")
            on_path.add(current)
            path.append(current)
            current = directory.by_code[current].parent
        done.update(path)


def read_csv(path: str | Path) -> Iterator[tuple[str, Department]]:
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DepartmentError(f"{path}: cannot read departments: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise DepartmentError(f"{path}: missing columns {', '.join(sorted(missing))}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            yield where, Department(code=row["code"].strip(), name_zh=row["name_zh"].strip(),
                                    name_en=row["name_en"].strip() or row["name_zh"].strip(),
                                    group=row["group"].strip(), parent=row["parent"].strip() or None)


def load(cfg: TicketsConfig, base_dir: str | Path = ".") -> Directory:
    """The config's inline departments, then the CSV's (if `departments_csv` is set)."""
    def inline() -> Iterator[tuple[str, Department]]:
        for i, d in enumerate(cfg.departments):
            yield f"tickets.departments[{i}]", Department(d.code, d.name.zh, d.name.en, d.group, d.parent)

    def both() -> Iterator[tuple[str, Department]]:
        yield from inline()
        if cfg.departments_csv:
            csv_path = Path(cfg.departments_csv)
            yield from read_csv(csv_path if csv_path.is_absolute() else Path(base_dir) / csv_path)

    return build(both())
