"""The after-call survey's key, onto the ticket it is about.

The survey menu (config `ivr.survey`, run by the dialplan's [cc-survey] after the agent hangs up, and by a
follow-up call (回访) placed into the same context) gives a score on the centre's own scale. A ticket
knows three verdicts: satisfied, basically satisfied, unsatisfied. `satisfaction_of` maps a score by its
place on the scale: above the middle satisfied, the middle basically satisfied, below it unsatisfied
(five levels: 5 4 -> satisfied, 3 (一般) -> basically satisfied, 2 1 -> unsatisfied; three levels with the
SMS's digits 1 满意 / 2 基本满意 / 3 不满意: one each).

Which ticket: the one the follow-up call named (channel variable CC_TICKET), else the tickets linked to
the call (an agent linked the call to the citizen's ticket). `SurveyRecorder` applies answers in one
worker task, off the FastAGI session and the routing path; a database hiccup is retried, then dropped
with a log line and a count (the score stays on the call record anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickets.service import TicketService

log = logging.getLogger(__name__)

SATISFIED, BASIC, UNSATISFIED = "satisfied", "basically_satisfied", "unsatisfied"


def satisfaction_of(score: int, scores: Sequence[int]) -> str:
    """The ticket's verdict for `score` on a scale whose scores are `scores` (higher is better)."""
    lo, hi = min(scores, default=score), max(scores, default=score)
    if hi == lo:
        return SATISFIED
    place = (score - lo) / (hi - lo)
    if place > 0.5:
        return SATISFIED
    return BASIC if place == 0.5 else UNSATISFIED


def survey_scores(menu: Any) -> tuple[int, ...]:
    """The scores of the survey menu's rating question (ivr.model.RateNode), in scale order."""
    from ivr.model import RateNode

    if menu is None:
        return ()
    for node in menu.nodes.values():
        if isinstance(node, RateNode):
            return tuple(r.score for r in node.scale)
    return ()


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    call_id: str  # the channel the survey ran on (the caller's call, or the follow-up call)
    score: int
    scores: tuple[int, ...]  # the scale it was given on
    at: datetime
    ticket: str | None = None  # CC_TICKET of a follow-up call

    @property
    def satisfaction(self) -> str:
        return satisfaction_of(self.score, self.scores)


def apply_survey(service: TicketService, answer: SurveyAnswer) -> list[str]:
    """Write the answer onto its ticket(s) and their history; returns the numbers touched."""
    from tickets.errors import TicketNotFound

    numbers = [answer.ticket] if answer.ticket else service.tickets_of_call(answer.call_id)
    source = "follow-up call" if answer.ticket else f"after-call survey of {answer.call_id}"
    done = []
    for number in numbers:
        try:
            service.record_survey(number, answer.satisfaction, answer.at, f"{source}: score {answer.score}")
        except TicketNotFound:
            log.warning("survey answer for unknown ticket %s dropped", number)
            continue
        done.append(number)
    return done


@dataclass
class SurveyRecorder:
    """Applies survey answers to tickets in one task (`run`), in the order they came."""

    service: TicketService
    retries: int = 3
    retry_seconds: float = 2.0
    applied: int = 0  # answers written onto at least one ticket
    unmatched: int = 0  # answers about a call with no ticket (the score stays on the call record)
    dropped: int = 0  # answers lost to repeated errors
    _queue: asyncio.Queue[SurveyAnswer] = field(default_factory=asyncio.Queue)

    def submit(self, answer: SurveyAnswer) -> None:
        self._queue.put_nowait(answer)

    def pending(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        while True:
            answer = await self._queue.get()
            try:
                await self._apply(answer)
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        """Wait until every answer submitted so far is applied (or dropped)."""
        await self._queue.join()

    async def _apply(self, answer: SurveyAnswer) -> None:
        from tickets.errors import ConcurrentChange, TicketError
        from tickets.workflow import WorkflowError

        for attempt in range(self.retries + 1):
            try:
                numbers = await asyncio.to_thread(apply_survey, self.service, answer)
            except (WorkflowError, TicketError) as exc:
                if isinstance(exc, ConcurrentChange) and attempt < self.retries:
                    continue  # someone changed the ticket meanwhile: read it again
                # Moved meanwhile (e.g. closed): nothing left to answer.
                log.info("survey answer for call %s not applied: %s", answer.call_id, exc)
                self.unmatched += 1
                return
            except Exception as exc:  # the database is away: retry, then count the drop
                if attempt == self.retries:
                    self.dropped += 1
                    log.error("survey answer for call %s dropped after %d attempts: %s", answer.call_id,
                              attempt + 1, type(exc).__name__)
                    return
                await asyncio.sleep(self.retry_seconds * (attempt + 1))
                continue
            if numbers:
                self.applied += 1
                log.info("survey of call %s: %s on %s", answer.call_id, answer.satisfaction, ", ".join(numbers))
            else:
                self.unmatched += 1
            return
