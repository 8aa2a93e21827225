"""`callcenter ivr check` / `ivr render` and the menu checks behind them: each kind of bad menu is found,
named by file, line and key path, with the fix; the shipped examples are clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from callcenter.cli import main
from config.menu import load_menu_file, load_menu_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.yaml"
FLAT = ROOT / "config" / "example-flat.yaml"

GOOD = """\
mode: menu
languages: [zh, en]
start: main
nodes:
  main:
    kind: menu
    prompt: {zh: {file: zh/main, text: 咨询请按1}, en: {file: en/main, text: press 1}}
    choices: {"1": to-general, "2": bye}
  to-general: {kind: set, queue: general, skills: {law: 5}, next: q}
  q: {kind: enqueue}
  bye: {kind: hangup}
"""


def problems(text: str, **kw) -> list[str]:
    source = load_menu_text(text, "m.yaml", queues={"general", "complaints"}, skills={"law"}, **kw)
    return source.messages()


def test_good_menu_and_examples_are_clean(capsys):
    assert problems(GOOD) == []
    assert main(["ivr", "check", str(EXAMPLE)]) == 0
    assert main(["ivr", "check", str(FLAT)]) == 0
    out = capsys.readouterr().out
    assert "menu with 25 nodes" in out and "flat with 2 nodes" in out and "survey yes" in out


BAD = [
    # (old, new, expected key path, words in the message)
    ('"2": bye', '"2": byebye', "ivr.nodes.main.choices.2", "unknown node 'byebye'; fix: name one of the nodes"),
    ("  bye: {kind: hangup}\n", "  bye: {kind: hangup}\n  orphan: {kind: hangup}\n", "ivr.nodes.orphan",
     "unreachable from the start node 'main'; fix:"),
    ("queue: general, skills", "queue: generl, skills", "ivr.nodes.to-general.queue",
     "unknown queue 'generl'; fix: use one of the configured queues: complaints, general"),
    ("skills: {law: 5}", "skills: {lwa: 5}", "ivr.nodes.to-general.skills.lwa", "no agent has skill 'lwa'"),
    (", en: {file: en/main, text: press 1}}", "}", "ivr.nodes.main.prompt", "no 'en' prompt; fix: add en:"),
    ('{"1": to-general, "2": bye}', '{"1": to-general, "01": bye, "1#": bye}', "ivr.nodes.main.choices.1#",
     "start with the choice '1'"),
    ('"2": bye}', '"2": main}', "ivr.nodes.main", None),  # 'main' can still hang up when exhausted: fine
    ("  q: {kind: enqueue}\n", "  q: {kind: enqueue}\n  loop: {kind: play, prompt: x, next: loop}\n",
     "ivr.nodes.loop", "unreachable"),
    ("kind: menu\n", "kind: menus\n", "ivr.nodes.main", "does not match any of the expected tags"),
    ("    choices:", "    retries: 99\n    choices:", "ivr.nodes.main.retries", "less than or equal to 10"),
]


@pytest.mark.parametrize(("old", "new", "key", "words"), BAD, ids=[b[2] + ":" + str(i) for i, b in enumerate(BAD)])
def test_each_kind_of_bad_menu_is_named_with_its_fix(old, new, key, words):
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    if words is None:
        assert not any(key + ":" in p for p in found), found
        return
    assert any(f" {key}: " in p and words in p for p in found), found
    assert all(p.startswith("m.yaml:") for p in found)


def test_loop_with_no_exit_and_depth_limit():
    looping = GOOD.replace('"2": bye', '"2": info') + (
        "  info: {kind: play, prompt: {zh: x, en: x}, next: info2}\n"
        "  info2: {kind: play, prompt: {zh: y, en: y}, next: info}\n")
    found = problems(looping)
    assert any("ivr.nodes.info: loop with no exit (reached by main:2>info)" in p and "fix:" in p for p in found)

    deep = GOOD.replace('"2": bye', '"2": m2') + "".join(
        f"  m{i}:\n    kind: menu\n    prompt: {{zh: z, en: e}}\n    choices: {{'1': m{i + 1}}}\n" for i in range(2, 5)
    ) + "  m5: {kind: hangup}\n"
    found = problems(deep.replace("languages: [zh, en]", "languages: [zh, en]\nmax_depth: 3"))
    assert any("ivr.nodes.m4: 4 menu levels deep (limit 3)" in p for p in found), found


def test_missing_prompt_for_the_centres_language_in_a_config(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "zh: {file: callcenter/zh/night, text: 夜间坐席较少，如需等待时间较长，您可以选择预约回电。}\n", "")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    source = load_menu_file(bad)
    assert [m for m in source.messages() if "night-notice.prompt" in m]
    line = next(i.line for i in source.issues if "night-notice" in i.key)
    assert line is not None
    assert text.splitlines()[line - 1].strip().startswith("prompt:")


def test_cli_exits_1_and_names_file_line_key_fix(tmp_path, capsys):
    bad = tmp_path / "menu.yaml"
    bad.write_text(GOOD.replace("queue: general", "queue: nope"), encoding="utf-8")
    assert main(["ivr", "check", str(bad), "--config", str(EXAMPLE)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:9: ivr.nodes.to-general.queue: unknown queue 'nope'; fix: use one of the configured queues" in err
    # On its own (no --config) the queues cannot be checked, the rest is.
    assert main(["ivr", "check", str(bad)]) == 0


def test_survey_problems_are_found(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace('      "5": {score: 1, label: 非常不满意}\n',
                                                       '      "5": {score: 1, label: 非常不满意}\n      "55": 0\n')
    bad = tmp_path / "survey.yaml"
    bad.write_text(text, encoding="utf-8")
    assert any("ivr.survey.scale.55" in m and "start with the choice '5'" in m
               for m in load_menu_file(bad).messages())


@pytest.mark.parametrize("engine", ["builtin", "dot"])
def test_render_draws_every_node_with_chinese_labels(tmp_path, engine):
    if engine == "dot" and subprocess.run(["which", "dot"], capture_output=True).returncode != 0:
        pytest.fail("graphviz 'dot' is not installed (apt-get install graphviz)")
    out = tmp_path / "menu.svg"
    assert main(["ivr", "render", str(EXAMPLE), "-o", str(out), "--engine", engine]) == 0
    svg = out.read_text(encoding="utf-8").replace("&#45;", "-")
    assert svg.lstrip().startswith(("<svg", "<?xml"))
    for name in ("welcome", "language", "hours", "emergency", "to-110", "callback-thanks", "survey"):
        assert name in svg
    assert "欢迎致电12345" in svg and "按5" in svg and "Noto Sans CJK SC" in svg


def test_check_warns_of_a_queue_no_path_reaches(tmp_path, capsys):
    # The shipped example sends callers to every queue (英语服务 by key 6); when key 6 leads elsewhere, a warning.
    assert main(["ivr", "check", str(EXAMPLE)]) == 0
    assert "warning" not in capsys.readouterr().err
    text = EXAMPLE.read_text(encoding="utf-8")
    cut = tmp_path / "no-english.yaml"
    cut.write_text(text.replace("      queue: english\n", "      queue: general\n"), encoding="utf-8")
    (tmp_path / "departments.csv").write_text((EXAMPLE.parent / "departments.csv").read_text(encoding="utf-8"))
    assert main(["ivr", "check", str(cut)]) == 0  # legal: a warning, not an error
    err = capsys.readouterr().err
    assert "warning: queues.english: no IVR path reaches queue 'english'" in err
