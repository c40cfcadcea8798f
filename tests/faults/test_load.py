"""Many uploaders at once (own cookies, distinct files, 2-4 chunks in flight each) plus tus
uploads: every file arrives whole, with the right SHA-256, and the server's memory stays within
`in_flight_budget` of its idle RSS."""

from __future__ import annotations

from tests.faults.conftest import MakeFaultServer
from tests.faults.scenarios import concurrent_uploads, requests_held_open


def test_twenty_uploaders_and_three_tus_uploads(make_fault_server: MakeFaultServer) -> None:
    server = make_fault_server("-a")
    figures = concurrent_uploads(server, uploaders=20, tus_uploads=3)
    assert figures.values["uploads verified"] == "23/23"


def test_three_hundred_requests_held_mid_chunk_cost_little_memory(
    make_fault_server: MakeFaultServer,
) -> None:
    """300 chunk requests that sent 2 MB of 4 MiB and stall: the bytes are on disk, not in the
    server's memory."""
    server = make_fault_server("-a")
    server.note_idle_rss()
    requests_held_open(server, 300)
