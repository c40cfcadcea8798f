"""The fault proxy itself: it passes bytes untouched, cuts after exactly N bytes, delays, trickles,
and follows a plan of random cuts."""

from __future__ import annotations

import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults.proxy import Proxy, Rule, random_cuts


class Echo(socketserver.BaseRequestHandler):
    """Echoes everything back and remembers how many bytes each connection brought."""

    received: list[int] = []

    def handle(self) -> None:
        total = 0
        try:
            while data := self.request.recv(65536):
                total += len(data)
                self.request.sendall(data)
        except OSError:
            pass
        Echo.received.append(total)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    Echo.received = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with Proxy(server.server_address[1]) as running:
        yield running
    server.shutdown()
    server.server_close()


def exchange(proxy: Proxy, data: bytes) -> bytes:
    """Send `data` through the proxy, half-close, and read what comes back until EOF or reset."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        back = bytearray()
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while piece := sock.recv(65536):
                back += piece
        except OSError:
            pass
        return bytes(back)


def wait_for_received(count: int) -> list[int]:
    deadline = time.monotonic() + 5
    while len(Echo.received) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return Echo.received


def test_passes_bytes_through_unchanged(proxy: Proxy) -> None:
    data = os.urandom(3_000_000)
    assert exchange(proxy, data) == data
    assert proxy.cuts == 0


def test_cut_forwards_exactly_n_bytes_then_resets(proxy: Proxy) -> None:
    proxy.then(Rule(cut_after=100_001))
    back = exchange(proxy, os.urandom(1_000_000))
    assert wait_for_received(1) == [100_001]
    assert len(back) <= 100_001
    assert proxy.cuts == 1
    assert exchange(proxy, b"next connection passes") == b"next connection passes"


def test_delay_and_trickle_slow_the_bytes_down(proxy: Proxy) -> None:
    proxy.then(Rule(delay=0.3))
    started = time.monotonic()
    assert exchange(proxy, b"x" * 1000) == b"x" * 1000
    assert time.monotonic() - started >= 0.6  # once each way
    proxy.then(Rule(trickle=50_000))
    started = time.monotonic()
    assert exchange(proxy, b"y" * 25_000) == b"y" * 25_000
    assert time.monotonic() - started >= 0.45


def test_random_cuts_cut_every_kth_connection_within_the_range(proxy: Proxy) -> None:
    proxy.set_plan(random_cuts(every=3, low=1000, high=5000, seed=1))
    for _ in range(6):
        exchange(proxy, os.urandom(20_000))
    received = wait_for_received(6)
    assert proxy.cuts == 2
    assert sorted(received)[2:] == [20_000] * 4
    assert all(1000 <= n <= 5000 for n in sorted(received)[:2])
