"""A throw-away PostgreSQL cluster for the tests (and bench/meta_bench.py).

The cluster lives in a temporary folder, listens on 127.0.0.1 at a free port, runs without
fsync (its data is worthless once the session ends), and is stopped and removed at the end.
PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user that
Debian's package creates. When PostgreSQL is missing the tests that need it fail, naming what to
install: CI must never pass by skipping them.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path:
    """The newest PostgreSQL's programs (`initdb` is not on PATH on Debian)."""
    found = sorted(glob.glob(BIN_GLOB), key=lambda p: int(Path(p).parent.name))
    if not found or not Path(found[-1], "initdb").exists():
        raise RuntimeError(
            "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin): "
            "apt-get install postgresql, or run ./scripts/test.sh, which does"
        )
    return Path(found[-1])


class Cluster:
    """initdb + pg_ctl start in a temporary folder; `stop()` removes it all."""

    def __init__(self, *, durable: bool = False) -> None:
        """`durable`: PostgreSQL's default fsync settings (benchmarks), else none (tests)."""
        self.bin = _bin_dir()
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pyfiledrop-pg-"))
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")  # KeyError: Debian's package makes this user
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        options = f"-k {self.dir} -p {self.port} -h 127.0.0.1 -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                     "--no-sync", "-E", "UTF8", "--no-instructions")  # fmt: skip
            self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
                     "start")  # fmt: skip
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _pg(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / program), *args], capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name} STRATEGY FILE_COPY".encode())  # 5x faster
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())

    def stop(self) -> None:
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One PostgreSQL server for the whole session."""
    try:
        cluster = Cluster()
    except (RuntimeError, KeyError, OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"cannot start PostgreSQL for the tests: {exc}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, empty database for one test: tests never see each other's rows."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)
