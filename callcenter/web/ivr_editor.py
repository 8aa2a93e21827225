"""What the IVR editor page asks while an admin types (admins only; saving is in ivr_api.py).

    POST /api/ivr/validate  {"text"} -> {"ok", "loaded", "problems": [{severity, line, column, key, node,
                            message}], "prompts": [{menu, node, key, language, text, file, line}],
                            "nodes": {name: line}, "start"}
                            problems are the config loader's and ``ivr.validate``'s (errors) and its
                            warnings (a queue no path reaches), each at its line and column, in the centre's
                            language
    POST /api/ivr/graph     {"text"} -> {"svg", "engine"}: the picture ``callcenter ivr render`` draws
    POST /api/ivr/diff      {"text", "base"?} -> the change from version ``base`` (default: the serving one)
                            to ``text``: {"base", "changed", "added", "removed", "lines": [{op, old, new, text}]}
    POST /api/ivr/listen    {"text", "language"} -> audio/wav, 8 kHz mono 16-bit: the file
                            ``callcenter prompts build`` makes from that text, so the admin hears what
                            callers will (espeak-ng + sox, callcenter/prompts.py)
"""

from __future__ import annotations

import asyncio
import difflib
import re
import tempfile
from collections import OrderedDict
from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.ivrcli import render_svg, source_menus
from callcenter.prompts import VOICES, PromptError, PromptSpec, render
from callcenter.web.auth import Role, requires
from callcenter.web.errors import WebError
from callcenter.web.ivr_messages import localise
from config.menu import MenuSource, load_menu_text
from config.yamlsource import Loc, SourceError, parse
from ivr.model import Menu, prompts
from ivr.validate import warnings as ivr_warnings
from ivr.versions import MenuVersion

MAX_MENU_BYTES = 256 * 1024
MAX_PROMPT_CHARS = 500
#: spoken prompts kept in memory (a prompt is 50-200 kB), newest last
SPOKEN_CACHE = 32


class EditorService(Protocol):
    """What the editor needs of callcenter/ivr_service.py's IvrService: the config's queues, agents' skills
    and language, which a menu is checked against, and the versions."""

    @property
    def queues(self) -> Collection[str]: ...

    @property
    def skills(self) -> Collection[str] | None: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def current(self) -> MenuVersion: ...

    @property
    def versions(self) -> Any: ...


async def body_text(request: Request) -> tuple[dict[str, Any], str]:
    """The JSON body and its ``text`` (400 / 413 with a message otherwise)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise WebError(400, "bad_json", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise WebError(400, "bad_json", "the body must be a JSON object")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise WebError(400, "text_missing", "give the text as 'text'")
    if len(text.encode("utf-8")) > MAX_MENU_BYTES:
        raise WebError(413, "menu_too_large", f"a menu is at most {MAX_MENU_BYTES} bytes")
    return body, text


# --- validation -----------------------------------------------------------------------------------------


def load(service: EditorService, text: str) -> MenuSource:
    return load_menu_text(text, "menu", queues=service.queues, skills=service.skills or None,
                          languages=service.languages, environ={})


def validate(service: EditorService, text: str, language: str) -> dict[str, Any]:
    source = load(service, text)
    lines = text.splitlines()
    problems = [_problem("error", i.key, i.message, i.line, lines, text, language) for i in source.issues]
    if source.ok:
        for w in ivr_warnings(source.menu(), source.queues):
            problems.append(_problem("warning", "", w.with_fix(), None, lines, text, language))
    out: dict[str, Any] = {"ok": not any(p["severity"] == "error" for p in problems), "loaded": source.ivr is not None,
                           "problems": problems, "prompts": [], "nodes": {}}
    if source.ivr is not None:
        locs = _lines(text, source)
        out["prompts"] = _prompts(source, locs)
        menu = source.menu()
        out["nodes"] = {name: locs.get(("nodes", name)) for name in menu.nodes}
        out["start"] = menu.start
    return out


def _problem(severity: str, key: str, message: str, line: int | None, lines: list[str], text: str,
             language: str) -> dict[str, Any]:
    parts = [p for p in key.split(".") if p]
    if parts and parts[0] == "ivr":
        parts = parts[1:]
    node = parts[1] if len(parts) >= 2 and parts[0] == "nodes" else None
    column = None
    if line is not None and 1 <= line <= len(lines):
        column = _syntax_column(text, line) if not key else _key_column(lines[line - 1], parts)
    return {"severity": severity, "key": key, "node": node, "line": line, "column": column,
            "message": localise(message, language)}


def _key_column(line: str, parts: list[str]) -> int:
    """1-based column of the key's last part on its line (else of the line's first character)."""
    if parts:
        found = re.search(r"""(?:^|[\s{,-])['"]?(""" + re.escape(parts[-1]) + r""")['"]?\s*:""", line)
        if found:
            return found.start(1) + 1
    return len(line) - len(line.lstrip()) + 1


def _syntax_column(text: str, line: int) -> int:
    """Where PyYAML stopped on a syntax error at ``line`` (1-based), else the line's first character."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and mark.line + 1 == line:
            return mark.column + 1
    except yaml.YAMLError:
        pass
    row = text.splitlines()[line - 1]
    return len(row) - len(row.lstrip()) + 1


def _lines(text: str, source: MenuSource) -> dict[Loc, int]:
    """{key path inside the menu: line}; a whole config's paths lose their leading 'ivr'."""
    try:
        _, lines = parse(text)
    except SourceError:
        return {}
    if source.is_config:
        return {loc[1:]: n for loc, n in lines.items() if loc[:1] == ("ivr",)}
    return lines


def _line_of(locs: dict[Loc, int], *candidates: Loc) -> int | None:
    for loc in candidates:
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in locs:
                return locs[loc[:cut]]
    return None


def _prompts(source: MenuSource, locs: dict[Loc, int]) -> list[dict[str, Any]]:
    """Every prompt text of the menu and the survey, with the line of its ``text:``."""
    out: list[dict[str, Any]] = []
    for label, menu in source_menus(source):
        out.extend(_menu_prompts(label, menu, locs, flat=source.ivr is not None and source.ivr.mode == "flat"))
    return out


def _menu_prompts(label: str, menu: Menu, locs: dict[Loc, int], *, flat: bool) -> list[dict[str, Any]]:
    out = []
    for name, node in menu.nodes.items():
        for key, prompt in prompts(node):
            for lang, pf in prompt.by_language.items():
                if label == "survey":  # the survey's two nodes: 'survey' (its prompts) and 'thanks'
                    where: tuple[Loc, ...] = (("survey", "thanks" if name == "thanks" else key, lang, "text"),)
                elif flat:
                    where = (("greeting", lang, "text"),)
                else:
                    where = (("nodes", name, key, lang, "text"),)
                out.append({"menu": label, "node": name, "key": key, "language": lang, "text": pf.text,
                            "file": pf.file, "line": _line_of(locs, *where)})
    return out


# --- graph, diff, speech --------------------------------------------------------------------------------


def graph(service: EditorService, text: str, language: str, title: str) -> dict[str, Any]:
    source = load(service, text)
    if source.ivr is None:
        raise WebError(422, "menu_not_loaded", "the menu does not load; fix the errors first")
    svg, engine = render_svg(source_menus(source), title, language)
    start = svg.find("<svg")
    return {"svg": svg[start:] if start >= 0 else svg, "engine": engine}


def diff(old: str, new: str) -> dict[str, Any]:
    """The change from ``old`` to ``new`` as rows with both line numbers, three lines of context."""
    rows: list[dict[str, Any]] = []
    added = removed = 0
    a, b = old.splitlines(), new.splitlines()
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        first, last = group[0], group[-1]
        rows.append({"op": "hunk", "old": first[1] + 1, "new": first[3] + 1,
                     "text": f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@"})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [{"op": "same", "old": i + 1, "new": j1 + k + 1, "text": a[i]}
                         for k, i in enumerate(range(i1, i2))]
                continue
            rows += [{"op": "del", "old": i + 1, "new": None, "text": a[i]} for i in range(i1, i2)]
            rows += [{"op": "add", "old": None, "new": j + 1, "text": b[j]} for j in range(j1, j2)]
            removed += i2 - i1
            added += j2 - j1
    return {"changed": bool(rows), "added": added, "removed": removed, "lines": rows}


class Speaker:
    """Prompt texts spoken once each (the same text is asked for again and again while editing)."""

    def __init__(self, size: int = SPOKEN_CACHE, parallel: int = 2) -> None:
        self.cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.size = size
        self.gate = asyncio.Semaphore(parallel)  # espeak-ng is CPU: at most two at once
        self.spoken = 0

    async def wav(self, text: str, language: str) -> bytes:
        key = (language, text)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        async with self.gate:
            data = await asyncio.to_thread(_speak, text, language)
        self.spoken += 1
        self.cache[key] = data
        while len(self.cache) > self.size:
            self.cache.popitem(last=False)
        return data


def _speak(text: str, language: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="cc-listen-") as tmp:
        target = Path(tmp) / "prompt.wav"
        render(PromptSpec("listen", language, text, "IVR editor"), target)
        return target.read_bytes()


# --- routes ---------------------------------------------------------------------------------------------


def editor_routes(service: EditorService, *, language: str, centre_name: str = "") -> list[BaseRoute]:
    speaker = Speaker()
    drawing = asyncio.Semaphore(2)  # graphviz runs as a program: no more than two at once

    @requires(Role.ADMIN)
    async def validate_text(request: Request) -> Response:
        _, text = await body_text(request)
        return JSONResponse(await asyncio.to_thread(validate, service, text, language))

    @requires(Role.ADMIN)
    async def graph_text(request: Request) -> Response:
        _, text = await body_text(request)
        async with drawing:
            return JSONResponse(await asyncio.to_thread(graph, service, text, language, centre_name or "IVR"))

    @requires(Role.ADMIN)
    async def diff_text(request: Request) -> Response:
        body, text = await body_text(request)
        base = body.get("base")
        try:
            old = service.current() if base is None else service.versions.get(int(base))
        except (LookupError, TypeError, ValueError):
            raise WebError(404, "no_such_version", "no such menu version") from None
        return JSONResponse({"base": old.number, **diff(old.text, text)})

    @requires(Role.ADMIN)
    async def listen(request: Request) -> Response:
        body, text = await body_text(request)
        lang = str(body.get("language") or language)
        if lang not in VOICES:
            raise WebError(400, "unknown_language", f"language is one of {', '.join(VOICES)}")
        if len(text) > MAX_PROMPT_CHARS:
            raise WebError(413, "prompt_too_long", f"a prompt is at most {MAX_PROMPT_CHARS} characters")
        try:
            data = await speaker.wav(text.strip(), lang)
        except PromptError as exc:
            raise WebError(503, "speech_unavailable", str(exc)) from None
        return Response(data, media_type="audio/wav", headers={"Cache-Control": "private, max-age=600"})

    return [
        Route("/api/ivr/validate", validate_text, methods=["POST"]),
        Route("/api/ivr/graph", graph_text, methods=["POST"]),
        Route("/api/ivr/diff", diff_text, methods=["POST"]),
        Route("/api/ivr/listen", listen, methods=["POST"]),
    ]

