"""The `uploads` table as both stores read and write it: its columns, a row as an `Upload`, and
the columns a state change sets. Only the SQL dialects differ between the stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyfiledrop.core.model import IDLE_STATES, Layout, State, Upload

COLUMNS = (
    "id, client_id, owner, filename, content_type, size, chunk_size, chunk_count, state, "
    "sha256, download_token, storage_key, error, created_at, updated_at, "
    "protocol, stream_offset, metadata, concat, rewrites, lifetime, expires_at, removed_at, "
    "freed_bytes, content, address, account, relative_path, download_password, max_downloads, "
    "downloads, delete_key"
)
IDLE = ", ".join(f"'{state.value}'" for state in IDLE_STATES)  # for `state IN (...)`
# `model.content_key(sha256)` in SQL (the same in both dialects)
CONTENT_KEY = "substr(sha256, 1, 2) || '/' || substr(sha256, 3, 2) || '/' || sha256"
# contents placed before migration 0007 recorded where (their files: under their content key)
UNKEYED = "state = 'present' AND placed_at IS NULL"


def to_upload(row: Sequence[Any]) -> Upload:
    (uid, client_id, owner, filename, ctype, size, chunk_size, count, state, sha256, token, key,
     error, created, updated, protocol, offset, metadata, concat, rewrites, lifetime, expires_at,
     removed_at, freed_bytes, content, address, account, relative_path, download_password,
     max_downloads, downloads, delete_key) = row  # fmt: skip
    layout = Layout(size, chunk_size, count) if size is not None else None
    return Upload(
        id=uid,
        client_id=client_id,
        owner=owner,
        filename=filename,
        content_type=ctype,
        layout=layout,
        state=State(state),
        created_at=created,
        updated_at=updated,
        sha256=sha256,
        download_token=token,
        storage_key=key,
        error=error,
        protocol=protocol,
        offset=offset,
        metadata=metadata,
        concat=concat,
        rewrites=rewrites,
        lifetime=lifetime,
        expires_at=expires_at,
        removed_at=removed_at,
        freed_bytes=freed_bytes,
        content=content,
        address=address,
        account=account,
        relative_path=relative_path,
        download_password=download_password,
        max_downloads=max_downloads,
        downloads=downloads,
        delete_key=delete_key,
    )


def to_values(upload: Upload) -> tuple[Any, ...]:
    """An upload as the values of `COLUMNS`, in their order."""
    layout = upload.layout
    return (
        upload.id, upload.client_id, upload.owner, upload.filename, upload.content_type,
        layout.size if layout else None, layout.chunk_size if layout else None,
        layout.chunk_count if layout else None, upload.state.value, upload.sha256,
        upload.download_token, upload.storage_key, upload.error, upload.created_at,
        upload.updated_at, upload.protocol, upload.offset, upload.metadata, upload.concat,
        upload.rewrites, upload.lifetime, upload.expires_at, upload.removed_at,
        upload.freed_bytes, upload.content, upload.address, upload.account, upload.relative_path,
        upload.download_password, upload.max_downloads, upload.downloads, upload.delete_key,
    )  # fmt: skip


def moved_columns(
    new: State, now: float, layout: Layout | None, fields: dict[str, Any]
) -> dict[str, Any]:
    """Column -> value for a move to `new` at `now`: the layout if given, and every field of
    `MetaStore.move` that is not None."""
    sets: dict[str, Any] = {"state": new.value, "updated_at": now}
    if layout is not None:
        sets |= {"size": layout.size, "chunk_size": layout.chunk_size}
        sets["chunk_count"] = layout.chunk_count
    return sets | {column: value for column, value in fields.items() if value is not None}
