"""PostgreSQL metadata store: SQLite's tables in one PostgreSQL database that server processes on
any number of hosts share (`--database postgresql://...`).

Tables (see migrations/postgresql/ for the exact schema; the same versions as SQLite's):
    uploads     one row per upload; `received` counts its rows in chunks, `rewrites` its re-sent
                chunks
    chunks      (upload_id, idx): the set of received chunks, so a re-sent chunk counts once
    claims      named leases, live while unexpired and their instance beats
    instances   server processes and when each last beat
    contents    finished files stored once, counted by the uploads that point to them
    accounts    who may upload, their password hashes and quotas; `tokens` their scripts' tokens

Connections: a pool of async psycopg connections in autocommit mode, opened on first use by the
event loop that serves; the constructor connects once, synchronously, to apply migrations and to
fail at start (as `OpenError`) when the database cannot be reached. Every step is one statement,
so one round trip and its own transaction, but the content steps (a few statements in one
transaction: they run once per finished or removed file, not per chunk). `start_chunk` and
`end_chunk` touch three tables through data-modifying CTEs that first lock the upload's row
(`FOR NO KEY UPDATE`): steps on one upload's chunks take their locks in the same order and
happen one after another, as SQLite's single writer makes them, and a move of the upload waits
for them (or they see it). A deadlock or serialisation failure (two `forget_instances` at
once) is retried.

Clock: lease expiry and heartbeats are on the database's clock (`statement_timestamp()`): the
core passes lease lengths, not times, so hosts whose clocks differ still agree on which claims
are live (SQLite, on one host, uses that host's clock). An upload's times (`created_at`,
`updated_at`, `expires_at`, `removed_at`) are on the core's clock, as in SQLite: expiry is
judged against them in days or hours, where hosts' clocks that differ by seconds do not matter.

Failures: no psycopg error leaves this module. A database that cannot be reached (refused,
restarting, a dropped connection, no free connection within `POOL_WAIT`) is STORAGE_BUSY, 503
"unavailable"; its disk full is STORAGE_FULL; anything else STORAGE_FAILED. When a connection
turns out dead (the server restarted since), the pool checks the others, and a step that may run
twice is sent again on a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.rows import TupleRow

from pyfiledrop import errors
from pyfiledrop.core.accounts import Account, Token, Usage
from pyfiledrop.core.clock import SYSTEM, Clock
from pyfiledrop.core.coordination import INSTANCE_GRACE
from pyfiledrop.core.interfaces import ChunkStart, Held, Listing, Page, Reserve, Summary
from pyfiledrop.core.model import Content, Layout, State, Upload, content_key
from pyfiledrop.meta import OpenError
from pyfiledrop.meta import accounts_sql as acc
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
from pyfiledrop.meta.summary import BY_STATE, CONTENTS, FORGET_ABANDONED, by_day, summary_of

T = TypeVar("T")
Connection: TypeAlias = psycopg.AsyncConnection[TupleRow]
Pool: TypeAlias = psycopg_pool.AsyncConnectionPool[Connection]
POOL_SIZE = 10  # connections per server process at most
POOL_WAIT = 10.0  # seconds a step waits for a connection before answering 503
CONNECT_TIMEOUT = 10  # seconds to reach the server
MIGRATION_LOCK = 0x70_66_64_72_6F_70  # pg_advisory_xact_lock key: "pfdrop"
TRIES = 3  # attempts at a step that hit a deadlock, a serialisation failure or a dead connection
# The server said it ended the session (a restart, pg_terminate_backend) before or while it ran
# the step: nothing of it was committed, so any step can be sent again. A connection lost without
# a word (as often after a restart) may have committed: only steps that may run twice are sent
# again; a compare-and-set is the client's to retry (503).
_ENDED = ("57P01", "57P02")

_NOW = "extract(epoch FROM statement_timestamp())::float8"
_LIVE = (
    f"claims.expires_at > {_NOW} AND claims.instance IN "
    f"(SELECT id FROM instances WHERE seen_at > {_NOW} - {INSTANCE_GRACE})"
)
_TAKE = (
    "INSERT INTO claims (name, upload_id, holder, instance, expires_at) "
    "{source} "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, instance = excluded.instance, "
    f"expires_at = excluded.expires_at WHERE claims.holder = excluded.holder OR NOT ({_LIVE})"
)
_CLAIM_VALUES = f"%(name)s, %(upload)s, %(holder)s, %(instance)s, {_NOW} + %(lease)s"


def _busy(exc: BaseException) -> bool:
    """Whether `exc` says the server cannot be reached or is going away (try again later)."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, psycopg.OperationalError) and (not state or state[:2] in ("08", "57"))


def _translate(exc: Exception) -> errors.UploadError:
    """psycopg's errors as the catalogue's: the person sees a 503 or a 507, never a crash."""
    state = getattr(exc, "sqlstate", None) or ""
    if _busy(exc):
        return errors.STORAGE_BUSY("The server's database is unavailable; try again shortly.")
    if state == "53100":  # disk_full
        return errors.STORAGE_FULL("The server's storage is full; try again later.")
    if state[:2] in ("40", "53") or state == "55P03":  # conflicts, resources, lock timeouts
        return errors.STORAGE_BUSY("The server's database is busy; try again shortly.")
    return errors.STORAGE_FAILED("The server could not record the upload.")


def _reason(exc: psycopg.Error, url: str) -> str:
    """libpq's message on one line, without the URL (which may hold a password)."""
    return " ".join(str(exc).replace(url, "<the URL>").split()) or type(exc).__name__


def check_url(url: str) -> None:
    """Raise OpenError unless libpq can parse `url`."""
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise OpenError(f"not a valid PostgreSQL URL: {_reason(exc, url)}") from None


def migrate_url(url: str) -> list[Migration]:
    """Apply the migrations the database at `url` lacks; the migrations applied.

    Safe when several processes start at once: each step takes a transaction-level advisory lock
    and re-reads the applied versions under it. Raise OpenError when the database cannot be
    reached or refuses a step.
    """
    check_url(url)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as db:
            applied = [m for m in migrations("postgresql") if _apply(db, m)]
    except psycopg.Error as exc:
        raise OpenError(_reason(exc, url)) from None
    return applied


def _apply(db: psycopg.Connection[TupleRow], migration: Migration) -> bool:
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = db.execute(
            "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
        ).fetchone()
        if done:
            return False
        for statement in migration.statements():
            db.execute(statement)
        db.execute(
            "INSERT INTO schema_migrations VALUES (%s, %s, %s)",
            (migration.version, migration.name, time.time()),
        )
    return True


class PostgresMetaStore:
    """`MetaStore` on one PostgreSQL database."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        pool_wait: float = POOL_WAIT,
        clock: Clock = SYSTEM,
    ) -> None:
        migrate_url(url)
        self._clock = clock
        self._pool: Pool = psycopg_pool.AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            timeout=pool_wait,
            name="pyfiledrop-meta",
        )
        self._opened = False
        self._opening = asyncio.Lock()

    # --- connections ------------------------------------------------------------------------------

    async def _run(self, step: Callable[[Connection], Awaitable[T]], *, again: bool = True) -> T:
        """Run `step` on a pooled connection; retry what a retry can cure; translate errors.

        `again`: running the step twice has the effect and the answer of running it once, so it
        may be sent again after a connection broke under it (a compare-and-set may not: its
        second run would answer False for a change its first run made).
        """
        for attempt in range(1, TRIES + 1):
            try:
                if not self._opened:
                    await self._open()
                async with self._pool.connection() as db:
                    try:
                        return await step(db)
                    except psycopg.OperationalError as exc:
                        ended = exc.sqlstate in _ENDED or (again and db.broken)
                        if not ended or attempt == TRIES:
                            raise
                await self._pool.check()  # its other connections may be just as dead
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
                if attempt == TRIES:
                    raise _translate(exc) from exc
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                raise _translate(exc) from exc
        raise AssertionError("unreachable")

    async def _open(self) -> None:
        async with self._opening:  # steps that come at once wait for the one that opens
            if not self._opened:
                await self._pool.open(wait=False)
                self._opened = True

    async def _rows(self, sql: str, values: Sequence[Any] | dict[str, Any]) -> list[TupleRow]:
        async def step(db: Connection) -> list[TupleRow]:
            cursor = await db.execute(sql, values)
            return await cursor.fetchall() if cursor.description else []

        return await self._run(step)

    async def _changed(
        self, sql: str, values: Sequence[Any] | dict[str, Any], *, again: bool = True
    ) -> bool:
        async def step(db: Connection) -> bool:
            return (await db.execute(sql, values)).rowcount == 1

        return await self._run(step, again=again)

    # --- uploads ----------------------------------------------------------------------------------

    async def create_or_get(self, upload: Upload) -> Upload:
        values = to_values(upload)
        # A racing creator's row is not in this statement's snapshot: look it up afterwards. On
        # `id` when there is no client id, so that sending the step again finds its own row.
        key, value = ("client_id", upload.client_id) if upload.client_id else ("id", upload.id)
        for _ in range(TRIES):
            made = await self._rows(
                f"INSERT INTO uploads ({COLUMNS}) VALUES ({', '.join(['%s'] * len(values))}) "
                f"ON CONFLICT ({key}) DO NOTHING RETURNING {COLUMNS}",
                values,
            )
            found = to_upload(made[0]) if made else await self._one(key, value)
            if found is not None:
                return found
            # the row in the way was deleted since: insert again
        raise errors.STORAGE_BUSY("The server's database is busy; try again shortly.")

    async def _one(self, where: str, value: str) -> Upload | None:
        rows = await self._rows(f"SELECT {COLUMNS} FROM uploads WHERE {where} = %s", (value,))
        return to_upload(rows[0]) if rows else None

    async def get(self, upload_id: str) -> Upload | None:
        return await self._one("id", upload_id)

    async def get_by_client_id(self, client_id: str) -> Upload | None:
        return await self._one("client_id", client_id)

    async def get_by_token(self, token: str) -> Upload | None:
        return await self._one("download_token", token)

    async def in_state(self, state: State) -> list[Upload]:
        return await self._select("state = %s", (state.value,))

    async def whole(self) -> list[Upload]:
        return await self._select(
            "state = 'receiving' AND ("
            "(protocol = 'dropzone' AND received = chunk_count) OR "
            "(protocol <> 'dropzone' AND stream_offset = size "
            "AND coalesce(concat, '') <> 'partial'))",
            (),
        )

    async def expired(self, now: float) -> list[Upload]:
        return await self._select("state = 'complete' AND expires_at <= %s", (now,))

    async def idle_since(self, cutoff: float) -> list[Upload]:
        return await self._select(f"state IN ({IDLE}) AND updated_at < %s", (cutoff,))

    async def _select(self, where: str, values: tuple[Any, ...]) -> list[Upload]:
        rows = await self._rows(f"SELECT {COLUMNS} FROM uploads WHERE {where}", values)
        return [to_upload(r) for r in rows]

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
        assignments = ", ".join(f"{column} = %({column})s" for column in sets)
        sql = (
            f"UPDATE uploads SET {assignments} WHERE id = %(_id)s AND state = %(_old)s "
            f"RETURNING {COLUMNS}"
        )

        async def step(db: Connection) -> Upload | None:
            row = await (
                await db.execute(sql, {**sets, "_id": upload_id, "_old": old.value})
            ).fetchone()
            return to_upload(row) if row else None

        return await self._run(step, again=False)

    async def abandon(
        self, upload_id: str, old: State, cutoff: float, removed_at: float, freed_bytes: int
    ) -> bool:
        # A `start_chunk` that locked the row first sets `updated_at`: this statement, waiting on
        # the lock, re-checks `updated_at < cutoff` against the new row and leaves it alone.
        return await self._changed(
            "UPDATE uploads SET state = 'abandoned', removed_at = %(removed)s, "
            "freed_bytes = %(freed)s, updated_at = %(removed)s "
            "WHERE id = %(id)s AND state = %(old)s AND updated_at < %(cutoff)s AND NOT EXISTS "
            f"(SELECT FROM claims WHERE claims.upload_id = uploads.id AND {_LIVE})",
            {"removed": removed_at, "freed": freed_bytes, "id": upload_id, "old": old.value,
             "cutoff": cutoff},
            again=False,
        )  # fmt: skip

    async def note_error(self, upload_id: str, error: str | None) -> None:
        await self._changed(
            "UPDATE uploads SET error = %s, updated_at = %s WHERE id = %s",
            (error, self._clock.now(), upload_id),
        )

    async def set_offset(self, upload_id: str, old: int, new: int) -> bool:
        return await self._changed(
            "UPDATE uploads SET stream_offset = %s, updated_at = %s "
            "WHERE id = %s AND stream_offset = %s AND state = 'receiving'",
            (new, self._clock.now(), upload_id, old),
            again=False,
        )

    async def set_layout(self, upload_id: str, layout: Layout) -> bool:
        return await self._changed(
            "UPDATE uploads SET size = %s, chunk_size = %s, chunk_count = %s, updated_at = %s "
            "WHERE id = %s AND size IS NULL",
            (layout.size, layout.chunk_size, layout.chunk_count, self._clock.now(), upload_id),
            again=False,
        )

    async def delete(self, upload_id: str) -> None:
        await self._changed("DELETE FROM uploads WHERE id = %s", (upload_id,))

    # --- chunks -----------------------------------------------------------------------------------

    async def start_chunk(
        self, upload_id: str, index: int, holder: str, instance: str, lease: float
    ) -> ChunkStart:
        values = {
            "upload": upload_id, "idx": index, "name": f"chunk:{upload_id}:{index}",
            "holder": holder, "instance": instance, "lease": lease, "now": self._clock.now(),
        }  # fmt: skip
        # One statement: the upload's row is locked first (the main query reads `up` before the
        # unreferenced `bump` runs at its end). Taken: the upload is not idle, and a re-send of a
        # received chunk also counts a rewrite, its bytes may change under a digest.
        rows = await self._rows(
            "WITH up AS (SELECT state FROM uploads WHERE id = %(upload)s FOR NO KEY UPDATE), "
            "took AS ("
            + _TAKE.format(source=f"SELECT {_CLAIM_VALUES} FROM up WHERE state = 'receiving'")
            + " RETURNING 1), "
            "gone AS (DELETE FROM chunks WHERE upload_id = %(upload)s AND idx = %(idx)s "
            "AND EXISTS (SELECT FROM took) RETURNING 1), "
            "bump AS (UPDATE uploads SET received = received - (SELECT count(*) FROM gone), "
            "rewrites = rewrites + (SELECT count(*) FROM gone), updated_at = %(now)s "
            "WHERE id = %(upload)s AND EXISTS (SELECT FROM took)) "
            "SELECT (SELECT state FROM up), EXISTS (SELECT FROM took)",
            values,
        )
        state, took = rows[0]
        if state != State.RECEIVING.value:
            return ChunkStart.CLOSED
        return ChunkStart.CLAIMED if took else ChunkStart.BUSY

    async def end_chunk(self, upload_id: str, index: int, holder: str) -> int:
        values = {"upload": upload_id, "idx": index, "name": f"chunk:{upload_id}:{index}",
                  "holder": holder, "now": self._clock.now()}  # fmt: skip
        # One statement; the main UPDATE locks the upload's row (through `up`) before `added`
        # inserts, and the unreferenced `released` runs last.
        rows = await self._rows(
            "WITH up AS (SELECT id FROM uploads WHERE id = %(upload)s FOR NO KEY UPDATE), "
            "released AS (DELETE FROM claims WHERE name = %(name)s AND holder = %(holder)s), "
            "added AS (INSERT INTO chunks (upload_id, idx) SELECT id, %(idx)s FROM up "
            "ON CONFLICT DO NOTHING RETURNING 1) "
            "UPDATE uploads SET received = received + (SELECT count(*) FROM added), "
            "updated_at = %(now)s WHERE id = (SELECT id FROM up) RETURNING received",
            values,
        )
        return int(rows[0][0]) if rows else 0

    async def abandon_chunk(self, upload_id: str, index: int, holder: str) -> None:
        await self.release(f"chunk:{upload_id}:{index}", holder)

    async def received(self, upload_id: str) -> list[int]:
        rows = await self._rows(
            "SELECT idx FROM chunks WHERE upload_id = %s ORDER BY idx", (upload_id,)
        )
        return [int(r[0]) for r in rows]

    # --- claims and instances ---------------------------------------------------------------------

    async def claim(self, name: str, holder: str, instance: str, lease: float) -> bool:
        return await self._changed(
            _TAKE.format(source=f"VALUES ({_CLAIM_VALUES})"),
            {"name": name, "upload": None, "holder": holder, "instance": instance,
             "lease": lease},
        )  # fmt: skip

    async def release(self, name: str, holder: str) -> None:
        await self._changed("DELETE FROM claims WHERE name = %s AND holder = %s", (name, holder))

    async def is_claimed(self, name: str) -> bool:
        return bool(await self._rows(f"SELECT 1 FROM claims WHERE name = %s AND {_LIVE}", (name,)))

    async def heartbeat(self, instance: str, host: str, pid: int) -> None:
        await self._changed(
            f"INSERT INTO instances (id, host, pid, seen_at) VALUES (%s, %s, %s, {_NOW}) "
            "ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
            "seen_at = excluded.seen_at",
            (instance, host, pid),
        )

    async def forget_instances(self, instances: list[str]) -> None:
        await self._changed(
            "WITH gone AS (DELETE FROM instances WHERE id = ANY(%(ids)s)) "
            "DELETE FROM claims WHERE instance = ANY(%(ids)s)",
            {"ids": instances},
        )

    async def forget_silent(self, seconds: float) -> None:
        await self._changed(
            f"WITH gone AS (DELETE FROM instances WHERE seen_at < {_NOW} - %(seconds)s "
            "RETURNING id) DELETE FROM claims WHERE instance IN (SELECT id FROM gone)",
            {"seconds": seconds},
        )

    async def instances_on(self, host: str) -> dict[str, int]:
        rows = await self._rows("SELECT id, pid FROM instances WHERE host = %s", (host,))
        return {instance: pid for instance, pid in rows}

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()

    # --- contents ---------------------------------------------------------------------------------
    # The content steps are transactions of a few statements: the upload's row is locked first,
    # then the content's (by the upsert or update), always in that order, so two steps on one
    # content (a completion and a removal) happen one after the other, as SQLite's single
    # writer makes them.

    async def hold_content(self, upload_id: str, content: Content) -> Held:
        values = {"id": upload_id, "sha": content.sha256, "size": content.size}

        async def step(db: Connection) -> Held:
            async with db.transaction():
                row = await (
                    await db.execute(
                        "SELECT content FROM uploads WHERE id = %(id)s FOR NO KEY UPDATE", values
                    )
                ).fetchone()
                if row is None:
                    raise errors.NOT_FOUND("This upload was removed.")
                if row[0] is not None:  # counted already
                    assert row[0] == content.sha256, "an upload points to one content at most"
                    found = await db.execute(
                        "SELECT state FROM contents WHERE sha256 = %(sha)s", values
                    )
                    return Held((await found.fetchone() or ("absent",))[0])
                # The upsert locks the content's row; a removal holding it is waited for.
                counted = await (
                    await db.execute(
                        "INSERT INTO contents (sha256, size, refs, state) "
                        "VALUES (%(sha)s, %(size)s, 1, 'absent') "
                        "ON CONFLICT (sha256) DO UPDATE SET refs = contents.refs + 1 "
                        "WHERE contents.state <> 'removing' RETURNING state",
                        values,
                    )
                ).fetchone()
                if counted is None:
                    return Held.REMOVING
                await db.execute("UPDATE uploads SET content = %(sha)s WHERE id = %(id)s", values)
                return Held(counted[0])

        return await self._run(step)

    async def content_placed(self, sha256: str, key: str) -> str:
        values = {"key": key, "sha": sha256}

        async def step(db: Connection) -> str:
            async with db.transaction():
                placed = await db.execute(
                    "UPDATE contents SET state = 'present', placed_at = %(key)s "
                    "WHERE sha256 = %(sha)s AND state = 'absent' RETURNING placed_at",
                    values,
                )
                if await placed.fetchone() is not None:  # finished uploads of it whose file
                    await db.execute(  # went missing: here now
                        "UPDATE uploads SET storage_key = %(key)s "
                        "WHERE content = %(sha)s AND state = 'complete'",
                        values,
                    )
                    return key
                # Recorded first by another, whose commit this UPDATE may have waited for: a new
                # statement sees it (one statement's own reads would not, in READ COMMITTED).
                found = await db.execute(
                    "SELECT placed_at FROM contents WHERE sha256 = %(sha)s", values
                )
                row = await found.fetchone()
                return str((row or (None,))[0] or content_key(sha256))

        return await self._run(step)

    async def content(self, sha256: str) -> Content | None:
        sql = "SELECT size, placed_at FROM contents WHERE sha256 = %s"
        rows = await self._rows(sql, (sha256,))
        return Content(sha256, rows[0][0], rows[0][1]) if rows else None

    async def content_missing(self, sha256: str) -> None:
        await self._changed(
            "UPDATE contents SET state = 'absent', placed_at = NULL "
            "WHERE sha256 = %s AND state = 'present'",
            (sha256,),
        )

    async def unkeyed_contents(self) -> bool:
        return bool(await self._rows(f"SELECT 1 FROM contents WHERE {UNKEYED} LIMIT 1", ()))

    async def key_contents(self) -> None:
        await self._rows(f"UPDATE contents SET placed_at = {CONTENT_KEY} WHERE {UNKEYED}", ())

    async def release_content(self, upload_id: str) -> Content | None:
        async def step(db: Connection) -> Content | None:
            async with db.transaction():
                row = await (
                    await db.execute(
                        "SELECT content FROM uploads WHERE id = %s FOR NO KEY UPDATE", (upload_id,)
                    )
                ).fetchone()
                if row is None or row[0] is None:
                    return None
                await db.execute("UPDATE uploads SET content = NULL WHERE id = %s", (upload_id,))
                refs, size, placed_at = await (
                    await db.execute(
                        "UPDATE contents SET refs = refs - 1, "
                        "state = CASE WHEN refs = 1 THEN 'removing' ELSE state END "
                        "WHERE sha256 = %s RETURNING refs, size, placed_at",
                        (row[0],),
                    )
                ).fetchone() or (None, None, None)
                return Content(row[0], size, placed_at) if refs == 0 else None

        return await self._run(step, again=False)

    async def removals(self) -> list[Content]:
        rows = await self._rows(
            "SELECT sha256, size, placed_at FROM contents WHERE state = 'removing'", ()
        )
        return [Content(*row) for row in rows]

    async def open_uploads(self, owner: str) -> int:
        sql = "SELECT count(*) FROM uploads WHERE state = 'receiving' AND owner = %s"
        return int((await self._rows(sql, (owner,)))[0][0])

    async def content_refs(self, sha256: str) -> int:
        rows = await self._rows("SELECT refs FROM contents WHERE sha256 = %s", (sha256,))
        return int(rows[0][0]) if rows else 0

    async def is_removing(self, sha256: str) -> bool:
        return bool(
            await self._rows(
                "SELECT 1 FROM contents WHERE sha256 = %s AND state = 'removing'", (sha256,)
            )
        )

    async def forget_content(self, sha256: str) -> None:
        await self._changed(
            "DELETE FROM contents WHERE sha256 = %s AND state = 'removing' AND refs = 0",
            (sha256,),
        )

    async def owned_content(self, owner: str, sha256: str, size: int, now: float) -> Upload | None:
        found = await self._select(
            "owner = %s AND content = %s AND size = %s AND state = 'complete' "
            "AND (expires_at IS NULL OR expires_at > %s) AND EXISTS (SELECT FROM contents "
            "WHERE contents.sha256 = uploads.content AND contents.state = 'present') LIMIT 1",
            (owner, sha256, size, now),
        )
        return found[0] if found else None

    # --- listing ----------------------------------------------------------------------------------

    async def list_uploads(self, listing: Listing) -> Page:
        # ILIKE: ASCII letters match either case, as SQLite's LIKE; COLLATE "C": names in code
        # point order, as SQLite's (the database's own collation may be a language's).
        sql, values = listing_sql(
            listing,
            COLUMNS,
            lambda name: f"%({name})s",
            like="ILIKE",
            name_key='filename COLLATE "C"',
        )
        return page_of(await self._rows(sql, values), listing.limit, to_upload)

    # --- the admin page ---------------------------------------------------------------------------

    async def chunks_received(self, upload_ids: list[str]) -> dict[str, int]:
        if not upload_ids:
            return {}
        rows = await self._rows(
            "SELECT id, received FROM uploads WHERE id = ANY(%s)", (upload_ids,)
        )
        return {uid: int(received) for uid, received in rows}

    async def set_expiry(self, upload_id: str, expires_at: float | None, now: float) -> bool:
        return await self._changed(
            "UPDATE uploads SET expires_at = %s WHERE id = %s AND state = 'complete' "
            "AND (expires_at IS NULL OR expires_at > %s)",
            (expires_at, upload_id, now),
        )

    async def forget_abandoned(self) -> int:
        async def step(db: Connection) -> int:
            return (await db.execute(FORGET_ABANDONED)).rowcount

        return await self._run(step)

    async def summary(self, since: float) -> Summary:
        async def step(db: Connection) -> Summary:
            states = await (await db.execute(BY_STATE)).fetchall()
            stored = sum(size for state, _, size in states if state == State.COMPLETE.value)
            contents = await (await db.execute(CONTENTS)).fetchone()
            day = "floor(created_at / 86400)::bigint"
            days = await (await db.execute(by_day(day, "%s"), (since,))).fetchall()
            return summary_of(states, stored, contents[0] if contents else 0, days)

        return await self._run(step)

    # --- downloads --------------------------------------------------------------------------------
    # The upload's row is locked first (`FOR NO KEY UPDATE`), so reservations of one upload's
    # downloads, in any processes, happen one after another and each counts the others' claims.

    async def reserve_download(
        self, upload_id: str, name: str, holder: str, instance: str, lease: float
    ) -> Reserve:
        values = {
            "id": upload_id, "name": name, "upload": upload_id, "holder": holder,
            "instance": instance, "lease": lease,
        }  # fmt: skip

        async def step(db: Connection) -> Reserve:
            async with db.transaction():
                row = await (
                    await db.execute(
                        "SELECT state, downloads, max_downloads FROM uploads WHERE id = %(id)s "
                        "FOR NO KEY UPDATE",
                        values,
                    )
                ).fetchone()
                if row is None or row[0] != State.COMPLETE.value:
                    return Reserve.SPENT
                downloads, most = row[1], row[2]
                if most is not None:
                    if downloads >= most:
                        return Reserve.SPENT
                    counted = await (
                        await db.execute(
                            "SELECT count(*) FROM claims WHERE upload_id = %(id)s "
                            f"AND name LIKE 'download:%%' AND name <> %(name)s AND {_LIVE}",
                            values,
                        )
                    ).fetchone()
                    if downloads + (counted[0] if counted else 0) >= most:
                        return Reserve.BUSY
                taken = await db.execute(_TAKE.format(source=f"VALUES ({_CLAIM_VALUES})"), values)
                return Reserve.TAKEN if taken.rowcount == 1 else Reserve.BUSY

        return await self._run(step, again=False)

    async def count_download(
        self, upload_id: str, name: str | None, holder: str, now: float
    ) -> Upload | None:
        async def step(db: Connection) -> Upload | None:
            async with db.transaction():
                if name is not None:
                    await db.execute(
                        "DELETE FROM claims WHERE name = %s AND holder = %s", (name, holder)
                    )
                found = await (
                    await db.execute(
                        "UPDATE uploads SET downloads = downloads + 1, expires_at = CASE "
                        "WHEN max_downloads IS NOT NULL AND downloads + 1 >= max_downloads "
                        "AND (expires_at IS NULL OR expires_at > %(now)s) THEN %(now)s "
                        f"ELSE expires_at END WHERE id = %(id)s RETURNING {COLUMNS}",
                        {"id": upload_id, "now": now},
                    )
                ).fetchone()
                return to_upload(found) if found else None

        return await self._run(step, again=False)

    # --- accounts ---------------------------------------------------------------------------------

    async def add_account(self, account: Account) -> bool:
        return await self._changed(_pg(acc.INSERT_ACCOUNT), acc.account_values(account))

    async def account(self, name: str) -> Account | None:
        rows = await self._rows(_pg(acc.ACCOUNT), (name,))
        return acc.to_account(rows[0]) if rows else None

    async def accounts(self) -> list[Account]:
        rows = await self._rows(acc.ACCOUNTS, ())
        return sorted((acc.to_account(row) for row in rows), key=lambda a: a.name)

    async def has_accounts(self) -> bool:
        return bool(await self._rows(acc.ANY_ACCOUNT, ()))

    async def set_password(self, name: str, password_hash: str) -> bool:
        return await self._changed(_pg(acc.SET_PASSWORD), (password_hash, name))

    async def remove_account(self, name: str) -> bool:
        async def step(db: Connection) -> bool:
            async with db.transaction():
                await db.execute(_pg(acc.DELETE_TOKENS), (name,))
                return (await db.execute(_pg(acc.DELETE_ACCOUNT), (name,))).rowcount == 1

        return await self._run(step, again=False)

    async def add_token(self, token: Token) -> bool:
        async def step(db: Connection) -> bool:
            async with db.transaction():  # the account's row locked: one label per account
                await db.execute("SELECT 1 FROM accounts WHERE name = %s FOR UPDATE",
                                 (token.account,))  # fmt: skip
                values = (token.digest, token.account, token.label, token.created_at,
                          token.account, token.account, token.label)  # fmt: skip
                return (await db.execute(_pg(acc.INSERT_TOKEN), values)).rowcount == 1

        return await self._run(step, again=False)

    async def remove_token(self, account: str, label: str) -> bool:
        return await self._changed(_pg(acc.DELETE_TOKEN), (account, label), again=False)

    async def tokens(self, account: str) -> list[Token]:
        rows = await self._rows(_pg(acc.TOKENS), (account,))
        return sorted((acc.to_token(row) for row in rows), key=lambda t: t.label)

    async def token_account(self, digest: str, now: float) -> Account | None:
        rows = await self._rows(_pg(acc.TOKEN_ACCOUNT), (digest,))
        if not rows:
            return None
        if acc.stale(rows[0][6], now):  # a write only now and then: tokens come with every chunk
            await self._changed(_pg(acc.STAMP_TOKEN), (now, digest))
        return acc.to_account(rows[0])

    async def usage(self, account: str) -> Usage:
        return acc.to_usage((await self._rows(_pg(acc.USAGE), (account,)))[0])

    async def open_from(self, address: str) -> int:
        return int((await self._rows(_pg(acc.OPEN_FROM), (address,)))[0][0])

    # --- folders ----------------------------------------------------------------------------------

    async def in_folder(self, owner: str, folder: str, limit: int) -> list[Upload]:
        prefix = folder + "/"  # a comparison, not LIKE: no character of the name is special
        return await self._select(
            "owner = %s AND state = 'complete' AND left(relative_path, %s) = %s "
            'ORDER BY relative_path COLLATE "C", created_at, id LIMIT %s',
            (owner, len(prefix), prefix, limit),
        )


def _pg(statement: str) -> str:
    """A statement of `accounts_sql` with PostgreSQL's placeholders."""
    return statement.replace("?", "%s")
