"""The MetaStore contract, run against every implementation (SQLite today)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyfiledrop.core.interfaces import MetaStore
from pyfiledrop.core.model import Layout, State, Upload
from pyfiledrop.meta.sqlite import SQLiteMetaStore


@pytest.fixture(params=["sqlite"])
def meta(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetaStore]:
    store = SQLiteMetaStore(tmp_path / "meta.sqlite3")
    yield store
    store.close()


def upload(uid: str, client_id: str | None = "c-1", owner: str = "alice") -> Upload:
    now = time.time()
    return Upload(
        id=uid, client_id=client_id, owner=owner, filename="a.bin", content_type="x/y",
        layout=Layout(10, 4, 3), state=State.RECEIVING, created_at=now, updated_at=now,
    )  # fmt: skip


def test_create_or_get_keeps_the_first_upload_for_a_client_id(meta: MetaStore) -> None:
    first = meta.create_or_get(upload("u1"))
    second = meta.create_or_get(upload("u2", owner="mallory"))
    assert first.id == second.id == "u1"
    assert second.owner == "alice"
    assert meta.get("u2") is None


def test_uploads_without_client_id_are_all_kept(meta: MetaStore) -> None:
    meta.create_or_get(upload("u1", client_id=None))
    meta.create_or_get(upload("u2", client_id=None))
    assert meta.get("u1") and meta.get("u2")


def test_chunks_are_a_set(meta: MetaStore) -> None:
    meta.create_or_get(upload("u1"))
    assert meta.record_chunk("u1", 2) == 1
    assert meta.record_chunk("u1", 2) == 1
    assert meta.record_chunk("u1", 0) == 2
    meta.forget_chunk("u1", 2)
    meta.forget_chunk("u1", 2)
    assert meta.received("u1") == [0]
    assert meta.record_chunk("u1", 1) == 2


def test_move_is_a_compare_and_set(meta: MetaStore) -> None:
    meta.create_or_get(upload("u1"))
    assert meta.move("u1", State.RECEIVING, State.ASSEMBLING)
    assert not meta.move("u1", State.RECEIVING, State.ASSEMBLING)
    assert meta.move("u1", State.ASSEMBLING, State.COMPLETE, sha256="ab", download_token="t" * 32)
    done = meta.get("u1")
    assert done is not None and done.state == State.COMPLETE and done.sha256 == "ab"
    assert meta.get_by_token("t" * 32) == done
    assert meta.in_state(State.COMPLETE) == [done]
    assert meta.in_state(State.RECEIVING) == []


def test_move_can_set_the_layout(meta: MetaStore) -> None:
    meta.create_or_get(upload("u1"))
    assert meta.move("u1", State.RECEIVING, State.ASSEMBLING, layout=Layout(7, 7, 1))
    found = meta.get("u1")
    assert found is not None and found.layout == Layout(7, 7, 1)
