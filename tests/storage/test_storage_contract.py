"""The `Storage` contract (core/interfaces.py), run against every back end: the local disk and S3
(a real SeaweedFS). Each test is one obligation of the contract."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pyfiledrop.core.model import Layout, content_key
from pyfiledrop.storage.local import LocalStorage
from pyfiledrop.storage.s3 import S3Storage, connect
from pyfiledrop.storage.s3.unfinished import MIB
from tests.seaweed import SeaweedFS

T = TypeVar("T")
PART = 5 * MIB  # the S3 back end's stream part size here: S3's minimum, to keep files small
Make = Callable[[], Any]


def run(work: Awaitable[T]) -> T:
    return asyncio.run(work)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "s3"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    """Makes storages on one place: two made are two server processes sharing it."""
    made: list[Any] = []
    if request.param == "local":

        def make_one() -> Any:
            return LocalStorage(tmp_path / "chunks", tmp_path / "storage")

    else:
        store: SeaweedFS = request.getfixturevalue("seaweed")
        bucket = "contract"
        if bucket not in [b["Name"] for b in store.client().list_buckets()["Buckets"]]:
            store.bucket(bucket)
        prefix = f"t-{uuid.uuid4().hex[:8]}"

        def make_one() -> Any:
            found = connect(
                bucket, prefix, endpoint=store.endpoint, region="us-east-1", part_size=PART
            )
            made.append(found)
            return found

    yield make_one
    for storage in made:
        storage.close()


def new_id() -> str:
    return uuid.uuid4().hex


async def write_chunk(
    storage: Any, upload_id: str, layout: Layout, index: int, data: bytes
) -> None:
    writer = await storage.part_writer(upload_id, index, layout.offset(index), layout)
    try:
        for start in range(0, len(data), 256 * 1024):
            await writer.write(data[start : start + 256 * 1024])
        await writer.flush()
    finally:
        await writer.close()


async def write_chunks(
    storage: Any, upload_id: str, layout: Layout, data: bytes, order: list[int]
) -> None:
    for i in order:
        piece = data[layout.offset(i) :][: layout.length(i)]
        await write_chunk(storage, upload_id, layout, i, piece)


async def write_stream(storage: Any, upload_id: str, offset: int, data: bytes, step: int) -> None:
    writer = await storage.part_writer(upload_id, 0, offset)
    try:
        for start in range(0, len(data), step):
            await writer.write(data[start : start + step])
            await writer.flush()
    finally:
        await writer.close()


async def finished_bytes(storage: Any, key: str, size: int) -> bytes:
    if isinstance(storage, S3Storage):
        return b"".join([b async for b in storage.read_range(key, 0, size)])
    return Path(storage.path_of(key)).read_bytes()


def layout_of(size: int, chunk: int) -> Layout:
    return Layout(size, chunk, Layout.expected_count(size, chunk))


@pytest.mark.parametrize(
    ("size", "chunk"),
    [(2 * PART + 17, PART), (7 * 1000 * 1000 + 5, 1000 * 1000), (300 * 1024, 64 * 1024), (0, MIB)],
    ids=["parts of 5 MiB", "1 MB chunks gathered", "one small part", "empty"],
)
def test_chunks_in_any_order_with_resends_complete_to_the_same_bytes(
    make: Make, size: int, chunk: int
) -> None:
    storage = make()
    data = os.urandom(size)
    layout = layout_of(size, chunk)
    upload_id = new_id()

    async def go() -> None:
        await storage.create(upload_id)
        order = list(range(layout.chunk_count))[::-1] + [0, layout.chunk_count - 1]
        await write_chunks(storage, upload_id, layout, data, order)
        stored = await storage.seal(upload_id, None)
        assert stored.size == size
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        key = await storage.place(upload_id, content_key(stored.sha256))
        assert await finished_bytes(storage, key, size) == data
        assert await storage.size_of(key) == size
        assert upload_id not in await storage.partials()

    run(go())


def test_a_later_writer_replaces_the_part_even_from_another_process(make: Make) -> None:
    first, second = make(), make()
    layout = layout_of(2 * PART, PART)
    upload_id = new_id()
    old, new = os.urandom(PART), os.urandom(PART)
    rest = os.urandom(PART)

    async def go() -> None:
        await first.create(upload_id)
        await write_chunk(first, upload_id, layout, 0, old)
        await write_chunk(first, upload_id, layout, 1, rest)
        await write_chunk(second, upload_id, layout, 0, new)
        try:  # the bytes stored now, or an honest failure: never the old copy
            assert await first.read(upload_id, 0, PART) == new
        except OSError:
            pass
        stored = await first.seal(upload_id, None)
        assert stored.sha256 == hashlib.sha256(new + rest).hexdigest()

    run(go())


def test_read_returns_what_this_process_stored(make: Make) -> None:
    storage = make()
    layout = layout_of(2 * PART + 3, PART)
    data = os.urandom(layout.size)
    upload_id = new_id()

    async def go() -> None:
        await storage.create(upload_id)
        for i in range(layout.chunk_count):
            await write_chunk(storage, upload_id, layout, i, data[layout.offset(i) :][:PART])
        assert await storage.read(upload_id, 0, PART + 10) == data[: PART + 10]
        assert await storage.read(upload_id, PART - 5, 10) == data[PART - 5 : PART + 5]

    run(go())


def test_small_chunks_are_read_back_by_another_process(make: Make) -> None:
    writer, reader = make(), make()
    layout = layout_of(3 * 1000 * 1000, 1000 * 1000)
    data = os.urandom(layout.size)
    upload_id = new_id()

    async def go() -> None:
        await writer.create(upload_id)
        await write_chunks(writer, upload_id, layout, data, list(range(3)))
        assert await reader.read(upload_id, 999_990, 20) == data[999_990:1_000_010]

    run(go())


def test_seal_and_place_are_idempotent(make: Make) -> None:
    storage, other = make(), make()
    layout = layout_of(PART + 1, PART)
    data = os.urandom(layout.size)
    digest = hashlib.sha256(data).hexdigest()
    upload_id, key = new_id(), content_key(digest)

    async def go() -> None:
        await storage.create(upload_id)
        await write_chunks(storage, upload_id, layout, data, list(range(2)))
        first = await storage.seal(upload_id, digest)
        again = await other.seal(upload_id, None)  # an attempt cut short, in another process
        assert first == again
        assert (again.size, again.sha256) == (len(data), digest)
        assert await storage.size_of(key) is None, "sealed is not placed: no reader sees it"
        placed = await storage.place(upload_id, key)
        assert await other.place(upload_id, key) == placed  # placed already: nothing to do
        assert await finished_bytes(other, placed, len(data)) == data

    run(go())


def test_discard_removes_an_unfinished_upload(make: Make) -> None:
    storage = make()
    layout = layout_of(3 * 1000 * 1000, 1000 * 1000)
    upload_id = new_id()

    async def go() -> None:
        await storage.create(upload_id)
        await write_chunk(storage, upload_id, layout, 1, os.urandom(1000 * 1000))
        assert upload_id in await storage.partials()
        await storage.discard(upload_id)
        assert upload_id not in await storage.partials()
        with pytest.raises(OSError):
            await storage.seal(upload_id, None)
        if isinstance(storage, S3Storage):
            uploads = await storage.unfinished.uploads(storage.bucket.final(upload_id))
            assert uploads == []

    run(go())


def test_discard_after_seal_removes_the_sealed_bytes(make: Make) -> None:
    storage = make()
    layout = layout_of(PART + 9, PART)
    upload_id = new_id()

    async def go() -> None:
        await storage.create(upload_id)
        await write_chunks(storage, upload_id, layout, os.urandom(layout.size), [0, 1])
        sealed = await storage.seal(upload_id, None)
        assert upload_id in await storage.partials(), "sealed bytes are the upload's own"
        await storage.discard(upload_id)
        assert upload_id not in await storage.partials()
        with pytest.raises(OSError):  # nothing left to place
            await storage.place(upload_id, content_key(sealed.sha256))
        assert await storage.size_of(content_key(sealed.sha256)) is None

    run(go())


def test_discard_after_place_keeps_the_placed_file(make: Make) -> None:
    storage = make()
    layout = layout_of(PART + 9, PART)
    data = os.urandom(layout.size)
    upload_id = new_id()

    async def go() -> None:
        await storage.create(upload_id)
        await write_chunks(storage, upload_id, layout, data, list(range(2)))
        key = content_key((await storage.seal(upload_id, None)).sha256)
        key = await storage.place(upload_id, key)
        await storage.discard(upload_id)  # as a finish resumed after placing does
        assert await finished_bytes(storage, key, len(data)) == data
        assert upload_id not in await storage.partials()
        await storage.remove(key)
        assert await storage.size_of(key) is None
        with pytest.raises(OSError):
            await finished_bytes(storage, key, len(data))

    run(go())


def test_the_same_content_placed_by_two_uploads_at_once_is_whole_wherever_placed(
    make: Make,
) -> None:
    """Each placed file holds the bytes whole: under one content key (local disk), or each
    under its own upload's key (S3), of which the core keeps the first recorded."""
    first, second = make(), make()
    layout = layout_of(2 * PART + 5, PART)
    data = os.urandom(layout.size)
    ids = [new_id(), new_id()]
    key = content_key(hashlib.sha256(data).hexdigest())

    async def upload(storage: Any, upload_id: str) -> str:
        await storage.create(upload_id)
        await write_chunks(storage, upload_id, layout, data, list(range(layout.chunk_count)))
        await storage.seal(upload_id, None)
        return str(await storage.place(upload_id, key))

    async def go() -> None:
        placed = await asyncio.gather(upload(first, ids[0]), upload(second, ids[1]))
        for where in placed:
            assert await finished_bytes(first, where, len(data)) == data
        assert not set(ids) & await first.partials(), "neither is scratch"
        if isinstance(first, LocalStorage):
            assert placed == [key, key], "a free rename: one file under the content key"
        else:
            assert placed == ids, "no copy: each stays where it was sealed"
            assert await first.size_of(key) is None

    run(go())


def test_a_file_placed_under_its_upload_id_is_renamed_to_its_content_key(make: Make) -> None:
    """Versions before content keys placed finished files under the upload's id (on S3, where
    a sealed object lies); the migration renames them."""
    storage, other = make(), make()
    data = os.urandom(PART + 3)
    upload_id, key = new_id(), content_key(hashlib.sha256(data).hexdigest())

    async def go() -> None:
        await storage.create(upload_id)
        await write_chunks(storage, upload_id, layout_of(len(data), PART), data, [0, 1])
        await storage.seal(upload_id, None)
        if isinstance(storage, LocalStorage):
            await storage.place(upload_id, upload_id)  # as the old `complete` did
        assert upload_id in await storage.legacy_files()
        await storage.rename(upload_id, key)
        await other.rename(upload_id, key)  # a migration cut short, run again
        assert upload_id not in await storage.legacy_files()
        assert await finished_bytes(storage, key, len(data)) == data
        with pytest.raises(FileNotFoundError):
            await storage.rename(new_id(), content_key("0" * 64))

    run(go())


def test_streams_in_pieces_of_any_size_resume_at_the_stored_offset(make: Make) -> None:
    storage, other = make(), make()
    data = os.urandom(2 * PART + 333_333)
    upload_id = new_id()
    cut1, cut2 = 1_234_567, PART + 77

    async def go() -> None:
        await storage.create(upload_id)
        await write_stream(storage, upload_id, 0, data[:cut1], 100_000)
        # an attempt whose bytes were refused (a checksum mismatch): stored, never counted
        await write_stream(storage, upload_id, cut1, os.urandom(3 * MIB), MIB)
        await write_stream(other, upload_id, cut1, data[cut1:cut2], 999_999)  # another process
        await write_stream(storage, upload_id, cut2, data[cut2:], 4 * MIB)
        assert await other.read(upload_id, cut1 - 10, 20) == data[cut1 - 10 : cut1 + 10]
        stored = await storage.seal(upload_id, None)
        assert stored.size == len(data)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        key = await storage.place(upload_id, content_key(stored.sha256))
        assert await finished_bytes(storage, key, len(data)) == data

    run(go())


def test_partials_lists_unfinished_uploads(make: Make) -> None:
    storage = make()
    ids = [new_id(), new_id()]

    async def go() -> None:
        for upload_id in ids:
            await storage.create(upload_id)
        assert set(ids) <= await storage.partials()
        for upload_id in ids:
            await storage.discard(upload_id)
        assert not set(ids) & await storage.partials()

    run(go())


CONCATENATIONS = [
    ([1000, 0, 2000], "small and empty"),
    ([MIB, 6 * MIB, 3], "1 MiB + 6 MiB + 3 bytes"),
    ([2 * MIB] * 3, "3 x 2 MiB"),
    ([6 * MIB + 5, MIB, 11 * MIB + 3, 3], "copied and gathered"),
]


@pytest.mark.parametrize(
    "sizes", [c[0] for c in CONCATENATIONS], ids=[c[1] for c in CONCATENATIONS]
)
def test_concatenation_when_offered_leaves_the_sources_as_they_are(
    make: Make, sizes: list[int]
) -> None:
    """Sources written as tus streams; concatenated twice (in order, then reversed: a final that
    failed is made again from the same sources); removed with `discard`."""
    storage = make()
    if not hasattr(storage, "concat"):
        pytest.skip("this storage does not offer concatenation")
    parts = [os.urandom(n) for n in sizes]
    sources = [new_id() for _ in parts]

    async def concatenated(order: list[int]) -> None:
        final = new_id()
        await storage.create(final)
        digest = await storage.concat(final, [sources[i] for i in order])
        data = b"".join(parts[i] for i in order)
        assert digest in (None, hashlib.sha256(data).hexdigest())
        stored = await storage.seal(final, digest)
        assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        key = await storage.place(final, content_key(stored.sha256))
        assert await finished_bytes(storage, key, len(data)) == data

    async def go() -> None:
        for source, data in zip(sources, parts, strict=True):
            await storage.create(source)
            await write_stream(storage, source, 0, data, 700 * 1024)
        await concatenated(list(range(len(parts))))
        await concatenated(list(range(len(parts)))[::-1])
        for source, data in zip(sources, parts, strict=True):
            await storage.discard(source)
            with pytest.raises(OSError):  # nothing of it is left, under any key
                await finished_bytes(storage, source, max(len(data), 1))
        assert not set(sources) & await storage.partials()

    run(go())
