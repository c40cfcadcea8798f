"""The MetaStore contract, run against every implementation (SQLite and PostgreSQL).

Two store objects on one database stand for two server processes. Every test closes its stores
inside the event loop that used them (a PostgreSQL store's connections belong to that loop).
The stores stamp records with `opener.clock`, which only the tests move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pyfiledrop.core.accounts import Account, Token
from pyfiledrop.core.interfaces import ChunkStart, Held, Listing, MetaStore, Reserve, Sort
from pyfiledrop.core.model import Content, Layout, State, Upload
from pyfiledrop.meta.postgres import PostgresMetaStore
from pyfiledrop.meta.sqlite import SQLiteMetaStore
from tests.clock import FakeClock


class Opener:
    """Opens stores on one database and closes them all."""

    def __init__(self, make: Callable[[FakeClock], MetaStore]) -> None:
        self._make = make
        self.clock = FakeClock()
        self.opened: list[MetaStore] = []

    def __call__(self) -> MetaStore:
        store = self._make(self.clock)
        self.opened.append(store)
        return store

    async def close(self) -> None:
        while self.opened:
            await self.opened.pop().close()


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        stores = Opener(lambda clock: PostgresMetaStore(url, clock=clock))
    else:
        stores = Opener(lambda clock: SQLiteMetaStore(tmp_path / "meta.sqlite3", clock))
    yield stores
    asyncio.run(stores.close())


def drive(opener: Opener, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` in a new event loop and close the stores it opened there."""

    async def go() -> None:
        try:
            await work()
        finally:
            await opener.close()

    asyncio.run(go())


def upload(uid: str, client_id: str | None = "c-1", owner: str = "alice") -> Upload:
    now = time.time()
    return Upload(
        id=uid, client_id=client_id, owner=owner, filename="a.bin", content_type="x/y",
        layout=Layout(10, 4, 3), state=State.RECEIVING, created_at=now, updated_at=now,
    )  # fmt: skip


def run(test: Callable[[MetaStore], Awaitable[None]], opener: Opener) -> None:
    async def go() -> None:
        await test(opener())

    drive(opener, go)


def test_create_or_get_keeps_the_first_upload_for_a_client_id(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        first = await meta.create_or_get(upload("u1"))
        second = await meta.create_or_get(upload("u2", owner="mallory"))
        assert first.id == second.id == "u1"
        assert second.owner == "alice"
        assert await meta.get("u2") is None

    run(test, opener)


def test_racing_creators_get_one_upload(opener: Opener) -> None:
    async def go() -> None:
        a, b = opener(), opener()
        made = await asyncio.gather(
            *(store.create_or_get(upload(f"u{n}")) for n, store in enumerate([a, b] * 5))
        )
        assert len({m.id for m in made}) == 1

    drive(opener, go)


def test_uploads_without_client_id_are_all_kept(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await meta.create_or_get(upload("u1", client_id=None))
        await meta.create_or_get(upload("u2", client_id=None))
        assert await meta.get("u1") and await meta.get("u2")

    run(test, opener)


async def beating(meta: MetaStore, *instances: str) -> None:
    for instance in instances:
        await meta.heartbeat(instance, "host", 1)


def test_chunks_are_a_set_and_a_resend_counts_as_a_rewrite(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1")
        await meta.create_or_get(upload("u1"))
        for index in (2, 0):
            assert await meta.start_chunk("u1", index, "h", "i1", 60) == ChunkStart.CLAIMED
            await meta.end_chunk("u1", index, "h")
        assert await meta.end_chunk("u1", 2, "h") == 2, "recording twice counts once"
        assert (await meta.get("u1")).rewrites == 0  # type: ignore[union-attr]
        assert await meta.start_chunk("u1", 2, "h", "i1", 60) == ChunkStart.CLAIMED
        assert await meta.received("u1") == [0], "a chunk being re-sent is not received"
        assert (await meta.get("u1")).rewrites == 1  # type: ignore[union-attr]
        assert await meta.end_chunk("u1", 2, "h") == 2
        assert await meta.received("u1") == [0, 2]

    run(test, opener)


def test_a_chunk_has_one_live_writer_across_stores(opener: Opener) -> None:
    async def go() -> None:
        a, b = opener(), opener()
        await beating(a, "ia", "ib")
        await a.create_or_get(upload("u1"))
        assert await a.start_chunk("u1", 0, "ha", "ia", 60) == ChunkStart.CLAIMED
        assert await b.start_chunk("u1", 0, "hb", "ib", 60) == ChunkStart.BUSY
        assert await b.start_chunk("u1", 1, "hb", "ib", 60) == ChunkStart.CLAIMED
        await a.abandon_chunk("u1", 0, "ha")
        assert await b.start_chunk("u1", 0, "hb", "ib", 60) == ChunkStart.CLAIMED

    drive(opener, go)


def test_claims_of_expired_leases_and_dead_instances_are_free(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1", "i2")
        assert await meta.claim("job", "h1", "i1", 0.05)
        assert not await meta.claim("job", "h2", "i2", 60)
        assert await meta.claim("job", "h1", "i1", 60), "the holder may renew"
        await asyncio.sleep(0.1)
        assert await meta.is_claimed("job")
        await meta.forget_instances(["i1"])
        assert not await meta.is_claimed("job")
        assert await meta.claim("job", "h2", "i2", 0.05)
        await asyncio.sleep(0.1)
        assert not await meta.is_claimed("job"), "an expired lease is free"
        assert await meta.claim("job", "h3", "i2", 60)
        await meta.release("job", "h2")
        assert await meta.is_claimed("job"), "only the holder releases"
        await meta.release("job", "h3")
        assert not await meta.is_claimed("job")

    run(test, opener)


def test_claims_of_an_instance_that_never_beat_are_not_live(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        assert await meta.claim("job", "h1", "ghost", 60)
        assert not await meta.is_claimed("job")

    run(test, opener)


def test_instances_on_a_host(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await meta.heartbeat("i1", "here", 11)
        await meta.heartbeat("i2", "there", 12)
        assert await meta.instances_on("here") == {"i1": 11}

    run(test, opener)


def test_instances_silent_for_long_are_forgotten_with_their_claims(opener: Opener) -> None:
    """A process on a host that vanished: no pid to reap it by, so only its silence tells."""

    async def test(meta: MetaStore) -> None:
        await meta.heartbeat("old", "vanished", 7)
        assert await meta.claim("job", "h-old", "old", 3600)
        await meta.create_or_get(upload("u1"))
        assert await meta.start_chunk("u1", 0, "h-old", "old", 3600) == ChunkStart.CLAIMED
        await asyncio.sleep(1.0)
        await meta.heartbeat("new", "here", 8)
        assert await meta.claim("own", "h-new", "new", 3600)
        assert await meta.is_claimed("job"), "silent for less than the grace: still live"
        await meta.forget_silent(0.5)
        assert await meta.instances_on("vanished") == {}
        assert await meta.instances_on("here") == {"new": 8}
        assert not await meta.is_claimed("job")
        assert await meta.start_chunk("u1", 0, "h-new", "new", 60) == ChunkStart.CLAIMED
        assert await meta.is_claimed("own"), "a live instance keeps its claims"
        await meta.heartbeat("old", "vanished", 7)  # back after all: its claims stay gone
        assert not await meta.is_claimed("job")

    run(test, opener)


def test_start_chunk_refuses_an_upload_that_is_not_receiving(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1")
        assert await meta.start_chunk("nope", 0, "h", "i1", 60) == ChunkStart.CLOSED
        await meta.create_or_get(upload("u1"))
        assert await meta.move("u1", State.RECEIVING, State.ASSEMBLING)
        assert await meta.start_chunk("u1", 0, "h", "i1", 60) == ChunkStart.CLOSED

    run(test, opener)


def test_move_is_a_compare_and_set(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await meta.create_or_get(upload("u1"))
        moved = await meta.move("u1", State.RECEIVING, State.ASSEMBLING)
        assert moved is not None and moved == await meta.get("u1"), "the upload as moved"
        assert moved.state == State.ASSEMBLING
        assert await meta.move("u1", State.RECEIVING, State.ASSEMBLING) is None
        token = "t" * 32
        done = await meta.move(
            "u1", State.ASSEMBLING, State.COMPLETE, sha256="ab", download_token=token
        )
        assert done is not None and done.state == State.COMPLETE and done.sha256 == "ab"
        assert done == await meta.get("u1")
        assert await meta.get_by_token(token) == done
        assert await meta.in_state(State.COMPLETE) == [done]
        assert await meta.in_state(State.RECEIVING) == []

    run(test, opener)


def test_move_can_set_the_layout_and_errors_can_be_noted(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await meta.create_or_get(upload("u1"))
        assert await meta.move("u1", State.RECEIVING, State.ASSEMBLING, layout=Layout(7, 7, 1))
        await meta.note_error("u1", "waiting")
        found = await meta.get("u1")
        assert found is not None and found.layout == Layout(7, 7, 1) and found.error == "waiting"
        await meta.note_error("u1", None)
        assert (await meta.get("u1")).error is None  # type: ignore[union-attr]

    run(test, opener)


def test_offsets_and_deferred_lengths_are_compare_and_set(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        fresh = upload("u1", client_id=None)
        await meta.create_or_get(Upload(**{**fresh.__dict__, "layout": None}))
        assert await meta.set_offset("u1", 0, 5)
        assert not await meta.set_offset("u1", 0, 9)
        assert await meta.set_layout("u1", Layout(9, 9, 1))
        assert not await meta.set_layout("u1", Layout(8, 8, 1))
        found = await meta.get("u1")
        assert found is not None and found.offset == 5 and found.size == 9

    run(test, opener)


def test_delete_forgets_chunks_and_claims(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1")
        await meta.create_or_get(upload("u1"))
        await meta.start_chunk("u1", 0, "h", "i1", 60)
        await meta.delete("u1")
        await meta.delete("u1")
        assert await meta.get("u1") is None and await meta.received("u1") == []
        await meta.create_or_get(upload("u1"))
        assert await meta.start_chunk("u1", 0, "h2", "i1", 60) == ChunkStart.CLAIMED

    run(test, opener)


def test_whole_lists_receiving_uploads_with_every_byte_in(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1")
        await meta.create_or_get(upload("u1", client_id="a"))  # 3 chunks
        await meta.create_or_get(upload("u2", client_id="b"))
        for index in range(3):
            await meta.start_chunk("u1", index, "h", "i1", 60)
            await meta.end_chunk("u1", index, "h")
        await meta.start_chunk("u2", 0, "h", "i1", 60)
        await meta.end_chunk("u2", 0, "h")
        stream = Upload(**{**upload("s1", client_id=None).__dict__, "protocol": "tus"})
        partial = Upload(**{**upload("s2", client_id=None).__dict__, "protocol": "tus"})
        await meta.create_or_get(stream)
        await meta.create_or_get(Upload(**{**partial.__dict__, "concat": "partial"}))
        for uid in ("s1", "s2"):
            assert await meta.set_offset(uid, 0, 10)
        assert sorted(u.id for u in await meta.whole()) == ["s1", "u1"]
        await meta.move("u1", State.RECEIVING, State.ASSEMBLING)
        assert [u.id for u in await meta.whole()] == ["s1"]

    run(test, opener)


def test_a_chunk_of_a_deleted_upload_is_not_recorded(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1")
        await meta.create_or_get(upload("u1"))
        await meta.start_chunk("u1", 0, "h", "i1", 60)
        await meta.delete("u1")
        assert await meta.end_chunk("u1", 0, "h") == 0
        assert await meta.received("u1") == []

    run(test, opener)


def test_racing_chunk_writers_on_two_stores_keep_the_count_exact(opener: Opener) -> None:
    """Every chunk sent by several writers at once through two stores: one writer at a time per
    chunk, no deadlock, and the count of received chunks is the set's size."""

    async def go() -> None:
        stores = [opener(), opener()]
        await beating(stores[0], "i0", "i1")
        await stores[0].create_or_get(upload("u1"))
        counts: list[int] = []
        writing: set[int] = set()

        async def writer(n: int) -> None:
            meta = stores[n % 2]
            for index in [(n + k) % 12 for k in range(12)]:
                holder = f"h{n}"
                while await meta.start_chunk("u1", index, holder, f"i{n % 2}", 60) != (
                    ChunkStart.CLAIMED
                ):
                    await asyncio.sleep(0.001)
                assert index not in writing, "two live writers on one chunk"
                writing.add(index)
                await asyncio.sleep(0)
                writing.discard(index)
                counts.append(await meta.end_chunk("u1", index, holder))

        await asyncio.gather(*(writer(n) for n in range(6)))
        assert await stores[1].received("u1") == list(range(12))
        assert await stores[1].end_chunk("u1", 0, "nobody") == 12
        assert max(counts) == 12

    drive(opener, go)


# --- expiry and the clean-up ----------------------------------------------------------------------


def test_expired_lists_complete_uploads_past_their_expiry(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        now = opener.clock.now()
        for uid, expires in (("u1", now + 10), ("u2", now + 20), ("u3", None)):
            await meta.create_or_get(upload(uid, client_id=uid))
            await meta.move(uid, State.RECEIVING, State.ASSEMBLING)
            await meta.move(uid, State.ASSEMBLING, State.COMPLETE, expires_at=expires)
        await meta.create_or_get(upload("u4", client_id="u4"))
        assert (await meta.get("u1")).expires_at == now + 10  # type: ignore[union-attr]
        assert await meta.expired(now + 9) == []
        assert [u.id for u in await meta.expired(now + 10)] == ["u1"]
        assert sorted(u.id for u in await meta.expired(now + 10**9)) == ["u1", "u2"]
        assert await meta.move(
            "u1", State.COMPLETE, State.EXPIRED, removed_at=now + 11, freed_bytes=10
        )
        gone = await meta.get("u1")
        assert gone is not None and gone.state == State.EXPIRED
        assert (gone.removed_at, gone.freed_bytes) == (now + 11, 10)
        assert [u.id for u in await meta.expired(now + 10**9)] == ["u2"]

    run(test, opener)


def test_chunks_and_offsets_keep_an_upload_from_being_idle(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        await beating(meta, "i1")
        start = clock.now()
        await meta.create_or_get(upload("u1", client_id="a"))
        await meta.create_or_get(Upload(**{**upload("s1", None).__dict__, "protocol": "tus"}))
        await meta.create_or_get(upload("f1", client_id="b"))
        await meta.move("f1", State.RECEIVING, State.FAILED, error="broken")
        await meta.create_or_get(upload("c1", client_id="c"))
        await meta.move("c1", State.RECEIVING, State.ASSEMBLING)
        clock.advance(100)
        assert sorted(u.id for u in await meta.idle_since(start + 1)) == ["f1", "s1", "u1"]
        assert await meta.start_chunk("u1", 0, "h", "i1", 60) == ChunkStart.CLAIMED
        assert [u.updated_at for u in await meta.idle_since(clock.now() + 1) if u.id == "u1"] == [
            clock.now()
        ], "a chunk that starts refreshes updated_at"
        clock.advance(100)
        await meta.end_chunk("u1", 0, "h")
        assert await meta.set_offset("s1", 0, 4)
        assert [u.id for u in await meta.idle_since(clock.now())] == ["f1"]

    run(test, opener)


def test_abandon_takes_only_an_idle_upload_with_no_chunk_being_written(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        await beating(meta, "i1")
        await meta.create_or_get(upload("u1"))
        assert await meta.start_chunk("u1", 0, "h", "i1", 3600) == ChunkStart.CLAIMED
        clock.advance(100)
        cutoff, now = clock.now() - 50, clock.now()
        assert not await meta.abandon("u1", State.RECEIVING, cutoff, now, 4), "a chunk is live"
        await meta.abandon_chunk("u1", 0, "h")
        assert not await meta.abandon("u1", State.FAILED, cutoff, now, 4), "not in that state"
        assert not await meta.abandon("u1", State.RECEIVING, cutoff - 60, now, 4), "not idle"
        assert await meta.abandon("u1", State.RECEIVING, cutoff, now, 4)
        assert not await meta.abandon("u1", State.RECEIVING, cutoff, now, 4)
        gone = await meta.get("u1")
        assert gone is not None and gone.state == State.ABANDONED
        assert (gone.removed_at, gone.freed_bytes) == (now, 4)
        assert await meta.start_chunk("u1", 1, "h", "i1", 60) == ChunkStart.CLOSED
        assert await meta.idle_since(now + 10**9) == [], "abandoned uploads are not idle"

    run(test, opener)


def test_abandon_and_a_starting_chunk_never_both_win(opener: Opener) -> None:
    """The clean-up in one process and a chunk in another, at once, many times: either the
    chunk starts and the upload stays, or the upload is abandoned and the chunk is refused."""

    async def go() -> None:
        a, b = opener(), opener()
        await beating(a, "ia", "ib")
        clock = opener.clock
        for n in range(40):
            uid = f"u{n}"
            await a.create_or_get(upload(uid, client_id=uid))
            clock.advance(10)
            cutoff = clock.now() - 5
            started, abandoned = await asyncio.gather(
                b.start_chunk(uid, 0, f"h{n}", "ib", 60),
                a.abandon(uid, State.RECEIVING, cutoff, clock.now(), 0),
            )
            assert (started == ChunkStart.CLAIMED) != abandoned, (n, started, abandoned)

    drive(opener, go)


# --- contents: stored once, counted by the uploads that point to them -----------------------------

X = Content("ab" * 32, 10)
PLACED = replace(X, placed_at=X.key)  # as local disk places it


async def refs_of(meta: MetaStore, content: Content, uploads: list[str]) -> int:
    """How many of `uploads` point to `content`, as the store records them."""
    return sum([(await meta.get(u)).content == content.sha256 for u in uploads])  # type: ignore[union-attr]


def test_hold_counts_an_upload_once_and_the_last_release_marks_removing(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        for uid in ("u1", "u2"):
            await meta.create_or_get(upload(uid, client_id=uid))
        assert await meta.hold_content("u1", X) == Held.ABSENT, "new: the holder places it"
        assert await meta.hold_content("u1", X) == Held.ABSENT, "held twice, counted once"
        await meta.content_placed(X.sha256, X.key)
        assert await meta.hold_content("u2", X) == Held.PRESENT
        assert (await meta.get("u2")).content == X.sha256  # type: ignore[union-attr]
        assert await meta.release_content("u1") is None, "u2 still points to it"
        assert await meta.release_content("u1") is None, "released twice, counted once"
        assert await meta.removals() == []
        assert await meta.release_content("u2") == PLACED, "the last one lets it go"
        assert (await meta.get("u2")).content is None  # type: ignore[union-attr]
        assert await meta.removals() == [PLACED] and await meta.is_removing(X.sha256)

    run(test, opener)


def test_the_first_copy_placed_is_recorded_and_finished_uploads_follow_a_new_one(
    opener: Opener,
) -> None:
    """As on S3, where each upload's copy stays under its own key."""

    async def test(meta: MetaStore) -> None:
        for uid in ("u1", "u2", "u3"):
            await meta.create_or_get(upload(uid, client_id=uid))
        assert await meta.hold_content("u1", X) == Held.ABSENT
        assert await meta.hold_content("u2", X) == Held.ABSENT, "both place their copies"
        assert await meta.content_placed(X.sha256, "u1") == "u1"
        assert await meta.content_placed(X.sha256, "u2") == "u1", "the first recorded stays"
        assert await meta.content(X.sha256) == replace(X, placed_at="u1")
        assert await meta.content("cd" * 32) is None
        for uid in ("u1", "u2"):
            await meta.move(uid, State.RECEIVING, State.ASSEMBLING)
            await meta.move(uid, State.ASSEMBLING, State.COMPLETE, storage_key="u1")
        await meta.content_missing(X.sha256)  # the file was removed by hand
        assert await meta.content(X.sha256) == X, "where it was is forgotten"
        assert await meta.hold_content("u3", X) == Held.ABSENT
        assert await meta.content_placed(X.sha256, "u3") == "u3"
        for uid in ("u1", "u2"):  # their downloads find the new copy
            assert (await meta.get(uid)).storage_key == "u3"  # type: ignore[union-attr]
        assert (await meta.get("u3")).storage_key is None, "not finished: the finisher's"  # type: ignore[union-attr]
        for uid in ("u1", "u2"):
            assert await meta.release_content(uid) is None
        assert await meta.release_content("u3") == replace(X, placed_at="u3")
        assert await meta.removals() == [replace(X, placed_at="u3")]

    run(test, opener)


# --- listing (pyfiledrop ls, the admin page) ------------------------------------------------------


async def listed(meta: MetaStore, **query: Any) -> list[str]:
    """The ids of every page of a listing, walked with pages of two."""
    ids: list[str] = []
    listing = Listing(limit=2, **query)
    while True:
        page = await meta.list_uploads(listing)
        assert len(page.uploads) <= 2
        ids += [u.id for u in page.uploads]
        if page.next is None:
            return ids
        listing = replace(listing, after=page.next)


async def made(meta: MetaStore, clock: FakeClock, uid: str, **fields: Any) -> None:
    """An upload made now by the clock, which then moves on a second."""
    now = clock.now()
    fresh = replace(upload(uid, client_id=uid), created_at=now, updated_at=now, **fields)
    await meta.create_or_get(fresh)
    clock.advance(1)


def test_list_filters_by_state_age_name_and_owner(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        start = clock.now()
        await made(meta, clock, "u1", filename="Holiday 100%.mp4")
        await made(meta, clock, "u2", filename="holiday_2.MP4", owner="bob")
        await made(meta, clock, "u3", filename="holidayX2.mp4")
        await made(meta, clock, "u4", filename="back\\up.zip")
        await meta.move("u2", State.RECEIVING, State.FAILED, error="x")
        await meta.move("u3", State.RECEIVING, State.ASSEMBLING)
        assert await listed(meta) == ["u1", "u2", "u3", "u4"]
        assert await listed(meta, states=(State.FAILED, State.ASSEMBLING)) == ["u2", "u3"]
        assert await listed(meta, states=(State.EXPIRED,)) == []
        assert await listed(meta, created_before=start + 2) == ["u1", "u2"]
        assert await listed(meta, created_after=start + 2) == ["u3", "u4"]
        assert await listed(meta, created_after=start + 1, created_before=start + 3) == [
            "u2", "u3"
        ]  # fmt: skip
        assert await listed(meta, name_contains="HOLIDAY") == ["u1", "u2", "u3"], "any case"
        assert await listed(meta, name_contains="mp4") == ["u1", "u2", "u3"]
        assert await listed(meta, name_contains="_2") == ["u2"], "_ is no wildcard"
        assert await listed(meta, name_contains="0%") == ["u1"], "% is no wildcard"
        assert await listed(meta, name_contains="%") == ["u1"]
        assert await listed(meta, name_contains="k\\u") == ["u4"], "\\ is no escape"
        assert await listed(meta, name_contains="nowhere") == []
        assert await listed(meta, owner="bob") == ["u2"]
        assert await listed(meta, owner="bob", states=(State.RECEIVING,)) == []
        assert await listed(meta, owner="alice", name_contains="holiday") == ["u1", "u3"]

    run(test, opener)


def test_a_content_being_removed_is_not_held_until_forgotten(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        for uid in ("u1", "u2"):
            await meta.create_or_get(upload(uid, client_id=uid))
        await meta.hold_content("u1", X)
        await meta.content_placed(X.sha256, X.key)
        assert await meta.release_content("u1") == PLACED
        assert await meta.hold_content("u2", X) == Held.REMOVING
        assert (await meta.get("u2")).content is None, "nothing changed"  # type: ignore[union-attr]
        await meta.forget_content(X.sha256)
        assert not await meta.is_removing(X.sha256)
        assert await meta.hold_content("u2", X) == Held.ABSENT, "stored anew"

    run(test, opener)


def test_open_uploads_counts_an_owners_receiving_uploads(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        for uid, owner in (("u1", "alice"), ("u2", "alice"), ("u3", "alice"), ("u4", "bob")):
            await meta.create_or_get(upload(uid, client_id=uid, owner=owner))
        await meta.move("u3", State.RECEIVING, State.ASSEMBLING)
        assert await meta.open_uploads("alice") == 2
        assert await meta.open_uploads("bob") == 1
        assert await meta.open_uploads("carol") == 0

    run(test, opener)


def test_content_refs_counts_the_uploads_pointing_to_it(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        assert await meta.content_refs(X.sha256) == 0, "unknown content"
        for uid in ("u1", "u2", "u3"):
            await meta.create_or_get(upload(uid, client_id=uid))
            await meta.hold_content(uid, X)
        await meta.hold_content("u1", X)  # counted once per upload
        assert await meta.content_refs(X.sha256) == 3
        await meta.release_content("u2")
        assert await meta.content_refs(X.sha256) == 2

    run(test, opener)


def test_list_sorts_each_way_with_ties_in_id_order(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        for uid, name, size in (("u4", "b.bin", 5), ("u2", "B.bin", None), ("u1", "a.bin", 5),
                                ("u3", "été.bin", 900), ("u5", "a.bin", 0)):  # fmt: skip
            layout = None if size is None else Layout(size, 4, Layout.expected_count(size, 4))
            await made(meta, clock, uid, filename=name, layout=layout)
        clock.advance(10)
        await meta.note_error("u4", "touched")  # updated last
        assert await listed(meta) == ["u4", "u2", "u1", "u3", "u5"]
        assert await listed(meta, descending=True) == ["u5", "u3", "u1", "u2", "u4"]
        assert await listed(meta, sort=Sort.UPDATED) == ["u2", "u1", "u3", "u5", "u4"]
        assert await listed(meta, sort=Sort.NAME) == ["u2", "u1", "u5", "u4", "u3"], (
            "code point order: B < a < b < é, ties by id"
        )
        assert await listed(meta, sort=Sort.NAME, descending=True) == ["u3", "u4", "u5", "u1",
                                                                       "u2"]  # fmt: skip
        assert await listed(meta, sort=Sort.SIZE) == ["u2", "u5", "u1", "u4", "u3"], (
            "no size yet sorts first"
        )
        assert await listed(meta, sort=Sort.SIZE, descending=True) == ["u3", "u4", "u1", "u5",
                                                                       "u2"]  # fmt: skip

    run(test, opener)


def test_a_missing_file_makes_its_content_absent_again(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        for uid in ("u1", "u2"):
            await meta.create_or_get(upload(uid, client_id=uid))
        await meta.hold_content("u1", X)
        await meta.content_placed(X.sha256, X.key)
        await meta.content_missing(X.sha256)
        assert await meta.hold_content("u2", X) == Held.ABSENT, "the next copy puts it back"

    run(test, opener)


def test_owned_content_answers_only_for_the_owner_complete_unexpired_and_present(
    opener: Opener,
) -> None:
    async def test(meta: MetaStore) -> None:
        now = opener.clock.now()
        await meta.create_or_get(upload("u1", client_id="u1", owner="alice"))
        await meta.hold_content("u1", X)
        await meta.move("u1", State.RECEIVING, State.ASSEMBLING)
        assert await meta.owned_content("alice", X.sha256, X.size, now) is None, "not complete"
        await meta.move("u1", State.ASSEMBLING, State.COMPLETE, expires_at=now + 60)
        assert await meta.owned_content("alice", X.sha256, X.size, now) is None, "not placed"
        await meta.content_placed(X.sha256, X.key)
        found = await meta.owned_content("alice", X.sha256, X.size, now)
        assert found is not None and found.id == "u1"
        assert await meta.owned_content("mallory", X.sha256, X.size, now) is None
        assert await meta.owned_content("alice", X.sha256, X.size + 1, now) is None
        assert await meta.owned_content("alice", "cd" * 32, X.size, now) is None
        assert await meta.owned_content("alice", X.sha256, X.size, now + 60) is None, "expired"

    run(test, opener)


def test_holds_and_the_last_release_on_two_stores_never_both_win(opener: Opener) -> None:
    """A removal (the last release) in one process and a new upload of the same content in
    another, at once, many times: the new upload either holds the content (and it is not being
    removed) or is told to wait (and it holds nothing); the count is always exact."""

    async def go() -> None:
        a, b = opener(), opener()
        for n in range(30):
            old, new = f"o{n}", f"n{n}"
            for uid in (old, new):
                await a.create_or_get(upload(uid, client_id=uid))
            assert await a.hold_content(old, X) in (Held.ABSENT, Held.PRESENT)
            await a.content_placed(X.sha256, X.key)
            released, held = await asyncio.gather(a.release_content(old), b.hold_content(new, X))
            if held == Held.REMOVING:
                assert released == PLACED and await a.is_removing(X.sha256), n
                assert (await a.get(new)).content is None  # type: ignore[union-attr]
                await a.forget_content(X.sha256)
                assert await b.hold_content(new, X) == Held.ABSENT
            else:
                assert released is None and not await a.is_removing(X.sha256), (n, held)
            assert await refs_of(a, X, [old, new]) == 1
            last = await b.release_content(new)
            assert last in (X, PLACED), "the new upload was the last one"
            await b.forget_content(X.sha256)

    drive(opener, go)


def test_two_copies_placed_at_once_on_two_stores_are_told_the_same_key(opener: Opener) -> None:
    """Two uploads of one content recording their copies at the same moment, from two processes,
    many times: both are told the key recorded first (the other removes its copy). Telling one
    of them anything else points its upload to a file that is not there."""

    async def go() -> None:
        a, b = opener(), opener()
        for n in range(40):
            one, two = f"a{n}", f"b{n}"
            for uid in (one, two):
                await a.create_or_get(upload(uid, client_id=uid))
                assert await a.hold_content(uid, X) == Held.ABSENT
            told = await asyncio.gather(
                a.content_placed(X.sha256, one), b.content_placed(X.sha256, two)
            )
            assert told[0] == told[1] and told[0] in (one, two), (n, told)
            assert (await a.content(X.sha256)) == replace(X, placed_at=told[0])
            await a.release_content(one)
            assert await b.release_content(two) is not None
            await b.forget_content(X.sha256)

    drive(opener, go)


def test_list_pages_keep_their_place_while_uploads_come_and_go(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        for n in range(5):
            await made(meta, clock, f"u{n}")
        first = await meta.list_uploads(Listing(limit=2))
        assert [u.id for u in first.uploads] == ["u0", "u1"] and first.next is not None
        await meta.delete("u1")  # the position is a value, not a row: it outlives the row
        await made(meta, clock, "u9")  # made after the others: at the end, not in between
        second = await meta.list_uploads(Listing(limit=2, after=first.next))
        assert [u.id for u in second.uploads] == ["u2", "u3"]
        last = await meta.list_uploads(Listing(limit=3, after=second.next))
        assert [u.id for u in last.uploads] == ["u4", "u9"] and last.next is None
        whole = await meta.list_uploads(Listing(limit=6))
        assert len(whole.uploads) == 5 and whole.next is None, "no next page when all fit"
        exact = await meta.list_uploads(Listing(limit=5))
        assert exact.next is None, "one row more is read to know whether a page follows"
        assert whole.uploads[0] == await meta.get("u0"), "the records as `get` returns them"
        with pytest.raises(ValueError):
            await meta.list_uploads(Listing(limit=0))

    run(test, opener)


# --- the admin page -------------------------------------------------------------------------------


def test_chunks_received_counts_each_uploads_distinct_chunks_at_once(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1")
        await meta.create_or_get(upload("u1", client_id="c1"))
        await meta.create_or_get(upload("u2", client_id="c2"))
        for index in (0, 2, 2):  # a re-sent chunk counts once
            await meta.start_chunk("u1", index, "h", "i1", 60)
            await meta.end_chunk("u1", index, "h")
        assert await meta.chunks_received(["u1", "u2", "nowhere"]) == {"u1": 2, "u2": 0}
        assert await meta.chunks_received([]) == {}

    run(test, opener)


def test_set_expiry_changes_only_a_complete_upload_not_yet_past_it(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        now = clock.now()
        for uid in ("u1", "u2", "u3"):
            await made(meta, clock, uid)
        await meta.move("u1", State.RECEIVING, State.ASSEMBLING)
        await meta.move("u1", State.ASSEMBLING, State.COMPLETE, expires_at=now + 100)
        await meta.move("u2", State.RECEIVING, State.ASSEMBLING)
        await meta.move("u2", State.ASSEMBLING, State.COMPLETE, expires_at=now + 10)
        before = await meta.get("u1")
        assert before is not None
        assert await meta.set_expiry("u1", now + 5000, now)
        assert (await meta.get("u1")) == replace(before, expires_at=now + 5000), "nothing else"
        assert await meta.set_expiry("u1", None, now)
        found = await meta.get("u1")
        assert found is not None and found.expires_at is None, "kept for ever"
        assert await meta.set_expiry("u1", now + 60, now), "and back from for ever"
        assert not await meta.set_expiry("u2", now + 5000, now + 10), "due for removal: kept so"
        assert not await meta.set_expiry("u3", now + 5000, now), "not finished"
        assert not await meta.set_expiry("nowhere", now + 5000, now)
        gone = await meta.get("u2")
        assert gone is not None and gone.expires_at == now + 10

    run(test, opener)


def test_forget_abandoned_deletes_only_abandoned_records(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        await beating(meta, "i1")
        for uid in ("u1", "u2", "u3"):
            await made(meta, clock, uid)
        await meta.start_chunk("u1", 0, "h", "i1", 60)
        await meta.end_chunk("u1", 0, "h")
        cutoff = clock.now() + 1
        assert await meta.abandon("u1", State.RECEIVING, cutoff, clock.now(), 4)
        await meta.move("u2", State.RECEIVING, State.FAILED, error="x")
        assert await meta.abandon("u2", State.FAILED, cutoff, clock.now(), 0)
        await made(meta, clock, "u4")
        await meta.move("u4", State.RECEIVING, State.FAILED, error="x")
        await meta.hold_content("u4", X)  # a hold not let go yet (a clean-up cut short)
        assert await meta.abandon("u4", State.FAILED, clock.now() + 1, clock.now(), 0)
        assert await meta.forget_abandoned() == 2
        assert await meta.get("u1") is None and await meta.get("u2") is None
        assert await meta.received("u1") == [], "with their chunks"
        assert await meta.get("u3") is not None
        assert await meta.get("u4") is not None, "its hold is the clean-up's to let go"
        await meta.release_content("u4")
        assert await meta.forget_abandoned() == 1

    run(test, opener)


def test_summary_counts_states_bytes_contents_and_uploads_per_day(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        day = 86400
        clock.time = 20_000 * day + 3600.0  # 01:00 UTC on day 20,000
        await made(meta, clock, "old", layout=Layout(7, 4, 2))  # before `since`
        clock.advance(day)
        for uid, size in (("a", 10), ("b", 20), ("c", 40)):
            await made(meta, clock, uid, layout=Layout(size, 4, Layout.expected_count(size, 4)))
        clock.advance(2 * day)
        await made(meta, clock, "d", layout=Layout(80, 4, 20))
        await made(meta, clock, "e", layout=None)  # no size yet
        for uid in ("old", "a", "b", "d"):
            await meta.move(uid, State.RECEIVING, State.ASSEMBLING)
            await meta.move(uid, State.ASSEMBLING, State.COMPLETE)
        await meta.move("b", State.COMPLETE, State.EXPIRED, removed_at=clock.now(), freed_bytes=20)
        same = Content("cd" * 32, 80)  # "d" and "old" stand for two uploads of the same bytes
        for uid in ("d", "old"):
            await meta.hold_content(uid, same)
        await meta.content_placed(same.sha256, same.key)
        await meta.hold_content("a", Content("ef" * 32, 10))  # being placed: not counted yet
        summary = await meta.summary(since=20_001 * day)
        assert summary.states == {State.COMPLETE: 3, State.EXPIRED: 1, State.RECEIVING: 2}
        assert summary.stored_bytes == 7 + 10 + 80
        assert summary.content_bytes == 80, "contents in place, each once"
        assert [(d.start, d.uploads, d.bytes) for d in summary.days] == [
            (20_001 * day, 3, 10 + 20),  # c (40) has not finished: it counts, its bytes do not
            (20_003 * day, 2, 80),
        ]
        empty = await meta.summary(since=clock.now() + day)
        assert empty.days == [] and empty.stored_bytes == 97

    run(test, opener)


# --- downloads ------------------------------------------------------------------------------------


async def complete(meta: MetaStore, uid: str, most: int | None, expires_at: float | None) -> None:
    """A complete upload allowing `most` downloads (None: any number)."""
    fresh = replace(upload(uid, client_id=uid), max_downloads=most, download_password="hash")
    await meta.create_or_get(fresh)
    await meta.move(uid, State.RECEIVING, State.ASSEMBLING)
    await meta.move(uid, State.ASSEMBLING, State.COMPLETE, expires_at=expires_at)


def test_terms_and_the_delete_key_are_recorded_as_made(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        fresh = replace(
            upload("u1"), download_password="$argon2id$v=19$x", max_downloads=3, delete_key="k"
        )
        assert await meta.create_or_get(fresh) == fresh
        assert await meta.get("u1") == fresh

    run(test, opener)


def test_reservations_stop_at_the_limit_and_counting_frees_them(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1")
        now = opener.clock.now()
        await complete(meta, "u1", 2, now + 1000)
        await meta.create_or_get(upload("u2", client_id="u2"))
        assert await meta.reserve_download("u2", "download:u2:a", "a", "i1", 60) == Reserve.SPENT
        assert await meta.reserve_download("u1", "download:u1:a", "a", "i1", 60) == Reserve.TAKEN
        assert await meta.reserve_download("u1", "download:u1:b", "b", "i1", 60) == Reserve.TAKEN
        assert await meta.reserve_download("u1", "download:u1:c", "c", "i1", 60) == Reserve.BUSY
        await meta.release("download:u1:b", "b")  # a download cut off
        assert await meta.reserve_download("u1", "download:u1:c", "c", "i1", 60) == Reserve.TAKEN
        counted = await meta.count_download("u1", "download:u1:a", "a", now)
        assert counted is not None and counted.downloads == 1
        assert counted.expires_at == now + 1000, "one left: kept"
        assert await meta.reserve_download("u1", "download:u1:d", "d", "i1", 60) == Reserve.BUSY
        last = await meta.count_download("u1", "download:u1:c", "c", now + 5)
        assert last is not None and last.downloads == 2 and last.expires_at == now + 5
        assert await meta.reserve_download("u1", "download:u1:d", "d", "i1", 60) == Reserve.SPENT
        assert not await meta.is_claimed("download:u1:a") and not await meta.is_claimed(
            "download:u1:c"
        ), "counting lets the reservation go"

    run(test, opener)


def test_reservations_of_a_dead_process_are_free(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await beating(meta, "i1", "i2")
        await complete(meta, "u1", 1, None)
        assert await meta.reserve_download("u1", "download:u1:a", "a", "i1", 60) == Reserve.TAKEN
        assert await meta.reserve_download("u1", "download:u1:b", "b", "i2", 60) == Reserve.BUSY
        await meta.forget_instances(["i1"])
        assert await meta.reserve_download("u1", "download:u1:b", "b", "i2", 60) == Reserve.TAKEN

    run(test, opener)


def test_counting_without_a_limit_keeps_the_expiry(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await complete(meta, "u1", None, None)
        for n in range(1, 4):
            assert await meta.reserve_download("u1", f"d{n}", "h", "i1", 60) == Reserve.TAKEN
            counted = await meta.count_download("u1", None, "h", opener.clock.now())
            assert counted is not None and counted.downloads == n and counted.expires_at is None
        assert await meta.count_download("nowhere", None, "h", opener.clock.now()) is None

    run(test, opener)


def test_the_last_download_racing_on_two_stores_is_reserved_once(opener: Opener) -> None:
    """Two processes ask for the last download of a link at once, many times: exactly one gets
    it, and the count never passes the limit."""

    async def go() -> None:
        a, b = opener(), opener()
        await beating(a, "ia", "ib")
        for n in range(30):
            uid = f"u{n}"
            await complete(a, uid, 1, None)
            found = await asyncio.gather(
                a.reserve_download(uid, f"download:{uid}:a", "a", "ia", 60),
                b.reserve_download(uid, f"download:{uid}:b", "b", "ib", 60),
            )
            assert sorted(r.value for r in found) == ["busy", "taken"], (n, found)

    drive(opener, go)


# --- accounts -------------------------------------------------------------------------------------


def account(name: str = "ann", **quotas: Any) -> Account:
    return Account(name, "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", created_at=1.0, **quotas)


def test_accounts_are_added_once_found_changed_and_removed_with_their_tokens(
    opener: Opener,
) -> None:
    async def go() -> None:
        a, b = opener(), opener()  # two processes
        assert not await a.has_accounts()
        assert await a.add_account(account("ann", quota_bytes=10**12, quota_uploads=3))
        assert not await b.add_account(account("ann", admin=True)), "a name is taken once"
        assert await b.add_account(account("bob", admin=True))
        assert await a.has_accounts()
        found = await b.account("ann")
        assert found == account("ann", quota_bytes=10**12, quota_uploads=3)
        assert [x.name for x in await a.accounts()] == ["ann", "bob"]
        assert (await a.account("bob")).admin is True  # type: ignore[union-attr]
        assert await a.set_password("ann", "$argon2id$new")
        assert (await b.account("ann")).password_hash == "$argon2id$new"  # type: ignore[union-attr]
        assert not await a.set_password("nobody", "x")
        assert await a.add_token(Token("d1", "ann", "ci", 2.0))
        assert not await b.add_token(Token("d2", "ann", "ci", 2.0)), "one token per label"
        assert not await b.add_token(Token("d3", "nobody", "ci", 2.0)), "no account, no token"
        assert await b.add_token(Token("d4", "bob", "ci", 2.0))
        assert [t.digest for t in await a.tokens("ann")] == ["d1"]
        assert await a.remove_account("ann")
        assert not await a.remove_account("ann")
        assert await b.account("ann") is None and await b.tokens("ann") == []
        assert await b.token_account("d1", 3.0) is None, "its tokens went with it"
        assert (await b.token_account("d4", 3.0)).name == "bob"  # type: ignore[union-attr]

    drive(opener, go)


def test_a_token_finds_its_account_until_removed_and_notes_its_use(opener: Opener) -> None:
    async def test(meta: MetaStore) -> None:
        await meta.add_account(account("ann"))
        await meta.add_token(Token("d1", "ann", "laptop", 2.0))
        assert await meta.token_account("nope", 5.0) is None
        assert (await meta.token_account("d1", 100.0)).name == "ann"  # type: ignore[union-attr]
        assert (await meta.tokens("ann"))[0].last_used == 100.0
        assert not await meta.remove_token("ann", "other")
        assert await meta.remove_token("ann", "laptop")
        assert await meta.token_account("d1", 200.0) is None

    run(test, opener)


def test_usage_counts_an_accounts_stored_and_open_uploads_and_open_from_an_address(
    opener: Opener,
) -> None:
    async def test(meta: MetaStore) -> None:
        await meta.add_account(account("ann"))
        made = [
            replace(upload("u1", "c1"), account="ann", address="10.0.0.1"),  # receiving, 10 B
            replace(upload("u2", "c2"), account="ann", address="10.0.0.1", layout=None, offset=7),
            replace(upload("u3", "c3"), account="ann", state=State.COMPLETE),
            replace(upload("u4", "c4"), account="ann", state=State.ABANDONED),
            replace(upload("u5", "c5"), account="bob", address="10.0.0.1"),
            replace(upload("u6", "c6"), address="10.0.0.2", state=State.COMPLETE),
        ]
        for fresh in made:
            await meta.create_or_get(fresh)
        await meta.set_offset("u2", 0, 7)
        found = await meta.usage("ann")
        assert (found.bytes, found.uploads) == (10 + 7 + 10, 2)
        assert (await meta.usage("nobody")).bytes == 0
        assert await meta.open_from("10.0.0.1") == 3
        assert await meta.open_from("10.0.0.2") == 0


# --- folders ----------------------------------------------------------------------------------


def test_in_folder_lists_an_owners_complete_files_of_one_folder_in_path_order(
    opener: Opener,
) -> None:
    async def test(meta: MetaStore) -> None:
        clock = opener.clock
        complete = {"state": State.COMPLETE}
        await made(meta, clock, "u1", relative_path="Photos/b/z.jpg", **complete)
        await made(meta, clock, "u2", relative_path="Photos/a.jpg", **complete)
        await made(meta, clock, "u3", relative_path="Photos/c.jpg")  # still receiving
        await made(meta, clock, "u4", relative_path="Photos/d.jpg", owner="bob", **complete)
        await made(meta, clock, "u5", relative_path="Photos2/e.jpg", **complete)
        await made(meta, clock, "u6", relative_path="Ph_tos/f.jpg", **complete)
        await made(meta, clock, "u7", relative_path="Phot%/g.jpg", **complete)
        await made(meta, clock, "u8", **complete)  # no folder at all
        await made(meta, clock, "u9", relative_path="Photos/a.jpg", **complete)  # sent twice
        found = await meta.in_folder("alice", "Photos", 100)
        assert [u.id for u in found] == ["u2", "u9", "u1"]
        assert [u.id for u in await meta.in_folder("alice", "Photos", 2)] == ["u2", "u9"]
        assert [u.id for u in await meta.in_folder("alice", "Ph_tos", 10)] == ["u6"]
        assert [u.id for u in await meta.in_folder("alice", "Phot%", 10)] == ["u7"]
        assert await meta.in_folder("alice", "Phot", 10) == [], "a folder is a whole name"
        assert await meta.in_folder("bob", "Photos2", 10) == []
        assert [u.id for u in await meta.in_folder("bob", "Photos", 10)] == ["u4"]

    run(test, opener)
