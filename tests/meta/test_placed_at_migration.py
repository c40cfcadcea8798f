"""Migration 7 (where each content's file was placed) on data of commit f32f610, the one before
it, on both back ends.

tests/meta/legacy/f32f610.sql and f32f610.postgresql.sql were written by that commit's own
server, by `python scripts/legacy_dump.py f32f610`: `same.bin` and `again.bin` (the same bytes:
one content counted twice), `other.bin`, and `half.bin` with one of its two chunks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyfiledrop.core.contents import move_legacy_files
from pyfiledrop.core.interfaces import Held, Listing
from pyfiledrop.core.model import Content, State, content_key
from pyfiledrop.storage.local import LocalStorage
from tests.meta.test_access_migration import store_of


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_contents_of_the_commit_before_are_found_under_their_content_keys(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    make = store_of(backend, tmp_path, request, commit="f32f610")
    storage = LocalStorage(tmp_path / "chunks", tmp_path / "storage")

    async def check() -> None:
        meta = make()
        try:
            found = {u.filename: u for u in (await meta.list_uploads(Listing())).uploads}
            assert {name: u.state for name, u in found.items()} == {
                "same.bin": State.COMPLETE, "again.bin": State.COMPLETE,
                "other.bin": State.COMPLETE, "half.bin": State.RECEIVING,
            }  # fmt: skip
            same, other = found["same.bin"], found["other.bin"]
            assert same.content == found["again.bin"].content == same.sha256
            assert same.sha256 is not None and other.sha256 is not None
            assert await meta.content_refs(same.sha256) == 2
            assert await meta.content(same.sha256) == Content(same.sha256, 2200), "not keyed"
            assert (await meta.content(same.sha256) or same).key == same.storage_key
            assert await meta.unkeyed_contents()

            assert await move_legacy_files(meta, storage) == 0  # (their files are in place)
            assert not await meta.unkeyed_contents(), "keyed once: later starts skip the scan"
            for upload in (same, other):
                assert upload.sha256 is not None
                placed = content_key(upload.sha256)
                assert await meta.content(upload.sha256) == Content(
                    upload.sha256, upload.size or 0, placed
                )
                assert (await meta.get(upload.id)).storage_key == placed  # type: ignore[union-attr]

            # a new upload of the same bytes finds them in place
            fresh = found["half.bin"]
            assert await meta.hold_content(fresh.id, Content(same.sha256, 2200)) == Held.PRESENT
        finally:
            await meta.close()

    asyncio.run(check())
