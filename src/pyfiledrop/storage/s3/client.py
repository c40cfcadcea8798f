"""The S3 calls the back end makes, on one bucket and key prefix: each in a worker thread (boto3
blocks), and every failure translated into the OSError the core understands."""

from __future__ import annotations

import asyncio
import errno
import functools
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    UnseekableStreamError,
)

from pyfiledrop.core.interfaces import StorageUnavailable
from pyfiledrop.storage.s3.body import PIPE_BYTES, BodyPipe

T = TypeVar("T")
STREAM_THREADS = 256  # calls whose body is still arriving (one per request sending a part)
_BODIES = {"put_object", "upload_part"}  # the calls that send a body (and can checksum it)
_REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
_MISSING = {"NoSuchKey", "NoSuchUpload", "404", "NotFound"}


class S3API(Protocol):
    """The S3 calls this back end makes (boto3's client has them; keyword arguments as in S3)."""

    def head_bucket(self, **kw: Any) -> Any: ...
    def head_object(self, **kw: Any) -> Any: ...
    def get_object(self, **kw: Any) -> Any: ...
    def put_object(self, **kw: Any) -> Any: ...
    def copy_object(self, **kw: Any) -> Any: ...
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


class Bucket:
    """One bucket of a store, every key under `prefix`: finished files under `files/`, what
    unfinished uploads stage under `partial/<upload id>/`."""

    def __init__(self, api: S3API, name: str, prefix: str, endpoint: str, threads: int) -> None:
        self.api = api
        self.name = name
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint
        self._tls = endpoint.startswith("https:")
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3")
        # Calls reading a body that is still arriving wait on their client: never in `_pool`,
        # where they would hold up every short call.
        self._streams = ThreadPoolExecutor(STREAM_THREADS, thread_name_prefix="s3-body")

    def final(self, key: str) -> str:
        return f"{self.prefix}files/{key}"

    def staging(self, upload_id: str, rest: str = "") -> str:
        return f"{self.prefix}partial/{upload_id}/{rest}"

    async def run(self, fn: Callable[[], T], pool: ThreadPoolExecutor | None = None) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool or self._pool, fn)
        except (ClientError, BotoCoreError, ConnectionError) as exc:
            raise self.translate(exc) from exc

    async def call(self, name: str, **kw: Any) -> Any:
        """Call S3 `name` in a worker thread. A body is checksummed (CRC32) wherever botocore
        can: in a header, which it computes by reading the whole body first, or over https in a
        trailer after it; a body still arriving (a `BodyPipe`) therefore only over https."""
        streamed = isinstance(kw.get("Body"), BodyPipe)
        if name in _BODIES and (self._tls or not streamed):
            kw.setdefault("ChecksumAlgorithm", "CRC32")
        call = functools.partial(getattr(self.api, name), Bucket=self.name, **kw)
        return await self.run(call, self._streams if streamed else None)

    def translate(self, exc: Exception) -> OSError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code == "NoSuchBucket":
                return StorageUnavailable(f"the bucket {self.name!r} does not exist")
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

    async def check(self) -> tuple[str, str] | None:
        """Reach the bucket and list its unfinished uploads; None when that works, else what
        is wrong: ("bucket" | "endpoint" | "credentials", the reason)."""
        try:
            await self.call("head_bucket")
            await self.call("list_multipart_uploads", Prefix=self.final(""), MaxUploads=1)
        except FileNotFoundError:  # HEAD answers a bare 404 for a missing bucket
            return "bucket", f"the bucket {self.name!r} does not exist at {self.endpoint}"
        except StorageUnavailable as exc:
            reason = str(exc)
            if "does not exist" in reason:
                return "bucket", f"{reason} at {self.endpoint}"
            if "credentials" in reason:
                return "credentials", f"{reason} for the bucket {self.name!r}"
            return "endpoint", reason
        return None

    async def exists(self, key: str) -> int | None:
        """The size of the object `key`, or None when there is none."""
        try:
            found = await self.call("head_object", Key=key)
        except FileNotFoundError:
            return None
        return int(found["ContentLength"])

    async def objects(self, prefix: str, delimiter: str = "") -> list[dict[str, Any]]:
        """Every object whose key starts with `prefix` (and, with a `delimiter`, has none after
        it)."""
        found: list[dict[str, Any]] = []
        marker: dict[str, str] = {"Delimiter": delimiter} if delimiter else {}
        while True:
            page = await self.call("list_objects_v2", Prefix=prefix, **marker)
            found += page.get("Contents", [])
            if not page.get("IsTruncated"):
                return found
            marker = {**marker, "ContinuationToken": page["NextContinuationToken"]}

    async def uploads(self, prefix: str) -> list[dict[str, Any]]:
        """Every unfinished multipart upload whose key starts with `prefix`."""
        found: list[dict[str, Any]] = []
        markers: dict[str, str] = {}
        while True:
            page = await self.call("list_multipart_uploads", Prefix=prefix, **markers)
            found += page.get("Uploads", [])
            if not page.get("IsTruncated"):
                return found
            markers = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }

    async def get(self, key: str, start: int, end: int) -> bytes:
        """Bytes `start` to `end` (exclusive) of the object `key`, in one piece."""
        reply = await self.call("get_object", Key=key, Range=f"bytes={start}-{end - 1}")
        body = reply["Body"]
        try:
            return bytes(await self.run(body.read))
        finally:
            body.close()

    async def get_blocks(
        self, key: str, start: int, end: int, block: int = PIPE_BYTES
    ) -> AsyncGenerator[bytes, None]:
        """Bytes `start` to `end` of the object `key` in blocks of at most `block`, from one GET
        read as it goes. Raises before the first block when the object cannot be read."""
        if end <= start:
            return
        reply = await self.call("get_object", Key=key, Range=f"bytes={start}-{end - 1}")
        body = reply["Body"]
        try:
            while data := await self.run(functools.partial(body.read, block)):
                yield data
        finally:
            body.close()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._streams.shutdown(wait=False, cancel_futures=True)
