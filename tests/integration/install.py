"""The README's "Installing into Asterisk", step by step, on the lab's etc folder (no more, no less).

If a step here has to differ from the README, the README is wrong: fix it there and here together.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.lab import HOTLINE, REPO, Lab

CONF = REPO / "asterisk" / "conf"


def install_per_readme(lab: Lab, *, agents: list[str], config: Path | None = None) -> None:
    """Steps 1-4 and the prompts step. ``agents``: dial strings of the fallback queue's members."""
    etc = lab.etc
    # 1. Copy extensions_callcenter.conf, #include it, send the hotline number to [cc-incoming], and set
    #    CC_AGI_URL in its [globals] to the daemon's host.
    dialplan = (CONF / "extensions_callcenter.conf").read_text(encoding="utf-8")
    dialplan, n = re.subn(r"(?m)^CC_AGI_URL = .*$", f"CC_AGI_URL = {lab.agi_url}", dialplan)
    assert n == 1, "extensions_callcenter.conf has no CC_AGI_URL line in [globals]"
    (etc / "extensions_callcenter.conf").write_text(dialplan, encoding="utf-8")
    with (etc / "extensions.conf").open("a", encoding="utf-8") as f:
        f.write("\n#include extensions_callcenter.conf\n\n; your trunk context\n[lab-trunk]\n"
                f"exten => {HOTLINE},1,Goto(cc-incoming,s,1)\n")
    # 2. Append manager_callcenter.conf to manager.conf and choose a long secret.
    manager = (CONF / "manager_callcenter.conf").read_text(encoding="utf-8")
    manager, n = re.subn(r"(?m)^secret = .*$", f"secret = {lab.secret}", manager)
    assert n == 1, "manager_callcenter.conf has no secret line"
    with (etc / "manager.conf").open("a", encoding="utf-8") as f:
        f.write("\n" + manager)
    # 3. Define the fallback queue cc-fallback in queues.conf with your agents as members.
    with (etc / "queues.conf").open("a", encoding="utf-8") as f:
        f.write("\n[cc-fallback]\nstrategy = rrmemory\ntimeout = 15\nretry = 1\nringinuse = no\n"
                "joinempty = yes\nleavewhenempty = no\n"
                + "".join(f"member => {a}\n" for a in agents))
    # 4. Copy cdr_callcenter.conf over cdr.conf.
    shutil.copyfile(CONF / "cdr_callcenter.conf", etc / "cdr.conf")
    # 5. Prompts: `callcenter prompts build --config ... --sounds <astdatadir>/sounds`.
    if config is not None:
        build_prompts(config, lab.sounds)


def build_prompts(config: Path, sounds: Path, overrides: Path | None = None) -> str:
    """Run the shipped command as a user would; returns what it printed."""
    exe = Path(sys.executable).with_name("callcenter")
    cmd = [str(exe), "prompts", "build", "--config", str(config), "--sounds", str(sounds)]
    if overrides is not None:
        cmd += ["--overrides", str(overrides)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout + out.stderr
