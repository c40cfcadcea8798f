"""What the admin page, the health check, the metrics and the operator's commands may read and
change of the store, besides uploads' lives (which only `UploadService` changes): the few
questions they ask, so none of them reaches into the service's metadata store or storage."""

from __future__ import annotations

import secrets

from pyfiledrop.core.interfaces import Listing, MetaStore, Page, Storage, Summary
from pyfiledrop.core.model import State, Upload


class Oversight:
    """Read-mostly access to every upload, for those who may see them all."""

    def __init__(self, meta: MetaStore, storage: Storage) -> None:
        self._meta = meta
        self._storage = storage

    async def find(self, upload_id: str) -> Upload | None:
        """The upload with this server-issued id, in any state; None when there is none."""
        return await self._meta.get(upload_id)

    async def page(self, listing: Listing) -> Page:
        return await self._meta.list_uploads(listing)

    async def chunks_received(self, upload_ids: list[str]) -> dict[str, int]:
        return await self._meta.chunks_received(upload_ids)

    async def summary(self, since: float) -> Summary:
        return await self._meta.summary(since)

    async def set_expiry(self, upload_id: str, expires_at: float | None, now: float) -> bool:
        """See `MetaStore.set_expiry`: only a complete upload not yet past its expiry."""
        return await self._meta.set_expiry(upload_id, expires_at, now)

    async def forget_abandoned(self) -> int:
        return await self._meta.forget_abandoned()

    async def receiving(self) -> int:
        """How many uploads are receiving bytes now."""
        return len(await self._meta.in_state(State.RECEIVING))

    async def check_database(self) -> None:
        """Ask the metadata store something; its UploadError when it cannot answer."""
        await self._meta.get("0" * 32)

    async def check_storage(self) -> None:
        """Make and remove a probe in the storage; OSError when it cannot be written."""
        probe = f"healthz{secrets.token_hex(12)}"
        await self._storage.create(probe)
        await self._storage.discard(probe)

    async def close(self) -> None:
        """Release the metadata store's connections (the operator's commands, when done)."""
        await self._meta.close()
