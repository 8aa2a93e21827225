"""Shared by the hot-standby tests and bench/takeover.py: two (or more) ``callcenter run`` processes with an
``ha`` section, one PBX simulator over real TCP, one real PostgreSQL database.

Each node has its own working directory (its journal and spool are its own, as on two machines), its own AMI
user (the simulator's action log tells the nodes apart by it), its own FastAGI and web ports. The simulator
tries the nodes' FastAGI servers in order (``agi_more``, as Asterisk's hagi:// does): only the leader listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from asterisk.sim import PbxSimulator, SimConfig
from callcenter.demo import override, without_roster
from callcenter.ha import READ_ONLY
from callcenter.simwire import sim_config_for_daemon
from config.loader import load_config
from tests.pair import EXAMPLE
from tests.ports import free_ports

SECRET = "ha-secret"  # the test's own AMI secret on the simulator


@dataclass
class Node:
    name: str
    home: Path
    config: Path
    agi_port: int
    web_port: int
    ami_user: str
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=1) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return -1

    def metric(self, name: str) -> float:
        try:
            with urllib.request.urlopen(self.url + "/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return -1.0
        m = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        return float(m.group(1)) if m else -1.0

    async def start(self) -> None:
        exe = Path(sys.executable).with_name("callcenter")
        self.starts += 1
        log = (self.home / f"daemon-{self.starts}.log").open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                str(exe), "--log-level", "INFO", "run", "--config", str(self.config), cwd=self.home, stdout=log,
                stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            log.close()

    async def wait_up(self, within: float = 30) -> None:
        async with asyncio.timeout(within):
            while await asyncio.to_thread(self.status, "/health") < 0:
                self.check_alive()
                await asyncio.sleep(0.05)

    def check_alive(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            code = self.proc.returncode if self.proc else None
            raise AssertionError(f"node {self.name} exited with {code}: see {self.home}/daemon-{self.starts}.log")

    async def stop(self, sig: int) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(30):
            return await self.proc.wait()

    def log_text(self) -> str:
        return "".join(p.read_text(encoding="utf-8") for p in sorted(self.home.glob("daemon-*.log")))


@dataclass
class Cluster:
    sim: PbxSimulator
    nodes: list[Node]
    db_url: str
    master: Path
    talks: dict[str, float] = field(default_factory=dict)

    async def leader(self, within: float = 30, among: Iterable[Node] | None = None) -> Node:
        """The node answering 200 on /health/leader (leading and its resync done)."""
        async with asyncio.timeout(within):
            while True:
                for n in among or self.nodes:
                    if n.proc is not None and n.proc.returncode is None and await asyncio.to_thread(
                            n.status, "/health/leader") == 200:
                        return n
                await asyncio.sleep(0.05)  # the nodes' loops have calls to route: no flood of health checks

    async def place(self, n: int, *, prefix: str = "1380000", spacing: float = 0.05, talk_base: float = 2.0,
                    start: int = 0) -> list[str]:
        uids = []
        for i in range(start, start + n):
            talk = talk_base + (i * 7) % 9
            uid = await self.sim.place_call(f"{prefix}{i:04d}", name="张三" if i % 3 == 0 else "", dtmf="1",
                                            patience=600, talk=talk, dtmf_delay=0.2)
            self.talks[uid] = talk
            uids.append(uid)
            await asyncio.sleep(spacing)
        return uids

    def mutating_actions(self, user: str) -> list[float]:
        return [t for t, _sid, u, name in self.sim.action_log if u == user and name.lower() not in READ_ONLY]

    def busy_rings(self) -> list[str]:
        """Offers (agent phone dialled) while that agent was talking on another call, from the PBX's side."""
        talking: dict[str, list[tuple[Any, Any, str]]] = {}
        for uid, t in self.sim.ledger.items():
            if t.answered_by and t.answered_at is not None:
                from datetime import timedelta
                end = t.answered_at + timedelta(seconds=self.talks.get(uid, 0.0))
                talking.setdefault(t.answered_by, []).append((t.answered_at, end, uid))
        bad = []
        for uid, t in self.sim.ledger.items():
            for o in t.offers:
                for start, end, other in talking.get(o.agent, []):
                    if other != uid and start < o.at < end:
                        bad.append(f"{uid} rang agent {o.agent} at {o.at:%H:%M:%S.%f} while on {other}")
        return bad


def _node_config(raw: dict[str, Any], node: Node, db_url: str, ami_port: int, master: Path) -> None:
    cfg = {**raw}
    cfg["ami"] = {**raw["ami"], "host": "127.0.0.1", "port": ami_port, "secret": SECRET, "ping_interval": 1.0,
                  "username": node.ami_user}
    cfg["agi"] = {"host": "127.0.0.1", "port": node.agi_port}
    cfg["database"] = {"url": db_url}
    cfg["web"] = {**raw.get("web", {}), "host": "127.0.0.1", "port": node.web_port}
    cfg["cdr"] = {"master_csv": str(master), "wait": 2.0}
    cfg["ha"] = {"node": node.name, "advertise_url": node.url}
    node.config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, db_url: str, *, nodes: int = 2, db_urls: dict[str, str] | None = None,
                  seed: int = 21) -> AsyncIterator[Cluster]:
    """Nodes a, b, ... configured (not started); ``db_urls`` gives a node another URL (a proxy's)."""
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for key in ("mqtt", "shifts", "teams", "staffing"):  # every agent on duty; no broker needed
        raw.pop(key, None)
    for agent in raw["agents"]:
        agent.pop("team", None)
    for queue in raw["queues"]:  # real time: a short wrap-up keeps the test short
        queue["wrapup_seconds"] = 1
    ports = free_ports(2 * nodes + 1)
    master = tmp_path / "cdr-csv" / "Master.csv"
    members = []
    for i in range(nodes):
        name = "node-" + "abcdefgh"[i]
        home = tmp_path / name
        home.mkdir()
        members.append(Node(name, home, home / "callcenter.yaml", ports[1 + 2 * i], ports[2 + 2 * i],
                            f"callcenter-{name}"))
    cfg = without_roster(load_config(EXAMPLE, environ={}))
    cfg = override(cfg, agi_port=members[0].agi_port)
    sim_cfg = sim_config_for_daemon(cfg, speed=1.0, seed=seed, calls=0).model_dump()
    template = sim_cfg["users"][0]
    sim_cfg["users"] = [{**template, "username": n.ami_user, "secret": SECRET} for n in members]
    sim_cfg.update(ami_port=ports[0], agi_url=f"agi://127.0.0.1:{members[0].agi_port}/ivr",
                   agi_more=[f"127.0.0.1:{n.agi_port}" for n in members[1:]], cdr_csv=str(master),
                   prompt_seconds=0.2, hold_max=600.0, fallback_wait=0.5,
                   default_endpoint={"answer_delay": 0.5, "answer_delay_sigma": 0.0})
    for n in members:
        _node_config(raw, n, (db_urls or {}).get(n.name, db_url), ports[0], master)
    async with PbxSimulator(SimConfig.model_validate(sim_cfg)) as sim:
        c = Cluster(sim, members, db_url, master)
        try:
            yield c
        finally:
            for n in members:
                if n.proc is not None and n.proc.returncode is None:
                    n.proc.kill()
                    await n.proc.wait()


def monotonic() -> float:
    return time.monotonic()
