"""The upload service: the one place that owns an upload's life.

Protocol adapters call it with already-parsed numbers and a stream of bytes; it checks them against
the limits and the upload's record, writes through the storage interface, records each chunk in the
metadata store only after its last byte is stored, and finishes the upload exactly once when the
set of chunks is whole. Nothing here knows HTTP, SQL or file paths.
"""

from __future__ import annotations

import asyncio
import errno
import re
import secrets
import time
import unicodedata
from collections import OrderedDict
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakValueDictionary

from pyfiledrop import errors
from pyfiledrop.core.interfaces import MetaStore, PartWriter, Storage
from pyfiledrop.core.model import ALLOWED_MOVES, Layout, State, Upload
from pyfiledrop.core.prehash import Prehash

_CLIENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_MAX_NAME_BYTES = 255
MAX_PREHASHES = 256  # uploads hashed while they arrive, at most


@dataclass(frozen=True)
class Limits:
    """What the server accepts, whatever a client declares."""

    max_size: int
    max_chunk_size: int


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


class ChunkSink:
    """Takes one chunk's bytes as they arrive and refuses the first byte too many."""

    def __init__(self, writer: PartWriter, declared_max: int, exact: int | None) -> None:
        self._writer = writer
        self._declared_max = declared_max
        self._exact = exact
        self.received = 0

    def write(self, data: bytes | memoryview) -> None:
        total = self.received + len(data)
        if total > self._declared_max:
            raise errors.TOO_LARGE(
                f"The chunk is larger than the {self._declared_max} bytes allowed."
            )
        if self._exact is not None and total > self._exact:
            raise errors.BAD_CHUNK(
                f"The chunk is longer than the {self._exact} bytes it must have."
            )
        try:
            self._writer.write(data)
        except OSError as exc:
            raise storage_error(exc) from exc
        self.received = total

    def check_complete(self) -> None:
        if self._exact is not None and self.received != self._exact:
            raise errors.BAD_CHUNK(
                f"The chunk has {self.received} bytes; the declared sizes require {self._exact}."
            )


def new_upload(
    owner: str, client_id: str | None, filename: str, content_type: str, layout: Layout | None
) -> Upload:
    """A fresh record with a server-issued id, not yet stored."""
    now = time.time()
    return Upload(
        id=secrets.token_hex(16),
        client_id=client_id,
        owner=owner,
        filename=filename,
        content_type=content_type,
        layout=layout,
        state=State.RECEIVING,
        created_at=now,
        updated_at=now,
    )


class _NullWriter:
    def write(self, data: bytes | memoryview) -> None:
        pass

    def close(self) -> None:
        pass


def storage_error(exc: OSError) -> errors.UploadError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return errors.STORAGE_FULL("The server's storage is full; try again later.")
    return errors.STORAGE_FAILED("The server could not store the data.")


class UploadService:
    """Creates uploads, takes their chunks, finishes them, and finds them again."""

    def __init__(self, meta: MetaStore, storage: Storage, limits: Limits) -> None:
        self.meta = meta
        self.storage = storage
        self.limits = limits
        self._chunk_locks: dict[tuple[str, int], tuple[asyncio.Lock, int]] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        # Both only for uploads in progress: running digests, least recently used first (an
        # evicted one is recomputed when its upload finishes), and events for status calls
        # waiting on an upload (gone with their last waiter).
        self._prehashes: OrderedDict[str, Prehash] = OrderedDict()
        self._settled: WeakValueDictionary[str, asyncio.Event] = WeakValueDictionary()

    # --- creation -------------------------------------------------------------------------------

    def begin_chunked(self, owner: str, client_id: str, declared: Declared) -> Upload:
        """The upload a chunk belongs to, made on its first chunk; checks every declared total."""
        client_id = check_client_id(client_id)
        layout = self._check_layout(declared)
        filename = clean_filename(declared.filename)
        existing = self.meta.get_by_client_id(client_id)
        if existing is None:
            existing = self.create(
                new_upload(owner, client_id, filename, declared.content_type, layout)
            )
        self._check_owner(existing, owner)
        if existing.layout != layout or existing.filename != filename:
            raise errors.CONFLICT(
                "This chunk's declared file (name, size, chunk size or count) differs from the "
                "upload it names."
            )
        return existing

    def _check_layout(self, d: Declared) -> Layout:
        if d.size < 0 or d.chunk_size < 1 or d.chunk_count < 1:
            raise errors.BAD_CHUNK("Sizes must be positive and the chunk count at least 1.")
        self.check_size(d.size)
        if d.chunk_size > self.limits.max_chunk_size:
            raise errors.TOO_LARGE(
                f"Chunks of {d.chunk_size} bytes are too large; "
                f"the limit is {self.limits.max_chunk_size}."
            )
        if d.chunk_count != Layout.expected_count(d.size, d.chunk_size):
            raise errors.BAD_CHUNK(
                f"{d.chunk_count} chunks cannot hold {d.size} bytes at {d.chunk_size} per chunk."
            )
        return Layout(d.size, d.chunk_size, d.chunk_count)

    def check_size(self, size: int) -> None:
        """Refuse a file larger than the server takes (413)."""
        if size > self.limits.max_size:
            raise errors.TOO_LARGE(
                f"The file is {size} bytes; this server accepts at most {self.limits.max_size}."
            )

    def create(self, fresh: Upload) -> Upload:
        """Store a new upload and its empty partial object; if its client id is taken, the
        upload that has it."""
        try:
            self.storage.prepare(fresh.id)
        except OSError as exc:
            raise storage_error(exc) from exc
        stored = self.meta.create_or_get(fresh)
        if stored.id != fresh.id:  # another worker created it first
            self.storage.discard(fresh.id)
        return stored

    async def delete(self, upload: Upload) -> None:
        """Forget an upload and remove its bytes, whatever its state.

        The record goes first, so nothing finds the upload while its files are being removed
        (in a worker thread: unlinking a large file can take a while).
        """
        self._forget(upload)
        await asyncio.to_thread(self._remove_files, upload)

    def delete_soon(self, upload: Upload) -> None:
        """Like `delete`, but the files are removed in the background."""
        self._forget(upload)
        self._track(asyncio.to_thread(self._remove_files, upload))

    def _forget(self, upload: Upload) -> None:
        self.meta.delete(upload.id)
        self._prehashes.pop(upload.id, None)

    def _remove_files(self, upload: Upload) -> None:
        self.storage.discard(upload.id)
        if upload.storage_key:
            self.storage.remove(upload.storage_key)

    # --- receiving ------------------------------------------------------------------------------

    @asynccontextmanager
    async def chunk(self, upload: Upload, index: int, offset: int) -> AsyncIterator[ChunkSink]:
        """Receive chunk `index`. A late copy for a finished upload is checked but not stored.

        The chunk counts as received only if the block exits normally with every byte written.
        One send of a given chunk at a time: a concurrent duplicate waits for the first.
        """
        layout = upload.layout
        assert layout is not None
        if not 0 <= index < layout.chunk_count:
            raise errors.BAD_CHUNK(f"Chunk index {index} is outside 0..{layout.chunk_count - 1}.")
        if offset != layout.offset(index):
            raise errors.BAD_CHUNK(
                f"Chunk {index} must start at byte {layout.offset(index)}, not {offset}."
            )
        async with self._chunk_lock((upload.id, index)):
            current = self.meta.get(upload.id)
            if current is None or current.state != State.RECEIVING:
                yield ChunkSink(_NullWriter(), layout.chunk_size, layout.length(index))
                return
            prehash = self.prehash_of(upload.id, layout)
            self.meta.forget_chunk(upload.id, index)
            prehash.forgotten(index)
            writer = self.storage.part_writer(upload.id, offset)
            try:
                sink = ChunkSink(writer, layout.chunk_size, layout.length(index))
                yield sink
                sink.check_complete()
            finally:
                writer.close()
            received = self.meta.record_chunk(upload.id, index)
            prehash.recorded(index)
        if received == layout.chunk_count:
            self._track(self.finish(upload.id))

    @asynccontextmanager
    async def _chunk_lock(self, key: tuple[str, int]) -> AsyncIterator[None]:
        lock, users = self._chunk_locks.get(key, (asyncio.Lock(), 0))
        self._chunk_locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chunk_locks[key]
            if users == 1:
                del self._chunk_locks[key]
            else:
                self._chunk_locks[key] = (lock, users - 1)

    async def plain_from_file(
        self, owner: str, filename: str, content_type: str, path: Path
    ) -> Upload:
        """A one-request upload whose bytes the adapter already spooled to `path`; finished here."""
        fresh = new_upload(owner, None, clean_filename(filename), content_type, None)
        upload = self.meta.create_or_get(fresh)
        try:
            size = self.storage.adopt(upload.id, path)
        except OSError as exc:
            failure = storage_error(exc)
            self._move(upload.id, State.RECEIVING, State.FAILED, error=failure.message)
            raise failure from exc
        self.meta.record_chunk(upload.id, 0)
        layout = Layout(size, max(size, 1), 1)
        if self._move(upload.id, State.RECEIVING, State.ASSEMBLING, layout=layout):
            await self._assemble(upload.id)
        return self.refresh(upload)

    # --- finishing ------------------------------------------------------------------------------

    def prehash_of(self, upload_id: str, layout: Layout) -> Prehash:
        if upload_id in self._prehashes:
            self._prehashes.move_to_end(upload_id)
        else:
            if len(self._prehashes) >= MAX_PREHASHES:
                self._prehashes.popitem(last=False)
            received = self.meta.received(upload_id)

            def read(offset: int, length: int) -> bytes:
                return self.storage.read(upload_id, offset, length)

            def release(offset: int, length: int) -> None:
                self.storage.release(upload_id, offset, length)

            self._prehashes[upload_id] = Prehash(layout, received, read, release)
        return self._prehashes[upload_id]

    def _move(self, upload_id: str, old: State, new: State, **fields: Any) -> bool:
        """Every state change goes through here, so the table of allowed moves is enforced."""
        assert new in ALLOWED_MOVES[old], f"{old} -> {new} is not a legal move"
        return self.meta.move(upload_id, old, new, **fields)

    async def finish(self, upload_id: str, sha256: str | None = None) -> None:
        """Hash (unless `sha256` is already known), check and move the file into place; runs at
        most once per upload."""
        if not self._move(upload_id, State.RECEIVING, State.ASSEMBLING):
            return
        await self._assemble(upload_id, sha256)

    async def _assemble(self, upload_id: str, sha256: str | None = None) -> None:
        try:
            await self._store(upload_id, sha256)
        finally:
            settled = self._settled.pop(upload_id, None)
            if settled:
                settled.set()

    async def _store(self, upload_id: str, digest: str | None) -> None:
        upload = self.meta.get(upload_id)
        assert upload is not None and upload.layout is not None
        prehash = self._prehashes.pop(upload_id, None)
        if digest is None and prehash is not None:
            digest = await prehash.result()
        try:
            stored = await asyncio.to_thread(self.storage.assemble, upload_id, upload_id, digest)
        except OSError as exc:
            self._move(upload_id, State.ASSEMBLING, State.FAILED, error=storage_error(exc).message)
            return
        if stored.size != upload.layout.size:
            self._move(
                upload_id,
                State.ASSEMBLING,
                State.FAILED,
                error=f"assembled {stored.size} bytes, expected {upload.layout.size}",
            )
            return
        self._move(
            upload_id,
            State.ASSEMBLING,
            State.COMPLETE,
            sha256=stored.sha256,
            storage_key=stored.key,
            download_token=secrets.token_urlsafe(24),
        )

    async def recover(self) -> None:
        """After a restart: finish what was being finished, and what had all its chunks."""
        for upload in self.meta.in_state(State.ASSEMBLING):
            self._track(self._assemble(upload.id))
        for upload in self.meta.in_state(State.RECEIVING):
            layout = upload.layout
            if layout and len(self.meta.received(upload.id)) == layout.chunk_count:
                self._track(self.finish(upload.id))

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def drain(self) -> None:
        """Wait for uploads being finished (used at shutdown and by tests)."""
        while self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)

    # --- finding --------------------------------------------------------------------------------

    def owned(self, owner: str, client_id: str) -> Upload:
        """The upload a client named, if this owner created it."""
        upload = self.meta.get_by_client_id(check_client_id(client_id))
        if upload is None:
            raise errors.NOT_FOUND("No upload has this id.")
        self._check_owner(upload, owner)
        return upload

    async def settled(self, upload: Upload, timeout: float) -> Upload:
        """The upload once it is complete or failed, or as it is after `timeout` seconds."""
        current = self.refresh(upload)
        if current.state in (State.COMPLETE, State.FAILED):
            return current
        event = self._settled.get(upload.id) or asyncio.Event()
        self._settled[upload.id] = event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        return self.refresh(upload)

    def received(self, upload: Upload) -> list[int]:
        return self.meta.received(upload.id)

    def downloadable(self, token: str) -> Upload:
        """The complete upload a download token names."""
        upload = self.meta.get_by_token(token) if _TOKEN.match(token) else None
        if upload is None or upload.state != State.COMPLETE:
            raise errors.NOT_FOUND("No file is available at this link.")
        return upload

    def refresh(self, upload: Upload) -> Upload:
        current = self.meta.get(upload.id)
        assert current is not None
        return current

    @staticmethod
    def _check_owner(upload: Upload, owner: str) -> None:
        if not secrets.compare_digest(upload.owner, owner):
            raise errors.FORBIDDEN("This upload was started by another browser or client.")
