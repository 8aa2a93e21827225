"""`callcenter prompts build` speaks the config's prompts (espeak-ng, sox) into files Asterisk plays; a centre's
recording wins; `callcenter ivr check --sounds` warns about prompts with no file."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FLAT = REPO / "config" / "example-flat.yaml"
EXE = str(Path(sys.executable).with_name("callcenter"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300, check=False)


def test_build_speaks_both_languages_at_8khz_and_a_recording_wins(tmp_path: Path) -> None:
    sounds, recorded = tmp_path / "sounds", tmp_path / "recorded"
    (recorded / "callcenter" / "zh").mkdir(parents=True)
    (recorded / "callcenter" / "zh" / "survey.gsm").write_bytes(b"\xd8" * 33)
    (sounds / "callcenter" / "zh").mkdir(parents=True)
    (sounds / "callcenter" / "zh" / "survey.wav").write_bytes(b"stale")  # from an earlier build
    done = _run("prompts", "build", "--config", str(FLAT), "--sounds", str(sounds), "--overrides", str(recorded))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[1/7] callcenter/zh/welcome-flat (zh, espeak-ng cmn) -> ")
    assert lines[-1] == f"7 prompts in {sounds}: 6 spoken by espeak-ng, 1 recorded by the centre"
    for lang in ("zh", "en"):
        with wave.open(str(sounds / "callcenter" / lang / "welcome-flat.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 8000  # more than a second of speech
    assert (sounds / "callcenter" / "zh" / "survey.gsm").read_bytes() == b"\xd8" * 33
    assert not (sounds / "callcenter" / "zh" / "survey.wav").exists()  # Asterisk might prefer it
    assert (sounds / "callcenter" / "en" / "survey.wav").exists()
    check = _run("ivr", "check", str(FLAT), "--sounds", str(sounds))
    assert check.returncode == 0 and "no sound file" not in check.stderr
    assert f"every prompt has a sound file in {sounds}" in check.stdout


def test_ivr_check_warns_about_each_missing_prompt_file(tmp_path: Path) -> None:
    (tmp_path / "callcenter" / "en").mkdir(parents=True)
    (tmp_path / "callcenter" / "en" / "welcome-flat.sln").write_bytes(b"\0\0")
    check = _run("ivr", "check", str(FLAT), "--sounds", str(tmp_path))
    assert check.returncode == 0  # a warning: the IVR plays on without the file
    warnings = [line for line in check.stderr.splitlines() if "no sound file" in line]
    assert len(warnings) == 5, check.stderr  # welcome-flat zh, survey zh/en, survey-thanks zh/en
    assert any("callcenter/zh/welcome-flat" in w and "menu welcome.prompt (zh)" in w for w in warnings)
    assert not any("callcenter/en/welcome-flat" in w for w in warnings)


def test_build_without_the_tools_says_what_to_install(tmp_path: Path) -> None:
    env_path = tmp_path / "bin"
    env_path.mkdir()
    done = subprocess.run([sys.executable, "-m", "callcenter.cli", "prompts", "build", "--config", str(FLAT),
                           "--sounds", str(tmp_path / "s")], capture_output=True, text=True, timeout=120,
                          env={"PATH": str(env_path)}, cwd=REPO, check=False)
    assert done.returncode == 1
    assert "apt-get install espeak-ng sox" in done.stderr
