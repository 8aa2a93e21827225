"""Admin edits are validated with the config file's own rules, errors land on the field, changes are audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from callcenter.web.admin import SECTIONS, AuditLog, ConfigEditor, EditError, coerce
from tests.test_auth_routes import client, example_config, make_app, sign_in


def editor(tmp_path: Path) -> ConfigEditor:
    return ConfigEditor(example_config(), AuditLog(tmp_path / "audit.jsonl"), tmp_path / "edits.yaml")


def test_form_strings_become_config_shapes() -> None:
    item = coerce(SECTIONS["agents"], {"queues": "general, complaints，english", "skills": "law=6, housing=8",
                                       "team": ""})
    assert item == {"queues": ["general", "complaints", "english"], "skills": {"law": "6", "housing": "8"},
                    "team": None}
    with pytest.raises(EditError) as err:
        coerce(SECTIONS["agents"], {"skills": "law"})
    assert set(err.value.fields) == {"skills"}


def test_field_rule_and_cross_section_rule_errors_name_the_field(tmp_path: Path) -> None:
    ed = editor(tmp_path)
    agent = next(a for a in ed.items("agents") if a["id"] == "1001")
    with pytest.raises(EditError) as err:
        ed.save("agents", "1001", {**agent, "skills": "law=99", "queues": "general"}, "admin")
    assert "skills" in err.value.fields and "10" in err.value.fields["skills"]
    with pytest.raises(EditError) as err:
        ed.save("agents", "1001", {**agent, "queues": "general, nowhere", "skills": "law=6"}, "admin")
    assert "unknown queue 'nowhere'" in err.value.fields["queues"]
    with pytest.raises(EditError) as err:  # another agent's endpoint: duplicates are refused as in the file
        ed.save("agents", "1001", {**agent, "endpoint": "PJSIP/1002", "queues": "general", "skills": ""}, "admin")
    assert "duplicate endpoint" in err.value.fields["endpoint"]
    with pytest.raises(EditError) as err:
        ed.save("queues", "general", {"label_zh": "综合", "label_en": "General", "ring_timeout": "0"}, "admin")
    assert "ring_timeout" in err.value.fields
    with pytest.raises(EditError) as err:
        ed.save("agents", "1001", {**agent, "queues": "general", "skills": "", "colour": "red"}, "admin")
    assert "colour" in err.value.fields
    # Nothing was changed or recorded.
    assert not (tmp_path / "audit.jsonl").exists()
    assert next(a for a in ed.items("agents") if a["id"] == "1001") == agent


def test_accepted_changes_are_audited_and_written_out(tmp_path: Path) -> None:
    ed = editor(tmp_path)
    after = ed.save("queues", "general", {"label_zh": "综合咨询", "label_en": "General enquiries",
                                          "wrapup_seconds": "45"}, "admin")
    assert after["wrapup_seconds"] == 45
    ed.save("queues", "tourism", {"label_zh": "文旅咨询", "label_en": "Tourism", "fallback": "general"}, "admin")
    with pytest.raises(EditError) as err:  # agents still answer 'complaints': removing it breaks them
        ed.delete("queues", "complaints", "admin")
    assert "unknown queue 'complaints'" in err.value.fields["_"]
    ed.delete("queues", "tourism", "admin")
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["action"], e["key"]) for e in entries] == [("update", "general"), ("create", "tourism"),
                                                          ("delete", "tourism")]
    assert entries[0]["before"]["wrapup_seconds"] == 20 and entries[0]["after"]["wrapup_seconds"] == 45
    assert entries[1]["before"] is None and entries[2]["after"] is None
    assert all(e["user"] == "admin" and e["at"] for e in entries)
    edits = yaml.safe_load((tmp_path / "edits.yaml").read_text())
    general = next(q for q in edits["queues"] if q["name"] == "general")
    assert general["wrapup_seconds"] == 45
    assert ed.audit.tail()[0]["action"] == "delete"  # newest first


async def test_admin_api_returns_field_errors_and_skills(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with client(app) as http:
        csrf = await sign_in(http, "admin")
        h = {"X-CSRF-Token": csrf}
        shift = {"teams": "甲班", "start": "25:00", "end": "16:00"}
        r = await http.put("/api/admin/shifts/早班", json=shift, headers=h)
        assert r.status_code == 422 and "start" in r.json()["fields"]
        r = await http.put("/api/admin/nothing/x", json={}, headers=h)
        assert r.status_code == 404
        skills = (await http.get("/api/admin/skills")).json()["skills"]
        assert skills["law"][0]["level"] >= skills["law"][-1]["level"]
        assert (await http.get("/api/admin/ivr")).json()["ivr"]["start"]
        r = await http.delete("/api/admin/agents/9999", headers=h)
        assert r.status_code == 404
