"""The sans-IO IVR interpreter: every node kind, timeouts, retries, invalid digits, flat mode, hang-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr import (
    Choice,
    Collect,
    Digits,
    Enqueue,
    EnqueueNode,
    Hangup,
    HangupCall,
    HangupNode,
    IvrCommand,
    IvrError,
    IvrRun,
    Menu,
    MenuNode,
    Play,
    Played,
    Prompt,
    PromptFile,
    SetNode,
    SetVar,
    Timeout,
)
from ivr.model import IvrModelError, PlayNode

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def prompt(name: str) -> Prompt:
    return Prompt({"zh": PromptFile(f"zh/{name}", f"{name}（中文）"), "en": PromptFile(f"en/{name}", name)})


def hotline(retries: int = 2, fallback: str | None = "to-general") -> Menu:
    return Menu(
        "welcome",
        {
            "welcome": PlayNode(prompt("welcome"), "main"),
            "main": MenuNode(
                prompt("main"),
                (Choice("1", "to-general"), Choice("2", "to-complaints"), Choice("9", "to-english")),
                timeout_ms=4000,
                retries=retries,
                invalid_prompt=prompt("invalid"),
                fallback=fallback,
            ),
            "to-general": SetNode("enqueue", queue="general", topic="咨询"),
            "to-complaints": SetNode("enqueue", queue="complaints", priority=2, skills={"law": 5}),
            "to-english": SetNode("goodbye-en", queue="english", language="en"),
            "goodbye-en": PlayNode(prompt("connecting"), "enqueue"),
            "enqueue": EnqueueNode(),
            "closed": HangupNode(prompt("closed")),
        },
    )


def enqueued(commands: list[IvrCommand]) -> Enqueue:
    last = commands[-1]
    assert isinstance(last, Enqueue), commands
    return last


def outcome(commands):
    return {c.name: c.value for c in commands if isinstance(c, SetVar)}


def test_play_then_menu_then_choice_enqueues_with_call_data():
    run = IvrRun(hotline(), "zh")
    assert run.start(at(0)) == [Play("zh/welcome")]
    assert run.waiting_for == "played"
    assert run.handle(Played(at(3))) == [Collect("zh/main", 4000, 1)]
    assert run.waiting_for == "digits"
    commands = run.handle(Digits("2", at(5)))
    assert isinstance(commands[-1], Enqueue)
    assert enqueued(commands).queue == "complaints"
    assert enqueued(commands).data.priority == 2 and dict(enqueued(commands).data.skills) == {"law": 5}
    assert outcome(commands) == {"CC_QUEUE": "complaints", "CC_IVR_PATH": "welcome>main:2", "CC_LANG": "zh"}
    assert run.done and not run.abandoned
    assert run.path_text() == "welcome>main:2"
    assert [(s.node, s.digits, s.at) for s in run.steps] == [("welcome", None, at(3)), ("main", "2", at(5))]


def test_set_language_switches_prompts_and_cc_lang():
    run = IvrRun(hotline(), "zh")
    run.start(at(0))
    run.handle(Played(at(1)))
    assert run.handle(Digits("9", at(2))) == [Play("en/connecting")]
    commands = run.handle(Played(at(4)))
    assert outcome(commands)["CC_LANG"] == "en"
    assert commands[-1] == Enqueue("english", run.data)
    assert run.path_text() == "welcome>main:9>goodbye-en"


def test_timeout_reprompts_then_falls_back_after_retries():
    run = IvrRun(hotline(retries=2), "zh")
    run.start(at(0))
    run.handle(Played(at(1)))
    assert run.handle(Timeout(at(5))) == [Collect("zh/main", 4000, 1)]
    assert run.handle(Timeout(at(9))) == [Collect("zh/main", 4000, 1)]
    commands = run.handle(Timeout(at(13)))
    assert enqueued(commands).queue == "general"
    assert run.path_text() == "welcome>main:timeout>main:timeout>main:timeout"


def test_invalid_digits_play_invalid_prompt_and_count_as_retries():
    run = IvrRun(hotline(retries=1), "en")
    run.start(at(0))
    run.handle(Played(at(1)))
    assert run.handle(Digits("7", at(2))) == [Play("en/invalid"), Collect("en/main", 4000, 1)]
    commands = run.handle(Digits("8", at(4)))
    assert enqueued(commands).queue == "general"
    assert run.path_text() == "welcome>main:7>main:8"


def test_invalid_then_valid_choice():
    run = IvrRun(hotline(), "zh")
    run.start(at(0))
    run.handle(Played(at(1)))
    run.handle(Digits("5", at(2)))
    commands = run.handle(Digits("1", at(3)))
    assert enqueued(commands).queue == "general" and enqueued(commands).data.topic == "咨询"
    assert run.path_text() == "welcome>main:5>main:1"


def test_menu_without_fallback_hangs_up_when_exhausted():
    run = IvrRun(hotline(retries=0, fallback=None), "zh")
    run.start(at(0))
    run.handle(Played(at(1)))
    commands = run.handle(Timeout(at(5)))
    assert commands[-1] == HangupCall()
    assert "CC_QUEUE" not in outcome(commands)
    assert run.done and not run.abandoned and run.queue is None


def test_hangup_node_says_goodbye_then_hangs_up():
    menu = Menu("closed", {"closed": HangupNode(prompt("closed"))})
    run = IvrRun(menu, "zh")
    commands = run.start(at(0))
    assert commands[0] == Play("zh/closed")
    assert commands[-1] == HangupCall()
    assert outcome(commands) == {"CC_IVR_PATH": "closed", "CC_LANG": "zh"}
    assert run.done


def test_caller_hangs_up_mid_menu():
    run = IvrRun(hotline(), "zh")
    run.start(at(0))
    run.handle(Played(at(1)))
    assert run.handle(Hangup(at(2))) == []
    assert run.done and run.abandoned
    assert run.path_text() == "welcome>main:hangup"
    assert run.handle(Hangup(at(3))) == []  # a second hang-up is harmless


def test_flat_mode_with_and_without_greeting():
    run = IvrRun(Menu.flat("general", prompt("welcome")), "zh")
    assert run.start(at(0)) == [Play("zh/welcome")]
    commands = run.handle(Played(at(2)))
    assert enqueued(commands).queue == "general"
    assert run.path_text() == "welcome"

    bare = IvrRun(Menu.flat("general"), "zh")
    commands = bare.start(at(0))
    assert enqueued(commands).queue == "general" and bare.done
    assert outcome(commands) == {"CC_QUEUE": "general", "CC_IVR_PATH": "", "CC_LANG": "zh"}


def test_multi_digit_choices_set_max_digits():
    menu = Menu(
        "m",
        {
            "m": MenuNode(prompt("m"), (Choice("1", "q"), Choice("12", "q"), Choice("*0#", "q"))),
            "q": EnqueueNode("general"),
        },
    )
    run = IvrRun(menu, "zh")
    assert run.start(at(0)) == [Collect("zh/m", 5000, 3)]
    assert enqueued(run.handle(Digits("*0#", at(1)))).queue == "general"


def test_prompt_falls_back_to_first_language():
    only_zh = Prompt.single("zh/only")
    assert only_zh.file_for("en") == "zh/only"


@pytest.mark.parametrize(
    "event",
    [Played(at(1)), Digits("1", at(1)), Timeout(at(1))],
)
def test_events_out_of_turn_are_errors(event):
    run = IvrRun(hotline(), "zh")
    with pytest.raises(IvrError):
        run.handle(event)  # before start
    run.start(at(0))
    if isinstance(event, Played):
        run.handle(event)  # legal once
        with pytest.raises(IvrError):
            run.handle(Played(at(2)))  # now waiting for digits
    else:
        with pytest.raises(IvrError):
            run.handle(event)  # waiting for Played


def test_events_after_the_end_are_errors():
    run = IvrRun(Menu.flat("general"), "zh")
    run.start(at(0))
    with pytest.raises(IvrError):
        run.handle(Digits("1", at(1)))


def test_enqueue_without_queue_is_a_run_error():
    run = IvrRun(Menu("e", {"e": EnqueueNode()}), "zh")
    with pytest.raises(IvrError, match="no queue"):
        run.start(at(0))


def test_automatic_loop_is_stopped():
    menu = Menu("a", {"a": SetNode("b"), "b": SetNode("a")})
    with pytest.raises(IvrError, match="without caller input"):
        IvrRun(menu, "zh").start(at(0))


def test_events_validate_their_fields():
    with pytest.raises(ValueError):
        Digits("1", datetime(2026, 1, 1))  # naive time
    with pytest.raises(ValueError):
        Digits("1a", T0)
    with pytest.raises(ValueError):
        Digits("", T0)
    with pytest.raises(IvrModelError):
        Choice("x", "a")
    with pytest.raises(IvrModelError):
        MenuNode(prompt("m"), (), timeout_ms=0)


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from(["digits", "timeout", "hangup"]), max_size=12),
    st.text("0123456789*#", min_size=1),
)
def test_any_input_sequence_ends_in_exactly_one_outcome(inputs, digits):
    """Whatever the caller does, the run ends enqueued, hung up by the IVR, or abandoned — never stuck."""
    run = IvrRun(hotline(retries=2), "zh")
    commands = run.start(at(0))
    second = 1
    endings = 0
    for kind in [*inputs, "timeout", "timeout", "timeout", "timeout"]:
        if run.done:
            break
        second += 1
        if run.waiting_for == "played":
            commands = run.handle(Played(at(second)))
        elif kind == "digits":
            commands = run.handle(Digits(digits, at(second)))
        elif kind == "timeout":
            commands = run.handle(Timeout(at(second)))
        else:
            commands = run.handle(Hangup(at(second)))
        endings += sum(isinstance(c, Enqueue | HangupCall) for c in commands)
    assert run.done
    assert endings + int(run.abandoned) == 1
