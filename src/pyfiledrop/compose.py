"""The one place that picks concrete back ends, finds their optional capabilities, and builds the
service from settings."""

from __future__ import annotations

from pyfiledrop.config import Settings
from pyfiledrop.core.interfaces import MetaStore
from pyfiledrop.core.receiving import Limits
from pyfiledrop.core.service import UploadService
from pyfiledrop.meta import OpenError
from pyfiledrop.meta.migrations import Migration
from pyfiledrop.meta.sqlite import SQLiteMetaStore, migrate_file
from pyfiledrop.storage.local import LocalStorage

__all__ = ["OpenError", "build_service", "migrate", "open_meta"]


def build_service(settings: Settings) -> UploadService:
    storage = LocalStorage(settings.chunks, settings.storage)
    meta = open_meta(settings)
    limits = Limits(
        max_size=settings.max_size,
        max_chunk_size=settings.max_chunk_size,
        chunk_timeout=settings.timeout_ms / 1000,
    )
    return UploadService(
        meta, storage, limits, writeback=storage, concatenation=storage, local_files=storage
    )


def open_meta(settings: Settings) -> MetaStore:
    """The metadata store `--database` names, its schema brought up to date.

    Raise `pyfiledrop.meta.OpenError` when it cannot be opened.
    """
    if settings.postgres_url:
        from pyfiledrop.meta.postgres import PostgresMetaStore  # only when asked for

        return PostgresMetaStore(settings.postgres_url)
    return SQLiteMetaStore(settings.database)


def migrate(settings: Settings) -> list[Migration]:
    """Bring the metadata store's schema up to date; the migrations applied."""
    if settings.postgres_url:
        from pyfiledrop.meta.postgres import migrate_url

        return migrate_url(settings.postgres_url)
    return migrate_file(settings.database)
