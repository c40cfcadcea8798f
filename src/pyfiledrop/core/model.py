"""What an upload is: its record, its states and the moves allowed between them."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# What a download token may look like (the server makes 32 characters); anything else is looked
# up nowhere.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class State(enum.StrEnum):
    """The life of an upload.

    receiving --> assembling --> complete --> expired
      |    |          |            |
      |    +----------+------------+--> failed
      |                                   |
      +--> abandoned <--------------------+
    Only the upload service (its finisher and its clean-up) moves an upload, and every move goes
    through the metadata store's compare-and-set so two workers never both finish, or remove, the
    same upload. `expired` (a finished file past its life) and `abandoned` (an unfinished upload
    left idle) are the clean-up's: the bytes are removed, the record stays. complete -> failed:
    a download found the file's content gone from the storage (removed by hand). Any state but
    deleted -> deleted: its uploader cancelled it or the operator removed it; the bytes are
    removed and the record stays a while (--incomplete-ttl), so a chunk still on its way answers
    410 rather than starting the upload again.
    """

    RECEIVING = "receiving"
    ASSEMBLING = "assembling"
    COMPLETE = "complete"
    FAILED = "failed"
    EXPIRED = "expired"
    ABANDONED = "abandoned"
    DELETED = "deleted"


ALLOWED_MOVES: dict[State, frozenset[State]] = {
    State.RECEIVING: frozenset({State.ASSEMBLING, State.FAILED, State.ABANDONED, State.DELETED}),
    State.ASSEMBLING: frozenset({State.COMPLETE, State.FAILED, State.DELETED}),
    State.COMPLETE: frozenset({State.EXPIRED, State.FAILED, State.DELETED}),
    State.FAILED: frozenset({State.ABANDONED, State.DELETED}),
    State.EXPIRED: frozenset({State.DELETED}),
    State.ABANDONED: frozenset({State.DELETED}),
    State.DELETED: frozenset(),
}
IDLE_STATES = (State.RECEIVING, State.FAILED)  # what the clean-up abandons once left idle


def check_move(old: State, new: State) -> None:
    """Every state change is checked against the table before it is asked of the store."""
    assert new in ALLOWED_MOVES[old], f"{old} -> {new} is not a legal move"


@dataclass(frozen=True)
class Layout:
    """How a file is cut into chunks: every chunk is `chunk_size` bytes except the last."""

    size: int
    chunk_size: int
    chunk_count: int

    def offset(self, index: int) -> int:
        return index * self.chunk_size

    def length(self, index: int) -> int:
        """The exact byte count chunk `index` must carry."""
        return min(self.chunk_size, self.size - self.offset(index))

    @staticmethod
    def expected_count(size: int, chunk_size: int) -> int:
        """Chunks needed for `size` bytes; an empty file is sent as one empty chunk."""
        return max(1, -(-size // chunk_size))


@dataclass(frozen=True)
class Upload:
    """One upload as the metadata store records it.

    `id` is issued by the server and is the only id used for storage paths; `client_id` is the id a
    client chose (Dropzone's dzuuid), kept only to find the upload again. `owner` is a digest of the
    creator's cookie. `layout` is None while the size is not known (a plain upload in progress, or
    a tus upload with a deferred length).

    Stream uploads (tus) arrive in order: `offset` is how many bytes from the start are stored,
    `metadata` the client's Upload-Metadata as sent, `concat` "partial" or "final;<urls>".
    `rewrites` counts chunks sent again after they were received: a digest computed while it had
    another value may cover bytes that changed since.

    `lifetime` is how long the file may live once finished (None: for ever), fixed when the upload
    is made; `expires_at` is set from it on completion. `removed_at` and `freed_bytes` say when the
    clean-up removed its bytes and how many.

    `content` is the SHA-256 of the stored content the upload holds a reference on (see
    `Content`): set while it is being finished, kept while it is complete, cleared when it lets go.

    `address` is the client address that made it, `account` the account it was made under (None:
    nobody signed in with one), `relative_path` where the file was in the folder its uploader sent
    (cleaned; data only, never a path of ours). `download_password` (a password hash),
    `max_downloads` are the uploader's terms for its link, `delete_key` the secret of the
    uploader's delete link; `downloads` counts the downloads delivered whole.
    """

    id: str
    client_id: str | None
    owner: str
    filename: str
    content_type: str
    layout: Layout | None
    state: State
    created_at: float
    updated_at: float
    sha256: str | None = None
    download_token: str | None = None
    storage_key: str | None = None
    error: str | None = None
    protocol: str = "dropzone"
    offset: int = 0
    metadata: str | None = None
    concat: str | None = None
    rewrites: int = 0
    lifetime: float | None = None
    expires_at: float | None = None
    removed_at: float | None = None
    freed_bytes: int | None = None
    content: str | None = None
    address: str | None = None
    account: str | None = None
    relative_path: str | None = None
    download_password: str | None = None
    max_downloads: int | None = None
    downloads: int = 0
    delete_key: str | None = None

    @property
    def size(self) -> int | None:
        return self.layout.size if self.layout else None

    def expired(self, now: float) -> bool:
        """Whether the file is past its life at `now`, removed by the clean-up or not yet."""
        if self.state == State.EXPIRED:
            return True
        return (
            self.state == State.COMPLETE and self.expires_at is not None and self.expires_at <= now
        )


def content_key(sha256: str) -> str:
    """Where the finished file with this SHA-256 is stored: `ab/cd/abcd…` (two levels of 256
    folders keep each folder small)."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


@dataclass(frozen=True)
class Content:
    """A finished file's bytes, stored once under `key` however many uploads point to them."""

    sha256: str
    size: int
    placed_at: str | None = None  # the key its file was placed under, once it was placed

    @property
    def key(self) -> str:
        """Where its file is: where it was placed, else its content key (where a storage that
        renames for free places it, and where versions before 0007 placed every file)."""
        return self.placed_at or content_key(self.sha256)
