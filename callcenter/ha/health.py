"""Health of one node for the load balancer and the alerting, the wallboard's banner and Prometheus.

Every daemon has one (with or without ``ha``): its role, AMI per PBX, the database, the MQTT broker. The
database is probed every ``PROBE_SECONDS`` in a worker thread (``SELECT 1``); AMI and the broker are read
from their clients' state (no extra traffic).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from asterisk.ami.client import AmiClient
from callcenter.ha.node import HaNode, Role

log = logging.getLogger("callcenter.ha")

PROBE_SECONDS = 2.0
#: the wallboard shows a takeover this long
TAKEOVER_SHOWN = timedelta(minutes=30)


class Health:
    def __init__(self, *, amis: Mapping[str, AmiClient], db_ping: Callable[[], None],
                 brokers: Mapping[str, Callable[[], bool]], ha: HaNode | None, synced: Callable[[], bool],
                 now: Callable[[], datetime], timezone: str) -> None:
        self.amis, self.db_ping, self.brokers, self.ha = amis, db_ping, brokers, ha
        self.synced, self.now, self.tz = synced, now, ZoneInfo(timezone)
        self.database_up: bool | None = None
        self.database_failures = 0

    async def probe(self) -> None:
        """The database probe, forever (a named task of the daemon)."""
        while True:
            try:
                async with asyncio.timeout(PROBE_SECONDS):
                    await asyncio.to_thread(self.db_ping)
                up = True
            except Exception as exc:  # any failure is "down"; the message never carries the URL's password
                up = False
                if self.database_up is not False:
                    log.warning("health: database down: %s", type(exc).__name__)
            if up and self.database_up is False:
                log.warning("health: database up again")
            self.database_failures += not up
            self.database_up = up
            await asyncio.sleep(PROBE_SECONDS)

    # ---- what the endpoints answer
    @property
    def role(self) -> Role:
        return self.ha.role if self.ha is not None else Role.LEADER

    def leading(self) -> bool:
        """Routing calls: the leader (or a lone daemon), its first resync done."""
        if self.ha is not None and not self.ha.may_act():
            return False
        return self.synced()

    def ami_up(self) -> dict[str, bool]:
        return {name: ami.stats.connected for name, ami in self.amis.items()}

    def broker_up(self) -> dict[str, bool]:
        """The broker as the leader's MQTT clients see it; a standby does not connect (the retained "online"
        status is the leader's), so it reports none."""
        if self.role is not Role.LEADER:
            return {}
        return {name: up() for name, up in self.brokers.items()}

    def down(self) -> list[str]:
        """Failed dependencies, as the wallboard names them: ami:<pbx>, database, broker."""
        out = [f"ami:{name}" for name, up in self.ami_up().items() if not up]
        if self.database_up is False:
            out.append("database")
        if not all(self.broker_up().values()):
            out.append("broker")
        return out

    def report(self) -> dict[str, Any]:
        down = self.down()
        hard = [d for d in down if d != "broker"]
        role_ok = self.leading() if self.role is Role.LEADER else self.role is Role.STANDBY
        status = "down" if hard or not role_ok else ("degraded" if down else "ok")
        out: dict[str, Any] = {"status": status, "role": self.role.value, "leading": self.leading(),
                               "ami": self.ami_up(), "database": self.database_up, "broker": self.broker_up(),
                               "down": down}
        if self.ha is not None:
            out["ha"] = dict(self.ha.report())
        return out

    def board(self) -> dict[str, Any]:
        """For the wallboard's banner: what is down, and the latest takeover (local time, no UTC)."""
        out: dict[str, Any] = {"down": self.down(), "role": self.role.value, "takeover": None}
        ha = self.ha
        if ha is not None and ha.took_over_at is not None and ha.previous_holder \
                and self.now() - ha.took_over_at < TAKEOVER_SHOWN:
            out["takeover"] = {"at": ha.took_over_at.astimezone(self.tz).strftime("%H:%M:%S"), "epoch": ha.epoch,
                               "node": ha.cfg.node, "previous": ha.previous_holder}
        return out


class OpsCollector:
    """Prometheus: leader gauge, epoch, takeovers, fenced actions, dependency up gauges."""

    def __init__(self, health: Health) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        h, ha = self.health, self.health.ha
        yield _gauge("callcenter_ha_leader", "1 on the node that routes calls (the leader, its resync done)",
                     1.0 if h.leading() else 0.0)
        yield _gauge("callcenter_ha_epoch", "The lease's epoch of the current term (0 without ha)",
                     float(ha.epoch if ha is not None else 0))
        stats = ha.stats if ha is not None else None
        yield _counter("callcenter_ha_takeovers", "Terms this node began after another node's",
                       stats.takeovers if stats else 0)
        yield _counter("callcenter_ha_fenced_actions", "AMI actions refused because this node may not change calls",
                       stats.fenced_actions if stats else 0)
        yield _counter("callcenter_ha_lease_errors", "Lease reads/renewals that failed",
                       stats.lease_errors if stats else 0)
        if stats is not None and stats.last_takeover_seconds is not None:
            yield _gauge("callcenter_ha_takeover_seconds", "The last takeover: lease taken to every call adopted",
                         stats.last_takeover_seconds)
        up = GaugeMetricFamily("callcenter_dependency_up", "1 when the dependency answers, 0 when it does not",
                               labels=["dependency", "pbx"])
        for name, ok in h.ami_up().items():
            up.add_metric(["ami", name], 1.0 if ok else 0.0)
        if h.database_up is not None:
            up.add_metric(["database", ""], 1.0 if h.database_up else 0.0)
        brokers = h.broker_up()
        if brokers:
            up.add_metric(["broker", ""], 1.0 if all(brokers.values()) else 0.0)
        yield up


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc)
    g.add_metric([], value)
    return g


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    c = CounterMetricFamily(name, doc)
    c.add_metric([], value)
    return c
