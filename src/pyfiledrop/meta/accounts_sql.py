"""The `accounts` and `tokens` tables (migration 0006) as both stores read and write them, in
SQL both dialects take; `?` marks a value (PostgreSQL's store turns each into `%s`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyfiledrop.core.accounts import Account, Token, Usage

ACCOUNT_COLUMNS = "name, password_hash, admin, quota_bytes, quota_uploads, created_at"
TOKEN_COLUMNS = "digest, account, label, created_at, last_used"
STAMP_EVERY = 60.0  # seconds: a token's `last_used` is written at most this often (reads are free)

INSERT_ACCOUNT = (
    f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (name) DO NOTHING"
)
ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?"
ACCOUNTS = f"SELECT {ACCOUNT_COLUMNS} FROM accounts"
ANY_ACCOUNT = "SELECT 1 FROM accounts LIMIT 1"
SET_PASSWORD = "UPDATE accounts SET password_hash = ? WHERE name = ?"
DELETE_TOKENS = "DELETE FROM tokens WHERE account = ?"
DELETE_ACCOUNT = "DELETE FROM accounts WHERE name = ?"
INSERT_TOKEN = (
    f"INSERT INTO tokens ({TOKEN_COLUMNS}) SELECT ?, ?, ?, ?, NULL "
    "WHERE EXISTS (SELECT 1 FROM accounts WHERE name = ?) "
    "AND NOT EXISTS (SELECT 1 FROM tokens WHERE account = ? AND label = ?)"
)
DELETE_TOKEN = "DELETE FROM tokens WHERE account = ? AND label = ?"
TOKENS = f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE account = ?"
TOKEN_ACCOUNT = (
    "SELECT accounts.name, accounts.password_hash, accounts.admin, accounts.quota_bytes, "
    "accounts.quota_uploads, accounts.created_at, tokens.last_used "
    "FROM tokens JOIN accounts ON accounts.name = tokens.account WHERE tokens.digest = ?"
)
STAMP_TOKEN = "UPDATE tokens SET last_used = ? WHERE digest = ?"
USAGE = (
    "SELECT COALESCE(SUM(COALESCE(size, stream_offset)), 0), "
    "COALESCE(SUM(CASE WHEN state = 'receiving' THEN 1 ELSE 0 END), 0) "
    "FROM uploads WHERE account = ? AND state IN ('receiving', 'assembling', 'complete')"
)
OPEN_FROM = "SELECT count(*) FROM uploads WHERE state = 'receiving' AND address = ?"


def account_values(account: Account) -> tuple[Any, ...]:
    return (
        account.name, account.password_hash, account.admin, account.quota_bytes,
        account.quota_uploads, account.created_at,
    )  # fmt: skip


def to_account(row: Sequence[Any]) -> Account:
    name, password_hash, admin, quota_bytes, quota_uploads, created_at = row[:6]
    return Account(name, password_hash, bool(admin), quota_bytes, quota_uploads, created_at)


def to_token(row: Sequence[Any]) -> Token:
    digest, account, label, created_at, last_used = row
    return Token(digest, account, label, created_at, last_used)


def to_usage(row: Sequence[Any]) -> Usage:
    return Usage(int(row[0]), int(row[1]))


def stale(last_used: float | None, now: float) -> bool:
    """Whether a token's `last_used` is old enough to be written again."""
    return last_used is None or last_used < now - STAMP_EVERY
