"""Unfinished uploads in the bucket: their multipart uploads, the parts and part records that
count, their staging objects, and reading their bytes back (see the package's docstring for the
layout). Also S3's rules for parts, and how a file is cut into them."""

from __future__ import annotations

import asyncio
import errno
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from pyfiledrop.core.model import Layout
from pyfiledrop.storage.s3.body import PIPE_BYTES, BodyPipe, Chain, Sending
from pyfiledrop.storage.s3.cache import Cache, Held
from pyfiledrop.storage.s3.client import Bucket

MIB = 1 << 20
MIN_PART = 5 * MIB
MAX_PARTS = 10_000
CREATE_WAIT = 10.0  # seconds a part waits for its upload's `create` before making it itself


def stream_part_size(max_size: int) -> int:
    """Cell size for streams: 8 MiB, or more so that `max_size` bytes fit in 10,000 parts."""
    return max(8 * MIB, -(-max_size // MAX_PARTS // MIB) * MIB)


def chunk_group(layout: Layout) -> int:
    """How many chunks make one part: 1 when chunks can be parts by themselves."""
    by_size = -(-MIN_PART // max(layout.chunk_size, 1))
    by_count = -(-layout.chunk_count // MAX_PARTS)
    return max(by_size, by_count)


@dataclass
class Listing:
    """An unfinished upload's staging objects and part records as the store lists them now."""

    objects: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (etag, size)
    parts: dict[int, str] = field(default_factory=dict)  # part number -> its record's key


class Unfinished:
    """The unfinished uploads of one bucket, seen from one process (which caches UploadIds and
    part records, and keeps copies of what it uploaded in `cache`)."""

    def __init__(self, bucket: Bucket, cache: Cache, part_size: int) -> None:
        self.bucket = bucket
        self.cache = cache
        self.part_size = part_size  # a stream's cell
        self._ids: OrderedDict[str, str] = OrderedDict()  # upload id -> UploadId, a cache
        self._records: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()

    # --- multipart uploads ----------------------------------------------------------------------

    async def create(self, upload_id: str) -> None:
        """Make the upload's multipart upload unless there is one."""
        if await self.upload_id(upload_id) is not None:
            return
        key = self.bucket.final(upload_id)
        mine = (await self.bucket.call("create_multipart_upload", Key=key))["UploadId"]
        self._ids.pop(upload_id, None)
        if await self.upload_id(upload_id) != mine:  # two were made at once: the oldest wins
            await self.bucket.call("abort_multipart_upload", Key=key, UploadId=mine)

    async def uploads(self, key: str) -> list[dict[str, Any]]:
        """The unfinished multipart uploads for exactly `key`."""
        return [u for u in await self.bucket.uploads(key) if u["Key"] == key]

    async def upload_id(self, upload_id: str) -> str | None:
        """The UploadId of the upload's multipart upload: the oldest, if a race made two."""
        if upload_id in self._ids:
            return self._ids[upload_id]
        found = await self.uploads(self.bucket.final(upload_id))
        if not found:
            return None
        chosen = str(min(found, key=lambda u: (str(u["Initiated"]), u["UploadId"]))["UploadId"])
        self._ids[upload_id] = chosen
        if len(self._ids) > 4096:
            self._ids.popitem(last=False)
        return chosen

    def forget(self, upload_id: str) -> None:
        """The upload's multipart upload was completed or aborted."""
        self._ids.pop(upload_id, None)

    async def _made_upload_id(self, upload_id: str) -> str:
        """The UploadId, waiting for `create` (another request may be making it right now); made
        here only if it never appears (its creator crashed)."""
        for _ in range(int(CREATE_WAIT / 0.1)):
            found = await self.upload_id(upload_id)
            if found is not None:
                return found
            await asyncio.sleep(0.1)
        await self.create(upload_id)
        found = await self.upload_id(upload_id)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, f"no multipart upload for {upload_id}")
        return found

    # --- storing --------------------------------------------------------------------------------

    async def put_part(self, upload_id: str, number: int, size: int, call: str, **kw: Any) -> str:
        """Make part `number` (`call` is upload_part, or upload_part_copy from an object) and
        record its ETag as the one that counts."""
        for attempt in range(2):
            mpu = await self._made_upload_id(upload_id)
            try:
                reply = await self.bucket.call(
                    call, Key=self.bucket.final(upload_id), UploadId=mpu, PartNumber=number, **kw
                )
                break
            except FileNotFoundError:  # an UploadId remembered here was aborted meanwhile
                self._ids.pop(upload_id, None)
                body = kw.get("Body")
                if attempt or (isinstance(body, BodyPipe) and body.tell()):
                    raise  # (a streamed body can be sent again only if none of it was read)
        etag = str(reply.get("ETag") or reply["CopyPartResult"]["ETag"])
        record = self.bucket.staging(upload_id, f"p/{number:05d}")
        await self.bucket.call("put_object", Key=record, Body=f"{etag} {size}".encode())
        return etag

    async def send_part(
        self, upload_id: str, number: int, length: int, blocks: AsyncGenerator[bytes, None]
    ) -> str:
        """Make part `number` of `length` bytes from `blocks` as they come: it holds no more
        than a pipe's worth of them."""

        async def call(pipe: BodyPipe) -> str:
            return await self.put_part(
                upload_id, number, length, "upload_part", Body=pipe, ContentLength=length
            )

        sending = Sending(length, call)
        try:
            async with aclosing(blocks) as feed:
                async for block in feed:
                    await sending.put(block)
            return await sending.result()
        except BaseException:
            await sending.abandon()
            raise

    async def store_object(
        self, upload_id: str, key: str, start: int, data: Chain, reserved: int
    ) -> None:
        """Store `data` as the staging object `key` and keep it for the digest; its writer had
        reserved `reserved` bytes for it."""
        reply = await self.bucket.call("put_object", Key=key, Body=data)
        self.cache.put(upload_id, Held(start, data, key, str(reply["ETag"])), reserved)

    # --- what is stored where -------------------------------------------------------------------

    async def listing(self, upload_id: str) -> Listing:
        listing = Listing()
        records = self.bucket.staging(upload_id, "p/")
        for obj in await self.bucket.objects(self.bucket.staging(upload_id)):
            key = str(obj["Key"])
            listing.objects[key] = (str(obj["ETag"]), int(obj["Size"]))
            if key.startswith(records):
                listing.parts[int(key[len(records) :])] = key
        return listing

    async def part(self, listing: Listing, number: int) -> tuple[str, int] | None:
        """(ETag, size) of the upload of part `number` that counts: its record says which.
        (SeaweedFS lists every upload of a part number, so the list cannot tell.)"""
        key = listing.parts.get(number)
        if key is None:
            return None
        seen = (key, listing.objects[key][0])
        if seen not in self._records:
            body = (await self.bucket.get(key, 0, 1 << 10)).decode().split()
            self._records[seen] = (body[0], int(body[1]))
            if len(self._records) > 65536:
                self._records.popitem(last=False)
        return self._records[seen]

    def segments(self, upload_id: str, listing: Listing) -> list[tuple[int, int, str, str]]:
        """(start, end, source, etag) of the stored bytes whose place is known without reading:
        staging objects (a stream's only along the chain from its cell's start, and only in
        cells that have no part yet), and the parts this process remembers."""
        found = []
        streams: dict[int, tuple[str, int, str]] = {}
        for key, (etag, size) in listing.objects.items():
            rest = key[len(self.bucket.staging(upload_id)) :].split("/")
            if rest[0] == "c" and len(rest) == 3:
                start = int(rest[2])
                found.append((start, start + size, key, etag))
            elif rest[0] == "s" and len(rest) == 2:
                streams[int(rest[1])] = (key, size, etag)
        cells = {start // self.part_size for start in streams}
        for cell in cells:
            if cell + 1 in listing.parts:
                continue
            position = cell * self.part_size
            while position in streams:
                key, size, etag = streams[position]
                if size == 0:
                    break
                found.append((position, position + size, key, etag))
                position += size
        return found

    # --- reading back ---------------------------------------------------------------------------

    async def read(self, upload_id: str, offset: int, length: int) -> bytes:
        """The contract's `read`: the bytes stored now, or OSError when they are in parts."""
        # Copies kept here are checked once: the core reads only recorded chunks, and counts
        # any rewrite of a recorded chunk, so a copy found current once stays good for its digest.
        pieces: list[bytes] = []
        position = offset
        while position < offset + length:
            held = self.cache.covering(upload_id, position)
            if held is None or not (held.checked or await self._still_stored(upload_id, held)):
                break
            held.checked = True
            begin = position - held.start
            pieces.append(held.data.span(begin, begin + offset + length - position))
            position += len(pieces[-1])
        else:
            return b"".join(pieces)
        listing = await self.listing(upload_id)
        async with aclosing(self.blocks(upload_id, listing, offset, length)) as blocks:
            return b"".join([block async for block in blocks])

    async def _still_stored(self, upload_id: str, held: Held) -> bool:
        """Whether a remembered part or chunk is what the store holds there now."""
        try:
            if held.source.startswith("part:"):
                record = self.bucket.staging(upload_id, f"p/{int(held.source[5:]):05d}")
                return (await self.bucket.get(record, 0, 1 << 10)).split()[0].decode() == held.etag
            if "/c/" in held.source:
                found = await self.bucket.call("head_object", Key=held.source)
                return str(found["ETag"]) == held.etag
        except FileNotFoundError:
            pass
        return False  # a stream's piece counts only along its chain: see `blocks`

    async def blocks(
        self, upload_id: str, listing: Listing, offset: int, length: int
    ) -> AsyncGenerator[bytes, None]:
        """The stored bytes from `offset`, up to `length` of them (fewer only at the end of what
        is stored), in blocks of at most PIPE_BYTES: from the copies kept here that are current,
        else from the staging objects."""
        segments = self.segments(upload_id, listing)
        position, end = offset, offset + length
        while position < end:
            before = position
            held = self.cache.covering(upload_id, position)
            if held is not None and await self._current(held, listing):
                stop = min(end, held.start + len(held.data))
                for at in range(position, stop, PIPE_BYTES):
                    yield held.data.span(at - held.start, min(stop, at + PIPE_BYTES) - held.start)
                position = stop
            else:
                segment = next((s for s in segments if s[0] <= position < s[1]), None)
                if segment is None:
                    if listing.parts:
                        raise OSError(
                            errno.EIO, "an unfinished multipart upload's parts cannot be read"
                        )
                    return  # the end of what is stored
                start, stop, key, _ = segment
                stop = min(stop, end)
                got = self.bucket.get_blocks(key, position - start, stop - start)
                async with aclosing(got) as stored:
                    async for block in stored:
                        yield block
                        position += len(block)
            if position == before:
                return  # an object shorter than listed: the end of what is stored

    async def _current(self, held: Held, listing: Listing) -> bool:
        """Whether the store holds exactly these bytes at their place now."""
        if held.source.startswith("part:"):
            found = await self.part(listing, int(held.source[5:]))
            return found is not None and found[0] == held.etag
        stored = listing.objects.get(held.source)
        if stored is None or stored[0] != held.etag:
            return False
        if "/s/" in held.source:  # a stream's piece counts only on its cell's chain
            cell = held.start // self.part_size
            return cell + 1 not in listing.parts
        return True
