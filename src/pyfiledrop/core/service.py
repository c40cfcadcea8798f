"""The upload service: the one owner of an upload's life, whatever protocol brought it.

Protocol adapters call it with already-parsed numbers and the bytes as an async iterable; it
checks them against the limits and the upload's record, writes through the storage interface,
records progress in the metadata store only after the bytes are stored, and has the `Finisher`
finish the upload exactly once when every byte is in. Two kinds of upload share it all:

- chunked (Dropzone, the command-line client): numbered chunks in any order, several at once,
  to any process; each chunk is claimed in the metadata store while it is written;
- stream (tus, and plain one-request uploads): bytes in order from a stored offset, one writer at
  a time (the claim `stream:<id>`), progress saved every `STEP` bytes.

Uploads live as long as `Lifetimes` say: a finished file until its `expires_at` (fixed on
completion from the life it was given when it was made), an unfinished one while it does not sit
idle too long. The `Cleanup` removes them afterwards; until it does, they are refused all the same
(410), judged by the service's clock.

Nothing here knows HTTP, SQL or file paths, and nothing that decides correctness lives only in
this process's memory.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import replace

from pyfiledrop import errors
from pyfiledrop.core.accounts import Uploader, owner_id
from pyfiledrop.core.admission import Admission
from pyfiledrop.core.cleanup import Cleanup
from pyfiledrop.core.clock import SYSTEM, Clock
from pyfiledrop.core.contents import move_legacy_files
from pyfiledrop.core.coordination import Instance
from pyfiledrop.core.events import Event, Events
from pyfiledrop.core.finishing import Finisher
from pyfiledrop.core.interfaces import (
    AccountStore,
    ChunkStart,
    Concatenation,
    Held,
    Listing,
    LocalFiles,
    MetaStore,
    Page,
    Position,
    PresignedDownloads,
    RangeReads,
    Sort,
    Storage,
    WritebackHints,
)
from pyfiledrop.core.lifetimes import Lifetimes, when
from pyfiledrop.core.model import TOKEN, Content, Layout, State, Upload
from pyfiledrop.core.oversight import Oversight
from pyfiledrop.core.paths import clean_relative_path
from pyfiledrop.core.picking import Picking
from pyfiledrop.core.receiving import (
    ChunkSink,
    Declared,
    Limits,
    StreamSink,
    check_client_id,
    clean_filename,
    new_upload,
    storage_error,
    stream_layout,
)
from pyfiledrop.core.sharing import NO_TERMS, DownloadCounter, Terms, check_left

_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
UNKNOWN = "You have no finished upload with this SHA-256 and size: send the file."
STREAM_LEASE = 3600.0  # seconds; the claim goes with its request, or with its dead process
_READ_BLOCK = 1 << 20
_POLL = 0.5  # seconds between looks at the store while waiting for another process
LEAVE_WAIT = 2.0  # seconds a stop gives the database to free this process's claims
# How long the request whose chunk completes an upload waits for it to be finished: then its
# answer says so (with the digest and link), and the client needs no status call. The finish
# goes on in the background if it takes longer.
FINISH_INLINE = 1.0
MISSING = (
    "This file's content is missing from the server's storage (it was removed outside "
    "pyfiledrop); it cannot be downloaded. Upload it again."
)
KNOWN_UPLOADS = 1024  # chunked uploads whose unchanging fields are kept between chunks

Bytes = AsyncIterable[bytes | memoryview]


class UploadService:
    """Creates uploads, takes their bytes, finishes them, and finds them again."""

    def __init__(
        self,
        meta: MetaStore,
        storage: Storage,
        limits: Limits,
        *,
        lifetimes: Lifetimes | None = None,
        clock: Clock = SYSTEM,
        writeback: WritebackHints | None = None,
        concatenation: Concatenation | None = None,
        local_files: LocalFiles | None = None,
        range_reads: RangeReads | None = None,
        presigned: PresignedDownloads | None = None,
    ) -> None:
        """`writeback`, `concatenation`, `local_files`, `range_reads` and `presigned` are the
        storage's optional capabilities, found once by `compose.py` (`presigned` only when the
        operator turned it on). `lifetimes` default to keeping files for ever. `clock` is the one
        source of time for records and expiry; the metadata store must stamp records with it."""
        self._meta = meta
        self._storage = storage
        self.limits = limits
        self.lifetimes = lifetimes or Lifetimes()
        self.clock = clock
        self.instance = Instance(meta)
        self.events = Events()
        self.finisher = Finisher(
            meta, storage, self.instance, writeback, clock, local_files, self.events
        )
        self.cleanup = Cleanup(meta, storage, self.instance, clock, self.lifetimes, self.events)
        self.concatenation = concatenation
        self.local_files = local_files
        self.range_reads = range_reads
        self.presigned = presigned
        self.counter = DownloadCounter(meta, self.instance, clock)
        self._admission = Admission(meta, limits, local_files)
        self.oversight = Oversight(meta, storage)
        self.accounts: AccountStore = meta
        self.picking = Picking(meta, clock)  # finished files of one owner, for a zip
        self._loops: list[asyncio.Task[None]] = []
        self._known: OrderedDict[str, Upload] = OrderedDict()

    async def start(self) -> None:
        """Join the other processes, remove leftovers, and resume interrupted work."""
        await self.instance.beat()
        await self.instance.reap()
        await move_legacy_files(self._meta, self._storage)  # before anything takes them for scratch
        await self.cleanup.remove_orphans()
        self.finisher.track(self.finisher.sweep())
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(task)
            for task in (self.instance.run(), self.finisher.run(), self.cleanup.run())
        ]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        await self.finisher.drain()
        try:  # a courtesy: without it the claims lapse with the beats
            await asyncio.wait_for(self.instance.leave(), LEAVE_WAIT)
        except (errors.UploadError, TimeoutError):
            pass  # the database is gone or slow: a stop does not wait for it
        await self._meta.close()

    async def drain(self) -> None:
        """Wait for uploads being finished in the background (tests)."""
        await self.finisher.drain()

    # --- creation -------------------------------------------------------------------------------

    async def begin_chunked(
        self, owner: Uploader | str, client_id: str, declared: Declared,
        expire: str | None = None, relative_path: str | None = None, terms: Terms = NO_TERMS,
    ) -> Upload:  # fmt: skip
        """The upload a chunk belongs to, made on its first chunk; checks every declared total.

        `expire` is the life the uploader asks for (`1h`), checked on every chunk and given to
        the upload by the chunk that makes it, as are its download `terms`; `relative_path`,
        where the file was in the folder it came from (cleaned: `paths.py`), is read only by
        that chunk."""
        client_id = check_client_id(client_id)
        layout = self._check_layout(declared)
        filename = clean_filename(declared.filename)
        life = self.lifetimes.life_for(expire)
        existing = self._known.get(client_id) or await self._meta.get_by_client_id(client_id)
        if existing is None:
            folder_path = clean_relative_path(relative_path)
            fresh = new_upload(
                owner, client_id, filename, declared.content_type, layout, self.clock.now(),
                lifetime=life,
            )  # fmt: skip
            existing = await self._create(replace(fresh, relative_path=folder_path), terms)
        self._remember(client_id, existing)
        self._check_owner(existing, owner_id(owner))
        if existing.layout != layout or existing.filename != filename:
            raise errors.CONFLICT(
                "This chunk's declared file (name, size, chunk size or count) differs from the "
                "upload it names."
            )
        return existing

    async def begin_known(
        self, owner: Uploader | str, client_id: str, declared: Declared, sha256: str,
        expire: str | None = None, relative_path: str | None = None, terms: Terms = NO_TERMS,
    ) -> Upload:  # fmt: skip
        """A new upload made complete at once, pointing to content `owner` already uploaded:
        a complete, unexpired upload of theirs has this SHA-256 and size, and its file is in
        place. Only `owner`'s own uploads are looked at, so the answer (404 otherwise) says
        nothing about anyone else's files. Asked again with the same client id, the upload it
        made."""
        client_id = check_client_id(client_id)
        layout = self._check_layout(declared)
        life = self.lifetimes.life_for(expire)
        folder_path = clean_relative_path(relative_path)
        if not _SHA256.match(sha256):
            raise errors.BAD_REQUEST("sha256 must be 64 lowercase hexadecimal digits.")
        existing = await self._meta.get_by_client_id(client_id)
        if existing is not None:
            self._check_owner(existing, owner_id(owner))
            if existing.state == State.COMPLETE and existing.sha256 == sha256:
                return existing
            raise errors.CONFLICT("This upload id is already in use by another upload.")
        now = self.clock.now()
        if await self._meta.owned_content(owner_id(owner), sha256, layout.size, now) is None:
            raise errors.UNKNOWN_CONTENT(UNKNOWN)
        fresh = new_upload(
            owner, client_id, clean_filename(declared.filename), declared.content_type, layout,
            now, lifetime=life,
        )  # fmt: skip
        await self._admission.admit_known(fresh)
        fresh = await self._with_terms(replace(fresh, relative_path=folder_path), terms)
        stored = await self._meta.create_or_get(fresh)  # no partial object: no bytes will come
        if stored.id != fresh.id:  # the same request, twice at once
            return await self.begin_known(
                owner, client_id, declared, sha256, expire, relative_path, terms
            )
        self.events.emit(Event.CREATED, stored)
        await self.finisher.move(fresh.id, State.RECEIVING, State.ASSEMBLING)
        held = await self._meta.hold_content(fresh.id, Content(sha256, layout.size))
        content = await self._meta.content(sha256)
        if held != Held.PRESENT or content is None:  # removed just now
            await self.delete(stored)
            raise errors.UNKNOWN_CONTENT(UNKNOWN)
        await self.finisher.move(
            fresh.id, State.ASSEMBLING, State.COMPLETE, sha256=sha256, storage_key=content.key,
            download_token=secrets.token_urlsafe(24),
            expires_at=None if life is None else self.clock.now() + life,
        )  # fmt: skip
        done = await self.refresh(fresh)
        self.events.emit(Event.COMPLETED, done)
        return done

    def _remember(self, client_id: str, upload: Upload) -> None:
        """Keep what never changes about an upload (id, owner, name, layout) for its next chunks:
        one database call fewer per chunk. Its state is not trusted from here: `start_chunk`
        reads it in the same transaction that claims the chunk."""
        self._known[client_id] = upload
        self._known.move_to_end(client_id)
        if len(self._known) > KNOWN_UPLOADS:
            self._known.popitem(last=False)

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

    async def create_stream(
        self,
        owner: Uploader | str,
        filename: str,
        content_type: str,
        size: int | None,
        *,
        metadata: str | None = None,
        concat: str | None = None,
        protocol: str = "tus",
        expire: str | None = None,
        relative_path: str | None = None,
        terms: Terms = NO_TERMS,
    ) -> Upload:
        """A new stream upload; `size` None defers the length to a later request. `expire` is
        the life its uploader asks for, `relative_path` where the file was in its folder,
        `terms` who may download it and how often."""
        life = self.lifetimes.life_for(expire)
        folder_path = clean_relative_path(relative_path)
        layout = None
        if size is not None:
            self.check_size(size)
            layout = stream_layout(size)
        fresh = new_upload(
            owner, None, filename, content_type, layout, self.clock.now(), protocol=protocol,
            lifetime=life,
        )  # fmt: skip
        return await self._create(
            replace(fresh, metadata=metadata, concat=concat, relative_path=folder_path), terms
        )

    async def _create(self, fresh: Upload, terms: Terms = NO_TERMS) -> Upload:
        """Record a new upload, then make its partial object (so an object never lacks a record);
        if its client id is taken, the upload that has it. A vetter may refuse it first."""
        await self._admission.admit(fresh)
        fresh = await self._with_terms(fresh, terms)
        await self.events.vet(fresh)
        stored = await self._meta.create_or_get(fresh)
        if stored.id == fresh.id:
            try:
                await self._storage.create(fresh.id)
            except OSError as exc:
                await self._meta.delete(fresh.id)
                raise storage_error(exc) from exc
            self.events.emit(Event.CREATED, stored)
        return stored

    @staticmethod
    async def _with_terms(fresh: Upload, terms: Terms) -> Upload:
        """The download terms on a new upload; its password hashed off the event loop."""
        return fresh if terms == NO_TERMS else await asyncio.to_thread(terms.applied, fresh)

    def free_bytes(self) -> int | None:
        """Free space for uploads on local disk; None where the store does not say (S3)."""
        if self.local_files is None:
            return None
        stat = os.statvfs(self.local_files.path_of("."))
        return stat.f_bavail * stat.f_frsize

    # --- chunks ---------------------------------------------------------------------------------

    async def receive_chunk(self, upload: Upload, index: int, offset: int, data: Bytes) -> Upload:
        """Store chunk `index`; it counts once `data` ended with every byte stored. Returns the
        upload as the chunk left it.

        A late copy for an upload no longer receiving is checked but not stored. Two copies of
        one chunk (in any processes) are written one after the other.
        """
        layout = upload.layout
        assert layout is not None
        if not 0 <= index < layout.chunk_count:
            raise errors.BAD_CHUNK(f"Chunk index {index} is outside 0..{layout.chunk_count - 1}.")
        if offset != layout.offset(index):
            raise errors.BAD_CHUNK(
                f"Chunk {index} must start at byte {layout.offset(index)}, not {offset}."
            )
        holder = self.instance.holder()
        if not await self._start_chunk(upload, index, holder):
            sink = ChunkSink(None, layout.chunk_size, layout.length(index))
            async for piece in data:
                await sink.write(piece)
            sink.check_complete()
            if upload.client_id:  # finished or removed: nothing to keep for its next chunks
                self._known.pop(upload.client_id, None)
            current = await self.refresh(upload)
            if current.state in (State.ABANDONED, State.DELETED):
                raise self.gone(current)
            return self._nudge(current)
        # A file of one chunk is hashed when it is sealed, still in the page cache: a running
        # digest would only cost two questions to the store.
        prehash = await self.finisher.prehash_of(upload) if layout.chunk_count > 1 else None
        if prehash:
            prehash.forgotten(index)
        try:
            await self._write_chunk(upload, index, offset, data)
            received = await self._meta.end_chunk(upload.id, index, holder)
        except BaseException:
            await asyncio.shield(self._abandon(upload.id, index, holder))
            raise
        if prehash:
            prehash.recorded(index)
        if received < layout.chunk_count:
            return upload
        finishing = self.finisher.track(self.finisher.finish(upload.id))
        await asyncio.wait([finishing], timeout=FINISH_INLINE)
        if finishing.done() and not finishing.cancelled() and finishing.exception() is None:
            finished = finishing.result()  # complete or failed: as the finish left it
            if finished is not None:
                return finished
        return await self.refresh(upload)

    def _nudge(self, upload: Upload) -> Upload:
        """A client asking about an upload that waits to be finished (the disk was full) has it
        tried again now rather than at the next sweep."""
        if upload.state == State.ASSEMBLING and upload.error:
            self.finisher.track(self.finisher.resume(upload.id))
        return upload

    async def _write_chunk(self, upload: Upload, index: int, offset: int, data: Bytes) -> None:
        layout = upload.layout
        assert layout is not None
        try:
            writer = await self._storage.part_writer(upload.id, index, offset, layout)
            try:
                sink = ChunkSink(writer, layout.chunk_size, layout.length(index))
                async for piece in data:
                    await sink.write(piece)
                sink.check_complete()
                await writer.flush()
            finally:
                await writer.close()
        except OSError as exc:
            raise storage_error(exc) from exc

    async def _abandon(self, upload_id: str, index: int, holder: str) -> None:
        """Let go of a chunk that was not stored; if even that fails (a full database), its
        lease runs out on its own."""
        try:
            await self._meta.abandon_chunk(upload_id, index, holder)
        except errors.UploadError:
            pass

    async def _start_chunk(self, upload: Upload, index: int, holder: str) -> bool:
        """Claim the chunk, waiting while another copy of it is being written; False when the
        upload no longer takes chunks."""
        pause = 0.02
        while True:
            started = await self._meta.start_chunk(
                upload.id, index, holder, self.instance.id, self.limits.chunk_timeout + 60
            )
            if started != ChunkStart.BUSY:
                return started == ChunkStart.CLAIMED
            if pause == 0.02:  # the holder may be a crashed process on this host
                await self.instance.reap()
            else:
                await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)

    async def _claim(self, name: str, holder: str, lease: float) -> bool:
        """Take a claim; if it is held, free the claims of crashed processes here and try again."""
        if await self._meta.claim(name, holder, self.instance.id, lease):
            return True
        await self.instance.reap()
        return await self._meta.claim(name, holder, self.instance.id, lease)

    # --- streams --------------------------------------------------------------------------------

    async def append(self, upload: Upload, offset: int, data: Bytes, keep_partial: bool) -> Upload:
        """Store `data` from byte `offset`, one request at a time per upload; finish the upload
        when it is whole (partial uploads of a tus concatenation wait to be concatenated).

        When `data` raises, the bytes already stored are kept (and counted) if `keep_partial`;
        else the offset stays where it was (a checksum over the whole request must match first).
        """
        name = f"stream:{upload.id}"
        holder = self.instance.holder()
        if not await self._claim(name, holder, STREAM_LEASE):
            raise errors.LOCKED("Another request is writing to this upload; retry shortly.")
        try:
            current = await self.refresh(upload)
            if current.state != State.RECEIVING:
                raise errors.CONFLICT("This upload is already complete.")
            if offset != current.offset:
                raise errors.CONFLICT(
                    f"The upload is at byte {current.offset}, not {offset}; resume from there."
                )
            await self._write_stream(current, data, keep_partial)
        finally:
            await asyncio.shield(self._meta.release(name, holder))
        return await self.finish_if_whole(upload)

    async def _write_stream(self, upload: Upload, data: Bytes, keep_partial: bool) -> None:
        layout = upload.layout
        start = upload.offset
        saved = start
        prehash = await self.finisher.prehash_of(upload)

        async def save(stored: int) -> None:
            nonlocal saved
            if start + stored != saved and await self._meta.set_offset(
                upload.id, saved, start + stored
            ):
                saved = start + stored
                if prehash and layout:
                    whole = saved == layout.size
                    for index in range(layout.chunk_count if whole else saved // layout.chunk_size):
                        prehash.recorded(index)

        async def keep_what_was_stored() -> None:
            try:
                await sink.flush()
            except errors.UploadError:
                pass  # the storage refused the rest: keep what it had stored before
            await save(sink.stored)

        if layout:
            limit, too_large = layout.size, "The data goes past the upload's length."
        else:
            limit = self.limits.max_size
            too_large = f"The file is larger than the {limit} bytes this server accepts."
        try:
            writer = await self._storage.part_writer(upload.id, 0, start)
        except OSError as exc:
            raise storage_error(exc) from exc
        sink = StreamSink(writer, limit - start, too_large, save if keep_partial else None)
        try:
            async for piece in data:
                await sink.write(piece)
            await sink.flush()
        except BaseException:
            if keep_partial:
                await asyncio.shield(keep_what_was_stored())
            raise
        finally:
            await writer.close()
        await save(sink.stored)

    async def set_length(self, upload: Upload, size: int) -> Upload:
        """Fix the length of an upload created with a deferred length; it cannot change after."""
        if upload.layout is not None:
            if upload.layout.size != size:
                raise errors.BAD_REQUEST("The upload's length is already set and cannot change.")
            return upload
        if size < upload.offset:
            raise errors.BAD_REQUEST("The length is smaller than what was already uploaded.")
        self.check_size(size)
        await self._meta.set_layout(upload.id, stream_layout(size))
        return await self.refresh(upload)

    async def finish_if_whole(self, upload: Upload) -> Upload:
        """Finish a stream upload if every byte is in; the upload as it is then."""
        current = await self._meta.get(upload.id)
        if current is None:
            raise errors.NOT_FOUND("This upload was removed.")
        layout = current.layout
        if layout and current.offset == layout.size and current.concat != "partial":
            await self.finisher.finish(upload.id)
            current = await self.refresh(upload)
        return current

    async def receive_plain(
        self, owner: Uploader | str, filename: str, content_type: str, data: Bytes,
        expire: str | None = None, relative_path: str | None = None, terms: Terms = NO_TERMS,
    ) -> Upload:  # fmt: skip
        """A whole file in one request: stored as it arrives, finished at its end."""
        upload = await self.create_stream(
            owner, filename, content_type, None, protocol="plain", expire=expire,
            relative_path=relative_path, terms=terms,
        )  # fmt: skip
        try:
            return await self.finish_plain(await self.append(upload, 0, data, keep_partial=False))
        except BaseException:
            await asyncio.shield(self.delete(upload))
            raise

    async def finish_plain(self, upload: Upload) -> Upload:
        """Finish a plain upload whose bytes are all stored: its length is what arrived."""
        return await self.finish_if_whole(await self.set_length(upload, upload.offset))

    async def contents(self, upload: Upload) -> AsyncIterator[bytes]:
        """The stored bytes of an unfinished stream upload, from the start."""
        position = 0
        while position < upload.offset:
            block = await self._storage.read(
                upload.id, position, min(_READ_BLOCK, upload.offset - position)
            )
            if not block:
                raise storage_error(OSError("the partial object is shorter than its offset"))
            position += len(block)
            yield block

    async def concatenate(
        self,
        owner: Uploader | str,
        filename: str,
        content_type: str,
        metadata: str | None,
        concat: str,
        parts: list[Upload],
        expire: str | None = None,
        terms: Terms = NO_TERMS,
    ) -> Upload:
        """A final upload made of finished partial uploads, each named once, in order; the
        partials are consumed. Naming a partial's URL is the right to use it (tus clients keep
        no cookies, so a partial's owner is not the requester's). Each partial's stream claim is
        held throughout, so two finals (in any processes) never consume the same partial."""
        if self.concatenation is None:
            raise errors.NOT_ALLOWED("This server's storage cannot concatenate uploads.")
        if len({p.id for p in parts}) != len(parts):
            raise errors.BAD_REQUEST("Each partial upload may be named only once.")
        self.lifetimes.life_for(expire)  # refused before any partial is claimed
        holder = self.instance.holder()
        claimed: list[str] = []
        try:
            for partial in parts:
                if not await self._claim(f"stream:{partial.id}", holder, STREAM_LEASE):
                    raise errors.LOCKED(
                        "A partial upload named here is in use by another request; retry shortly."
                    )
                claimed.append(f"stream:{partial.id}")
            current = [await self._meta.get(p.id) for p in parts]  # as they are now, claimed
            if any(p is None for p in current):
                raise errors.NOT_FOUND("A partial upload named here no longer exists.")
            return await self._concatenate(
                owner, filename, content_type, metadata, concat, [p for p in current if p],
                expire, terms,
            )  # fmt: skip
        finally:
            for name in claimed:
                await asyncio.shield(self._meta.release(name, holder))

    async def _concatenate(
        self,
        owner: Uploader | str,
        filename: str,
        content_type: str,
        metadata: str | None,
        concat: str,
        parts: list[Upload],
        expire: str | None,
        terms: Terms,
    ) -> Upload:
        assert self.concatenation is not None
        for partial in parts:
            self.kept(partial)  # abandoned: its bytes are gone
            layout = partial.layout
            if partial.concat != "partial" or layout is None or partial.offset != layout.size:
                raise errors.BAD_REQUEST(
                    "Only finished partial uploads (Upload-Concat: partial) can be concatenated."
                )
        size = sum(p.layout.size for p in parts if p.layout)
        final = await self.create_stream(
            owner, filename, content_type, size, metadata=metadata, concat=concat, expire=expire,
            terms=terms,
        )  # fmt: skip
        try:
            digest = await self.concatenation.concat(final.id, [p.id for p in parts])
        except OSError as exc:
            await self.delete(final)
            raise storage_error(exc) from exc
        await self._meta.set_offset(final.id, 0, size)
        await self.finisher.finish(final.id, digest)
        for partial in parts:
            self.finisher.track(self.delete(partial))
        return await self.refresh(final)

    # --- removal --------------------------------------------------------------------------------

    async def delete(self, upload: Upload) -> None:
        """Remove an upload's bytes, whatever its state: its partial data, and its content's
        file if no other upload points to it; its record stays, marked deleted, until the
        clean-up forgets it after --incomplete-ttl, so a chunk sent before the cancel and
        arriving after it answers 410 instead of starting the upload again. 404 from then on
        for its uploader, its link and its tus URL.

        The content is let go first (so the count of uploads pointing to it stays true), then
        the record is marked, so nothing finds the upload while its files are being removed.
        """
        await self.finisher.contents.release(upload.id)
        current: Upload | None = upload
        while current is not None and current.state != State.DELETED:
            marked = await self.finisher.move(
                current.id, current.state, State.DELETED, removed_at=self.clock.now(),
                freed_bytes=current.size or 0,
            )  # fmt: skip
            if marked:
                break
            current = await self._meta.get(upload.id)  # another process moved it meanwhile
        if current is None or current.state == State.DELETED:
            return  # already deleted (or forgotten) by someone else
        self.events.emit(Event.DELETED, upload)
        self.finisher.forget(upload.id)
        if upload.client_id:
            self._known.pop(upload.client_id, None)
        try:  # if this fails, the next start removes what no record names
            await self._storage.discard(upload.id)
        except OSError as exc:
            raise storage_error(exc) from exc

    async def terminate(self, upload: Upload) -> None:
        """Delete a stream upload unless a request is writing to it."""
        if await self._meta.is_claimed(f"stream:{upload.id}"):
            raise errors.LOCKED("A request is writing to this upload; retry shortly.")
        await self.delete(upload)

    # --- finding --------------------------------------------------------------------------------

    async def owned(self, owner: str, client_id: str) -> Upload:
        """The upload a client named, if this owner created it."""
        upload = await self._meta.get_by_client_id(check_client_id(client_id))
        if upload is None or upload.state == State.DELETED:
            raise errors.NOT_FOUND("No upload has this id.")
        self._check_owner(upload, owner)
        return upload

    async def owned_page(self, owner: str, after: Position | None, limit: int) -> Page:
        """A page of the uploads this owner created, newest first: what a browser whose list
        was cleared, or a client on another machine with the same secret, can see again."""
        shown = tuple(state for state in State if state != State.DELETED)
        listing = Listing(
            owner=owner, states=shown, sort=Sort.CREATED, descending=True, after=after,
            limit=limit,
        )  # fmt: skip
        return await self._meta.list_uploads(listing)

    async def stream(self, upload_id: str) -> Upload:
        """The tus upload with this server-issued id."""
        upload = await self._meta.get(upload_id) if _ID.match(upload_id) else None
        if upload is None or upload.protocol != "tus" or upload.state == State.DELETED:
            raise errors.NOT_FOUND("No upload has this address.")
        return self._nudge(upload)

    async def settled(self, upload: Upload, timeout: float) -> Upload:
        """The upload once it is complete or failed (by any process), or as it is after
        `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        self._nudge(await self.refresh(upload))
        while True:
            current = await self.refresh(upload)
            left = deadline - asyncio.get_running_loop().time()
            if current.state not in (State.RECEIVING, State.ASSEMBLING) or left <= 0:
                return current
            try:  # woken at once by this process; by another one within _POLL seconds
                await asyncio.wait_for(self.finisher.settled.wait(), min(left, _POLL))
            except TimeoutError:
                pass

    async def received(self, upload: Upload) -> list[int]:
        return await self._meta.received(upload.id)

    async def downloadable(self, token: str) -> Upload:
        """The complete upload a download token names; 410 once it is past its life, or when
        its file was found missing."""
        upload = await self._meta.get_by_token(token) if TOKEN.match(token) else None
        if upload is not None and upload.state == State.FAILED:  # it was complete once
            raise errors.CONTENT_MISSING(upload.error or MISSING)
        if upload is None or upload.state not in (State.COMPLETE, State.EXPIRED):
            raise errors.NOT_FOUND("No file is available at this link.")
        check_left(upload)  # its last download made it expire: say why
        return self.kept(upload)

    async def present(self, upload: Upload) -> Upload:
        """`upload`, once its file is known to be in the storage; else it is marked failed, its
        content absent (the next upload of the same bytes stores them again), and 410."""
        assert upload.storage_key is not None
        try:
            found = await self._storage.size_of(upload.storage_key)
        except OSError as exc:
            raise storage_error(exc) from exc
        if found is not None:
            return upload
        if upload.content is not None:
            await self._meta.content_missing(upload.content)
        if await self.finisher.move(upload.id, State.COMPLETE, State.FAILED, error=MISSING):
            self.events.emit(Event.FAILED, replace(upload, state=State.FAILED, error=MISSING))
        raise errors.CONTENT_MISSING(MISSING)

    def kept(self, upload: Upload) -> Upload:
        """`upload`, unless its bytes are gone or due to go: an expired file or an abandoned
        upload (410), whether or not the clean-up has removed them yet."""
        if upload.expired(self.clock.now()) or upload.state == State.ABANDONED:
            raise self.gone(upload)
        return upload

    def idle_until(self, upload: Upload) -> float:
        """When an unfinished upload that receives nothing more is abandoned."""
        return upload.updated_at + self.lifetimes.idle_limit

    @staticmethod
    def gone(upload: Upload) -> errors.UploadError:
        if upload.state == State.DELETED:
            return errors.GONE(
                f"This upload was cancelled on {when(upload.removed_at)}; its chunks are no "
                "longer taken. Send the file again as a new upload."
            )
        if upload.state == State.ABANDONED:
            return errors.GONE(
                f"This upload sat unfinished for too long; its data was removed on "
                f"{when(upload.removed_at)}. Send the file again."
            )
        return errors.GONE(
            f"This file expired on {when(upload.expires_at)}; it is no longer available."
        )

    async def refresh(self, upload: Upload) -> Upload:
        current = await self._meta.get(upload.id)
        if current is None:
            raise errors.NOT_FOUND("This upload was removed.")
        return current

    @staticmethod
    def _check_owner(upload: Upload, owner: str) -> None:
        if not secrets.compare_digest(upload.owner, owner):
            raise errors.FORBIDDEN("This upload was started by another browser or client.")
