"""Drive the lab PBX: ``callcenter run`` as a process against it (real AMI + FastAGI), callers placed over AMI
with Local channels, and what the PBX itself showed (the lab phones' UserEvents, Hangup) as the truth.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from asterisk.ami.client import AmiClient
from asterisk.ami.codec import Message
from records.model import CallRecordData
from records.store import Store
from tests.integration.lab import HOTLINE, REPO, Lab
from tests.ports import free_ports

FLAT = REPO / "config" / "example-flat.yaml"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: the lab's agents: id -> lab phone (1000-1049 answer, 105X never answer, 106X busy)
AGENTS = {f"10{i:02d}": f"Local/10{i:02d}@lab-agents" for i in range(1, 11)}


def lab_config(lab: Lab, tmp: Path, *, base: Path = FLAT, agents: dict[str, str] | None = None,
               web_port: int | None = None, edit: Callable[[dict[str, Any]], None] | None = None,
               survey: bool = False) -> Path:
    """The daemon's config for the lab: the example's menu and queues, the lab's ports and agent phones.
    Without ``survey`` the after-call survey is left out: it keeps each caller 20 s longer."""
    raw: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    agents = agents or AGENTS
    raw["ami"].update(host="127.0.0.1", port=lab.ami_port, username="callcenter", secret=lab.secret,
                      ping_interval=2.0)
    raw["agi"] = {"host": "127.0.0.1", "port": lab.agi_port}
    raw["database"] = {"url": f"sqlite:///{tmp / 'calls.db'}"}
    raw["web"] = {**raw.get("web", {}), "host": "127.0.0.1", "port": web_port or free_ports(1)[0]}
    raw["cdr"] = {"master_csv": str(lab.master_csv), "wait": 2.0}
    for key in ("mqtt", "shifts", "teams", "staffing"):  # every agent on duty; no broker needed
        raw.pop(key, None)
    if not survey:
        raw["ivr"].pop("survey", None)
    template = raw["agents"][0]
    raw["agents"] = [{**template, "id": aid, "name": f"坐席{aid}", "endpoint": ep, "queues": [q["name"] for q in
                      raw["queues"]]} for aid, ep in agents.items()]
    for agent in raw["agents"]:
        agent.pop("team", None)
    for queue in raw["queues"]:  # real time: a short wrap-up and ring keep the suite short
        queue["wrapup_seconds"] = 1
        queue["ring_timeout"] = 4
    if edit is not None:
        edit(raw)
    path = tmp / "callcenter.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _metric(web_port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return -1.0
    m = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else -1.0


@dataclass
class DaemonProcess:
    """``callcenter run --config`` in ``cwd`` (its spool, journal and log live there)."""

    config: Path
    cwd: Path
    runs: int = 0
    proc: asyncio.subprocess.Process | None = None

    @property
    def web_port(self) -> int:
        return int(yaml.safe_load(self.config.read_text(encoding="utf-8"))["web"]["port"])

    @property
    def db_url(self) -> str:
        return str(yaml.safe_load(self.config.read_text(encoding="utf-8"))["database"]["url"])

    async def start(self) -> None:
        self.runs += 1
        exe = Path(sys.executable).with_name("callcenter")
        log = (self.cwd / f"daemon-{self.runs}.log").open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                str(exe), "--log-level", "INFO", "run", "--config", str(self.config), cwd=self.cwd, stdout=log,
                stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            log.close()
        async with asyncio.timeout(60):  # ready: web up and the first resync after the AMI login done
            while await asyncio.to_thread(_metric, self.web_port, "callcenter_resync_runs_total") < 1:
                if self.proc.returncode is not None:
                    raise AssertionError(f"daemon exited with {self.proc.returncode}: {self.log()}")
                await asyncio.sleep(0.2)

    async def stop(self, sig: int = signal.SIGTERM) -> int | None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(sig)
        async with asyncio.timeout(30):
            return await proc.wait()

    def log(self) -> str:
        return "\n".join((self.cwd / f"daemon-{n}.log").read_text(encoding="utf-8", errors="replace")
                         for n in range(1, self.runs + 1))

    def records(self) -> dict[str, CallRecordData]:
        store = Store(self.db_url)
        try:
            return {r.caller_number: r for r in store.records(EPOCH)}
        finally:
            store.close()


@dataclass
class CallTruth:
    """What the PBX showed for one lab call (by the lab phones' UserEvents and the channel's Hangup)."""

    number: str
    uniqueid: str = ""
    answered_by: str | None = None  # the lab phone extension that answered
    rang: list[str] = field(default_factory=list)  # extensions rung that never answered (busy / no answer)
    fallback: bool = False  # reached [cc-fallback]
    held: bool = False  # reached [cc-hold] (CcHold)
    gave_up: bool = False  # the caller's patience ran out
    ended: bool = False


#: every lab call of the session, for the suite's figures (conftest's terminal summary)
SESSION_CALLS: list[CallTruth] = []


def session_figures() -> str:
    calls = SESSION_CALLS
    routed = sum(t.answered_by is not None and not t.fallback for t in calls)
    queue = sum(t.answered_by is not None and t.fallback for t in calls)
    unanswered = sum(t.answered_by is None for t in calls)
    return (f"{len(calls)} calls on the real PBX: {routed} answered through the daemon's ACD, {queue} answered "
            f"by Asterisk's fallback queue, {unanswered} not answered (caller gave up or hung up)")


class Phones:
    """The test's own AMI login: places callers, and watches what the PBX did with them."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.calls: dict[str, CallTruth] = {}  # by caller number
        self._by_uid: dict[str, CallTruth] = {}
        self._by_call: dict[str, CallTruth] = {}
        #: AGISTATUS as res_agi set it after the IVR (VarSet; the first one: the survey's AGI sets it again)
        self.agi_status: dict[str, str] = {}
        self.ami = AmiClient("127.0.0.1", lab.ami_port, lab.test_user, lab.test_secret, on_event=self._event,
                             ping_interval=5.0)
        self._seq = 0

    async def __aenter__(self) -> Phones:
        await self.ami.__aenter__()
        async with asyncio.timeout(15):
            await self.ami.wait_connected()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ami.__aexit__(*exc)

    async def call(self, *, patience: float = 60, dtmf: str = "", dtmf_delay: float = 1.0, talk: float = 2.0,
                   answer_delay: float = 1.0, name: str = "", agi_url: str = "") -> CallTruth:
        """A citizen calls the hotline: Local/s@lab-caller's ;1 half runs the centre's [cc-incoming]."""
        self._seq += 1
        number = f"1380000{self._seq:04d}"
        truth = self.calls[number] = self._by_call[str(self._seq)] = CallTruth(number)
        SESSION_CALLS.append(truth)
        variables = {"__LAB_CALL": str(self._seq), "LAB_PATIENCE": f"{patience:g}", "LAB_DTMF": dtmf,
                     "LAB_DTMF_DELAY": f"{dtmf_delay:g}", "__AGENT_TALK": f"{talk:g}",
                     "__AGENT_ANSWER_DELAY": f"{answer_delay:g}", "CC_AGI_URL": agi_url}
        fields: list[tuple[str, object]] = [
            ("Channel", "Local/s@lab-caller"), ("Context", "lab-trunk"), ("Exten", HOTLINE), ("Priority", "1"),
            ("CallerID", f'"{name}" <{number}>' if name else f"<{number}>"), ("Async", "true")]
        fields += [("Variable", f"{k}={v}") for k, v in variables.items() if v != ""]
        await self.ami.action("Originate", fields)
        return truth

    def _event(self, msg: Message, _received: float) -> None:
        name = msg.name
        chan = msg.get("Channel") or ""
        number = msg.get("CallerIDNum") or ""
        uid = msg.get("Uniqueid") or ""
        if chan.startswith("Local/s@lab-caller-") and chan.endswith(";1") and number in self.calls:
            known = self.calls[number]
            if not known.uniqueid:  # the caller channel (the ;1 half that runs [cc-incoming])
                known.uniqueid = uid
                self._by_uid[uid] = known
        if name == "Hangup":
            truth = self._by_uid.get(uid)
            if truth is not None:
                truth.ended = True
        elif name == "UserEvent":
            self._user_event(msg)
        elif name == "VarSet" and msg.get("Variable") == "AGISTATUS":
            self.agi_status.setdefault(msg.get("Uniqueid") or "", msg.get("Value") or "")

    def _user_event(self, msg: Message) -> None:
        kind = msg.get("UserEvent")
        truth = self._by_call.get(msg.get("Call") or "")
        if kind == "LabAgentAnswered" and truth is not None:
            truth.answered_by = msg.get("Agent")
        elif kind == "LabAgentRang" and truth is not None:
            truth.rang.append(msg.get("Agent") or "")
        elif kind == "LabCallerGaveUp" and truth is not None:
            truth.gave_up = True
        elif kind in ("CcFallback", "CcHold"):
            by_uid = self._by_uid.get(msg.get("Uniqueid") or "")
            if by_uid is not None and kind == "CcFallback":
                by_uid.fallback = True
            elif by_uid is not None:
                by_uid.held = True

    def holding(self) -> int:
        """Callers waiting in [cc-hold] now."""
        return sum(t.held and t.answered_by is None and not t.ended for t in self.calls.values())

    async def wait(self, check: Callable[[], bool], within: float, what: str) -> None:
        try:
            async with asyncio.timeout(within):
                while not check():  # noqa: ASYNC110 - the state lives in an event callback
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"not within {within} s: {what}") from None

    async def all_ended(self, within: float = 120) -> None:
        await self.wait(lambda: all(t.ended for t in self.calls.values()), within,
                        f"calls still up: {[t.number for t in self.calls.values() if not t.ended]}")


async def wait_records(daemon: DaemonProcess, count: int, within: float = 30) -> dict[str, CallRecordData]:
    async with asyncio.timeout(within):
        while True:
            records = await asyncio.to_thread(daemon.records)
            if len(records) >= count:
                return records
            await asyncio.sleep(0.3)


def agent_of(phone: str | None, agents: dict[str, str] | None = None) -> str | None:
    """The agent id whose endpoint is the lab phone ``phone`` (an extension of lab-agents)."""
    if phone is None:
        return None
    for aid, ep in (agents or AGENTS).items():
        if ep.startswith(f"Local/{phone}@"):
            return aid
    return None


def kill(proc: DaemonProcess) -> None:
    if proc.proc is not None and proc.proc.returncode is None:
        proc.proc.send_signal(signal.SIGKILL)
