"""AMI over TLS (manager.conf ``tlsenable=yes``): the daemon with ``ami.tls`` takes calls from a simulator
that only speaks TLS; a certificate from another authority is refused with a clear error, retried, and the
secret appears nowhere in what is logged."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
import trustme

from asterisk.ami.client import AmiClient
from asterisk.sim import PbxSimulator, SimConfig
from config.loader import load_config
from config.models import TlsConfig
from tests.pair import EXAMPLE, running_pair

SECRET = "tls-test-secret-5b1e"


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "ami.pem", "key": tmp_path / "ami.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    for i, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(paths["cert"]), append=i > 0)
    return {k: str(v) for k, v in paths.items()}


async def test_daemon_takes_calls_over_tls(tmp_path: Path, pki: dict[str, str]) -> None:
    cfg = load_config(EXAMPLE, environ={}).model_copy(update={"mqtt": None})
    cfg = cfg.model_copy(update={"ami": cfg.ami.model_copy(update={"tls": TlsConfig(cafile=pki["ca"])})})
    tls = {"ami_tls_cert": pki["cert"], "ami_tls_key": pki["key"]}
    async with running_pair(tmp_path, speed=100, seed=11, cfg=cfg, sim_changes=tls) as pair:
        assert pair.daemon.ami.ssl_context is not None
        await pair.sim.run_load(calls=12)
        await pair.settle(within=60)
        records = pair.daemon.store.records(pair.clock.origin - timedelta(days=1))
    assert sorted(r.call_id for r in records) == sorted(pair.sim.ledger)
    assert any(r.outcome == "answered" for r in records)


async def test_plain_client_gets_no_banner_from_a_tls_port(pki: dict[str, str]) -> None:
    sim_cfg = SimConfig(ami_port=0, ami_tls_cert=pki["cert"], ami_tls_key=pki["key"])
    async with PbxSimulator(sim_cfg) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.ami_port)
        writer.write(b"Action: Login\r\nUsername: cc\r\nSecret: ccsecret\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            data = await reader.read(200)
        writer.close()
    assert not data.startswith(b"Asterisk Call Manager")


async def test_certificate_from_another_authority_is_refused_clearly(
    pki: dict[str, str], caplog: pytest.LogCaptureFixture,
) -> None:
    import ssl

    other = trustme.CA()
    ctx = ssl.create_default_context()
    other.configure_trust(ctx)
    sim_cfg = SimConfig(ami_port=0, ami_tls_cert=pki["cert"], ami_tls_key=pki["key"])
    caplog.set_level(logging.DEBUG)
    async with PbxSimulator(sim_cfg) as sim:
        client = AmiClient("127.0.0.1", sim.ami_port, "cc", SECRET, on_event=lambda _m, _t: None,
                           ssl_context=ctx, reconnect_min=0.05, reconnect_max=0.1)
        async with client, asyncio.timeout(10):
            while client.stats.reconnects < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    assert isinstance(client.last_error, ssl.SSLCertVerificationError)
    assert not client.stats.connected
    assert "certificate verify failed" in caplog.text
    assert SECRET not in caplog.text and SECRET not in repr(client) and SECRET not in str(client.last_error)
