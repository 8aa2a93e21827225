"""The shipped alert rules and Grafana dashboard: promtool checks and unit-tests the rules, the dashboard
follows its JSON Schema, and every metric either names is one the daemon exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics.live import LiveStats
from metrics.prom import register
from records.agent import AgentInterval
from records.testing import hand_worked_day
from records.testing import local_at as at

MON = Path(__file__).resolve().parents[1] / "monitoring"
METRIC = re.compile(r"\b(callcenter_[a-z0-9_]+)")
# CI installs Debian's prometheus package (promtool); a missing promtool must fail, not skip.
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def exported_names() -> set[str]:
    stats = LiveStats(queues=[("main", "Main"), ("tax", "Tax")], agent_queues={"1001": ["main"]})
    stats.add_records(hand_worked_day().values())
    stats.set_agent_state("1001", "ready")
    stats.add_agent_interval(AgentInterval("1001", "wrap_up", "", at(9, 0), at(9, 1)))

    class Ami:
        reconnects = 0
        connected = True

    registry = CollectorRegistry()
    register(registry, stats, clock=lambda: at(10, 30), ami=Ami())
    text = generate_latest(registry).decode()
    return {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}


def names_in(text: str) -> set[str]:
    return set(METRIC.findall(text))


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    check = subprocess.run([PROMTOOL, "check", "rules", str(MON / "alerts.yml")], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 6 rules found" in check.stdout
    unit = subprocess.run([PROMTOOL, "test", "rules", str(MON / "alerts_test.yml")], capture_output=True, text=True,
                          timeout=60, cwd=MON)
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_rules_cover_the_four_required_alerts_with_names_the_daemon_exports() -> None:
    rules = yaml.safe_load((MON / "alerts.yml").read_text())["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rules}
    required = {"ConnectionRateUnderTarget", "NoAgentReadyWithCallersWaiting", "LongestWaitTooLong", "AmiDown"}
    assert required <= set(by_name)
    assert by_name["ConnectionRateUnderTarget"]["for"] == "15m"
    used = set().union(*(names_in(r["expr"]) for r in rules))
    assert used and used <= exported_names(), used - exported_names()


def test_dashboard_follows_its_schema_and_queries_exported_metrics() -> None:
    schema = json.loads((MON / "schemas" / "grafana-dashboard.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    dash = json.loads((MON / "grafana-dashboard.json").read_text())
    jsonschema.validate(dash, schema)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in dash["panels"])
    exported = exported_names()
    for p in dash["panels"]:
        for t in p["targets"]:
            for name in names_in(t["expr"]):
                assert name in exported, (p["title"], name)
    broken = dict(dash, panels=[{**dash["panels"][0], "gridPos": {"x": 30, "y": 0, "w": 6, "h": 5}}])
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a panel off the 24-column grid must not validate")


def test_json_schemas_are_valid_schemas() -> None:
    for path in (MON / "schemas").glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))
