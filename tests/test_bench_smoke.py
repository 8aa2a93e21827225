"""The benchmark scripts still run, at their smallest sizes, and write the JSON keys the report reads.

Not a speed test: nothing here looks at a figure's value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_bench_scripts_write_their_figures(tmp_path: Path) -> None:
    out = run("ami_ingest.py", "--events", "3000", "--repeats", "1", "--source", "synthetic",
              "--json", str(tmp_path / "ami_ingest.json"))
    assert "command: " in out
    ingest = json.loads((tmp_path / "ami_ingest.json").read_text())
    assert {"machine", "command", "runs", "repeats"} <= ingest.keys()
    for reader in ("a_split", "a_parse", "b_panoramisk", "c_reader", "d_client", "d_client_x2"):
        assert {"median", "min", "max", "events"} <= ingest["runs"][f"synthetic/{reader}"].keys()

    run("e2e.py", "--rates", "10", "--seconds", "1", "--agents", "10", "--json", str(tmp_path / "e2e.json"))
    e2e = json.loads((tmp_path / "e2e.json").read_text())
    assert {"machine", "command", "steps", "max_sustained_rate", "cpu_per_1000_calls_at_max"} <= e2e.keys()
    step = e2e["steps"][0]
    assert {"latency_ms", "daemon_cpu_per_1000_calls", "sustained", "outcomes", "records"} <= step.keys()
    assert step["records"] == step["calls"]  # every call the simulator placed reached the store

    plot = tmp_path / "perf-scaling.png"
    run("scaling.py", "--agents", "10,20", "--waiting", "10", "--rounds", "20", "--json",
        str(tmp_path / "scaling.json"), "--plot", str(plot))
    scaling = json.loads((tmp_path / "scaling.json").read_text())
    assert len(scaling["points"]) == 2 and "agent_ready_p99_us" in scaling["points"][0]
    assert plot.read_bytes().startswith(b"\x89PNG")

    run("report.py", "--results", str(tmp_path), "--out", str(tmp_path / "performance.md"), "--img", str(tmp_path))
    text = (tmp_path / "performance.md").read_text()
    for heading in ("## 1. AMI ingest", "## 2. End to end", "## 3. How routing cost grows", "## What one node handles",
                    "## Scaling out to a province"):
        assert heading in text
    assert "perf-scaling.png" in text
