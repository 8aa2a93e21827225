"""Prometheus exposition of `LiveStats` (and the record writer's counters).

A custom Collector reads LiveStats at scrape time, so the figures always equal the wallboard's
snapshot and nothing is counted twice. Register it on a given CollectorRegistry (never the
global one: tests and several daemons in one process must not clash).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from metrics.live import CENTRE, WAIT_BUCKETS, WINDOWS, LiveStats


class WriterCounters(Protocol):
    written: int
    spooled: int


class AmiCounters(Protocol):
    reconnects: int
    connected: bool


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LiveStatsCollector(Collector):
    def __init__(self, stats: LiveStats, writer: WriterCounters | None = None,
                 clock: Callable[[], datetime] = _utcnow, ami: AmiCounters | None = None) -> None:
        self.stats = stats
        self.writer = writer
        self.ami = ami
        # The daemon passes its own clock (it may run faster than real time).
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        now = self.clock()
        snap = stats.snapshot(now)
        totals = stats.totals
        queues = [*stats.queues, *sorted(set(totals.offered) - set(stats.queues))]

        offered = CounterMetricFamily("callcenter_calls_offered", "Calls that reached a queue",
                                      labels=["queue"])
        answered = CounterMetricFamily("callcenter_calls_answered", "Calls answered by an agent",
                                       labels=["queue"])
        for q in queues:
            offered.add_metric([q], totals.offered[q])
            answered.add_metric([q], totals.answered[q])
        yield offered
        yield answered

        abandoned = CounterMetricFamily("callcenter_calls_abandoned", "Calls the caller left, by stage",
                                        labels=["queue", "stage"])
        for (q, stage), n in sorted(totals.abandoned.items()):
            abandoned.add_metric([q, stage], n)
        yield abandoned

        short = CounterMetricFamily("callcenter_calls_short_abandoned",
                                    "Calls that hung up within centre.short_abandon_seconds of queueing "
                                    "(excluded from offered)", labels=["queue"])
        for q, n in sorted(totals.short_abandoned.items()):
            short.add_metric([q], n)
        yield short

        talk = CounterMetricFamily("callcenter_talk_seconds", "Talk time of answered calls", labels=["queue"])
        for q, v in sorted(totals.talk_sum.items()):
            talk.add_metric([q], v)
        yield talk

        agent_secs = CounterMetricFamily("callcenter_agent_state_seconds",
                                         "Time agents spent per state (closed intervals)", labels=["state"])
        for state, v in sorted(totals.agent_seconds.items()):
            agent_secs.add_metric([state], v)
        yield agent_secs

        target = GaugeMetricFamily("callcenter_connection_rate_target", "The centre's connection-rate target")
        target.add_metric([], stats.target)
        yield target
        sl = GaugeMetricFamily("callcenter_service_level", f"Answered within {stats.sl_seconds:g} s / offered, "
                               "today (local day); absent while nothing was offered", labels=["queue"])
        if snap["centre"]["service_level"] is not None:
            sl.add_metric([CENTRE], snap["centre"]["service_level"])
        for qs in snap["queues"]:
            if qs["service_level"] is not None:
                sl.add_metric([qs["name"]], qs["service_level"])
        yield sl

        rate = GaugeMetricFamily("callcenter_connection_rate",
                                 "Answered / offered; window today (local day), 1h or 24h rolling; "
                                 "queue _all is the centre. Absent while nothing was offered.",
                                 labels=["queue", "window"])
        today = {CENTRE: snap["centre"]["connection_rate"]}
        today.update({q["name"]: q["connection_rate"] for q in snap["queues"]})
        windows = stats.window_rates(now)
        for q in [CENTRE, *(q["name"] for q in snap["queues"])]:
            values = {"today": today.get(q), **{w: windows.get(q, {}).get(w) for w in WINDOWS}}
            for window, value in values.items():
                if value is not None:
                    rate.add_metric([q, window], value)
        yield rate

        risk = GaugeMetricFamily("callcenter_next_hour_connection_rate",
                                 "Expected connection rate of the next hour (Erlang-A from the calls waiting, the "
                                 "agents available and the forecast); absent without a forecast")
        if stats.next_hour_rate is not None:
            risk.add_metric([], stats.next_hour_rate)
        yield risk

        waiting = GaugeMetricFamily("callcenter_calls_waiting", "Calls waiting in a queue now",
                                    labels=["queue"])
        longest = GaugeMetricFamily("callcenter_longest_wait_seconds", "Longest current wait (0 when none)",
                                    labels=["queue"])
        waiting.add_metric([CENTRE], snap["centre"]["waiting"])
        longest.add_metric([CENTRE], snap["centre"]["longest_wait_now"] or 0.0)
        for q in snap["queues"]:
            waiting.add_metric([q["name"]], q["waiting"])
            longest.add_metric([q["name"]], q["longest_wait_now"] or 0.0)
        yield waiting
        yield longest

        agents = GaugeMetricFamily("callcenter_agents", "Agents by state", labels=["state"])
        for state, n in snap["agents"].items():
            agents.add_metric([state], n)
        yield agents
        ready = GaugeMetricFamily("callcenter_agents_ready", "Ready agents serving a queue", labels=["queue"])
        for qs in snap["queues"]:
            ready.add_metric([qs["name"]], qs["agents_ready"])
        yield ready

        hist = HistogramMetricFamily("callcenter_wait_seconds", "Queue wait of offered calls (queued -> "
                                     "answered, or -> hang-up)", labels=["queue"])
        for q, counts in sorted(totals.wait_buckets.items()):
            cumulative, buckets = 0, []
            for bound, n in zip([*map(str, WAIT_BUCKETS), "+Inf"], counts, strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            hist.add_metric([q], buckets, totals.wait_sum[q])
        yield hist

        ami = GaugeMetricFamily("callcenter_ami_connected", "1 while the AMI connection is up")
        ami.add_metric([], 1.0 if snap["ami_connected"] else 0.0)
        yield ami
        if self.ami is not None:
            yield CounterMetricFamily("callcenter_ami_reconnects", "AMI connections re-established",
                                      value=self.ami.reconnects)

        if self.writer is not None:
            yield CounterMetricFamily("callcenter_records_written", "Call records committed to the store",
                                      value=self.writer.written)
            yield CounterMetricFamily("callcenter_records_spooled", "Call records sent to the local spool",
                                      value=self.writer.spooled)


def register(registry: CollectorRegistry, stats: LiveStats, writer: WriterCounters | None = None,
             clock: Callable[[], datetime] = _utcnow, ami: AmiCounters | None = None) -> LiveStatsCollector:
    collector = LiveStatsCollector(stats, writer, clock, ami)
    registry.register(collector)
    return collector
