"""The one place that picks concrete back ends and builds the service from settings."""

from __future__ import annotations

from pyfiledrop.config import Settings
from pyfiledrop.core.service import Limits, UploadService
from pyfiledrop.meta.sqlite import SQLiteMetaStore
from pyfiledrop.storage.local import LocalStorage


def build_service(settings: Settings) -> UploadService:
    storage = LocalStorage(settings.chunks, settings.storage)
    meta = SQLiteMetaStore(settings.database)
    limits = Limits(max_size=settings.max_size, max_chunk_size=settings.max_chunk_size)
    return UploadService(meta, storage, limits)
