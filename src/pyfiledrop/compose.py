"""The one place that picks concrete back ends, finds their optional capabilities, and builds the
service from settings."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pyfiledrop.config import Settings
from pyfiledrop.core.clock import SYSTEM, Clock
from pyfiledrop.core.interfaces import MetaStore
from pyfiledrop.core.receiving import Limits
from pyfiledrop.core.service import UploadService
from pyfiledrop.meta import OpenError
from pyfiledrop.meta.migrations import Migration
from pyfiledrop.meta.sqlite import SQLiteMetaStore, migrate_file
from pyfiledrop.storage.local import LocalStorage

if TYPE_CHECKING:
    from pyfiledrop.storage.s3 import S3Storage

__all__ = [
    "OpenError", "build_service", "migrate", "migrate_files", "open_meta", "storage_problems",
]  # fmt: skip

# What each S3 start-up problem is the fault of, as the flag or variable a person would change.
S3_SETTINGS = {
    "bucket": "--storage",
    "endpoint": "--s3-endpoint",
    "credentials": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
}


def build_service(settings: Settings, clock: Clock = SYSTEM) -> UploadService:
    """The service `settings` describe; `clock` times its records and expiry, and its store's."""
    meta = open_meta(settings, clock)
    limits = Limits(
        max_size=settings.max_size,
        max_chunk_size=settings.max_chunk_size,
        chunk_timeout=settings.timeout_ms / 1000,
        max_open_uploads=settings.max_open_uploads,
        min_free_space=settings.min_free_space,
    )
    if settings.s3:
        s3 = _s3_storage(settings)
        presigned = s3 if settings.s3.presigned_downloads else None
        return UploadService(
            meta,
            s3,
            limits,
            lifetimes=settings.lifetimes,
            clock=clock,
            writeback=s3,
            concatenation=s3,
            range_reads=s3,
            presigned=presigned,
        )
    storage = LocalStorage(settings.chunks, settings.storage)
    return UploadService(
        meta,
        storage,
        limits,
        lifetimes=settings.lifetimes,
        clock=clock,
        writeback=storage,
        concatenation=storage,
        local_files=storage,
    )


def open_meta(settings: Settings, clock: Clock = SYSTEM) -> MetaStore:
    """The metadata store `--database` names, its schema brought up to date.

    Raise `pyfiledrop.meta.OpenError` when it cannot be opened.
    """
    if settings.postgres_url:
        from pyfiledrop.meta.postgres import PostgresMetaStore  # only when asked for

        return PostgresMetaStore(settings.postgres_url, clock=clock)
    return SQLiteMetaStore(settings.database, clock)


def migrate(settings: Settings) -> list[Migration]:
    """Bring the metadata store's schema up to date; the migrations applied."""
    if settings.postgres_url:
        from pyfiledrop.meta.postgres import migrate_url

        return migrate_url(settings.postgres_url)
    return migrate_file(settings.database)


def migrate_files(settings: Settings) -> int:
    """Move files finished before content keys to their content's key (migration 5, which
    `migrate` applies first); how many were moved. A server does it too when it starts."""
    from pyfiledrop.core.contents import move_legacy_files

    async def move() -> int:
        meta = open_meta(settings)
        try:
            if settings.s3 is None:
                local = LocalStorage(settings.chunks, settings.storage)
                return await move_legacy_files(meta, local)
            s3 = _s3_storage(settings)
            try:
                return await move_legacy_files(meta, s3)
            finally:
                s3.close()
        finally:
            await meta.close()

    return asyncio.run(move())


def _s3_storage(settings: Settings) -> S3Storage:
    from pyfiledrop.storage import s3  # boto3 is needed only here (the `s3` extra)

    assert settings.s3 is not None
    return s3.connect(
        settings.s3.bucket,
        settings.s3.prefix,
        endpoint=settings.s3.endpoint,
        region=settings.s3.region,
        part_size=s3.stream_part_size(settings.max_size),
    )


def storage_problems(settings: Settings) -> list[tuple[str, str]]:
    """(setting, reason) when the S3 store cannot be used as configured; checked at start."""
    try:
        storage = _s3_storage(settings)
    except ImportError:
        return [("--storage", "S3 storage needs boto3: pip install 'pyfiledrop[s3]'")]
    try:
        found = asyncio.run(storage.check())
    finally:
        storage.close()
    return [] if found is None else [(S3_SETTINGS[found[0]], found[1])]
