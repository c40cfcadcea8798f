"""The `pyfiledrop` command. `serve` is the default, so the seed's command lines keep working."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import click
from click_default_group import DefaultGroup

from pyfiledrop.cli_options import CHUNKS, DATABASE, STORAGE, Command, Size, server_storage
from pyfiledrop.cli_options import database_errors as _database_errors
from pyfiledrop.cli_options import env as _env
from pyfiledrop.config import (
    MIB,
    PAGE_CHUNK,
    S3_PAGE_CHUNK,
    S3Location,
    Settings,
    parse_s3_url,
)
from pyfiledrop.core.interfaces import Listing, Sort
from pyfiledrop.core.lifetimes import format_duration, parse_duration
from pyfiledrop.core.model import State
from pyfiledrop.core.sharing import MOST_DOWNLOADS
from pyfiledrop.logs import FORMATS, LEVELS
from pyfiledrop.users import user

if TYPE_CHECKING:
    from pyfiledrop.core.service import UploadService

POSITIVE = click.IntRange(min=1)


class Duration(click.ParamType[float]):
    """`30s`, `15m`, `12h`, `7d`, or `0` (when `zero` allows it); the value is seconds."""

    name = "duration"

    def __init__(self, zero: bool = True) -> None:
        self.zero = zero

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            seconds = parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if not seconds and not self.zero:
            self.fail("must be longer than 0", param, ctx)
        return seconds


def _writable_folder(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    path = Path(value)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(f"cannot create {path}: {exc.strerror}") from exc
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{path} is not a writable folder")
    return path


def _storage(ctx: click.Context, param: click.Parameter, value: str) -> Path | str:
    """A folder, made if need be, or an s3://bucket/prefix URL (kept as it is)."""
    found = server_storage(ctx, param, value)
    return found if isinstance(found, str) else _writable_folder(ctx, param, value)


def _server_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} has a bad port") from exc
    return value


def _secret(flag: str, given: str | None, file: TextIO | None) -> str | None:
    """A secret from `flag` (or its variable), or from the first line of the file that
    `flag`-file names; never empty."""
    if given is not None and file is not None:
        raise click.BadParameter(
            f"give {flag} or {flag}-file, not both", param_hint=f"'{flag}-file'"
        )
    if file is not None:
        given = file.readline().rstrip("\r\n")
        if not given:
            reason = f"{file.name} holds no secret on its first line"
            raise click.BadParameter(reason, param_hint=f"'{flag}-file'")
    if given == "":
        raise click.BadParameter("must not be empty", param_hint=f"'{flag}'")
    return given


class Main(DefaultGroup):  # type: ignore[misc]  # click_default_group is untyped
    """`serve` by default; every command made with `@main.command()` is a `Command`."""

    command_class = Command


@click.group(
    cls=Main,
    default="serve",
    default_if_no_args=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
)
@click.version_option(package_name="pyfiledrop")
def main() -> None:
    """pyfiledrop: upload and share very large files fast.

    Run without a command (or with `serve`) to start the server.
    """


@main.command()
@click.option(
    "-p",
    "--port",
    type=click.IntRange(0, 65535),
    default=16273,
    show_default=True,
    envvar=_env("PORT"),
    help="Port to listen on.",
)
@click.option(
    "--host",
    default="0.0.0.0",
    show_default=True,
    envvar=_env("HOST"),
    help="Address to listen on.",
)
@click.option(
    "-s",
    "--storage",
    default="./storage",
    show_default=True,
    envvar=_env("STORAGE"),
    callback=_storage,
    help="Folder for finished files and the metadata database, or s3://bucket/prefix.",
)
@click.option(
    "-c",
    "--chunks",
    default="./chunks",
    show_default=True,
    envvar=_env("CHUNKS"),
    callback=_writable_folder,
    help="Folder for uploads in progress.",
)
@DATABASE
@click.option(
    "--max-size",
    type=POSITIVE,
    default=100000,
    show_default=True,
    envvar=_env("MAX_SIZE"),
    help="Largest file accepted, in MiB (Dropzone's maxFilesize).",
)
@click.option(
    "--timeout",
    type=POSITIVE,
    default=120000,
    show_default=True,
    envvar=_env("TIMEOUT"),
    help="Time allowed for each chunk request, in ms.",
)
@click.option(
    "--chunk-size",
    type=POSITIVE,
    default=None,
    envvar=_env("CHUNK_SIZE"),
    help=f"Chunk size the page sends, in bytes.  [default: {PAGE_CHUNK}; {S3_PAGE_CHUNK} with "
    "S3 storage, where smaller chunks are read back and sent again to make 5 MiB parts]",
)
@click.option(
    "--max-chunk-size",
    type=POSITIVE,
    default=64 * MIB,
    show_default=True,
    envvar=_env("MAX_CHUNK_SIZE"),
    help="Largest chunk the server accepts from any client, in bytes.",
)
@click.option(
    "--disable-parallel-chunks",
    is_flag=True,
    envvar=_env("DISABLE_PARALLEL_CHUNKS"),
    help="Make the page send one chunk at a time.",
)
@click.option(
    "--disable-force-chunking",
    is_flag=True,
    envvar=_env("DISABLE_FORCE_CHUNKING"),
    help="Let the page send files smaller than a chunk in one request.",
)
@click.option(
    "-a",
    "--allow-downloads",
    is_flag=True,
    envvar=_env("ALLOW_DOWNLOADS"),
    help="Let anyone holding a file's link download it.",
)
@click.option(
    "--dz-cdn",
    default=None,
    envvar=_env("DZ_CDN"),
    help="Load Dropzone from this CDN instead of the copy pyfiledrop serves.",
)
@click.option(
    "--dz-version",
    default=None,
    envvar=_env("DZ_VERSION"),
    help="Dropzone version to load from the CDN (implies a CDN).",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=Settings.header_timeout,
    show_default=True,
    envvar=_env("HEADER_TIMEOUT"),
    help="Time allowed for a request's headers to arrive, in seconds (408 after it).",
)
@click.option(
    "--max-connections",
    type=POSITIVE,
    default=Settings.max_connections,
    show_default=True,
    envvar=_env("MAX_CONNECTIONS"),
    help="Connections open at once, idle ones included (503 above it).",
)
@click.option(
    "--max-streams",
    type=POSITIVE,
    default=Settings.max_streams,
    show_default=True,
    envvar=_env("MAX_STREAMS"),
    help="Request bodies received at speed at once; more wait their turn (503 if the wait "
    "outlasts the header timeout).",
)
@click.option(
    "--shutdown-timeout",
    type=click.IntRange(min=0),
    default=Settings.shutdown_timeout,
    show_default=True,
    envvar=_env("SHUTDOWN_TIMEOUT"),
    help="At SIGTERM, seconds requests in flight may take to finish; then they are cut.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=Settings.workers,
    show_default=True,
    envvar=_env("WORKERS"),
    help="Server processes sharing the port, the database and the storage.",
)
@click.option(
    "--public-url",
    default=None,
    envvar=_env("PUBLIC_URL"),
    help="The server's address as clients see it, e.g. https://files.example.org: every link "
    "starts with it.",
)
@click.option(
    "--forwarded-allow-ips",
    default=Settings.forwarded_allow_ips,
    show_default=True,
    envvar=_env("FORWARDED_ALLOW_IPS"),
    help="Proxies (addresses or networks, comma-separated, or *) whose Forwarded, "
    "X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Prefix are believed.",
)
@click.option(
    "--max-open-uploads",
    type=click.IntRange(min=0),
    default=Settings.max_open_uploads,
    show_default=True,
    envvar=_env("MAX_OPEN_UPLOADS"),
    help="Unfinished uploads one browser, client or account may have at once, and as many from "
    "one client address (429 above either); 0: no cap.",
)
@click.option(
    "--min-free-space",
    type=Size(),
    default="0",
    show_default=True,
    envvar=_env("MIN_FREE_SPACE"),
    help="Refuse new uploads (507) while the disk unfinished uploads are written to has less "
    "free than this, e.g. 1G (local storage only; an S3 store does not say).",
)
@click.option(
    "--upload-password",
    default=None,
    envvar=_env("UPLOAD_PASSWORD"),
    help="Uploading needs this password, or an account (pyfiledrop user add); the page asks "
    "once, clients send it as HTTP Basic credentials. A flag is visible to other users in "
    "`ps`: prefer the variable or --upload-password-file.",
)
@click.option(
    "--upload-password-file",
    type=click.File("r"),
    default=None,
    envvar=_env("UPLOAD_PASSWORD_FILE"),
    help="Read the upload password from the first line of this file.",
)
@click.option(
    "--admin-password",
    default=None,
    envvar=_env("ADMIN_PASSWORD"),
    help="Turn on the admin page (/admin) and its API, behind this password (or admin accounts: "
    "pyfiledrop user add NAME --admin; off without either). "
    "A flag is visible to other users in `ps`: prefer the variable or --admin-password-file.",
)
@click.option(
    "--admin-password-file",
    type=click.File("r"),
    default=None,
    envvar=_env("ADMIN_PASSWORD_FILE"),
    help="Read the admin password from the first line of this file.",
)
@click.option(
    "--cors-origins",
    default="",
    envvar=_env("CORS_ORIGINS"),
    help="Sites whose pages may upload here (comma-separated origins such as "
    "https://example.org, or *): CORS on /upload and the status call. See README, Embedding.",
)
@click.option(
    "--root-path",
    default="",
    envvar=_env("ROOT_PATH"),
    help="The sub-path the server lives under behind a proxy that sends no X-Forwarded-Prefix, "
    "e.g. /drop (the proxy may strip it or pass it on).",
)
@click.option(
    "--expire",
    type=Duration(),
    default="0",
    show_default=True,
    envvar=_env("EXPIRE"),
    help="How long a finished file is kept (30s, 15m, 12h, 7d; 0: for ever); uploaders may ask "
    "for less.",
)
@click.option(
    "--incomplete-ttl",
    type=Duration(zero=False),
    default="7d",
    show_default=True,
    envvar=_env("INCOMPLETE_TTL"),
    help="How long an unfinished upload may sit idle before its data is removed.",
)
@click.option(
    "--cleanup-interval",
    type=Duration(zero=False),
    default="10s",
    show_default=True,
    envvar=_env("CLEANUP_INTERVAL"),
    help="How often each process looks for expired files and idle uploads to remove.",
)
@click.option(
    "--s3-endpoint",
    default=None,
    envvar=_env("S3_ENDPOINT"),
    help="S3 endpoint URL for --storage s3://... (default: AWS).",
)
@click.option(
    "--s3-region",
    default=None,
    envvar=_env("S3_REGION"),
    help="S3 region (default: AWS_REGION or AWS_DEFAULT_REGION).",
)
@click.option(
    "--s3-presigned-downloads",
    is_flag=True,
    envvar=_env("S3_PRESIGNED_DOWNLOADS"),
    help="Send downloads to a presigned URL of the store instead of through the server.",
)
@click.option(
    "--log-level",
    type=click.Choice(list(LEVELS), case_sensitive=False),
    default=Settings.log_level,
    show_default=True,
    envvar=_env("LOG_LEVEL"),
    help="Least important log lines shown (on stderr).",
)
@click.option(
    "--log-format",
    type=click.Choice(FORMATS, case_sensitive=False),
    default=Settings.log_format,
    show_default=True,
    envvar=_env("LOG_FORMAT"),
    help="Log lines as text, or as one JSON object per line.",
)
@click.option(
    "--access-log",
    is_flag=True,
    envvar=_env("ACCESS_LOG"),
    help="Log one line per request (method, path without secrets, status, bytes, time, client).",
)
@click.option(
    "--hook-url",
    multiple=True,
    envvar=_env("HOOK_URL"),
    help="POST a JSON body to this URL for each upload event; repeat for more URLs (in the "
    "environment: separated by spaces).",
)
@click.option(
    "--hook-secret",
    default=None,
    envvar=_env("HOOK_SECRET"),
    help="Sign hook bodies with an HMAC-SHA256 of this secret (X-Pyfiledrop-Signature).",
)
@click.option(
    "--hook-secret-file",
    type=click.File("r"),
    default=None,
    envvar=_env("HOOK_SECRET_FILE"),
    help="Read --hook-secret from this file (its first line).",
)
@click.option(
    "--hook-may-refuse",
    is_flag=True,
    envvar=_env("HOOK_MAY_REFUSE"),
    help="Send upload-created before the upload is taken and wait: an answer other than 2xx "
    "refuses it with the answer's message; no answer refuses it for now (503).",
)
@click.option(
    "--hook-queue",
    type=POSITIVE,
    default=Settings.hook_queue,
    show_default=True,
    envvar=_env("HOOK_QUEUE"),
    help="Events waiting per hook URL while its receiver is slow or down; more are dropped.",
)
def serve(**options: Any) -> None:
    """Run the upload server."""
    storage = options["storage"]
    s3 = None
    if isinstance(storage, str):
        bucket, prefix = parse_s3_url(storage) or ("", "")
        s3 = S3Location(
            bucket,
            prefix,
            options["s3_endpoint"],
            options["s3_region"],
            options["s3_presigned_downloads"],
        )
        storage = Path("storage")  # unused: files go to the bucket, the database to --chunks
    settings = Settings(
        s3=s3,
        host=options["host"],
        port=options["port"],
        storage=storage,
        chunks=options["chunks"],
        max_size_mib=options["max_size"],
        timeout_ms=options["timeout"],
        chunk_size=options["chunk_size"]
        or min(S3_PAGE_CHUNK if s3 else PAGE_CHUNK, options["max_chunk_size"]),
        max_chunk_size=options["max_chunk_size"],
        parallel_chunks=not options["disable_parallel_chunks"],
        force_chunking=not options["disable_force_chunking"],
        allow_downloads=options["allow_downloads"],
        dz_cdn=options["dz_cdn"],
        dz_version=options["dz_version"],
        header_timeout=options["header_timeout"],
        max_connections=options["max_connections"],
        max_streams=options["max_streams"],
        workers=options["workers"],
        shutdown_timeout=options["shutdown_timeout"],
        public_url=options["public_url"],
        forwarded_allow_ips=options["forwarded_allow_ips"],
        root_path=options["root_path"].rstrip("/"),
        max_open_uploads=options["max_open_uploads"],
        min_free_space=options["min_free_space"],
        upload_password=_secret(
            "--upload-password", options["upload_password"], options["upload_password_file"]
        ),
        admin_password=_secret(
            "--admin-password", options["admin_password"], options["admin_password_file"]
        ),
        cors_origins=tuple(filter(None, (o.strip() for o in options["cors_origins"].split(",")))),
        database_url=options["database"],
        expire=options["expire"],
        incomplete_ttl=options["incomplete_ttl"],
        cleanup_interval=options["cleanup_interval"],
        log_level=options["log_level"].lower(),
        log_format=options["log_format"].lower(),
        access_log=options["access_log"],
        hook_urls=tuple(options["hook_url"]),
        hook_secret=_secret("--hook-secret", options["hook_secret"], options["hook_secret_file"]),
        hook_queue=options["hook_queue"],
        hook_may_refuse=options["hook_may_refuse"],
    )
    for flag, reason in settings.problems():
        raise click.BadParameter(reason, param_hint=f"'{flag}'")
    if settings.s3:
        from pyfiledrop.compose import storage_problems

        for flag, reason in storage_problems(settings):
            raise click.BadParameter(reason, param_hint=f"'{flag}'")
    run(settings)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--url",
    required=True,
    envvar=_env("URL"),
    callback=_server_url,
    help="The server, e.g. http://host:16273",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    envvar=_env("PARALLEL"),
    help="Chunk requests in flight at once, and files uploaded at once.",
)
@click.option(
    "--chunk-size",
    type=POSITIVE,
    default=8 * MIB,
    show_default=True,
    envvar=_env("CHUNK_SIZE"),
    help="Chunk size in bytes (at most the server's --max-chunk-size).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    envvar=_env("RETRIES"),
    help="Times a failed chunk is sent again, waiting 0.5 s, 1 s, 2 s, ... between.",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar=_env("STATE_FILE"),
    help="Where unfinished uploads are remembered [default: see below].",
)
@click.option(
    "--user",
    default=None,
    envvar=_env("USER"),
    help="Upload as this account (with its --password).",
)
@click.option(
    "--password",
    default=None,
    envvar=_env("PASSWORD"),
    help="The account's password with --user, else the server's upload password (better from "
    "the variable: a flag is visible to other users in `ps`).",
)
@click.option(
    "--token",
    default=None,
    envvar=_env("TOKEN"),
    help="Upload as the account this token belongs to (pyfiledrop user token add); better from "
    "the variable.",
)
@click.option(
    "--expire",
    type=Duration(),
    default=None,
    envvar=_env("EXPIRE"),
    help="Keep the files on the server this long (30s, 15m, 12h, 7d; 0: for ever), at most "
    "what the server allows [default: the server's limit].",
)
@click.option(
    "--download-password",
    default=None,
    envvar=_env("DOWNLOAD_PASSWORD"),
    help="Downloading the files needs this password (better from the variable or "
    "--download-password-file: a flag is visible to other users in `ps`).",
)
@click.option(
    "--download-password-file",
    type=click.File("r"),
    default=None,
    envvar=_env("DOWNLOAD_PASSWORD_FILE"),
    help="Read the download password from the first line of this file.",
)
@click.option(
    "--max-downloads",
    type=click.IntRange(1, MOST_DOWNLOADS),
    default=None,
    envvar=_env("MAX_DOWNLOADS"),
    help="Each file's link allows this many downloads; the file is removed after the last.",
)
def upload(
    files: tuple[Path, ...], url: str, parallel: int, chunk_size: int, retries: int,
    state_file: Path | None, expire: float | None, user: str | None, password: str | None,
    token: str | None, download_password: str | None,
    download_password_file: TextIO | None, max_downloads: int | None,
) -> None:  # fmt: skip
    """Upload FILES (and the files of folders); run it again to resume what was interrupted.

    Prints each file's download link as the last line of its output, after checking the
    server's SHA-256 against the file. A folder's files go in the order of their relative
    paths, which the server keeps (starting with the folder's name, as a browser keeps them);
    links to anything outside it, and what is not a regular file, are skipped with a note.
    Unfinished uploads are remembered in a small state file (delete it to forget them).
    """
    from pyfiledrop.client.progress import upload_all
    from pyfiledrop.client.state import StateFile, default_path
    from pyfiledrop.client.transport import credentials
    from pyfiledrop.client.uploader import terms_headers

    if token is not None and (user is not None or password is not None):
        raise click.BadParameter("give --token, or --user and --password, not both")
    if user is not None and password is None:
        raise click.BadParameter("--user needs --password (or PYFILEDROP_PASSWORD)")
    secret = _secret("--download-password", download_password, download_password_file)
    terms = terms_headers(secret, max_downloads)

    state = StateFile(state_file or default_path())
    life = None if expire is None else format_duration(expire) if expire else "0"
    failures = upload_all(files, url, state, chunk_size=chunk_size, parallel=parallel,
                          retries=retries, expire=life,
                          authorization=credentials(user, password, token),
                          terms=terms)  # fmt: skip
    if failures:
        sys.exit(1)


@main.command()
@click.option(
    "-s",
    "--storage",
    default="./storage",
    show_default=True,
    envvar=_env("STORAGE"),
    callback=_storage,
    help="The server's --storage: a folder (finished files and the database), or s3://...",
)
@click.option(
    "-c",
    "--chunks",
    default="./chunks",
    show_default=True,
    envvar=_env("CHUNKS"),
    callback=_writable_folder,
    help="The server's --chunks (with S3 storage, where the default database is).",
)
@DATABASE
@click.option("--s3-endpoint", default=None, envvar=_env("S3_ENDPOINT"), help="As for serve.")
@click.option("--s3-region", default=None, envvar=_env("S3_REGION"), help="As for serve.")
def migrate(
    storage: Path | str, chunks: Path, database: str | None, s3_endpoint: str | None,
    s3_region: str | None,
) -> None:  # fmt: skip
    """Bring the database's schema up to date and move finished files to where this version
    keeps them (the server also does this when it starts). Safe to run again, or while a
    server runs."""
    from pyfiledrop.compose import migrate as apply
    from pyfiledrop.compose import migrate_files

    s3 = None
    if isinstance(storage, str):
        bucket, prefix = parse_s3_url(storage) or ("", "")
        s3, storage = S3Location(bucket, prefix, s3_endpoint, s3_region), Path("storage")
    settings = Settings(storage=storage, chunks=chunks, database_url=database, s3=s3)
    for flag, reason in settings.problems():
        raise click.BadParameter(reason, param_hint=f"'{flag}'")
    with _database_errors():
        applied = apply(settings)
        moved = migrate_files(settings)
    for migration in applied:
        click.echo(f"applied migration {migration.version} ({migration.name})")
    if not applied:
        click.echo("the database is up to date")
    if moved:
        click.echo(f"moved {moved} finished files to their content's key")


def run(settings: Settings) -> None:
    from pyfiledrop.compose import build_service, migrate
    from pyfiledrop.logs import configure
    from pyfiledrop.web.app import asgi, render_error
    from pyfiledrop.web.server import serve

    configure(settings.log_level, settings.log_format)
    with _database_errors():  # before the banner: a server that cannot start says only why
        service = build_service(settings) if settings.workers == 1 else None
        if service is None:
            migrate(settings)  # once, here; each worker builds its service after the fork
    click.echo(
        f"Timeout: {settings.timeout_ms // 1000} seconds per chunk\n"
        f"Chunk Size: {settings.chunk_size // 1024} Kb\n"
        f"Max File Size: {settings.max_size_mib} Mb\n"
        f"Force Chunking: {str(settings.force_chunking).lower()}\n"
        f"Parallel Chunks: {str(settings.parallel_chunks).lower()}\n"
        f"Downloads: {'allowed' if settings.allow_downloads else 'off'}\n"
        f"Storage Path: {settings.s3.url if settings.s3 else settings.storage.absolute()}\n"
        f"Chunk Path: {settings.chunks.absolute()}\n"
    )
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    click.echo(f"pyfiledrop is running at http://{shown}:{settings.port}/")
    sys.stdout.flush()
    serve(
        lambda: asgi(settings, service or build_service(settings)),
        render_error,
        host=settings.host,
        port=settings.port,
        header_timeout=settings.header_timeout,
        max_connections=settings.max_connections,
        max_streams=settings.max_streams,
        workers=settings.workers,
        shutdown_timeout=settings.shutdown_timeout,
        log_requests=settings.access_log,
    )


# --- the operator's commands: ls, rm, gc (their work is in manage.py) -----------------------------


S3_ENDPOINT = click.option(
    "--s3-endpoint", default=None, envvar=_env("S3_ENDPOINT"), help="The server's --s3-endpoint."
)
S3_REGION = click.option(
    "--s3-region", default=None, envvar=_env("S3_REGION"), help="The server's --s3-region."
)


def _service(settings: Settings) -> UploadService:
    from pyfiledrop.compose import build_service, storage_problems

    if settings.s3:
        for flag, reason in storage_problems(settings):
            raise click.BadParameter(reason, param_hint=f"'{flag}'")
    with _database_errors():
        return build_service(settings)


@main.command(name="ls")
@STORAGE
@CHUNKS
@DATABASE
@click.option(
    "--state",
    multiple=True,
    type=click.Choice([state.value for state in State]),
    envvar=_env("STATE"),
    help="Only uploads in this state (repeat for several) [default: all but deleted].",
)
@click.option(
    "--older-than",
    type=Duration(zero=False),
    default=None,
    envvar=_env("OLDER_THAN"),
    help="Only uploads created longer ago than this (30s, 15m, 12h, 7d).",
)
@click.option(
    "--newer-than",
    type=Duration(zero=False),
    default=None,
    envvar=_env("NEWER_THAN"),
    help="Only uploads created within this time.",
)
@click.option(
    "--name", default=None, envvar=_env("NAME"), help="Only uploads whose file name contains this."
)
@click.option(
    "--sort",
    type=click.Choice([sort.value for sort in Sort]),
    default=Sort.CREATED.value,
    show_default=True,
    envvar=_env("SORT"),
    help="Order by creation, last change, size or name.",
)
@click.option("--reverse", is_flag=True, envvar=_env("REVERSE"), help="Newest, largest or Z first.")
@click.option(
    "--json",
    is_flag=True,
    envvar=_env("JSON"),
    help="One JSON array of uploads (one per line), exact sizes and ISO 8601 times.",
)
def ls(
    storage: Path | str, chunks: Path, database: str | None, state: tuple[str, ...],
    older_than: float | None, newer_than: float | None, name: str | None, sort: str,
    reverse: bool, json: bool,
) -> None:  # fmt: skip
    """List uploads: state, size, times (UTC), owner, SHA-256 and name, oldest first.

    Works while servers run on the same database.
    """
    from pyfiledrop import manage
    from pyfiledrop.compose import open_meta

    settings = manage.server_settings(storage, chunks, database)
    now = time.time()
    listing = Listing(
        states=tuple(State(value) for value in state)
        or tuple(s for s in State if s != State.DELETED),
        created_before=None if older_than is None else now - older_than,
        created_after=None if newer_than is None else now - newer_than,
        name_contains=name or None,
        sort=Sort(sort),
        descending=reverse,
    )
    with _database_errors():
        meta = open_meta(settings)
    manage.run(lambda: manage.ls(meta, listing, json))


@main.command()
@click.argument("ids", nargs=-1, required=True)
@STORAGE
@CHUNKS
@DATABASE
@S3_ENDPOINT
@S3_REGION
def rm(
    ids: tuple[str, ...], storage: Path | str, chunks: Path, database: str | None,
    s3_endpoint: str | None, s3_region: str | None,
) -> None:  # fmt: skip
    """Remove the uploads IDS (as `ls` shows them): their record and their bytes.

    Exit status 1 when an id names no upload, or one could not be removed; the others are
    removed all the same. Works while servers run on the same database and storage.
    """
    from pyfiledrop import manage

    service = _service(manage.server_settings(storage, chunks, database, s3_endpoint, s3_region))
    if manage.run(lambda: manage.rm(service, ids)):
        sys.exit(1)


@main.command()
@STORAGE
@CHUNKS
@DATABASE
@S3_ENDPOINT
@S3_REGION
@click.option(
    "--incomplete-ttl",
    type=Duration(zero=False),
    default="7d",
    show_default=True,
    envvar=_env("INCOMPLETE_TTL"),
    help="The server's --incomplete-ttl: unfinished uploads idle this long are removed.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    envvar=_env("DRY_RUN"),
    help="Only print what would be removed and the space it would free.",
)
def gc(
    storage: Path | str, chunks: Path, database: str | None, s3_endpoint: str | None,
    s3_region: str | None, incomplete_ttl: float, dry_run: bool,
) -> None:  # fmt: skip
    """Clean up now, as the server does every 10 s: remove expired files, unfinished uploads
    idle for --incomplete-ttl, and partial data no upload needs; print each with the space it
    freed, and the total.

    Takes the same claim as the servers' clean-up, so it never runs at once with theirs (it
    waits for a pass under way). Works while servers run on the same database and storage.
    """
    from pyfiledrop import manage

    settings = manage.server_settings(
        storage, chunks, database, s3_endpoint, s3_region, incomplete_ttl
    )
    service = _service(settings)
    manage.run(lambda: manage.gc(service, dry_run))


main.add_command(user)  # pyfiledrop user add|rm|list|passwd, user token add|rm (users.py)
