"""Incidents over MQTT: one retained JSON message per incident, sent when it changes.

    <prefix>/incidents/<number>    the incident (state, what, where, since, calls, trend, announcement)
    <prefix>/incidents/status      "online" / "offline" (retained; "offline" is the connection's will)

The publisher is callcenter/mqtt_stats.py's (reconnect with a random growing delay, republish all on
a new session, publish only what changed), given the board's snapshot instead of the live figures.
Closed and dismissed incidents stay retained with their final state, so a late subscriber sees how
the incident ended.
"""

from __future__ import annotations

from typing import Any

from callcenter.mqtt_stats import MqttStatsPublisher
from config.models import MqttConfig
from incidents.board import IncidentBoard

SCHEMA_VERSION = 1


def incident_payloads(snap: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {f"{prefix}/incidents/{i['number']}": {"version": SCHEMA_VERSION, **i} for i in snap["incidents"]}


def incident_publisher(cfg: MqttConfig, board: IncidentBoard, **kw: Any) -> MqttStatsPublisher:
    def snapshot() -> dict[str, Any]:
        return {"incidents": [i.to_json() for i in board.incidents.values()]}

    return MqttStatsPublisher(cfg, snapshot, payloads_of=incident_payloads, status="incidents/status", **kw)
