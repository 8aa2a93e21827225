"""Admin pages: agents (with their skills), queues and shifts, edited with the config file's own rules.

Every edit is validated by building a whole new ``Config`` with ``config.models`` (field rules and the
cross-section checks: unknown queues, duplicate endpoints, teams without agents, ...), so the page accepts
exactly what `callcenter check-config` accepts. Errors come back per field and the page shows each next to
its field. An accepted change is recorded in the audit file (JSON lines: who, when, what, before, after)
and the edited sections are written to ``config-edits.yaml`` (the YAML to merge into the config file; the
running daemon keeps its routing until it is restarted with the new file). IVR menus are edited with the IVR
editor (callcenter/web/ivr_api.py); this page links to it.

    GET    /admin                          the page                          admin
    GET    /api/admin/{section}            items of agents | queues | shifts  admin
    PUT    /api/admin/{section}/{key}      create or replace one item         admin
    DELETE /api/admin/{section}/{key}      remove one item                    admin
    GET    /api/admin/skills               skill -> agents and levels         admin
    GET    /api/admin/ivr                  the IVR menu (read only) + editor  admin
    GET    /api/admin/audit                the latest changes                 admin, supervisor
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from callcenter.web.auth import Role, requires
from callcenter.web.errors import WebError
from config.models import Config, CrossCheckError
from records.private import open_private, write_private

ASSETS = Path(__file__).with_name("admin")
AUDIT_TAIL = 200


@dataclass(frozen=True)
class SectionSpec:
    key: str  # the field that names an item
    list_fields: tuple[str, ...] = ()  # "a, b" in the form -> ["a", "b"]
    map_fields: tuple[str, ...] = ()  # "law=6, housing=8" -> {"law": 6, "housing": 8}
    optional: tuple[str, ...] = ()  # "" in the form -> None


SECTIONS: dict[str, SectionSpec] = {
    "agents": SectionSpec("id", list_fields=("queues",), map_fields=("skills",), optional=("team",)),
    "queues": SectionSpec("name", optional=("fallback",)),
    "shifts": SectionSpec("name", list_fields=("teams", "days"), optional=("timezone",)),
}


class EditError(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def coerce(spec: SectionSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """Form values (strings) to the shapes the config expects; pydantic does the rest (numbers, times)."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            value = value.strip()
            if name in spec.list_fields:
                value = [v.strip() for v in re.split(r"[,，\s]+", value) if v.strip()]
            elif name in spec.map_fields:
                pairs: dict[str, Any] = {}
                for part in (p.strip() for p in re.split(r"[,，]", value) if p.strip()):
                    k, sep, v = part.partition("=")
                    if not sep or not k.strip():
                        errors[name] = "expected name=level pairs, e.g. law=6, housing=8"
                        break
                    pairs[k.strip()] = v.strip()
                value = pairs
            elif name in spec.optional and value == "":
                value = None
        out[name] = value
    if errors:
        raise EditError(errors)
    return out


def _jsonable(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


class AuditLog:
    """Append-only JSON lines: {at, user, section, key, action, before, after}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with open_private(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def tail(self, n: int = AUDIT_TAIL) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-n:]
        return [json.loads(line) for line in reversed(lines) if line.strip()]


class ConfigEditor:
    """Holds the edited config; `save()` validates an item in the whole config and records the change."""

    def __init__(self, cfg: Config, audit: AuditLog, edits_path: Path | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.cfg = cfg
        self.audit = audit
        self.edits_path = edits_path
        self.clock = clock

    def items(self, section: str) -> list[dict[str, Any]]:
        return [_jsonable(m) for m in getattr(self.cfg, section)]

    def _index(self, section: str, key: str) -> int | None:
        spec = SECTIONS[section]
        for i, m in enumerate(getattr(self.cfg, section)):
            if str(getattr(m, spec.key)) == key:
                return i
        return None

    def _validate(self, section: str, items: list[Any], index: int) -> Config:
        data = {name: getattr(self.cfg, name) for name in Config.model_fields}
        data[section] = items
        try:
            return Config.model_validate(data)
        except ValidationError as exc:
            raise EditError(_field_errors(exc, section, index)) from None

    def save(self, section: str, key: str, raw: dict[str, Any], user: str) -> dict[str, Any]:
        spec = SECTIONS[section]
        item = coerce(spec, {k: v for k, v in raw.items() if k != spec.key})
        item[spec.key] = key
        items: list[Any] = list(getattr(self.cfg, section))
        index = self._index(section, key)
        before = _jsonable(items[index]) if index is not None else None
        if index is None:
            items.append(item)
            index = len(items) - 1
        else:
            items[index] = item
        new = self._validate(section, items, index)
        after = _jsonable(getattr(new, section)[index])
        if after != before:
            self._commit(new, section, key, "create" if before is None else "update", before, after, user)
        return after

    def delete(self, section: str, key: str, user: str) -> None:
        index = self._index(section, key)
        if index is None:
            raise WebError(404, "not_found", f"no {section} item {key!r}")
        items: list[Any] = list(getattr(self.cfg, section))
        before = _jsonable(items.pop(index))
        new = self._validate(section, items, index)
        self._commit(new, section, key, "delete", before, None, user)

    def _commit(self, new: Config, section: str, key: str, action: str, before: Any, after: Any, user: str) -> None:
        self.audit.append({"at": self.clock().isoformat(timespec="seconds"), "user": user, "section": section,
                           "key": key, "action": action, "before": before, "after": after})
        self.cfg = new
        if self.edits_path is not None:
            edited = {name: self.items(name) for name in SECTIONS}
            text = ("# Written by the admin pages: merge these sections into the config file, then restart.\n"
                    + yaml.safe_dump(edited, allow_unicode=True, sort_keys=False))
            write_private(self.edits_path, text, atomic=True)

    def skills(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for a in self.cfg.agents:
            for skill, level in a.skills.items():
                out.setdefault(skill, []).append({"agent_id": a.id, "name": a.name, "level": level})
        return {k: sorted(v, key=lambda x: -x["level"]) for k, v in sorted(out.items())}


def _field_errors(exc: ValidationError, section: str, index: int) -> dict[str, str]:
    """pydantic errors -> {field of the edited item: message}; others under '_' (never the input value)."""
    out: dict[str, str] = {}

    def put(loc: tuple[Any, ...], message: str) -> None:
        if len(loc) >= 3 and loc[0] == section and loc[1] == index:
            out.setdefault(str(loc[2]), message)
        elif len(loc) == 2 and loc[0] == section and loc[1] == index:
            out.setdefault("_", message)
        elif len(loc) >= 3 and loc[0] == section and isinstance(loc[1], int):
            # Reported on the other item (e.g. a duplicate endpoint): the edited item's same field clashes.
            out.setdefault(str(loc[2]), message)
        else:
            where = ".".join(str(p) for p in loc)
            out.setdefault("_", f"{where}: {message}" if where else message)

    for err in exc.errors(include_input=False, include_url=False):
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, CrossCheckError):
            for issue in cause.issues:
                put(tuple(issue.loc), issue.message)
        else:
            put(tuple(err["loc"]), str(err["msg"]))
    return out


def _section(request: Request) -> str:
    section = request.path_params["section"]
    if section not in SECTIONS:
        raise WebError(404, "not_found", f"section is one of {', '.join(SECTIONS)}")
    return str(section)


def ivr_editor_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("callcenter.web.ivr_api") is not None


def admin_routes(editor: ConfigEditor, *, language: str, centre_name: str) -> list[BaseRoute]:
    page = ((ASSETS / "admin.html").read_text(encoding="utf-8")
            .replace("{{lang}}", language).replace("{{centre}}", html.escape(centre_name))
            .replace("{{tz}}", html.escape(editor.cfg.centre.timezone)))

    @requires(Role.ADMIN, page=True)
    async def admin_page(request: Request) -> Response:
        """The admin page.
        ---
        responses:
          200: {description: HTML}
        """
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @requires(Role.ADMIN)
    async def list_items(request: Request) -> Response:
        """The items of one section.
        ---
        parameters:
          - {name: section, in: path, required: true, schema: {type: string, enum: [agents, queues, shifts]}}
        responses:
          200: {description: items}
          404: {description: unknown section}
        """
        section = _section(request)
        return JSONResponse({"section": section, "key": SECTIONS[section].key, "items": editor.items(section)})

    @requires(Role.ADMIN)
    async def put_item(request: Request) -> Response:
        """Create or replace one item; 422 with `fields` (field -> message) when the config rules refuse it.
        ---
        parameters:
          - {name: section, in: path, required: true, schema: {type: string, enum: [agents, queues, shifts]}}
          - {name: key, in: path, required: true, schema: {type: string, maxLength: 64}}
        requestBody:
          content:
            application/json:
              schema: {type: object, additionalProperties: true}
        responses:
          200: {description: saved}
          422: {description: refused, with the error of each field}
        """
        section = _section(request)
        key = str(request.path_params["key"])
        try:
            raw = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebError(400, "bad_json", "the body is not JSON") from exc
        if not isinstance(raw, dict):
            raise WebError(422, "invalid", "expected a JSON object")
        try:
            after = await asyncio.to_thread(editor.save, section, key, raw, request.state.user.username)
        except EditError as exc:
            return JSONResponse({"error": "invalid", "detail": "the config rules refuse this edit",
                                 "fields": exc.fields}, status_code=422)
        return JSONResponse({"ok": True, "item": after})

    @requires(Role.ADMIN)
    async def delete_item(request: Request) -> Response:
        """Remove one item (refused when something still refers to it).
        ---
        parameters:
          - {name: section, in: path, required: true, schema: {type: string, enum: [agents, queues, shifts]}}
          - {name: key, in: path, required: true, schema: {type: string, maxLength: 64}}
        responses:
          200: {description: removed}
          404: {description: no such item}
          422: {description: refused}
        """
        section = _section(request)
        try:
            await asyncio.to_thread(editor.delete, section, str(request.path_params["key"]),
                                    request.state.user.username)
        except EditError as exc:
            return JSONResponse({"error": "invalid", "detail": "the config rules refuse this edit",
                                 "fields": exc.fields}, status_code=422)
        return JSONResponse({"ok": True})

    @requires(Role.ADMIN)
    async def skills(request: Request) -> Response:
        """Skill -> agents with their levels (skills are edited on the agents).
        ---
        responses:
          200: {description: skills}
        """
        return JSONResponse({"skills": editor.skills()})

    @requires(Role.ADMIN)
    async def ivr(request: Request) -> Response:
        """The IVR menu (read only here) and where its editor is.
        ---
        responses:
          200: {description: the menu}
        """
        menu = editor.cfg.ivr.model_dump(mode="json", exclude_none=True) if editor.cfg.ivr is not None else None
        return JSONResponse({"ivr": menu, "editor": "/admin/ivr" if ivr_editor_available() else None})

    @requires(Role.ADMIN, Role.SUPERVISOR)
    async def audit(request: Request) -> Response:
        """The latest configuration changes, newest first.
        ---
        responses:
          200: {description: entries}
        """
        return JSONResponse({"entries": await asyncio.to_thread(editor.audit.tail)})

    return [
        Route("/admin", admin_page, methods=["GET"]),
        Route("/api/admin/skills", skills, methods=["GET"]),
        Route("/api/admin/ivr", ivr, methods=["GET"]),
        Route("/api/admin/audit", audit, methods=["GET"]),
        Route("/api/admin/{section}", list_items, methods=["GET"]),
        Route("/api/admin/{section}/{key}", put_item, methods=["PUT"]),
        Route("/api/admin/{section}/{key}", delete_item, methods=["DELETE"]),
        Mount("/admin/static", StaticFiles(directory=ASSETS / "static"), name="admin-static"),
    ]
