"""SQLite metadata store: one file under the storage folder, in WAL mode.

Tables (see migrations/sqlite/ for the exact schema and its history):
    uploads     one row per upload; `received` counts its rows in chunks, `rewrites` its re-sent
                chunks
    chunks      (upload_id, idx): the set of received chunks, so a re-sent chunk counts once
    claims      named leases: a chunk being written, an upload being assembled or written by a
                tus request, a background task; live while unexpired and their instance beats
    instances   server processes and when each last beat
    contents    finished files stored once: how many uploads point to each (their `content`),
                and whether its file is absent (being placed), present, or being removed
    accounts    who may upload, their password hashes and quotas; `tokens` their scripts' tokens

Threads: every statement runs off the event loop. Writes go through one writer thread (one
connection, `BEGIN IMMEDIATE` around multi-statement steps, so they are serialised within the
process; other processes wait up to `BUSY_TIMEOUT` for the file lock). The writes that wait
for the writer at once are committed as one transaction, each in its own savepoint: under load
that is one commit for many writes. Reads go to a small pool
of reader threads with their own connections, which WAL lets read while a write is under way.
The writer never fsyncs (synchronous=NORMAL: a commit is one append to the WAL); a checkpoint
thread copies the WAL into the database and syncs it, so a slow disk delays only that thread.
A power loss can lose the last commits (chunks then count as missing and are sent again), never
corrupt the file. The file is created readable by its owner only: it holds every download token.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pyfiledrop import errors
from pyfiledrop.core.accounts import Account, Token, Usage
from pyfiledrop.core.clock import SYSTEM, Clock
from pyfiledrop.core.coordination import INSTANCE_GRACE
from pyfiledrop.core.interfaces import ChunkStart, Held, Listing, Page, Reserve, Summary
from pyfiledrop.core.model import Content, Layout, State, Upload, content_key
from pyfiledrop.meta import accounts_sql as acc
from pyfiledrop.meta.lanes import Lane, Outcome, one_by_one
from pyfiledrop.meta.listing import listing_sql, page_of
from pyfiledrop.meta.migrations import Migration, migrations
from pyfiledrop.meta.rows import (
    COLUMNS,
    CONTENT_KEY,
    IDLE,
    UNKEYED,
    moved_columns,
    to_upload,
    to_values,
)
from pyfiledrop.meta.summary import (
    CONTENTS,
    COUNTS,
    FORGET_ABANDONED,
    STORED,
    by_day,
    summary_of,
)

T = TypeVar("T")
BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's transaction
CHECKPOINT_EVERY = 1.0  # seconds between checkpoints of the WAL into the database
READERS = 2

_LIVE = "expires_at > :now AND instance IN (SELECT id FROM instances WHERE seen_at > :alive)"
_LIVE_CLAIM = (
    "claims.expires_at > :now AND claims.instance IN "
    "(SELECT id FROM instances WHERE seen_at > :alive)"
)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread does it
    return db


def _translate(exc: sqlite3.Error) -> errors.UploadError:
    """SQLite's errors as the catalogue's: a full disk is the person's 507, not a crash."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return errors.STORAGE_FULL("The server's storage is full; try again later.")
    if code == sqlite3.SQLITE_BUSY:
        return errors.STORAGE_BUSY("The server's database is busy; try again shortly.")
    return errors.STORAGE_FAILED("The server could not record the upload.")


def migrate_file(path: Path) -> list[Migration]:
    """Apply the migrations the database at `path` lacks (creating it if need be)."""
    _create_private(path)
    db = _connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        applied = migrate(db)
    finally:
        db.close()
    return [m for m in migrations("sqlite") if m.version in applied]


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # owner-only before any data


def migrate(db: sqlite3.Connection) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied.

    A database from before versioning is recognised by its columns. Safe when several processes
    start at once: each step re-reads the version under the write lock.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    applied = []
    for migration in migrations("sqlite"):
        db.execute("BEGIN IMMEDIATE")
        try:
            done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
            if not done:
                done = _unversioned(db)
                for version in done:
                    db.execute(
                        "INSERT INTO schema_migrations VALUES (?, 'before versioning', ?)",
                        (version, time.time()),
                    )
            if migration.version not in done:
                for statement in migration.statements():
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )
                applied.append(migration.version)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return applied


def _unversioned(db: sqlite3.Connection) -> set[int]:
    columns = {row[1] for row in db.execute("PRAGMA table_info(uploads)")}
    if not columns:
        return set()
    return {1, 2} if "protocol" in columns else {1}


class SQLiteMetaStore:
    """`MetaStore` on one SQLite file."""

    def __init__(self, path: Path, clock: Clock = SYSTEM) -> None:
        _create_private(path)
        self._path = path
        self._clock = clock
        self._writer = _connect(path)
        self._writer.execute("PRAGMA journal_mode=WAL")
        migrate(self._writer)
        self._write_lane = Lane(1, "sqlite-writer", together=self._in_one_transaction)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._read_lane = Lane(READERS, "sqlite-reader")
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    # --- threads ----------------------------------------------------------------------------------

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._write_lane, lambda: work(self._writer))

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._read_lane, lambda: work(self._reader()))

    @staticmethod
    async def _run(lane: Lane, call: Callable[[], T]) -> T:
        try:
            return await lane.run(call)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = _connect(self._path)
            self._readers.append(db)
        return db

    def _checkpoint_loop(self) -> None:
        db = _connect(self._path)
        try:
            while not self._stop.wait(CHECKPOINT_EVERY):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    pass  # a full or failing disk: the WAL keeps the data; try again later
        finally:
            db.close()

    def _in_one_transaction(self, calls: list[Callable[[], Any]]) -> list[Outcome]:
        """The writes waiting at once, in one transaction (one append to the WAL): each in a
        savepoint, so one that fails is undone alone and tells its caller; when the transaction
        itself fails (the lock not had in time, a full disk), nothing is written and every
        caller is told."""
        if len(calls) == 1:
            return one_by_one(calls)
        db = self._writer
        outcomes: list[Outcome] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for call in calls:
                db.execute("SAVEPOINT one")
                try:
                    outcomes.append((call(), None))
                except Exception as exc:
                    db.execute("ROLLBACK TO one")
                    outcomes.append((None, exc))
                db.execute("RELEASE one")
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            return [(None, exc)] * len(calls)
        return outcomes

    @staticmethod
    def _transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
        """`work` as one transaction, or as part of the one it is already in (a savepoint of
        `_in_one_transaction`, which undoes it if it raises)."""
        if db.in_transaction:
            return work()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # --- uploads ----------------------------------------------------------------------------------

    async def create_or_get(self, upload: Upload) -> Upload:
        values = to_values(upload)
        key, value = ("client_id", upload.client_id) if upload.client_id else ("id", upload.id)

        def insert(db: sqlite3.Connection) -> Upload | None:
            """The insert and the row now there, in one trip to the writer's thread (the writer
            sees its own insert, and any racing one committed before it)."""
            db.execute(
                f"INSERT INTO uploads ({COLUMNS}) VALUES ({', '.join('?' * len(values))}) "
                "ON CONFLICT(client_id) DO NOTHING",
                values,
            )
            row = db.execute(f"SELECT {COLUMNS} FROM uploads WHERE {key} = ?", (value,))
            found = row.fetchone()
            return to_upload(found) if found else None

        found = await self._write(insert)
        if found is None:  # deleted as soon as it was made
            raise errors.NOT_FOUND("This upload was removed.")
        return found

    async def _one(self, where: str, value: str) -> Upload | None:
        def select(db: sqlite3.Connection) -> Upload | None:
            row = db.execute(f"SELECT {COLUMNS} FROM uploads WHERE {where} = ?", (value,))
            found = row.fetchone()
            return to_upload(found) if found else None

        return await self._read(select)

    async def get(self, upload_id: str) -> Upload | None:
        return await self._one("id", upload_id)

    async def get_by_client_id(self, client_id: str) -> Upload | None:
        return await self._one("client_id", client_id)

    async def get_by_token(self, token: str) -> Upload | None:
        return await self._one("download_token", token)

    async def in_state(self, state: State) -> list[Upload]:
        return await self._select("state = ?", (state.value,))

    async def whole(self) -> list[Upload]:
        return await self._select(
            "state = 'receiving' AND ("
            "(protocol = 'dropzone' AND received = chunk_count) OR "
            "(protocol != 'dropzone' AND stream_offset = size "
            "AND coalesce(concat, '') != 'partial'))",
            (),
        )

    async def expired(self, now: float) -> list[Upload]:
        return await self._select("state = 'complete' AND expires_at <= ?", (now,))

    async def idle_since(self, cutoff: float) -> list[Upload]:
        return await self._select(f"state IN ({IDLE}) AND updated_at < ?", (cutoff,))

    async def _select(self, where: str, values: tuple[Any, ...]) -> list[Upload]:
        def select(db: sqlite3.Connection) -> list[Upload]:
            rows = db.execute(f"SELECT {COLUMNS} FROM uploads WHERE {where}", values)
            return [to_upload(r) for r in rows]

        return await self._read(select)

    async def move(
        self,
        upload_id: str,
        old: State,
        new: State,
        *,
        layout: Layout | None = None,
        sha256: str | None = None,
        storage_key: str | None = None,
        download_token: str | None = None,
        error: str | None = None,
        expires_at: float | None = None,
        removed_at: float | None = None,
        freed_bytes: int | None = None,
    ) -> Upload | None:
        fields = {
            "sha256": sha256,
            "storage_key": storage_key,
            "download_token": download_token,
            "error": error,
            "expires_at": expires_at,
            "removed_at": removed_at,
            "freed_bytes": freed_bytes,
        }
        sets = moved_columns(new, self._clock.now(), layout, fields)
        assignments = ", ".join(f"{column} = ?" for column in sets)

        def update(db: sqlite3.Connection) -> Upload | None:
            rows = db.execute(  # every row read: the statement, and so its write, ends here
                f"UPDATE uploads SET {assignments} WHERE id = ? AND state = ? RETURNING {COLUMNS}",
                (*sets.values(), upload_id, old.value),
            ).fetchall()
            return to_upload(rows[0]) if rows else None

        return await self._write(update)

    async def abandon(
        self, upload_id: str, old: State, cutoff: float, removed_at: float, freed_bytes: int
    ) -> bool:
        def update(db: sqlite3.Connection) -> bool:
            now = time.time()  # the leases' clock, as `_take` judges them
            cursor = db.execute(
                "UPDATE uploads SET state = 'abandoned', removed_at = :removed, "
                "freed_bytes = :freed, updated_at = :removed "
                "WHERE id = :id AND state = :old AND updated_at < :cutoff AND NOT EXISTS "
                f"(SELECT 1 FROM claims WHERE claims.upload_id = :id AND {_LIVE_CLAIM})",
                {
                    "removed": removed_at, "freed": freed_bytes, "id": upload_id,
                    "old": old.value, "cutoff": cutoff, "now": now,
                    "alive": now - INSTANCE_GRACE,
                },
            )  # fmt: skip
            return cursor.rowcount == 1

        return await self._write(update)

    async def note_error(self, upload_id: str, error: str | None) -> None:
        await self._changed(
            "UPDATE uploads SET error = ?, updated_at = ? WHERE id = ?",
            (error, self._clock.now(), upload_id),
        )

    async def set_offset(self, upload_id: str, old: int, new: int) -> bool:
        return await self._changed(
            "UPDATE uploads SET stream_offset = ?, updated_at = ? "
            "WHERE id = ? AND stream_offset = ? AND state = 'receiving'",
            (new, self._clock.now(), upload_id, old),
        )

    async def set_layout(self, upload_id: str, layout: Layout) -> bool:
        return await self._changed(
            "UPDATE uploads SET size = ?, chunk_size = ?, chunk_count = ?, updated_at = ? "
            "WHERE id = ? AND size IS NULL",
            (layout.size, layout.chunk_size, layout.chunk_count, self._clock.now(), upload_id),
        )

    async def _changed(self, sql: str, values: tuple[Any, ...]) -> bool:
        return await self._write(lambda db: db.execute(sql, values).rowcount == 1)

    async def delete(self, upload_id: str) -> None:
        await self._changed("DELETE FROM uploads WHERE id = ?", (upload_id,))

    # --- chunks -----------------------------------------------------------------------------------

    async def start_chunk(
        self, upload_id: str, index: int, holder: str, instance: str, lease: float
    ) -> ChunkStart:
        name = f"chunk:{upload_id}:{index}"

        def start(db: sqlite3.Connection) -> ChunkStart:
            state = db.execute("SELECT state FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            if state is None or state[0] != State.RECEIVING.value:
                return ChunkStart.CLOSED
            if not self._take(db, name, upload_id, holder, instance, lease):
                return ChunkStart.BUSY
            removed = db.execute(
                "DELETE FROM chunks WHERE upload_id = ? AND idx = ?", (upload_id, index)
            ).rowcount
            # A re-send of a received chunk: its bytes may change under a digest.
            db.execute(
                "UPDATE uploads SET received = received - ?, rewrites = rewrites + ?, "
                "updated_at = ? WHERE id = ?",
                (removed, removed, self._clock.now(), upload_id),
            )
            return ChunkStart.CLAIMED

        return await self._write(lambda db: self._transaction(db, lambda: start(db)))

    async def end_chunk(self, upload_id: str, index: int, holder: str) -> int:
        def end(db: sqlite3.Connection) -> int:
            db.execute(
                "DELETE FROM claims WHERE name = ? AND holder = ?",
                (f"chunk:{upload_id}:{index}", holder),
            )
            added = db.execute(  # nothing once the upload is deleted
                "INSERT OR IGNORE INTO chunks (upload_id, idx) "
                "SELECT ?, ? WHERE EXISTS (SELECT 1 FROM uploads WHERE id = ?)",
                (upload_id, index, upload_id),
            ).rowcount
            row = db.execute(
                "UPDATE uploads SET received = received + ?, updated_at = ? WHERE id = ? "
                "RETURNING received",
                (added, self._clock.now(), upload_id),
            ).fetchone()
            return int(row[0]) if row else 0

        return await self._write(lambda db: self._transaction(db, lambda: end(db)))

    async def abandon_chunk(self, upload_id: str, index: int, holder: str) -> None:
        await self.release(f"chunk:{upload_id}:{index}", holder)

    async def received(self, upload_id: str) -> list[int]:
        def select(db: sqlite3.Connection) -> list[int]:
            rows = db.execute(
                "SELECT idx FROM chunks WHERE upload_id = ? ORDER BY idx", (upload_id,)
            )
            return [r[0] for r in rows]

        return await self._read(select)

    # --- claims and instances ---------------------------------------------------------------------

    @staticmethod
    def _take(
        db: sqlite3.Connection,
        name: str,
        upload_id: str | None,
        holder: str,
        instance: str,
        lease: float,
    ) -> bool:
        now = time.time()
        cursor = db.execute(
            "INSERT INTO claims (name, upload_id, holder, instance, expires_at) "
            "VALUES (:name, :upload, :holder, :instance, :until) "
            "ON CONFLICT(name) DO UPDATE SET holder = :holder, instance = :instance, "
            f"expires_at = :until WHERE claims.holder = :holder OR NOT ({_LIVE})",
            {
                "name": name, "upload": upload_id, "holder": holder, "instance": instance,
                "until": now + lease, "now": now, "alive": now - INSTANCE_GRACE,
            },
        )  # fmt: skip
        return cursor.rowcount == 1

    async def claim(self, name: str, holder: str, instance: str, lease: float) -> bool:
        return await self._write(lambda db: self._take(db, name, None, holder, instance, lease))

    async def release(self, name: str, holder: str) -> None:
        await self._changed("DELETE FROM claims WHERE name = ? AND holder = ?", (name, holder))

    async def is_claimed(self, name: str) -> bool:
        def select(db: sqlite3.Connection) -> bool:
            now = time.time()
            row = db.execute(
                f"SELECT 1 FROM claims WHERE name = :name AND {_LIVE}",
                {"name": name, "now": now, "alive": now - INSTANCE_GRACE},
            )
            return row.fetchone() is not None

        return await self._read(select)

    async def heartbeat(self, instance: str, host: str, pid: int) -> None:
        await self._changed(
            "INSERT INTO instances (id, host, pid, seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
            "seen_at = excluded.seen_at",
            (instance, host, pid, time.time()),
        )

    async def forget_instances(self, instances: list[str]) -> None:
        def forget(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM instances WHERE id = ?", [(i,) for i in instances])
            db.executemany("DELETE FROM claims WHERE instance = ?", [(i,) for i in instances])

        await self._write(lambda db: self._transaction(db, lambda: forget(db)))

    async def forget_silent(self, seconds: float) -> None:
        silent = (time.time() - seconds,)

        def forget(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM claims WHERE instance IN (SELECT id FROM instances WHERE seen_at < ?)",
                silent,
            )
            db.execute("DELETE FROM instances WHERE seen_at < ?", silent)

        await self._write(lambda db: self._transaction(db, lambda: forget(db)))

    async def instances_on(self, host: str) -> dict[str, int]:
        def select(db: sqlite3.Connection) -> dict[str, int]:
            rows = db.execute("SELECT id, pid FROM instances WHERE host = ?", (host,))
            return {instance: pid for instance, pid in rows}

        return await self._read(select)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._stop.set()
        self._write_lane.close()
        self._read_lane.close()
        self._checkpointer.join()
        for db in self._readers:
            db.close()
        try:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # the WAL is kept and replayed by the next start
        self._writer.close()

    # --- contents ---------------------------------------------------------------------------------

    async def hold_content(self, upload_id: str, content: Content) -> Held:
        def hold(db: sqlite3.Connection) -> Held:
            row = db.execute("SELECT content FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            if row is None:
                raise errors.NOT_FOUND("This upload was removed.")
            if row[0] is not None:  # counted already
                assert row[0] == content.sha256, "an upload points to one content at most"
                found = db.execute("SELECT state FROM contents WHERE sha256 = ?", (row[0],))
                return Held(found.fetchone()[0])
            counted = db.execute(
                "INSERT INTO contents (sha256, size, refs, state) VALUES (?, ?, 1, 'absent') "
                "ON CONFLICT(sha256) DO UPDATE SET refs = refs + 1 WHERE state != 'removing' "
                "RETURNING state",
                (content.sha256, content.size),
            ).fetchone()
            if counted is None:
                return Held.REMOVING
            db.execute("UPDATE uploads SET content = ? WHERE id = ?", (content.sha256, upload_id))
            return Held(counted[0])

        return await self._write(lambda db: self._transaction(db, lambda: hold(db)))

    async def content_placed(self, sha256: str, key: str) -> str:
        def place(db: sqlite3.Connection) -> str:
            placed = db.execute(
                "UPDATE contents SET state = 'present', placed_at = ? "
                "WHERE sha256 = ? AND state = 'absent'",
                (key, sha256),
            )
            if placed.rowcount:  # finished uploads of it whose file went missing: here now
                sql = "UPDATE uploads SET storage_key = ? WHERE content = ? AND state = 'complete'"
                db.execute(sql, (key, sha256))
            row = db.execute("SELECT placed_at FROM contents WHERE sha256 = ?", (sha256,))
            return str((row.fetchone() or (None,))[0] or content_key(sha256))

        return await self._write(lambda db: self._transaction(db, lambda: place(db)))

    async def content(self, sha256: str) -> Content | None:
        def select(db: sqlite3.Connection) -> Content | None:
            sql = "SELECT size, placed_at FROM contents WHERE sha256 = ?"
            row = db.execute(sql, (sha256,)).fetchone()
            return Content(sha256, row[0], row[1]) if row else None

        return await self._read(select)

    async def content_missing(self, sha256: str) -> None:
        await self._changed(
            "UPDATE contents SET state = 'absent', placed_at = NULL "
            "WHERE sha256 = ? AND state = 'present'",
            (sha256,),
        )

    async def unkeyed_contents(self) -> bool:
        sql = f"SELECT 1 FROM contents WHERE {UNKEYED} LIMIT 1"
        return await self._read(lambda db: db.execute(sql).fetchone() is not None)

    async def key_contents(self) -> None:
        sql = f"UPDATE contents SET placed_at = {CONTENT_KEY} WHERE {UNKEYED}"
        await self._write(lambda db: db.execute(sql))

    async def release_content(self, upload_id: str) -> Content | None:
        def release(db: sqlite3.Connection) -> Content | None:
            row = db.execute("SELECT content FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            if row is None or row[0] is None:
                return None
            db.execute("UPDATE uploads SET content = NULL WHERE id = ?", (upload_id,))
            refs, size, placed_at = db.execute(
                "UPDATE contents SET refs = refs - 1, "
                "state = CASE WHEN refs = 1 THEN 'removing' ELSE state END "
                "WHERE sha256 = ? RETURNING refs, size, placed_at",
                (row[0],),
            ).fetchone()
            return Content(row[0], size, placed_at) if refs == 0 else None

        return await self._write(lambda db: self._transaction(db, lambda: release(db)))

    async def removals(self) -> list[Content]:
        def select(db: sqlite3.Connection) -> list[Content]:
            rows = db.execute(
                "SELECT sha256, size, placed_at FROM contents WHERE state = 'removing'"
            )
            return [Content(*row) for row in rows]

        return await self._read(select)

    async def open_uploads(self, owner: str) -> int:
        def count(db: sqlite3.Connection) -> int:
            sql = "SELECT count(*) FROM uploads WHERE state = 'receiving' AND owner = ?"
            return int(db.execute(sql, (owner,)).fetchone()[0])

        return await self._read(count)

    async def content_refs(self, sha256: str) -> int:
        def select(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT refs FROM contents WHERE sha256 = ?", (sha256,)).fetchone()
            return int(row[0]) if row else 0

        return await self._read(select)

    async def is_removing(self, sha256: str) -> bool:
        def select(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT 1 FROM contents WHERE sha256 = ? AND state = 'removing'", (sha256,)
            )
            return row.fetchone() is not None

        return await self._read(select)

    async def forget_content(self, sha256: str) -> None:
        await self._changed(
            "DELETE FROM contents WHERE sha256 = ? AND state = 'removing' AND refs = 0", (sha256,)
        )

    async def owned_content(self, owner: str, sha256: str, size: int, now: float) -> Upload | None:
        found = await self._select(
            "owner = ? AND content = ? AND size = ? AND state = 'complete' "
            "AND (expires_at IS NULL OR expires_at > ?) AND EXISTS (SELECT 1 FROM contents "
            "WHERE contents.sha256 = uploads.content AND contents.state = 'present') LIMIT 1",
            (owner, sha256, size, now),
        )
        return found[0] if found else None

    # --- listing ----------------------------------------------------------------------------------

    async def list_uploads(self, listing: Listing) -> Page:
        sql, values = listing_sql(listing, COLUMNS, lambda name: f":{name}")
        rows = await self._read(lambda db: db.execute(sql, values).fetchall())
        return page_of(rows, listing.limit, to_upload)

    # --- the admin page ---------------------------------------------------------------------------

    async def chunks_received(self, upload_ids: list[str]) -> dict[str, int]:
        def select(db: sqlite3.Connection) -> dict[str, int]:
            marks = ", ".join("?" * len(upload_ids))
            rows = db.execute(f"SELECT id, received FROM uploads WHERE id IN ({marks})", upload_ids)
            return {uid: int(received) for uid, received in rows}

        return await self._read(select) if upload_ids else {}

    async def set_expiry(self, upload_id: str, expires_at: float | None, now: float) -> bool:
        return await self._changed(
            "UPDATE uploads SET expires_at = ? WHERE id = ? AND state = 'complete' "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (expires_at, upload_id, now),
        )

    async def forget_abandoned(self) -> int:
        return await self._write(lambda db: db.execute(FORGET_ABANDONED).rowcount)

    async def summary(self, since: float) -> Summary:
        def select(db: sqlite3.Connection) -> Summary:
            counts = db.execute(COUNTS).fetchall()
            stored = db.execute(STORED).fetchone()[0]
            contents = db.execute(CONTENTS).fetchone()[0]
            days = db.execute(by_day("CAST(created_at / 86400 AS INTEGER)", "?"), (since,))
            return summary_of(counts, stored, contents, days.fetchall())

        return await self._read(select)

    # --- downloads --------------------------------------------------------------------------------

    async def reserve_download(
        self, upload_id: str, name: str, holder: str, instance: str, lease: float
    ) -> Reserve:
        def reserve(db: sqlite3.Connection) -> Reserve:
            row = db.execute(
                "SELECT state, downloads, max_downloads FROM uploads WHERE id = ?", (upload_id,)
            ).fetchone()
            if row is None or row[0] != State.COMPLETE.value:
                return Reserve.SPENT
            downloads, most = row[1], row[2]
            if most is not None:
                if downloads >= most:
                    return Reserve.SPENT
                now = time.time()
                (under_way,) = db.execute(
                    "SELECT count(*) FROM claims WHERE upload_id = :id AND name LIKE 'download:%' "
                    f"AND name <> :name AND {_LIVE}",
                    {"id": upload_id, "name": name, "now": now, "alive": now - INSTANCE_GRACE},
                ).fetchone()
                if downloads + under_way >= most:
                    return Reserve.BUSY
            taken = self._take(db, name, upload_id, holder, instance, lease)
            return Reserve.TAKEN if taken else Reserve.BUSY

        return await self._write(lambda db: self._transaction(db, lambda: reserve(db)))

    async def count_download(
        self, upload_id: str, name: str | None, holder: str, now: float
    ) -> Upload | None:
        def count(db: sqlite3.Connection) -> None:
            if name is not None:
                db.execute("DELETE FROM claims WHERE name = ? AND holder = ?", (name, holder))
            db.execute(
                "UPDATE uploads SET downloads = downloads + 1, expires_at = CASE "
                "WHEN max_downloads IS NOT NULL AND downloads + 1 >= max_downloads "
                "AND (expires_at IS NULL OR expires_at > :now) THEN :now ELSE expires_at END "
                "WHERE id = :id",
                {"id": upload_id, "now": now},
            )

        await self._write(lambda db: self._transaction(db, lambda: count(db)))
        return await self.get(upload_id)

    # --- accounts ---------------------------------------------------------------------------------

    async def add_account(self, account: Account) -> bool:
        return await self._changed(acc.INSERT_ACCOUNT, acc.account_values(account))

    async def account(self, name: str) -> Account | None:
        rows = await self._read(lambda db: db.execute(acc.ACCOUNT, (name,)).fetchall())
        return acc.to_account(rows[0]) if rows else None

    async def accounts(self) -> list[Account]:
        rows = await self._read(lambda db: db.execute(acc.ACCOUNTS).fetchall())
        return sorted((acc.to_account(row) for row in rows), key=lambda a: a.name)

    async def has_accounts(self) -> bool:
        return bool(await self._read(lambda db: db.execute(acc.ANY_ACCOUNT).fetchall()))

    async def set_password(self, name: str, password_hash: str) -> bool:
        return await self._changed(acc.SET_PASSWORD, (password_hash, name))

    async def remove_account(self, name: str) -> bool:
        def remove(db: sqlite3.Connection) -> bool:
            db.execute(acc.DELETE_TOKENS, (name,))
            return bool(db.execute(acc.DELETE_ACCOUNT, (name,)).rowcount)

        return await self._write(lambda db: self._transaction(db, lambda: remove(db)))

    async def add_token(self, token: Token) -> bool:
        return await self._changed(
            acc.INSERT_TOKEN,
            (token.digest, token.account, token.label, token.created_at, token.account,
             token.account, token.label),
        )  # fmt: skip

    async def remove_token(self, account: str, label: str) -> bool:
        return await self._changed(acc.DELETE_TOKEN, (account, label))

    async def tokens(self, account: str) -> list[Token]:
        rows = await self._read(lambda db: db.execute(acc.TOKENS, (account,)).fetchall())
        return sorted((acc.to_token(row) for row in rows), key=lambda t: t.label)

    async def token_account(self, digest: str, now: float) -> Account | None:
        rows = await self._read(lambda db: db.execute(acc.TOKEN_ACCOUNT, (digest,)).fetchall())
        if not rows:
            return None
        if acc.stale(rows[0][6], now):  # a write only now and then: tokens come with every chunk
            await self._changed(acc.STAMP_TOKEN, (now, digest))
        return acc.to_account(rows[0])

    async def usage(self, account: str) -> Usage:
        row = await self._read(lambda db: db.execute(acc.USAGE, (account,)).fetchone())
        return acc.to_usage(row)

    async def open_from(self, address: str) -> int:
        row = await self._read(lambda db: db.execute(acc.OPEN_FROM, (address,)).fetchone())
        return int(row[0])

    # --- folders ----------------------------------------------------------------------------------

    async def in_folder(self, owner: str, folder: str, limit: int) -> list[Upload]:
        prefix = folder + "/"  # a comparison, not LIKE: no character of the name is special
        return await self._select(
            "owner = ? AND state = 'complete' AND substr(relative_path, 1, ?) = ? "
            "ORDER BY relative_path, created_at, id LIMIT ?",
            (owner, len(prefix), prefix, limit),
        )
