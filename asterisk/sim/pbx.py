"""The channel registry: ids, names, event emission and the AMI actions that touch channels.

The dialplan itself runs per call in :mod:`asterisk.sim.dialplan`; the AMI server reaches calls
only through this registry (Setvar, Getvar, Redirect, Hangup, Originate, CoreShowChannels, Status).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from asterisk.ami.codec import Message
from asterisk.sim import model as ev
from asterisk.sim.clock import SimClock
from asterisk.sim.config import CallScript, SimConfig
from asterisk.sim.model import Channel, Headers

DIALPLAN = Path(__file__).resolve().parents[1] / "conf" / "extensions_callcenter.conf"


@functools.cache
def shipped_extensions(context: str, path: Path = DIALPLAN) -> frozenset[str]:
    """The literal extensions of ``[context]`` in the dialplan file (patterns such as ``_X.`` are left out)."""
    current = ""
    found: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        head = re.fullmatch(r"\[([^\]]+)\]", line)
        if head:
            current = head.group(1)
            continue
        m = re.match(r"exten\s*=>\s*([^,]+),\s*1\s*,", line)
        if m and current == context and not m.group(1).startswith("_"):
            found.add(m.group(1).strip())
    return frozenset(found)


@dataclass(frozen=True)
class Pending:
    """An outside request for a call's dialplan task, delivered at its next wait."""

    kind: str  # "hangup", "redirect", or call control while talking: "blindxfer", "atxfer", "park"
    channel: Channel
    cause: int = 16
    context: str = ""
    exten: str = ""
    priority: int = 1
    by: str = "ami_hangup"
    #: Park: simulated seconds the caller stays parked before coming back
    timeout: float = 0.0


class DialplanTask(Protocol):
    """What the registry needs of a call's dialplan task (asterisk.sim.dialplan.CallRun), named here so
    that the registry does not import the dialplan that imports it."""

    chan: Channel
    agent: Channel | None

    def post(self, pending: Pending) -> None: ...


@dataclass(frozen=True)
class AppCall:
    """An Originate straight into an application (a supervisor's ChanSpy): the phone rung and what it runs."""

    channel: str  # the channel created for the dialled device
    application: str
    data: str
    caller_id: str


class Pbx:
    def __init__(
        self,
        config: SimConfig,
        clock: SimClock,
        emit: Callable[[Headers], None],
        originate: Callable[[CallScript, str, str | None, str], str | None],
    ) -> None:
        self.config = config
        self.clock = clock
        self._emit = emit
        self._originate = originate
        self.channels: dict[str, Channel] = {}
        self.runs: dict[str, DialplanTask] = {}
        self._uid = itertools.count(0)
        self._chan_no = itertools.count(1)
        self._bridge_no = itertools.count(1)
        #: Originates into an application, in order (the simulator answers the phone; nobody talks on it)
        self.app_calls: list[AppCall] = []
        #: live channels per device (``PJSIP/1001``): what Asterisk's device state follows
        self.devices: dict[str, int] = {}
        #: the last state of every device seen (DeviceStateList)
        self.device_seen: dict[str, str] = {}
        #: a callback's Originate of an agent endpoint into [cc-callback-dial] (set by the simulator)
        self.callback_originate: Callable[[Message, str | None], None] | None = None

    # ---- ids
    def new_uniqueid(self, vt: float) -> str:
        return f"{int(self.clock.epoch(vt))}.{next(self._uid)}"

    def new_channel_name(self, device: str) -> str:
        return f"{device}-{next(self._chan_no):08x}"

    def new_bridge_id(self) -> str:
        n = next(self._bridge_no)
        return f"5962021f-c9ea-4205-{self.config.seed & 0xFFFF:04x}-{n:012x}"

    # ---- registry
    def add(self, ch: Channel, run: DialplanTask | None) -> None:
        """``run`` None: a channel no dialplan of ours runs (a direct call to an agent's phone)."""
        self.channels[ch.name] = ch
        if run is not None:
            self.runs[ch.name] = run
        self._device_use(ch.name, +1)

    def remove(self, ch: Channel) -> None:
        if self.channels.pop(ch.name, None) is not None:
            self._device_use(ch.name, -1)
        self.runs.pop(ch.name, None)

    def device_busy(self, device: str) -> bool:
        return self.devices.get(device, 0) > 0

    def _device_use(self, channel: str, delta: int) -> None:
        """DeviceStateChange as Asterisk sends it: INUSE when a device's first channel appears (a Local or
        PJSIP phone that rings is already in use for app_queue), NOT_INUSE when its last one goes."""
        device = channel.rsplit("-", 1)[0]
        n = self.devices.get(device, 0) + delta
        if n > 0:
            self.devices[device] = n
        else:
            self.devices.pop(device, None)
        if (delta > 0 and n == 1) or (delta < 0 and n <= 0):
            self.device_seen[device] = "INUSE" if n > 0 else "NOT_INUSE"
            self._emit([("Event", "DeviceStateChange"), ("Privilege", "call,all"), ("Device", device),
                        ("State", "INUSE" if n > 0 else "NOT_INUSE")])

    def emit(self, headers: Headers) -> None:
        self._emit(headers)

    def cel(self, ch: Channel, vt: float, name: str, app: str = "", data: str = "", extra: str = "") -> None:
        if self.config.emit_cel:
            self._emit(ev.cel(ch, name, self.stamp(vt), app, data, extra))

    def stamp(self, vt: float) -> str:
        return self.clock.at(vt).strftime("%Y-%m-%d %H:%M:%S")

    def shutdown(self, by: str = "shutdown") -> None:
        for name, run in list(self.runs.items()):
            if run.chan.name == name:
                run.post(Pending("hangup", run.chan, 16, by=by))

    # ---- AmiBackend
    def now(self) -> datetime:
        return self.clock.now()

    def uptime(self) -> int:
        return int(self.clock.elapsed())

    def _find(self, name: str) -> Channel:
        ch = self.channels.get(name)
        if ch is None or ch.hungup:
            raise LookupError(name)
        return ch

    def setvar(self, channel: str, name: str, value: str) -> None:
        if not channel:
            return  # a global variable: nothing in the simulator reads one
        ch = self._find(channel)
        ch.variables[name] = value
        self._emit(ev.varset(ch, name, value))

    def getvar(self, channel: str, name: str) -> str:
        if not channel:
            return ""
        ch = self._find(channel)
        if name == "UNIQUEID":
            return ch.uniqueid
        if name == "CHANNEL":
            return ch.name
        return ch.getvar(name)

    def redirect(self, channel: str, context: str, exten: str, priority: int) -> None:
        ch = self._find(channel)
        run = self.runs[channel]
        if run.chan is not ch:
            raise ValueError("only the caller's channel runs a dialplan in the simulator")
        run.post(Pending("redirect", ch, context=context, exten=exten, priority=priority))

    def hangup(self, channel: str, cause: int) -> None:
        ch = self._find(channel)
        run = self.runs.get(channel)
        if run is None:  # a direct call to a phone (PbxSimulator.occupy_device): no dialplan to tell
            self.end_direct(ch, cause)
            return
        run.post(Pending("hangup", ch, cause, by="ami_hangup"))

    def end_direct(self, ch: Channel, cause: int = 16) -> None:
        if ch.name in self.channels:
            ch.hungup = True
            self.remove(ch)
            self._emit(ev.hangup(ch, cause))

    # ---- call control (BlindTransfer, Atxfer, Park); the call's dialplan task does the channel work
    def blind_transfer(self, channel: str, context: str, exten: str) -> None:
        """``channel`` (the agent leg) hands its bridged peer to ``context,exten``; ValueError: not bridged."""
        ch = self._find(channel)
        run = self.runs[channel]
        if ch.bridge is None or run.agent is not ch:
            raise ValueError("not bridged")
        run.post(Pending("blindxfer", ch, context=context or ch.context, exten=exten))

    def atxfer(self, channel: str, context: str, exten: str) -> bool:
        """Queue the attended-transfer feature on ``channel``; False when nothing can act on it (Asterisk
        acknowledges anyway: the action only queues the feature's DTMF)."""
        ch = self._find(channel)
        run = self.runs[channel]
        if ch.bridge is None or run.agent is not ch or exten not in shipped_extensions(context or ch.context):
            return False  # the feature's digits reach nothing: Asterisk plays the agent an error tone
        run.post(Pending("atxfer", ch, context=context or ch.context, exten=exten))
        return True

    def park(self, channel: str, timeout_channel: str, timeout_s: float) -> None:
        """Park ``channel`` (the caller) out of its bridge with ``timeout_channel``; ValueError: not bridged."""
        ch = self._find(channel)
        run = self.runs[channel]
        if ch.bridge is None or run.chan is not ch:
            raise ValueError("not bridged")
        run.post(Pending("park", ch, exten=timeout_channel, timeout=timeout_s))

    def originate(self, msg: Message, action_id: str | None) -> None:
        if msg.get("Context") == "cc-callback-dial" and self.callback_originate is not None:
            self.callback_originate(msg, action_id)  # an agent's phone first: asterisk/sim/callback.py
            return
        name, num = _parse_callerid(msg.get("CallerID") or "")
        application = msg.get("Application")
        if application:
            self._originate_app(msg, action_id, application, name, num)
            return
        variables = dict(v.split("=", 1) for v in msg.getall("Variable") if "=" in v)
        script = CallScript(
            caller=num or "anonymous",
            caller_name=name,
            dtmf=tuple(d for d in [variables.get("CALLER_DTMF", "")] if d),
            patience=float(variables.get("CALLER_PATIENCE") or 30),
        )
        context = msg.get("Context") or ""
        exten = msg.get("Exten") or "s"
        self._originate(script, context, action_id, exten)

    def _originate_app(self, msg: Message, action_id: str | None, application: str, name: str, num: str) -> None:
        """Asterisk dials the device and, once answered, runs the application on it: here the phone answers
        at once and the call is kept as it was asked (the tests read ``app_calls``)."""
        device = (msg.get("Channel") or "").split("@", 1)[0]
        chan = self.new_channel_name(device)
        self.app_calls.append(AppCall(chan, application, msg.get("Data") or "", msg.get("CallerID") or ""))
        uid = self.new_uniqueid(self.clock.elapsed())
        self._emit(ev.originate_response(action_id, True, chan, "", "", 4, uid, num, name))

    def device_states(self) -> dict[str, str]:
        return dict(self.device_seen)

    def channels_list(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.hungup]

    def channel_info(self, ch: Channel) -> tuple[str, str, str, int]:
        secs = max(0, int(self.clock.elapsed() - ch.created_at))
        return (ch.bridge.uniqueid if ch.bridge else "", ch.app, ch.appdata, secs)


def _parse_callerid(text: str) -> tuple[str, str]:
    """``"Alice" <5550101>`` -> (Alice, 5550101)."""
    m = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>', text)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return "", text.strip()
