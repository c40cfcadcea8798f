"""Finishing uploads: seal and hash, check, and store the file once by content (contents.py),
exactly once across processes.

An upload is finished by whoever holds the claim `assemble:<id>`: the process that received its
last byte, or, after a crash, any process's sweep. The sweep runs at start and then every
`SWEEP_EVERY` seconds in every process; the claims make each piece of its work run once. A disk
that is full (or a store that is unavailable) when a file is finished leaves the upload
`assembling` with the reason recorded, and the next sweep tries again, so it completes once space
(or the store) is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from pyfiledrop import errors
from pyfiledrop.core.clock import Clock
from pyfiledrop.core.contents import Contents
from pyfiledrop.core.coordination import Instance, every
from pyfiledrop.core.events import Event, Events
from pyfiledrop.core.interfaces import (
    LocalFiles,
    MetaStore,
    Storage,
    StorageUnavailable,
    WritebackHints,
)
from pyfiledrop.core.model import Content, Layout, State, Upload, check_move
from pyfiledrop.core.prehash import Fold, Prehash, fold_blocking, fold_reads
from pyfiledrop.core.receiving import is_full, storage_error

T = TypeVar("T")

MAX_PREHASHES = 256  # uploads hashed while they arrive, at most (least recently used go first)
HASHING_AT_ONCE = 2  # blocks read and hashed at once by all running digests (4 MiB each)
ASSEMBLE_LEASE = 3600.0  # seconds; a live instance finishes long before, a dead one loses it
SWEEP_EVERY = 10.0
WAITING_FOR_SPACE = "The server's storage is full; the file will be finished when space is free."


class Finisher:
    """Running digests, the finishing step, and the sweep that resumes interrupted work."""

    def __init__(
        self,
        meta: MetaStore,
        storage: Storage,
        instance: Instance,
        writeback: WritebackHints | None,
        clock: Clock,
        local_files: LocalFiles | None = None,
        events: Events | None = None,
    ) -> None:
        self.meta = meta
        self.events = events or Events()
        self.storage = storage
        self.instance = instance
        self.clock = clock
        self._writeback = writeback
        self._local_files = local_files
        self.contents = Contents(meta, storage, instance)
        self._prehashes: OrderedDict[str, Prehash] = OrderedDict()
        self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.settled = asyncio.Event()  # set and cleared whenever this process settles one

    # --- running digests --------------------------------------------------------------------------

    async def prehash_of(self, upload: Upload) -> Prehash | None:
        """The running digest of a receiving upload of known size, made on first use."""
        layout = upload.layout
        if layout is None:
            return None
        if upload.id in self._prehashes:
            self._prehashes.move_to_end(upload.id)
            return self._prehashes[upload.id]
        current = await self.meta.get(upload.id)  # the rewrite count first, then the chunks
        if current is None:
            return None
        received = await self.meta.received(upload.id)
        if upload.id in self._prehashes:  # another chunk of it made one while this one waited
            return self._prehashes[upload.id]
        if len(self._prehashes) >= MAX_PREHASHES:
            self._prehashes.popitem(last=False)
        prehash = Prehash(layout, current.rewrites, received, self._fold(upload.id), self._hashing)
        self._prehashes[upload.id] = prehash
        return prehash

    def _fold(self, upload_id: str) -> Fold:
        local = self._local_files
        if local is not None:
            return fold_blocking(lambda at, length: local.read_partial(upload_id, at, length))
        writeback = self._writeback

        async def read(offset: int, length: int) -> bytes:
            return await self.storage.read(upload_id, offset, length)

        async def release(offset: int, length: int) -> None:
            assert writeback is not None
            await writeback.release(upload_id, offset, length)

        return fold_reads(read, release if writeback else None)

    def forget(self, upload_id: str) -> None:
        self._prehashes.pop(upload_id, None)

    # --- finishing --------------------------------------------------------------------------------

    async def move(self, upload_id: str, old: State, new: State, **fields: Any) -> Upload | None:
        """Every state change the finisher makes goes through here, checked against the table."""
        check_move(old, new)
        return await self.meta.move(upload_id, old, new, **fields)

    async def finish(
        self, upload_id: str, sha256: str | None = None, layout: Layout | None = None
    ) -> Upload | None:
        """Move a receiving upload whose bytes are all in to assembling and finish it; the
        upload once complete or failed. Does nothing (None) when another request or process got
        there first, or the finish has to wait (a full disk, the store down)."""
        holder = self.instance.holder()
        name = f"assemble:{upload_id}"
        if not await self.meta.claim(name, holder, self.instance.id, ASSEMBLE_LEASE):
            return None
        try:
            moved = await self.move(upload_id, State.RECEIVING, State.ASSEMBLING, layout=layout)
            return await self._assemble(moved, sha256) if moved else None
        finally:
            self._let_go(name, holder)
            self._notify()

    async def resume(self, upload_id: str) -> None:
        """Finish an upload left assembling (a crash, a full disk), if nobody else is at it."""
        holder = self.instance.holder()
        name = f"assemble:{upload_id}"
        if not await self.meta.claim(name, holder, self.instance.id, ASSEMBLE_LEASE):
            return
        try:
            current = await self.meta.get(upload_id)
            if current is not None and current.state == State.ASSEMBLING:
                await self._assemble(current, None)
        finally:
            self._let_go(name, holder)
            self._notify()

    def _let_go(self, name: str, holder: str) -> None:
        """Give the claim back without the request waiting for it: one trip to the store less
        per finish. Should that fail, its lease runs out."""

        async def release() -> None:
            with contextlib.suppress(errors.UploadError, OSError):
                await self.meta.release(name, holder)

        self.track(release())

    async def _assemble(self, upload: Upload, digest: str | None) -> Upload | None:
        """Finish an assembling upload; the upload once moved to complete or failed."""
        upload_id = upload.id
        assert upload.layout is not None
        prehash = self._prehashes.pop(upload_id, None)
        if digest is None and prehash is not None and prehash.rewrites == upload.rewrites:
            digest = await prehash.complete()
        try:
            if upload.content is None:  # else held by an attempt cut short: its copy may be gone
                sealed = await self.storage.seal(upload_id, digest)
                if sealed.size != upload.layout.size:
                    error = f"assembled {sealed.size} bytes, expected {upload.layout.size}"
                    return await self._told(Event.FAILED, upload_id, State.FAILED, error=error)
                content = Content(sealed.sha256, sealed.size)
            else:
                content = Content(upload.content, upload.layout.size)
            held = await self.contents.hold(upload_id, content)
            resumed = upload.content is not None
            key = await self.contents.place(upload_id, content, held, resumed)
        except errors.UploadError as exc:
            if exc.kind is errors.NOT_FOUND:
                return None  # deleted meanwhile: nothing to finish
            raise
        except OSError as exc:
            if is_full(exc):  # stays assembling; a later sweep finishes it
                await self.meta.note_error(upload_id, WAITING_FOR_SPACE)
            elif isinstance(exc, StorageUnavailable):  # the same, once the store is back
                await self.meta.note_error(upload_id, storage_error(exc).message)
            else:
                error = storage_error(exc).message
                return await self._told(Event.FAILED, upload_id, State.FAILED, error=error)
            return None
        life = upload.lifetime  # counted from now, when the file is complete
        done = await self._told(
            Event.COMPLETED,
            upload_id,
            State.COMPLETE,
            sha256=content.sha256,
            storage_key=key,
            download_token=upload.download_token or secrets.token_urlsafe(24),
            expires_at=None if life is None else self.clock.now() + life,
        )
        if done is not None and done.error:
            await self.meta.note_error(upload_id, None)
            return replace(done, error=None)
        return done

    async def _told(self, event: Event, upload_id: str, new: State, **fields: Any) -> Upload | None:
        """Move an assembling upload to `new` and, if this call moved it, emit `event`; the
        upload as moved."""
        moved = await self.move(upload_id, State.ASSEMBLING, new, **fields)
        if moved is not None:
            self.events.emit(event, moved)
        return moved

    def _notify(self) -> None:
        self.settled.set()
        self.settled = asyncio.Event()

    # --- recovery ---------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Finish what was being finished, and what has all its bytes but was never finished."""
        await self.instance.reap()
        for upload in await self.meta.in_state(State.ASSEMBLING):
            await self.resume(upload.id)
        for upload in await self.meta.whole():
            await self.finish(upload.id)

    async def run(self) -> None:
        """Sweep every `SWEEP_EVERY` seconds until cancelled."""
        await every(SWEEP_EVERY, self.sweep)

    def track(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run `work` in the background; `drain` waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
