"""Whether a new upload may be made, decided before anything is stored (a refused upload costs
the server no disk): caps on unfinished uploads, accounts' quotas, and free space.

In order, each refusal saying which limit and what is left:
- its owner (a browser's cookie, a client's secret, an account) already has --max-open-uploads
  unfinished uploads: 429 `too_many_open_uploads`;
- so has its client address (a new cookie per upload does not get round the cap): 429;
- its account has its quota of unfinished uploads: 429 `quota_uploads`;
- its account's uploads (complete and unfinished, at their declared sizes) and this one's
  declared size would pass its quota of bytes: 507 `quota_bytes`;
- the disk where unfinished uploads are written has less than --min-free-space free, or less
  than the file declares: 507 `storage_full`. (Only on local disk: an S3 store says nothing of
  its free space.)

Each count is read when the upload is made: uploads made at the same moment by one owner, in
several processes, may pass a cap together by as many as race.
"""

from __future__ import annotations

import asyncio

from pyfiledrop import errors
from pyfiledrop.core.interfaces import LocalFiles, MetaStore
from pyfiledrop.core.model import Upload
from pyfiledrop.core.receiving import Limits


class Admission:
    """The checks a new upload passes, on the store's counts and the disk's free space."""

    def __init__(self, meta: MetaStore, limits: Limits, local_files: LocalFiles | None) -> None:
        self._meta = meta
        self._limits = limits
        self._local_files = local_files

    async def admit(self, fresh: Upload) -> None:
        """Raise the refusal for `fresh`, or return when it may be made."""
        await self._caps(fresh)
        if fresh.account is not None:
            await self._quotas(fresh, fresh.account)
        self._free_space(fresh)

    async def admit_known(self, fresh: Upload) -> None:
        """The same for an upload made complete at once from content already stored: no bytes
        will come, so only its account's quota of bytes applies."""
        if fresh.account is not None:
            await self._quotas(fresh, fresh.account, bytes_only=True)

    async def _caps(self, fresh: Upload) -> None:
        cap = self._limits.max_open_uploads
        if not cap:
            return
        address = fresh.address
        owners, addresses = await asyncio.gather(  # two reads at once: one wait, not two
            self._meta.open_uploads(fresh.owner),
            self._meta.open_from(address) if address is not None else _none(),
        )
        if owners >= cap:
            raise errors.TOO_MANY_OPEN(
                f"This client already has {cap} unfinished uploads, the most this server allows "
                "at once; finish or cancel some first."
            )
        if addresses >= cap:
            raise errors.TOO_MANY_OPEN(
                f"Your address ({address}) already has {cap} unfinished uploads, the most "
                "this server allows at once from one address; finish or cancel some first."
            )

    async def _quotas(self, fresh: Upload, name: str, bytes_only: bool = False) -> None:
        account = await self._meta.account(name)
        if account is None or (account.quota_uploads is None and account.quota_bytes is None):
            return
        used = await self._meta.usage(name)
        uploads = account.quota_uploads
        if uploads is not None and used.uploads >= uploads and not bytes_only:
            raise errors.QUOTA_UPLOADS(
                f"The account {name} may have {uploads} unfinished uploads at once and has "
                f"{used.uploads}: 0 left. Finish or cancel some first."
            )
        quota = account.quota_bytes
        # An upload of a size not known yet needs at least a byte left.
        if quota is not None and used.bytes + (1 if fresh.size is None else fresh.size) > quota:
            left = max(0, quota - used.bytes)
            asked = f"this file is {fresh.size} bytes" if fresh.size else "it is full"
            raise errors.QUOTA_BYTES(
                f"The account {name}'s quota of {quota} bytes stored would be passed: "
                f"{left} bytes are left, and {asked}. Remove some files first."
            )

    def _free_space(self, fresh: Upload) -> None:
        if self._local_files is None:
            return
        free = self._local_files.partial_free_bytes()
        floor = self._limits.min_free_space
        if floor and free < floor:
            raise errors.STORAGE_FULL(
                f"The server's storage is nearly full: {free} bytes are free, and it takes new "
                f"uploads only while at least {floor} are. Try again later."
            )
        if fresh.size is not None and fresh.size > free:
            raise errors.STORAGE_FULL(
                f"The server's storage is full for this file: it is {fresh.size} bytes, and "
                f"only {free} bytes are free."
            )


async def _none() -> int:
    return 0
