"""The contracts between the upload core and its back ends.

The core depends only on these protocols; `compose.py` picks the implementations. Each method's
docstring is an obligation an implementation must meet; the contract suites under tests/meta and
tests/storage check them against every implementation.

Several server processes may share one metadata store and one storage: nothing here may rely on
one process's memory. Coordination is by claims: named leases held by a holder (one request or
task) on behalf of a process instance. A claim is live while its lease has not run out and its
instance keeps its heartbeat; a claim of a dead instance is free at once for anyone to take.

Every method is a coroutine: back ends do their blocking work (SQL, fsync, network) off the
event loop, so a slow disk or database never freezes the server's other requests.

Time: a metadata store stamps `updated_at` with the core's `Clock` (given to its constructor);
questions about expiry take their "now" or cutoff from the caller. Leases are timed by the
store's own clock (the database's, for PostgreSQL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from pyfiledrop.core.accounts import Account, Token, Usage
from pyfiledrop.core.model import Content, Layout, State, Upload


class ChunkStart(Enum):
    """What `MetaStore.start_chunk` found."""

    CLAIMED = "claimed"  # the caller may write the chunk now
    BUSY = "busy"  # another live holder is writing the same chunk
    CLOSED = "closed"  # the upload is gone or no longer receiving


class Held(Enum):
    """What `MetaStore.hold_content` found."""

    PRESENT = "present"  # the content's file is in place: the caller's own copy is not needed
    ABSENT = "absent"  # not known to be in place: the caller places its copy, then says so
    REMOVING = "removing"  # its file is being removed: nothing changed; try again once it is gone


class Reserve(Enum):
    """What `MetaStore.reserve_download` found."""

    TAKEN = "taken"  # one of the remaining downloads is the caller's until it counts or lets go
    SPENT = "spent"  # every allowed download was delivered (or the upload is not complete)
    BUSY = "busy"  # the ones left are all reserved by downloads under way


class Sort(Enum):
    """What `MetaStore.list_uploads` orders by (then by id, so the order is total)."""

    CREATED = "created"  # created_at
    UPDATED = "updated"  # updated_at
    SIZE = "size"  # size, an unknown size counting as smaller than any known one
    NAME = "name"  # filename, by its characters' code points (the same order on every store)


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last upload's sort value (seconds, bytes or name) and its id."""

    key: float | int | str
    id: str


@dataclass(frozen=True)
class Listing:
    """Which uploads `MetaStore.list_uploads` returns, in which order, from where, how many.

    Filters that are None (or, for `states`, empty) filter nothing; the others all apply.
    `name_contains` matches anywhere in the file name, ignoring the case of ASCII letters (of
    others too where the store can); `%`, `_` and `\\` in it are plain characters. Times are on
    the core's clock, like `created_at`.
    """

    states: tuple[State, ...] = ()
    created_before: float | None = None  # created strictly before this moment
    created_after: float | None = None  # created at or after this moment
    name_contains: str | None = None
    owner: str | None = None
    sort: Sort = Sort.CREATED
    descending: bool = False
    after: Position | None = None  # the `next` of the page before; None: the first page
    limit: int = 100


@dataclass(frozen=True)
class Page:
    """One page of a listing; `next` is where the next page starts (None: this is the last)."""

    uploads: list[Upload]
    next: Position | None


@dataclass(frozen=True)
class Day:
    """Uploads made on one day (UTC), for `MetaStore.summary`."""

    start: float  # the day's first second, 00:00 UTC, on the core's clock
    uploads: int  # uploads created that day, in any state
    bytes: int  # the sizes of those of them that finished (complete or expired since)


@dataclass(frozen=True)
class Summary:
    """Everything stored, in a few numbers (the admin page's summary)."""

    states: dict[State, int]  # uploads per recorded state; states without any are left out
    stored_bytes: int  # the sizes of complete uploads, each counted as if stored alone
    content_bytes: int  # the sizes of the contents in place: each stored once, however many
    # uploads point to it; stored_bytes - content_bytes is what storing them once saves
    days: list[Day]  # the days from `since` on that saw at least one upload, oldest first


class AccountStore(Protocol):
    """Accounts and their tokens (issue 8): who may upload, and who may use the admin page. Part
    of every `MetaStore`; the web layer is given only this."""

    async def add_account(self, account: Account) -> bool:
        """Record a new account; False, changing nothing, when its name is taken."""

    async def account(self, name: str) -> Account | None:
        """The account with this name, or None."""

    async def accounts(self) -> list[Account]:
        """Every account, by name."""

    async def has_accounts(self) -> bool:
        """Whether at least one account exists (then uploads need credentials)."""

    async def set_password(self, name: str, password_hash: str) -> bool:
        """Replace the account's password hash; False when there is no such account."""

    async def remove_account(self, name: str) -> bool:
        """Forget the account and its tokens, atomically; False when there was none. Its
        uploads stay, still naming it in `account`."""

    async def add_token(self, token: Token) -> bool:
        """Record a token; False, changing nothing, when its account does not exist or already
        has a token with this label."""

    async def remove_token(self, account: str, label: str) -> bool:
        """Forget the account's token with this label; False when it had none."""

    async def tokens(self, account: str) -> list[Token]:
        """The account's tokens, by label."""

    async def token_account(self, digest: str, now: float) -> Account | None:
        """The account whose token has this digest (None: no such token), stamping the token's
        `last_used` with `now`."""


class MetaStore(AccountStore, Protocol):
    """Durable record of every upload, of the chunks it has received, and of who works on it."""

    async def create_or_get(self, upload: Upload) -> Upload:
        """Insert `upload`, or, if one with the same `client_id` exists, return that one unchanged.

        Must be safe when two callers (in any processes) race with the same client_id: exactly
        one row results, and both get it.
        """

    async def get(self, upload_id: str) -> Upload | None:
        """The upload with server id `upload_id`, or None."""

    async def get_by_client_id(self, client_id: str) -> Upload | None:
        """The upload a client named `client_id`, or None."""

    async def get_by_token(self, token: str) -> Upload | None:
        """The upload whose download token is `token`, or None."""

    async def in_state(self, state: State) -> list[Upload]:
        """Every upload currently in `state` (used to resume work after a restart)."""

    async def whole(self) -> list[Upload]:
        """Every receiving upload whose bytes are all in: each chunk received (chunked uploads)
        or the stored offset at the known size (stream uploads, but not tus partial uploads,
        which wait to be concatenated). Used to finish what a crash left unfinished."""

    async def expired(self, now: float) -> list[Upload]:
        """Every complete upload whose `expires_at` is at or before `now`."""

    async def idle_since(self, cutoff: float) -> list[Upload]:
        """Every receiving or failed upload not updated since before `cutoff`."""

    async def start_chunk(
        self, upload_id: str, index: int, holder: str, instance: str, lease: float
    ) -> ChunkStart:
        """Claim chunk `index` for `holder` (of process `instance`) for `lease` seconds.

        Atomically: refuse (BUSY) while another live holder has the claim, refuse (CLOSED) unless
        the upload is receiving; else take the claim, mark the chunk not received and set the
        upload's `updated_at` to now (it is not idle). When the chunk was received before, its
        bytes are about to change: increment the upload's `rewrites`, so a digest computed from
        the old bytes is known to be stale.
        """

    async def end_chunk(self, upload_id: str, index: int, holder: str) -> int:
        """Mark chunk `index` received, set the upload's `updated_at` to now and release
        `holder`'s claim on it; return how many distinct chunks are received. Idempotent."""

    async def abandon_chunk(self, upload_id: str, index: int, holder: str) -> None:
        """Release `holder`'s claim on chunk `index` without marking it received."""

    async def received(self, upload_id: str) -> list[int]:
        """The received chunk indexes, ascending."""

    async def move(
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
        expires_at: float | None = None,
        removed_at: float | None = None,
        freed_bytes: int | None = None,
    ) -> Upload | None:
        """Compare-and-set: move the upload from `old` to `new`, set the given fields (those not
        None) and `updated_at`; the upload as moved (in the same trip to the store).

        Returns None, changing nothing, when the upload is not in `old` (someone else moved it).
        """

    async def abandon(
        self, upload_id: str, old: State, cutoff: float, removed_at: float, freed_bytes: int
    ) -> bool:
        """Compare-and-set for the clean-up: move the upload from `old` to abandoned, setting
        `removed_at` and `freed_bytes`, only while it is still idle: not updated since before
        `cutoff`, and no live holder has a claim on one of its chunks.

        Atomic with `start_chunk`: once it returns True no chunk of the upload can start; a chunk
        that started first makes it return False. Returns False, changing nothing, otherwise.
        """

    async def note_error(self, upload_id: str, error: str | None) -> None:
        """Record (or clear, with None) why the upload is waiting, without changing its state."""

    async def set_offset(self, upload_id: str, old: int, new: int) -> bool:
        """Compare-and-set a receiving stream upload's stored byte count from `old` to `new`."""

    async def set_layout(self, upload_id: str, layout: Layout) -> bool:
        """Set the size of an upload whose size was not known; False if it already had one."""

    async def delete(self, upload_id: str) -> None:
        """Forget the upload, its chunks and the claims on its chunks (idempotent). Claims taken
        with `claim` are their holders' to release."""

    async def claim(self, name: str, holder: str, instance: str, lease: float) -> bool:
        """Take the claim `name` for `lease` seconds unless another live holder has it.

        True also when `holder` already has it (the lease is then renewed).
        """

    async def release(self, name: str, holder: str) -> None:
        """Give up `holder`'s claim `name`, if it still has it."""

    async def is_claimed(self, name: str) -> bool:
        """Whether a live holder has the claim `name`."""

    async def heartbeat(self, instance: str, host: str, pid: int) -> None:
        """Record that process `instance` is alive now; its claims stay live while it beats."""

    async def forget_instances(self, instances: list[str]) -> None:
        """Mark these instances dead (they stopped, or their host saw their process gone):
        their claims are free at once."""

    async def forget_silent(self, seconds: float) -> None:
        """Forget the instances that have not beaten for `seconds`, and their claims: a process
        on a host that vanished is never reaped by pid, so nothing else removes its row."""

    async def instances_on(self, host: str) -> dict[str, int]:
        """The instances that last beat on `host`, with their process ids."""

    async def close(self) -> None:
        """Release connections and threads."""

    # --- contents: finished files stored once, counted by the uploads that point to them -------

    async def hold_content(self, upload_id: str, content: Content) -> Held:
        """Make upload `upload_id` point to `content` (counted once per upload: idempotent).

        Atomically, in the content's row: while its file is being removed, change nothing and
        return REMOVING; else record it if new (ABSENT), count the upload in, and return PRESENT
        when its file is known to be in place, ABSENT otherwise. An upload that already points
        to `content` is not counted again. It never points to two contents at once.
        """

    async def content_placed(self, sha256: str, key: str) -> str:
        """The content's file is in place under `key` now: ABSENT becomes PRESENT and `key` is
        recorded. Returns the key recorded, `key` or that of a copy placed first (two uploads
        of the same bytes placing at once each place their own: the later one's is scratch)."""

    async def content(self, sha256: str) -> Content | None:
        """The content's row: its size and where its file was placed."""

    async def content_missing(self, sha256: str) -> None:
        """The content's file was found missing (PRESENT becomes ABSENT and its key is
        forgotten, so the next upload of the same bytes puts it back; otherwise nothing)."""

    async def unkeyed_contents(self) -> bool:
        """Whether a content placed before keys were recorded (migration 0007) is left: its
        file is under its content key, or where versions before content keys left it."""

    async def key_contents(self) -> None:
        """Record the content key as the key of every content placed before keys were recorded
        (once their files are moved there: `contents.move_legacy_files`)."""

    async def release_content(self, upload_id: str) -> Content | None:
        """Make the upload point to no content; None if it pointed to none.

        Atomically: when it was the last upload pointing to its content, mark the content
        removing and return it; its file must then be removed and `forget_content` called, by
        whoever holds the claim `content:<sha256>` (see `removals`). Otherwise return None.
        """

    async def removals(self) -> list[Content]:
        """Every content marked removing (a removal under way, or cut short)."""

    async def open_uploads(self, owner: str) -> int:
        """How many uploads of `owner` are receiving now."""

    async def content_refs(self, sha256: str) -> int:
        """How many uploads point to the content now (0 for a content it does not know)."""

    async def is_removing(self, sha256: str) -> bool:
        """Whether the content is marked removing."""

    async def forget_content(self, sha256: str) -> None:
        """Forget a content marked removing, once its file is removed (else nothing): the same
        bytes may then be stored again."""

    async def owned_content(self, owner: str, sha256: str, size: int, now: float) -> Upload | None:
        """A complete upload of `owner`, not expired at `now`, pointing to content with this
        digest and size whose file is in place; None when `owner` has none."""

    async def list_uploads(self, listing: Listing) -> Page:
        """Up to `listing.limit` uploads that match its filters, in its order, starting right
        after `listing.after` (keyset pagination: a page costs the same however deep it is, and
        uploads made or removed meanwhile never shift a row onto two pages or off both).

        `next` is the position of the page's last upload when more may follow, else None. The
        position stays valid when that upload is deleted. A page costs at most one pass over the
        matching uploads, however deep it is: under 200 ms with 100,000 uploads whatever the
        filters and order (bench/list_bench.py). Raise ValueError when `limit` is below 1.
        """

    async def chunks_received(self, upload_ids: list[str]) -> dict[str, int]:
        """How many distinct chunks each of these uploads has received (the count `end_chunk`
        returns), in one question however many ids; ids of uploads that do not exist are left
        out."""

    async def set_expiry(self, upload_id: str, expires_at: float | None, now: float) -> bool:
        """Compare-and-set for the admin: give a complete upload a new `expires_at` (None: kept
        for ever), only while it is complete and not past its expiry at `now`; a file due for
        removal is never brought back under a clean-up removing it. `updated_at` stays: the
        file did not change. False, changing nothing, otherwise."""

    async def forget_abandoned(self) -> int:
        """Delete the records of every abandoned upload (their bytes were freed when they were
        abandoned), with their chunks; how many. One that still points to a content is kept:
        its hold is the clean-up's to let go, and forgetting it would keep the content for
        ever."""

    async def summary(self, since: float) -> Summary:
        """Uploads per state, the bytes of complete uploads and of the contents in place, and
        uploads made per day (UTC) from `since` on: each a pass over the uploads at most, under
        200 ms with 100,000 of them (bench/admin_bench.py)."""

    # --- downloads: how many a link had, and the ones under way ----------------------------------

    async def reserve_download(
        self, upload_id: str, name: str, holder: str, instance: str, lease: float
    ) -> Reserve:
        """Reserve one of a complete upload's remaining downloads as the claim `name` (which
        starts with `download:`; tied to the upload, so it goes with it) for `lease` seconds.

        Atomically, with the upload's row locked (or in one write transaction): SPENT, changing
        nothing, when the upload is not complete or its `downloads` reached `max_downloads`;
        BUSY when `downloads` plus the live `download:` claims on it reach `max_downloads`; else
        take the claim and return TAKEN. Two reservations racing for the last download: exactly
        one is TAKEN, in any processes. An upload without `max_downloads` is always TAKEN.
        """

    async def count_download(
        self, upload_id: str, name: str | None, holder: str, now: float
    ) -> Upload | None:
        """A download was delivered whole: atomically add one to `downloads` and release
        `holder`'s claim `name` (None: nothing was reserved); once `downloads` reaches
        `max_downloads`, set `expires_at` to `now` unless it is already earlier (the clean-up
        then removes the file like an expired one). The upload as it is then; None when it no
        longer exists."""

    # --- accounts (issue 8): quotas and the per-address cap --------------------------------------

    async def usage(self, account: str) -> Usage:
        """What the account's uploads hold now: the sizes of those complete, assembling or
        receiving (the bytes stored so far for one whose size is not known yet), and how many
        are receiving."""

    async def open_from(self, address: str) -> int:
        """How many uploads made from this client address are receiving now."""

    # --- folders: the files of a folder an owner uploaded, for its zip ---------------------------

    async def in_folder(self, owner: str, folder: str, limit: int) -> list[Upload]:
        """The complete uploads of `owner` whose `relative_path` lies in the folder named
        `folder` (its first name: the path starts with `folder` and a slash; `%`, `_` and `\\`
        are plain characters), ordered by relative path, then oldest first (then by id), at most
        `limit` of them. Expiry is the caller's to judge."""


class StorageUnavailable(OSError):
    """The store cannot be used right now (unreachable, refusing the credentials, bucket gone,
    overloaded). Its message says why, for a person; the core answers 503 with it and keeps the
    upload as it was, so the same request succeeds once the store is back."""


@dataclass(frozen=True)
class Sealed:
    """An upload's bytes made whole and durable, not yet placed where downloads find them."""

    size: int
    sha256: str


class PartWriter(Protocol):
    """Receives the bytes of one part (a chunk, or a run of a stream) as they arrive."""

    async def write(self, data: bytes | memoryview) -> None:
        """Store `data` right after the bytes written so far. Raise OSError on failure. The
        caller never changes `data` afterwards, so a writer may keep it instead of a copy."""

    async def flush(self) -> None:
        """Make every byte written so far stored (readable, if not yet durable), or raise
        OSError."""

    async def close(self) -> None:
        """Release resources. Bytes written since the last `flush` may or may not be stored."""


class Storage(Protocol):
    """Where upload bytes live: a partial object per upload, written in numbered parts, sealed,
    then placed: under the key the core derives from its digest (`model.content_key`) where a
    rename is free, else kept where it was sealed. The core records where (`Content.placed_at`)
    and stores the same content once."""

    async def create(self, upload_id: str) -> None:
        """Prepare the partial object for `upload_id` (idempotent). Raise OSError on failure."""

    async def part_writer(
        self, upload_id: str, index: int, offset: int, chunking: Layout | None = None
    ) -> PartWriter:
        """A writer for part `index`, which starts at byte `offset` of the file.

        A later writer for the same part replaces its bytes: each byte is written once per send.
        `chunking` is the upload's layout when the parts are its numbered chunks (any order, any
        process, `index` from 0 to `chunk_count - 1`); None for a stream: one writer at a time,
        `index` 0, bytes in order from `offset`, which is where the stored bytes end.
        """

    async def read(self, upload_id: str, offset: int, length: int) -> bytes:
        """Up to `length` bytes of the partial object from `offset` (fewer only at its end): the
        bytes stored there now. Raise OSError when they cannot be read back before `seal`
        (an object store cannot read an unfinished multipart upload's parts); a running digest
        then gives up and `seal` computes it."""

    async def seal(self, upload_id: str, sha256: str | None) -> Sealed:
        """Make the partial object whole and durable, still the upload's own (downloads do not
        see it); its size and digest.

        `sha256` is the digest the caller computed from the same bytes, or None to have the
        storage compute it. Idempotent: called again (an attempt cut short), it returns the same
        size and digest. Raise OSError on failure, leaving the partial object usable.
        """

    async def place(self, upload_id: str, key: str) -> str:
        """Make the sealed object of `upload_id` a finished file; the key it is under now.

        A storage that renames for free moves it to `key` (its content key), atomically: a
        reader of `key` sees the whole file or nothing, and a file already there holds the
        same bytes (the key is their digest), so either copy may stay. One that can only copy
        (an object store: a copy costs a pass over the bytes) keeps it where it is, no longer
        scratch: `discard` leaves it. Idempotent: when an earlier call placed it, nothing is
        left to do. Raise OSError on failure, leaving the sealed object as it was.
        """

    async def size_of(self, key: str) -> int | None:
        """The size of the file placed under `key`, or None when there is none."""

    async def discard(self, upload_id: str) -> None:
        """Remove the partial or sealed object and any scratch data of `upload_id`, if any;
        never a placed file."""

    async def remove(self, key: str) -> None:
        """Remove the file placed under `key`, if any."""

    async def partials(self) -> set[str]:
        """The ids of uploads that have a partial or sealed object or scratch data here.

        With `discard`, lets recovery remove what no upload record names any more. Files that
        no current version creates (an older version's scratch files) are removed on the way.
        """

    async def legacy_files(self) -> list[str]:
        """The keys of files that versions before content keys placed under an upload's id (and,
        on an object store, sealed and placed objects, which look the same): the migration to
        content keys renames those its records name."""

    async def rename(self, key: str, new_key: str) -> None:
        """Move the file placed under `key` to `new_key`, atomically for readers of `new_key`.
        Idempotent: when `key` is gone and `new_key` is there, nothing is left to do. Raise
        FileNotFoundError when neither is there."""


class Concatenation(Protocol):
    """Optional capability: the storage can fill a partial object from others by itself."""

    async def concat(self, upload_id: str, sources: list[str]) -> str | None:
        """Fill the partial object of `upload_id` with the partial objects of `sources`, in order.

        Returns the SHA-256 of the result when the copy could compute it on the way, else None.
        The sources are left as they are.
        """


class WritebackHints(Protocol):
    """Optional capability: the storage can start making a hashed range durable early."""

    async def release(self, upload_id: str, offset: int, length: int) -> None:
        """The caller is done reading this range: it need not stay cached. Advisory."""


class RangeReads(Protocol):
    """Optional capability: finished files are streamed from the storage (no local path)."""

    def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes `start` to `end` (exclusive) of the finished file under `key`, in blocks.

        Raise OSError (StorageUnavailable when the store is down) before the first block when
        the file cannot be read; a failure later ends the iteration with OSError.
        """


class PresignedDownloads(Protocol):
    """Optional capability: the store itself can serve a finished file at a signed URL."""

    def presigned_url(self, key: str, disposition: str, media_type: str) -> str:
        """A time-limited URL that downloads `key` with these Content-Disposition and
        Content-Type headers."""


class LocalFiles(Protocol):
    """Optional capability: files are plain local files (lets downloads use sendfile, and the
    running digest read, hash and release in one trip to its thread)."""

    def path_of(self, key: str) -> Path:
        """The path of the finished file stored under `key`."""

    def partial_free_bytes(self) -> int:
        """Free bytes on the file system unfinished uploads are written to (which may not be
        the one finished files go to)."""

    def read_partial(self, upload_id: str, offset: int, length: int) -> bytes:
        """Blocking, for the caller's own worker thread: the unfinished upload's bytes at
        `offset` (fewer past its end), which need not stay cached afterwards."""
