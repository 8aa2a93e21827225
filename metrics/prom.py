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


class AmiFaultCounters(Protocol):
    action_timeouts: int
    ping_timeouts: int
    bad_frames: int
    oversized_frames: int
    unknown_frames: int
    callback_errors: int


class NameCounter(Protocol):
    @property
    def counts(self) -> dict[str, int]: ...


class TrackerCounters(Protocol):
    ignored: int
    dropped: int

    @property
    def ignored_names(self) -> NameCounter: ...


class ResyncCounters(Protocol):
    runs: int
    failures: int
    closed: int
    adopted: int
    moved: int
    mismatches: int
    restored_records: int
    cdr_closed: int
    cdr_unseen: int
    cdr_missing: int
    cdr_bad_lines: int


class ResyncCollector:
    """Prometheus: AMI faults (timeouts, bad frames, ignored events) and what the resyncs repaired."""

    def __init__(self, resync: ResyncCounters, ami: AmiFaultCounters, tracker: TrackerCounters) -> None:
        self.resync, self.ami, self.tracker = resync, ami, tracker

    def collect(self) -> Iterator[Metric]:
        a, r = self.ami, self.resync
        for name, doc, value in (
            ("callcenter_ami_action_timeouts", "AMI actions that got no answer in time", a.action_timeouts),
            ("callcenter_ami_ping_timeouts", "AMI connections declared dead by the ping watchdog", a.ping_timeouts),
            ("callcenter_ami_bad_frames", "malformed or oversized AMI frames dropped", a.bad_frames),
            ("callcenter_ami_callback_errors", "AMI events whose handling failed", a.callback_errors),
            ("callcenter_ami_events_ignored", "AMI events of no interest, counted and dropped", self.tracker.ignored),
            ("callcenter_ami_events_malformed", "AMI events lacking a header, counted and dropped",
             self.tracker.dropped),
            ("callcenter_resync_runs", "resyncs after an AMI login", r.runs),
            ("callcenter_resync_failures", "resyncs that could not read the channel list", r.failures),
            ("callcenter_resync_closed", "calls gone from Asterisk, closed by a resync", r.closed),
            ("callcenter_resync_adopted", "calls alive in Asterisk taken over by a resync", r.adopted),
            ("callcenter_resync_moved", "calls whose stage a resync moved on", r.moved),
            ("callcenter_resync_mismatches", "calls whose state a resync could not explain", r.mismatches),
            ("callcenter_resync_restored_records", "records resubmitted from the journal at start",
             r.restored_records),
            ("callcenter_cdr_closed", "gone calls closed with what Asterisk's CDRs say", r.cdr_closed),
            ("callcenter_cdr_unseen", "calls the daemon never saw, recorded from Asterisk's CDRs", r.cdr_unseen),
            ("callcenter_cdr_missing", "gone calls with no CDR in time, closed from their last stage",
             r.cdr_missing),
            ("callcenter_cdr_bad_lines", "Master.csv lines that could not be read, skipped", r.cdr_bad_lines),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield CounterMetricFamily("callcenter_ami_oversized_frames",
                                  "AMI frames over ami.max_message bytes, dropped (the reader resyncs)",
                                  value=a.oversized_frames)
        yield CounterMetricFamily("callcenter_ami_unknown_frames",
                                  "AMI frames that are neither event nor response, dropped (logged once a minute)",
                                  value=a.unknown_frames)
        by_name = CounterMetricFamily("callcenter_ami_events_ignored_by_name",
                                      "AMI events of no interest by event name (50 names, then _other)",
                                      labels=["event"])
        for event, count in sorted(self.tracker.ignored_names.counts.items()):
            by_name.add_metric([event], count)
        yield by_name


class AgiCounters(Protocol):
    connections: int
    active: int
    completed: int
    hangups: int
    errors: int
    protocol_errors: int
    env_timeouts: int
    idle_timeouts: int
    refused: int


class AgiCollector:
    """Prometheus: the FastAGI server's sessions (open now, refused at the cap, timed out, dropped)."""

    def __init__(self, agi: AgiCounters) -> None:
        self.agi = agi

    def collect(self) -> Iterator[Metric]:
        a = self.agi
        yield GaugeMetricFamily("callcenter_agi_sessions_open", "FastAGI connections open now", value=a.active)
        for name, doc, value in (
            ("callcenter_agi_connections", "FastAGI connections accepted", a.connections),
            ("callcenter_agi_completed", "FastAGI sessions whose handler ended normally", a.completed),
            ("callcenter_agi_hangups", "FastAGI sessions ended by the caller hanging up", a.hangups),
            ("callcenter_agi_errors", "FastAGI sessions whose handler failed", a.errors),
            ("callcenter_agi_refused", "FastAGI connections refused: agi.max_connections were open", a.refused),
            ("callcenter_agi_idle_timeouts", "FastAGI sessions closed: no reply within a command's wait plus "
             "agi.idle_timeout_seconds", a.idle_timeouts),
            ("callcenter_agi_env_timeouts", "FastAGI connections that sent no environment in time", a.env_timeouts),
            ("callcenter_agi_protocol_errors", "FastAGI connections dropped for garbage or oversized input",
             a.protocol_errors),
        ):
            yield CounterMetricFamily(name, doc, value=value)
