"""Settings, declared once: the seed's flags with their defaults, plus the server's own limits.

The CLI fills a `Settings` from flags and PYFILEDROP_* environment variables; every other part is
given only the values it needs.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pyfiledrop.core.lifetimes import CLEAN_EVERY, WEEK, Lifetimes
from pyfiledrop.logs import FORMATS, LEVELS

_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")  # no escapes: %2e%2e is `..` to a browser

MIB = 1024 * 1024
DROPZONE_VERSION = "6.3.5"  # the version vendored under web/static/vendor/dropzone (package.json)
DEFAULT_CDN = "https://cdnjs.cloudflare.com/ajax/libs/dropzone"
SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?)(?:i?B)?$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from `123`, `500M`, `1.5G`, `2TiB` (binary units: K is 1024); ValueError if not."""
    found = _SIZE.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a size such as 500M, 10G or 1T")
    number, unit = found.groups()
    return int(float(number) * 1024 ** " KMGTP".index(unit.upper() or " "))


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


PAGE_CHUNK = 1_000_000  # bytes per chunk the page sends (the seed's)
S3_PAGE_CHUNK = 8 * MIB  # with S3 storage: a part by itself (S3's parts are at least 5 MiB)


@dataclass(frozen=True)
class Settings:
    """Everything `pyfiledrop serve` can be told. Sizes in the units the seed used."""

    host: str = "0.0.0.0"
    port: int = 16273
    storage: Path = Path("storage")
    chunks: Path = Path("chunks")
    max_size_mib: int = 100000
    timeout_ms: int = 120000
    chunk_size: int = PAGE_CHUNK
    max_chunk_size: int = 64 * MIB
    parallel_chunks: bool = True
    force_chunking: bool = True
    allow_downloads: bool = False
    dz_cdn: str | None = None
    dz_version: str | None = None
    header_timeout: float = 30.0
    max_connections: int = 1000  # open connections, idle ones included: a few KiB each
    max_streams: int = 64  # bodies received at speed: about 1 MB each at peak (bench/faults.py)
    workers: int = 1
    shutdown_timeout: int = 30  # seconds requests in flight may take to finish at SIGTERM
    public_url: str | None = None
    forwarded_allow_ips: str = "127.0.0.1"
    root_path: str = ""  # the sub-path behind a proxy that sends no X-Forwarded-Prefix
    max_open_uploads: int = 100  # unfinished uploads per owner, and per address, at once; 0: any
    min_free_space: int = 0  # bytes of free disk under which new uploads are refused (507)
    upload_password: str | None = field(default=None, repr=False)  # None: anyone may upload
    admin_password: str | None = field(default=None, repr=False)  # None: no admin page at all
    cors_origins: tuple[str, ...] = ()  # sites that may embed the upload; "*" for any
    database_url: str | None = None  # --database; None: the SQLite file in the storage folder
    s3: S3Location | None = None  # finished and unfinished files in a bucket instead of folders
    expire: float = 0.0  # seconds a finished file lives; 0: for ever, as the seed kept them
    incomplete_ttl: float = WEEK  # seconds an unfinished upload may sit idle
    cleanup_interval: float = CLEAN_EVERY  # seconds between each process's clean-up passes
    log_level: str = "info"  # a key of logs.LEVELS
    log_format: str = "text"  # or "json": one object per line
    access_log: bool = False  # one line per request
    hook_urls: tuple[str, ...] = ()  # each gets a JSON POST per upload event (web/hooks.py)
    hook_secret: str | None = field(default=None, repr=False)  # signs the hooks' bodies
    hook_queue: int = 1000  # events waiting per hook URL; more are dropped
    hook_may_refuse: bool = False  # upload-created waits for the hooks, which may refuse it

    @property
    def max_size(self) -> int:
        """The largest file accepted, in bytes (`--max-size` is MiB, as Dropzone's maxFilesize)."""
        return self.max_size_mib * MIB

    @property
    def database(self) -> Path:
        """The SQLite file (`sqlite:///relative` or `sqlite:////absolute`, else the default)."""
        if self.database_url and self.database_url.startswith(SQLITE_PREFIX):
            return Path(self.database_url.removeprefix(SQLITE_PREFIX))
        # With S3 storage and no --database, the SQLite file lives in the chunks folder, which
        # holds nothing else then.
        return (self.chunks if self.s3 else self.storage) / "pyfiledrop.sqlite3"

    @property
    def lifetimes(self) -> Lifetimes:
        return Lifetimes(
            max_life=self.expire or None,
            idle_limit=self.incomplete_ttl,
            clean_every=self.cleanup_interval,
        )

    @property
    def trusted_proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The addresses whose X-Forwarded-Proto and X-Forwarded-Host are believed."""
        found = []
        for item in filter(None, (part.strip() for part in self.forwarded_allow_ips.split(","))):
            found.append(ipaddress.ip_network("0.0.0.0/0" if item == "*" else item, strict=False))
            if item == "*":
                found.append(ipaddress.ip_network("::/0"))
        return found

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL database named by `--database`, if it names one."""
        url = self.database_url or ""
        return url if url.startswith(POSTGRES_PREFIXES) else None

    def problems(self) -> list[tuple[str, str]]:
        """(flag, reason) for each setting that cannot work; empty when all is well."""
        found = []
        for flag, value in (
            ("--max-size", self.max_size_mib),
            ("--timeout", self.timeout_ms),
            ("--chunk-size", self.chunk_size),
            ("--max-chunk-size", self.max_chunk_size),
            ("--max-connections", self.max_connections),
            ("--max-streams", self.max_streams),
            ("--hook-queue", self.hook_queue),
        ):
            if value < 1:
                found.append((flag, f"must be a positive whole number, not {value}"))
        if not 0 <= self.port <= 65535:
            found.append(("--port", f"must be between 0 and 65535, not {self.port}"))
        if self.expire < 0:
            found.append(("--expire", f"must be a duration or 0, not {self.expire}"))
        if not self.incomplete_ttl > 0:
            found.append(("--incomplete-ttl", "must be a positive duration such as 7d"))
        if not self.cleanup_interval > 0:
            found.append(("--cleanup-interval", "must be a positive duration such as 10s"))
        if not self.header_timeout > 0:
            found.append(
                ("--header-timeout", f"must be positive seconds, not {self.header_timeout}")
            )
        if self.log_level not in LEVELS:
            found.append(("--log-level", f"must be one of {', '.join(LEVELS)}"))
        if self.log_format not in FORMATS:
            found.append(("--log-format", f"must be one of {', '.join(FORMATS)}"))
        wrong = "is not an http(s):// URL with a host, no user:password@ and no #fragment"
        for url in self.hook_urls:
            if not _is_base_url(url, query=True):
                found.append(("--hook-url", f"{url[:100]!r} {wrong}"))
        if self.public_url is not None and not _is_base_url(self.public_url):
            found.append(("--public-url", f"{self.public_url!r} is not an http(s):// URL"))
        for origin in self.cors_origins:
            if origin != "*" and not _is_origin(origin):
                reason = f"{origin!r} is not an origin such as https://example.org or *"
                found.append(("--cors-origins", reason))
        if not is_url_path(self.root_path):
            found.append(("--root-path", f"{self.root_path!r} is not a URL path such as /drop"))
        try:
            self.trusted_proxies  # noqa: B018  (raises on an address that is not one)
        except ValueError as exc:
            found.append(("--forwarded-allow-ips", f"{self.forwarded_allow_ips!r}: {exc}"))
        if self.chunk_size > self.max_chunk_size:
            found.append(
                (
                    "--chunk-size",
                    f"{self.chunk_size} is above --max-chunk-size {self.max_chunk_size}",
                )
            )
        found.extend(("--database", reason) for reason in self._database_problems())
        return found

    def _database_problems(self) -> list[str]:
        url = self.database_url
        if url is None or url.startswith(POSTGRES_PREFIXES):
            return []  # libpq judges the rest of a PostgreSQL URL when the server starts
        if not url.startswith(SQLITE_PREFIX):
            scheme = url.partition(":")[0]  # not the rest: it may hold a password
            return [f"must be sqlite:///PATH or postgresql://..., not {scheme!r}:..."]
        if url == SQLITE_PREFIX or url.endswith("/"):
            return [f"{url!r} names no file"]
        return []


def is_url_path(value: str) -> bool:
    """`/a/b`-style: segments of letters, digits and `._~-`, none of them `.` or `..`; or empty.
    Strict on purpose: it goes into every link and the page's `<base>`."""
    if value == "":
        return True
    segments = value.split("/")
    return segments[0] == "" and all(
        _PATH_SEGMENT.match(part) and part not in (".", "..") for part in segments[1:]
    )


def _is_origin(value: str) -> bool:
    """scheme://host[:port], as a browser sends it in `Origin`: no path, no trailing slash."""
    return _is_base_url(value) and urlsplit(value).path == "" and not value.endswith("/")


def _is_base_url(url: str, query: bool = False) -> bool:
    """An http(s) URL with a host and no fragment, and no query unless `query`: links are made by
    appending paths."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not ((parts.query and not query) or parts.fragment or parts.username)
    )
