"""`callcenter prompts build`: the config's prompt texts as sound files Asterisk plays, and the check of a
sounds folder that `callcenter ivr check --sounds` runs.

Text to speech is Debian's espeak-ng (GPL-3.0: voices ``cmn`` for zh, ``en`` for en); sox (GPL-2.0) turns its
22.05 kHz output into what Asterisk's format_wav reads without transcoding: 8 kHz, mono, 16-bit PCM WAV.
Both run as programs (nothing is linked); the IVR editor's "listen" button plays exactly ``render``'s output.
A file is written to ``<sounds>/<file>.wav`` - the config's file
name is what the IVR asks for (``STREAM FILE callcenter/zh/welcome`` reads
``<astdatadir>/sounds/callcenter/zh/welcome.wav``). A recording the centre made wins: when the overrides folder
has ``<file>.<ext>`` in a format Asterisk plays, that file is copied instead, untouched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from config.models import Config
from ivr.model import Menu, prompts

#: espeak-ng voice per prompt language
VOICES = {"zh": "cmn", "en": "en"}
#: sound formats Asterisk 22 loads from a file name without extension (format_*.so), recorded ones first
SOUND_EXTENSIONS = ("wav", "WAV", "wav16", "sln", "sln16", "gsm", "ulaw", "alaw", "g722", "g729", "ogg", "mp3")
#: prompts the shipped dialplan plays itself (not from the config): file -> text per language
DIALPLAN_PROMPTS = {
    "callcenter/callback-offer": {"zh": "我们将尽快给您回电，再见。", "en": "We will call you back soon. Goodbye."},
}


class PromptError(Exception):
    """A prompt could not be made (a tool missing or failing)."""


@dataclass(frozen=True, slots=True)
class PromptSpec:
    file: str  # Asterisk's name, no extension: callcenter/zh/welcome
    language: str
    text: str
    where: str  # e.g. 'menu welcome.prompt' (for messages)


def prompt_specs(cfg: Config) -> list[PromptSpec]:
    """Every prompt file the config's IVR and survey can play, each once, in menu order."""
    found: dict[str, PromptSpec] = {}
    menus: list[tuple[str, Menu]] = [("menu", cfg.ivr_menu())]
    survey = cfg.survey_menu()
    if survey is not None:
        menus.append(("survey", survey))
    for label, menu in menus:
        found.update((s.file, s) for s in menu_specs(menu, label) if s.file not in found)
    language = cfg.centre.language
    for file, texts in DIALPLAN_PROMPTS.items():
        found.setdefault(file, PromptSpec(file, language, texts.get(language, texts["en"]), "dialplan"))
    return list(found.values())


def menu_specs(menu: Menu, label: str = "menu") -> list[PromptSpec]:
    specs = []
    for name, node in menu.nodes.items():
        for key, prompt in prompts(node):
            for language, pf in prompt.by_language.items():
                specs.append(PromptSpec(pf.file, language, pf.text, f"{label} {name}.{key}"))
    return specs


def sound_file(sounds: Path, file: str, language: str = "") -> Path | None:
    """The file Asterisk would play for ``file`` (its language folder first), or None."""
    for base in ([sounds / language] if language else []) + [sounds]:
        for ext in SOUND_EXTENSIONS:
            path = base / f"{file}.{ext}"
            if path.is_file():
                return path
    return None


def missing_prompts(specs: list[PromptSpec], sounds: Path) -> list[PromptSpec]:
    return [s for s in specs if sound_file(sounds, s.file, s.language) is None]


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


def build(specs: list[PromptSpec], sounds: Path, overrides: Path | None = None) -> tuple[int, int]:
    """Write every prompt; returns (spoken, copied from overrides). Prints one progress line per file."""
    spoken = copied = 0
    for i, spec in enumerate(specs, 1):
        recorded = sound_file(overrides, spec.file) if overrides is not None else None
        if recorded is not None:
            target = sounds / f"{spec.file}.{recorded.suffix.lstrip('.')}"
            for stale in (sounds / f"{spec.file}.{ext}" for ext in SOUND_EXTENSIONS):
                if stale != target and stale.is_file():  # Asterisk could pick a spoken one over the recording
                    stale.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(recorded, target)
            copied += 1
            how = f"recorded {recorded}"
        else:
            target = sounds / f"{spec.file}.wav"
            render(spec, target)
            spoken += 1
            how = f"espeak-ng {VOICES.get(spec.language, spec.language)}"
        print(f"[{i}/{len(specs)}] {spec.file} ({spec.language}, {how}) -> {target}", flush=True)
    return spoken, copied


def prompts_build_main(config: str, sounds: str, overrides: str | None = None) -> int:
    from config.loader import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    specs = prompt_specs(cfg)
    try:
        spoken, copied = build(specs, Path(sounds), Path(overrides) if overrides else None)
    except PromptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(specs)} prompts in {sounds}: {spoken} spoken by espeak-ng, {copied} recorded by the centre")
    return 0
