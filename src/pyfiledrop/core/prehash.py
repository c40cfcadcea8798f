"""SHA-256 of an upload, computed while the rest of it is still arriving.

Chunks come in any order. Whenever the run of chunks received from the start grows, a worker thread
hashes the new part of that run, reading it back from storage (on local disk: from the page cache),
then releases it so storage can start making it durable. When the last chunk arrives little is left
to hash or flush, and the upload is finished quickly.

Held in memory only: after a restart it starts again from the first byte. When a chunk that is
already hashed is sent again (its bytes could differ), `result()` gives None and the file is hashed
from scratch when it is finished.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable

from pyfiledrop.core.model import Layout

_BLOCK = 4 << 20


class Prehash:
    """The running digest of one upload's received prefix."""

    def __init__(
        self,
        layout: Layout,
        received: Iterable[int],
        read: Callable[[int, int], bytes],
        release: Callable[[int, int], None],
    ) -> None:
        self._layout = layout
        self._received = set(received)
        self._read = read
        self._release = release
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
                stop = min(self._layout.size, end * self._layout.chunk_size)
                await asyncio.to_thread(self._hash_until, stop)
        except OSError:
            self._valid = False
        finally:
            self._task = None

    def _hash_until(self, stop: int) -> None:
        start = self._hashed
        while self._hashed < stop:
            data = self._read(self._hashed, min(_BLOCK, stop - self._hashed))
            if not data:
                raise OSError("the partial file is shorter than its recorded chunks")
            self._digest.update(data)
            self._hashed += len(data)
        self._release(start, stop - start)

    async def result(self) -> str | None:
        """The hex digest of the whole file, or None when it has to be computed afresh."""
        while self._task is not None:
            await asyncio.shield(self._task)
        if self._valid and self._hashed == self._layout.size:
            return self._digest.hexdigest()
        return None
