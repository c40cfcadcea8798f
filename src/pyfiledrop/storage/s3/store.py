"""`S3Storage`: the Storage contract (core/interfaces.py) on an S3 bucket, with concatenation,
range reads and presigned downloads. How it lays uploads out is in the package's docstring."""

from __future__ import annotations

import asyncio
import errno
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from pyfiledrop.core.interfaces import Sealed
from pyfiledrop.core.model import Layout
from pyfiledrop.storage.s3.cache import Cache
from pyfiledrop.storage.s3.client import S3API, Bucket
from pyfiledrop.storage.s3.concat import COPY_SPAN, Part, plan
from pyfiledrop.storage.s3.unfinished import MAX_PARTS, MIB, MIN_PART, Unfinished
from pyfiledrop.storage.s3.writers import ChunkWriter, StreamWriter

READ_BLOCK = 1 * MIB
_HASH_BLOCK = 8 * MIB
_GATHER = 4  # groups gathered at once by `seal`, parts made at once by `concat`
SEALED = "sealed"  # staging object: the upload's object is sealed and still scratch (`_seal`)
PRESIGNED_SECONDS = 3600
COPY_LIMIT = 5 << 30  # S3's largest CopyObject; larger files are copied part by part


class S3Storage:
    """Unfinished uploads as multipart uploads plus staging objects; sealed ones as objects under
    their id, which stay there as the finished files once placed."""

    def __init__(
        self,
        api: S3API,
        bucket: str,
        prefix: str,
        *,
        endpoint: str,
        part_size: int = 8 * MIB,
        threads: int = 32,
        cache_bytes: int = 64 * MIB,
    ) -> None:
        self.bucket = Bucket(api, bucket, prefix, endpoint, threads)
        self.part_size = max(part_size, MIN_PART)
        self.unfinished = Unfinished(self.bucket, Cache(cache_bytes), self.part_size)

    async def check(self) -> tuple[str, str] | None:
        """Reach the bucket and list its unfinished uploads; None when that works, else what
        is wrong: ("bucket" | "endpoint" | "credentials", the reason)."""
        return await self.bucket.check()

    # --- the Storage contract -------------------------------------------------------------------

    async def create(self, upload_id: str) -> None:
        await self.unfinished.create(upload_id)

    async def part_writer(
        self, upload_id: str, index: int, offset: int, chunking: Layout | None = None
    ) -> ChunkWriter | StreamWriter:
        if chunking is not None:
            return ChunkWriter(self.unfinished, upload_id, index, offset, chunking)
        return StreamWriter(self.unfinished, upload_id, offset)

    async def read(self, upload_id: str, offset: int, length: int) -> bytes:
        return await self.unfinished.read(upload_id, offset, length)

    async def release(self, upload_id: str, offset: int, length: int) -> None:
        self.unfinished.cache.release(upload_id, offset, length)

    async def seal(self, upload_id: str, sha256: str | None) -> Sealed:
        size, fresh = await self._seal(upload_id)
        # sealed by an attempt cut short (or placed already): check what is there
        digest = (sha256 if fresh else None) or await self._hash(self.bucket.final(upload_id), size)
        await self._clear(upload_id, keep=self.bucket.staging(upload_id, SEALED))
        return Sealed(size=size, sha256=digest)

    async def place(self, upload_id: str, key: str) -> str:
        """S3 has no rename (a copy is a pass over every byte, in the store): the sealed object
        stays under the upload's id and becomes the finished file once its marker is gone."""
        if await self.bucket.exists(self.bucket.final(upload_id)) is None:
            raise FileNotFoundError(errno.ENOENT, f"nothing sealed for {upload_id}")
        marker = self.bucket.staging(upload_id, SEALED)
        await self.bucket.call("delete_objects", Delete={"Objects": [{"Key": marker}]})
        return upload_id

    async def rename(self, key: str, new_key: str) -> None:
        """For the migration of files older versions left under upload ids: the store copies
        the object (no byte passes through here), then the old one is removed. Readers of
        `new_key` see the copy whole or not at all."""
        source, target = self.bucket.final(key), self.bucket.final(new_key)
        size = await self.bucket.exists(source)
        if size is None:
            if await self.bucket.exists(target) is not None:  # an attempt cut short
                return
            raise FileNotFoundError(errno.ENOENT, f"nothing to move at {key}")
        if size <= COPY_LIMIT:
            copied = {"Bucket": self.bucket.name, "Key": source}
            await self.bucket.call("copy_object", Key=target, CopySource=copied)
        else:
            await self._copy_in_parts(source, target, size)
        await self.remove(key)

    async def _copy_in_parts(self, source: str, target: str, size: int) -> None:
        bucket = self.bucket
        mpu = (await bucket.call("create_multipart_upload", Key=target))["UploadId"]
        copied = {"Bucket": bucket.name, "Key": source}
        limit = asyncio.Semaphore(_GATHER)

        async def part(number: int, start: int) -> dict[str, object]:
            async with limit:
                span = f"bytes={start}-{min(start + COPY_SPAN, size) - 1}"
                reply = await bucket.call(
                    "upload_part_copy", Key=target, UploadId=mpu, PartNumber=number,
                    CopySource=copied, CopySourceRange=span,
                )  # fmt: skip
                return {"PartNumber": number, "ETag": reply["CopyPartResult"]["ETag"]}

        starts = range(0, size, COPY_SPAN)
        try:
            parts = await asyncio.gather(*(part(n, s) for n, s in enumerate(starts, 1)))
            await bucket.call(
                "complete_multipart_upload", Key=target, UploadId=mpu,
                MultipartUpload={"Parts": list(parts)},
            )  # fmt: skip
        except BaseException:
            await asyncio.shield(bucket.call("abort_multipart_upload", Key=target, UploadId=mpu))
            raise

    async def size_of(self, key: str) -> int | None:
        return await self.bucket.exists(self.bucket.final(key))

    async def _assemble(self, upload_id: str, final: str) -> int:
        """Gather what is staged into the parts it belongs to, then complete the multipart
        upload into `final`; its size."""
        unfinished, bucket = self.unfinished, self.bucket
        mpu = await unfinished.upload_id(upload_id)
        if mpu is None:
            raise FileNotFoundError(errno.ENOENT, f"no unfinished upload {upload_id}")
        listing = await unfinished.listing(upload_id)
        parts: dict[int, str] = {}
        sizes: dict[int, int] = {}
        for number in listing.parts:
            record = await unfinished.part(listing, number)
            assert record is not None
            parts[number], sizes[number] = record
        pending: dict[int, list[tuple[int, int, str, str]]] = {}
        for segment in unfinished.segments(upload_id, listing):
            rest = segment[2][len(bucket.staging(upload_id)) :].split("/")
            number = int(rest[1]) if rest[0] == "c" else segment[0] // self.part_size + 1
            pending.setdefault(number, []).append(segment)
        limit = asyncio.Semaphore(_GATHER)

        async def gather(number: int, pieces: list[tuple[int, int, str, str]]) -> None:
            async with limit:
                pieces.sort()
                start, size = pieces[0][0], pieces[-1][1] - pieces[0][0]
                if size:
                    blocks = unfinished.blocks(upload_id, listing, start, size)
                    parts[number] = await unfinished.send_part(upload_id, number, size, blocks)
                    sizes[number] = size

        await asyncio.gather(*(gather(n, p) for n, p in pending.items()))
        if sum(sizes.values()) == 0:  # an empty file: S3 wants no empty multipart object
            await bucket.call("put_object", Key=final, Body=b"")
            await bucket.call("abort_multipart_upload", Key=final, UploadId=mpu)
            return 0
        await bucket.call(
            "complete_multipart_upload",
            Key=final,
            UploadId=mpu,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
        )
        unfinished.forget(upload_id)
        found = await bucket.exists(final)
        if found is None:
            raise OSError(errno.EIO, "the completed object is not in the store")
        return found

    # --- concatenation (tus) --------------------------------------------------------------------

    async def concat(self, upload_id: str, sources: list[str]) -> None:
        """Seal the sources, then make the parts `concat.plan` chooses, copied by the store or
        gathered here. None: copied bytes are never seen here, so `seal` hashes the file."""
        sizes = [(await self._seal(source))[0] for source in sources]
        parts = plan(sizes, MIN_PART, COPY_SPAN)
        if len(parts) > MAX_PARTS:
            raise OSError(errno.EFBIG, f"the concatenation would take {len(parts)} parts")
        limit = asyncio.Semaphore(_GATHER)

        async def make(number: int, part: Part) -> None:
            async with limit:
                pieces = [(self.bucket.final(sources[p.source]), p) for p in part.pieces]
                if part.copied:
                    key, piece = pieces[0]
                    copied = {"Bucket": self.bucket.name, "Key": key}
                    span = f"bytes={piece.start}-{piece.end - 1}"
                    await self.unfinished.put_part(
                        upload_id, number, part.size, "upload_part_copy",
                        CopySource=copied, CopySourceRange=span,
                    )  # fmt: skip
                else:
                    ranges = [(k, p.start, p.end) for k, p in pieces]
                    await self.unfinished.send_part(
                        upload_id, number, part.size, self._ranges(ranges)
                    )

        made = [make(n, part) for n, part in enumerate(parts, 1)]
        for outcome in await asyncio.gather(*made, return_exceptions=True):
            if isinstance(outcome, BaseException):  # raised once every part call has ended
                raise outcome

    async def _ranges(self, ranges: list[tuple[str, int, int]]) -> AsyncGenerator[bytes, None]:
        """The bytes of these (object key, start, end) ranges, one after the other, in blocks."""
        for key, start, end in ranges:
            async with aclosing(self.bucket.get_blocks(key, start, end)) as blocks:
                async for block in blocks:
                    yield block

    async def _seal(self, upload_id: str) -> tuple[int, bool]:
        """Complete a whole partial upload into its object, once (for `seal`, and for `concat`:
        parts can be copied only from objects); its size, and whether this call completed it.
        Its marker, put first, tells `discard` that the object is still scratch, not a finished
        file."""
        final = self.bucket.final(upload_id)
        size = await self.bucket.exists(final)
        if size is not None:
            return size, False
        marker = self.bucket.staging(upload_id, SEALED)
        await self.bucket.call("put_object", Key=marker, Body=b"")
        return await self._assemble(upload_id, final), True

    # --- finishing and removing -----------------------------------------------------------------

    async def _hash(self, key: str, size: int) -> str:
        if size == 0:
            return hashlib.sha256().hexdigest()
        reply = await self.bucket.call("get_object", Key=key)
        body = reply["Body"]

        def digest() -> str:
            sha = hashlib.sha256()
            while block := body.read(_HASH_BLOCK):
                sha.update(block)
            return sha.hexdigest()

        try:
            return await self.bucket.run(digest)
        finally:
            body.close()

    async def _clear(self, upload_id: str, keep: str = "") -> None:
        """Remove the staging objects of `upload_id` (but `keep`) and forget what this process
        held."""
        self.unfinished.cache.forget(upload_id)
        self.unfinished.forget(upload_id)
        staged = await self.bucket.objects(self.bucket.staging(upload_id))
        keys = [obj["Key"] for obj in staged if obj["Key"] != keep]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            await self.bucket.call("delete_objects", Delete={"Objects": batch, "Quiet": True})

    async def discard(self, upload_id: str) -> None:
        sealed = self.bucket.final(upload_id)
        # A completed upload is never aborted: SeaweedFS then destroys its object (issues 10663
        # and 11382). Sealed and not placed (its marker still there), its object is scratch.
        if await self.bucket.exists(sealed) is not None:
            if await self.bucket.exists(self.bucket.staging(upload_id, SEALED)) is not None:
                await self.remove(upload_id)
        else:
            for upload in await self.unfinished.uploads(sealed):
                try:
                    await self.bucket.call(
                        "abort_multipart_upload", Key=sealed, UploadId=upload["UploadId"]
                    )
                except FileNotFoundError:
                    pass
        await self._clear(upload_id)

    async def remove(self, key: str) -> None:
        await self.bucket.call(
            "delete_objects", Delete={"Objects": [{"Key": self.bucket.final(key)}]}
        )

    async def partials(self) -> set[str]:
        files = self.bucket.final("")
        found = {u["Key"][len(files) :] for u in await self.bucket.uploads(files)}
        # A sealed object is found by its marker (staged): without one it is a finished file.
        staging = self.bucket.staging("")[:-1]  # no delimiter: some stores list emptied "folders"
        for entry in await self.bucket.objects(staging):
            found.add(entry["Key"][len(staging) :].split("/")[0])
        return {f for f in found if f and "/" not in f}  # never a content key's copy in parts

    async def legacy_files(self) -> list[str]:
        files = self.bucket.final("")
        return [o["Key"][len(files) :] for o in await self.bucket.objects(files, delimiter="/")]

    # --- downloads ------------------------------------------------------------------------------

    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        blocks = self.bucket.get_blocks(self.bucket.final(key), start, end, READ_BLOCK)
        async with aclosing(blocks) as stored:
            async for block in stored:
                yield block

    def presigned_url(self, key: str, disposition: str, media_type: str) -> str:
        return self.bucket.api.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket.name,
                "Key": self.bucket.final(key),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": media_type,
            },
            ExpiresIn=PRESIGNED_SECONDS,
        )

    def close(self) -> None:
        self.bucket.close()
