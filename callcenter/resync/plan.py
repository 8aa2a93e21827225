"""The resync's pure half: the daemon's view + Asterisk's channel list -> the steps that reconcile them.

One table, ``TABLE``, of (where the daemon believes a call is, where Asterisk has it) -> step kinds; the
call flow (callcenter/callflow.py) carries the steps out. No I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asterisk.ami.codec import Message
from callcenter.ledger import CallEntry
from queueing.callstate import CallState

#: the channel variables read on each caller channel
VARIABLES = ("CC_INCOMING", "CC_ENTERED", "CC_QUEUE", "CC_IVR_PATH", "CC_LANG", "CC_HOLD", "CC_AGENT")
#: contexts of the shipped dialplan a caller channel can be in
CALL_CONTEXTS = frozenset({"cc-incoming", "cc-hold", "cc-route", "cc-survey", "cc-fallback"})
GETVAR_CONCURRENCY = 32
#: ids of calls recorded lately, so that a CDR import never records one twice before the store has it


class Live(enum.StrEnum):
    """Where a caller channel is, from the channel list."""

    IVR = "ivr"
    HOLD = "hold"
    RINGING = "ringing"
    TALKING = "talking"
    AFTER = "after"  # cc-survey: talk over
    FALLBACK = "fallback"


#: Where the daemon believes a call is: the call states of queueing/callstate.py (OFFERED = RINGING).
Known = CallState


class Kind(enum.StrEnum):
    CLOSE = "close"  # gone from Asterisk: record it now
    ADOPT = "adopt"  # alive, unknown to the daemon: take it at its live stage
    QUEUE = "queue"  # the CcHold was lost
    RING_FAILED = "ring_failed"  # back on hold: the Dial failed while deaf
    ANSWERED = "answered"  # the agent answered while deaf
    TALK_ENDED = "talk_ended"
    FELL_BACK = "fell_back"
    MISMATCH = "mismatch"  # a pair that cannot happen: counted and logged, nothing changed


@dataclass(frozen=True, slots=True)
class LiveChannel:
    uniqueid: str
    linkedid: str
    name: str
    context: str
    exten: str = ""
    caller_number: str = ""
    caller_name: str = ""
    state: str = ""
    bridge_id: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_event(cls, msg: Message, variables: Mapping[str, str] | None = None) -> LiveChannel:
        uid = msg["Uniqueid"]
        return cls(
            uniqueid=uid, linkedid=msg.get("Linkedid") or uid, name=msg["Channel"], context=msg.get("Context") or "",
            exten=msg.get("Exten") or "", caller_number=msg.get("CallerIDNum") or "",
            caller_name=msg.get("CallerIDName") or "", state=msg.get("ChannelStateDesc") or "",
            bridge_id=msg.get("BridgeId") or msg.get("BridgeID") or "", variables=dict(variables or {}),
        )

    def var(self, name: str) -> str:
        return self.variables.get(name, "")

    @property
    def stage(self) -> Live | None:
        """None: not a caller channel of the call-center dialplan (an agent leg, another call)."""
        if self.context == "cc-incoming":
            # Only citizens' calls enter [cc-incoming]; one caught before its Set(CC_INCOMING=1) (NoOp,
            # Answer come first) is a caller all the same, else its fallback and hang-up go unrecorded.
            return Live.IVR
        if self.context not in CALL_CONTEXTS or (self.variables and self.var("CC_INCOMING") != "1"):
            return None
        if self.context == "cc-hold":
            return Live.HOLD
        if self.context == "cc-route":
            return Live.TALKING if self.bridge_id else Live.RINGING
        if self.context == "cc-survey":
            return Live.AFTER
        return Live.FALLBACK

    def entered_at(self, default: datetime) -> datetime:
        """CC_ENTERED (the dialplan's ${EPOCH} at entry), never after ``default``."""
        try:
            at = datetime.fromtimestamp(float(self.var("CC_ENTERED")), UTC)
        except (ValueError, OverflowError, OSError):
            return default
        return min(at, default)


@dataclass(frozen=True, slots=True)
class KnownCall:
    call_id: str
    stage: Known
    agent: str | None = None
    #: the offer went out after the last login: its Redirect may still be on its way
    offer_in_flight: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    kind: Kind
    call_id: str
    live: LiveChannel | None = None


#: (what the daemon believes, what Asterisk has) -> the steps that reconcile them, in order.
#: A pair that is absent needs nothing. None on the live side = the channel is gone.
TABLE: dict[tuple[Known, Live], tuple[Kind, ...]] = {
    (Known.IVR, Live.HOLD): (Kind.QUEUE,),
    (Known.IVR, Live.RINGING): (Kind.MISMATCH,),
    (Known.IVR, Live.TALKING): (Kind.MISMATCH,),
    (Known.IVR, Live.AFTER): (Kind.MISMATCH,),
    (Known.IVR, Live.FALLBACK): (Kind.FELL_BACK,),
    (Known.WAITING, Live.RINGING): (Kind.MISMATCH,),
    (Known.WAITING, Live.TALKING): (Kind.MISMATCH,),
    (Known.WAITING, Live.AFTER): (Kind.MISMATCH,),
    (Known.WAITING, Live.FALLBACK): (Kind.FELL_BACK,),
    (Known.OFFERED, Live.IVR): (Kind.MISMATCH,),
    (Known.OFFERED, Live.HOLD): (Kind.RING_FAILED,),
    (Known.OFFERED, Live.TALKING): (Kind.ANSWERED,),
    (Known.OFFERED, Live.AFTER): (Kind.ANSWERED, Kind.TALK_ENDED),
    (Known.OFFERED, Live.FALLBACK): (Kind.RING_FAILED, Kind.FELL_BACK),
    (Known.TALKING, Live.IVR): (Kind.MISMATCH,),
    (Known.TALKING, Live.HOLD): (Kind.MISMATCH,),
    (Known.TALKING, Live.RINGING): (Kind.MISMATCH,),
    (Known.TALKING, Live.AFTER): (Kind.TALK_ENDED,),
    (Known.TALKING, Live.FALLBACK): (Kind.MISMATCH,),
    (Known.AFTER, Live.IVR): (Kind.MISMATCH,),
    (Known.AFTER, Live.HOLD): (Kind.MISMATCH,),
    (Known.AFTER, Live.RINGING): (Kind.MISMATCH,),
    (Known.AFTER, Live.TALKING): (Kind.MISMATCH,),
    (Known.AFTER, Live.FALLBACK): (Kind.MISMATCH,),
}


def plan(known: Mapping[str, KnownCall], live: Iterable[LiveChannel]) -> list[Step]:
    """Pure: the steps that bring the daemon's view in line with Asterisk's channel list.

    Every known call gets exactly one outcome here: kept (no step), moved on, or closed; every live
    caller channel the daemon does not know is adopted once.
    """
    steps: list[Step] = []
    callers = {ch.uniqueid: ch for ch in live if ch.stage is not None}
    for call_id, k in known.items():
        ch = callers.get(call_id)
        if ch is None:
            steps.append(Step(Kind.CLOSE, call_id))
            continue
        stage = ch.stage
        assert stage is not None
        kinds = TABLE.get((k.stage, stage), ())
        if kinds == (Kind.RING_FAILED,) and k.offer_in_flight:
            kinds = ()  # the Redirect sent after the login has not reached the channel yet
        if kinds and kinds[0] is Kind.ANSWERED and k.agent and ch.var("CC_AGENT") not in ("", k.agent):
            kinds = (Kind.MISMATCH,)
        steps.extend(Step(kind, call_id, ch) for kind in kinds)
    for uid, ch in callers.items():
        if uid not in known:
            steps.append(Step(Kind.ADOPT, uid, ch))
    return steps


def known_stage(e: CallEntry) -> CallState:
    return e.state


def live_channels(items: Sequence[Message]) -> list[LiveChannel]:
    """CoreShowChannel events -> LiveChannel (no variables), for tests and tools."""
    return [LiveChannel.from_event(m) for m in items if m.name == "CoreShowChannel"]
