"""The web edge: the supervisors' live wallboard, stats JSON/SSE, Prometheus metrics, health."""

from callcenter.web.app import close_streams, create_app
from callcenter.web.server import WebServerError, serve

__all__ = ["WebServerError", "close_streams", "create_app", "serve"]
