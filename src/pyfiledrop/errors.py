"""The error catalogue: every failure a client can cause, with a stable code and an HTTP status.

The core and the back ends raise `UploadError`s built from this catalogue; only the web edge turns
them into responses, so no storage or metadata code ever speaks HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    """One entry of the catalogue: a stable machine-readable code and the HTTP status it maps to."""

    code: str
    status: int

    def __call__(self, message: str) -> UploadError:
        return UploadError(self, message)


class UploadError(Exception):
    """A failure with a message meant for the person who caused it."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def status(self) -> int:
        return self.kind.status

    @property
    def code(self) -> str:
        return self.kind.code


BAD_REQUEST = ErrorKind("bad_request", 400)
BAD_ID = ErrorKind("bad_upload_id", 400)
BAD_CHUNK = ErrorKind("bad_chunk", 400)
BAD_HOST = ErrorKind("bad_host", 400)
BAD_OWNER = ErrorKind("bad_owner", 400)
UNAUTHORIZED = ErrorKind("password_needed", 401)
WRONG_PASSWORD = ErrorKind("wrong_password", 401)
WRONG_TOKEN = ErrorKind("wrong_token", 401)
NOT_ADMIN = ErrorKind("not_admin", 403)
FORBIDDEN = ErrorKind("not_your_upload", 403)
REFUSED_BY_HOOK = ErrorKind("refused", 403)
NOT_ALLOWED = ErrorKind("not_allowed", 403)
CROSS_SITE = ErrorKind("cross_site", 403)
DOWNLOADS_DISABLED = ErrorKind("downloads_disabled", 403)
NOT_FOUND = ErrorKind("not_found", 404)
TIMEOUT = ErrorKind("request_timeout", 408)
HEADERS_TOO_SLOW = ErrorKind("headers_too_slow", 408)
CONFLICT = ErrorKind("conflict", 409)
NOT_FINISHED = ErrorKind("not_finished", 409)
GONE = ErrorKind("expired", 410)
CONTENT_MISSING = ErrorKind("content_missing", 410)
DOWNLOAD_LIMIT = ErrorKind("download_limit_reached", 410)
LAST_DOWNLOAD_UNDER_WAY = ErrorKind("last_download_under_way", 429)
WRONG_DELETE_KEY = ErrorKind("wrong_delete_key", 403)
UNKNOWN_CONTENT = ErrorKind("unknown_content", 404)
PRECONDITION = ErrorKind("unsupported_version", 412)
TOO_LARGE = ErrorKind("too_large", 413)
UNSUPPORTED_MEDIA = ErrorKind("unsupported_media_type", 415)
HEADERS_TOO_LARGE = ErrorKind("headers_too_large", 431)
LOCKED = ErrorKind("locked", 423)
CHECKSUM_MISMATCH = ErrorKind("checksum_mismatch", 460)
STORAGE_BUSY = ErrorKind("storage_busy", 503)
TOO_MANY_TRIES = ErrorKind("too_many_tries", 429)
TOO_MANY_OPEN = ErrorKind("too_many_open_uploads", 429)
QUOTA_UPLOADS = ErrorKind("quota_uploads", 429)
TOO_MANY_CONNECTIONS = ErrorKind("too_many_connections", 503)
HOOK_UNAVAILABLE = ErrorKind("hook_unavailable", 503)
TOO_MANY_STREAMS = ErrorKind("too_many_streams", 503)
STORAGE_UNAVAILABLE = ErrorKind("storage_unavailable", 503)
STORAGE_FULL = ErrorKind("storage_full", 507)
QUOTA_BYTES = ErrorKind("quota_bytes", 507)
STORAGE_FAILED = ErrorKind("storage_failed", 500)
