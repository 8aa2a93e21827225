"""Prometheus exposition of the incident board (read at scrape time, like metrics/prom.py)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from incidents.board import IncidentBoard
from incidents.model import State


class IncidentCollector(Collector):
    def __init__(self, board: IncidentBoard) -> None:
        self.board = board

    def collect(self) -> Iterator[Metric]:
        by_state = GaugeMetricFamily("callcenter_incidents", "Incidents on the board, by state", labels=["state"])
        counts = {s: 0 for s in State}
        for incident in self.board.incidents.values():
            counts[incident.state] += 1
        for state, n in counts.items():
            by_state.add_metric([str(state)], n)
        yield by_state
        calls = GaugeMetricFamily("callcenter_incident_calls",
                                  "Calls gathered by an open incident candidate or confirmed incident",
                                  labels=["incident", "what", "where", "state"])
        announcing = GaugeMetricFamily("callcenter_incident_announcement",
                                       "1 while the IVR plays the incident's announcement", labels=["incident"])
        for incident in self.board.active():
            c = incident.candidate
            calls.add_metric([str(incident.number), c.what or "*", c.where or "*", str(incident.state)], c.calls)
            announcing.add_metric([str(incident.number)], 1 if incident.announced_version is not None else 0)
        yield calls
        yield announcing
        alarms = CounterMetricFamily("callcenter_incident_detector_alarms", "Candidates the detector opened")
        alarms.add_metric([], self.board.detector.alarms)
        yield alarms
        dropped = CounterMetricFamily("callcenter_incident_signals_dropped", "Call signals refused as malformed")
        dropped.add_metric([], self.board.dropped)
        yield dropped


def register(registry: CollectorRegistry, board: IncidentBoard) -> IncidentCollector:
    collector = IncidentCollector(board)
    registry.register(collector)
    return collector
