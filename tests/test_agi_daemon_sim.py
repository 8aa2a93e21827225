"""The daemon's FastAGI IVR and after-call survey against the PBX simulator over real TCP: the menu
walked with the simulator's keys, the survey score and every IVR step land on the call record; a menu
saved while calls run is taken by the next call."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pair import running_pair


async def test_menu_survey_and_reload_through_the_simulator(tmp_path: Path) -> None:
    # 20x, not 100x: a 1 s stall of a loaded machine is then 20 s of call time, not 100 s (the survey timed out)
    async with running_pair(tmp_path, speed=20, seed=3) as pair:
        sim, daemon = pair.sim, pair.daemon
        rated = await sim.place_call("13800138000", dtmf=["1", "2"], talk=20, caller_hangs_up=False, survey="2")
        caller_ends = await sim.place_call("13800138001", dtmf=["2", "3"], talk=20, caller_hangs_up=True,
                                           survey="1")
        # No ticket number typed: the collect node times out and falls back to an agent.
        gives_up = await sim.place_call("13800138002", dtmf=["1", "4"], talk=5, patience=600, caller_hangs_up=True)
        for uid in (rated, caller_ends, gives_up):
            await sim.wait_call(uid)
        text = daemon.ivr.current().text.replace("queue: complaints", "queue: dialect", 1)
        assert daemon.ivr.save(text, "admin", "complaints to the dialect queue").number == 2
        after = await sim.place_call("13800138003", dtmf=["1", "2"], talk=5, caller_hangs_up=True)
        await sim.wait_call(after)
        await pair.settle()
        records = {r.call_id: r for r in daemon.store.records(pair.clock.origin.replace(year=2000))}

    first = records[rated]
    assert first.queue == "complaints" and first.ivr_path == "welcome>language:1>hours=main>main:2"
    assert first.satisfaction == 4  # key 2 of the survey: 满意
    steps = json.loads(first.ivr_steps)
    assert steps["version"] == 1
    assert [s[:2] for s in steps["steps"]] == [["welcome", None], ["language", "1"], ["hours", "main"],
                                               ["main", "2"]]
    assert all(isinstance(s[2], float) for s in steps["steps"]) and steps["steps"][-1][2] > steps["steps"][0][2]

    assert records[caller_ends].satisfaction is None  # the caller hung up first: no survey
    assert records[caller_ends].language == "en" and records[caller_ends].queue == "dialect"  # key 3

    ticket = records[gives_up]
    assert ticket.ivr_path == ("welcome>language:1>hours=main>main:4>ticket-number:timeout>ticket-number:timeout>"
                               "ticket-number:timeout")
    assert ticket.queue == "general" and ticket.satisfaction is None  # the fallback: an agent

    assert records[after].queue == "dialect"  # the call after the save took version 2
    assert json.loads(records[after].ivr_steps)["version"] == 2
