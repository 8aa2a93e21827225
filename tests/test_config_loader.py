"""Loading config files: the shipped example, every error at once with file/line/key, ${VAR}, secrets."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, check_config_main, load_config
from config.models import QueueStrategy
from ivr import EnqueueNode, IvrRun, MenuNode, Played

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
ENV = {"CALLCENTER_AMI_SECRET": "s3cr3t-ami"}

MINIMAL: dict[str, Any] = {
    "centre": {"name": "12345"},
    "ami": {"username": "callcenter", "secret": "hunter2"},
    "queues": [
        {"name": "general", "label_zh": "综合咨询", "label_en": "General"},
        {"name": "complaints", "label_zh": "投诉", "label_en": "Complaints"},
    ],
    "agents": [
        {"id": "1001", "name": "王丽", "endpoint": "PJSIP/1001", "queues": ["general"], "team": "A"},
        {"id": "1002", "name": "李强", "endpoint": "PJSIP/1002", "queues": ["general"], "team": "A"},
        {"id": "1003", "name": "张敏", "endpoint": "PJSIP/1003", "queues": ["general", "complaints"]},
    ],
    "shifts": [{"name": "night", "team": "A", "start": "23:00", "end": "08:00"}],
}


def write(tmp_path: Path, data: object, name: str = "cc.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, data: object, environ: dict[str, str] | None = None) -> ConfigError:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {})
    assert str(path) in str(caught.value)
    return caught.value


def keys(error: ConfigError) -> list[str]:
    return [issue.key for issue in error.issues]


def test_example_config_is_valid_and_realistic():
    config = load_config(EXAMPLE, environ=ENV)
    assert config.centre.language == "zh" and config.centre.timezone == "Asia/Shanghai"
    assert config.centre.connection_rate_target == 0.97
    assert [q.name for q in config.queues] == ["general", "complaints", "english", "dialect"]
    assert config.queue("complaints").label_zh == "投诉举报"
    assert config.queue("dialect").strategy is QueueStrategy.ROUND_ROBIN
    assert len(config.agents) == 12 and all(a.endpoint.startswith("PJSIP/10") for a in config.agents)
    assert len(config.shifts) == 3 and sum(s.crosses_midnight for s in config.shifts) == 1
    assert (config.ami.host, config.ami.port, config.ami.username) == ("127.0.0.1", 5038, "callcenter")
    assert config.ami.secret.get_secret_value() == "s3cr3t-ami"
    run = IvrRun(config.ivr_menu(), config.centre.language)
    assert run.start() and run.handle(Played(datetime.now(UTC)))


def test_example_uses_defaults_when_env_is_unset():
    config = load_config(EXAMPLE, environ={})
    assert config.ami.secret.get_secret_value() == "change-me"
    assert config.database.url == "sqlite:///callcenter.db"


def test_minimal_config_and_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL), environ={})
    assert (config.agi.port, config.web.port, config.mqtt) == (4573, 8080, None)
    assert config.database.url == "sqlite:///callcenter.db"
    assert config.shifts[0].teams == ["A"] and config.shifts[0].start == time(23, 0)
    assert config.shifts[0].minutes == 9 * 60
    assert config.ivr_menu().start == "enqueue"  # no ivr section: flat to the first queue


def broken(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        target: Any = data
        parts = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        for part in parts[:-1]:
            target = target[part]
        if value is KeyError:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        (broken(centre__timezone="Asia/Beijing"), "centre.timezone", "unknown IANA time zone"),
        (broken(centre__language="fr"), "centre.language", "'zh' or 'en'"),
        (
            broken(centre__connection_rate_target=1.5),
            "centre.connection_rate_target",
            "less than or equal to 1",
        ),
        (broken(centre__name=KeyError), "centre.name", "required key is missing"),
        (broken(centre__nmae="x"), "centre.nmae", "did you mean 'name'"),
        (broken(ami__port=70000), "ami.port", "less than or equal to 65535"),
        (broken(ami__secret=KeyError), "ami.secret", "required key is missing"),
        (broken(queues=[]), "queues", "at least 1 item"),
        (broken(queues__1__strategy="fastest"), "queues[1].strategy", "'skill_level'"),
        (broken(queues__0__name="General Queue"), "queues[0].name", "should match pattern"),
        (broken(queues__1__fallback="nowhere"), "queues[1].fallback", "unknown queue 'nowhere'"),
        (broken(queues__1__fallback="complaints"), "queues[1].fallback", "overflow to itself"),
        (
            broken(agents__2__queues=["general", "complaint"]),
            "agents[2].queues[1]",
            "unknown queue 'complaint'",
        ),
        (broken(agents__1__id="10a2"), "agents[1].id", "should match pattern"),
        (broken(agents__1__id="1001"), "agents[1].id", "duplicate id '1001'"),
        (broken(agents__1__endpoint="PJSIP/1001"), "agents[1].endpoint", "duplicate endpoint"),
        (broken(agents__0__skills={"law": 11}), "agents[0].skills.law", "less than or equal to 10"),
        (broken(agents__0__skills={"law": 0}), "agents[0].skills.law", "greater than or equal to 1"),
        (broken(agents__0__extension="1001"), "agents[0].extension", "unknown key"),
        (broken(shifts__0__start="8am"), "shifts[0].start", "'HH:MM'"),
        (broken(shifts__0__end="24:30"), "shifts[0].end", "'HH:MM'"),
        (broken(shifts__0__team="B"), "shifts[0].teams[0]", "no agent is in team 'B'"),
        (broken(shifts__0__days=["mon", "funday"]), "shifts[0].days[1]", "'mon'"),
        (broken(shifts__0__timezone="Mars/Base"), "shifts[0].timezone", "unknown IANA time zone"),
        (broken(database={"url": "mysql://root:pw@db/cc"}), "database.url", "expected sqlite"),
        (broken(mqtt={"host": "127.0.0.1", "port": 0}), "mqtt.port", "greater than or equal to 1"),
        (broken(web={"port": "eighty"}), "web.port", "valid integer"),
        (broken(ticketing={}), "ticketing", "expected one of: centre, ami"),
    ],
)
def test_invalid_config_names_file_key_and_expectation(tmp_path, data, key, expected):
    error = errors_of(tmp_path, data)
    matching = [issue for issue in error.issues if issue.key == key]
    assert matching, f"no error at {key}: {error}"
    assert expected in matching[0].message, str(error)
    assert f"{key}:" in str(error)


IVR: dict[str, Any] = {
    "start": "welcome",
    "nodes": {
        "welcome": {"kind": "play", "prompt": {"zh": {"file": "zh/welcome", "text": "您好"}}, "next": "main"},
        "main": {
            "kind": "menu",
            "prompt": "zh/main",
            "choices": {"1": "to-general", "2": "to-complaints"},
            "fallback": "to-general",
        },
        "to-general": {"kind": "set", "queue": "general", "next": "enqueue"},
        "to-complaints": {"kind": "set", "queue": "complaints", "priority": 1, "next": "enqueue"},
        "enqueue": {"kind": "enqueue"},
    },
}


def with_ivr(ivr):
    return {**copy.deepcopy(MINIMAL), "ivr": ivr}


def test_ivr_menu_from_yaml(tmp_path):
    config = load_config(write(tmp_path, with_ivr(IVR)), environ={})
    menu = config.ivr_menu()
    main = menu.nodes["main"]
    assert isinstance(main, MenuNode)
    assert menu.start == "welcome" and main.target_for("2") == "to-complaints"
    assert main.prompt.file_for("en") == "zh/main"


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (
            ("main", "choices", {"1": "to-general", "2": "to-complains"}),
            "ivr.nodes.main.choices.2",
            "unknown node",
        ),
        (("to-general", "queue", "genral"), "ivr.nodes.to-general.queue", "unknown queue 'genral'"),
        (("main", "choices", {"1x": "to-general"}), "ivr.nodes.main.choices.1x", "should match pattern"),
        (("main", "kind", "menuu"), "ivr.nodes.main", "'play', 'menu'"),
        (("main", "timeout", 0), "ivr.nodes.main.timeout", "greater than 0"),
        (("main", "retry", 3), "ivr.nodes.main.retry", "did you mean 'retries'"),
        (("welcome", "next", "welcome"), "ivr.nodes.welcome", "loop with no exit"),
    ],
)
def test_ivr_errors_point_at_the_node_key(tmp_path, change, key, expected):
    ivr = copy.deepcopy(IVR)
    node, field, value = change
    ivr["nodes"][node][field] = value
    error = errors_of(tmp_path, with_ivr(ivr))
    matching = [issue for issue in error.issues if issue.key == key]
    assert matching, str(error)
    assert expected in matching[0].message, str(error)


def test_flat_ivr(tmp_path):
    config = load_config(write(tmp_path, with_ivr({"mode": "flat", "queue": "complaints"})), environ={})
    enqueue = config.ivr_menu().nodes["enqueue"]
    assert isinstance(enqueue, EnqueueNode) and enqueue.queue == "complaints"
    error = errors_of(tmp_path, with_ivr({"mode": "flat", "queue": "nope"}))
    assert keys(error) == ["ivr.queue"]


def test_every_field_error_is_reported_at_once(tmp_path):
    data = broken(ami__port=0, queues__0__strategy="x", agents__1__id="abc", centre__language="fr")
    error = errors_of(tmp_path, data)
    assert {"ami.port", "queues[0].strategy", "agents[1].id", "centre.language"} <= set(keys(error))


def test_errors_carry_line_numbers(tmp_path):
    text = (
        "centre:\n  name: x\nami:\n  username: cc\n  secret: s\nqueues:\n"
        "  - {name: general, label_zh: a, label_en: b}\n"
        "agents:\n"
        "  - id: '1001'\n    name: a\n    endpoint: PJSIP/1001\n    queues: [general, nope]\n"
    )
    error = errors_of(tmp_path, text)
    (issue,) = error.issues
    assert (issue.key, issue.line) == ("agents[0].queues[1]", 12)
    assert f"{tmp_path / 'cc.yaml'}:12: agents[0].queues[1]: unknown queue 'nope'" in str(error)


def test_yaml_syntax_error_has_line(tmp_path):
    error = errors_of(tmp_path, "centre:\n  name: x\nami: {username: cc\nqueues: []\n")
    assert error.issues[0].message.startswith("YAML syntax error")
    assert error.issues[0].line in (3, 4)


def test_duplicate_yaml_keys_are_errors(tmp_path):
    error = errors_of(tmp_path, "centre: {name: a}\nami: {username: u, secret: s, secret: t}\n")
    assert error.issues[0].key == "ami.secret" and "duplicate key" in error.issues[0].message
    assert error.issues[0].line == 2


def test_yaml_11_traps_are_defused(tmp_path):
    text = yaml.safe_dump(MINIMAL, allow_unicode=True).replace("'23:00'", "23:00").replace("'1001'", "01001")
    config = load_config(write(tmp_path, text), environ={})
    assert config.shifts[0].start == time(23, 0)  # not the sexagesimal integer 1380
    assert config.agents[0].id == "01001"  # not the octal 513


def test_not_a_mapping_and_missing_file(tmp_path):
    assert "expected a mapping" in str(errors_of(tmp_path, "- just\n- a list\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


# --- ${VAR} substitution and secrets ----------------------------------------------------------------


def test_env_substitution(tmp_path):
    data = broken(
        ami__secret="${AMI_SECRET}",
        ami__port="${AMI_PORT:-5039}",
        ami__host="${AMI_HOST:-127.0.0.1}",
        centre__name="hotline $${literal} ${CITY}",
    )
    config = load_config(write(tmp_path, data), environ={"AMI_SECRET": "x y", "AMI_HOST": "", "CITY": "贵阳"})
    assert config.ami.secret.get_secret_value() == "x y"
    assert config.ami.port == 5039
    assert config.ami.host == "127.0.0.1"  # empty counts as unset for :-
    assert config.centre.name == "hotline ${literal} 贵阳"


def test_missing_env_var_names_the_key(tmp_path):
    error = errors_of(tmp_path, broken(ami__secret="${NOT_SET_ANYWHERE}"))
    assert keys(error) == ["ami.secret"]
    assert "NOT_SET_ANYWHERE is not set" in error.issues[0].message


def test_secrets_never_in_repr_or_errors(tmp_path):
    data = broken(
        ami__secret="hunter2-ami",
        mqtt={"host": "127.0.0.1", "username": "cc", "password": "hunter2-mqtt"},
        database={"url": "postgresql+psycopg://cc:hunter2-db@127.0.0.1/cc"},
    )
    config = load_config(write(tmp_path, data), environ={})
    text = repr(config) + str(config) + repr(config.ami) + repr(config.database) + repr(config.mqtt)
    assert "hunter2" not in text
    assert config.database.masked_url == "postgresql+psycopg://cc:***@127.0.0.1/cc"
    assert config.database.url.endswith("hunter2-db@127.0.0.1/cc")  # usable by the store

    bad = copy.deepcopy(data)
    bad["ami"]["secret"] = ["hunter2-list"]
    bad["mqtt"]["password"] = {"x": "hunter2-dict"}
    bad["database"]["url"] = "mysql://cc:hunter2-db@h/cc"
    bad["ami"]["port"] = "hunter2-port"  # not a secret: shown
    error = errors_of(tmp_path, bad)
    assert {"ami.secret", "mqtt.password", "database.url"} <= set(keys(error))
    assert "hunter2-list" not in str(error) and "hunter2-dict" not in str(error)
    assert "hunter2-db" not in str(error) and "mysql://cc:***@h/cc" in str(error)


def test_secret_from_env_not_in_errors(tmp_path):
    data = broken(ami__secret="${S}", ami__port="${S}")
    error = errors_of(tmp_path, data, environ={"S": "not-a-port"})
    assert keys(error) == ["ami.port"]  # the port shows its value; the secret field is fine


def test_check_config_main(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CALLCENTER_AMI_SECRET", "hunter2-main")
    assert check_config_main(EXAMPLE) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "4 queues, 12 agents, 3 shifts" in out and "hunter2" not in out
    bad = write(tmp_path, broken(agents__0__queues=["x"]))
    assert check_config_main(bad) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "agents[0].queues[0]: unknown queue 'x'" in err
