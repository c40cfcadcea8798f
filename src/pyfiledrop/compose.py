"""The one place that picks concrete back ends, finds their optional capabilities, and builds the
service from settings."""

from __future__ import annotations

from pyfiledrop.config import Settings
from pyfiledrop.core.receiving import Limits
from pyfiledrop.core.service import UploadService
from pyfiledrop.meta.migrations import Migration
from pyfiledrop.meta.sqlite import SQLiteMetaStore, migrate_file
from pyfiledrop.storage.local import LocalStorage


def build_service(settings: Settings) -> UploadService:
    storage = LocalStorage(settings.chunks, settings.storage)
    meta = SQLiteMetaStore(settings.database)
    limits = Limits(
        max_size=settings.max_size,
        max_chunk_size=settings.max_chunk_size,
        chunk_timeout=settings.timeout_ms / 1000,
    )
    return UploadService(
        meta, storage, limits, writeback=storage, concatenation=storage, local_files=storage
    )


def migrate(settings: Settings) -> list[Migration]:
    """Bring the metadata store's schema up to date; the migrations applied."""
    return migrate_file(settings.database)
