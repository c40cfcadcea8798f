"""The running digest: right for any arrival order, never trusted once a hashed chunk changes."""

from __future__ import annotations

import asyncio
import hashlib
import random

import pytest

from pyfiledrop.core.model import Layout
from pyfiledrop.core.prehash import Fold, Prehash, fold_blocking, fold_reads


def folds(data: bytearray) -> dict[str, Fold]:
    """Both ways of folding: reads awaited one by one, and blocking reads in the hashing thread."""

    async def read(offset: int, n: int) -> bytes:
        return bytes(data[offset : offset + n])

    return {
        "reads": fold_reads(read, None),
        "blocking": fold_blocking(lambda offset, n: bytes(data[offset : offset + n])),
    }


def run(
    data: bytearray, chunk: int, events: list[tuple[str, int]], way: str = "reads"
) -> str | None:
    layout = Layout(len(data), chunk, Layout.expected_count(len(data), chunk))

    async def go() -> str | None:
        prehash = Prehash(layout, 0, [], folds(data)[way], asyncio.Semaphore(2))
        for kind, index in events:
            if kind == "recorded":
                prehash.recorded(index)
                await asyncio.sleep(0)
            elif kind == "forgotten":
                prehash.forgotten(index)
            else:  # a re-send with other bytes
                data[index * chunk] ^= 0xFF
        return await prehash.complete()

    return asyncio.run(go())


@pytest.mark.parametrize("way", ["reads", "blocking"])
def test_any_order_gives_the_file_digest(way: str) -> None:
    data = bytearray(random.randbytes(10_000))
    order = list(range(10))
    random.Random(1).shuffle(order)
    events = [("recorded", i) for i in order]
    assert run(data, 1000, events, way) == hashlib.sha256(data).hexdigest()


def test_chunks_received_elsewhere_are_hashed_when_the_file_is_complete() -> None:
    """Another process received chunk 1: this one's prefix stopped at it, and completes it."""
    data = bytearray(random.randbytes(3000))
    digest = hashlib.sha256(data).hexdigest()
    assert run(data, 1000, [("recorded", 0), ("recorded", 2)]) == digest


@pytest.mark.parametrize("way", ["reads", "blocking"])
def test_a_resent_hashed_chunk_invalidates_the_digest(way: str) -> None:
    data = bytearray(random.randbytes(3000))
    events = [("recorded", 0), ("recorded", 1), ("forgotten", 0), ("changed", 0)]
    events += [("recorded", 0), ("recorded", 2)]
    assert run(data, 1000, events, way) is None


def test_a_resent_chunk_beyond_the_prefix_is_harmless() -> None:
    data = bytearray(random.randbytes(3000))
    events = [("recorded", 2), ("forgotten", 2), ("changed", 2), ("recorded", 2)]
    events += [("recorded", 0), ("recorded", 1)]
    assert run(data, 1000, events) == hashlib.sha256(data).hexdigest()


def test_empty_file() -> None:
    assert run(bytearray(), 1000, [("recorded", 0)]) == hashlib.sha256(b"").hexdigest()


def test_hashed_ranges_are_released_in_order_and_cover_the_file() -> None:
    data = random.randbytes(10_000)
    layout = Layout(len(data), 1000, 10)
    released: list[tuple[int, int]] = []

    async def read(offset: int, n: int) -> bytes:
        return data[offset : offset + n]

    async def release(offset: int, n: int) -> None:
        released.append((offset, n))

    async def go() -> None:
        prehash = Prehash(layout, 0, [], fold_reads(read, release), asyncio.Semaphore(2))
        for index in [3, 1, 0, 2, 9, 4, 5, 6, 7, 8]:
            prehash.recorded(index)
            await asyncio.sleep(0.01)
        assert await prehash.complete() == hashlib.sha256(data).hexdigest()

    asyncio.run(go())
    position = 0
    for offset, length in released:
        assert offset == position
        position += length
    assert position == len(data)
