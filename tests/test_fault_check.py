"""Shared by the fault-injection tests: compare the store with the simulator's ground truth, call by call."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from asterisk.sim import PbxSimulator
from callcenter.daemon import Daemon
from records.model import CallRecordData

EPOCH = datetime(2000, 1, 1).astimezone()


def busy_load(rate: float = 1500.0, talk: float = 60.0) -> dict[str, object]:
    """sim_changes for running_pair: a flat busy hour whatever the wall clock says, shorter talks."""
    from asterisk.sim.config import LoadProfile

    return {"load": LoadProfile(hourly_rate=(rate,) * 24, talk_median=talk).model_dump()}


@dataclass
class Verdict:
    calls: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    closed_by_resync: int = 0
    lost_detail: list[str] = field(default_factory=list)

    def assert_clean(self, fault: str = "", injected: int = 1, flying: int | None = None) -> None:
        """Check; first, with ``fault`` named, add this run's row to the fault table (issue 8's note):
        printed (``pytest -s``) and appended to the file $CC_FAULT_TABLE when set."""
        if fault:
            row = (f"| {fault} | {injected} | {'-' if flying is None else flying} | {self.calls} | "
                   f"{len(self.lost)} | {len(self.duplicated)} | {len(self.stuck)} | {len(self.wrong)} |")
            print(row)
            if os.environ.get("CC_FAULT_TABLE"):
                with open(os.environ["CC_FAULT_TABLE"], "a", encoding="utf-8") as f:
                    f.write(row + "\n")
        assert not self.lost, f"lost: {self.lost} {self.lost_detail}"
        assert not self.duplicated, f"duplicated: {self.duplicated}"
        assert not self.stuck, f"stuck: {self.stuck}"
        assert not self.wrong, "\n".join(self.wrong)


async def settle(daemon: Daemon, sim: PbxSimulator, within: float = 30.0) -> None:
    """Every simulated call ended, the daemon closed every call it had, the store has the records."""
    async with asyncio.timeout(within):
        await sim.drain()
        while daemon.ledger.calls or daemon.resync.restored:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        await daemon.writer.flush()


def verdict(daemon: Daemon, sim: PbxSimulator, *, submitted: int | None = None) -> Verdict:
    """Call by call: one record per simulated call, same outcome (answered by the same agent).

    A call closed by a resync (``hangup_cause`` None: it ended while the daemon could not hear) keeps
    the outcome of its last known stage; for those only answered / not answered must agree.
    """
    records: dict[str, CallRecordData] = {r.call_id: r for r in daemon.store.records(EPOCH)}
    truth = sim.ledger
    v = Verdict(calls=len(truth))
    v.lost = sorted(set(truth) - set(records))
    v.lost_detail = [f"{u}: {truth[u].outcome} by {truth[u].ended_by}, agi {truth[u].agi_status}, "
                     f"{truth[u].arrived_at:%H:%M:%S.%f}-{truth[u].ended_at or 0:%H:%M:%S.%f}" for u in v.lost]
    v.duplicated = sorted(uid for uid, t in truth.items() if t.end_count != 1)
    if submitted is not None and submitted > len(records):
        v.duplicated.append(f"{submitted - len(records)} records submitted twice")
    v.stuck = sorted(set(daemon.ledger.calls) | {c.uniqueid for c in daemon.tracker.callers()})
    v.stuck += [f"engine:{q}" for q in daemon.queue_names if daemon.engine.queue_length(q)]
    v.wrong = [f"not a simulated call: {uid}" for uid in sorted(set(records) - set(truth))]
    for uid, t in truth.items():
        rec = records.get(uid)
        if rec is None:
            continue
        v.outcomes[rec.outcome.value] += 1
        if rec.hangup_cause is None or t.ended_by == "restart":  # cut by a PBX restart: a Hangup like any
            v.closed_by_resync += 1
            if (rec.outcome.value == "answered") != (t.outcome == "answered"):
                v.wrong.append(f"{uid}: closed by resync as {rec.outcome.value}, truth {t.outcome}")
            continue
        if rec.outcome.value != t.outcome:
            v.wrong.append(f"{uid}: record {rec.outcome.value}, truth {t.outcome} (ended by {t.ended_by})")
        elif t.outcome == "answered" and rec.agent_id != t.answered_by:
            v.wrong.append(f"{uid}: answered by {rec.agent_id}, truth {t.answered_by}")
    return v


def in_flight(sim: PbxSimulator) -> int:
    return sum(1 for t in sim.ledger.values() if t.outcome is None)


async def wait_for(pred: object, within: float = 20.0) -> None:
    assert callable(pred)
    async with asyncio.timeout(within):
        while not pred():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
