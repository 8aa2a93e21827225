"""What the daemon knows of each call in flight, and the one record it writes when the call ends.

Pure: facts in (from the AMI tracker, the FastAGI IVR and the ACD), a `CallRecordData` out at
hang-up. Facts may arrive in either order across the AMI and AGI sockets, so each one creates
the entry if it is missing. A call is closed exactly once: a second hang-up for the same id
(a replayed event) yields nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from queueing.callstate import CallInput, CallState, allows
from records.model import CallRecordData, Outcome


@dataclass(slots=True)
class CallEntry:
    call_id: str
    entered_at: datetime
    linkedid: str = ""
    channel: str = ""
    caller_number: str = ""
    caller_name: str = ""
    ivr_path: str = ""
    language: str = ""
    queue: str | None = None
    priority: int = 0
    skills: tuple[tuple[str, int], ...] = ()
    ivr_failed: bool = False
    fallback: bool = False
    fallback_queue: bool = False  # joined Asterisk's own queue (app_queue): its events say what happened
    fallback_abandoned: bool = False  # QueueCallerAbandon: the caller hung up in that queue
    queued_at: datetime | None = None
    offered_at: datetime | None = None
    offers: int = 0
    offer_agent: str | None = None  # the agent the ACD chose; the phone may not ring yet
    ringing: bool = False  # the agent's phone rings (DialBegin seen)
    agent_id: str | None = None
    answered_at: datetime | None = None
    talk_ended_at: datetime | None = None
    satisfaction: int | None = None  # the after-call survey's score
    ivr_steps: str = ""  # JSON, see records/model.py

    @property
    def waiting(self) -> bool:
        return self.queued_at is not None and self.answered_at is None

    @property
    def state(self) -> CallState:
        """Where the call is, read from its facts (queueing/callstate.py holds the legal moves)."""
        if self.talk_ended_at is not None:
            return CallState.AFTER
        if self.answered_at is not None:
            return CallState.TALKING
        if self.offer_agent is not None:
            return CallState.RINGING
        if self.queued_at is not None:
            return CallState.WAITING
        return CallState.IVR

    def outcome(self) -> Outcome:
        if self.answered_at is not None:
            return Outcome.ANSWERED
        if self.fallback_abandoned and self.queued_at is not None:  # gave up in Asterisk's queue
            return Outcome.ABANDONED_RINGING if self.ringing else Outcome.ABANDONED_QUEUE
        if self.fallback:  # handed to Asterisk's own queue (after waiting here, or instead of it)
            return Outcome.FALLBACK
        if self.queued_at is not None:
            return Outcome.ABANDONED_RINGING if self.ringing else Outcome.ABANDONED_QUEUE
        if self.ivr_failed:
            return Outcome.FAILED
        return Outcome.ABANDONED_IVR


RECENTLY_CLOSED = 10_000


class CallLedger:
    def __init__(self) -> None:
        self.calls: dict[str, CallEntry] = {}
        self.closed = 0
        # Ids of the last calls closed (insertion order = age): a fact that arrives after the hang-up (the
        # FastAGI session of a caller who hung up in the IVR ends after AMI's Hangup) must not open the
        # call again, or it would stay in `calls` forever (found by bench/soak.py). The value is the caller
        # (number, name): an agent's ticket saved before the record reaches the database is bound to the call.
        self._recently_closed: dict[str, tuple[str, str]] = {}
        self.late_facts = 0  # facts for a call already closed, dropped

    def __len__(self) -> int:
        return len(self.calls)

    def entry(self, call_id: str, at: datetime) -> CallEntry:
        e = self.calls.get(call_id)
        if e is None:
            e = CallEntry(call_id=call_id, entered_at=at)
            if call_id in self._recently_closed:
                self.late_facts += 1
                return e  # detached: recorded already
            self.calls[call_id] = e
        return e

    def caller_of(self, call_id: str) -> tuple[str, str] | None:
        """(number, name) of a call in flight or closed a moment ago; None for a call this ledger never had."""
        e = self.calls.get(call_id)
        if e is not None:
            return e.caller_number, e.caller_name
        return self._recently_closed.get(call_id)

    def _closing(self, e: CallEntry) -> None:
        self.closed += 1
        self._recently_closed[e.call_id] = (e.caller_number, e.caller_name)
        if len(self._recently_closed) > RECENTLY_CLOSED:
            del self._recently_closed[next(iter(self._recently_closed))]

    def started(
        self, call_id: str, at: datetime, *, linkedid: str, channel: str, number: str, name: str
    ) -> CallEntry:
        e = self.entry(call_id, at)
        e.entered_at = min(e.entered_at, at)
        e.linkedid, e.channel, e.caller_number, e.caller_name = linkedid, channel, number, name
        return e

    def ivr_finished(
        self, call_id: str, at: datetime, *, path: str, queue: str | None, language: str, failed: bool = False,
        priority: int = 0, skills: tuple[tuple[str, int], ...] = (), steps: str = "",
    ) -> CallEntry:
        e = self.entry(call_id, at)
        e.ivr_path, e.queue, e.language, e.ivr_failed = path, queue, language, failed
        e.priority, e.skills, e.ivr_steps = priority, skills, steps
        return e

    def survey_answered(self, call_id: str, score: int) -> None:
        """The caller rated the call after the agent hung up (the record is written at the hang-up after)."""
        e = self.calls.get(call_id)
        if e is not None:
            e.satisfaction = score

    def held(self, call_id: str, at: datetime) -> bool:
        """The caller waits on hold. True the first time: that is when the call joins the queue."""
        # A CcHold after a failed ring may arrive after the ACD already offered the call to the next
        # agent, so being on hold says nothing about ringing: only offer_failed() clears it.
        e = self.entry(call_id, at)
        if e.queued_at is not None or e.queue is None:
            return False
        e.queued_at = max(at, e.entered_at)
        return True

    def offered(self, call_id: str, agent_id: str, at: datetime) -> None:
        """The ACD chose an agent; the daemon is about to ring them."""
        e = self.calls.get(call_id)
        if e is not None and e.queued_at is not None:
            e.offer_agent = agent_id
            e.ringing = False

    def dialed(self, call_id: str, at: datetime) -> None:
        """The agent's phone rings. Only a real ring counts as an offer: a caller who hangs up while
        the daemon's Redirect is on its way abandoned in the queue, not while ringing."""
        e = self.calls.get(call_id)
        if e is None or e.offer_agent is None or e.ringing or e.queued_at is None:
            return
        e.ringing = True
        e.offers += 1
        if e.offered_at is None:
            e.offered_at = max(at, e.queued_at)

    def offer_failed(self, call_id: str) -> None:
        e = self.calls.get(call_id)
        if e is not None:
            e.offer_agent = None
            e.ringing = False

    def answered(self, call_id: str, at: datetime) -> CallEntry | None:
        e = self.calls.get(call_id)
        if e is None or not allows(e.state, CallInput.ANSWER):
            return None
        if not e.ringing:  # DialBegin filtered out or lost: the answer proves the ring
            self.dialed(call_id, at)
        e.agent_id = e.offer_agent
        e.answered_at = max(at, e.offered_at or at)
        return e

    def talk_ended(self, call_id: str, at: datetime) -> bool:
        """The agent leg is gone (Dial returned). True the first time for an answered call."""
        e = self.calls.get(call_id)
        if e is None or not allows(e.state, CallInput.TALK_ENDED):
            return False
        assert e.answered_at is not None  # TALKING: answered, talk not ended
        e.talk_ended_at = max(at, e.answered_at)
        return True

    def fell_back(self, call_id: str, at: datetime) -> None:
        self.entry(call_id, at).fallback = True

    # ---- Asterisk's own queue ([cc-fallback], app_queue): what it did with a caller, from its events
    def fallback_joined(self, call_id: str, at: datetime, queue: str) -> CallEntry:
        """The caller waits in Asterisk's queue: queued now unless already queued in the ACD (their wait
        goes on); a ring of the ACD still open is void (the dialplan left cc-route)."""
        e = self.entry(call_id, at)
        e.fallback = e.fallback_queue = True
        e.queue = e.queue or queue
        if e.queued_at is None:
            e.queued_at = max(at, e.entered_at)
        if e.answered_at is None:
            e.offer_agent, e.ringing = None, False
        return e

    def fallback_ringing(self, call_id: str, at: datetime, agent: str) -> None:
        e = self.calls.get(call_id)
        if e is None or e.answered_at is not None:
            return
        if e.queued_at is None:
            self.fallback_joined(call_id, at, "")
        assert e.queued_at is not None
        e.offer_agent = agent
        if not e.ringing:
            e.ringing = True
            e.offers += 1
            e.offered_at = e.offered_at or max(at, e.queued_at)

    def fallback_ring_failed(self, call_id: str) -> None:
        e = self.calls.get(call_id)
        if e is not None and e.answered_at is None and e.fallback_queue:
            e.offer_agent, e.ringing = None, False

    def fallback_answered(self, call_id: str, at: datetime, agent: str, hold_s: float) -> CallEntry | None:
        """A member took the caller; ``hold_s`` (app_queue's own count) dates the join when it was missed."""
        e = self.calls.get(call_id)
        if e is None or e.answered_at is not None:
            return None
        if e.queued_at is None:
            e.fallback_queue = True
            e.queued_at = max(e.entered_at, min(at, at - timedelta(seconds=hold_s)))
        self.fallback_ringing(call_id, at, agent)
        e.fallback = e.fallback_queue = True
        e.queue = e.queue or "fallback"
        e.agent_id = agent
        e.answered_at = max(at, e.offered_at or at)
        return e

    def fallback_talk_ended(self, call_id: str, at: datetime, agent: str, hold_s: float, talk_s: float) -> None:
        """AgentComplete: the talk is over; if its AgentConnect was missed (a daemon restart), its times
        follow from app_queue's TalkTime and HoldTime."""
        e = self.calls.get(call_id)
        if e is None:
            return
        if e.answered_at is None:
            self.fallback_answered(call_id, at - timedelta(seconds=talk_s), agent, hold_s)
        if e.answered_at is not None and e.talk_ended_at is None:
            e.talk_ended_at = max(at, e.answered_at)

    def fallback_abandoned(self, call_id: str, at: datetime, hold_s: float) -> None:
        e = self.calls.get(call_id)
        if e is None or e.answered_at is not None:
            return
        if e.queued_at is None:
            e.queued_at = max(e.entered_at, min(at, at - timedelta(seconds=hold_s)))
        e.fallback = e.fallback_queue = e.fallback_abandoned = True
        e.queue = e.queue or "fallback"

    def hung_up(self, call_id: str, at: datetime, cause: int | None) -> CallRecordData | None:
        e = self.calls.pop(call_id, None)
        if e is None:
            return None
        self._closing(e)
        ended = max(at, e.entered_at, e.queued_at or at, e.offered_at or at, e.answered_at or at)
        outcome = e.outcome()
        wait = None
        if e.queued_at is not None:
            wait = ((e.answered_at or ended) - e.queued_at).total_seconds()
        talk = None
        if e.answered_at is not None:
            talk = ((e.talk_ended_at or ended) - e.answered_at).total_seconds()
        return CallRecordData(
            call_id=e.call_id,
            linkedid=e.linkedid or e.call_id,
            caller_number=e.caller_number,
            caller_name=e.caller_name,
            channel=e.channel,
            ivr_path=e.ivr_path,
            language=e.language,
            queue=e.queue,
            agent_id=e.agent_id,
            entered_at=e.entered_at,
            queued_at=e.queued_at,
            offered_at=e.offered_at,
            answered_at=e.answered_at,
            ended_at=ended,
            wait_seconds=wait,
            talk_seconds=talk,
            offers=e.offers,
            outcome=outcome,
            hangup_cause=cause,
            satisfaction=e.satisfaction,
            ivr_steps=e.ivr_steps,
            fallback_queue=e.fallback_queue,
        )

    def failed_record(self, call_id: str, at: datetime, cause: int | None) -> CallRecordData | None:
        """A record with only what is certain (who called, when), for a call whose facts contradict
        each other: it is still counted, as failed, rather than lost."""
        e = self.calls.pop(call_id, None)
        if e is None:
            return None
        self._closing(e)
        return CallRecordData(
            call_id=e.call_id, linkedid=e.linkedid or e.call_id, caller_number=e.caller_number,
            caller_name=e.caller_name, channel=e.channel, ivr_path=e.ivr_path, language=e.language,
            queue=e.queue, agent_id=None, entered_at=e.entered_at, queued_at=None, offered_at=None,
            answered_at=None, ended_at=max(at, e.entered_at), wait_seconds=None, talk_seconds=None,
            offers=e.offers, outcome=Outcome.FAILED, hangup_cause=cause,
        )
