"""One click: a confirmed incident's announcement becomes an IVR version (AGI and TwiML play it), and
closing or expiry restores the menu as a newer version. Both IVR modes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import SecretStr

from callcenter.ivr_service import IvrService, config_menu_text
from callcenter.web.twilio import TwilioIvr
from config.loader import load_config
from incidents.announce import AnnounceError, Announcement, add, announcements_in, remove
from incidents.board import IncidentBoard
from incidents.detect import Baseline, Detector, Signal
from incidents.model import IncidentError, State
from tests.test_agi_ivr_dialogues import MONDAY_10, Asterisk, Rig, variables

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Shanghai")
MESSAGE = "阳光花园停电，供电公司正在抢修，预计18点前恢复。"


def stream_files(commands: list[str]) -> list[str]:
    return [c.split()[2] for c in commands if c.startswith(("STREAM FILE", "GET DATA"))]


def board_with_candidate(service: IvrService) -> IncidentBoard:
    board = IncidentBoard(Detector(Baseline({("水电气", "", h): 2.0 for h in range(24)}), TZ), service, "zh")
    for i in range(20):
        board.observe(Signal(f"c{i}", MONDAY_10 - timedelta(minutes=5) + timedelta(seconds=10 * i), topic="水电气",
                             places=("阳光花园",)))
    assert [i.state for i in board.incidents.values()] == [State.CANDIDATE]
    return board


def test_add_and_remove_give_back_the_same_menu_in_both_modes() -> None:
    for name in ("example.yaml", "example-flat.yaml"):
        cfg = load_config(ROOT / "config" / name, environ={})
        text = config_menu_text(cfg)
        announced = add(text, Announcement(3, MESSAGE))
        data = yaml.safe_load(announced)
        assert data["mode"] == "menu" and data["start"] == "incident-3"
        assert data["nodes"]["incident-3"]["choices"] == {"1": "incident-3", "2": yaml.safe_load(text).get(
            "start", "welcome")}
        assert announcements_in(announced) == [3]
        back = yaml.safe_load(remove(announced, 3))
        original = yaml.safe_load(text)
        if original["mode"] == "menu":
            assert back == original
        assert announcements_in(remove(announced, 3)) == []
    with pytest.raises(AnnounceError):
        Announcement(1, "two\nlines")
    with pytest.raises(AnnounceError):
        add(config_menu_text(load_config(ROOT / "config" / "example.yaml", environ={})),
            Announcement(1, MESSAGE, scope="topic:没有的话题"))


async def test_confirm_announces_over_agi_and_close_restores_the_menu(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    before = rig.service.current()
    board = board_with_candidate(rig.service)
    seen: list[dict] = []
    board.listeners.append(seen.append)
    incident = board.confirm(1, "值班长张", MONDAY_10, message=MESSAGE)
    version = rig.service.current()
    assert version.number == before.number + 1 and version.author == "值班长张"
    assert version.note == "incident 1: announcement" and incident.announced_version == version.number
    assert seen[-1]["state"] == "confirmed" and seen[-1]["message"] == MESSAGE

    # no key after the announcement: goodbye, no agent taken
    commands = await rig.call(Asterisk([""]), uid="1700000000.2")
    assert stream_files(commands)[:2] == ["incident/1-zh", "callcenter/zh/goodbye"]
    assert "CC_QUEUE" not in variables(commands)
    # 1 hears it again, 2 goes on to the menu as before
    commands = await rig.call(Asterisk(["1", "2", "1", "1"]), uid="1700000000.3")
    assert stream_files(commands)[:3] == ["incident/1-zh", "incident/1-zh", "callcenter/zh/welcome"]
    assert variables(commands)["CC_QUEUE"] == "general"
    assert variables(commands)["CC_IVR_PATH"].startswith("incident-1:1>incident-1:2>welcome")

    board.close(1, "值班长张", MONDAY_10 + timedelta(hours=1), "抢修完毕")
    after = rig.service.current()
    assert after.number == version.number + 1 and "incident 1 close" in after.note
    assert yaml.safe_load(after.text) == yaml.safe_load(before.text)
    commands = await rig.call(Asterisk(["1", "1"]), uid="1700000000.4")
    assert "incident/1-zh" not in stream_files(commands) and variables(commands)["CC_QUEUE"] == "general"
    assert board.incidents[1].restored_version == after.number and not board.active()
    with pytest.raises(IncidentError):
        board.close(1, "值班长张", MONDAY_10)


async def test_flat_mode_announces_and_expiry_rolls_back(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.cfg = load_config(ROOT / "config" / "example-flat.yaml", environ={})
    (tmp_path / "flat").mkdir()
    rig.service = IvrService(rig.cfg, tmp_path / "flat", lambda: rig.now)
    board = board_with_candidate(rig.service)
    board.confirm(1, "sup", MONDAY_10, message=MESSAGE, expires_in=timedelta(minutes=30))
    commands = await rig.call(Asterisk(["2"]))
    assert stream_files(commands)[:2] == ["incident/1-zh", "callcenter/zh/welcome-flat"]
    assert variables(commands)["CC_QUEUE"] == "general"
    board.tick(MONDAY_10 + timedelta(minutes=29))
    assert board.incidents[1].state is State.CONFIRMED
    board.tick(MONDAY_10 + timedelta(minutes=31))
    assert board.incidents[1].state is State.CLOSED and board.incidents[1].close_reason == "expired"
    assert "expire" in rig.service.current().note
    assert yaml.safe_load(rig.service.current().text)["mode"] == "flat"  # restored as it was
    commands = await rig.call(Asterisk([]), uid="1700000000.9")
    assert stream_files(commands)[0] == "callcenter/zh/welcome-flat" and variables(commands)["CC_QUEUE"] == "general"


async def test_topic_scope_announces_to_that_topic_only(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    board = board_with_candidate(rig.service)
    board.confirm(1, "sup", MONDAY_10, message="投诉热线今日系统升级。", scope="topic:投诉举报")
    complaints = await rig.call(Asterisk(["1", "2", "2"]), uid="1700000000.5")
    assert "incident/1-zh" in stream_files(complaints) and variables(complaints)["CC_QUEUE"] == "complaints"
    general = await rig.call(Asterisk(["1", "1"]), uid="1700000000.6")
    assert "incident/1-zh" not in stream_files(general)


def test_twiml_says_the_announcement_and_refuses_nothing_else(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    board = board_with_candidate(rig.service)
    board.confirm(1, "sup", MONDAY_10, message=MESSAGE)
    twilio = TwilioIvr(rig.service, SecretStr("t" * 32), clock=lambda: MONDAY_10, language="zh",
                       public_url="https://example.test/twilio/voice")
    twiml = twilio.respond({"CallSid": "CA1", "From": "+8613900001111"}, None)
    assert MESSAGE in twiml and "重听请按1" in twiml
    board.close(1, "sup", MONDAY_10 + timedelta(minutes=10))
    assert MESSAGE not in twilio.respond({"CallSid": "CA2", "From": "+8613900001111"}, None)


def test_illegal_moves_change_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    board = board_with_candidate(rig.service)
    board.dismiss(1, "sup", MONDAY_10, "误报")
    number = rig.service.current().number
    with pytest.raises(IncidentError) as err:
        board.confirm(1, "sup", MONDAY_10, message=MESSAGE)
    assert err.value.slug == "illegal_move" and rig.service.current().number == number
    with pytest.raises(IncidentError):
        board.get(99)


def test_close_keeps_an_admins_later_change_and_takes_out_only_the_announcement(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    board = board_with_candidate(rig.service)
    board.confirm(1, "sup", MONDAY_10, message=MESSAGE)
    edited = rig.service.current().text.replace("topic: 咨询", "topic: 政策咨询")
    rig.service.save(edited, "admin", "topic renamed")
    board.close(1, "sup", MONDAY_10 + timedelta(minutes=10))
    after = yaml.safe_load(rig.service.current().text)
    assert "incident-1" not in after["nodes"] and after["start"] == "welcome"
    assert after["nodes"]["to-general"]["topic"] == "政策咨询"
