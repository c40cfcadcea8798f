"""Who may download a finished file, and how often: the terms its uploader set when the upload
was made (a download password, a most number of downloads), and the counting of downloads.

Terms arrive with the request that makes the upload (as headers, never in a URL or a log). The
password is kept only as an argon2id hash; checking one costs about 50 ms and 64 MiB of one
thread, so a match is remembered a while in this process (`passwords.matches`).

Counting: a download counts once the whole file was delivered. Before a response that could
count goes out, one of the remaining downloads is reserved in the metadata store: a claim
`download:<upload id>:<holder>`, which the store grants only while the downloads counted plus the
live reservations stay below the limit (atomically, so two racing downloads never both take the
last one; a crashed process's reservations are free with its claims). A delivered download
counts and lets its reservation go in one step; one cut off lets it go. The download that
reaches the limit sets the file's expiry to now, and the clean-up removes it like an expired one.

Failure modes: a process alive but stuck in one download for longer than `DOWNLOAD_LEASE` loses
its reservation, and one more download than allowed may then be delivered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import unquote

from pyfiledrop import errors
from pyfiledrop.core import passwords
from pyfiledrop.core.clock import Clock
from pyfiledrop.core.coordination import Instance
from pyfiledrop.core.interfaces import MetaStore, Reserve
from pyfiledrop.core.model import Upload

MOST_DOWNLOADS = 1_000_000
PASSWORD_LIMIT = 1024  # characters
DOWNLOAD_LEASE = 6 * 3600.0  # seconds a reservation lasts while its process lives
RETRY_BUSY = 30  # seconds a download refused while the last ones are under way is told to wait
_WHOLE = re.compile(r"^[0-9]{1,7}$")


@dataclass(frozen=True)
class Terms:
    """The uploader's terms as sent: the password in clear until the upload is made."""

    password: str | None = None
    max_downloads: int | None = None

    @staticmethod
    def parse(password: str | None, max_downloads: str | None) -> Terms:
        """Terms from the request's headers; 400 saying what is wrong."""
        most = None
        if max_downloads is not None:
            value = max_downloads.strip()
            if not _WHOLE.match(value) or not 1 <= int(value) <= MOST_DOWNLOADS:
                raise errors.BAD_REQUEST(
                    f"Pyfiledrop-Max-Downloads must be a whole number from 1 to {MOST_DOWNLOADS:,}."
                )
            most = int(value)
        if password is not None and not 1 <= len(password) <= PASSWORD_LIMIT:
            raise errors.BAD_REQUEST(
                f"Pyfiledrop-Download-Password must be 1 to {PASSWORD_LIMIT} characters."
            )
        return Terms(password, most)

    def applied(self, upload: Upload) -> Upload:
        """`upload` with these terms, its password hashed (blocking: run it off the loop)."""
        hashed = passwords.hashed(self.password) if self.password is not None else None
        return replace(upload, download_password=hashed, max_downloads=self.max_downloads)


NO_TERMS = Terms()
PASSWORD_HEADER = "pyfiledrop-download-password"  # the password, UTF-8, percent-encoded
MAX_DOWNLOADS_HEADER = "pyfiledrop-max-downloads"


def terms_of(headers: Mapping[str, str]) -> Terms:
    """The terms a request that makes an upload carries in its headers; 400 when malformed.
    The password is percent-decoded as UTF-8 (what `encodeURIComponent` makes: a header
    carries only Latin-1), so a `%` in it is sent as `%25`."""
    password = headers.get(PASSWORD_HEADER)
    if password is not None:
        try:
            password = unquote(password, errors="strict")
        except UnicodeDecodeError:
            raise errors.BAD_REQUEST(
                "Pyfiledrop-Download-Password must be the password percent-encoded as UTF-8."
            ) from None
    return Terms.parse(password, headers.get(MAX_DOWNLOADS_HEADER))


def downloads_left(upload: Upload) -> int | None:
    """How many more downloads the link allows (None: any number)."""
    if upload.max_downloads is None:
        return None
    return max(0, upload.max_downloads - upload.downloads)


def check_left(upload: Upload) -> None:
    """410 once every allowed download was delivered."""
    if downloads_left(upload) == 0:
        raise spent()


def spent() -> errors.UploadError:
    return errors.DOWNLOAD_LIMIT(
        "This link reached its download limit: the file is no longer available."
    )


@dataclass(frozen=True)
class Reservation:
    """One download that may count: its claim (None for a link without a limit)."""

    upload: Upload
    name: str | None
    holder: str


class DownloadCounter:
    """Reserves, counts and lets go of downloads in the metadata store."""

    def __init__(self, meta: MetaStore, instance: Instance, clock: Clock) -> None:
        self.meta = meta
        self.instance = instance
        self.clock = clock

    async def reserve(self, upload: Upload) -> Reservation:
        """One of the remaining downloads for this request; 410 when none is left, 429 while
        the ones left are all under way (one may yet be cut off and free its place)."""
        holder = self.instance.holder()
        if upload.max_downloads is None:
            return Reservation(upload, None, holder)
        name = f"download:{upload.id}:{holder}"
        found = await self.meta.reserve_download(
            upload.id, name, holder, self.instance.id, DOWNLOAD_LEASE
        )
        if found == Reserve.BUSY:
            await self.instance.reap()  # the holders may be crashed processes on this host
            found = await self.meta.reserve_download(
                upload.id, name, holder, self.instance.id, DOWNLOAD_LEASE
            )
        if found == Reserve.SPENT:
            raise spent()
        if found == Reserve.BUSY:
            raise errors.LAST_DOWNLOAD_UNDER_WAY(
                "The last downloads this link allows are under way; if one of them is cut off, "
                f"its place is free again: try again in {RETRY_BUSY} seconds."
            )
        return Reservation(upload, name, holder)

    async def delivered(self, reservation: Reservation) -> Upload | None:
        """The whole file went out: count it (and expire the file if it was the last)."""
        return await self.meta.count_download(
            reservation.upload.id, reservation.name, reservation.holder, self.clock.now()
        )

    async def let_go(self, reservation: Reservation) -> None:
        """The download did not count: its place is free for another."""
        if reservation.name is not None:
            await self.meta.release(reservation.name, reservation.holder)
