"""Options and types that several commands share (`cli.py` and `users.py`), apart so both can
use them without importing each other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from pyfiledrop.config import parse_s3_url, parse_size


class Size(click.ParamType[int]):
    """`123`, `500M`, `10G`, `1T` (binary units); the value is bytes."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def env(name: str) -> str:
    return f"PYFILEDROP_{name}"


DATABASE = click.option(  # serve and migrate
    "--database",
    default=None,
    envvar=env("DATABASE"),
    help="Metadata database: sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME "
    "[default: pyfiledrop.sqlite3 in the storage folder].",
)


class Command(click.Command):
    """A command whose --help names each option's environment variable (every flag has one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, click.Option):
                param.show_envvar = True


@contextmanager
def database_errors() -> Iterator[None]:
    """A database that cannot be opened is a bad `--database`: its reason and exit status 2."""
    from pyfiledrop.compose import OpenError

    try:
        yield
    except OpenError as exc:
        reason = f"cannot open the database: {exc}"
        raise click.BadParameter(reason, param_hint="'--database'") from None


def server_storage(ctx: click.Context, param: click.Parameter, value: str) -> Path | str:
    """The server's --storage, a folder or an s3:// URL; nothing is created."""
    try:
        if parse_s3_url(value) is not None:
            return value
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return Path(value)


STORAGE = click.option(
    "-s",
    "--storage",
    default="./storage",
    show_default=True,
    envvar=env("STORAGE"),
    callback=server_storage,
    help="The server's --storage: folder or s3://bucket/prefix.",
)
CHUNKS = click.option(
    "-c",
    "--chunks",
    default="./chunks",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    envvar=env("CHUNKS"),
    help="The server's --chunks folder.",
)
