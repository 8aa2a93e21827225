"""The console's pure parts: moving an agent between queues in the ACD (SetAgentQueues), the IVR path in words,
adherence to the roster, ChanSpy's options, and the page in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.adherence import adherent, scheduled
from callcenter.engine_config import shift_rules_from
from callcenter.supervisor import SPY_OPTIONS, spy_originate
from callcenter.web.supervisor import SupervisorError, render_page
from config.loader import load_config
from ivr.words import path_in_words
from queueing import (
    AgentQueuesChanged,
    AgentSpec,
    AgentState,
    AgentStateChanged,
    CallQueued,
    Engine,
    EngineConfig,
    EventError,
    OfferCall,
    QueueSpec,
    SetAgentQueues,
    UnknownQueue,
)
from queueing.harness import Harness
from tests.engine_kit import T0, ready, t
from tests.pair import EXAMPLE


def test_an_agent_moved_to_a_queue_takes_its_waiting_caller_at_once() -> None:
    engine = Engine(EngineConfig((QueueSpec("general"), QueueSpec("english")),
                                 (AgentSpec("1001", ("general",)), AgentSpec("1002", ("general",)))))
    h = Harness(engine, T0)
    ready(h, "1001", "1002")
    h.send(CallQueued(t(1), "c1", "english"))
    assert engine.waiting_calls("english") == ["c1"]
    out = engine.handle(SetAgentQueues(t(2), "1002", ("english", "general"), by="lead"))
    assert out[0] == AgentQueuesChanged("1002", ("general",), ("english", "general"), t(2), "lead")
    assert isinstance(out[1], AgentStateChanged) and out[1].new is AgentState.RESERVED
    assert out[2] == OfferCall("c1", "1002", "english", t(2))
    assert engine.agent_queues("1002") == ("english", "general")
    # Moved out of a queue: no longer offered its callers; a repeat changes nothing.
    moved = engine.handle(SetAgentQueues(t(3), "1001", ("english",), by="lead"))
    assert moved == [AgentQueuesChanged("1001", ("general",), ("english",), t(3), "lead")]
    assert engine.ready_agents("general") == []
    assert engine.handle(SetAgentQueues(t(4), "1001", ("english",), by="lead")) == []
    with pytest.raises(UnknownQueue):
        engine.handle(SetAgentQueues(t(5), "1001", ("nowhere",), by="lead"))
    assert engine.agent_queues("1001") == ("english",)
    with pytest.raises(EventError):
        SetAgentQueues(t(5), "1001", (), by="lead")


def test_ivr_path_in_words() -> None:
    menu = load_config(EXAMPLE, environ={}).ivr_menu()
    labels = {"general": "综合咨询", "complaints": "投诉举报", "dialect": "方言服务"}
    path = "welcome>language:1>hours=main>main:2>to-complaints"
    assert path_in_words(menu, path, "zh", labels) == "普通话 › 投诉举报"
    assert path_in_words(menu, "welcome>language:1>main:3>to-dialect", "zh", labels) == "普通话 › 方言服务"
    assert path_in_words(menu, "welcome>language:2>main:0", "en", labels) == "English › 综合咨询"
    assert path_in_words(menu, "welcome>language:timeout>main:timeout>main:timeout>to-agent", "zh", labels) \
        == "未按键"
    assert path_in_words(menu, "", "zh", labels) == ""
    assert path_in_words(None, "main:7", "zh", labels) == "7"


def test_adherence_to_the_roster() -> None:
    rules = shift_rules_from(load_config(EXAMPLE, environ={}))
    monday_9 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: 甲班 on the early shift
    assert scheduled(rules, "1001", monday_9) == "on_shift"
    assert scheduled(rules, "1005", monday_9) == "off"
    assert scheduled(rules, "1001", datetime(2026, 3, 2, 3, 10, tzinfo=UTC)) == "break"  # 11:10, wave 1 of lunch
    assert scheduled(None, "1001", monday_9) == "unrostered"
    assert adherent("on_shift", "ready") and adherent("on_shift", "on_call")
    assert not adherent("on_shift", "not_ready") and not adherent("on_shift", "logged_out")
    assert adherent("break", "not_ready") and not adherent("break", "ready")
    assert adherent("break", "on_call")  # a call running into the break is never cut
    assert adherent("off", "logged_out") and not adherent("off", "ready")
    assert adherent("unrostered", "ready") is None


def test_chanspy_options_and_fields() -> None:
    assert SPY_OPTIONS == {"listen": "qEu", "whisper": "qwEu", "barge": "qBEu"}
    fields = dict(spy_originate("whisper", supervisor_endpoint="PJSIP/9001", agent_channel="PJSIP/1001-0000000a",
                                agent_id="1001"))
    assert fields["Channel"] == "PJSIP/9001" and fields["Application"] == "ChanSpy"
    assert fields["Data"] == "PJSIP/1001-0000000a,qwEu" and fields["Async"] == "true"
    with pytest.raises(SupervisorError):
        spy_originate("record", supervisor_endpoint="PJSIP/9001", agent_channel="x", agent_id="1001")


@pytest.mark.parametrize(("language", "title", "absent"), [("zh", "值班长席", "Supervisor console"),
                                                           ("en", "Supervisor console", "值班长席")])
def test_page_in_the_centres_language(language: str, title: str, absent: str) -> None:
    page = render_page(language=language, centre_name="测试<中心>", csrf="tok", user="lead",
                       queues={"general": "综合咨询"})
    assert title in page and absent not in page
    assert "测试&lt;中心&gt;" in page and "</script" not in page.split("const CONFIG = ")[1].split(";</script>")[0]
