"""Accounts: people (and their scripts) who may upload, each with its own quotas; an admin
account may also use the admin page.

An account's password is kept only as an argon2id hash (made and checked outside the core, in
`core/passwords.py`); a token for scripts only as its SHA-256, so the database never holds a
secret that opens anything by itself. Uploads made under an account record its name, and are
owned by it (`account_owner`): the account sees them from any browser or client.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PREFIX = "pfd_"  # lets a secret scanner (and a person) tell what a token is


@dataclass(frozen=True)
class Account:
    """One account as the store keeps it; a quota of None is no limit."""

    name: str
    password_hash: str  # argon2id, encoded ($argon2id$v=19$m=...$salt$hash)
    admin: bool = False
    quota_bytes: int | None = None  # bytes of its complete and unfinished uploads, at most
    quota_uploads: int | None = None  # unfinished uploads at once, at most
    created_at: float = 0.0


@dataclass(frozen=True)
class Token:
    """A token for scripts (`Authorization: Bearer`): only its digest is kept."""

    digest: str  # SHA-256 of the token, hex
    account: str
    label: str
    created_at: float
    last_used: float | None = None


@dataclass(frozen=True)
class Usage:
    """What an account holds now, as its quotas count it."""

    bytes: int  # declared sizes of its complete and unfinished uploads (bytes so far if unknown)
    uploads: int  # its uploads receiving bytes


@dataclass(frozen=True)
class Uploader:
    """Who makes a new upload: the owner it is bound to, the account it is made under (None:
    anonymous or the shared password) and the client address it came from."""

    owner: str
    account: str | None = None
    address: str | None = None


def owner_id(who: Uploader | str) -> str:
    """The owner id of `who` (an `Uploader`, or an owner id already)."""
    return who.owner if isinstance(who, Uploader) else who


def check_name(name: str) -> str:
    """`name` if it can name an account; ValueError saying what one looks like otherwise."""
    if not NAME.match(name):
        raise ValueError(
            "an account name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a "
            "letter or digit"
        )
    return name


def account_owner(name: str) -> str:
    """The owner id of uploads made under account `name`: the same in every browser and client,
    and never the digest of an owner cookie (those hash 43 or more characters with no ':')."""
    return hashlib.sha256(f"account:{name}".encode()).hexdigest()


def new_token() -> str:
    """A fresh random token for a script (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the store keeps of a token. A plain SHA-256 is enough: the token is random, so
    there is nothing to guess from its digest."""
    return hashlib.sha256(token.encode()).hexdigest()
