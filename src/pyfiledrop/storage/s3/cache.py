"""The part bytes an S3 storage keeps in its process's memory, within two budgets.

An unfinished multipart upload's parts cannot be read back, so copies of what this process
uploaded are kept until the core's running SHA-256 has read them: at most `budget` bytes. Writers
reserve room for the bytes they hold while sending (a stream's cell, the copy of a chunk on its
way): at most `budget` more, refused beyond.

The digest reads in order, so a part's copy it has not read yet is one it will need. When kept
copies pass the budget, the oldest go (those of the upload whose digest lags most); once a part's
copy is dropped unread, or a part is sent without one, that upload's running digest cannot finish
(its file is hashed by download when sealed). Its other copies would only take room, so they go
too, and none is kept for it from then on (until it is forgotten). A staging object's copy is
different: the object can be read back.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from pyfiledrop.storage.s3.body import Chain

_LOST_REMEMBERED = 4096  # uploads remembered as lost (forgotten when sealed or discarded)


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

    def reserve(self, size: int) -> bool:
        """Room for `size` more bytes held by a writer; False, reserving nothing, when writers
        already hold too much."""
        if self._reserved + size > self._budget:
            return False
        self._reserved += size
        return True

    def keeps(self, upload_id: str) -> bool:
        """Whether copies of `upload_id` are still worth keeping."""
        return upload_id not in self._lost

    def unreserve(self, size: int) -> None:
        self._reserved -= size

    def put(self, upload_id: str, held: Held, reserved: int = 0) -> None:
        """Keep `held`, whose writer had reserved `reserved` bytes for it, dropping the oldest
        copies if need be."""
        self._reserved -= reserved
        end = held.start + len(held.data)
        for (uid, start), old in list(self._items.items()):
            if uid == upload_id and start < end and held.start < old.start + len(old.data):
                self._drop(uid, start)
        if upload_id in self._lost:
            return
        self._items[(upload_id, held.start)] = held
        self._bytes += len(held.data)
        while self._bytes > self._budget:
            uid, start = next(iter(self._items))
            if self._items[(uid, start)].source.startswith("part:"):
                self.lose(uid)
            else:
                self._drop(uid, start)

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
        for uid, start in list(self._items):
            held = self._items[(uid, start)]
            if uid == upload_id and start + len(held.data) <= offset + length:
                self._drop(uid, start)

    def forget(self, upload_id: str) -> None:
        self._lost.pop(upload_id, None)
        self._drop_all(upload_id)

    def lose(self, upload_id: str) -> None:
        """The running digest of `upload_id` cannot finish (a part's copy went unread, or a part
        was sent without one): its copies go, and none is kept from now on."""
        self._lost[upload_id] = None
        if len(self._lost) > _LOST_REMEMBERED:
            self._lost.popitem(last=False)
        self._drop_all(upload_id)

    def _drop_all(self, upload_id: str) -> None:
        for uid, start in list(self._items):
            if uid == upload_id:
                self._drop(uid, start)

    def _drop(self, upload_id: str, start: int) -> None:
        held = self._items.pop((upload_id, start), None)
        if held is not None:
            self._bytes -= len(held.data)
