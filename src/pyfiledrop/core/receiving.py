"""What the core checks as bytes and names arrive: limits, ids, file names, sinks that refuse the
first byte too many, and the translation of storage failures into the error catalogue."""

from __future__ import annotations

import errno
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyfiledrop import errors
from pyfiledrop.core.accounts import Uploader
from pyfiledrop.core.interfaces import PartWriter, StorageUnavailable
from pyfiledrop.core.model import Layout, State, Upload

_CLIENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_NAME_BYTES = 255
STEP = 8 << 20  # bytes between a stream's saved offsets, and its virtual chunk size for hashing


@dataclass(frozen=True)
class Limits:
    """What the server accepts, whatever a client declares."""

    max_size: int
    max_chunk_size: int
    chunk_timeout: float = 120.0  # seconds one chunk request may take
    max_open_uploads: int = 0  # unfinished uploads one owner, or one address, may have; 0: any
    min_free_space: int = 0  # bytes of free disk below which new uploads are refused


@dataclass(frozen=True)
class Declared:
    """What a chunked client says about the whole file with every chunk."""

    filename: str
    content_type: str
    size: int
    chunk_size: int
    chunk_count: int


def clean_filename(name: str) -> str:
    """The last path component of a client's file name, without control characters, <= 255 bytes."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    while len(base.encode()) > _MAX_NAME_BYTES:
        base = base[:-1]
    return base if base not in ("", ".", "..") else "upload"


def check_client_id(client_id: str) -> str:
    """A client-chosen upload id, normalised; anything but a UUID is refused before any use."""
    normal = client_id.strip().lower()
    if not _CLIENT_ID.match(normal):
        raise errors.BAD_ID("The upload id must be a UUID such as Dropzone's dzuuid.")
    return normal


def stream_layout(size: int) -> Layout:
    return Layout(size, STEP, Layout.expected_count(size, STEP))


def new_upload(
    owner: Uploader | str,
    client_id: str | None,
    filename: str,
    content_type: str,
    layout: Layout | None,
    now: float,
    *,
    protocol: str = "dropzone",
    lifetime: float | None = None,
) -> Upload:
    """A fresh record with a server-issued id, made at `now`, not yet stored; `owner` is who
    makes it (an owner id alone: nobody signed in, address not known)."""
    who = owner if isinstance(owner, Uploader) else Uploader(owner)
    return Upload(
        id=secrets.token_hex(16),
        client_id=client_id,
        owner=who.owner,
        account=who.account,
        address=who.address,
        filename=clean_filename(filename),
        content_type=content_type,
        layout=layout,
        state=State.RECEIVING,
        created_at=now,
        updated_at=now,
        protocol=protocol,
        lifetime=lifetime,
        delete_key=secrets.token_urlsafe(24),  # the uploader's delete link
    )


def is_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def storage_error(exc: OSError) -> errors.UploadError:
    if isinstance(exc, StorageUnavailable):
        return errors.STORAGE_UNAVAILABLE(
            f"The server's file store is unavailable ({exc}); try again shortly."
        )
    if is_full(exc):
        return errors.STORAGE_FULL("The server's storage is full; try again later.")
    return errors.STORAGE_FAILED("The server could not store the data.")


class ChunkSink:
    """Takes one chunk's bytes as they arrive and refuses the first byte too many."""

    def __init__(self, writer: PartWriter | None, declared_max: int, exact: int | None) -> None:
        self._writer = writer  # None: a late copy of a finished upload's chunk, checked only
        self._declared_max = declared_max
        self._exact = exact
        self.received = 0

    async def write(self, data: bytes | memoryview) -> None:
        total = self.received + len(data)
        if total > self._declared_max:
            raise errors.TOO_LARGE(
                f"The chunk is larger than the {self._declared_max} bytes allowed."
            )
        if self._exact is not None and total > self._exact:
            raise errors.BAD_CHUNK(
                f"The chunk is longer than the {self._exact} bytes it must have."
            )
        if self._writer is not None:
            try:
                await self._writer.write(data)
            except OSError as exc:
                raise storage_error(exc) from exc
        self.received = total

    def check_complete(self) -> None:
        if self._exact is not None and self.received != self._exact:
            raise errors.BAD_CHUNK(
                f"The chunk has {self.received} bytes; the declared sizes require {self._exact}."
            )


class StreamSink:
    """Takes a stream's bytes in order, refuses any past the limit, and stores and saves progress
    every `STEP` bytes."""

    def __init__(
        self,
        writer: PartWriter,
        limit: int,
        too_large: str,
        checkpoint: Callable[[int], Awaitable[None]] | None,
    ) -> None:
        self._writer = writer
        self._limit = limit
        self._too_large = too_large
        self._checkpoint = checkpoint
        self.stored = 0  # bytes flushed to storage, which a saved offset may count
        self.received = 0

    async def write(self, data: bytes | memoryview) -> None:
        if self.received + len(data) > self._limit:
            raise errors.TOO_LARGE(self._too_large)
        try:
            await self._writer.write(data)
        except OSError as exc:
            raise storage_error(exc) from exc
        self.received += len(data)
        if self._checkpoint and self.received - self.stored >= STEP:
            await self.flush()
            await self._checkpoint(self.stored)

    async def flush(self) -> None:
        """Store what was written so far; `stored` then counts it."""
        try:
            await self._writer.flush()
        except OSError as exc:
            raise storage_error(exc) from exc
        self.stored = self.received
