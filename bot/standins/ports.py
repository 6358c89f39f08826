"""Free loopback ports for the stand-ins' users (tests, benchmarks, the demo's tests)."""

from __future__ import annotations

import socket

_given: set[int] = set()


def free_port() -> int:
    """A TCP port nothing listens on now, and one this process has not been given before: two
    calls in a row (an HTTP port and a metrics port) never get the same port, as the kernel may
    hand a just-closed port out again."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _given:
            _given.add(port)
            return port
