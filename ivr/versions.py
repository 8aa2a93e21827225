"""Menu versions and hot reload.

Saving a menu (its YAML text) makes a new version: number, author, time, and the diff against the version
before. A text that does not load or check is refused with its problems (``MenuRejected``) and the serving
version stays. New calls take ``current()``; a call already inside a menu keeps the ``Menu`` object it
started with, so it finishes on its version. ``rollback(n)`` makes a new version with version n's text
(history only grows, so a rollback can itself be rolled back).

``MenuVersions`` is pure (the caller gives the time); ``VersionFile`` keeps the history in one JSON file,
rewritten atomically on each save, so a restarted daemon serves the version it served before.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.model import Menu
from records.private import write_private


class MenuRejected(ValueError):
    """The menu text does not load or check; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str], issues: list[Any] | None = None) -> None:
        self.problems = problems
        self.issues = issues or []
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class Compiled:
    menu: Menu
    survey: Menu | None


#: text -> the menus, or MenuRejected
Compiler = Callable[[str], Compiled]


@dataclass(frozen=True, slots=True)
class MenuVersion:
    number: int
    author: str
    at: datetime
    text: str
    diff: str  # unified diff against the version before ('' for the first)
    note: str
    compiled: Compiled

    @property
    def menu(self) -> Menu:
        return self.compiled.menu

    @property
    def survey(self) -> Menu | None:
        return self.compiled.survey

    def summary(self) -> dict[str, Any]:
        return {"number": self.number, "author": self.author, "at": self.at.isoformat(), "note": self.note,
                "nodes": len(self.menu.nodes)}


class MenuVersions:
    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.versions: list[MenuVersion] = []

    def current(self) -> MenuVersion:
        if not self.versions:
            raise LookupError("no menu version yet")
        return self.versions[-1]

    def get(self, number: int) -> MenuVersion:
        for version in self.versions:
            if version.number == number:
                return version
        raise LookupError(f"no version {number}")

    def check(self, text: str) -> Compiled:
        """Compile without saving (raises MenuRejected)."""
        return self.compiler(text)

    def save(self, text: str, author: str, at: datetime, note: str = "") -> MenuVersion:
        if at.tzinfo is None:
            raise ValueError("version time must be timezone-aware")
        if not author.strip():
            raise MenuRejected(["a version needs its author"])
        compiled = self.compiler(text)
        previous = self.versions[-1] if self.versions else None
        diff = ""
        if previous is not None:
            diff = "".join(difflib.unified_diff(
                previous.text.splitlines(keepends=True), text.splitlines(keepends=True),
                f"v{previous.number}", f"v{previous.number + 1}"))
        version = MenuVersion((previous.number + 1) if previous else 1, author.strip(), at, text, diff, note,
                              compiled)
        self.versions.append(version)
        return version

    def rollback(self, number: int, author: str, at: datetime) -> MenuVersion:
        old = self.get(number)
        return self.save(old.text, author, at, note=f"rollback to v{number}")

    # -- persistence ---------------------------------------------------------------------------------

    def to_json(self) -> list[dict[str, Any]]:
        return [{"number": v.number, "author": v.author, "at": v.at.isoformat(), "text": v.text,
                 "diff": v.diff, "note": v.note} for v in self.versions]

    def load_json(self, items: list[dict[str, Any]]) -> list[str]:
        """Restore saved versions; a saved version that no longer compiles (the queues changed) is
        skipped and reported. Returns the problems."""
        problems: list[str] = []
        for item in items:
            try:
                compiled = self.compiler(item["text"])
            except MenuRejected as exc:
                problems.append(f"saved version {item.get('number')}: {exc}")
                continue
            self.versions.append(MenuVersion(int(item["number"]), str(item["author"]),
                                             datetime.fromisoformat(item["at"]), item["text"], item["diff"],
                                             item.get("note", ""), compiled))
        return problems


class VersionFile:
    """The history as one JSON file, replaced atomically on each write."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{self.path}: expected a list of versions")
        return data

    def write(self, versions: MenuVersions) -> None:
        # Versions hold whatever the editors typed (names, numbers in prompts): 0600.
        write_private(self.path, json.dumps(versions.to_json(), ensure_ascii=False, indent=1), atomic=True)
