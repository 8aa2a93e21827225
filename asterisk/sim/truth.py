"""The ground truth: what really happened to each call, for tests to compare the daemon's records with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Outcome = Literal["answered", "abandoned_ivr", "abandoned_queue", "abandoned_ringing", "failed", "fallback"]
OUTCOMES: tuple[Outcome, ...] = (
    "answered",
    "abandoned_ivr",
    "abandoned_queue",
    "abandoned_ringing",
    "failed",
    "fallback",
)


@dataclass
class Offer:
    """One Dial of an agent phone (a Redirect to cc-route)."""

    agent: str
    endpoint: str
    at: datetime
    #: DIALSTATUS as the dialplan saw it: ANSWER, NOANSWER, BUSY, CANCEL, CHANUNAVAIL
    result: str = ""
    #: the phone was already on another call when this ring began (a ring the ACD should not have sent)
    device_busy: bool = False
    #: rung by Asterisk's own queue ([cc-fallback]), not by the daemon
    by_fallback: bool = False


@dataclass
class CallTruth:
    uniqueid: str
    linkedid: str
    channel: str
    caller: str
    caller_name: str
    arrived_at: datetime
    ivr_digits: list[str] = field(default_factory=list)
    queue: str = ""
    reached_hold: bool = False
    hold_at: datetime | None = None
    hold_count: int = 0
    offers: list[Offer] = field(default_factory=list)
    answered_by: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    #: who or what ended the call: caller, agent, ami_hangup, agi_hangup, dialplan, shutdown
    ended_by: str = ""
    agi_status: str = ""
    survey_digits: str = ""
    #: how many times the call was ended (must be exactly 1; checked by tests)
    end_count: int = 0
    #: call control by AMI while talking: (action, context, exten), e.g. ("BlindTransfer", "cc-transfer", "8101")
    transfers: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def offered_to(self) -> list[str]:
        return [o.agent for o in self.offers]

    def finish(self, outcome: Outcome, at: datetime, ended_by: str) -> None:
        self.end_count += 1
        if self.outcome is None:
            self.outcome = outcome
            self.ended_at = at
            self.ended_by = ended_by

    def fingerprint(self) -> tuple[object, ...]:
        """Everything but the measured times (for reproducibility checks across runs)."""
        return (
            self.uniqueid,
            self.channel,
            self.caller,
            self.caller_name,
            self.arrived_at,
            tuple(self.ivr_digits),
            self.queue,
            self.reached_hold,
            self.hold_count,
            tuple((o.agent, o.endpoint, o.result) for o in self.offers),
            self.answered_by,
            self.outcome,
            self.ended_by,
            self.agi_status,
            self.survey_digits,
            self.end_count,
        )
