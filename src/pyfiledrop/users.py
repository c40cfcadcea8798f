"""`pyfiledrop user add|rm|list|passwd` and `user token add|rm`: accounts in the server's database.

They open the metadata store `serve` uses with the same -s/-c/--database (`user add` makes the
database if there is none yet, as `migrate` does; the others need it to exist) and work while
servers run on it: a server reads an account on every request that uses it, so a removed
account, token or changed password is refused at once (web/accounts.py).

Passwords never come from the command line, where other users can read them: from a prompt, the
first line of `--password-file`, or PYFILEDROP_USER_PASSWORD. A token is printed once; only its
SHA-256 is stored.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, TextIO

import click

from pyfiledrop.cli_options import CHUNKS, DATABASE, STORAGE, Command, Size, database_errors, env
from pyfiledrop.config import S3Location, Settings, parse_s3_url
from pyfiledrop.core import passwords
from pyfiledrop.core.accounts import Account, Token, check_name, new_token, token_digest
from pyfiledrop.core.interfaces import MetaStore
from pyfiledrop.manage import CommandFailed, human_size, printable, run, server_settings

PASSWORD_VARIABLE = env("USER_PASSWORD")


class Group(click.Group):
    """A group whose commands list their environment variables, as every other command's do."""

    command_class = Command
    group_class = type  # its subgroups are `Group`s too


def _open(storage: Path | str, chunks: Path, database: str | None, create: bool) -> MetaStore:
    """The server's metadata store; with `create`, made (and migrated) if there is none."""
    from pyfiledrop.compose import open_meta

    if create:
        s3 = None
        if isinstance(storage, str):
            bucket, prefix = parse_s3_url(storage) or ("", "")
            s3, storage = S3Location(bucket, prefix), Path("storage")
        settings = Settings(storage=storage, chunks=chunks, database_url=database, s3=s3)
        for flag, reason in settings.problems():
            raise click.BadParameter(reason, param_hint=f"'{flag}'")
        if not settings.postgres_url:
            settings.database.parent.mkdir(parents=True, exist_ok=True)
    else:
        settings = server_settings(storage, chunks, database)
    with database_errors():
        return open_meta(settings)


def _new_password(file: TextIO | None) -> str:
    """The password from the file, the variable, or a prompt (asked twice); a hash of it."""
    if file is not None:
        given = file.readline().rstrip("\r\n")
    elif PASSWORD_VARIABLE in os.environ:
        given = os.environ[PASSWORD_VARIABLE]
    else:
        given = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return passwords.hash_password(given)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="the password") from None


def _name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return check_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


PASSWORD_FILE = click.option(
    "--password-file",
    type=click.File("r"),
    default=None,
    help=f"Read the password from this file's first line [default: {PASSWORD_VARIABLE}, else "
    "a prompt].",
)
NAME = click.argument("name", callback=_name)


async def _using(meta: MetaStore, work: Any) -> Any:
    try:
        return await work
    finally:
        await meta.close()


@click.group(cls=Group)
def user() -> None:
    """Accounts that may upload (and, with --admin, use the admin page), kept in the server's
    database. Once one exists, uploads need an account or --upload-password."""


@user.command()
@NAME
@STORAGE
@CHUNKS
@DATABASE
@click.option("--admin", is_flag=True, help="The account may also use /admin and its API.")
@click.option("--quota-bytes", type=Size(), default=None, help="Bytes its uploads may hold "
              "(complete and unfinished), e.g. 10G [default: no limit].")  # fmt: skip
@click.option("--quota-uploads", type=click.IntRange(min=1), default=None,
              help="Unfinished uploads it may have at once [default: no limit].")  # fmt: skip
@PASSWORD_FILE
def add(
    name: str, storage: Path | str, chunks: Path, database: str | None, admin: bool,
    quota_bytes: int | None, quota_uploads: int | None, password_file: TextIO | None,
) -> None:  # fmt: skip
    """Add the account NAME; its password is asked for (or read from a file or variable)."""
    hashed = _new_password(password_file)
    meta = _open(storage, chunks, database, create=True)
    made = Account(name, hashed, admin, quota_bytes, quota_uploads, time.time())

    async def work() -> None:
        if not await _using(meta, meta.add_account(made)):
            raise CommandFailed(f"an account named {name} already exists")

    run(work)
    click.echo(f"added {'admin ' if admin else ''}account {name}")


@user.command()
@NAME
@STORAGE
@CHUNKS
@DATABASE
def rm(name: str, storage: Path | str, chunks: Path, database: str | None) -> None:
    """Remove the account NAME and its tokens (its uploads stay; servers refuse it at once)."""
    meta = _open(storage, chunks, database, create=False)

    async def work() -> None:
        if not await _using(meta, meta.remove_account(name)):
            raise CommandFailed(f"there is no account named {name}")

    run(work)
    click.echo(f"removed account {name}")


@user.command(name="list")
@STORAGE
@CHUNKS
@DATABASE
def list_(storage: Path | str, chunks: Path, database: str | None) -> None:
    """List accounts: admin or not, bytes held and open uploads against their quotas, tokens."""
    meta = _open(storage, chunks, database, create=False)

    async def work() -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        try:
            for found in await meta.accounts():
                used = await meta.usage(found.name)
                quota = "-" if found.quota_bytes is None else human_size(found.quota_bytes)
                uploads = "-" if found.quota_uploads is None else str(found.quota_uploads)
                rows.append((
                    printable(found.name), "yes" if found.admin else "no",
                    f"{human_size(used.bytes)} / {quota}", f"{used.uploads} / {uploads}",
                    str(len(await meta.tokens(found.name))),
                ))  # fmt: skip
        finally:
            await meta.close()
        return rows

    rows = run(work)
    if not rows:
        click.echo("no accounts", err=True)
        return
    table = [("NAME", "ADMIN", "STORED / QUOTA", "OPEN / QUOTA", "TOKENS"), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(line.rstrip())


@user.command()
@NAME
@STORAGE
@CHUNKS
@DATABASE
@PASSWORD_FILE
def passwd(
    name: str, storage: Path | str, chunks: Path, database: str | None,
    password_file: TextIO | None,
) -> None:  # fmt: skip
    """Give the account NAME a new password; its sessions end (its tokens stay)."""
    hashed = _new_password(password_file)
    meta = _open(storage, chunks, database, create=False)

    async def work() -> None:
        if not await _using(meta, meta.set_password(name, hashed)):
            raise CommandFailed(f"there is no account named {name}")

    run(work)
    click.echo(f"changed the password of {name}")


@user.group()
def token() -> None:
    """Tokens for scripts: `Authorization: Bearer <token>`, or `pyfiledrop upload --token`."""


@token.command(name="add")
@NAME
@click.option("--label", required=True, help="What the token is for (one per label).")
@STORAGE
@CHUNKS
@DATABASE
def token_add(
    name: str, label: str, storage: Path | str, chunks: Path, database: str | None
) -> None:
    """Make a token for the account NAME and print it (only this once: its SHA-256 is kept)."""
    meta = _open(storage, chunks, database, create=False)
    made = new_token()
    record = Token(token_digest(made), name, label, time.time())

    async def work() -> None:
        if not await _using(meta, meta.add_token(record)):
            raise CommandFailed(f"there is no account {name}, or it has a token labelled {label}")

    run(work)
    click.echo(made)
    click.echo("Keep it now: it is not shown again.", err=True)


@token.command(name="rm")
@NAME
@click.option("--label", required=True, help="The label given to `token add`.")
@STORAGE
@CHUNKS
@DATABASE
def token_rm(
    name: str, label: str, storage: Path | str, chunks: Path, database: str | None
) -> None:
    """Remove the account NAME's token LABEL: servers refuse it at once."""
    meta = _open(storage, chunks, database, create=False)

    async def work() -> None:
        if not await _using(meta, meta.remove_token(name, label)):
            raise CommandFailed(f"{name} has no token labelled {label}")

    run(work)
    click.echo(f"removed token {label} of {name}")
