"""Servers on S3 storage: `pyfiledrop serve --storage s3://...` against a real SeaweedFS."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.seaweed import SeaweedFS

MiB = 1024 * 1024
FLAGS = ("-a", "--max-size", "256", "--max-chunk-size", str(16 * MiB))


def s3_flags(store: SeaweedFS, bucket: str, prefix: str) -> tuple[str, ...]:
    return ("--storage", f"s3://{bucket}/{prefix}", "--s3-endpoint", store.endpoint)


def ensure_bucket(store: SeaweedFS, name: str) -> str:
    if name not in [b["Name"] for b in store.client().list_buckets()["Buckets"]]:
        store.bucket(name)
    return name


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedFS) -> Iterator[Server]:
    """A server on the session's SeaweedFS (bucket `e2e`, a prefix per module)."""
    bucket = ensure_bucket(seaweed, "e2e")
    root = tmp_path_factory.mktemp("s3server")
    server = Server(root, *FLAGS, *s3_flags(seaweed, bucket, uuid.uuid4().hex[:8])).start()
    yield server
    server.stop()


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeaweedFS]:
    """A SeaweedFS of this test's own, to stop and start again."""
    store = SeaweedFS(tmp_path / "weed").start()
    for name, value in store.env().items():
        monkeypatch.setenv(name, value)
    yield store
    store.stop()


@pytest.fixture
def server_on(tmp_path: Path) -> Iterator[Callable[[SeaweedFS], Server]]:
    """Start a server on a given store (bucket `uploads`)."""
    started: list[Server] = []

    def make(store: SeaweedFS, *extra: str) -> Server:
        bucket = ensure_bucket(store, "uploads")
        server = Server(tmp_path / "server", *FLAGS, *s3_flags(store, bucket, "p"), *extra)
        server.root.mkdir(exist_ok=True)
        started.append(server.start())
        return server

    yield make  # type: ignore[misc]
    for server in started:
        server.stop()
