"""The SQLite store's writes that wait at once are committed as one transaction
(`SQLiteMetaStore._in_one_transaction`): each is still all or nothing, and none is answered
before the commit. On a real SQLite file, read back through a second connection."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from pyfiledrop import errors
from pyfiledrop.meta import sqlite as sqlite_store
from pyfiledrop.meta.sqlite import SQLiteMetaStore


def test_writes_waiting_at_once_commit_together_and_a_failing_one_is_undone_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "meta.sqlite3"
    store = SQLiteMetaStore(path)
    busy = threading.Event()

    def insert(value: str) -> object:
        return lambda db: db.execute("INSERT INTO t VALUES (?)", (value,)).rowcount

    def half_then_fail(db: sqlite3.Connection) -> None:
        def work() -> None:
            db.execute("INSERT INTO t VALUES ('half')")
            db.execute("INSERT INTO no_such_table VALUES (1)")

        store._transaction(db, work)

    def rows() -> list[str]:
        other = sqlite3.connect(path)
        try:
            return sorted(r[0] for r in other.execute("SELECT x FROM t"))
        finally:
            other.close()

    async def run() -> None:
        await store._write(lambda db: db.execute("CREATE TABLE t (x TEXT)"))
        blocker = asyncio.ensure_future(store._write(lambda db: busy.wait(5)))
        await asyncio.sleep(0.05)  # the writer is busy: the next three wait, then go together
        statements: list[str] = []
        store._writer.set_trace_callback(statements.append)
        first = asyncio.ensure_future(store._write(insert("a")))  # type: ignore[arg-type]
        failing = asyncio.ensure_future(store._write(half_then_fail))
        last = asyncio.ensure_future(store._write(insert("b")))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert rows() == [], "nothing is written before the writer takes them"
        busy.set()
        await blocker
        assert await first == 1
        with pytest.raises(errors.UploadError):
            await failing
        assert await last == 1
        assert rows() == ["a", "b"], "the failing write's first insert was undone"
        assert statements.count("BEGIN IMMEDIATE") == 1, statements
        assert statements.count("COMMIT") == 1, statements
        assert statements.count("SAVEPOINT one") == 3, statements
        await store.close()

    asyncio.run(run())


def test_when_the_shared_transaction_cannot_begin_every_write_in_it_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock past the busy timeout: the three writes waiting
    together all fail, none is written, and the next write goes through once the lock is free."""
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT", 0.2)
    path = tmp_path / "meta.sqlite3"
    store = SQLiteMetaStore(path)
    busy = threading.Event()
    other = sqlite3.connect(path, isolation_level=None)

    def insert(value: str) -> object:
        return lambda db: db.execute("INSERT INTO t VALUES (?)", (value,)).rowcount

    async def run() -> None:
        await store._write(lambda db: db.execute("CREATE TABLE t (x TEXT)"))
        blocker = asyncio.ensure_future(store._write(lambda db: busy.wait(5)))
        await asyncio.sleep(0.05)
        writes = [asyncio.ensure_future(store._write(insert(v))) for v in "abc"]  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        other.execute("BEGIN IMMEDIATE")  # another process takes the lock meanwhile
        busy.set()
        await blocker
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        assert all(isinstance(o, errors.UploadError) for o in outcomes), outcomes
        other.execute("ROLLBACK")
        assert await store._write(insert("d")) == 1  # type: ignore[arg-type]
        rows = [r[0] for r in other.execute("SELECT x FROM t")]
        assert rows == ["d"]
        await store.close()

    try:
        asyncio.run(run())
    finally:
        other.close()
