"""Two real Asterisk 22 servers behind one daemon (config ``pbxs``; docs/scale.md, "Several PBXs").

The second lab is a private Asterisk like the first, installed the same way. Callers on each are answered by
the agents of their own PBX (the same lab extensions exist on both), each call recorded once with its PBX.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from records.model import CallRecordData
from records.store import Store
from tests.integration.harness import AGENTS, EPOCH, DaemonProcess, Phones, agent_of, lab_config
from tests.integration.install import install_per_readme
from tests.integration.lab import Lab, ensure_built
from tests.ports import free_ports

#: PBX b's agents: the same lab phones as a's, other ids
AGENTS_B = {f"20{aid[2:]}": ep for aid, ep in AGENTS.items()}


@pytest.fixture
def lab_b(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    prefix = ensure_built()
    root = tmp_path_factory.mktemp("asterisk-b")
    ami_port, agi_port = free_ports(2)
    pbx = Lab(root=root, prefix=prefix, ami_port=ami_port, agi_port=agi_port)
    pbx.write_base()
    install_per_readme(pbx, agents=list(AGENTS_B.values()), config=lab_config(pbx, root))
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.stop()


def two_pbx_config(lab: Lab, lab_b: Lab, tmp: Path) -> Path:
    path = lab_config(lab, tmp)
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    ami, agi = raw.pop("ami"), raw.pop("agi")
    raw.pop("cdr", None)  # CDR reconciliation is one-PBX only
    raw["pbxs"] = [{"name": "a", "ami": ami, "agi": agi},
                   {"name": "b", "ami": {**ami, "port": lab_b.ami_port, "secret": lab_b.secret},
                    "agi": {**agi, "port": lab_b.agi_port}}]
    template = raw["agents"][0]
    raw["agents"] = [{**a, "pbx": "a"} for a in raw["agents"]] + [
        {**template, "id": aid, "name": f"坐席{aid}", "endpoint": ep, "pbx": "b"} for aid, ep in AGENTS_B.items()]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


async def test_two_asterisks_each_call_answered_on_its_own_pbx_and_recorded_once(
        lab: Lab, lab_b: Lab, tmp_path: Path) -> None:
    daemon = DaemonProcess(two_pbx_config(lab, lab_b, tmp_path), tmp_path)
    await daemon.start()
    try:
        async with Phones(lab) as phones_a, Phones(lab_b) as phones_b:
            for _ in range(3):
                await phones_a.call(patience=45, talk=2)
                await phones_b.call(patience=45, talk=2)
                await asyncio.sleep(0.4)
            await asyncio.gather(phones_a.all_ended(within=120), phones_b.all_ended(within=120))
            records: list[CallRecordData] = []
            async with asyncio.timeout(30):
                while len(records) < 6:
                    store = Store(daemon.db_url)
                    try:
                        records = store.records(EPOCH)
                    finally:
                        store.close()
                    await asyncio.sleep(0.3)
    finally:
        await daemon.stop()
        lab.hang_up_everything()
        lab_b.hang_up_everything()
    assert len({r.call_id for r in records}) == len(records) == 6
    for name, phones, agents in (("a", phones_a, AGENTS), ("b", phones_b, AGENTS_B)):
        ours = {r.caller_number: r for r in records if r.pbx == name}
        assert set(ours) == set(phones.calls), name
        for number, truth in phones.calls.items():
            rec = ours[number]
            assert rec.call_id == f"{name}:{truth.uniqueid}"
            assert truth.answered_by is not None, f"{name} {number}: nobody answered"
            assert (rec.outcome.value, rec.agent_id) == ("answered", agent_of(truth.answered_by, agents))
