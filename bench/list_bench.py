"""How long does one page of the uploads listing take with 100,000 uploads? SQLite and PostgreSQL.

Run from the repository root, with pyfiledrop installed and PostgreSQL's programs under
/usr/lib/postgresql/*/bin (Debian's `postgresql`; as root they run as the `postgres` user):

    python bench/list_bench.py [--uploads 100000] [--repeat 15] [--page 100]

The admin page (issue 8) and `pyfiledrop ls` read uploads through `MetaStore.list_uploads`: filter
by state, search by name, sort, one page at a time. This seeds `--uploads` uploads (states, names,
sizes, owners and times spread as a busy server's would be) into a SQLite file and a throw-away
PostgreSQL cluster (PostgreSQL's default durability settings), then times pages through the store,
as the server would ask for them. Printed per back end and query: the median and slowest of
`--repeat` runs in ms, and the median as a multiple of a baseline measured in the same run, the
same store's `get` of one upload by id (one indexed row: the cheapest question a page could ask).

The last rows compare the two ways to reach a deep page (the page after 99 % of the uploads):
keyset (what `list_uploads` does) against OFFSET, both as plain SQL on one connection, so the
ratio shows what pagination by offset would cost there. The aim is a page in under 200 ms.
The temp folder and the cluster are removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.postgres

from tests.postgres import Cluster  # noqa: E402

from pyfiledrop.core.interfaces import Listing, MetaStore, Position, Sort  # noqa: E402
from pyfiledrop.core.model import State  # noqa: E402
from pyfiledrop.meta.listing import listing_sql  # noqa: E402
from pyfiledrop.meta.postgres import PostgresMetaStore  # noqa: E402
from pyfiledrop.meta.rows import COLUMNS  # noqa: E402
from pyfiledrop.meta.sqlite import SQLiteMetaStore  # noqa: E402

WORDS = "report backup photos video holiday scan invoice dataset render build archive".split()
STATES = [(State.COMPLETE, 70), (State.EXPIRED, 15), (State.ABANDONED, 8),
          (State.RECEIVING, 5), (State.FAILED, 2)]  # fmt: skip
YEAR = 365 * 86400.0


@dataclass
class Row:
    backend: str
    query: str
    times: list[float]  # seconds
    baseline: float  # seconds: the same back end's median `get`

    def line(self) -> str:
        median, worst = statistics.median(self.times) * 1000, max(self.times) * 1000
        ratio = statistics.median(self.times) / self.baseline
        return f"{self.backend:<12}{self.query:<44}{median:>9.1f}{worst:>9.1f}{ratio:>10.0f}x"


def seed_rows(count: int) -> list[tuple[Any, ...]]:
    """`count` uploads as rows of the uploads table (`COLUMNS` order)."""
    now, rows = time.time(), []
    states = random.choices([s for s, _ in STATES], [w for _, w in STATES], k=count)
    for state in states:
        created = now - random.random() * YEAR
        size = random.randint(0, 50 * 2**30)
        name = f"{random.choice(WORDS)}-{random.randint(1, 99999)}.{random.choice(['zip', 'mp4'])}"
        done = state in (State.COMPLETE, State.EXPIRED)
        rows.append((
            secrets.token_hex(16), secrets.token_hex(16), f"owner{random.randint(1, 2000)}", name,
            "application/octet-stream", size, 8 << 20, max(1, -(-size // (8 << 20))),
            state.value, secrets.token_hex(32) if done else None,
            secrets.token_urlsafe(24) if done else None, None, None, created,
            created + random.random() * 3600, "dropzone", 0, None, None, 0, None,
            created + 7 * 86400 if done else None, None, None, None,
        ))  # fmt: skip
    return rows


def queries(rows: int) -> dict[str, Listing]:
    return {
        "newest first": Listing(descending=True),
        "complete, newest first": Listing(states=(State.COMPLETE,), descending=True),
        "abandoned or failed": Listing(states=(State.ABANDONED, State.FAILED)),
        "name contains 'backup-1'": Listing(name_contains="backup-1"),
        "name contains 'nothing like it'": Listing(name_contains="nothing like it"),
        "by name": Listing(sort=Sort.NAME),
        "largest first": Listing(sort=Sort.SIZE, descending=True),
        "last updated first": Listing(sort=Sort.UPDATED, descending=True),
        "one owner's": Listing(owner="owner7"),
        f"page after {rows * 99 // 100:,} (keyset)": Listing(descending=True),  # `after` later
    }


async def timed(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return times


async def deep_position(meta: MetaStore, rows: int) -> Position:
    """The position after the first 99 % of uploads, newest first."""
    found = await meta.list_uploads(Listing(descending=True, limit=rows * 99 // 100))
    assert found.next is not None
    return found.next


async def measure(
    backend: str, meta: MetaStore, rows: int, args: argparse.Namespace
) -> tuple[list[Row], Position]:
    """Each query's times through the store; the deep page's position."""
    some = (await meta.list_uploads(Listing(limit=1))).uploads[0].id
    await timed(lambda: meta.get(some), args.repeat)  # warm caches and connections
    baseline = statistics.median(await timed(lambda: meta.get(some), args.repeat * 4))
    deep = await deep_position(meta, rows)
    found = [Row(backend, "get one upload by id (baseline)", [baseline], baseline)]
    for name, listing in queries(rows).items():
        listing = replace(listing, limit=args.page, after=deep if "keyset" in name else None)
        await meta.list_uploads(listing)
        times = await timed(partial(meta.list_uploads, listing), args.repeat)
        found.append(Row(backend, name, times, baseline))
    return found, deep


def deep_pages_sql(
    execute: Callable[[str, dict[str, Any]], object],
    mark: Callable[[str], str],
    deep: Position,
    rows: int,
    args: argparse.Namespace,
) -> tuple[list[float], list[float]]:
    """The deep page by keyset and by OFFSET, as plain SQL on one connection."""
    keyset_sql, keyset_values = listing_sql(
        Listing(descending=True, limit=args.page, after=deep), COLUMNS, mark
    )
    offset_sql, offset_values = listing_sql(Listing(descending=True, limit=args.page), COLUMNS,
                                            mark)  # fmt: skip
    offset_sql += f" OFFSET {rows * 99 // 100}"
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(args.repeat):
        for sql, values, into in ((keyset_sql, keyset_values, times[0]),
                                  (offset_sql, offset_values, times[1])):  # fmt: skip
            began = time.perf_counter()
            execute(sql, values)
            into.append(time.perf_counter() - began)
    return times


def run_sqlite(folder: Path, seeded: list[tuple[Any, ...]], args: argparse.Namespace) -> list[Row]:
    path = folder / "meta.sqlite3"
    asyncio.run(SQLiteMetaStore(path).close())  # the schema
    with sqlite3.connect(path) as db:
        marks = ", ".join("?" * len(COLUMNS.split(",")))
        db.executemany(f"INSERT INTO uploads ({COLUMNS}) VALUES ({marks})", seeded)

    async def go() -> tuple[list[Row], Position]:
        meta = SQLiteMetaStore(path)
        try:
            return await measure("sqlite", meta, len(seeded), args)
        finally:
            await meta.close()

    found, deep = asyncio.run(go())
    db = sqlite3.connect(path)
    try:
        keyset, offset = deep_pages_sql(
            lambda sql, values: db.execute(sql, values).fetchall(),
            lambda name: f":{name}", deep, len(seeded), args,
        )  # fmt: skip
    finally:
        db.close()
    return found + compare("sqlite", keyset, offset)


def run_postgres(url: str, seeded: list[tuple[Any, ...]], args: argparse.Namespace) -> list[Row]:
    async def schema() -> None:
        await PostgresMetaStore(url).close()

    asyncio.run(schema())
    with psycopg.connect(url) as db, db.cursor() as cursor:
        with cursor.copy(f"COPY uploads ({COLUMNS}) FROM STDIN") as copy:
            for row in seeded:
                copy.write_row(row)
        db.commit()
        db.execute("ANALYZE uploads")

    async def go() -> tuple[list[Row], Position]:
        meta = PostgresMetaStore(url)
        try:
            return await measure("postgresql", meta, len(seeded), args)
        finally:
            await meta.close()

    found, deep = asyncio.run(go())
    with psycopg.connect(url, autocommit=True) as db:
        keyset, offset = deep_pages_sql(
            lambda sql, values: db.execute(sql, values).fetchall(),
            lambda name: f"%({name})s", deep, len(seeded), args,
        )  # fmt: skip
    return found + compare("postgresql", keyset, offset)


def compare(backend: str, keyset: list[float], offset: list[float]) -> list[Row]:
    """The deep page by OFFSET, as a multiple of the same page by keyset."""
    base = statistics.median(keyset)
    return [
        Row(backend, "deep page, plain SQL: keyset (baseline)", keyset, base),
        Row(backend, "deep page, plain SQL: OFFSET", offset, base),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15, help="runs of each query")
    parser.add_argument("--page", type=int, default=100, help="uploads per page")
    args = parser.parse_args()
    random.seed(7)
    seeded = seed_rows(args.uploads)
    cluster = Cluster(durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="list-bench-") as folder:
            rows = run_sqlite(Path(folder), seeded, args)
        rows += run_postgres(cluster.create_database(), seeded, args)
    finally:
        cluster.stop()
    print(f"{args.uploads:,} uploads, pages of {args.page}, {args.repeat} runs each")
    print(f"{'back end':<12}{'query':<44}{'median ms':>9}{'max ms':>9}{'x baseline':>11}")
    for row in rows:
        print(row.line())


if __name__ == "__main__":
    main()
