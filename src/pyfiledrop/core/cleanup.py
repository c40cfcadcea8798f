"""The clean-up: removes what has outlived its time, once across all processes.

Every process runs a pass every `Lifetimes.clean_every` seconds (`--cleanup-interval`, 10 s by
default), but a pass works only under the claim `cleanup` (a lease, renewed before each removal),
so one process at a time does it. A pass:

- lets go of the content of each finished file past its `expires_at` (contents.py): the last
  upload pointing to a content removes its file. Then it moves the record complete -> expired
  with `removed_at` and `freed_bytes`: the content's size if this upload was its last, else 0
  (another upload still uses the file). In that order, so a record never says expired while it
  holds its content; a pass cut short between the two moves it next time, with 0 freed.
  Downloads are refused from `expires_at` on, whether or not a pass ran.
- abandons each unfinished upload (receiving, or failed) not updated for `idle_limit`: it takes
  the upload's `stream:<id>` claim (no tus request writes to it meanwhile), moves the record to
  abandoned by a compare-and-set that loses to any chunk that started since (`MetaStore.abandon`),
  and only then discards the partial data (`Storage.discard`: on S3 it aborts the multipart
  upload and removes staged chunks). `freed_bytes` is what the upload had received. A failed
  upload that held a content (its file went missing) lets go of it.
- finishes removals of contents cut short (a crash, the store down).
- every `ORPHANS_EVERY` seconds, and when a process starts: discards partial data that no upload
  still needs. Its upload has no record, or a finished or removed one. The storage is listed
  before the records are read, and a record is always made before its partial data, so data
  listed without a record is an orphan, however new: no age is needed to tell. This also
  finishes a removal whose `discard` failed after the record was moved.

Records stay, so an administrator can see what was removed, when and how much it freed. A
storage failure skips that upload (the next pass tries again); a database failure ends the pass.
`pyfiledrop gc` runs a pass of its own (under the same claim), telling each removal as it is
made, and `due` tells what a pass would remove without removing anything (`gc --dry-run`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

from pyfiledrop.core.clock import Clock
from pyfiledrop.core.contents import Contents
from pyfiledrop.core.coordination import Instance, every
from pyfiledrop.core.events import Event, Events
from pyfiledrop.core.interfaces import MetaStore, Storage
from pyfiledrop.core.lifetimes import Lifetimes
from pyfiledrop.core.model import State, Upload, check_move

CLEANUP_LEASE = 300.0  # seconds; renewed before each removal, so a long pass keeps it
ORPHANS_EVERY = 3600.0  # seconds of the clock between listings of the storage
NEEDS_NOTHING = (State.COMPLETE, State.EXPIRED, State.ABANDONED, State.DELETED)  # leftovers


@dataclass(frozen=True)
class Removed:
    """What one pass removed."""

    expired: int = 0
    abandoned: int = 0
    orphans: int = 0
    freed_bytes: int = 0


@dataclass(frozen=True)
class Removal:
    """One thing a pass removes: an expired file, an abandoned upload's partial data, or partial
    data no upload needs (an orphan: `upload` is its record, None when it has none)."""

    kind: str  # "expired", "abandoned" or "orphan"
    upload_id: str
    upload: Upload | None
    freed_bytes: int | None  # None: not known (the storage does not tell an orphan's size)


Report = Callable[[Removal], None]


def _ignore(removal: Removal) -> None:
    pass


class Cleanup:
    """Expired files, abandoned uploads and orphaned partial data, removed by one process."""

    def __init__(
        self,
        meta: MetaStore,
        storage: Storage,
        instance: Instance,
        clock: Clock,
        lifetimes: Lifetimes,
        events: Events | None = None,
    ) -> None:
        self.meta = meta
        self.events = events or Events()
        self.storage = storage
        self.instance = instance
        self.clock = clock
        self.lifetimes = lifetimes
        self.contents = Contents(meta, storage, instance)
        self._orphans_due = 0.0  # this process lists the storage when it holds the claim then

    async def run(self) -> None:
        """A pass every `lifetimes.clean_every` seconds until cancelled."""
        await every(self.lifetimes.clean_every, self.run_once)

    async def run_once(self, report: Report = _ignore) -> Removed | None:
        """One pass, if no other process is making one (else None); `report` is told of each
        removal once it is made."""
        holder = self.instance.holder()
        if not await self._renew(holder):
            return None
        try:
            return await self._pass(holder, report)
        finally:
            await asyncio.shield(self.meta.release("cleanup", holder))

    async def _renew(self, holder: str) -> bool:
        return await self.meta.claim("cleanup", holder, self.instance.id, CLEANUP_LEASE)

    async def _pass(self, holder: str, report: Report) -> Removed:
        expired = abandoned = orphans = freed = 0
        now = self.clock.now()
        for upload in await self.meta.expired(now):
            if not await self._renew(holder):
                break
            size = await self._expire(upload, now)
            expired, freed = expired + (size is not None), freed + (size or 0)
            if size is not None:
                report(Removal("expired", upload.id, upload, size))
        cutoff = now - self.lifetimes.idle_limit
        for upload in await self.meta.idle_since(cutoff):
            if not await self._renew(holder):
                break
            size = await self._abandon(upload, cutoff, now)
            abandoned, freed = abandoned + (size is not None), freed + (size or 0)
            if size is not None:
                report(Removal("abandoned", upload.id, upload, size))
        for upload in await self.meta.in_state(State.DELETED):  # kept only for late chunks
            if upload.updated_at < cutoff and await self._renew(holder):
                await self.meta.delete(upload.id)
        if await self._renew(holder):
            await self.contents.finish_removals()
        if now >= self._orphans_due and await self._renew(holder):
            orphans = await self.remove_orphans(report)
            self._orphans_due = now + ORPHANS_EVERY
        return Removed(expired, abandoned, orphans, freed)

    async def _expire(self, upload: Upload, now: float) -> int | None:
        """Let go of an expired file's content; the bytes freed, or None if it was not moved."""
        check_move(upload.state, State.EXPIRED)
        last = await self.contents.release(upload.id)
        size = last.size if last is not None else 0
        moved = await self.meta.move(
            upload.id, State.COMPLETE, State.EXPIRED, removed_at=now, freed_bytes=size
        )
        if not moved:
            return None
        expired = replace(upload, state=State.EXPIRED, removed_at=now, freed_bytes=size)
        self.events.emit(Event.EXPIRED, expired)
        return size

    async def _abandon(self, upload: Upload, cutoff: float, now: float) -> int | None:
        """Remove an idle upload's partial data; the bytes freed, or None if it was kept."""
        check_move(upload.state, State.ABANDONED)
        holder, name = self.instance.holder(), f"stream:{upload.id}"
        if not await self.meta.claim(name, holder, self.instance.id, CLEANUP_LEASE):
            return None  # a request is writing to it
        try:
            held = 0 if upload.content else await self._held(upload)
            if not await self.meta.abandon(upload.id, upload.state, cutoff, now, held):
                return None  # a chunk came in since
            abandoned = replace(upload, state=State.ABANDONED, removed_at=now, freed_bytes=held)
            self.events.emit(Event.ABANDONED, abandoned)
            await self.contents.release(upload.id)
            try:
                await self.storage.discard(upload.id)
            except OSError:
                pass  # the record says abandoned: the next listing of orphans removes the data
            return held
        finally:
            await asyncio.shield(self.meta.release(name, holder))

    async def _held(self, upload: Upload) -> int:
        """The bytes an unfinished upload had stored: its received chunks, or its offset."""
        if upload.protocol == "dropzone" and upload.layout is not None:
            layout = upload.layout
            return sum(layout.length(index) for index in await self.meta.received(upload.id))
        return upload.offset

    async def remove_orphans(self, report: Report = _ignore) -> int:
        """Discard partial data no unfinished upload needs; how many uploads had some."""
        removed = 0
        for orphan in await self._orphans():
            try:
                await self.storage.discard(orphan.upload_id)
            except OSError:
                continue
            removed += 1
            report(orphan)
        return removed

    async def _orphans(self) -> list[Removal]:
        found = []
        for upload_id in sorted(await self.storage.partials()):
            upload = await self.meta.get(upload_id)
            if upload is None or upload.state in NEEDS_NOTHING:
                found.append(Removal("orphan", upload_id, upload, None))
        return found

    async def _expired_due(self, now: float) -> list[Removal]:
        """The expired uploads, each with the space its removal would free: its content's size
        for the last of the uploads pointing to the content (once, when several of them expire
        together), 0 while another upload still points to it."""
        expired = await self.meta.expired(now)
        pointing: dict[str, int] = {}
        for upload in expired:
            if upload.content is not None:
                pointing[upload.content] = pointing.get(upload.content, 0) + 1
        counted: set[str] = set()
        found = []
        for upload in expired:
            size = upload.size or 0
            if upload.content is not None:
                shared = await self.meta.content_refs(upload.content) > pointing[upload.content]
                size = 0 if shared or upload.content in counted else size
                counted.add(upload.content)
            found.append(Removal("expired", upload.id, upload, size))
        return found

    async def due(self) -> list[Removal]:
        """What a pass would remove now, orphans included, changing nothing (no claim is taken):
        expired files, and idle uploads that no request is writing to at this moment."""
        now = self.clock.now()
        found = await self._expired_due(now)
        for upload in await self.meta.idle_since(now - self.lifetimes.idle_limit):
            if not await self.meta.is_claimed(f"stream:{upload.id}"):
                found.append(Removal("abandoned", upload.id, upload, await self._held(upload)))
        return found + await self._orphans()
