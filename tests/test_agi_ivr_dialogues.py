"""Dialogues over real TCP between the daemon's FastAGI server (running the IVR service the daemon runs)
and a fake Asterisk that answers as res_agi does: every node type, timeouts, retries, invalid keys,
hang-up at every step, a reload in the middle of a call, the after-call survey."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from asterisk.agi.server import AgiServer
from asterisk.agi.session import AgiSession
from asterisk.agi.testing import FakeAsterisk
from callcenter.ivr_service import IvrService
from callcenter.ledger import CallLedger
from config.loader import load_config
from ivr.digits import luhn_check_digit
from ivr.versions import MenuRejected, MenuVersion

HOST = "127.0.0.1"
EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
MONDAY_10 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working day
NIGHT = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # 00:30 in Shanghai
NATIONAL_DAY = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
TICKET = "20260301000" + luhn_check_digit("20260301000")
DEAD = "511 Command Not Permitted on a dead channel or intercepted channel"


def env(uid: str = "1700000000.1", script: str = "ivr") -> dict[str, str]:
    return {"agi_network": "yes", "agi_network_script": script, "agi_request": f"agi://{HOST}/{script}",
            "agi_channel": "PJSIP/trunk-00000001", "agi_language": "zh", "agi_type": "PJSIP",
            "agi_uniqueid": uid, "agi_callerid": "13900001111", "agi_calleridname": "王丽"}


class Asterisk:
    """res_agi's answers: GET DATA takes the next scripted entry ('' = the caller typed nothing)."""

    def __init__(self, keys: list[str], *, hang_up_at: int | None = None,
                 on_command: Callable[[list[str]], None] | None = None) -> None:
        self.keys = list(keys)
        self.hang_up_at = hang_up_at
        self.on_command = on_command
        self.count = 0
        self.dead = False

    def __call__(self, args: list[str]) -> str | list[str]:
        index, self.count = self.count, self.count + 1
        if self.on_command is not None:
            self.on_command(args)
        verb = " ".join(args[:2])
        if self.dead:
            return "200 result=1" if args[0] in ("VERBOSE", "SET") else DEAD
        if index == self.hang_up_at:
            self.dead = True
            return ["200 result=-1", "HANGUP"]
        if verb == "GET DATA":
            assert self.keys, f"the menu asked for more input than scripted: {args}"
            keys = self.keys.pop(0)
            return f"200 result={keys}" if keys else "200 result= (timeout)"
        if verb == "STREAM FILE":
            return "200 result=0 endpos=8000"
        if args[0] in ("ANSWER", "EXEC", "HANGUP"):
            return "200 result=0"
        return "200 result=1"


class Rig:
    def __init__(self, tmp_path: Path, now: datetime = MONDAY_10) -> None:
        self.cfg = load_config(EXAMPLE, environ={})
        self.now = now
        self.service = IvrService(self.cfg, tmp_path, lambda: self.now)
        self.ledger = CallLedger()
        self.results: dict[str, object] = {}

    async def handler(self, session: AgiSession) -> None:
        self.results[session.uniqueid] = await self.service.agi_session(session, self.ledger)

    async def call(self, asterisk: Asterisk, uid: str = "1700000000.1", script: str = "ivr") -> list[str]:
        async with AgiServer(HOST, 0, self.handler) as server:
            fake = FakeAsterisk(env(uid, script), asterisk)
            commands = await fake.run(HOST, server.port)
            self.stats = server.stats
        return commands


def variables(commands: list[str]) -> dict[str, str]:
    out = {}
    for line in commands:
        if line.startswith("SET VARIABLE "):
            from asterisk.agi.protocol import split_command

            _, _, name, value = split_command(line)
            out[name] = value
    return out


@pytest.mark.parametrize(("keys", "queue", "path", "extra"), [
    (["1", "1"], "general", "welcome>language:1>hours=main>main:1", {"CC_TOPIC": "咨询", "CC_LANG": "zh"}),
    (["2", "2"], "complaints", "welcome>language:2>hours=main>main:2", {"CC_LANG": "en"}),
    (["1", "4", TICKET + "#"], "general", "welcome>language:1>hours=main>main:4>ticket-number:ok",
     {"CC_DATA_TICKET": TICKET, "CC_TOPIC": "工单进度查询"}),
    (["1", "4", "12345678", "", ""], "general",
     "welcome>language:1>hours=main>main:4>ticket-number:invalid>ticket-number:timeout>ticket-number:timeout", {}),
    (["", "", "", ""], "general",  # no key anywhere: stays zh, menu retried twice, then an agent
     "welcome>language:timeout>hours=main>main:timeout>main:timeout>main:timeout", {}),
    (["1", "7", "7", "3"], "dialect", "welcome>language:1>hours=main>main:7>main:7>main:3", {}),
    # The English queue is reached from the menu (it once got no call all day).
    (["2", "6"], "english", "welcome>language:2>hours=main>main:6", {"CC_LANG": "en"}),
])
async def test_menu_dialogues_end_in_a_queue(tmp_path, keys, queue, path, extra):
    rig = Rig(tmp_path)
    commands = await rig.call(Asterisk(keys))
    v = variables(commands)
    assert v["CC_QUEUE"] == queue and v["CC_IVR_PATH"] == path
    assert extra.items() <= v.items()
    assert commands[0] == "ANSWER" and commands[-1].startswith("VERBOSE")
    entry = rig.ledger.calls["1700000000.1"]
    assert entry.queue == queue and entry.ivr_path == path
    steps = json.loads(entry.ivr_steps)
    assert steps["version"] == 1 and [s[0] for s in steps["steps"]][:2] == ["welcome", "language"]
    if "invalid" in path or ":7" in path:
        assert any("invalid" in c for c in commands if c.startswith("STREAM FILE"))
    assert rig.stats.completed == 1 and rig.stats.errors == 0


async def test_transfer_to_110_with_call_data(tmp_path):
    rig = Rig(tmp_path)
    commands = await rig.call(Asterisk(["1", "5", "1"]))
    assert 'EXEC Dial "PJSIP/110@trunk,60"' in commands and commands[-1] == "HANGUP"
    v = variables(commands)
    assert v["CC_TRANSFER"] == "110" and v["__CC_CALLER"] == "13900001111" and v["__CC_LANG"] == "zh"
    assert "CC_QUEUE" not in v
    assert rig.ledger.calls["1700000000.1"].queue is None


async def test_callback_and_message(tmp_path):
    rig = Rig(tmp_path)
    commands = await rig.call(Asterisk(["1", "8", "13800138000#"]))
    v = variables(commands)
    assert v["CC_CALLBACK"] == "1" and v["CC_CALLBACK_NUMBER"] == "13800138000"
    assert any(c.startswith("STREAM FILE callcenter/zh/callback-thanks") for c in commands)
    assert commands[-1] == "HANGUP"

    own = await rig.call(Asterisk(["1", "8", "", ""]), uid="1700000000.2")  # no number: the caller's own
    assert variables(own)["CC_CALLBACK_NUMBER"] == "13900001111"

    message = await rig.call(Asterisk(["2", "9"]), uid="1700000000.3")
    assert any(c.startswith('EXEC Record "callcenter/messages/1700000000.3.wav,5,120,k"') for c in message)
    assert any(c.startswith("STREAM FILE callcenter/en/message-thanks") for c in message)


@pytest.mark.parametrize(("now", "notice"), [(NIGHT, "night-notice"), (NATIONAL_DAY, "holiday-notice")])
async def test_time_of_day_and_holiday_branches(tmp_path, now, notice):
    rig = Rig(tmp_path, now)
    commands = await rig.call(Asterisk(["1", "1"]))
    assert variables(commands)["CC_IVR_PATH"] == f"welcome>language:1>hours={notice}>{notice}>main:1"
    assert any(f"callcenter/zh/{notice.split('-')[0]}" in c for c in commands)


async def count_commands(tmp_path: Path, keys: list[str]) -> int:
    return len(await Rig(tmp_path).call(Asterisk(keys)))


DIALOGUE = ["1", "4", TICKET + "#"]


@pytest.mark.parametrize("step", range(11))
async def test_hang_up_at_every_step(tmp_path, step):
    total = await count_commands(tmp_path / "count", DIALOGUE)
    assert total == 11  # ANSWER, 3 prompts/menus..., the outcome variables, VERBOSE
    (tmp_path / "run").mkdir()
    rig = Rig(tmp_path / "run")
    commands = await rig.call(Asterisk(DIALOGUE, hang_up_at=step))
    result = rig.results["1700000000.1"]
    if step == total - 1:  # the last command: the HANGUP line arrives after the session ended, unseen
        assert rig.stats.errors == 0 and rig.stats.completed == 1
        return
    assert rig.stats.errors == 0 and rig.stats.hangups == 1 and rig.stats.completed == 0
    entry = rig.ledger.calls["1700000000.1"]
    verbs = [c.split(" ")[0] for c in commands]
    if step < 5:  # hung up inside the menu: abandoned where it was
        assert result.abandoned and entry.queue is None  # type: ignore[attr-defined]
        assert entry.ivr_path.endswith(":hangup") if step > 0 else entry.ivr_path == ""
        assert "VERBOSE" not in verbs
    else:  # hung up while the outcome was being set: still abandoned, no queue for the ACD
        assert result.abandoned and entry.queue is None  # type: ignore[attr-defined]
    assert len(commands) <= total


async def test_reload_in_the_middle_of_a_call(tmp_path):
    rig = Rig(tmp_path)
    old = rig.service.current()
    new_text = old.text.replace("'1': to-general", "'1': to-complaints")
    assert new_text != old.text
    saved: list[MenuVersion] = []

    def save_when_main_menu_plays(args: list[str]) -> None:
        if args[:2] == ["GET", "DATA"] and "main-menu" in args[2] and not saved:
            saved.append(rig.service.save(new_text, "admin", "1 goes to complaints"))
            with pytest.raises(MenuRejected):  # a bad version is refused; the new one keeps serving
                rig.service.save(new_text.replace("queue: complaints", "queue: nowhere"), "admin")

    first = await rig.call(Asterisk(["1", "1"], on_command=save_when_main_menu_plays))
    assert saved and saved[0].number == 2 and rig.service.current().number == 2
    assert variables(first)["CC_QUEUE"] == "general"  # this call finished on version 1
    assert json.loads(rig.ledger.calls["1700000000.1"].ivr_steps)["version"] == 1

    second = await rig.call(Asterisk(["1", "1"]), uid="1700000000.2")
    assert variables(second)["CC_QUEUE"] == "complaints"  # new calls take version 2
    changed = [line.replace(" ", "") for line in saved[0].diff.splitlines()[2:] if line[:1] in "+-"]
    assert changed == ["-'1':to-general", "+'1':to-complaints"]

    rig.service.rollback(1, "admin")
    third = await rig.call(Asterisk(["1", "1"]), uid="1700000000.3")
    assert variables(third)["CC_QUEUE"] == "general" and rig.service.current().number == 3

    # The history survives a restart of the daemon.
    again = IvrService(rig.cfg, tmp_path, lambda: MONDAY_10)
    assert [v.number for v in again.versions.versions] == [1, 2, 3]
    assert again.current().text == old.text


@pytest.mark.parametrize(("keys", "score"), [(["2"], 4), (["1"], 5), (["9", "5"], 1), (["", ""], None)])
async def test_after_call_survey_scores_the_call(tmp_path, keys, score):
    rig = Rig(tmp_path)
    rig.ledger.started("1700000000.1", MONDAY_10, linkedid="1700000000.1", channel="PJSIP/trunk-00000001",
                       number="13900001111", name="")
    commands = await rig.call(Asterisk(keys), script="ivr/survey")
    assert "ANSWER" not in commands  # the channel is up already
    assert commands[0].startswith("GET DATA callcenter/zh/survey 5000 1")
    assert commands[-1] == "HANGUP"
    assert rig.ledger.calls["1700000000.1"].satisfaction == score


async def test_survey_hang_up_leaves_no_score(tmp_path):
    rig = Rig(tmp_path)
    rig.ledger.started("1700000000.1", MONDAY_10, linkedid="x", channel="c", number="1", name="")
    await rig.call(Asterisk(["2"], hang_up_at=0), script="ivr/survey")
    assert rig.ledger.calls["1700000000.1"].satisfaction is None
    assert rig.stats.hangups == 1 and rig.stats.errors == 0
