"""S3-compatible object storage (AWS S3, SeaweedFS, MinIO, ...), through boto3.

Layout in the bucket, every key under the prefix P of `--storage s3://bucket/P`:
    P/files/<key>                     finished files. An upload in progress is an S3 multipart
                                      upload *for this key*, so CompleteMultipartUpload is the
                                      atomic move into place. Its UploadId is found again by
                                      listing the multipart uploads with the key as prefix (the
                                      oldest one, if a race made two), so nothing is kept in a
                                      process's memory or in the metadata store.
    P/partial/<id>/c/<part>/<offset>  a chunk smaller than S3's 5 MiB minimum part, staged as an
                                      object until `complete` gathers its group into part <part>
    P/partial/<id>/s/<offset>         stream bytes (tus) stored at a flush that do not fill a
                                      whole part yet
    P/partial/<id>/p/<part>           "<ETag> <size>" of the upload of part <part> that counts.
                                      SeaweedFS lists every upload of a re-sent part number and
                                      completes with whichever ETag it is given, so the list
                                      cannot say which is current; the last writer's record can
                                      (writers of one chunk take turns: the core's chunk claims)
    P/partial/<id>/sealed             marks a partial upload of a tus concatenation whose
                                      multipart upload was completed to be copied from: its
                                      object under files/ is scratch, removed by `discard`

How parts are made:
- Chunks (Dropzone, the command-line client) of at least 5 MiB, at most 10,000 of them: chunk i
  is part i + 1, uploaded straight from the request (the last, shorter chunk is the last part).
  A re-sent chunk replaces its part. No byte is written twice.
- Smaller chunks (the page's 1 MB, a file's last chunk): groups of `ceil(5 MiB / chunk size)`
  consecutive chunks (more if the file would need more than 10,000 parts) make one part; each
  chunk is a staging object until `complete` downloads each group and uploads it as its part.
  Each byte then crosses the network three times: give the page `--chunk-size 8388608`.
  A chunk's length is known from the layout, so its call (UploadPart, or PutObject for a staged
  chunk) starts with its first byte and sends the rest as it arrives (s3_body.py): a request
  holds at most `PIPE_BYTES` of it, whatever the chunk size.
- Streams (tus PATCHes of any size, plain uploads): the file is cut into cells of `part_size`
  bytes; a cell is part `cell + 1`. Bytes are held in memory until their cell is full, then
  uploaded as its part; a `flush` before that stores the held bytes as a staging object. When a
  cell fills, the staged bytes of its start are downloaded and sent with the rest. The last cell
  is gathered by `complete`. `part_size` is chosen so the largest file allowed fits in 10,000.
  A stream's cell is held, not sent as it arrives: a PATCH may end anywhere, and its bytes must
  then be stored, but a part whose upload has begun cannot be cut short. What a stream holds
  beyond `STREAM_ALLOWANCE` counts against the process's budget (`cache_bytes`, below); when the
  budget is spent the writer stages what it holds, so memory stays bounded at any load.

Concatenation (tus): parts can be copied by the store (UploadPartCopy) only from objects, not
from an unfinished multipart upload. So each whole partial upload is first sealed: its multipart
upload completed into its object (its last cell gathered, as `complete` does), once. The final
upload's parts are then ranges of those objects copied by the store, or, where S3's 5 MiB minimum
part forbids it, downloaded and sent together (s3_concat.py plans which). A sealed source stays
as it is, ready for another concatenation, until it is discarded.

Hashing: an unfinished multipart upload's parts cannot be read back. The bytes this process
uploaded are kept in memory (within the budget `cache_bytes`, shared with the bytes streams hold;
oldest dropped first) until the core's running SHA-256 has read them (`release`); before a kept
copy is used it is checked once against the part's record (or the staging object's ETag), so
`read` returns the bytes stored now or raises OSError, never a stale copy. Staging objects are
read back from the store. When the digest could not follow (it fell more than `cache_bytes`
behind, or another process received the chunks), `complete` downloads the finished object once
and hashes it (bench/s3_bench.py measures both).

Failure modes:
- The store unreachable, refusing the credentials, the bucket gone, or answering 5xx: every call
  raises `StorageUnavailable` naming the reason; the core answers 503 and keeps the upload as it
  was. Stored parts stay in the store, so the upload resumes when it is back.
- A process killed mid-part: S3 keeps only whole parts and whole objects; the core records a
  chunk only after its part is stored, so the chunk is simply sent again and replaces it.
- Killed between CompleteMultipartUpload and the database saying complete: `complete` finds the
  object in place and returns it (hashing it again).
- Two processes creating the multipart upload at the same moment both keep the oldest one; only
  the upload's creator makes it, and a part waits `CREATE_WAIT` for it first, so this needs a
  crash between the record and the multipart upload. A writer whose chunk claim ran out while it
  hung may leave its (identical, re-sent) bytes as the part that counts.
- A completed upload is never aborted (SeaweedFS then destroys the object, issues 10663 and
  11382): `discard` aborts only when no object is in place under the upload's key.
- Staging objects left by a crash are removed with their upload (`discard`, `partials`).
  Unfinished uploads that no record names are aborted at start; a bucket lifecycle rule
  (AbortIncompleteMultipartUpload) is still advisable for what an operator deletes by hand.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import hashlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    UnseekableStreamError,
)

from pyfiledrop.core.interfaces import StorageUnavailable, StoredFile
from pyfiledrop.core.model import Layout
from pyfiledrop.storage.s3_body import PIPE_BYTES, BodyPipe, Chain, Sending
from pyfiledrop.storage.s3_concat import Part, plan

T = TypeVar("T")
MIB = 1 << 20
MIN_PART = 5 * MIB
MAX_PARTS = 10_000
READ_BLOCK = 1 * MIB
_HASH_BLOCK = 8 * MIB
_GATHER = 4  # groups gathered at once by `complete`, parts made at once by `concat`
COPY_SPAN = 512 * MIB  # most bytes of one copied part: 10,000 of them reach S3's 5 TiB object limit
SEALED = "sealed"  # staging object of a partial upload completed to be copied from: see `concat`
PRESIGNED_SECONDS = 3600
CREATE_WAIT = 10.0  # seconds a part waits for its upload's `create` before making it itself
STREAM_THREADS = 256  # calls whose body is still arriving (one per request sending a part)
STREAM_ALLOWANCE = 1 * MIB  # bytes a stream may hold outside the budget (admission.py's ~1 MB)
_BODIES = {"put_object", "upload_part"}  # the calls that send a body (and can checksum it)
_REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
_MISSING = {"NoSuchKey", "NoSuchUpload", "404", "NotFound"}


class S3API(Protocol):
    """The S3 calls this back end makes (boto3's client has them; keyword arguments as in S3)."""

    def head_bucket(self, **kw: Any) -> Any: ...
    def head_object(self, **kw: Any) -> Any: ...
    def get_object(self, **kw: Any) -> Any: ...
    def put_object(self, **kw: Any) -> Any: ...
    def delete_objects(self, **kw: Any) -> Any: ...
    def list_objects_v2(self, **kw: Any) -> Any: ...
    def create_multipart_upload(self, **kw: Any) -> Any: ...
    def list_multipart_uploads(self, **kw: Any) -> Any: ...
    def upload_part(self, **kw: Any) -> Any: ...
    def upload_part_copy(self, **kw: Any) -> Any: ...
    def list_parts(self, **kw: Any) -> Any: ...
    def complete_multipart_upload(self, **kw: Any) -> Any: ...
    def abort_multipart_upload(self, **kw: Any) -> Any: ...
    def generate_presigned_url(self, *args: Any, **kw: Any) -> str: ...


def stream_part_size(max_size: int) -> int:
    """Cell size for streams: 8 MiB, or more so that `max_size` bytes fit in 10,000 parts."""
    return max(8 * MIB, -(-max_size // MAX_PARTS // MIB) * MIB)


def chunk_group(layout: Layout) -> int:
    """How many chunks make one part: 1 when chunks can be parts by themselves."""
    by_size = -(-MIN_PART // max(layout.chunk_size, 1))
    by_count = -(-layout.chunk_count // MAX_PARTS)
    return max(by_size, by_count)


@dataclass
class _Held:
    """Bytes this process stored, and the store's ETag for them."""

    start: int
    data: Chain
    source: str  # "part:<n>" or a staging object's key
    etag: str
    checked: bool = False  # found in the store after its chunk was recorded: see `read`


class _Recent:
    """Part bytes in this process's memory, within one budget: copies of what it uploaded that
    the running digest has not read yet (the oldest dropped when room is needed), and bytes that
    writers hold while they send them (reserved: theirs until they put or release them)."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._bytes = 0  # kept copies
        self._reserved = 0
        self._items: OrderedDict[tuple[str, int], _Held] = OrderedDict()

    def reserve(self, size: int) -> bool:
        """Room for `size` more bytes, dropping the oldest copies if need be; False, reserving
        nothing, when writers already hold too much of the budget."""
        if self._reserved + size > self._budget:
            return False
        self._reserved += size
        self._shrink()
        return True

    def unreserve(self, size: int) -> None:
        self._reserved -= size

    def put(self, upload_id: str, held: _Held, reserved: int = 0) -> None:
        """Keep `held`, whose writer had reserved `reserved` bytes of the budget for it."""
        self._reserved -= reserved
        end = held.start + len(held.data)
        for (uid, start), old in list(self._items.items()):
            if uid == upload_id and start < end and held.start < old.start + len(old.data):
                self._drop(uid, start)
        if len(held.data) > self._budget - self._reserved:
            return
        self._items[(upload_id, held.start)] = held
        self._bytes += len(held.data)
        self._shrink()

    def adopt(self, upload_id: str, start: int, end: int, source: str, etag: str) -> None:
        """The copies of a stream's staged bytes from `start` to `end` were sent again as part
        of `source`: they are now that part's bytes."""
        for (uid, begin), held in self._items.items():
            inside = start <= begin and begin + len(held.data) <= end
            if uid == upload_id and inside and "/s/" in held.source:
                held.source, held.etag, held.checked = source, etag, False

    def _shrink(self) -> None:
        while self._bytes + self._reserved > self._budget and self._items:
            self._drop(*next(iter(self._items)))

    def covering(self, upload_id: str, position: int) -> _Held | None:
        for (uid, start), held in self._items.items():
            if uid == upload_id and start <= position < start + len(held.data):
                return held
        return None

    def release(self, upload_id: str, offset: int, length: int) -> None:
        for uid, start in list(self._items):
            held = self._items[(uid, start)]
            if uid == upload_id and offset <= start and start + len(held.data) <= offset + length:
                self._drop(uid, start)

    def forget(self, upload_id: str) -> None:
        for uid, start in list(self._items):
            if uid == upload_id:
                self._drop(uid, start)

    def _drop(self, upload_id: str, start: int) -> None:
        held = self._items.pop((upload_id, start), None)
        if held is not None:
            self._bytes -= len(held.data)


@dataclass
class _Listing:
    """An unfinished upload's staging objects and part records as the store lists them now."""

    objects: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (etag, size)
    parts: dict[int, str] = field(default_factory=dict)  # part number -> its record's key


class S3Storage:
    """Unfinished uploads as multipart uploads plus staging objects; finished files as objects."""

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
        self._api = api
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint
        self.part_size = max(part_size, MIN_PART)
        self._tls = endpoint.startswith("https:")
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3")
        # Calls reading a body that is still arriving wait on their client: never in `_pool`,
        # where they would hold up every short call.
        self._streams = ThreadPoolExecutor(STREAM_THREADS, thread_name_prefix="s3-body")
        self._recent = _Recent(cache_bytes)
        self._ids: OrderedDict[str, str] = OrderedDict()  # upload id -> UploadId, a cache
        self._records: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()

    # --- keys and calls -----------------------------------------------------------------------

    def _final(self, key: str) -> str:
        return f"{self.prefix}files/{key}"

    def _staging(self, upload_id: str, rest: str = "") -> str:
        return f"{self.prefix}partial/{upload_id}/{rest}"

    async def _run(self, fn: Callable[[], T], pool: ThreadPoolExecutor | None = None) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool or self._pool, fn)
        except (ClientError, BotoCoreError, ConnectionError) as exc:
            raise self._translate(exc) from exc

    async def _call(self, name: str, **kw: Any) -> Any:
        """Call S3 `name` in a worker thread. A body is checksummed (CRC32) wherever botocore
        can: in a header, which it computes by reading the whole body first, or over https in a
        trailer after it; a body still arriving (a `BodyPipe`) therefore only over https."""
        streamed = isinstance(kw.get("Body"), BodyPipe)
        if name in _BODIES and (self._tls or not streamed):
            kw.setdefault("ChecksumAlgorithm", "CRC32")
        call = functools.partial(getattr(self._api, name), Bucket=self.bucket, **kw)
        return await self._run(call, self._streams if streamed else None)

    def _translate(self, exc: Exception) -> OSError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code == "NoSuchBucket":
                return StorageUnavailable(f"the bucket {self.bucket!r} does not exist")
            if code in _MISSING:
                return FileNotFoundError(errno.ENOENT, f"not in the store ({code})")
            if code in _REFUSED or status == 403:
                return StorageUnavailable(f"the store refused the credentials ({code})")
            if status >= 500 or code in ("SlowDown", "RequestTimeout"):
                return StorageUnavailable(f"the store answered {status} {code}")
            return OSError(errno.EIO, f"the store refused the request: {code} {error}")
        if isinstance(exc, NoCredentialsError):
            return StorageUnavailable("no credentials for the store (AWS_ACCESS_KEY_ID)")
        if isinstance(exc, UnseekableStreamError):  # a retry of a call whose body was streamed
            return StorageUnavailable("the store failed a call while its body was being sent")
        return StorageUnavailable(f"cannot reach the store at {self.endpoint} ({exc})")

    async def _exists(self, key: str) -> int | None:
        """The size of the object `key`, or None when there is none."""
        try:
            found = await self._call("head_object", Key=key)
        except FileNotFoundError:
            return None
        return int(found["ContentLength"])

    async def check(self) -> tuple[str, str] | None:
        """Reach the bucket and list its unfinished uploads; None when that works, else what
        is wrong: ("bucket" | "endpoint" | "credentials", the reason)."""
        try:
            await self._call("head_bucket")
            await self._call("list_multipart_uploads", Prefix=self._final(""), MaxUploads=1)
        except FileNotFoundError:  # HEAD answers a bare 404 for a missing bucket
            return "bucket", f"the bucket {self.bucket!r} does not exist at {self.endpoint}"
        except StorageUnavailable as exc:
            reason = str(exc)
            if "does not exist" in reason:
                return "bucket", f"{reason} at {self.endpoint}"
            if "credentials" in reason:
                return "credentials", f"{reason} for the bucket {self.bucket!r}"
            return "endpoint", reason
        return None

    # --- multipart uploads --------------------------------------------------------------------

    async def _uploads(self, key: str) -> list[dict[str, Any]]:
        """The unfinished multipart uploads for exactly `key`."""
        found: list[dict[str, Any]] = []
        markers: dict[str, str] = {}
        while True:
            page = await self._call("list_multipart_uploads", Prefix=key, **markers)
            found += [u for u in page.get("Uploads", []) if u["Key"] == key]
            if not page.get("IsTruncated"):
                return found
            markers = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }

    async def _upload_id(self, upload_id: str) -> str | None:
        """The UploadId of the upload's multipart upload: the oldest, if a race made two."""
        if upload_id in self._ids:
            return self._ids[upload_id]
        found = await self._uploads(self._final(upload_id))
        if not found:
            return None
        chosen = str(min(found, key=lambda u: (str(u["Initiated"]), u["UploadId"]))["UploadId"])
        self._ids[upload_id] = chosen
        if len(self._ids) > 4096:
            self._ids.popitem(last=False)
        return chosen

    async def _made_upload_id(self, upload_id: str) -> str:
        """The UploadId, waiting for `create` (another request may be making it right now); made
        here only if it never appears (its creator crashed)."""
        for _ in range(int(CREATE_WAIT / 0.1)):
            found = await self._upload_id(upload_id)
            if found is not None:
                return found
            await asyncio.sleep(0.1)
        await self.create(upload_id)
        found = await self._upload_id(upload_id)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, f"no multipart upload for {upload_id}")
        return found

    async def _put_part(self, upload_id: str, number: int, size: int, call: str, **kw: Any) -> str:
        """Make part `number` (`call` is upload_part, or upload_part_copy from an object) and
        record its ETag as the one that counts."""
        for attempt in range(2):
            mpu = await self._made_upload_id(upload_id)
            try:
                reply = await self._call(
                    call, Key=self._final(upload_id), UploadId=mpu, PartNumber=number, **kw
                )
                break
            except FileNotFoundError:  # an UploadId remembered here was aborted meanwhile
                self._ids.pop(upload_id, None)
                body = kw.get("Body")
                if attempt or (isinstance(body, BodyPipe) and body.tell()):
                    raise  # (a streamed body can be sent again only if none of it was read)
        etag = str(reply.get("ETag") or reply["CopyPartResult"]["ETag"])
        record = self._staging(upload_id, f"p/{number:05d}")
        await self._call("put_object", Key=record, Body=f"{etag} {size}".encode())
        return etag

    async def _send_part(
        self, upload_id: str, number: int, length: int, blocks: AsyncGenerator[bytes, None]
    ) -> str:
        """Make part `number` of `length` bytes from `blocks` as they come: it holds no more
        than a pipe's worth of them."""

        async def call(pipe: BodyPipe) -> str:
            return await self._put_part(
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

    async def _store_object(
        self, upload_id: str, key: str, start: int, data: Chain, reserved: int
    ) -> None:
        """Store `data` as the staging object `key` and keep it for the digest; its writer had
        `reserved` bytes of the budget for it."""
        reply = await self._call("put_object", Key=key, Body=data)
        self._recent.put(upload_id, _Held(start, data, key, str(reply["ETag"])), reserved)

    async def _listing(self, upload_id: str) -> _Listing:
        listing = _Listing()
        records = self._staging(upload_id, "p/")
        for obj in await self._objects(self._staging(upload_id)):
            key = str(obj["Key"])
            listing.objects[key] = (str(obj["ETag"]), int(obj["Size"]))
            if key.startswith(records):
                listing.parts[int(key[len(records) :])] = key
        return listing

    async def _part(self, listing: _Listing, number: int) -> tuple[str, int] | None:
        """(ETag, size) of the upload of part `number` that counts: its record says which.
        (SeaweedFS lists every upload of a part number, so the list cannot tell.)"""
        key = listing.parts.get(number)
        if key is None:
            return None
        seen = (key, listing.objects[key][0])
        if seen not in self._records:
            body = (await self._get(key, 0, 1 << 10)).decode().split()
            self._records[seen] = (body[0], int(body[1]))
            if len(self._records) > 65536:
                self._records.popitem(last=False)
        return self._records[seen]

    async def _objects(self, prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        marker: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", Prefix=prefix, **marker)
            found += page.get("Contents", [])
            if not page.get("IsTruncated"):
                return found
            marker = {**marker, "ContinuationToken": page["NextContinuationToken"]}

    # --- what is stored where -----------------------------------------------------------------

    def _segments(self, upload_id: str, listing: _Listing) -> list[tuple[int, int, str, str]]:
        """(start, end, source, etag) of the stored bytes whose place is known without reading:
        staging objects (a stream's only along the chain from its cell's start, and only in
        cells that have no part yet), and the parts this process remembers."""
        found = []
        streams: dict[int, tuple[str, int, str]] = {}
        for key, (etag, size) in listing.objects.items():
            rest = key[len(self._staging(upload_id)) :].split("/")
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

    async def read(self, upload_id: str, offset: int, length: int) -> bytes:
        # Copies kept here are checked once: the core reads only recorded chunks, and counts
        # any rewrite of a recorded chunk, so a copy found current once stays good for its digest.
        pieces: list[bytes] = []
        position = offset
        while position < offset + length:
            held = self._recent.covering(upload_id, position)
            if held is None or not (held.checked or await self._still_stored(upload_id, held)):
                break
            held.checked = True
            begin = position - held.start
            pieces.append(held.data.span(begin, begin + offset + length - position))
            position += len(pieces[-1])
        else:
            return b"".join(pieces)
        listing = await self._listing(upload_id)
        return await self._read(upload_id, listing, offset, length)

    async def _still_stored(self, upload_id: str, held: _Held) -> bool:
        """Whether a remembered part or chunk is what the store holds there now."""
        try:
            if held.source.startswith("part:"):
                record = self._staging(upload_id, f"p/{int(held.source[5:]):05d}")
                return (await self._get(record, 0, 1 << 10)).split()[0].decode() == held.etag
            if "/c/" in held.source:
                found = await self._call("head_object", Key=held.source)
                return str(found["ETag"]) == held.etag
        except FileNotFoundError:
            pass
        return False  # a stream's piece counts only along its chain: see `_read`

    async def _read(self, upload_id: str, listing: _Listing, offset: int, length: int) -> bytes:
        async with aclosing(self._blocks(upload_id, listing, offset, length)) as blocks:
            return b"".join([block async for block in blocks])

    async def _blocks(
        self, upload_id: str, listing: _Listing, offset: int, length: int
    ) -> AsyncGenerator[bytes, None]:
        """The stored bytes from `offset`, up to `length` of them (fewer only at the end of what
        is stored), in blocks of at most PIPE_BYTES: from the copies kept here that are current,
        else from the staging objects."""
        segments = self._segments(upload_id, listing)
        position, end = offset, offset + length
        while position < end:
            before = position
            held = self._recent.covering(upload_id, position)
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
                async with aclosing(self._get_blocks(key, position - start, stop - start)) as got:
                    async for block in got:
                        yield block
                        position += len(block)
            if position == before:
                return  # an object shorter than listed: the end of what is stored

    async def _current(self, held: _Held, listing: _Listing) -> bool:
        """Whether the store holds exactly these bytes at their place now."""
        if held.source.startswith("part:"):
            found = await self._part(listing, int(held.source[5:]))
            return found is not None and found[0] == held.etag
        stored = listing.objects.get(held.source)
        if stored is None or stored[0] != held.etag:
            return False
        if "/s/" in held.source:  # a stream's piece counts only on its cell's chain
            cell = held.start // self.part_size
            return cell + 1 not in listing.parts
        return True

    async def _get(self, key: str, start: int, end: int) -> bytes:
        reply = await self._call("get_object", Key=key, Range=f"bytes={start}-{end - 1}")
        body = reply["Body"]
        try:
            return bytes(await self._run(body.read))
        finally:
            body.close()

    async def _get_blocks(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        """Bytes `start` to `end` of the object `key` in blocks of at most PIPE_BYTES, from one
        GET read as it goes."""
        if end <= start:
            return
        reply = await self._call("get_object", Key=key, Range=f"bytes={start}-{end - 1}")
        body = reply["Body"]
        try:
            while block := await self._run(functools.partial(body.read, PIPE_BYTES)):
                yield block
        finally:
            body.close()

    # --- the Storage contract -----------------------------------------------------------------

    async def create(self, upload_id: str) -> None:
        if await self._upload_id(upload_id) is not None:
            return
        key = self._final(upload_id)
        mine = (await self._call("create_multipart_upload", Key=key))["UploadId"]
        self._ids.pop(upload_id, None)
        if await self._upload_id(upload_id) != mine:  # two were made at once: the oldest wins
            await self._call("abort_multipart_upload", Key=key, UploadId=mine)

    async def part_writer(
        self, upload_id: str, index: int, offset: int, chunking: Layout | None = None
    ) -> _ChunkWriter | _StreamWriter:
        if chunking is not None:
            return _ChunkWriter(self, upload_id, index, offset, chunking)
        return _StreamWriter(self, upload_id, offset)

    async def release(self, upload_id: str, offset: int, length: int) -> None:
        self._recent.release(upload_id, offset, length)

    async def complete(self, upload_id: str, key: str, sha256: str | None) -> StoredFile:
        final = self._final(key)
        size = await self._exists(final)
        if size is None:
            if key != upload_id:
                raise OSError(errno.EINVAL, "an upload can only be completed under its own id")
            size = await self._assemble(upload_id, final)
            digest = sha256 or await self._hash(final, size)
        else:  # completed by an attempt cut short: check what is in place
            digest = await self._hash(final, size)
        await self._clear(upload_id)
        return StoredFile(key=key, size=size, sha256=digest)

    async def _assemble(self, upload_id: str, final: str) -> int:
        mpu = await self._upload_id(upload_id)
        if mpu is None:
            raise FileNotFoundError(errno.ENOENT, f"no unfinished upload {upload_id}")
        listing = await self._listing(upload_id)
        parts: dict[int, str] = {}
        sizes: dict[int, int] = {}
        for number in listing.parts:
            record = await self._part(listing, number)
            assert record is not None
            parts[number], sizes[number] = record
        pending: dict[int, list[tuple[int, int, str, str]]] = {}
        for segment in self._segments(upload_id, listing):
            rest = segment[2][len(self._staging(upload_id)) :].split("/")
            number = int(rest[1]) if rest[0] == "c" else segment[0] // self.part_size + 1
            pending.setdefault(number, []).append(segment)
        limit = asyncio.Semaphore(_GATHER)

        async def gather(number: int, pieces: list[tuple[int, int, str, str]]) -> None:
            async with limit:
                pieces.sort()
                start, size = pieces[0][0], pieces[-1][1] - pieces[0][0]
                if size:
                    blocks = self._blocks(upload_id, listing, start, size)
                    parts[number] = await self._send_part(upload_id, number, size, blocks)
                    sizes[number] = size

        await asyncio.gather(*(gather(n, p) for n, p in pending.items()))
        if sum(sizes.values()) == 0:  # an empty file: S3 wants no empty multipart object
            await self._call("put_object", Key=final, Body=b"")
            await self._call("abort_multipart_upload", Key=final, UploadId=mpu)
            return 0
        await self._call(
            "complete_multipart_upload",
            Key=final,
            UploadId=mpu,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
        )
        self._ids.pop(upload_id, None)
        found = await self._exists(final)
        if found is None:
            raise OSError(errno.EIO, "the completed object is not in the store")
        return found

    # --- concatenation (tus) --------------------------------------------------------------------

    async def concat(self, upload_id: str, sources: list[str]) -> None:
        """Seal the sources, then make the parts `s3_concat.plan` chooses, copied by the store
        or gathered here. None: copied bytes are never seen here, so `complete` hashes the file."""
        sizes = [await self._seal(source) for source in sources]
        parts = plan(sizes, MIN_PART, COPY_SPAN)
        if len(parts) > MAX_PARTS:
            raise OSError(errno.EFBIG, f"the concatenation would take {len(parts)} parts")
        limit = asyncio.Semaphore(_GATHER)

        async def make(number: int, part: Part) -> None:
            async with limit:
                pieces = [(self._final(sources[p.source]), p) for p in part.pieces]
                if part.copied:
                    key, piece = pieces[0]
                    copied = {"Bucket": self.bucket, "Key": key}
                    span = f"bytes={piece.start}-{piece.end - 1}"
                    await self._put_part(
                        upload_id, number, part.size, "upload_part_copy",
                        CopySource=copied, CopySourceRange=span,
                    )  # fmt: skip
                else:
                    ranges = [(k, p.start, p.end) for k, p in pieces]
                    await self._send_part(upload_id, number, part.size, self._ranges(ranges))

        made = [make(n, part) for n, part in enumerate(parts, 1)]
        for outcome in await asyncio.gather(*made, return_exceptions=True):
            if isinstance(outcome, BaseException):  # raised once every part call has ended
                raise outcome

    async def _ranges(self, ranges: list[tuple[str, int, int]]) -> AsyncGenerator[bytes, None]:
        """The bytes of these (object key, start, end) ranges, one after the other, in blocks."""
        for key, start, end in ranges:
            async with aclosing(self._get_blocks(key, start, end)) as blocks:
                async for block in blocks:
                    yield block

    async def _seal(self, upload_id: str) -> int:
        """Complete a whole partial upload into its object, once, and return its size: parts
        can be copied only from objects. Its marker, put first, tells `discard` that the object
        is still this partial upload, not a finished file."""
        final = self._final(upload_id)
        size = await self._exists(final)
        if size is None:
            await self._call("put_object", Key=self._staging(upload_id, SEALED), Body=b"")
            size = await self._assemble(upload_id, final)
        return size

    async def _hash(self, key: str, size: int) -> str:
        if size == 0:
            return hashlib.sha256().hexdigest()
        reply = await self._call("get_object", Key=key)
        body = reply["Body"]

        def digest() -> str:
            sha = hashlib.sha256()
            while block := body.read(_HASH_BLOCK):
                sha.update(block)
            return sha.hexdigest()

        try:
            return await self._run(digest)
        finally:
            body.close()

    async def _clear(self, upload_id: str) -> None:
        """Remove the staging objects of `upload_id` and forget what this process held."""
        self._recent.forget(upload_id)
        self._ids.pop(upload_id, None)
        keys = [obj["Key"] for obj in await self._objects(self._staging(upload_id))]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            await self._call("delete_objects", Delete={"Objects": batch, "Quiet": True})

    async def discard(self, upload_id: str) -> None:
        final = self._final(upload_id)
        if await self._exists(final) is None:  # never abort an upload that was completed
            for upload in await self._uploads(final):
                try:
                    await self._call(
                        "abort_multipart_upload", Key=final, UploadId=upload["UploadId"]
                    )
                except FileNotFoundError:
                    pass
        elif await self._exists(self._staging(upload_id, SEALED)) is not None:
            await self.remove(upload_id)  # sealed for a concatenation: not a finished file
        await self._clear(upload_id)

    async def remove(self, key: str) -> None:
        await self._call("delete_objects", Delete={"Objects": [{"Key": self._final(key)}]})

    async def partials(self) -> set[str]:
        found = {u["Key"][len(self._final("")) :] for u in await self._uploads_under()}
        staging = self._staging("")[:-1]  # no delimiter: some stores list emptied "folders"
        for entry in await self._objects(staging):
            found.add(entry["Key"][len(staging) :].split("/")[0])
        return {f for f in found if f}

    async def _uploads_under(self) -> list[dict[str, Any]]:
        prefix = self._final("")
        found: list[dict[str, Any]] = []
        markers: dict[str, str] = {}
        while True:
            page = await self._call("list_multipart_uploads", Prefix=prefix, **markers)
            found += page.get("Uploads", [])
            if not page.get("IsTruncated"):
                return found
            markers = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }

    # --- downloads ----------------------------------------------------------------------------

    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return
        reply = await self._call(
            "get_object", Key=self._final(key), Range=f"bytes={start}-{end - 1}"
        )
        body = reply["Body"]
        try:
            while block := await self._run(functools.partial(body.read, READ_BLOCK)):
                yield block
        finally:
            body.close()

    def presigned_url(self, key: str, disposition: str, media_type: str) -> str:
        return self._api.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._final(key),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": media_type,
            },
            ExpiresIn=PRESIGNED_SECONDS,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._streams.shutdown(wait=False, cancel_futures=True)


class _ChunkWriter:
    """One chunk, sent while it arrives. Its length is known from the layout, so its call
    (UploadPart, or PutObject for a staged chunk) starts at its first byte and reads the rest
    from a `BodyPipe`: the request holds at most PIPE_BYTES of it. A copy is kept for the
    running digest when the budget has room for the whole chunk."""

    def __init__(
        self, store: S3Storage, upload_id: str, index: int, offset: int, layout: Layout
    ) -> None:
        self._store = store
        self._upload_id = upload_id
        self._offset = offset
        self._length = layout.length(index)
        group = chunk_group(layout)
        # (an empty part can wedge SeaweedFS's connection: an empty chunk is staged)
        self._number = index + 1 if group == 1 and self._length else 0
        part = index // group + 1
        self._key = store._staging(upload_id, f"c/{part:05d}/{offset:016d}")
        self._sending: Sending | None = None
        self._copy: bytearray | None = None
        self._written = 0
        self._stored = False

    async def write(self, data: bytes | memoryview) -> None:
        if self._written + len(data) > self._length:
            raise OSError(errno.EIO, f"more bytes than the chunk's {self._length}")
        if self._sending is None:
            if self._store._recent.reserve(self._length):
                self._copy = bytearray(self._length)
            self._sending = Sending(self._length, self._send)
        if self._copy is not None:
            self._copy[self._written : self._written + len(data)] = data
        self._written += len(data)
        await self._sending.put(data)

    async def _send(self, pipe: BodyPipe) -> str:
        if self._number:
            return await self._store._put_part(
                self._upload_id, self._number, self._length, "upload_part",
                Body=pipe, ContentLength=self._length,
            )  # fmt: skip
        reply = await self._store._call(
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
            etag = str((await self._store._call("put_object", Key=self._key, Body=b""))["ETag"])
        if self._copy is not None:
            source = f"part:{self._number}" if self._number else self._key
            held = _Held(self._offset, Chain([self._copy]), source, etag)
            self._store._recent.put(self._upload_id, held, reserved=self._length)
            self._copy = None
        self._stored = True

    async def close(self) -> None:
        try:
            if self._sending is not None and not self._stored:
                await self._sending.abandon()
        finally:
            if self._copy is not None:
                self._store._recent.unreserve(self._length)
                self._copy = None


class _StreamWriter:
    """A stream's bytes in order: a cell's bytes are held until it is full, then sent as its
    part; a flush stores what is held as a staging object. Beyond STREAM_ALLOWANCE the held
    bytes take room in the budget; when there is none, what is held is staged at once."""

    def __init__(self, store: S3Storage, upload_id: str, offset: int) -> None:
        self._store = store
        self._upload_id = upload_id
        self._start = offset  # where the held bytes start in the file
        self._held: list[memoryview] = []
        self._held_bytes = 0
        self._reserved = 0  # of the budget, for the held bytes beyond the allowance

    async def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        size = self._store.part_size
        while view:
            room = (self._start // size + 1) * size - self._start - self._held_bytes
            await self._hold(view[:room])
            view = view[room:]
            if self._held_bytes == (self._start // size + 1) * size - self._start:
                await self._fill_cell()

    async def _hold(self, piece: memoryview) -> None:
        recent = self._store._recent
        over = self._held_bytes + len(piece) - STREAM_ALLOWANCE - self._reserved
        if over > 0 and not recent.reserve(over):
            await self._stage()  # the budget is spent: hold no more than the allowance
            over = len(piece) - STREAM_ALLOWANCE
            if over > 0 and not recent.reserve(over):
                over = 0  # one piece larger than the allowance, as big as the caller made it
        self._reserved += max(over, 0)
        self._held.append(piece)
        self._held_bytes += len(piece)

    async def _fill_cell(self) -> None:
        store, upload_id = self._store, self._upload_id
        size = store.part_size
        begin = self._start // size * size
        number = begin // size + 1
        source = f"part:{number}"
        held = Chain(self._held)
        if self._start > begin:  # the cell's start was stored by an earlier flush: sent from there
            etag = await self._send_with_stored_start(begin, held)
        else:
            etag = await store._put_part(upload_id, number, size, "upload_part", Body=held)
        store._recent.adopt(upload_id, begin, self._start, source, etag)
        store._recent.put(upload_id, _Held(self._start, held, source, etag), self._reserved)
        self._start = begin + size
        self._held, self._held_bytes, self._reserved = [], 0, 0

    async def _send_with_stored_start(self, begin: int, held: Chain) -> str:
        """Send the cell's part: its start read back from the store as it goes, then the held
        bytes. The start is kept too (for the digest) if the budget has room for it."""
        store, upload_id = self._store, self._upload_id
        size = store.part_size
        length = self._start - begin
        copy: list[bytes] | None = [] if store._recent.reserve(length) else None

        async def blocks() -> AsyncGenerator[bytes, None]:
            listing = await store._listing(upload_id)
            async with aclosing(store._blocks(upload_id, listing, begin, length)) as stored:
                async for block in stored:
                    if copy is not None:
                        copy.append(block)
                    yield block
            for at in range(0, len(held), PIPE_BYTES):
                yield held.span(at, at + PIPE_BYTES)

        try:
            etag = await store._send_part(upload_id, begin // size + 1, size, blocks())
        except BaseException:
            if copy is not None:
                store._recent.unreserve(length)
            raise
        if copy is not None:
            kept = _Held(begin, Chain(copy), f"part:{begin // size + 1}", etag)
            store._recent.put(upload_id, kept, length)
        return etag

    async def _stage(self) -> None:
        if self._held:
            key = self._store._staging(self._upload_id, f"s/{self._start:016d}")
            data = Chain(self._held)
            await self._store._store_object(self._upload_id, key, self._start, data, self._reserved)
            self._start += len(data)
            self._held, self._held_bytes, self._reserved = [], 0, 0

    async def flush(self) -> None:
        await self._stage()

    async def close(self) -> None:
        self._store._recent.unreserve(self._reserved)
        self._held, self._held_bytes, self._reserved = [], 0, 0


def connect(
    bucket: str,
    prefix: str,
    *,
    endpoint: str | None,
    region: str | None,
    part_size: int,
    threads: int = 32,
    cache_bytes: int = 64 * MIB,
) -> S3Storage:
    """An `S3Storage` on a boto3 client; credentials come the usual AWS ways (environment
    variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role)."""
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=threads + STREAM_THREADS,
        retries={"max_attempts": 2, "mode": "standard"},  # then 503: clients retry
        connect_timeout=5,
        read_timeout=60,
        # Bodies are not hashed for the signature (UNSIGNED-PAYLOAD, as SDKs do over https):
        # that is a second SHA-256 pass over every byte; botocore's CRC32 checksum still
        # guards each body. Use an https endpoint where the network is not trusted.
        s3={"addressing_style": "path" if endpoint else "auto", "payload_signing_enabled": False},
        # Checksums are asked for per call (`S3Storage._call`): by default botocore would compute
        # one for every upload in a header, reading the body first, which a body still arriving
        # cannot give (it has no `tell`, and is read once).
        request_checksum_calculation="when_required",
        signature_version="s3v4",  # presigned URLs too (else SigV2, which stores refuse)
    )
    client = boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)
    shown = endpoint or f"https://s3.{region or 'us-east-1'}.amazonaws.com"
    return S3Storage(
        client, bucket, prefix, endpoint=shown, part_size=part_size, threads=threads,
        cache_bytes=cache_bytes,
    )  # fmt: skip
