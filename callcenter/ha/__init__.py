"""Hot standby and operations: the lease (lease.py), a node's role and its fence (node.py), what a standby
keeps warm (witness.py), health for load balancers, alerting, the wallboard and Prometheus (health.py), and
the health endpoints and the standby's redirect (web.py). docs/scale.md ("Hot standby", "Operations")."""

from callcenter.ha.health import Health, OpsCollector
from callcenter.ha.lease import schema_lock
from callcenter.ha.node import READ_ONLY, STEPPED_DOWN, HaNode, Role
from callcenter.ha.web import install as install_health

__all__ = ["READ_ONLY", "STEPPED_DOWN", "HaNode", "Health", "OpsCollector", "Role", "install_health", "schema_lock"]
