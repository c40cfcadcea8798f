"""Download passwords: a download of an upload whose uploader set one needs it, as HTTP Basic
credentials (scripts; any user name) or as the cookie its share page's form sets (browsers).

The cookie, `pyfiledrop_download`, is set twice, for the upload's `/download/<token>` and its
`/s/<token>` (HttpOnly, SameSite=Lax, Secure over HTTPS), as `expiry.mac`: an HMAC of the token
and the expiry, keyed by a digest of the stored password hash. Any process checks it with
nothing but the record, and a new password (a new hash) ends every cookie made for the old one.

Wrong passwords count against the client's address (`access.Failures`, per process): 429 after
too many. Checking a password costs an argon2id verification, off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from starlette.requests import Request

from pyfiledrop import errors
from pyfiledrop.core.model import Upload
from pyfiledrop.core.passwords import matches
from pyfiledrop.web.access import Failures, basic_credentials, client_address

COOKIE = "pyfiledrop_download"
COOKIE_SECONDS = 24 * 3600
REALM = "pyfiledrop download"
NEEDED = (
    "This file needs its download password: enter it on its share page, or send it as HTTP "
    "Basic credentials (any user name)."
)


class DownloadPasswords:
    """Checks a download's password, and makes and checks the cookies that stand for it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.failures = Failures()

    async def check(self, request: Request, upload: Upload) -> None:
        """Return when the request may download `upload`; else 401 (no or a wrong password) or
        429 (too many wrong ones from its address)."""
        if upload.download_password is None:
            return
        if self.cookie_ok(upload, request.cookies.get(COOKIE, "")):
            return
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            raise errors.UNAUTHORIZED(NEEDED)
        _, given = basic_credentials(encoded)  # any name: only the password counts
        if not await self.try_password(request, upload, given):
            raise errors.WRONG_PASSWORD("Wrong download password.")

    async def try_password(self, request: Request, upload: Upload, given: str) -> bool:
        """Whether `given` is the upload's password; 429 instead while its address has sent
        too many wrong ones. A wrong one counts against the address."""
        assert upload.download_password is not None
        address = client_address(request.scope)
        if self.failures.retry_after(address):
            raise errors.TOO_MANY_TRIES("Too many wrong passwords; try again later.")
        if await asyncio.to_thread(matches, upload.download_password, given):
            return True
        self.failures.add(address)
        return False

    def retry_after(self, request: Request) -> int:
        return max(1, self.failures.retry_after(client_address(request.scope)))

    def cookies(self, request: Request, upload: Upload) -> list[str]:
        """Set-Cookie values that open this upload's download and share page for a day."""
        assert upload.download_token is not None
        expires = int(self.clock()) + COOKIE_SECONDS
        value = f"{expires}.{_mac(upload, expires)}"
        root = request.scope.get("root_path", "")
        secure = "; Secure" if request.url.scheme == "https" else ""
        return [
            f"{COOKIE}={value}; Path={root}{path}/{upload.download_token}; "
            f"Max-Age={COOKIE_SECONDS}; HttpOnly; SameSite=Lax{secure}"
            for path in ("/download", "/s")
        ]

    def cookie_ok(self, upload: Upload, value: str) -> bool:
        expires, _, mac = value.partition(".")
        if not expires.isdigit() or int(expires) <= self.clock():
            return False
        return hmac.compare_digest(mac, _mac(upload, int(expires)))


def _mac(upload: Upload, expires: int) -> str:
    assert upload.download_password is not None and upload.download_token is not None
    key = hashlib.sha256(b"pyfiledrop download cookie\0" + upload.download_password.encode())
    body = f"{upload.download_token}.{expires}".encode()
    digest = hmac.new(key.digest(), body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
