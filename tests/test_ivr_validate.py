"""Static validation of menus: each error names the node path."""

from __future__ import annotations

from ivr import Choice, EnqueueNode, HangupNode, Menu, MenuNode, PlayNode, Prompt, SetNode, validate

QUEUES = {"general", "complaints"}
P = Prompt.single("p")


def good() -> Menu:
    return Menu(
        "welcome",
        {
            "welcome": PlayNode(P, "main"),
            "main": MenuNode(P, (Choice("1", "g"), Choice("2", "c")), fallback="g"),
            "g": SetNode("enq", queue="general"),
            "c": EnqueueNode("complaints"),
            "enq": EnqueueNode(),
        },
    )


def test_good_menu_and_flat_menus_are_valid():
    assert validate(good(), QUEUES) == []
    assert validate(Menu.flat("general", P), QUEUES) == []
    assert validate(Menu.flat("general"), QUEUES) == []


def test_unknown_start():
    assert validate(Menu("nope", {"a": EnqueueNode("general")}), QUEUES)[0] == "start: unknown node 'nope'"


def test_unknown_targets_name_the_key():
    menu = Menu(
        "welcome",
        {
            "welcome": PlayNode(P, "mian"),
            "main": MenuNode(P, (Choice("1", "gen"),), fallback="fb"),
        },
    )
    errors = validate(menu, QUEUES)
    assert "nodes.welcome.next: unknown node 'mian'" in errors
    assert "nodes.main.choices.1: unknown node 'gen'" in errors
    assert "nodes.main.fallback: unknown node 'fb'" in errors


def test_unknown_queues():
    menu = Menu("s", {"s": SetNode("e", queue="complaint"), "e": EnqueueNode("generl")})
    errors = validate(menu, QUEUES)
    assert any(e.startswith("nodes.s.queue: unknown queue 'complaint'") for e in errors)
    assert any(e.startswith("nodes.e.queue: unknown queue 'generl'") for e in errors)


def test_duplicate_digits():
    menu = Menu("m", {"m": MenuNode(P, (Choice("1", "e"), Choice("1", "e"))), "e": EnqueueNode("general")})
    assert validate(menu, QUEUES) == ["nodes.m.choices.1: duplicate digits '1'"]


def test_menu_without_choices():
    menu = Menu("m", {"m": MenuNode(P, ())})
    assert "nodes.m.choices: a menu needs at least one choice" in validate(menu, QUEUES)


def test_unreachable_node():
    menu = good()
    menu = Menu(menu.start, {**menu.nodes, "orphan": HangupNode()})
    assert validate(menu, QUEUES) == ["nodes.orphan: unreachable from the start node 'welcome'"]


def test_loop_with_no_exit_names_the_path():
    menu = Menu(
        "welcome",
        {
            "welcome": PlayNode(P, "main"),
            "main": MenuNode(P, (Choice("1", "info"), Choice("2", "e")), fallback="info"),
            "info": PlayNode(P, "more"),
            "more": PlayNode(P, "info"),
            "e": EnqueueNode("general"),
        },
    )
    errors = validate(menu, QUEUES)
    tail = "never gets to an enqueue or a hangup"
    assert errors == [
        f"nodes.info: loop with no exit (reached by welcome>main:1>info): {tail}",
        f"nodes.more: loop with no exit (reached by welcome>main:1>info>more): {tail}",
    ]


def test_loop_back_to_a_menu_with_an_exit_is_fine():
    menu = Menu(
        "main",
        {
            "main": MenuNode(P, (Choice("1", "info"), Choice("2", "e")), fallback="e"),
            "info": PlayNode(P, "main"),  # "press 1 to hear the hours" then back to the menu
            "e": EnqueueNode("general"),
        },
    )
    assert validate(menu, QUEUES) == []


def test_enqueue_without_a_queue_chosen_on_some_path():
    menu = Menu(
        "main",
        {
            "main": MenuNode(P, (Choice("1", "g"), Choice("2", "enq")), fallback="g"),
            "g": SetNode("enq", queue="general"),
            "enq": EnqueueNode(),
        },
    )
    assert validate(menu, QUEUES) == ["nodes.enq.queue: no queue chosen on the way here (main:2>enq)"]


def test_a_loop_whose_only_exit_is_a_time_branch_is_caught():
    from datetime import time

    from ivr.model import TimeNode, TimeRule
    from ivr.validate import check

    # On a public holiday the caller hears the notice and comes back to the same time branch: for ever.
    menu = Menu("hours", {
        "hours": TimeNode((TimeRule("holiday", ("holidays",)), TimeRule("night", ("daily",), time(23), time(7))),
                          default="main"),
        "holiday": PlayNode(P, "hours"),
        "night": PlayNode(P, "main"),
        "main": MenuNode(P, (Choice("1", "g"),), fallback="g"),
        "g": EnqueueNode("general"),
    })
    issues = check(menu, QUEUES)
    assert [i.where for i in issues] == ["nodes.hours.rules.0"]
    assert "'holidays'" in issues[0].message and "loop with no exit" in issues[0].message
    # Going on to the menu after the notice is a way out.
    fixed = Menu("hours", {**menu.nodes, "holiday": PlayNode(P, "main")})
    assert check(fixed, QUEUES) == []


def test_a_queue_no_path_reaches_is_warned_of():
    from ivr.validate import warnings

    assert [i.where for i in warnings(good(), {"general", "complaints", "english"})] == ["queues.english"]
    assert warnings(good(), QUEUES) == [] and warnings(good(), None) == []
