"""Settings, declared once: the seed's flags with their defaults, plus the server's own limits.

The CLI fills a `Settings` from flags and PYFILEDROP_* environment variables; every other part is
given only the values it needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
DROPZONE_VERSION = "6.3.5"  # the version vendored under web/static/vendor/dropzone (package.json)
DEFAULT_CDN = "https://cdnjs.cloudflare.com/ajax/libs/dropzone"


@dataclass(frozen=True)
class S3Location:
    """`--storage s3://bucket/prefix` and the flags that go with it (issue 6)."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None  # --s3-endpoint; None: AWS itself
    region: str | None = None  # --s3-region; None: boto3's AWS_REGION / AWS_DEFAULT_REGION
    presigned_downloads: bool = False  # --s3-presigned-downloads

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3_url(value: str) -> tuple[str, str] | None:
    """(bucket, prefix) of an `s3://bucket/prefix` value; None when it is not an s3:// URL.
    Raises ValueError naming what is wrong with the bucket."""
    if not value.startswith("s3://"):
        return None
    bucket, _, prefix = value[len("s3://") :].partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ValueError(f"{bucket!r} is not a bucket name (3 to 63 of a-z 0-9 . -)")
    return bucket, prefix.strip("/")


@dataclass(frozen=True)
class Settings:
    """Everything `pyfiledrop serve` can be told. Sizes in the units the seed used."""

    host: str = "0.0.0.0"
    port: int = 16273
    storage: Path = Path("storage")
    chunks: Path = Path("chunks")
    max_size_mib: int = 100000
    timeout_ms: int = 120000
    chunk_size: int = 1000000
    max_chunk_size: int = 64 * MIB
    parallel_chunks: bool = True
    force_chunking: bool = True
    allow_downloads: bool = False
    dz_cdn: str | None = None
    dz_version: str | None = None
    s3: S3Location | None = None  # finished and unfinished files in a bucket instead of folders

    @property
    def max_size(self) -> int:
        """The largest file accepted, in bytes (`--max-size` is MiB, as Dropzone's maxFilesize)."""
        return self.max_size_mib * MIB

    @property
    def database(self) -> Path:
        # With S3 storage the SQLite file lives in the chunks folder, which holds nothing else
        # then (until `--database` from the postgres branch lands).
        return (self.chunks if self.s3 else self.storage) / "pyfiledrop.sqlite3"

    def problems(self) -> list[tuple[str, str]]:
        """(flag, reason) for each setting that cannot work; empty when all is well."""
        found = []
        for flag, value in (
            ("--max-size", self.max_size_mib),
            ("--timeout", self.timeout_ms),
            ("--chunk-size", self.chunk_size),
            ("--max-chunk-size", self.max_chunk_size),
        ):
            if value < 1:
                found.append((flag, f"must be a positive whole number, not {value}"))
        if not 0 <= self.port <= 65535:
            found.append(("--port", f"must be between 0 and 65535, not {self.port}"))
        if self.chunk_size > self.max_chunk_size:
            found.append(
                (
                    "--chunk-size",
                    f"{self.chunk_size} is above --max-chunk-size {self.max_chunk_size}",
                )
            )
        return found
