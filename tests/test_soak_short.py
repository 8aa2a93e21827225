"""The soak bench at CI size: one simulated day of ~800 calls at high speed, simulator in its own
process over TCP (bench/soak.py). Every call recorded once, and nothing grows between the two quiet
checkpoints (after the warm-up, after the day): asyncio tasks, sockets, file descriptors.

Not a speed test: no figure of time or memory is asserted (the full run is `bench/soak.py`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _other_fds(kinds: dict[str, int]) -> int:
    # The SQLite pool opens connections (db, -wal, -shm files) as worker threads need them, up to its
    # bounded size: not a leak. Every other descriptor must not grow.
    return sum(n for kind, n in kinds.items() if not kind.startswith("calls.db"))


def test_one_short_day_every_call_recorded_once_and_nothing_grows(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--days", "1", "--calls-per-day", "800",
         "--speed", "600", "--warmup", "100", "--sample", "0.5", "--no-progress", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    r = json.loads(out.read_text())
    check = r["check"]
    assert check["calls"] == r["calls"] == 900
    assert check["records"] == check["calls"]
    assert check["lost"] == check["duplicated"] == check["stuck"] == check["not_simulated"] == []
    assert sum(r["outcomes"].values()) == 900
    warm, end = r["checkpoints"]["warm"], r["checkpoints"]["end"]
    assert end["open_calls"] == 0
    assert end["tasks"] <= warm["tasks"]
    assert end["sockets"] <= warm["sockets"]
    assert _other_fds(end["fd_kinds"]) <= _other_fds(warm["fd_kinds"])
    assert len(r["samples"]) >= 2 and r["resources"]["tasks"]["max"] >= warm["tasks"]
