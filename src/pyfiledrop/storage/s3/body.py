"""Request bodies for S3 calls, as boto3 reads them: from a request still arriving, or from
pieces held in memory.

boto3 sends a file-like `Body` of a given `ContentLength` block by block, so a part can go to the
store while its bytes arrive: `BodyPipe` passes them from the request's coroutine to the thread
sending them, with at most `PIPE_BYTES` waiting in between. Such a body cannot be read twice, so
botocore cannot retry the call once it has sent some of it, and over plain http it cannot put a
checksum in a header (that needs the whole body first): see `Bucket.call` in client.py.

`Chain` is for bytes already in memory, held as the pieces they arrived in: one seekable body
without joining them into a copy, so botocore can checksum it and send it again on a retry.
"""

from __future__ import annotations

import asyncio
import errno
import io
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from itertools import accumulate

PIPE_BYTES = 256 * 1024  # bytes that may wait in a pipe: what a streaming request holds


class Abandoned(Exception):
    """Raised in the sending thread when the writer gave up on the body: the call fails, so the
    store keeps nothing of it."""


class BodyPipe:
    """The body of one S3 call, `length` bytes, put in by a coroutine as they arrive and read by
    the boto3 thread that sends them."""

    def __init__(self, length: int, limit: int = PIPE_BYTES) -> None:
        self.length = length
        self.limit = limit
        self.put_bytes = 0
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._pieces: deque[memoryview] = deque()
        self._waiting = 0  # bytes put and not read yet
        self._read = 0
        self._error: Abandoned | None = None
        self._stopped = False  # the call has ended: nothing reads any more
        self._wanting = False  # the writer waits for room
        self._room = asyncio.Event()

    async def put(self, data: bytes | memoryview) -> None:
        """Queue `data` to be sent, waiting while `limit` bytes wait already. Raises
        BrokenPipeError when the call ended before reading everything (it failed)."""
        view = memoryview(data).cast("B")
        if self.put_bytes + len(view) > self.length:
            raise OSError(errno.EIO, f"more than the {self.length} bytes of this body")
        while True:
            with self._lock:
                if self._stopped:
                    raise BrokenPipeError("the store stopped reading this body")
                if self._waiting < self.limit:
                    self._pieces.append(view)
                    self._waiting += len(view)
                    self.put_bytes += len(view)
                    self._readable.notify()
                    return
                self._wanting = True
                self._room.clear()
            await self._room.wait()

    def stop(self) -> None:
        """The call has ended: wake a writer waiting for room (its next `put` raises)."""
        with self._lock:
            self._stopped = True
        self._room.set()

    def abandon(self) -> None:
        """The writer gives up: the sending thread raises `Abandoned` at its next read."""
        with self._lock:
            self._error = Abandoned("the request's body ended before the part did")
            self._pieces.clear()
            self._waiting = 0
            self._readable.notify_all()

    # --- the file-like side, read in the sending thread ----------------------------------------

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise io.UnsupportedOperation("a body pipe is read in blocks")
        with self._lock:
            while self._error is None and not self._pieces and self._read < self.length:
                self._readable.wait()
            if self._error is not None:
                raise self._error
            out: list[memoryview] = []
            taken = 0
            while self._pieces and taken < size:
                piece = self._pieces[0]
                out.append(piece[: size - taken])
                taken += len(out[-1])
                if len(out[-1]) == len(piece):
                    self._pieces.popleft()
                else:
                    self._pieces[0] = piece[len(out[-1]) :]
            self._waiting -= taken
            self._read += taken
            wake = self._wanting and self._waiting <= self.limit // 2
            if wake:
                self._wanting = False
        if wake:
            try:
                self._loop.call_soon_threadsafe(self._room.set)
            except RuntimeError:  # the loop is closed: nobody waits
                pass
        return b"".join(out)

    def tell(self) -> int:
        return self._read

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only to where reading has not begun (botocore rewinds a body before a retry), and
        not once abandoned (no retry then)."""
        if whence == io.SEEK_SET and offset == 0 == self._read and self._error is None:
            return 0
        raise io.UnsupportedOperation("a body pipe cannot be rewound once read")


class Sending:
    """One S3 call under way whose body is still arriving: `call(pipe)` runs as a task, fed by
    `put`; `result` is its answer once every byte is in."""

    def __init__(self, length: int, call: Callable[[BodyPipe], Awaitable[str]]) -> None:
        self.pipe = BodyPipe(length)
        self._task = asyncio.ensure_future(call(self.pipe))
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Future[str]) -> None:
        self.pipe.stop()
        if not task.cancelled():
            task.exception()  # retrieved here too: an abandoned call's failure is expected

    async def put(self, data: bytes | memoryview) -> None:
        try:
            await self.pipe.put(data)
        except BrokenPipeError:
            await self._task  # raises why the call failed
            raise

    async def result(self) -> str:
        """The call's answer (an ETag); OSError when fewer than `length` bytes were put."""
        if self.pipe.put_bytes != self.pipe.length:
            await self.abandon()
            raise OSError(
                errno.EIO, f"the body ended after {self.pipe.put_bytes} of {self.pipe.length} bytes"
            )
        return await self._task

    async def abandon(self) -> None:
        """Give up: the call fails without storing anything; returns once it has ended, so a
        later writer of the same part never races it."""
        self.pipe.abandon()
        await asyncio.shield(asyncio.wait([self._task]))


class Chain:
    """Bytes held as pieces, read as one seekable body without being joined."""

    def __init__(self, pieces: Sequence[bytes | bytearray | memoryview]) -> None:
        self._pieces = [memoryview(p).cast("B") for p in pieces if len(p)]
        self._starts = [0, *accumulate(len(p) for p in self._pieces)]
        self._position = 0

    def __len__(self) -> int:
        return self._starts[-1]

    def span(self, start: int, end: int) -> bytes:
        """Bytes `start` to `end` (exclusive), as a copy."""
        end = min(end, len(self))
        out: list[memoryview] = []
        while start < end:
            index = bisect_right(self._starts, start) - 1
            piece = self._pieces[index]
            begin = start - self._starts[index]
            out.append(piece[begin : begin + end - start])
            start += len(out[-1])
        return b"".join(out)

    def read(self, size: int = -1) -> bytes:
        end = len(self) if size is None or size < 0 else self._position + size
        data = self.span(self._position, end)
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position
