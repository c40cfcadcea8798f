"""Finished files stored once by content, kept while an upload points to them.

The metadata store counts the uploads that point to each content (`MetaStore.hold_content` /
`release_content`), in the content's own row, with the key its file was placed under (its
SHA-256's `content_key` on local disk; on an object store, where its first upload was sealed,
as a copy would cost a pass over every byte). So a completion and a removal of the same content
happen one after the other in every process:

- finishing an upload holds its content first. PRESENT: the file is in place; the upload's own
  copy is discarded. ABSENT: the upload places its copy, then records where. Two uploads of the
  same bytes placing at once: on local disk both rename to the same key (identical bytes, so
  harmless); on an object store each keeps its own, the first recorded wins and the other's is
  removed. REMOVING: the last upload that pointed to it let go and its file is being removed:
  wait for that to end, then store it anew. A hold is counted once per upload, so a finish cut
  short and resumed counts it once.
- letting go (delete, expiry, abandoning a failed upload): the last upload to let go marks the
  content removing; its file is removed under the claim `content:<sha256>`, then the row is
  forgotten. Whoever holds the claim and still finds the row removing does the removal, so one
  cut short (a crash, the store down) is finished by the clean-up's next pass, or by a
  completion waiting for it, and a slow remover never removes a file placed again since.
"""

from __future__ import annotations

import asyncio
import re

from pyfiledrop.core.coordination import Instance
from pyfiledrop.core.interfaces import Held, MetaStore, Storage, StorageUnavailable
from pyfiledrop.core.model import Content, State, content_key

REMOVE_LEASE = 600.0  # seconds; a removal is one call to the storage
HOLD_WAIT = 30.0  # seconds a completion waits for a removal of its content to end
_PAUSE = 0.02
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class Contents:
    """Holding, placing and letting go of contents, for the finisher, the clean-up and deletes."""

    def __init__(self, meta: MetaStore, storage: Storage, instance: Instance) -> None:
        self.meta = meta
        self.storage = storage
        self.instance = instance

    async def hold(self, upload_id: str, content: Content) -> Held:
        """Point the upload to `content`: PRESENT or ABSENT, as `MetaStore.hold_content`, after
        waiting out a removal of the same content. Raise StorageUnavailable when that removal
        does not end within `HOLD_WAIT` (its remover is alive but the store refuses it)."""
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + HOLD_WAIT, _PAUSE
        while (held := await self.meta.hold_content(upload_id, content)) == Held.REMOVING:
            removing = await self.meta.content(content.sha256)  # (where its file is)
            if not await self.finish_removal(removing or content):  # someone else is at it
                if loop.time() > deadline:
                    raise StorageUnavailable("an earlier copy of this file is still being removed")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)
        return held

    async def place(
        self, upload_id: str, content: Content, held: Held, resumed: bool = False
    ) -> str:
        """Put the upload's sealed bytes where `held` says: nowhere if the content's file is in
        place (they are discarded), else where the storage places them; the key of the
        content's file. Idempotent, as the storage calls are. `resumed`: an earlier attempt
        held the content, and may have placed a copy that another upload's then outran."""
        if held == Held.PRESENT:
            await self.storage.discard(upload_id)  # (never a placed file: a finish resumed)
            found = await self.meta.content(content.sha256)
            key = (found or content).key
            if resumed and key != upload_id:  # placed under its own id (S3), then cut short
                await self.storage.remove(upload_id)  # before it removed that losing copy
            return key
        key = await self.storage.place(upload_id, content.key)
        recorded = await self.meta.content_placed(content.sha256, key)
        if recorded != key:  # another upload's copy was recorded first: ours is scratch
            await self.storage.remove(key)
        return recorded

    async def release(self, upload_id: str) -> Content | None:
        """Let go of the upload's content; the content if this upload was the last to point to
        it (its file is then removed now, or by the clean-up's next pass if the store fails)."""
        last = await self.meta.release_content(upload_id)
        if last is not None:
            await self.finish_removal(last)
        return last

    async def finish_removal(self, content: Content) -> bool:
        """Remove the file of a content marked removing and forget it, unless another holder is
        at it; whether this call did."""
        holder, name = self.instance.holder(), f"content:{content.sha256}"
        if not await self.meta.claim(name, holder, self.instance.id, REMOVE_LEASE):
            return False
        try:
            if not await self.meta.is_removing(content.sha256):
                return False  # done by another holder, and perhaps stored again since
            try:
                await self.storage.remove(content.key)
            except OSError:
                return False  # the store is down: the clean-up tries again
            await self.meta.forget_content(content.sha256)
            return True
        finally:
            await asyncio.shield(self.meta.release(name, holder))

    async def finish_removals(self) -> int:
        """Finish every removal cut short; how many this call finished."""
        return sum([await self.finish_removal(c) for c in await self.meta.removals()])


async def move_legacy_files(meta: MetaStore, storage: Storage) -> int:
    """Move the files that versions before content keys placed under an upload's id to the key
    migration 5 gave their upload (its content's); how many were moved. Then record that key
    as where the contents placed before migration 7 are.

    Idempotent and safe to cut short: a file is renamed (atomically, a copy then a removal on
    S3) only while its record is complete and names its content's key, and a rename cut short
    is finished by the next call. Run at every start, before any clean-up; once the contents
    are keyed it costs one query (an object store keeps files under upload ids now, which a
    listing would have to tell apart one record at a time).
    """
    if not await meta.unkeyed_contents():
        return 0
    moved = 0
    for name in await storage.legacy_files():
        upload = await meta.get(name) if _UPLOAD_ID.match(name) else None
        if upload is None or upload.state != State.COMPLETE or upload.content is None:
            continue  # not a finished file (a sealed object, or no record: the clean-up's)
        if upload.storage_key != content_key(upload.content):
            continue
        try:
            await storage.rename(name, upload.storage_key)
        except FileNotFoundError:
            continue
        moved += 1
    await meta.key_contents()
    return moved
