"""Property: whatever order and duplicates the chunks come in, the stored file is the sent file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server
from tests.dz import DzFile


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(Path(tmp_path_factory.mktemp("property")), "-a").start()
    yield server
    server.stop()


@st.composite
def uploads(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[int, bool]]]:
    chunk_size = draw(st.integers(1, 4096))
    data = draw(st.binary(min_size=0, max_size=12 * chunk_size))
    count = max(1, -(-len(data) // chunk_size))
    order = draw(st.permutations(range(count)))
    extra = draw(st.lists(st.integers(0, count - 1), max_size=count))
    sends = list(order)
    for index in extra:  # duplicates anywhere before that chunk's last copy is fine
        sends.insert(draw(st.integers(0, len(sends))), index)
    raw = draw(st.lists(st.booleans(), min_size=len(sends), max_size=len(sends)))
    return data, chunk_size, list(zip(sends, raw, strict=True))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(upload=uploads())
def test_any_order_with_duplicates_gives_the_same_bytes(
    shared_server: Server, upload: tuple[bytes, int, list[tuple[int, bool]]]
) -> None:
    """Each send is a multipart or a raw-body chunk, at random."""
    data, chunk_size, sends = upload
    with shared_server.client() as client:
        f = DzFile(data, chunk_size)
        for index, raw in sends:
            reply = f.send_raw(client, index) if raw else f.send(client, index)
            assert reply.status_code == 200, reply.text
        status = f.wait_complete(client)
        assert status["state"] == "complete"
        assert status["sha256"] == f.sha256
        assert httpx.get(str(status["download_url"])).content == data
