"""The IVR as the daemon runs it (asyncio shell side, not part of the pure core): menu versions with
hot reload, the FastAGI handler for the menu and the after-call survey, and what goes on the call ledger.

- The config file's ``ivr`` section is version 1 (or a new version when it changed since the last start);
  versions saved by admins are kept in ``<state_dir>/ivr-versions.json`` and survive a restart.
- ``agi_session``: ``agi://.../ivr`` runs the current version's menu; ``agi://.../ivr/survey`` (the dialplan's
  [cc-survey], after the agent hung up first) runs its survey; the score goes on the call's ledger entry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import yaml

from agents.shifts import Calendar
from asterisk.agi.ivr import AgiOptions, IvrResult, run_ivr_over_agi
from asterisk.agi.session import AgiSession
from config.menu import load_menu_text
from config.models import Config
from ivr.versions import Compiled, MenuRejected, MenuVersion, MenuVersions, VersionFile

log = logging.getLogger(__name__)

FROM_CONFIG = "from the config file"


class Ledger(Protocol):
    def ivr_finished(self, call_id: str, at: datetime, *, path: str, queue: str | None, language: str,
                     failed: bool = False, priority: int = 0, skills: tuple[tuple[str, int], ...] = (),
                     steps: str = "") -> Any: ...

    def survey_answered(self, call_id: str, score: int) -> None: ...

    calls: dict[str, Any]


def config_menu_text(cfg: Config) -> str:
    """The config's ivr section as YAML (what version 1 holds)."""
    if cfg.ivr is None:
        data: dict[str, Any] = {"mode": "flat", "queue": cfg.queues[0].name}
    else:
        data = cfg.ivr.model_dump(mode="json", exclude_defaults=True)
        data.setdefault("mode", cfg.ivr.mode)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


class IvrService:
    def __init__(self, cfg: Config, state_dir: str | Path, clock: Callable[[], datetime]) -> None:
        self.cfg = cfg
        self.clock = clock
        self.queues = {q.name for q in cfg.queues}
        self.skills = cfg.known_skills() or None
        self.languages = (cfg.centre.language,)
        overrides = dict.fromkeys(cfg.holidays.days_off, False) | dict.fromkeys(cfg.holidays.working_days, True)
        external = cfg.ivr.external_dial if cfg.ivr is not None else "PJSIP/{number}@trunk"
        self.options = AgiOptions(tz=ZoneInfo(cfg.centre.timezone), calendar=Calendar(overrides),
                                  external_dial=external)
        self.versions = MenuVersions(self.compile)
        self.file = VersionFile(Path(state_dir) / "ivr-versions.json")
        self.sessions = 0
        self.surveys = 0
        self._load()

    # -- versions ------------------------------------------------------------------------------------

    def compile(self, text: str) -> Compiled:
        source = load_menu_text(text, "menu", queues=self.queues, skills=self.skills, languages=self.languages,
                                environ={})
        if not source.ok:
            problems = [f"{i.key}: {i.message}" if i.key else i.message for i in source.issues]
            raise MenuRejected(problems or ["the menu did not load"], source.issues)
        return Compiled(source.menu(), source.survey())

    def _load(self) -> None:
        try:
            saved = self.file.read()
        except (OSError, ValueError) as exc:
            log.error("IVR versions in %s unreadable (%s); starting from the config file", self.file.path, exc)
            saved = []
        for problem in self.versions.load_json(saved):
            log.warning("IVR: %s", problem)
        text = config_menu_text(self.cfg)
        seeded = [v for v in self.versions.versions if v.note == FROM_CONFIG]
        if not seeded or seeded[-1].text != text:
            self.versions.save(text, "config", self.clock(), note=FROM_CONFIG)
            self._persist()

    def _persist(self) -> None:
        try:
            self.file.write(self.versions)
        except OSError as exc:  # the version serves anyway; it is lost at the next restart
            log.error("IVR versions could not be written to %s: %s", self.file.path, exc)

    def current(self) -> MenuVersion:
        return self.versions.current()

    def save(self, text: str, author: str, note: str = "") -> MenuVersion:
        """A new version for new calls (raises MenuRejected; the serving version stays)."""
        version = self.versions.save(text, author, self.clock(), note)
        self._persist()
        log.info("IVR version %d saved by %s", version.number, version.author)
        return version

    def rollback(self, number: int, author: str) -> MenuVersion:
        version = self.versions.rollback(number, author, self.clock())
        self._persist()
        log.info("IVR rolled back to version %d by %s (now version %d)", number, author, version.number)
        return version

    # -- FastAGI -------------------------------------------------------------------------------------

    async def agi_session(self, session: AgiSession, ledger: Ledger) -> IvrResult | None:
        call_id = session.uniqueid
        if session.script.endswith("survey"):
            return await self._survey(session, ledger, call_id)
        self.sessions += 1
        version = self.current()  # the call keeps this version to its end, whatever is saved meanwhile
        result = await run_ivr_over_agi(session, version.menu, self.cfg.centre.language, clock=self.clock,
                                        options=self.options)
        if call_id:
            ledger.ivr_finished(
                call_id, self.clock(), path=result.path, queue=result.queue,
                language=str(result.data.language or self.cfg.centre.language), priority=result.data.priority,
                skills=tuple(sorted(dict(result.data.skills).items())),
                steps=json.dumps({"version": version.number, "steps": result.steps}, ensure_ascii=False),
            )
        return result

    async def _survey(self, session: AgiSession, ledger: Ledger, call_id: str) -> IvrResult | None:
        survey = self.current().survey
        if survey is None:
            await session.verbose("callcenter: no after-call survey configured", 3)
            return None
        self.surveys += 1
        entry = ledger.calls.get(call_id)
        language = getattr(entry, "language", "") or self.cfg.centre.language
        result = await run_ivr_over_agi(session, survey, language, clock=self.clock, answer=False,
                                        options=self.options)
        if call_id and result.data.satisfaction is not None:
            ledger.survey_answered(call_id, result.data.satisfaction)
        return result
