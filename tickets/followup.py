"""Follow-up (回访): the day after a ticket is resolved the citizen is asked how it went.

- Pure scheduling: `first_attempt` / `next_attempt` keep attempts inside the permitted hours.
- `FollowUpDialer`: a daemon task that scans due follow-ups and places an outbound call into the survey
  context through an `originate` coroutine (the daemon passes one that sends AMI Originate), with retries;
  `answer(number, digit)` records the citizen's key: 1 satisfied, 2 basically satisfied, 3 unsatisfied
  (unsatisfied reopens the ticket to its department).
- SMS through Twilio where configured: `sms_text`, and `verify_twilio_reply` checks X-Twilio-Signature
  with twilio's own RequestValidator before a reply digit is believed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tickets.deadlines import WorkCalendar
from tickets.settings import FollowUpConfig

log = logging.getLogger(__name__)

SATISFACTION = {"1": "satisfied", "2": "basically_satisfied", "3": "unsatisfied"}


def _within(cfg: FollowUpConfig, cal: WorkCalendar, at: datetime) -> datetime:
    local = at.astimezone(cal.tz)
    start = datetime.combine(local.date(), cfg.start, cal.tz)
    end = datetime.combine(local.date(), cfg.end, cal.tz)
    if local < start:
        return start.astimezone(at.tzinfo)
    if local >= end:
        return datetime.combine(local.date() + timedelta(days=1), cfg.start, cal.tz).astimezone(at.tzinfo)
    return at


def first_attempt(cfg: FollowUpConfig, cal: WorkCalendar, due: datetime) -> datetime:
    """The first instant at or after `due` inside the permitted hours."""
    return _within(cfg, cal, due)


def next_attempt(cfg: FollowUpConfig, cal: WorkCalendar, failed_at: datetime) -> datetime:
    """After an unanswered attempt: `retry_minutes` later, moved into the permitted hours."""
    return _within(cfg, cal, failed_at + timedelta(minutes=cfg.retry_minutes))


def sms_text(ticket_number: str, language: str) -> str:
    if language == "zh":
        return (f"【12345】您反映的事项（工单{ticket_number}）已办结。请回复数字评价："
                "1 满意，2 基本满意，3 不满意。")
    return (f"[12345] Your request {ticket_number} has been resolved. Reply 1 satisfied, "
            "2 mostly satisfied, 3 not satisfied.")


def parse_reply(body: str) -> str | None:
    """The satisfaction named by an SMS reply ('1', ' 3 ', '１'), or None."""
    text = body.strip().translate(str.maketrans("１２３", "123"))
    return SATISFACTION.get(text[:1]) if len(text) >= 1 and (len(text) == 1 or not text[1].isdigit()) else None


def verify_twilio_reply(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """True when X-Twilio-Signature matches (twilio's RequestValidator: HMAC-SHA1 over URL + sorted params)."""
    from twilio.request_validator import RequestValidator  # imported here: only SMS follow-up needs twilio

    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


Originate = Callable[[str, dict[str, str]], Awaitable[None]]  # (dial string, channel variables)
SendSms = Callable[[str, str], Awaitable[None]]  # (to number, text)


class FollowUpBook(Protocol):
    """What the dialer needs of `tickets.service.TicketService`, named here so that this module does not
    import the service that imports it (for `first_attempt`, `next_attempt`)."""

    def escalate(self, now: datetime) -> list[Any]: ...

    def follow_ups_due(self, now: datetime, limit: int = 50) -> list[tuple[str, str]]: ...

    def follow_up_attempted(self, number: str, at: datetime) -> None: ...

    def record_follow_up(self, number: str, satisfaction: str, at: datetime, note: str = "") -> Any: ...


@dataclass
class FollowUpDialer:
    """Places due follow-up calls; also runs the escalation timers (one task, one scan loop)."""

    service: FollowUpBook
    cfg: FollowUpConfig
    originate: Originate
    now: Callable[[], datetime]
    send_sms: SendSms | None = None
    language: str = "zh"
    max_per_scan: int = 50

    async def run(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception:  # a database hiccup must not end the daemon's TaskGroup; the next scan retries
                log.exception("follow-up scan failed")
            await asyncio.sleep(self.cfg.scan_seconds)

    async def scan(self) -> int:
        """Escalate overdue tickets, then place every due follow-up call; returns calls placed."""
        now = self.now()
        await asyncio.to_thread(self.service.escalate, now)
        if not self.cfg.enabled or (self.cfg.channel == "sms" and self.send_sms is None):
            return 0
        due = await asyncio.to_thread(self.service.follow_ups_due, now, self.max_per_scan)
        placed = 0
        for number, caller in due:
            # The attempt is counted first: a crash after Originate never calls the citizen twice in a row.
            await asyncio.to_thread(self.service.follow_up_attempted, number, now)
            try:
                if self.cfg.channel == "sms" and self.send_sms is not None:
                    await self.send_sms(caller, sms_text(number, self.language))
                else:
                    await self.originate(self.cfg.trunk.format(number=caller),
                                         {"CC_TICKET": number, "CC_FOLLOWUP": "1"})
                placed += 1
            except Exception as exc:  # counted as an unanswered attempt; retried later
                log.warning("follow-up for %s not placed: %s", number, type(exc).__name__)
        return placed

    async def answer(self, ticket_number: str, digit: str) -> str | None:
        """The survey's key for a follow-up call: records it on the ticket; returns the satisfaction."""
        satisfaction = SATISFACTION.get(digit)
        if satisfaction is None:
            return None
        await asyncio.to_thread(self.service.record_follow_up, ticket_number, satisfaction, self.now())
        return satisfaction


def in_hours(cfg: FollowUpConfig, cal: WorkCalendar, at: datetime) -> bool:
    local = at.astimezone(cal.tz).time()
    return cfg.start <= local < cfg.end


__all__ = ["SATISFACTION", "FollowUpDialer", "first_attempt", "in_hours", "next_attempt", "parse_reply",
           "sms_text", "verify_twilio_reply"]
