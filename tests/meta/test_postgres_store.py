"""What only the PostgreSQL store has: a database server that goes away and comes back."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from pyfiledrop import errors
from pyfiledrop.meta.postgres import PostgresMetaStore
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
