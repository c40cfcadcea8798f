"""Password hashes: argon2id (`argon2-cffi`, its default RFC 9106 parameters), for accounts and
download passwords.

Verifying costs 64 MiB of memory and tens to hundreds of ms of CPU on purpose, so a stolen
database makes guessing slow; callers must not pay it per chunk. `matches` remembers, for
`VERIFIED_SECONDS`, which password it found to match which stored hash (as an HMAC under a key
of this process's own, never the password): the next check of the same pair skips argon2, and a
changed hash (a new password) is verified again at once. bench/auth_bench.py measures it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 8  # characters of a new password at least
MAX_LENGTH = 1024  # and at most: hashing a megabyte is no one's password
VERIFIED_SECONDS = 300.0  # how long a process skips argon2 for a pair it verified
_REMEMBERED = 10_000  # verified pairs kept at most; the oldest are forgotten first
_KEY = secrets.token_bytes(32)  # this process's, for what it remembers
_verified: OrderedDict[bytes, float] = OrderedDict()  # pair -> until (monotonic)
_lock = threading.Lock()  # `matches` runs in worker threads


def hash_password(password: str) -> str:
    """The encoded argon2id hash of an account's new password; ValueError saying what is wrong
    with it."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValueError(f"a password is {MIN_LENGTH} to {MAX_LENGTH} characters long")
    return hashed(password)


def hashed(password: str) -> str:
    """The encoded argon2id hash of `password`, whatever its length (the caller's rules)."""
    return _HASHER.hash(password)


def matches(password_hash: str, password: str) -> bool:
    """`verify`, remembering a match for `VERIFIED_SECONDS` (blocking: run it off the loop)."""
    pair = hmac.digest(_KEY, password_hash.encode() + b"\0" + password.encode(), "sha256")
    now = time.monotonic()
    with _lock:
        if _verified.get(pair, 0.0) > now:
            _verified.move_to_end(pair)
            return True
    if not verify(password_hash, password):
        return False
    with _lock:
        _verified[pair] = now + VERIFIED_SECONDS
        _verified.move_to_end(pair)
        while len(_verified) > _REMEMBERED:
            _verified.popitem(last=False)
    return True


def verify(password_hash: str, password: str) -> bool:
    """Whether `password` matches the hash (False for a hash that is not argon2's)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
