"""Schema migrations: a database made by an earlier commit is upgraded in place, data kept.

tests/meta/legacy/<commit>.sql are dumps of databases written by that commit's own SQLite store
(its code run from `git archive <commit>`, recording uploads in several states): eb30d61 is the
first schema, 8ed2d95 the last one before versioned migrations, e1e25ac the last one before
expiry (migration 4). PostgreSQL arrived with versioned migrations; e1e25ac.postgresql.sql is a
`pg_dump --inserts` of a database written by that commit's own PostgreSQL store, the same uploads.
`python scripts/legacy_dump.py <commit>` writes both for a commit (how f32f610's were made).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pyfiledrop.compose import migrate
from pyfiledrop.config import Settings
from pyfiledrop.core.interfaces import ChunkStart, MetaStore
from pyfiledrop.core.model import State
from pyfiledrop.meta.migrations import migrations
from pyfiledrop.meta.postgres import PostgresMetaStore, migrate_url
from pyfiledrop.meta.sqlite import SQLiteMetaStore

LEGACY = Path(__file__).parent / "legacy"


def legacy_db(commit: str, path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript((LEGACY / f"{commit}.sql").read_text())
    return path


@pytest.mark.parametrize("commit", ["eb30d61", "8ed2d95", "e1e25ac"])
def test_a_database_of_an_earlier_commit_is_upgraded_with_its_data(
    commit: str, tmp_path: Path
) -> None:
    path = legacy_db(commit, tmp_path / "meta.sqlite3")

    async def check() -> None:
        meta = SQLiteMetaStore(path)
        half = await meta.get("a" * 32)
        assert half is not None and half.state == State.RECEIVING and half.protocol == "dropzone"
        assert await meta.received("a" * 32) == [0, 2]
        done = await meta.get_by_token("T" * 32)
        assert done is not None and done.state == State.COMPLETE and done.sha256 == "c" * 64
        await meta.heartbeat("i", "h", 1)  # the new tables work on the old data
        assert await meta.start_chunk("a" * 32, 0, "h", "i", 60) == ChunkStart.CLAIMED
        assert (await meta.get("a" * 32)).rewrites == 1  # type: ignore[union-attr]
        if commit != "eb30d61":  # tus arrived after the first schema
            tus = await meta.get("d" * 32)
            assert tus is not None and tus.protocol == "tus" and tus.offset == 8
        await meta.close()

    asyncio.run(check())
    with sqlite3.connect(path) as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in migrations("sqlite")]


def test_a_new_database_gets_every_migration_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite3"

    async def open_and_close() -> None:
        await SQLiteMetaStore(path).close()

    asyncio.run(open_and_close())
    asyncio.run(open_and_close())  # a second start applies nothing twice
    with sqlite3.connect(path) as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in migrations("sqlite")]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "the database holds every download token"


def test_the_migrate_command_upgrades_without_serving(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    legacy_db("8ed2d95", storage / "pyfiledrop.sqlite3")
    done = subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "migrate", "-s", str(storage)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "applied migration 3 (claims)" in done.stdout
    assert "applied migration 4 (expiry)" in done.stdout
    again = subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "migrate", "-s", str(storage)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0 and "up to date" in again.stdout


# --- both back ends: the same numbered steps ------------------------------------------------------


def settings_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if backend == "postgresql":
        return Settings(storage=tmp_path, database_url=request.getfixturevalue("pg_url"))
    return Settings(storage=tmp_path)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_new_database_gets_every_migration_and_a_second_start_none(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = settings_for(backend, tmp_path, request)
    applied = migrate(settings)
    assert [(m.version, m.name) for m in applied] == [(m.version, m.name) for m in
                                                      migrations("sqlite")]  # fmt: skip
    assert migrate(settings) == []


def test_postgresql_has_the_same_migrations_and_columns_as_sqlite(
    tmp_path: Path, pg_url: str
) -> None:
    pg = [(m.version, m.name) for m in migrations("postgresql")]
    assert pg == [(m.version, m.name) for m in migrations("sqlite")]
    migrate(Settings(storage=tmp_path))
    migrate(Settings(storage=tmp_path, database_url=pg_url))
    tables = ("uploads", "chunks", "claims", "instances", "contents", "schema_migrations",
              "accounts", "tokens")  # fmt: skip
    with sqlite3.connect(tmp_path / "pyfiledrop.sqlite3") as db:
        lite = {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    with psycopg.connect(pg_url) as db:
        rows = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ).fetchall()
    assert {t: [c for name, c in rows if name == t] for t in tables} == lite


def test_postgresql_starters_at_once_apply_each_migration_once(pg_url: str) -> None:
    starters = 6
    together = threading.Barrier(starters)
    applied: list[list[int]] = []

    def start() -> None:
        together.wait()
        applied.append([m.version for m in migrate_url(pg_url)])

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(applied) == starters, "a starter failed"
    every = [m.version for m in migrations("postgresql")]
    assert sorted(v for versions in applied for v in versions) == every
    with psycopg.connect(pg_url) as db:
        versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [m.version for m in migrations("postgresql")]


def test_the_migrate_command_takes_a_postgresql_database(tmp_path: Path, pg_url: str) -> None:
    command = [sys.executable, "-m", "pyfiledrop", "migrate", "-s", str(tmp_path)]
    done = subprocess.run(
        [*command, "--database", pg_url], capture_output=True, text=True, timeout=60,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "applied migration 1 (uploads)", "applied migration 2 (streams)",
        "applied migration 3 (claims)", "applied migration 4 (expiry)",
        "applied migration 5 (contents)", "applied migration 6 (access)",
        "applied migration 7 (placed_at)",
    ]  # fmt: skip
    again = subprocess.run(
        command, capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYFILEDROP_DATABASE": pg_url},
    )  # fmt: skip
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr
    assert not (tmp_path / "pyfiledrop.sqlite3").exists(), "PostgreSQL, not the default file"


# --- migration 4 (expiry) on a database of the commit before it, on both back ends ----------------


def legacy_postgresql(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute((LEGACY / "e1e25ac.postgresql.sql").read_text().encode())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_expiry_arrives_on_a_database_of_the_commit_before_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Old uploads keep their rows and states, have no expiry (files finished before it are
    kept), and the clean-up's questions and moves work on them."""
    if backend == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        legacy_postgresql(url)
        make: Callable[[], MetaStore] = lambda: PostgresMetaStore(url)  # noqa: E731
    else:
        path = legacy_db("e1e25ac", tmp_path / "meta.sqlite3")
        make = lambda: SQLiteMetaStore(path)  # noqa: E731
    later = time.time() + 10 * 365 * 86400

    async def check() -> None:
        meta = make()
        try:
            done = await meta.get_by_token("T" * 32)
            assert done is not None and done.state == State.COMPLETE
            assert (done.lifetime, done.expires_at, done.removed_at, done.freed_bytes) == (
                None, None, None, None
            )  # fmt: skip
            plain = await meta.get_by_token("P" * 32)
            assert plain is not None and plain.protocol == "plain" and plain.size == 5
            assert await meta.expired(later) == [], "files finished before expiry are kept"
            idle = {u.id[0]: u.state for u in await meta.idle_since(later)}
            assert idle == {"a": State.RECEIVING, "d": State.RECEIVING, "e": State.FAILED}
            assert await meta.abandon("e" * 32, State.FAILED, later, later, 12)
            assert await meta.move(
                "b" * 32, State.COMPLETE, State.EXPIRED, removed_at=later, freed_bytes=10
            )
            gone, expired = await meta.get("e" * 32), await meta.get("b" * 32)
            assert gone is not None and gone.state == State.ABANDONED
            assert (gone.removed_at, gone.freed_bytes, gone.error) == (
                later, 12, "assembled 9 bytes, expected 10"
            )  # fmt: skip
            assert expired is not None and expired.state == State.EXPIRED
            assert (expired.removed_at, expired.freed_bytes) == (later, 10)
            assert expired.sha256 == "c" * 64 and expired.download_token == "T" * 32
        finally:
            await meta.close()

    asyncio.run(check())
