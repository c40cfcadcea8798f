"""What S3 storage holds in memory while request bodies arrive, on a real SeaweedFS.

A chunk's part is sent while it arrives, through a pipe of at most PIPE_BYTES, so a request holds
that much of it, not the chunk; a stream (tus) holds its cell, but beyond an allowance only
within the process's budget. Memory is what `tracemalloc` saw allocated at the peak (every
thread, boto3's included), with the test's own data allocated before tracing starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyfiledrop.core.interfaces import StorageUnavailable
from pyfiledrop.core.model import Layout
from pyfiledrop.storage.s3 import S3Storage, cache, connect
from pyfiledrop.storage.s3.body import PIPE_BYTES
from pyfiledrop.storage.s3.unfinished import MIB
from pyfiledrop.storage.s3.writers import STREAM_ALLOWANCE
from tests.seaweed import SeaweedFS, free_ports

PIECE = 64 * 1024  # bytes per write, as a request body arrives


@pytest.fixture
def make(seaweed: SeaweedFS) -> Iterator[object]:
    """Makes storages on the session's SeaweedFS with a given budget (`cache_bytes`)."""
    bucket = "memory"
    if bucket not in [b["Name"] for b in seaweed.client().list_buckets()["Buckets"]]:
        seaweed.bucket(bucket)
    made: list[S3Storage] = []

    def make_one(budget: int, part_size: int = 8 * MIB, endpoint: str | None = None) -> S3Storage:
        storage = connect(
            bucket, f"m-{uuid.uuid4().hex[:8]}", endpoint=endpoint or seaweed.endpoint,
            region="us-east-1", part_size=part_size, cache_bytes=budget,
        )  # fmt: skip
        made.append(storage)
        return storage

    yield make_one
    for storage in made:
        storage.close()


def peak_while(work: object) -> int:
    """Run the coroutine `work`; the most bytes allocated at once meanwhile, above the start."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        asyncio.run(work)  # type: ignore[arg-type]
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


async def send_chunk(
    storage: S3Storage, upload_id: str, layout: Layout, index: int, data: bytes
) -> None:
    """Chunk `index` of `data` (the whole file), a piece at a time, without copying it."""
    writer = await storage.part_writer(upload_id, index, layout.offset(index), layout)
    try:
        view = memoryview(data)[layout.offset(index) :][: layout.length(index)]
        for start in range(0, len(view), PIECE):
            await writer.write(view[start : start + PIECE])
        await writer.flush()
    finally:
        await writer.close()


def test_an_8_mib_chunk_is_sent_holding_at_most_a_pipe_of_it(make) -> None:  # type: ignore[no-untyped-def]
    storage = make(budget=0)  # no copy kept for the digest: only what sending holds counts
    layout = Layout(8 * MIB + 100, 8 * MIB, 2)
    data = os.urandom(layout.size)
    upload_id = uuid.uuid4().hex

    async def setup() -> None:
        await storage.create(upload_id)

    async def first_chunk() -> None:
        await send_chunk(storage, upload_id, layout, 0, data)

    async def finish() -> str:
        await send_chunk(storage, upload_id, layout, 1, data)
        return (await storage.seal(upload_id, None)).sha256

    asyncio.run(setup())
    peak = peak_while(first_chunk())
    assert peak < 4 * PIPE_BYTES, f"{peak} bytes held at once for an 8 MiB chunk"
    assert asyncio.run(finish()) == hashlib.sha256(data).hexdigest()


def test_chunks_at_once_keep_copies_only_within_the_budget(make) -> None:  # type: ignore[no-untyped-def]
    budget, count = 16 * MIB, 6
    storage = make(budget=budget)
    layout = Layout(count * 8 * MIB, 8 * MIB, count)
    data = os.urandom(layout.size)
    upload_id = uuid.uuid4().hex

    async def chunks_at_once() -> None:
        await storage.create(upload_id)
        await asyncio.gather(
            *(send_chunk(storage, upload_id, layout, i, data) for i in range(count))
        )

    peak = peak_while(chunks_at_once())
    assert peak < budget + count * 4 * PIPE_BYTES, f"{peak} bytes held by {count} chunks"

    async def read_and_finish() -> str:
        # Parts went without a copy, so the running digest could not finish: the copies made
        # for the first ones were dropped too, and the file is hashed when sealed.
        with pytest.raises(OSError):
            await storage.read(upload_id, 0, 100)
        return (await storage.seal(upload_id, None)).sha256

    assert asyncio.run(read_and_finish()) == hashlib.sha256(data).hexdigest()


def test_a_copy_read_by_the_digest_in_smaller_blocks_is_let_go(make) -> None:  # type: ignore[no-untyped-def]
    """The digest reads 4 MiB blocks (core/prehash.py) of 8 MiB chunks: once it has read past a
    copy's end, the copy goes (it used to stay until the budget pushed it out)."""
    storage = make(budget=64 * MIB)
    layout = Layout(16 * MIB, 8 * MIB, 2)
    data = os.urandom(layout.size)
    upload_id = uuid.uuid4().hex

    async def run() -> str:
        await storage.create(upload_id)
        await send_chunk(storage, upload_id, layout, 0, data)
        half = 4 * MIB
        assert await storage.read(upload_id, 0, half) == data[:half]
        await storage.release(upload_id, 0, half)
        assert await storage.read(upload_id, half, half) == data[half : 2 * half]  # still kept
        await storage.release(upload_id, half, half)
        with pytest.raises(OSError):  # gone from memory; a part cannot be read from the store
            await storage.read(upload_id, 0, 100)
        await send_chunk(storage, upload_id, layout, 1, data)
        return (await storage.seal(upload_id, None)).sha256

    assert asyncio.run(run()) == hashlib.sha256(data).hexdigest()


def test_a_chunk_waits_for_the_room_the_digest_frees_and_keeps_its_copy(make) -> None:  # type: ignore[no-untyped-def]
    """Room for two copies; chunks 1 and 2 arrive before chunk 0 (its request was slow), then
    chunk 3: it waits, while chunk 0, which the digest reads next, takes room at once. Once the
    digest has read chunks 0 and 1, chunk 3 gets their room, so every byte is read from memory
    (the digest used to lose here and the file was read back from the store)."""
    storage = make(budget=16 * MIB)
    layout = Layout(32 * MIB, 8 * MIB, 4)
    data = os.urandom(layout.size)
    upload_id = uuid.uuid4().hex

    async def run() -> str:
        await storage.create(upload_id)
        for index in (1, 2):
            await send_chunk(storage, upload_id, layout, index, data)
        last = asyncio.create_task(send_chunk(storage, upload_id, layout, 3, data))
        await send_chunk(storage, upload_id, layout, 0, data)
        await asyncio.sleep(0.3)
        assert not last.done(), "chunk 3 did not wait for room"
        for start in range(0, 16 * MIB, 4 * MIB):  # the digest reads chunks 0 and 1
            assert await storage.read(upload_id, start, 4 * MIB) == data[start : start + 4 * MIB]
            await storage.release(upload_id, start, 4 * MIB)
        await last
        for start in range(16 * MIB, 32 * MIB, 4 * MIB):
            assert await storage.read(upload_id, start, 4 * MIB) == data[start : start + 4 * MIB]
            await storage.release(upload_id, start, 4 * MIB)
        return (await storage.seal(upload_id, None)).sha256

    assert asyncio.run(run()) == hashlib.sha256(data).hexdigest()


def test_a_digest_that_falls_too_far_behind_keeps_no_copies(make, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Room for two copies; chunks 1, 2 and 3 arrive before chunk 0 (its request not begun, or
    sent to another process): chunk 3 goes without a copy at once, since no room can come
    before chunk 0 is read, so this upload's digest cannot finish. Its other copies go too,
    and none is made for chunk 0."""
    storage = make(budget=16 * MIB)
    layout = Layout(32 * MIB, 8 * MIB, 4)
    data = os.urandom(layout.size)
    upload_id = uuid.uuid4().hex
    monkeypatch.setattr(cache, "PATIENCE", 60.0)

    async def run() -> str:
        await storage.create(upload_id)
        for index in (1, 2):
            await send_chunk(storage, upload_id, layout, index, data)
        started = time.monotonic()
        await send_chunk(storage, upload_id, layout, 3, data)
        # chunk 0 is neither kept nor coming here: no room will come, so chunk 3 did not wait
        assert time.monotonic() - started < 30
        for index in (2, 3):
            with pytest.raises(OSError):
                await storage.read(upload_id, layout.offset(index), 100)
        await send_chunk(storage, upload_id, layout, 0, data)
        with pytest.raises(OSError):
            await storage.read(upload_id, 0, 100)
        return (await storage.seal(upload_id, None)).sha256

    assert asyncio.run(run()) == hashlib.sha256(data).hexdigest()


def test_streams_at_once_hold_their_cells_only_within_the_budget(make) -> None:  # type: ignore[no-untyped-def]
    """Six tus-like streams of 2.2 cells, written a piece each in turn with a flush every 3 MiB:
    beyond the allowance they hold cells only in the room writers share, staging the rest, and
    every stream is stored right. (Room for writers and kept copies: a budget each.)"""
    budget, count, cell = 4 * MIB, 6, 5 * MIB
    storage = make(budget=budget, part_size=cell)
    size = 2 * cell + cell // 5
    ids = [uuid.uuid4().hex for _ in range(count)]
    digests = [hashlib.sha256() for _ in range(count)]

    async def streams_at_once() -> None:
        for upload_id in ids:
            await storage.create(upload_id)
        writers = [await storage.part_writer(upload_id, 0, 0) for upload_id in ids]
        sources = [random.Random(i) for i in range(count)]
        for start in range(0, size, PIECE):
            for i, writer in enumerate(writers):
                piece = sources[i].randbytes(min(PIECE, size - start))
                digests[i].update(piece)
                await writer.write(piece)
                if (start + len(piece)) % (3 * MIB) == 0:
                    await writer.flush()
        for writer in writers:
            await writer.flush()
            await writer.close()

    peak = peak_while(streams_at_once())
    bound = 2 * budget + count * (STREAM_ALLOWANCE + 4 * PIPE_BYTES)
    assert peak < bound, f"{peak} bytes held by {count} streams (bound {bound})"

    async def finish() -> list[tuple[int, str]]:
        return [
            (stored.size, stored.sha256) for stored in [await storage.seal(u, None) for u in ids]
        ]

    assert asyncio.run(finish()) == [(size, d.hexdigest()) for d in digests]


def test_a_chunk_given_up_midway_ends_its_call_storing_nothing(make, seaweed: SeaweedFS) -> None:  # type: ignore[no-untyped-def]
    storage = make(budget=64 * MIB)
    layout = Layout(8 * MIB, 8 * MIB, 1)
    data = os.urandom(layout.size)
    upload_id = uuid.uuid4().hex

    async def go() -> list[int]:
        await storage.create(upload_id)
        writer = await storage.part_writer(upload_id, 0, 0, layout)
        for _ in range(3 * MIB // PIECE):  # a request cut off after 3 MiB
            await writer.write(os.urandom(PIECE))
        began = time.monotonic()
        await writer.close()  # returns once the call has ended: it fails at once
        assert time.monotonic() - began < 5
        mpu = await storage.unfinished.upload_id(upload_id)
        listed = seaweed.client().list_parts(
            Bucket="memory", Key=storage.bucket.final(upload_id), UploadId=mpu
        )
        await send_chunk(storage, upload_id, layout, 0, data)  # sent again, whole
        stored = await storage.seal(upload_id, None)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        return [p["Size"] for p in listed.get("Parts", [])]

    assert not any(asyncio.run(go())), "the store kept some of the bytes of a chunk given up"


def test_the_store_failing_midway_through_a_chunk_fails_it(make, own_store: SeaweedFS) -> None:  # type: ignore[no-untyped-def]
    own_store.bucket("memory")
    storage = make(budget=64 * MIB, endpoint=own_store.endpoint)
    layout = Layout(8 * MIB, 8 * MIB, 1)
    upload_id = uuid.uuid4().hex

    async def go() -> None:
        await storage.create(upload_id)
        writer = await storage.part_writer(upload_id, 0, 0, layout)
        try:
            await writer.write(os.urandom(2 * MIB))
            own_store.stop()
            with pytest.raises(StorageUnavailable):
                for _ in range(6 * MIB // PIECE):
                    await writer.write(os.urandom(PIECE))
                await writer.flush()
        finally:
            await writer.close()

    async def within_a_minute() -> None:
        async with asyncio.timeout(60):  # not waiting forever for a store that is gone
            await go()

    asyncio.run(within_a_minute())


@pytest.fixture
def tls_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeaweedFS]:
    """A SeaweedFS that also answers https, on a self-signed certificate boto3 is told to trust."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    (port,) = free_ports(1)
    flags = (f"-s3.port.https={port}", f"-s3.cert.file={cert}", f"-s3.key.file={key}")
    store = SeaweedFS(tmp_path / "weed", extra=flags).start()
    store.endpoint = f"https://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    for name, value in store.env().items():
        monkeypatch.setenv(name, value)
    yield store
    store.stop()


def test_over_https_a_chunk_sent_as_it_arrives_carries_a_checksum(make, tls_store) -> None:  # type: ignore[no-untyped-def]
    """botocore sends the checksum of a body it reads once in a trailer (aws-chunked), which it
    does only over https: the production path (AWS is https only)."""
    tls_store.bucket("memory")
    storage = make(budget=64 * MIB, endpoint=tls_store.endpoint)
    trailers: list[str] = []
    storage.bucket.api.meta.events.register(
        "before-send.s3.UploadPart",
        lambda request, **_: trailers.append(request.headers.get("X-Amz-Trailer", b"")),
    )
    layout = Layout(8 * MIB + 5, 8 * MIB, 2)
    data = os.urandom(layout.size)
    upload_id = uuid.uuid4().hex

    async def go() -> str:
        await storage.create(upload_id)
        for index in range(layout.chunk_count):
            await send_chunk(storage, upload_id, layout, index, data)
        return (await storage.seal(upload_id, None)).sha256

    assert asyncio.run(go()) == hashlib.sha256(data).hexdigest()
    assert trailers and all(t == b"x-amz-checksum-crc32" for t in trailers), trailers
