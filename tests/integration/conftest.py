"""The integration suite's fixtures: one private Asterisk 22 per session (``lab``), one daemon per test.

Every test here is marked ``asterisk``; ``pytest -m "not asterisk"`` leaves the suite out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.harness import AGENTS, SESSION_CALLS, DaemonProcess, Phones, kill, lab_config, session_figures
from tests.integration.install import install_per_readme
from tests.integration.lab import Lab, ensure_built
from tests.ports import free_ports


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.asterisk)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SESSION_CALLS:
        terminalreporter.write_line(f"asterisk integration: {session_figures()}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Asterisk built (or found), configured from scratch, the centre's files installed per the README."""
    prefix = ensure_built()
    root = tmp_path_factory.mktemp("asterisk")
    ami_port, agi_port = free_ports(2)
    pbx = Lab(root=root, prefix=prefix, ami_port=ami_port, agi_port=agi_port)
    pbx.write_base()
    prompts_config = lab_config(pbx, root, survey=True)  # the config whose prompts the README's prompts step builds
    install_per_readme(pbx, agents=list(AGENTS.values()), config=prompts_config)
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.stop()


@pytest.fixture
async def phones(lab: Lab) -> AsyncIterator[Phones]:
    async with Phones(lab) as p:
        yield p
    lab.hang_up_everything()


@pytest.fixture
async def daemon(lab: Lab, tmp_path: Path) -> AsyncIterator[DaemonProcess]:
    """``callcenter run`` on the flat example (not started: tests start it, some more than once)."""
    proc = DaemonProcess(lab_config(lab, tmp_path), tmp_path)
    try:
        yield proc
    finally:
        kill(proc)
        if proc.proc is not None:
            await proc.proc.wait()
