"""Prompt texts as the sound files Asterisk plays: one function, ``render(spec, target)``.

Text to speech is Debian's espeak-ng (GPL-3.0: voice ``cmn`` for zh, ``en`` for en); sox (GPL-2.0) turns its
22.05 kHz output into what Asterisk's format_wav reads without transcoding: 8 kHz, mono, 16-bit PCM WAV.
Both run as programs (nothing is linked). The IVR editor's "listen" button plays exactly this output.

The same names, arguments and bodies as the ``callcenter prompts build`` module of issue 14 (branch i14a,
commit ebe5d11): when both are merged, take that file whole; this one is a strict subset of it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: espeak-ng voice per prompt language
VOICES = {"zh": "cmn", "en": "en"}


class PromptError(Exception):
    """A prompt could not be made (a tool missing or failing)."""


@dataclass(frozen=True, slots=True)
class PromptSpec:
    file: str  # Asterisk's name, no extension: callcenter/zh/welcome
    language: str
    text: str
    where: str  # e.g. 'menu welcome.prompt' (for messages)


def _tools() -> tuple[str, str]:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise PromptError("espeak-ng and sox are needed: apt-get install espeak-ng sox")
    return espeak, sox


def speakable(text: str, language: str) -> str:
    """Numbers of three digits or more are said digit by digit (12345 is 一二三四五, not 一万两千...)."""
    return re.sub(r"\d{3,}", lambda m: " ".join(m.group()), text) if language == "zh" else text


def render(spec: PromptSpec, target: Path) -> None:
    """Speak ``spec.text`` into ``target`` (8 kHz mono 16-bit WAV), atomically."""
    espeak, sox = _tools()
    if not spec.text.strip():
        raise PromptError(f"{spec.file} ({spec.where}) has no text to speak; record it or give it a text")
    voice = VOICES.get(spec.language, spec.language)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        raw, out = Path(tmp) / "espeak.wav", Path(tmp) / "out.wav"
        _run([espeak, "-v", voice, "-s", "150", "-w", str(raw), speakable(spec.text, spec.language)])
        _run([sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(out)])
        os.chmod(out, 0o644)  # Asterisk runs as its own user and must read it
        out.replace(target)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise PromptError(f"{Path(cmd[0]).name} failed ({done.returncode}): "
                          f"{done.stderr.decode('utf-8', 'replace').strip()[:300]}")
