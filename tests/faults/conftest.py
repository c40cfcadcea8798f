"""Fixtures for the fault tests: `FaultServer`s in a temp folder, stopped afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.servers import FaultServer, is_root

MakeFaultServer = Callable[..., FaultServer]

needs_root = pytest.mark.skipif(
    not is_root(), reason="mounts a tmpfs to fill a disk, which only root may do"
)


@pytest.fixture
def make_fault_server(tmp_path: Path) -> Iterator[MakeFaultServer]:
    """`make_fault_server("-a")`: a started server with its folders under the test's temp folder."""
    started: list[FaultServer] = []

    def make(*args: str) -> FaultServer:
        server = FaultServer(tmp_path / f"server{len(started)}", *args).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
