"""Which finished files one owner may take together (a zip): the ones named by their links, or
every file of a folder they uploaded. Only the owner's own: a link of someone else's file names
nothing here, and is refused exactly as a link that names no file at all, so the answer tells
nobody whether another person's file exists."""

from __future__ import annotations

import secrets

from pyfiledrop import errors
from pyfiledrop.core.clock import Clock
from pyfiledrop.core.interfaces import MetaStore
from pyfiledrop.core.model import TOKEN, State, Upload
from pyfiledrop.core.paths import clean_part

MAX_FILES = 10_000  # files in one zip at most


class Picking:
    def __init__(self, meta: MetaStore, clock: Clock) -> None:
        self._meta = meta
        self._clock = clock

    async def by_links(self, owner: str, tokens: list[str]) -> list[Upload]:
        """The owner's finished, unexpired uploads these download tokens name, in their order,
        each once; 404 when one is not (anyone else's, expired, unknown)."""
        if not tokens:
            raise errors.BAD_REQUEST("Name the files to zip: one `t` (a download token) each.")
        if len(tokens) > MAX_FILES:
            raise errors.BAD_REQUEST(f"A zip holds at most {MAX_FILES} files.")
        picked: dict[str, Upload] = {}
        for token in dict.fromkeys(tokens):
            found = await self._meta.get_by_token(token) if TOKEN.match(token) else None
            if found is None or not self._finished_of(found, owner):
                raise errors.NOT_FOUND(
                    f"No finished file of yours has the link token {token[:64]!r}."
                )
            picked[found.id] = found
        return list(picked.values())

    async def in_folder(self, owner: str, folder: str) -> list[Upload]:
        """Every finished, unexpired upload of the owner in the folder `folder` (the first
        name of their relative paths); 404 when there is none."""
        name = clean_part(folder)
        if not name or name != folder or "/" in name or "\\" in name:
            raise errors.BAD_REQUEST("`folder` must be the name of a folder you uploaded.")
        found = await self._meta.in_folder(owner, name, MAX_FILES + 1)
        if len(found) > MAX_FILES:
            raise errors.BAD_REQUEST(f"A zip holds at most {MAX_FILES} files.")
        kept = [upload for upload in found if self._finished_of(upload, owner)]
        if not kept:
            raise errors.NOT_FOUND(f"You have no finished files in a folder named {name!r}.")
        return kept

    def _finished_of(self, upload: Upload, owner: str) -> bool:
        return (
            upload.state == State.COMPLETE
            and not upload.expired(self._clock.now())
            and secrets.compare_digest(upload.owner, owner)
        )
