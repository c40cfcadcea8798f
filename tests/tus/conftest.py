"""Fixtures for the tus tests: one server per module (uploads are independent), and a client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server

MAX_SIZE_MIB = 64
TUS_FLAGS = ("-a", "--max-size", str(MAX_SIZE_MIB))


@pytest.fixture(scope="module")
def tus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with downloads allowed and a 64 MiB size limit, shared by a module's tests."""
    server = Server(tmp_path_factory.mktemp("tus"), *TUS_FLAGS).start()
    yield server
    server.stop()


@pytest.fixture
def tus(tus_server: Server) -> Iterator[httpx.Client]:
    """An httpx client on the shared server."""
    with tus_server.client() as client:
        yield client
