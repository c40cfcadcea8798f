"""The operator's commands `pyfiledrop ls`, `rm` and `gc`: their work, apart from cli.py's parsing.

They open the metadata store and the storage that `serve` uses with the same settings
(`compose`), and work while servers run on them, on this host or others:
- `ls` only reads, a page at a time (`MetaStore.list_uploads`), so its memory stays flat
  however many uploads there are; `--json` prints one JSON array, one upload per line.
- `rm` removes through the service's `delete`, as a server would: the record first (nothing finds
  the upload any more), then its bytes.
- `gc` makes the server's own clean-up pass (core/cleanup.py) under the same `cleanup` claim,
  waiting up to `CLAIM_WAIT` seconds while a server's pass holds it, so two passes never run at
  once; each removal is printed as it is made. `gc --dry-run` asks the same questions and only
  reads (it takes no claim).

Names are the uploaders' own: the table shows their control characters escaped, so a name cannot
move the cursor or recolour the operator's terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from unicodedata import category

import click

from pyfiledrop import errors
from pyfiledrop.config import S3Location, Settings, parse_s3_url
from pyfiledrop.core.cleanup import Removal
from pyfiledrop.core.interfaces import Listing, MetaStore
from pyfiledrop.core.model import State, Upload
from pyfiledrop.core.service import UploadService

T = TypeVar("T")
PAGE = 500  # uploads read at a time
CLAIM_WAIT = 30.0  # seconds `gc` waits for a server's pass to end
CLAIM_POLL = 0.5
COLUMNS = ("ID", "STATE", "SIZE", "CREATED", "UPDATED", "EXPIRES", "OWNER", "SHA256", "NAME")
WIDTHS = (32, 10, 9, 16, 16, 16, 12, 12)  # NAME takes the rest


def human_size(size: float) -> str:
    """Bytes in binary units with up to three significant digits: 97.7 GiB, 977 KiB, 1 MiB."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    unit = 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    decimals = 0 if size >= 100 or unit == 0 else 1 if size >= 10 else 2
    text = f"{size:.{decimals}f}"
    return f"{text.rstrip('0').rstrip('.') if '.' in text else text} {units[unit]}"


class CommandFailed(Exception):
    """The command could not do its work; the message says why (exit status 1)."""


def run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's coroutine; the database's or the storage's refusal is a one-line message
    and exit status 1, not a traceback."""
    try:
        return asyncio.run(work())
    except (errors.UploadError, CommandFailed) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:  # `pyfiledrop ls | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        sys.exit(1)


# --- ls -------------------------------------------------------------------------------------------


async def uploads(meta: MetaStore, listing: Listing) -> AsyncIterator[Upload]:
    """Every upload the listing matches, a page at a time."""
    listing = replace(listing, limit=PAGE)
    while True:
        page = await meta.list_uploads(listing)
        for upload in page.uploads:
            yield upload
        if page.next is None:
            return
        listing = replace(listing, after=page.next)


async def ls(meta: MetaStore, listing: Listing, as_json: bool) -> None:
    """Print the uploads `listing` matches: a table, or a JSON array."""
    try:
        shown = 0
        async for upload in uploads(meta, listing):
            if as_json:
                click.echo(("[\n" if not shown else ",\n") + json.dumps(record(upload)), nl=False)
            else:
                if not shown:
                    click.echo(row(COLUMNS))
                click.echo(row(cells(upload)))
            shown += 1
        if as_json:
            click.echo("\n]" if shown else "[]")
        elif not shown:
            click.echo("no uploads", err=True)
    finally:
        await meta.close()


def record(upload: Upload) -> dict[str, Any]:
    """An upload for `ls --json`: times in ISO 8601 (UTC), null when not set or not known."""
    return {
        "id": upload.id,
        "state": upload.state.value,
        "name": upload.filename,
        "size": upload.size,
        "owner": upload.owner,
        "account": upload.account,
        "address": upload.address,
        "content_type": upload.content_type,
        "protocol": upload.protocol,
        "created_at": iso(upload.created_at),
        "updated_at": iso(upload.updated_at),
        "expires_at": iso(upload.expires_at),
        "removed_at": iso(upload.removed_at),
        "freed_bytes": upload.freed_bytes,
        "sha256": upload.sha256,
        "error": upload.error,
    }


def iso(moment: float | None) -> str | None:
    return None if moment is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def cells(upload: Upload) -> tuple[str, ...]:
    finished = upload.state in (State.COMPLETE, State.EXPIRED)
    expires = "never" if finished and upload.expires_at is None else minute(upload.expires_at)
    return (
        upload.id, upload.state.value, size(upload.size), minute(upload.created_at),
        minute(upload.updated_at), expires, upload.owner[:12], (upload.sha256 or "-")[:12],
        printable(upload.filename),
    )  # fmt: skip


def row(values: tuple[str, ...]) -> str:
    *fixed, name = values
    parts = [
        value.rjust(width) if column == "SIZE" else value.ljust(width)
        for column, value, width in zip(COLUMNS[:-1], fixed, WIDTHS, strict=True)
    ]
    return "  ".join([*parts, name])


def minute(moment: float | None) -> str:
    return "-" if moment is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(moment))


def size(value: int | None) -> str:
    return "-" if value is None else human_size(value)


def printable(name: str) -> str:
    """`name` with control and format characters (bidi overrides among them) and backslashes
    escaped. The server keeps none in new names; older records may have some."""
    return "".join(
        c.encode("unicode_escape").decode() if category(c)[0] == "C" or c == "\\" else c
        for c in name
    )


# --- rm -------------------------------------------------------------------------------------------


async def rm(service: UploadService, ids: tuple[str, ...]) -> int:
    """Remove each upload; the number that could not be (unknown ids among them)."""
    failed = 0
    try:
        for upload_id in dict.fromkeys(ids):  # each once, in the order given
            upload = await service.oversight.find(upload_id)
            if upload is None or upload.state == State.DELETED:
                click.echo(f"{printable(upload_id)}: no upload has this id", err=True)
                failed += 1
                continue
            try:
                await service.delete(upload)
            except errors.UploadError as exc:
                click.echo(f"{upload_id}: {exc.message}", err=True)
                failed += 1
                continue
            click.echo(f"removed {upload_id}  {size(upload.size)}  {printable(upload.filename)}")
    finally:
        await service.oversight.close()
    return failed


# --- gc -------------------------------------------------------------------------------------------


async def gc(service: UploadService, dry_run: bool) -> None:
    """Make a clean-up pass now and print each removal and the total (with `dry_run`, what it
    would remove, removing nothing)."""
    try:
        if dry_run:
            found = await service.cleanup.due()
            for removal in found:
                click.echo(line(removal))
        else:
            found = await _clean(service)
        click.echo(total(found, dry_run))
    finally:
        await service.oversight.close()


async def _clean(service: UploadService) -> list[Removal]:
    """A pass under the `cleanup` claim, which claims are held for this process's instance while
    it beats; this process's first pass also removes orphans (it has not listed them yet)."""
    done: list[Removal] = []

    def report(removal: Removal) -> None:
        done.append(removal)
        click.echo(line(removal))

    await service.instance.beat()
    try:
        deadline = time.monotonic() + CLAIM_WAIT
        while await service.cleanup.run_once(report) is None:
            if time.monotonic() > deadline:
                raise CommandFailed(
                    f"another process held the clean-up claim for {CLAIM_WAIT:g} s; try again later"
                )
            await asyncio.sleep(CLAIM_POLL)
    finally:
        await service.instance.leave()
    return done


def line(removal: Removal) -> str:
    name = printable(removal.upload.filename) if removal.upload else "(no record)"
    freed = "?" if removal.freed_bytes is None else human_size(removal.freed_bytes)
    return f"{removal.kind:<9}  {removal.upload_id:<32}  {freed:>9}  {name}"


def total(found: list[Removal], dry_run: bool) -> str:
    freed = sum(r.freed_bytes or 0 for r in found)
    counts = {kind: sum(r.kind == kind for r in found) for kind in ("expired", "abandoned")}
    orphans = sum(r.kind == "orphan" for r in found)
    unknown = " (and orphans' partial data, of sizes not known)" if orphans else ""
    return (
        f"{'would free' if dry_run else 'freed'} {human_size(freed)}{unknown}: "
        f"{counts['expired']} expired, {counts['abandoned']} abandoned, {orphans} orphaned"
    )


def server_settings(
    storage: Path | str,
    chunks: Path,
    database: str | None,
    s3_endpoint: str | None = None,
    s3_region: str | None = None,
    incomplete_ttl: float = Settings.incomplete_ttl,
) -> Settings:
    """The server's settings that the commands need, checked as `serve` checks them (a bad one is
    click's usage error); the database must exist, as a command never makes an empty one."""
    s3 = None
    if isinstance(storage, str):
        bucket, prefix = parse_s3_url(storage) or ("", "")
        s3 = S3Location(bucket, prefix, s3_endpoint, s3_region)
        storage = Path("storage")  # unused, as in `serve`
    settings = Settings(storage=storage, chunks=chunks, database_url=database, s3=s3,
                        incomplete_ttl=incomplete_ttl)  # fmt: skip
    for flag, reason in settings.problems():
        raise click.BadParameter(reason, param_hint=f"'{flag}'")
    if not settings.postgres_url and not settings.database.is_file():
        raise click.BadParameter(
            f"no database at {settings.database}: is --storage (or --database) the server's?",
            param_hint="'--database'",
        )
    return settings
