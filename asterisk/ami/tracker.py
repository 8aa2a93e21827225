"""Pure AMI call tracker: AMI ``Message`` + receive time in, call facts out.

No asyncio, no clock: time arrives with each message. The tracker keeps a live table of channels
keyed by Uniqueid (the call id of a caller is the Uniqueid of the channel that runs the incoming
context) and turns the few events that matter into frozen ``CallFact`` dataclasses.

Every event it reads is listed in ``CallTracker.HANDLERS`` -- the one place to see which AMI events
drive the call model. Headers are read by key, so a message that lacks one the handler needs raises
``MissingHeader``; ``feed`` turns that into a counted drop (``dropped``) instead of a crash.

What the lab recordings (shared/ami-transcripts) taught and this code relies on:
- A caller channel can be created in another context and enter ``cc-incoming`` later (the ``;1``
  half of ``Local/s@cc-caller``): a Newexten into the incoming context makes it a caller too.
- The DialBegin/DialEnd of an Originate have no calling channel (only ``Dest*`` headers): not a drop.
- UserEvent repeats ``Uniqueid`` (snapshot + the dialplan's own); the first one is the channel's.
- A Cdr can arrive before the Hangup; CEL/Cdr/VarSet events are not read, so nothing arriving after
  a Hangup can bring a freed channel back.
- app_queue (the [cc-fallback] queue) tells of the caller, never of the member's own channel:
  QueueCallerJoin, AgentCalled, AgentConnect (HoldTime), AgentComplete (HoldTime, TalkTime),
  QueueCallerAbandon (Position, HoldTime) all carry the caller's Uniqueid and the member's Interface;
  QueueCallerAbandon arrives after the ringing member legs' Hangups and before the caller's own.
- DeviceStateChange (Device, State) is about a device, not a channel: a Local member shows INUSE
  while it rings, and the same state is often sent twice in a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from asterisk.ami.codec import Message, MissingHeader, NameCounts

INCOMING_CONTEXT = "cc-incoming"
HOLD_EVENT = "CcHold"
ROUTE_RESULT_EVENT = "CcRouteResult"
FALLBACK_EVENT = "CcFallback"


# ---------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class CallFact:
    at: datetime
    uniqueid: str

    def __post_init__(self) -> None:
        # The core compares times across sources: only aware datetimes are allowed in.
        if self.at.tzinfo is None:
            raise ValueError(f"{type(self).__name__}.at must be timezone-aware")
        if not self.uniqueid:
            raise ValueError(f"{type(self).__name__}.uniqueid is empty")


@dataclass(frozen=True, slots=True)
class CallStarted(CallFact):
    linkedid: str
    channel: str
    caller_number: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class CallerHeld(CallFact):
    channel: str


@dataclass(frozen=True, slots=True)
class CallerFellBack(CallFact):
    """The dialplan sent the caller to [cc-fallback] (Asterisk's own queue)."""


@dataclass(frozen=True, slots=True)
class AgentDialed(CallFact):
    dest_channel: str


@dataclass(frozen=True, slots=True)
class AgentAnswered(CallFact):
    dest_channel: str


@dataclass(frozen=True, slots=True)
class RouteResult(CallFact):
    agent: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class FallbackJoined(CallFact):
    """The caller joined Asterisk's own queue (app_queue QueueCallerJoin)."""

    queue: str


@dataclass(frozen=True, slots=True)
class FallbackRinging(CallFact):
    """app_queue rings a member for the caller (AgentCalled); ``interface``: the member's device."""

    interface: str
    member: str


@dataclass(frozen=True, slots=True)
class FallbackRingFailed(CallFact):
    """The member rung did not answer (AgentRingNoAnswer); app_queue tries another one."""


@dataclass(frozen=True, slots=True)
class FallbackAnswered(CallFact):
    """A member of Asterisk's queue took the caller (AgentConnect); ``hold_s``: app_queue's wait."""

    interface: str
    member: str
    hold_s: float


@dataclass(frozen=True, slots=True)
class FallbackTalkEnded(CallFact):
    """The member's talk ended (AgentComplete); carries the waits too, for a call first seen mid-talk."""

    interface: str
    member: str
    hold_s: float
    talk_s: float


@dataclass(frozen=True, slots=True)
class FallbackAbandoned(CallFact):
    """The caller hung up in Asterisk's queue (QueueCallerAbandon) at ``position`` after ``hold_s``."""

    queue: str
    position: int
    hold_s: float


@dataclass(frozen=True, slots=True)
class CallHungUp(CallFact):
    linkedid: str
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class DeviceChanged:
    """A device's state (DeviceStateChange): ``PJSIP/1001`` ``INUSE``. Not about a call."""

    at: datetime
    device: str
    state: str


Fact = CallFact | DeviceChanged


# ---------------------------------------------------------------- channel table


@dataclass(slots=True)
class Channel:
    """What the tracker knows about one live channel (mutable, owned by the tracker)."""

    uniqueid: str
    linkedid: str
    name: str
    caller_number: str = ""
    caller_name: str = ""
    context: str = ""
    exten: str = ""
    state: str = ""
    is_caller: bool = False


Handler = Callable[[Message, datetime], list[Fact]]


class CallTracker:
    """``feed(msg, at) -> list[CallFact]``; see the module docstring."""

    #: AMI event name -> handler method. Everything else is ignored (counted in ``ignored``).
    HANDLERS: ClassVar[dict[str, str]] = {
        "Newchannel": "_on_newchannel",
        "NewCallerid": "_on_newcallerid",
        "Newexten": "_on_newexten",
        "Newstate": "_on_newstate",
        "UserEvent": "_on_userevent",
        "DialBegin": "_on_dialbegin",
        "DialEnd": "_on_dialend",
        "Hangup": "_on_hangup",
        "QueueCallerJoin": "_on_queue_join",
        "AgentCalled": "_on_agent_called",
        "AgentRingNoAnswer": "_on_ring_no_answer",
        "AgentConnect": "_on_agent_connect",
        "AgentComplete": "_on_agent_complete",
        "QueueCallerAbandon": "_on_queue_abandon",
        "DeviceStateChange": "_on_device_state",
    }

    def __init__(
        self,
        *,
        incoming_context: str = INCOMING_CONTEXT,
        hold_event: str = HOLD_EVENT,
        route_result_event: str = ROUTE_RESULT_EVENT,
    ) -> None:
        self.incoming_context = incoming_context
        self.hold_event = hold_event
        self.route_result_event = route_result_event
        #: live channels by Uniqueid (for a resync from CoreShowChannels later)
        self.channels: dict[str, Channel] = {}
        #: Uniqueids of the live channels of each Linkedid
        self.linked: dict[str, set[str]] = {}
        self.dropped = 0
        self.ignored = 0
        #: ignored events by name (bounded label set: a flood of made-up names cannot grow it)
        self.ignored_names = NameCounts()
        #: the last few drops as (event name, missing header), for the log
        self.last_drops: list[tuple[str, str]] = []
        self._dispatch: dict[str, Handler] = {
            name: getattr(self, meth) for name, meth in self.HANDLERS.items()
        }

    def feed(self, msg: Message, at: datetime) -> list[Fact]:
        """Apply one AMI message; return the facts it implies (often none)."""
        first = msg.first
        handler = self._dispatch.get(first[1]) if first[0].lower() == "event" else None
        if handler is None:
            self.ignored += 1
            self.ignored_names.add(first[1])
            return []
        try:
            return handler(msg, at)
        except MissingHeader as exc:
            self.dropped += 1
            self.last_drops.append((first[1], exc.name))
            del self.last_drops[:-20]
            return []

    def callers(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_caller]

    def adopt(self, ch: Channel) -> None:
        """Take a channel from a resync snapshot (CoreShowChannels) as live, replacing what was known."""
        old = self.channels.get(ch.uniqueid)
        if old is not None and old.linkedid != ch.linkedid:
            self.forget(ch.uniqueid)
        self.channels[ch.uniqueid] = ch
        self.linked.setdefault(ch.linkedid, set()).add(ch.uniqueid)

    def forget(self, uniqueid: str) -> None:
        """A channel the resync found gone: drop it without a fact (the resync closes its call)."""
        ch = self.channels.pop(uniqueid, None)
        if ch is None:
            return
        peers = self.linked.get(ch.linkedid)
        if peers is not None:
            peers.discard(uniqueid)
            if not peers:
                del self.linked[ch.linkedid]

    # ------------------------------------------------------------ helpers

    def _channel(self, msg: Message) -> Channel:
        """The channel a channel event is about, created from its snapshot if unknown.

        An unknown channel is normal after a (re)connect in the middle of a call.
        """
        uid = msg["Uniqueid"]
        ch = self.channels.get(uid)
        if ch is None:
            ch = self._add(msg, uid)
        return ch

    def _add(self, msg: Message, uid: str) -> Channel:
        linkedid = msg.get("Linkedid") or uid
        ch = Channel(
            uniqueid=uid,
            linkedid=linkedid,
            name=msg["Channel"],
            caller_number=msg.get("CallerIDNum") or "",
            caller_name=msg.get("CallerIDName") or "",
            context=msg.get("Context") or "",
            exten=msg.get("Exten") or "",
            state=msg.get("ChannelStateDesc") or "",
        )
        self.channels[uid] = ch
        self.linked.setdefault(linkedid, set()).add(uid)
        return ch

    def _enter_incoming(self, ch: Channel, at: datetime) -> list[Fact]:
        ch.is_caller = True
        return [CallStarted(at, ch.uniqueid, ch.linkedid, ch.name, ch.caller_number, ch.caller_name)]

    # ------------------------------------------------------------ handlers

    def _on_newchannel(self, msg: Message, at: datetime) -> list[Fact]:
        uid = msg["Uniqueid"]
        ch = self.channels.get(uid) or self._add(msg, uid)
        if not ch.is_caller and ch.context == self.incoming_context:
            return self._enter_incoming(ch, at)
        return []

    def _on_newcallerid(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._channel(msg)
        ch.caller_number = msg["CallerIDNum"]
        ch.caller_name = msg["CallerIDName"]
        return []

    def _on_newexten(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._channel(msg)
        context = msg["Context"]
        ch.context = context
        ch.exten = msg["Exten"]
        if not ch.is_caller and context == self.incoming_context:
            # The snapshot carries the caller id as it is now (NewCallerid may have been missed).
            ch.caller_number = msg.get("CallerIDNum", ch.caller_number) or ""
            ch.caller_name = msg.get("CallerIDName", ch.caller_name) or ""
            return self._enter_incoming(ch, at)
        return []

    def _on_newstate(self, msg: Message, at: datetime) -> list[Fact]:
        self._channel(msg).state = msg["ChannelStateDesc"]
        return []

    def _on_userevent(self, msg: Message, at: datetime) -> list[Fact]:
        name = msg["UserEvent"]
        if name == self.hold_event:
            ch = self._channel(msg)
            return [CallerHeld(at, ch.uniqueid, ch.name)] if ch.is_caller else []
        if name == FALLBACK_EVENT:
            ch = self._channel(msg)
            return [CallerFellBack(at, ch.uniqueid)] if ch.is_caller else []
        if name == self.route_result_event:
            ch = self._channel(msg)
            if ch.is_caller:
                return [RouteResult(at, ch.uniqueid, msg["Agent"], msg["DialStatus"])]
        return []

    def _on_dialbegin(self, msg: Message, at: datetime) -> list[Fact]:
        if "Uniqueid" not in msg:
            return []  # an Originate's dial: no calling channel
        ch = self._channel(msg)
        if ch.is_caller:
            return [AgentDialed(at, ch.uniqueid, msg["DestChannel"])]
        return []

    def _on_dialend(self, msg: Message, at: datetime) -> list[Fact]:
        if "Uniqueid" not in msg:
            return []
        ch = self._channel(msg)
        if ch.is_caller and msg["DialStatus"] == "ANSWER":
            return [AgentAnswered(at, ch.uniqueid, msg["DestChannel"])]
        return []

    def _queue_caller(self, msg: Message) -> Channel | None:
        """The caller an app_queue event is about, if it is one of ours."""
        ch = self._channel(msg)
        return ch if ch.is_caller else None

    def _on_queue_join(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._queue_caller(msg)
        return [FallbackJoined(at, ch.uniqueid, msg["Queue"])] if ch else []

    def _on_agent_called(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._queue_caller(msg)
        return [FallbackRinging(at, ch.uniqueid, msg["Interface"], msg.get("MemberName") or "")] if ch else []

    def _on_ring_no_answer(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._queue_caller(msg)
        return [FallbackRingFailed(at, ch.uniqueid)] if ch else []

    def _on_agent_connect(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._queue_caller(msg)
        if ch is None:
            return []
        return [FallbackAnswered(at, ch.uniqueid, msg["Interface"], msg.get("MemberName") or "",
                                 _seconds(msg.get("HoldTime")))]

    def _on_agent_complete(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._queue_caller(msg)
        if ch is None:
            return []
        return [FallbackTalkEnded(at, ch.uniqueid, msg["Interface"], msg.get("MemberName") or "",
                                  _seconds(msg.get("HoldTime")), _seconds(msg.get("TalkTime")))]

    def _on_queue_abandon(self, msg: Message, at: datetime) -> list[Fact]:
        ch = self._queue_caller(msg)
        if ch is None:
            return []
        return [FallbackAbandoned(at, ch.uniqueid, msg["Queue"], int(_seconds(msg.get("Position"))),
                                  _seconds(msg.get("HoldTime")))]

    def _on_device_state(self, msg: Message, at: datetime) -> list[Fact]:
        return [DeviceChanged(at, msg["Device"], msg["State"])]

    def _on_hangup(self, msg: Message, at: datetime) -> list[Fact]:
        uid = msg["Uniqueid"]
        cause_text = msg["Cause"]
        cause_txt = msg.get("Cause-txt") or ""
        ch = self.channels.pop(uid, None)
        if ch is None:
            return []
        peers = self.linked.get(ch.linkedid)
        if peers is not None:
            peers.discard(uid)
            if not peers:
                del self.linked[ch.linkedid]
        if not ch.is_caller:
            return []
        try:
            cause = int(cause_text)
        except ValueError:
            cause = 0
        return [CallHungUp(at, uid, ch.linkedid, cause, cause_txt)]


def _seconds(text: str | None) -> float:
    """A whole-seconds header of app_queue (HoldTime, TalkTime, Position); absent or garbled: 0."""
    try:
        return max(0.0, float(text or 0))
    except ValueError:
        return 0.0
