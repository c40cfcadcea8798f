"""Migration 6 (who uploaded, who may download, accounts) on data of commit a712584, the one
before it, on both back ends.

tests/meta/legacy/a712584.sql and a712584.postgresql.sql were written by that commit's own server
(`git archive a712584`, local storage, then with --database postgresql://; pg_dump's
`\\restrict` lines, psql commands, left out): a finished plain
upload (`done.bin`, with an expiry), a chunked upload with one of its two chunks (`half.bin`), a
tus upload with 8 of its 100 bytes (`tus.bin`) and a cancelled one (`cancelled.bin`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from pyfiledrop.core.interfaces import Listing, MetaStore
from pyfiledrop.core.model import State
from pyfiledrop.meta.postgres import PostgresMetaStore
from pyfiledrop.meta.sqlite import SQLiteMetaStore
from tests.meta.test_migrations import LEGACY

COMMIT = "a712584"


def store_of(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, commit: str = COMMIT
) -> Callable[[], MetaStore]:
    """Opens a store on the data `commit` wrote (tests/meta/legacy/), migrated as it opens."""
    if backend == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        with psycopg.connect(url, autocommit=True) as db:
            db.execute((LEGACY / f"{commit}.postgresql.sql").read_text().encode())
        return lambda: PostgresMetaStore(url)
    path = tmp_path / "meta.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript((LEGACY / f"{commit}.sql").read_text())
    return lambda: SQLiteMetaStore(path)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_uploads_of_the_commit_before_keep_their_data_and_get_the_new_fields_empty(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    make = store_of(backend, tmp_path, request)

    async def check() -> None:
        meta = make()
        try:
            page = await meta.list_uploads(Listing())
            found = {u.filename: u for u in page.uploads}
            assert {name: u.state for name, u in found.items()} == {
                "done.bin": State.COMPLETE, "half.bin": State.RECEIVING,
                "tus.bin": State.RECEIVING, "cancelled.bin": State.DELETED,
            }  # fmt: skip
            done = found["done.bin"]
            assert done.content == done.sha256 and done.expires_at is not None
            assert await meta.content_refs(done.sha256 or "") == 1
            assert found["tus.bin"].offset == 8 and found["tus.bin"].protocol == "tus"
            assert await meta.received(found["half.bin"].id) == [0]
            for upload in found.values():  # nobody knew these then
                assert (upload.address, upload.account, upload.relative_path) == (None,) * 3
                assert (upload.download_password, upload.max_downloads) == (None, None)
                assert (upload.downloads, upload.delete_key) == (0, None)

            # a new upload with every new field set reads back as it was written
            made = replace(
                done, id="f" * 32, client_id=None, download_token="N" * 32, content=None,
                state=State.RECEIVING, address="192.0.2.7", account="ann",
                relative_path="photos/2024/a.jpg", download_password="$argon2id$v=19$x",
                max_downloads=3, downloads=0, delete_key="d" * 64, created_at=time.time(),
            )  # fmt: skip
            assert await meta.create_or_get(made) == made
            assert await meta.get("f" * 32) == made
        finally:
            await meta.close()

    asyncio.run(check())
