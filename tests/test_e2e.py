"""End to end over TCP: the PBX simulator places calls, the daemon routes them and writes the records.

Every call the simulator made has exactly one record, with the same outcome, agent and queue; times
are ordered; and the daemon's metrics equal the counts taken from the records.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from metrics.kpi import kpi
from tests.pair import running_pair


def metric_values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


async def test_300_calls_each_recorded_once_and_metrics_match(tmp_path: Path) -> None:
    async with running_pair(tmp_path, speed=400, seed=11) as pair:
        uids = await pair.sim.run_load(calls=300)
        await pair.settle()
        store = pair.daemon.store
        records = {r.call_id: r for r in store.records(pair.clock.origin.replace(year=2000))}
        assert store.count() == 300 == len(uids) == len(records)
        truth = pair.sim.ledger
        assert set(records) == set(truth)
        for uid, t in truth.items():
            rec = records[uid]
            assert t.end_count == 1
            assert rec.outcome.value == t.outcome, f"{uid}\n{rec}\n{t}"
            assert rec.caller_number == t.caller
            if t.outcome == "answered":
                assert rec.agent_id == t.answered_by
                assert rec.queue == t.queue
            assert rec.offers == len(t.offers), (uid, rec.offers, t.offers)
            stamps = [x for x in (rec.entered_at, rec.queued_at, rec.offered_at, rec.answered_at, rec.ended_at)
                      if x is not None]
            assert stamps == sorted(stamps)
        outcomes = Counter(r.outcome.value for r in records.values())
        assert outcomes["answered"] > 150  # the demo load is sized so most callers get an agent

        # The metrics the daemon serves are the counts from the store.
        k = kpi(records.values())
        port = pair.daemon.web_port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            text = (await http.get("/metrics")).text
            stats = (await http.get("/api/stats")).json()
        offered = metric_values(text, "callcenter_calls_offered_total")
        answered = metric_values(text, "callcenter_calls_answered_total")
        assert sum(offered.values()) == k.offered
        assert sum(answered.values()) == k.answered
        assert stats["centre"]["offered"] == k.offered
        assert stats["centre"]["answered"] == k.answered
        assert stats["centre"]["abandoned"] == k.abandoned
        by_queue = Counter(r.queue for r in records.values() if r.queued_at is not None)
        for q in stats["queues"]:
            assert q["offered"] == by_queue.get(q["name"], 0)
        # Without a roster (running_pair's default) every configured agent is logged in, and each is
        # in exactly one state on the wallboard (tests/test_daemon_shifts_e2e.py covers the roster).
        engine = pair.daemon.engine
        logged_in = sum(1 for a in pair.cfg.agents if engine.agent_state(str(a.id))[0].value != "logged_out")
        assert logged_in == len(pair.cfg.agents)
        assert sum(v for k, v in stats["agents"].items() if k != "logged_out") == logged_in
