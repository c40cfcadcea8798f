"""What only the PostgreSQL store has: a database server that goes away and comes back, and
psycopg's errors to translate."""

from __future__ import annotations

import asyncio
import time

import psycopg
import psycopg_pool
import pytest
from psycopg import errors as pg_errors

from pyfiledrop import errors
from pyfiledrop.meta.postgres import PostgresMetaStore, _translate
from tests.postgres import Cluster


def refuse_connections(cluster: Cluster, url: str, refuse: bool) -> None:
    """Cut every connection to the database at `url` and refuse (or again accept) new ones."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url(), autocommit=True) as db:
        db.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(not refuse).lower()}".encode())
        if refuse:
            db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def test_an_unreachable_database_is_a_503_and_the_store_recovers(
    pg_cluster: Cluster, pg_url: str
) -> None:
    async def go() -> None:
        meta = PostgresMetaStore(pg_url, pool_wait=1)
        try:
            await meta.heartbeat("i1", "h", 1)
            refuse_connections(pg_cluster, pg_url, True)
            with pytest.raises(errors.UploadError) as caught:
                await meta.instances_on("h")
            assert caught.value.kind == errors.STORAGE_BUSY
            assert caught.value.message.startswith("The server's database is unavailable")
            refuse_connections(pg_cluster, pg_url, False)
            deadline = time.monotonic() + 15
            while True:
                try:
                    assert await meta.instances_on("h") == {"i1": 1}
                    break
                except errors.UploadError:
                    assert time.monotonic() < deadline, "the store never reconnected"
                    await asyncio.sleep(0.2)
        finally:
            refuse_connections(pg_cluster, pg_url, False)
            await meta.close()

    asyncio.run(go())


def test_a_session_the_server_ended_is_replaced_unseen(pg_cluster: Cluster, pg_url: str) -> None:
    """After a database restart the pooled connections are dead; the next step uses a new one."""

    async def go() -> None:
        meta = PostgresMetaStore(pg_url)
        try:
            await meta.heartbeat("i1", "h", 1)
            refuse_connections(pg_cluster, pg_url, True)
            refuse_connections(pg_cluster, pg_url, False)
            assert await meta.instances_on("h") == {"i1": 1}
        finally:
            await meta.close()

    asyncio.run(go())


@pytest.mark.parametrize(
    ("native", "kind"),
    [
        (psycopg.OperationalError("connection refused"), errors.STORAGE_BUSY),
        (psycopg_pool.PoolTimeout("no connection"), errors.STORAGE_BUSY),
        (pg_errors.AdminShutdown("terminating connection"), errors.STORAGE_BUSY),
        (pg_errors.DiskFull("could not extend file"), errors.STORAGE_FULL),
        (pg_errors.DeadlockDetected("deadlock"), errors.STORAGE_BUSY),
        (pg_errors.TooManyConnections("too many"), errors.STORAGE_BUSY),
        (pg_errors.UniqueViolation("duplicate key"), errors.STORAGE_FAILED),
        (pg_errors.InsufficientPrivilege("permission denied"), errors.STORAGE_FAILED),
    ],
)
def test_psycopg_errors_become_catalogue_errors(native: Exception, kind: errors.ErrorKind) -> None:
    translated = _translate(native)
    assert translated.kind == kind
    assert "connection" not in translated.message, "a person never sees the database's words"
