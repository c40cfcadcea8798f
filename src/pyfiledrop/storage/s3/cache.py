"""The part bytes an S3 storage keeps in its process's memory, within one budget.

An unfinished multipart upload's parts cannot be read back, so copies of what this process
uploaded are kept until the core's running SHA-256 has read them. Writers reserve room for the
bytes they hold while sending (a stream's cell, the copy of a chunk on its way); reserved and
kept bytes together stay within `budget`. A chunk's writer waits a little for room
(`room`): the digest reading frees it, and a copy that goes missing costs the whole file read
back from the store when it is sealed. The chunk the digest reads next never waits, since it
is what frees the room: it takes room while the budget is not yet passed, so by one chunk.

The digest reads in order, so a part's copy it has not read yet is one it will need. Once a
part is sent without a copy (no room came in time), or a part's copy is dropped unread (only
beyond twice the budget, the oldest first), that upload's running digest cannot finish (its file
is hashed by download when sealed). Its other copies would only take room, so they go too, and
none is kept for it from then on (until it is forgotten). A staging object's copy is different:
the object can be read back, so such copies are the first to go when room is short.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from pyfiledrop.storage.s3.body import Chain

_LOST_REMEMBERED = 4096  # uploads remembered as lost (forgotten when sealed or discarded)
PATIENCE = 2.0  # seconds a chunk's writer waits for room for its copy before going without


@dataclass
class Held:
    """Bytes this process stored, and the store's ETag for them."""

    start: int
    data: Chain
    source: str  # "part:<n>" or a staging object's key
    etag: str
    checked: bool = False  # found in the store after its chunk was recorded: see `read`


class Cache:
    """Copies of uploaded bytes that the running digest has not read yet, and room reserved by
    writers for the bytes they hold (theirs until they put or release it)."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._bytes = 0  # kept copies
        self._reserved = 0
        self._items: dict[tuple[str, int], Held] = {}
        self._lost: OrderedDict[str, None] = OrderedDict()  # uploads whose digest lost a copy
        self._read_to: dict[str, int] = {}  # how far each upload's digest has read
        self._coming: dict[tuple[str, int], int] = {}  # chunk copies being made: their length
        self._freed = asyncio.Event()  # set (and replaced) whenever room is freed

    def reserve(self, size: int) -> bool:
        """Room for `size` more bytes held by a writer; False, reserving nothing, when the
        budget has none."""
        if self._bytes + self._reserved + size > self._budget:
            return False
        self._reserved += size
        return True

    async def room(self, upload_id: str, start: int, size: int) -> bool:
        """Room for the copy of `upload_id`'s chunk of `size` bytes at `start`, to be given back
        by `put` or `unreserve`. When there is none, it waits up to `PATIENCE` s, but only
        while the chunk the digest reads next is here (kept, or its copy being made): then the
        digest frees room. That chunk itself takes room at once while the budget is not passed.
        False, reserving nothing: go without a copy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE
        while self.keeps(upload_id):
            position = self._read_to.get(upload_id, 0)
            passed = self._bytes + self._reserved > self._budget
            if start <= position < start + size and self._budget and not passed:
                self._reserved += size
            elif not self.reserve(size):
                if not self._here(upload_id, position):
                    return False
                try:
                    await asyncio.wait_for(self._freed.wait(), deadline - loop.time())
                except TimeoutError:
                    return False
                continue
            self._coming[(upload_id, start)] = size
            return True
        return False

    def _here(self, upload_id: str, position: int) -> bool:
        """Whether the bytes of `upload_id` at `position` are kept, or their copy is coming."""
        if self.covering(upload_id, position) is not None:
            return True
        return any(
            uid == upload_id and start <= position < start + size
            for (uid, start), size in self._coming.items()
        )

    def keeps(self, upload_id: str) -> bool:
        """Whether copies of `upload_id` are still worth keeping."""
        return upload_id not in self._lost

    def unreserve(self, size: int, chunk: tuple[str, int] | None = None) -> None:
        """Give back `size` reserved bytes (those `room` gave for `chunk`, its upload and start)."""
        self._reserved -= size
        if chunk is not None:
            self._coming.pop(chunk, None)
        self._free()

    def _free(self) -> None:
        """Wake the writers waiting for room (each checks again whether there is enough)."""
        self._freed.set()
        self._freed = asyncio.Event()

    def put(self, upload_id: str, held: Held, reserved: int = 0) -> None:
        """Keep `held`, whose writer had reserved `reserved` bytes for it, dropping copies of
        staged bytes if the budget is passed (and the oldest of any, beyond twice it)."""
        self._reserved -= reserved
        self._coming.pop((upload_id, held.start), None)
        end = held.start + len(held.data)
        for (uid, start), old in list(self._items.items()):
            if uid == upload_id and start < end and held.start < old.start + len(old.data):
                self._drop(uid, start)
        if upload_id in self._lost:
            self._free()  # its room is given back
            return
        self._items[(upload_id, held.start)] = held
        self._bytes += len(held.data)
        # Copies of staged bytes can be read back from the store: they go first. A part's copy
        # had room (`room`) unless its digest reads it next or a stream held it within its
        # allowance; only beyond twice the budget do the oldest go, and their uploads' digests.
        while self._bytes + self._reserved > self._budget:
            staged = [k for k, h in self._items.items() if not h.source.startswith("part:")]
            if not staged:
                break
            self._drop(*staged[0])
        while self._bytes > 2 * self._budget:
            self.lose(next(iter(self._items))[0])

    def adopt(self, upload_id: str, start: int, end: int, source: str, etag: str) -> None:
        """The copies of a stream's staged bytes from `start` to `end` were sent again as part
        of `source`: they are now that part's bytes."""
        for (uid, begin), held in self._items.items():
            inside = start <= begin and begin + len(held.data) <= end
            if uid == upload_id and inside and "/s/" in held.source:
                held.source, held.etag, held.checked = source, etag, False

    def covering(self, upload_id: str, position: int) -> Held | None:
        for (uid, start), held in self._items.items():
            if uid == upload_id and start <= position < start + len(held.data):
                return held
        return None

    def release(self, upload_id: str, offset: int, length: int) -> None:
        """The digest has read up to this range's end (it reads in order, in blocks that need
        not match the copies): the copies that end there or before are no longer needed."""
        self._read_to[upload_id] = max(self._read_to.get(upload_id, 0), offset + length)
        for uid, start in list(self._items):
            held = self._items[(uid, start)]
            if uid == upload_id and start + len(held.data) <= offset + length:
                self._drop(uid, start)

    def forget(self, upload_id: str) -> None:
        self._lost.pop(upload_id, None)
        self._read_to.pop(upload_id, None)
        self._drop_all(upload_id)

    def lose(self, upload_id: str) -> None:
        """The running digest of `upload_id` cannot finish (a part's copy went unread, or a part
        was sent without one): its copies go, and none is kept from now on."""
        self._lost[upload_id] = None
        if len(self._lost) > _LOST_REMEMBERED:
            self._lost.popitem(last=False)
        self._read_to.pop(upload_id, None)
        self._drop_all(upload_id)

    def _drop_all(self, upload_id: str) -> None:
        for uid, start in list(self._items):
            if uid == upload_id:
                self._drop(uid, start)

    def _drop(self, upload_id: str, start: int) -> None:
        held = self._items.pop((upload_id, start), None)
        if held is not None:
            self._bytes -= len(held.data)
            self._free()
