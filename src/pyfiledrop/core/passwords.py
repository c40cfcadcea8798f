"""Password hashes: argon2id (`argon2-cffi`, its default RFC 9106 parameters), for accounts and
download passwords.

Verifying costs 64 MiB of memory and tens to hundreds of ms of CPU on purpose, so a stolen
database makes guessing slow; callers must not pay it per chunk (web/accounts.py remembers what
it verified; bench/auth_bench.py measures it).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 8  # characters of a new password at least
MAX_LENGTH = 1024  # and at most: hashing a megabyte is no one's password


def hash_password(password: str) -> str:
    """The encoded argon2id hash of an account's new password; ValueError saying what is wrong
    with it."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValueError(f"a password is {MIN_LENGTH} to {MAX_LENGTH} characters long")
    return hashed(password)


def hashed(password: str) -> str:
    """The encoded argon2id hash of `password`, whatever its length (the caller's rules)."""
    return _HASHER.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """Whether `password` matches the hash (False for a hash that is not argon2's)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
