"""deploy/: the systemd unit passes ``systemd-analyze verify`` (with ExecStart pointed at this checkout's
``callcenter``), and the container recipe runs the same command with the same restart story. No container
engine runs here, so the image is not built: its instructions are checked instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "callcenter.service"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
# CI installs systemd (scripts/services); a missing tool must fail, not skip.
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    # its findings go to the console (stderr), not to a journal that may be running or not
    return subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SYSTEMD_LOG_TARGET": "console"})


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("callcenter")
    assert exe.exists()
    unit = UNIT.read_text(encoding="utf-8").replace("/opt/callcenter/.venv/bin/callcenter", str(exe))
    copy = tmp_path / "callcenter.service"
    copy.write_text(unit, encoding="utf-8")
    done = verify(copy)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    keys = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert keys["Restart"] == "always"  # a leader that stepped down (exit 75) comes back as a standby
    assert keys["KillSignal"] == "SIGTERM" and keys["UMask"] == "0077"
    assert keys["ExecStart"].split()[1:] == ["--log-level", "INFO", "run", "--config",
                                             "/etc/callcenter/callcenter.yaml"]


def test_the_unit_rejects_a_typo_so_the_check_can_fail(tmp_path: Path) -> None:
    copy = tmp_path / "callcenter.service"
    exe = Path(sys.executable).with_name("callcenter")
    unit = UNIT.read_text(encoding="utf-8").replace("/opt/callcenter/.venv/bin/callcenter", str(exe))
    copy.write_text(unit.replace("Restart=always", "Restart=allways"), encoding="utf-8")
    done = verify(copy)
    assert "restart specifier" in done.stderr and "allways" in done.stderr


def test_the_container_recipe_runs_the_daemon_as_the_unit_does() -> None:
    lines = [ln for ln in CONTAINERFILE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    instructions = [ln.split()[0] for ln in lines if not ln.startswith(" ")]
    assert instructions.count("FROM") == 2 and "USER" in instructions and "HEALTHCHECK" in instructions
    assert all("python:3.11" in ln for ln in lines if ln.startswith("FROM"))
    assert 'ENTRYPOINT ["/opt/callcenter/.venv/bin/callcenter", "--log-level", "INFO"]' in lines
    assert 'CMD ["run", "--config", "/etc/callcenter/callcenter.yaml"]' in lines
    assert "STOPSIGNAL SIGTERM" in lines


PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
MON = ROOT / "monitoring"


def test_the_hot_standby_alerts_pass_promtool_and_name_exported_metrics() -> None:
    check = subprocess.run([PROMTOOL, "check", "rules", str(MON / "ha_alerts.yml")], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0 and "SUCCESS: 5 rules found" in check.stdout, check.stdout + check.stderr
    unit = subprocess.run([PROMTOOL, "test", "rules", "ha_alerts_test.yml"], capture_output=True, text=True,
                          timeout=60, cwd=MON)
    assert unit.returncode == 0, unit.stdout + unit.stderr
    from datetime import UTC, datetime

    from prometheus_client import CollectorRegistry, generate_latest

    from callcenter.ha import Health, OpsCollector

    health = Health(amis={}, db_ping=lambda: None, brokers={"mqtt": lambda: True}, ha=None, synced=lambda: True,
                    now=lambda: datetime.now(UTC), timezone="Asia/Shanghai")
    health.database_up = True
    registry = CollectorRegistry()
    registry.register(OpsCollector(health))
    exported = generate_latest(registry).decode()
    import re

    for name in set(re.findall(r"\b(callcenter_[a-z0-9_]+)", (MON / "ha_alerts.yml").read_text(encoding="utf-8"))):
        assert f"\n{name}" in exported or exported.startswith(name), name
