"""Shared fixtures: a real pyfiledrop server process on 127.0.0.1 with a port picked for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.postgres import pg_cluster, pg_url  # noqa: F401  (fixtures for every test)
from tests.seaweed import SeaweedFS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`pyfiledrop serve` in a child process; restartable on the same folders and port."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.args = list(args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.storage = root / "storage"
        self.chunks = root / "chunks"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "server.log"
        self.cwd: Path | None = None  # the server's working folder; None: the test's

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1",
            "--port", str(self.port), "-s", str(self.storage), "-c", str(self.chunks), *self.args,
        ]  # fmt: skip

    def start(self) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                httpx.get(self.url + "/favicon.ico", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> httpx.Client:
        """A client with its own cookie jar: another browser, as far as the server can tell.
        It asks for JSON, as the page and the command-line client do (a plain upload is else
        answered with its link as text, for curl)."""
        return httpx.Client(base_url=self.url, timeout=30, headers={"Accept": "application/json"})


def finished_files(storage: Path) -> list[Path]:
    """The finished files under `<storage>/files`, where each is kept under its content's
    SHA-256 (`ab/cd/<sha256>`)."""
    return sorted(p for p in (storage / "files").rglob("*") if p.is_file())


def serve_once(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`pyfiledrop serve` with these flags, for one that should refuse to start: its exit status
    and messages (port 1: it would fail later, were the flags accepted)."""
    return subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "serve", "-p", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[type[Server]]:
    """Start servers with extra flags: `make_server("-a", "--max-size", "1")`."""
    started: list[Server] = []

    def make(*args: str) -> Server:
        server = Server(tmp_path, *args).start()
        started.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server) -> Server:  # type: ignore[no-untyped-def]
    """A server with downloads allowed and small limits that tests can reach quickly."""
    return make_server("-a", "--max-size", "64", "--max-chunk-size", str(4 * 1024 * 1024))


os.environ.setdefault("PYTHONUNBUFFERED", "1")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS for the session, its credentials in the environment of every process the
    tests start. Tests that stop a store start their own."""
    store = SeaweedFS(tmp_path_factory.mktemp("seaweed")).start()
    os.environ.update(store.env())
    yield store
    store.stop()
