"""The part writers of S3 storage: how a request's bytes reach the store as they arrive.

A chunk's length is known, so its part (or staging object) is sent while it arrives, holding at
most a pipe's worth of it. A stream's (tus) cell is held until it is full: a PATCH may end
anywhere and its bytes must then be stored, but a part whose upload has begun cannot be cut
short. Beyond STREAM_ALLOWANCE, the bytes a stream holds take room that all writers share
(`Cache.reserve`); when there is none, the stream stages what it holds, so memory stays bounded
however many streams arrive at once.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncGenerator
from contextlib import aclosing

from pyfiledrop.core.model import Layout
from pyfiledrop.storage.s3.body import PIPE_BYTES, BodyPipe, Chain, Sending
from pyfiledrop.storage.s3.cache import Held
from pyfiledrop.storage.s3.unfinished import MIB, Unfinished, chunk_group

STREAM_ALLOWANCE = 1 * MIB  # bytes a stream may hold without reserving (admission.py's ~1 MB)


class ChunkWriter:
    """One chunk, sent while it arrives. Its length is known from the layout, so its call
    (UploadPart, or PutObject for a staged chunk) starts at its first byte and reads the rest
    from a `BodyPipe`: the request holds at most PIPE_BYTES of it. Its pieces are also kept
    as they came (not copied) for the running digest when there is room for the whole chunk."""

    def __init__(
        self, unfinished: Unfinished, upload_id: str, index: int, offset: int, layout: Layout
    ) -> None:
        self._unfinished = unfinished
        self._upload_id = upload_id
        self._offset = offset
        self._length = layout.length(index)
        group = chunk_group(layout)
        # (an empty part can wedge SeaweedFS's connection: an empty chunk is staged)
        self._number = index + 1 if group == 1 and self._length else 0
        part = index // group + 1
        self._key = unfinished.bucket.staging(upload_id, f"c/{part:05d}/{offset:016d}")
        self._sending: Sending | None = None
        self._kept: list[bytes | memoryview] | None = None  # the pieces, for the digest
        self._written = 0
        self._stored = False

    async def write(self, data: bytes | memoryview) -> None:
        if self._written + len(data) > self._length:
            raise OSError(errno.EIO, f"more bytes than the chunk's {self._length}")
        if self._sending is None:
            cache = self._unfinished.cache
            if await cache.room(self._upload_id, self._offset, self._length):
                self._kept = []
            elif self._number:  # a part without a copy: the running digest cannot read it
                cache.lose(self._upload_id)
            self._sending = Sending(self._length, self._send)
        if self._kept is not None:
            self._kept.append(data)
        self._written += len(data)
        await self._sending.put(data)

    async def _send(self, pipe: BodyPipe) -> str:
        if self._number:
            return await self._unfinished.put_part(
                self._upload_id, self._number, self._length, "upload_part",
                Body=pipe, ContentLength=self._length,
            )  # fmt: skip
        reply = await self._unfinished.bucket.call(
            "put_object", Key=self._key, Body=pipe, ContentLength=self._length
        )
        return str(reply["ETag"])

    async def flush(self) -> None:
        if self._stored:
            return
        if self._sending is not None:
            etag = await self._sending.result()
        elif self._length:
            raise OSError(errno.EIO, f"none of the chunk's {self._length} bytes came")
        else:
            reply = await self._unfinished.bucket.call("put_object", Key=self._key, Body=b"")
            etag = str(reply["ETag"])
        if self._kept is not None:
            source = f"part:{self._number}" if self._number else self._key
            held = Held(self._offset, Chain(self._kept), source, etag)
            self._unfinished.cache.put(self._upload_id, held, reserved=self._length)
            self._kept = None
        self._stored = True

    async def close(self) -> None:
        try:
            if self._sending is not None and not self._stored:
                await self._sending.abandon()
        finally:
            if self._kept is not None:
                self._unfinished.cache.unreserve(self._length, (self._upload_id, self._offset))
                self._kept = None


class StreamWriter:
    """A stream's bytes in order: a cell's bytes are held until it is full, then sent as its
    part; a flush stores what is held as a staging object. Beyond STREAM_ALLOWANCE the held
    bytes take reserved room; when there is none, what is held is staged at once."""

    def __init__(self, unfinished: Unfinished, upload_id: str, offset: int) -> None:
        self._unfinished = unfinished
        self._upload_id = upload_id
        self._start = offset  # where the held bytes start in the file
        self._held: list[memoryview] = []
        self._held_bytes = 0
        self._reserved = 0  # room reserved for the held bytes beyond the allowance

    async def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        size = self._unfinished.part_size
        while view:
            room = (self._start // size + 1) * size - self._start - self._held_bytes
            await self._hold(view[:room])
            view = view[room:]
            if self._held_bytes == (self._start // size + 1) * size - self._start:
                await self._fill_cell()

    async def _hold(self, piece: memoryview) -> None:
        cache = self._unfinished.cache
        over = self._held_bytes + len(piece) - STREAM_ALLOWANCE - self._reserved
        if over > 0 and not cache.reserve(over):
            await self._stage()  # no room left: hold no more than the allowance
            over = len(piece) - STREAM_ALLOWANCE
            if over > 0 and not cache.reserve(over):
                over = 0  # one piece larger than the allowance, as big as the caller made it
        self._reserved += max(over, 0)
        self._held.append(piece)
        self._held_bytes += len(piece)

    async def _fill_cell(self) -> None:
        unfinished, upload_id = self._unfinished, self._upload_id
        size = unfinished.part_size
        begin = self._start // size * size
        number = begin // size + 1
        source = f"part:{number}"
        held = Chain(self._held)
        if self._start > begin:  # the cell's start was stored by an earlier flush: sent from there
            etag = await self._send_with_stored_start(begin, held)
        else:
            etag = await unfinished.put_part(upload_id, number, size, "upload_part", Body=held)
        unfinished.cache.adopt(upload_id, begin, self._start, source, etag)
        unfinished.cache.put(upload_id, Held(self._start, held, source, etag), self._reserved)
        self._start = begin + size
        self._held, self._held_bytes, self._reserved = [], 0, 0

    async def _send_with_stored_start(self, begin: int, held: Chain) -> str:
        """Send the cell's part: its start read back from the store as it goes, then the held
        bytes. The start is kept too (for the digest) if there is room for it."""
        unfinished, upload_id = self._unfinished, self._upload_id
        size = unfinished.part_size
        length = self._start - begin
        cache = unfinished.cache
        copy: list[bytes] | None = None
        if cache.keeps(upload_id) and cache.reserve(length):
            copy = []
        else:
            cache.lose(upload_id)

        async def blocks() -> AsyncGenerator[bytes, None]:
            listing = await unfinished.listing(upload_id)
            async with aclosing(unfinished.blocks(upload_id, listing, begin, length)) as stored:
                async for block in stored:
                    if copy is not None:
                        copy.append(block)
                    yield block
            for at in range(0, len(held), PIPE_BYTES):
                yield held.span(at, at + PIPE_BYTES)

        try:
            etag = await unfinished.send_part(upload_id, begin // size + 1, size, blocks())
        except BaseException:
            if copy is not None:
                unfinished.cache.unreserve(length)
            raise
        if copy is not None:
            kept = Held(begin, Chain(copy), f"part:{begin // size + 1}", etag)
            unfinished.cache.put(upload_id, kept, length)
        return etag

    async def _stage(self) -> None:
        if self._held:
            key = self._unfinished.bucket.staging(self._upload_id, f"s/{self._start:016d}")
            data = Chain(self._held)
            await self._unfinished.store_object(
                self._upload_id, key, self._start, data, self._reserved
            )
            self._start += len(data)
            self._held, self._held_bytes, self._reserved = [], 0, 0

    async def flush(self) -> None:
        await self._stage()

    async def close(self) -> None:
        self._unfinished.cache.unreserve(self._reserved)
        self._held, self._held_bytes, self._reserved = [], 0, 0
