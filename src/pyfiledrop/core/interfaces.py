"""The contracts between the upload core and its back ends.

The core depends only on these protocols; `compose.py` picks the implementations. Each method's
docstring is an obligation an implementation must meet (tests/contract suites check them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pyfiledrop.core.model import Layout, State, Upload


class MetaStore(Protocol):
    """Durable record of every upload and of every chunk it has received."""

    def create_or_get(self, upload: Upload) -> Upload:
        """Insert `upload`, or, if one with the same `client_id` exists, return that one unchanged.

        Must be safe when two callers race with the same client_id: exactly one row results.
        """

    def get(self, upload_id: str) -> Upload | None:
        """The upload with server id `upload_id`, or None."""

    def get_by_client_id(self, client_id: str) -> Upload | None:
        """The upload a client named `client_id`, or None."""

    def get_by_token(self, token: str) -> Upload | None:
        """The upload whose download token is `token`, or None."""

    def in_state(self, state: State) -> list[Upload]:
        """Every upload currently in `state` (used to resume work after a restart)."""

    def record_chunk(self, upload_id: str, index: int) -> int:
        """Mark chunk `index` received (idempotent) and return how many distinct chunks are."""

    def forget_chunk(self, upload_id: str, index: int) -> None:
        """Mark chunk `index` not received, before its bytes are overwritten by a re-send."""

    def received(self, upload_id: str) -> list[int]:
        """The received chunk indexes, ascending."""

    def move(
        self,
        upload_id: str,
        old: State,
        new: State,
        *,
        layout: Layout | None = None,
        sha256: str | None = None,
        storage_key: str | None = None,
        download_token: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Compare-and-set: move the upload from `old` to `new` and set the given fields.

        Returns False, changing nothing, when the upload is not in `old` (someone else moved it).
        """

    def set_offset(self, upload_id: str, old: int, new: int) -> bool:
        """Compare-and-set a receiving stream upload's stored byte count from `old` to `new`."""

    def set_layout(self, upload_id: str, layout: Layout) -> bool:
        """Set the size of an upload whose size was not known; False if it already had one."""

    def delete(self, upload_id: str) -> None:
        """Forget the upload and its chunks entirely (idempotent)."""

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class StoredFile:
    """A finished file in its final place."""

    key: str
    size: int
    sha256: str


class PartWriter(Protocol):
    """Receives the bytes of one chunk as they arrive."""

    def write(self, data: bytes | memoryview) -> None:
        """Store `data` right after the bytes written so far. Raise OSError on failure."""

    def close(self) -> None:
        """Release resources. The bytes written stay where they are until overwritten."""


class Storage(Protocol):
    """Where upload bytes live: a partial object per upload, then the finished file."""

    def prepare(self, upload_id: str) -> None:
        """Make sure the partial object for `upload_id` exists (idempotent)."""

    def part_writer(self, upload_id: str, offset: int) -> PartWriter:
        """A writer that stores bytes of the partial object starting at `offset`.

        A later writer for the same range replaces those bytes: each byte is written once per send.
        """

    def adopt(self, upload_id: str, path: Path) -> int:
        """Make the local file at `path` the partial object of `upload_id`; return its size.

        The file is moved, not copied, where the back end can; `path` is gone afterwards.
        """

    def read(self, upload_id: str, offset: int, length: int) -> bytes:
        """Up to `length` bytes of the partial object from `offset` (fewer only at its end)."""

    def release(self, upload_id: str, offset: int, length: int) -> None:
        """The caller is done reading this range: start making it durable; it need not stay cached.

        Advisory and non-blocking; lets `assemble` find little left to flush.
        """

    def assemble(self, upload_id: str, key: str, sha256: str | None) -> StoredFile:
        """Make the partial object durable and move it, atomically, to its final place under `key`.

        `sha256` is the digest the caller already computed from the same bytes, or None to have
        the storage compute it.

        Blocking; called from a worker thread. After it returns a reader sees the whole file or
        (before) nothing; never a partial file.
        """

    def discard(self, upload_id: str) -> None:
        """Remove the partial object, if any."""

    def remove(self, key: str) -> None:
        """Remove the finished file stored under `key`, if any."""

    def concat(self, upload_id: str, sources: list[str]) -> str | None:
        """Fill the partial object of `upload_id` with the partial objects of `sources`, in order.

        Returns the SHA-256 of the result when the copy could compute it on the way, else None.
        Blocking; called from a worker thread. The sources are left as they are.
        """


class LocalFiles(Protocol):
    """Optional capability: finished files are plain local files (lets downloads use sendfile)."""

    def path_of(self, key: str) -> Path:
        """The path of the finished file stored under `key`."""
