"""Accounts' credentials as the web layer checks them: a name and password (HTTP Basic, or a
sign-in form), a token (`Authorization: Bearer`), or a session cookie that signing in set.

Every check reads the account's row (or the token's) from the database, in whatever process the
request reaches: a removed account or token, or a changed password, is refused at once, by
every process. What is remembered is only the slow part: argon2 costs up to a few hundred ms,
so `passwords.matches` remembers a while which password matched which stored hash; the next
request with the same password is checked against the row as it is now, and skips argon2 only
while the hash is unchanged. A client sending Basic credentials with every chunk pays argon2
once per process per `passwords.VERIFIED_SECONDS`.

Sessions: `a.<name, base64url>.<expiry>.<nonce>.<mac>`, the MAC keyed by a SHA-256 of the
realm's salt and the account's stored password hash. The key is derived from the hash, not
kept anywhere: every process can check a session with nothing shared but the database; a new
password (a new hash, with a new random salt) or the account's removal ends its sessions at
once; and a session of one realm opens no other. A random server key kept in the database
instead would add nothing: whoever can read the database can read that key as well as the
hashes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from functools import cache

from pyfiledrop.core import passwords
from pyfiledrop.core.accounts import Account, token_digest
from pyfiledrop.core.interfaces import AccountStore

EXISTS_SECONDS = 5.0  # how long a process trusts its answer to "are there accounts?"
_PREFIX = "a"


class Credentials:
    """Checks accounts' names and passwords, tokens and sessions against the store."""

    def __init__(self, store: AccountStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._exists: tuple[bool, bool, float] | None = None  # (any, any admin, when)

    async def exist(self, admin: bool = False) -> bool:
        """Whether there are accounts (with `admin`, admin accounts), as the store said at most
        `EXISTS_SECONDS` ago."""
        now = time.monotonic()
        if self._exists is None or self._exists[2] < now - EXISTS_SECONDS:
            found = await self.store.accounts() if await self.store.has_accounts() else []
            self._exists = (bool(found), any(a.admin for a in found), now)
        return self._exists[1] if admin else self._exists[0]

    async def by_password(self, name: str, password: str) -> Account | None:
        """The account `name` if `password` is its password, else None."""
        account = await self.store.account(name)
        if account is None:
            return None
        if not await asyncio.to_thread(passwords.matches, account.password_hash, password):
            return None
        return account

    async def by_token(self, token: str) -> Account | None:
        """The account a script's token belongs to, or None for a token not (or no longer)
        stored."""
        return await self.store.token_account(token_digest(token), self.clock())

    def new_session(self, account: Account, salt: bytes, seconds: int) -> str:
        name = base64.urlsafe_b64encode(account.name.encode()).decode().rstrip("=")
        body = f"{_PREFIX}.{name}.{int(self.clock()) + seconds}.{secrets.token_urlsafe(16)}"
        return f"{body}.{_mac(account, salt, body)}"

    async def by_session(self, value: str, salt: bytes) -> Account | None:
        """The account of a valid, unexpired session of the realm with `salt`; None for
        anything else (forged, expired, of another realm, of a removed account or an old
        password)."""
        parts = value.split(".")
        if len(parts) != 5 or parts[0] != _PREFIX or not parts[2].isdigit():
            return None
        if int(parts[2]) <= self.clock():
            return None
        try:
            name = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        account = await self.store.account(name)
        body = value.rpartition(".")[0]
        if account is None or not hmac.compare_digest(parts[4], _mac(account, salt, body)):
            return None
        return account


async def as_slow_as_a_password() -> None:
    """Spend what checking a password costs: a refusal for a name that does not exist takes as
    long as one for a wrong password, so timing does not tell which names exist."""
    await asyncio.to_thread(passwords.verify, _dummy(), "not the password")


@cache
def _dummy() -> str:
    return passwords.hash_password(secrets.token_urlsafe(16))


def is_account_session(value: str) -> bool:
    return value.startswith(_PREFIX + ".")


def _mac(account: Account, salt: bytes, body: str) -> str:
    key = hashlib.sha256(salt + b"\0" + account.password_hash.encode()).digest()
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
