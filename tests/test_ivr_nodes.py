"""The new node kinds of the sans-IO interpreter, and the number checks they use."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.shifts import Calendar
from ivr.digits import id_check_char, luhn_check_digit, valid_id_number, valid_phone, valid_ticket
from ivr.interpreter import (
    Collect,
    Digits,
    Enqueue,
    Hangup,
    HangupCall,
    IvrRun,
    Play,
    Played,
    Record,
    Recorded,
    SetVar,
    Timeout,
    Transfer,
)
from ivr.model import (
    CallbackNode,
    Choice,
    CollectNode,
    EnqueueNode,
    HangupNode,
    IvrModelError,
    LanguageChoice,
    LanguageNode,
    Menu,
    MenuNode,
    MessageNode,
    PlayNode,
    Prompt,
    PromptFile,
    RateNode,
    Rating,
    SetNode,
    TimeNode,
    TimeRule,
    TransferNode,
)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
SH = ZoneInfo("Asia/Shanghai")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def p(name: str) -> Prompt:
    return Prompt({"zh": PromptFile(f"zh/{name}", name), "en": PromptFile(f"en/{name}", name)})


def variables(commands) -> dict[str, str]:
    return {c.name: c.value for c in commands if isinstance(c, SetVar)}


# --- number checks ----------------------------------------------------------------------------------


def test_gb11643_id_numbers():
    assert valid_id_number("11010519491231002X".replace("X", "*"))  # the standard's own example
    assert id_check_char("11010519491231002") == "X"
    assert valid_id_number("440524198001010013")  # check character worked out by hand: 196 mod 11 = 9 -> 3
    assert not valid_id_number("440524198001010014")  # wrong check digit
    assert not valid_id_number("440524188001010014")  # born before 1900
    assert not valid_id_number("110105194913310021")  # month 13
    assert not valid_id_number("11010519491231002")  # 17 characters


@given(st.text("0123456789", min_size=17, max_size=17))
def test_any_single_digit_change_breaks_the_id_check(body):
    number = body + id_check_char(body)
    for i in range(17):
        changed = body[:i] + str((int(body[i]) + 1) % 10) + body[i + 1 :]
        assert id_check_char(changed) != number[17]


def test_phone_and_ticket_numbers():
    assert valid_phone("13800138000") and valid_phone("01088886666") and valid_phone("88886666")
    assert not valid_phone("12345") and not valid_phone("10086000000") and not valid_phone("0101234")
    assert valid_ticket("79927398713")
    ticket = "202603010001" + luhn_check_digit("202603010001")
    assert valid_ticket(ticket)
    assert not valid_ticket(ticket[:-2] + ticket[-1] + ticket[-2])  # two digits swapped
    assert not valid_ticket("12345")  # too short


# --- collect ----------------------------------------------------------------------------------------


def collect_menu(kind: str, retries: int = 1) -> Menu:
    return Menu("ask", {
        "ask": CollectNode(p("ask"), "done", "number", kind, 8, 18, 9000, retries, p("bad"), "agent"),
        "done": EnqueueNode("general"),
        "agent": EnqueueNode("complaints"),
    })


def test_collect_valid_id_number_fills_call_data_and_hides_it_from_the_path():
    run = IvrRun(collect_menu("id_number"), "zh")
    assert run.start(at(0)) == [Collect("zh/ask", 9000, 18)]
    commands = run.handle(Digits("11010519491231002*", at(5)))
    assert commands[-1] == Enqueue("general", run.data)
    assert run.data.vars["number"] == "11010519491231002X"
    assert variables(commands)["CC_DATA_NUMBER"] == "11010519491231002X"
    assert run.path_text() == "ask:ok"
    assert "1101" not in json.dumps(run.steps_json())


def test_collect_bad_entry_reprompts_then_falls_back():
    run = IvrRun(collect_menu("ticket", retries=1), "en")
    run.start(at(0))
    assert run.handle(Digits("12345678", at(3))) == [Play("en/bad"), Collect("en/ask", 9000, 18)]
    commands = run.handle(Timeout(at(12)))
    assert commands[-1] == Enqueue("complaints", run.data)
    assert run.path_text() == "ask:invalid>ask:timeout"
    assert "number" not in run.data.vars


def test_collect_length_limits_and_hash_terminator():
    run = IvrRun(collect_menu("phone"), "zh")
    run.start(at(0))
    run.handle(Digits("1380013", at(1)))  # 7 keys: below min_digits
    assert run.path_text() == "ask:invalid"
    run.handle(Digits("13800138000#", at(2)))
    assert run.data.vars["number"] == "13800138000"


# --- language, time, callback, transfer, message, rate ------------------------------------------------


def test_language_choice_switches_prompts_and_keeps_language_when_exhausted():
    menu = Menu("lang", {
        "lang": LanguageNode(p("lang"), (LanguageChoice("1", "zh"), LanguageChoice("2", "en")), "hello", retries=1),
        "hello": PlayNode(p("hello"), "q"),
        "q": EnqueueNode("general"),
    })
    run = IvrRun(menu, "zh")
    run.start(at(0))
    assert run.handle(Digits("2", at(1))) == [Play("en/hello")]
    assert variables(run.handle(Played(at(2))))["CC_LANG"] == "en"

    stay = IvrRun(menu, "zh")
    stay.start(at(0))
    assert stay.handle(Digits("7", at(1))) == [Collect("zh/lang", 5000, 1)]  # no invalid prompt: ask again
    assert stay.handle(Timeout(at(6))) == [Play("zh/hello")]
    assert stay.language == "zh" and stay.path_text() == "lang:7>lang:timeout"


def time_menu() -> Menu:
    return Menu("hours", {
        "hours": TimeNode((TimeRule("holiday", ("holidays",)), TimeRule("night", ("daily",), time(23), time(7)),
                           TimeRule("weekend", ("offdays",))), "day"),
        "holiday": EnqueueNode("general"), "night": EnqueueNode("general"), "weekend": EnqueueNode("general"),
        "day": EnqueueNode("general"),
    })


@pytest.mark.parametrize(("local", "branch"), [
    (datetime(2026, 3, 2, 10, 0), "day"),  # a Monday
    (datetime(2026, 3, 2, 23, 30), "night"),
    (datetime(2026, 3, 3, 6, 59), "night"),
    (datetime(2026, 3, 7, 10, 0), "weekend"),  # Saturday
    (datetime(2026, 10, 1, 10, 0), "holiday"),  # National Day, a Thursday
    (datetime(2026, 10, 1, 23, 30), "holiday"),  # first rule wins
])
def test_time_branch_reads_the_event_time_in_the_centre_zone(local, branch):
    run = IvrRun(time_menu(), "zh", tz=SH, calendar=Calendar())
    run.start(local.replace(tzinfo=SH).astimezone(UTC))
    assert run.path_text() == f"hours={branch}"


def test_time_branch_uses_the_calendar_overrides():
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=SH)
    run = IvrRun(time_menu(), "zh", tz=SH, calendar=Calendar({date(2026, 3, 7): True}))  # 调休 working day
    run.start(saturday)
    assert run.path_text() == "hours=day"


def test_callback_with_collected_number_or_the_callers_own():
    menu = Menu("ask", {
        "ask": CollectNode(p("ask"), "cb", "cb_number", "phone", 7, 12, fallback="cb-own", retries=0),
        "cb": CallbackNode("bye", "cb_number"),
        "cb-own": CallbackNode("bye", prompt=p("own")),
        "bye": HangupNode(p("bye")),
    })
    run = IvrRun(menu, "zh", caller="13900001111")
    run.start(at(0))
    commands = run.handle(Digits("13800138000", at(1)))
    assert commands == [Play("zh/bye"), *commands[1:-1], HangupCall()]
    assert variables(commands)["CC_CALLBACK"] == "1" and variables(commands)["CC_CALLBACK_NUMBER"] == "13800138000"
    assert run.data.callback and run.data.callback_number == "13800138000"

    own = IvrRun(menu, "zh", caller="13900001111")
    own.start(at(0))
    assert own.handle(Timeout(at(9))) == [Play("zh/own")]
    own.handle(Played(at(10)))
    assert own.data.callback_number == "13900001111"
    assert own.path_text() == "ask:timeout>cb-own>bye"


def test_transfer_hands_off_with_inheritable_call_data():
    menu = Menu("m", {
        "m": MenuNode(p("m"), (Choice("1", "police"),)),
        "police": SetNode("to-110", topic="报警", data={"district": "朝阳区"}),
        "to-110": TransferNode("110", p("connecting")),
    })
    run = IvrRun(menu, "zh", caller="13800138000")
    run.start(at(0))
    commands = run.handle(Digits("1", at(2)))
    assert commands[0] == Play("zh/connecting") and commands[-1] == Transfer("110", run.data)
    v = variables(commands)
    assert v["__CC_TOPIC"] == "报警" and v["__CC_DATA_DISTRICT"] == "朝阳区" and v["__CC_CALLER"] == "13800138000"
    assert v["CC_TRANSFER"] == "110" and v["CC_IVR_PATH"] == "m:1>to-110"
    assert run.done and not run.abandoned


def test_message_then_goodbye():
    menu = Menu("msg", {"msg": MessageNode(p("msg"), "bye", 60), "bye": HangupNode(p("bye"))})
    run = IvrRun(menu, "zh")
    assert run.start(at(0)) == [Play("zh/msg"), Record(60)]
    assert run.waiting_for == "recorded"
    with pytest.raises(Exception, match="Played while waiting for recorded"):
        run.handle(Played(at(1)))
    commands = run.handle(Recorded(at(30)))
    assert commands[0] == Play("zh/bye") and commands[-1] == HangupCall()
    assert run.data.message


def test_rate_node_scores_and_missing_answer():
    survey = Menu("q", {"q": RateNode(p("q"), (Rating("1", 5, "非常满意"), Rating("5", 1)), "bye", retries=1),
                        "bye": HangupNode(p("thanks"))})
    run = IvrRun(survey, "zh")
    run.start(at(0))
    assert run.handle(Digits("1", at(2)))[-1] == HangupCall()
    assert run.data.satisfaction == 5

    silent = IvrRun(survey, "zh")
    silent.start(at(0))
    silent.handle(Digits("9", at(1)))
    silent.handle(Timeout(at(7)))
    assert silent.done and silent.data.satisfaction is None
    assert silent.path_text() == "q:9>q:timeout>bye"


def test_steps_carry_their_timing():
    menu = Menu("w", {"w": PlayNode(p("w"), "m"), "m": MenuNode(p("m"), (Choice("1", "q"),)),
                      "q": EnqueueNode("general")})
    run = IvrRun(menu, "zh")
    run.start(at(0))
    run.handle(Played(at(3.5)))
    run.handle(Digits("1", at(6.25)))
    assert run.steps_json() == [["w", None, 3.5], ["m", "1", 6.25]]


def test_hangup_in_a_collect_node_is_abandoned():
    run = IvrRun(collect_menu("phone"), "zh")
    run.start(at(0))
    assert run.handle(Hangup(at(2))) == []
    assert run.abandoned and run.path_text() == "ask:hangup"


def test_bad_node_values_are_refused():
    with pytest.raises(IvrModelError):
        CollectNode(p("a"), "b", "v", "passport")
    with pytest.raises(IvrModelError):
        CollectNode(p("a"), "b", "v", "digits", 5, 3)
    with pytest.raises(IvrModelError):
        TransferNode("1-1-0")
    with pytest.raises(IvrModelError):
        TimeRule("x", ("someday",))
    with pytest.raises(IvrModelError):
        MessageNode(p("a"), "b", 0)
