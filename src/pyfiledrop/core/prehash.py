"""SHA-256 of an upload, computed while the rest of it is still arriving.

Chunks come in any order. Whenever the run of chunks received from the start grows, the new part
of that run is read back from storage (on local disk: from the page cache) and hashed in a worker
thread, then released so storage can start making it durable; on local disk all three happen in
one trip to that thread. When the upload is finished, only the rest of the file (usually the last
chunks) is left to hash.

Held in one process's memory, as a cache: it knows only the chunks this process received, and
after a restart it starts again from the first byte. A chunk re-sent after it was received (here
or in another process) may change bytes already hashed; the metadata store counts such rewrites,
and `Finisher` uses a digest only when the count is what it was when this one started.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyfiledrop.core.model import Layout

_BLOCK = 4 << 20
_HASHER = ThreadPoolExecutor(2, thread_name_prefix="sha256")  # its own threads: never queued
# behind storage calls
Reader = Callable[[int, int], Awaitable[bytes]]
Releaser = Callable[[int, int], Awaitable[None]]
Fold = Callable[[Any, int, int], Awaitable[int]]
"""Folds the upload's bytes [offset, offset + length) into a digest; returns how many it folded
(fewer only past the end of what is stored)."""


def fold_reads(read: Reader, release: Releaser | None) -> Fold:
    """A `Fold` for any storage: read, hash in a hashing thread, then release."""

    async def fold(digest: Any, offset: int, length: int) -> int:
        data = await read(offset, length)
        if data:
            await asyncio.get_running_loop().run_in_executor(_HASHER, digest.update, data)
            if release:
                await release(offset, len(data))
        return len(data)

    return fold


def fold_blocking(read: Callable[[int, int], bytes]) -> Fold:
    """A `Fold` for storage that can read (and release) in the caller's thread: one trip to a
    hashing thread per block instead of three."""

    def read_and_hash(digest: Any, offset: int, length: int) -> int:
        data = read(offset, length)
        digest.update(data)
        return len(data)

    async def fold(digest: Any, offset: int, length: int) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_HASHER, read_and_hash, digest, offset, length)

    return fold


class Prehash:
    """The running digest of one upload's received prefix."""

    def __init__(
        self,
        layout: Layout,
        rewrites: int,
        received: Iterable[int],
        fold: Fold,
        gate: asyncio.Semaphore,
    ) -> None:
        self.rewrites = rewrites  # the upload's rewrite count when the chunk set was read
        self._layout = layout
        self._received = set(received)
        self._fold = fold
        self._gate = gate  # shared by all running digests: bounds the blocks held at once
        self._digest = hashlib.sha256()
        self._hashed = 0  # bytes folded into the digest
        self._frontier = 0  # chunks [0, frontier) are hashed or being hashed
        self._valid = True
        self._task: asyncio.Task[None] | None = None

    def forgotten(self, index: int) -> None:
        """Chunk `index` is about to be overwritten by a re-send."""
        self._received.discard(index)
        if index < self._frontier:
            self._valid = False

    def recorded(self, index: int) -> None:
        """Chunk `index` is whole and recorded; hash further if the prefix grew."""
        self._received.add(index)
        if self._valid and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._valid:
                end = self._frontier
                while end in self._received:
                    end += 1
                if end == self._frontier:
                    return
                self._frontier = end
                await self._hash_until(min(self._layout.size, end * self._layout.chunk_size))
        except OSError:
            self._valid = False
        finally:
            self._task = None

    async def _hash_until(self, stop: int) -> None:
        while self._hashed < stop:
            async with self._gate:
                folded = await self._fold(
                    self._digest, self._hashed, min(_BLOCK, stop - self._hashed)
                )
            if not folded:
                raise OSError("the partial file is shorter than its recorded chunks")
            self._hashed += folded

    async def complete(self) -> str | None:
        """The hex digest of the whole file, hashing what is left (every chunk is in now), or
        None when it has to be computed afresh."""
        while self._task is not None:
            await asyncio.shield(self._task)
        if not self._valid:
            return None
        self._frontier = self._layout.chunk_count
        try:
            await self._hash_until(self._layout.size)
        except OSError:
            return None
        return self._digest.hexdigest()
