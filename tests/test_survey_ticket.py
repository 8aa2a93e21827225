"""The survey's key onto the ticket: after-call surveys through the PBX simulator (the call linked to the
citizen's ticket during the talk), and a follow-up call (回访) that names its ticket in CC_TICKET, over the
daemon's real FastAGI port. Unsatisfied reopens the ticket to its department. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from asterisk.agi.testing import FakeAsterisk
from config.loader import load_config
from config.models import Config, RatingConfig
from records.testing import database_url
from tests.pair import EXAMPLE, running_pair
from tickets.access import Role, Viewer
from tickets.service import TicketDraft, TicketService
from tickets.survey import satisfaction_of

AGENT = Viewer(Role.AGENT, user="1001")
SUP = Viewer(Role.SUPERVISOR, user="s1")
UNIT = Viewer.for_department("xihu.zfjc")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def test_scores_map_onto_the_three_verdicts() -> None:
    five = (5, 4, 3, 2, 1)  # config/example.yaml: 1 非常满意 (5) .. 5 非常不满意 (1)
    assert [satisfaction_of(s, five) for s in five] == [
        "satisfied", "satisfied", "basically_satisfied", "unsatisfied", "unsatisfied"]
    three = (3, 2, 1)  # the SMS's digits: 1 满意, 2 基本满意, 3 不满意
    assert [satisfaction_of(s, three) for s in three] == ["satisfied", "basically_satisfied", "unsatisfied"]
    assert satisfaction_of(1, (1,)) == "satisfied"


def three_level_survey() -> Config:
    """The example centre with the survey asked as the SMS asks it: 1 满意, 2 基本满意, 3 不满意."""
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.ivr is not None and cfg.ivr.survey is not None
    scale = {"1": RatingConfig(score=3, label="满意"), "2": RatingConfig(score=2, label="基本满意"),
             "3": RatingConfig(score=1, label="不满意")}
    survey = cfg.ivr.survey.model_copy(update={"scale": scale})
    return cfg.model_copy(update={"ivr": cfg.ivr.model_copy(update={"survey": survey})})


def ticket(svc: TicketService, caller: str, at: datetime, *, resolved: bool = True) -> str:
    number = svc.create(TicketDraft(category="complaint", content="夜间施工噪音扰民", caller_number=caller,
                                    county="xihu"), AGENT, at).number
    svc.transition(number, "dispatch", AGENT, at, department="xihu.zfjc")
    svc.transition(number, "sign", UNIT, at)
    if resolved:
        svc.transition(number, "resolve", UNIT, at, note="已责令停工整改")
    return number


def survey_asterisk(uniqueid: str, ticket_number: str, key: str) -> FakeAsterisk:
    """Asterisk's side of [cc-survey] on a follow-up call: CC_TICKET set by the Originate, the citizen keys."""
    env = {"agi_network": "yes", "agi_network_script": "ivr/survey", "agi_request": "agi://127.0.0.1/ivr/survey",
           "agi_channel": "PJSIP/trunk-0000beef", "agi_language": "zh", "agi_type": "PJSIP",
           "agi_uniqueid": uniqueid, "agi_callerid": "13900005555", "agi_calleridname": ""}

    def reply(args: list[str]) -> str:
        if args[:2] == ["GET", "VARIABLE"]:
            return f"200 result=1 ({ticket_number})" if args[2] == "CC_TICKET" else "200 result=0"
        if args[:2] == ["GET", "DATA"]:
            return f"200 result={key}"
        if args[:2] == ["STREAM", "FILE"]:
            return "200 result=0 endpos=8000"
        return "200 result=0" if args[0] in ("ANSWER", "EXEC", "HANGUP") else "200 result=1"

    return FakeAsterisk(env, reply)


async def test_survey_key_reopens_or_closes_the_ticket(db_url: str, tmp_path: Path) -> None:
    async with running_pair(tmp_path, database=db_url, cfg=three_level_survey(), speed=100, seed=11) as pair:
        svc, sim = pair.daemon.tickets, pair.sim
        at = pair.clock.now() - timedelta(days=1)
        unhappy, happy, open_one, called_back = [
            await asyncio.to_thread(ticket, svc, caller, at, resolved=resolved)
            for caller, resolved in (("13900001111", True), ("13900002222", True), ("13900003333", False),
                                     ("13900005555", True))]
        calls = {}
        for number, caller, key in ((unhappy, "13900001111", "3"), (happy, "13900002222", "1"),
                                    (open_one, "13900003333", "3")):
            call_id = await sim.place_call(caller, dtmf=["1", "1"], talk=60, caller_hangs_up=False, survey=key)
            # The agent links the call to the citizen's ticket while they talk (the desktop's form).
            await asyncio.to_thread(svc.link_call, number, call_id, AGENT, pair.clock.now())
            calls[number] = call_id
        truths = [await sim.wait_call(c) for c in calls.values()]
        assert [t.answered_by is not None for t in truths] == [True] * 3
        assert [t.survey_digits for t in truths] == ["3", "1", "3"]
        await pair.settle()
        await survey_asterisk("1800000000.77", called_back, "3").run("127.0.0.1", pair.daemon.agi_port)
        async with asyncio.timeout(20):  # guards against a hang only
            while pair.daemon.surveys.applied < 4:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            await pair.daemon.surveys.join()
        views = {n: await asyncio.to_thread(svc.get, n, SUP) for n in (unhappy, happy, open_one, called_back)}
        histories = {n: await asyncio.to_thread(svc.history, n, SUP) for n in views}
        records = {c: await asyncio.to_thread(pair.daemon.store.get, c) for c in calls.values()}

    # Key 3 (不满意): reopened to its department with a fresh deadline, the answer in its history.
    assert (views[unhappy].state.value, views[unhappy].satisfaction, views[unhappy].department) == (
        "in_progress", "unsatisfied", "xihu.zfjc")
    assert views[unhappy].due_at is not None and views[unhappy].resolved_at is None
    last = histories[unhappy][-1]
    assert (last.action, last.from_state, last.note) == (
        "follow_up_unsatisfied", "resolved", f"after-call survey of {calls[unhappy]}: score 1")
    assert (views[happy].state.value, views[happy].satisfaction) == ("followed_up", "satisfied")
    # A ticket still being handled: the call's rating is history only, the department is not charged with it.
    assert (views[open_one].state.value, views[open_one].satisfaction) == ("in_progress", None)
    assert (histories[open_one][-1].action, histories[open_one][-1].note) == (
        "survey", f"unsatisfied: after-call survey of {calls[open_one]}: score 1")
    # The follow-up call named its ticket: reopened too.
    assert (views[called_back].state.value, views[called_back].satisfaction) == ("in_progress", "unsatisfied")
    assert histories[called_back][-1].note == "follow-up call: score 1"
    # The score stays on the call record as before.
    assert [r.satisfaction if r else None for r in records.values()] == [1, 3, 1]
