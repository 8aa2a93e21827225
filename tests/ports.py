"""Free TCP ports for tests that start a separate process on them.

Ports are picked with every socket still bound, so one call never returns the same port twice (the
kernel may hand a just-released port out again: a web port once equalled the AMI port and the test's
HTTP client read the AMI banner), and a port handed out once in this process is not handed out again.
"""
from __future__ import annotations

import socket

_given: set[int] = set()


def free_ports(n: int) -> list[int]:
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            if port not in _given:
                _given.add(port)
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports
