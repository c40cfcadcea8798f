"""How long does the admin page take with 100,000 uploads? Its API's first pages and its summary,
on SQLite and PostgreSQL.

Run from the repository root, with pyfiledrop installed and PostgreSQL's programs under
/usr/lib/postgresql/*/bin (Debian's `postgresql`; as root they run as the `postgres` user):

    python bench/admin_bench.py [--uploads 100000] [--repeat 15]

Seeds `--uploads` uploads (list_bench's mix of states, names, sizes, owners and times over a
year; finished files not yet due to expire and unfinished ones recently active, so the server's
clean-up leaves them alone while it is measured) into a SQLite file and a throw-away PostgreSQL
cluster (PostgreSQL's default durability settings). Then, for each, a real server
(`pyfiledrop serve --admin-password ...`) on that database, asked over HTTP with keep-alive as
admin.js asks: the first page of 50 (newest first, filtered by state, searched by name, by name),
the second page by its cursor, and the summary. Printed: the median and slowest of `--repeat` runs
in ms, and the median as a multiple of a baseline measured in the same run on the same server:
GET /download/<unknown token>, one indexed lookup through the same HTTP stack. Below, the same
store's questions without HTTP, against `MetaStore.get` of one upload by id. The aim: a page in
under 200 ms. The temp folder, the server and the cluster are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.postgres
sys.path.insert(0, str(Path(__file__).resolve().parent))  # list_bench

from list_bench import seed_rows  # noqa: E402
from tests.postgres import Cluster  # noqa: E402

from pyfiledrop.core.interfaces import Listing, MetaStore  # noqa: E402
from pyfiledrop.core.model import State  # noqa: E402
from pyfiledrop.meta.postgres import PostgresMetaStore  # noqa: E402
from pyfiledrop.meta.rows import COLUMNS  # noqa: E402
from pyfiledrop.meta.sqlite import SQLiteMetaStore  # noqa: E402
from pyfiledrop.web.admin_views import since  # noqa: E402

PASSWORD = "bench"
NAMES = [name.strip() for name in COLUMNS.split(",")]
STATE, UPDATED, EXPIRES = (NAMES.index(n) for n in ("state", "updated_at", "expires_at"))
PAGES = {
    "first page, newest first": {},
    "first page, receiving only": {"state": "receiving"},
    "first page, name contains 'backup-1'": {"q": "backup-1"},
    "first page, by name": {"sort": "name", "order": "asc"},
    "first page, largest first": {"sort": "size"},
}


@dataclass
class Row:
    backend: str
    query: str
    times: list[float]  # seconds
    baseline: float  # seconds

    def line(self) -> str:
        median, worst = statistics.median(self.times) * 1000, max(self.times) * 1000
        ratio = statistics.median(self.times) / self.baseline
        return f"{self.backend:<12}{self.query:<46}{median:>9.1f}{worst:>9.1f}{ratio:>10.1f}x"


def settled(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows with finished files due in a month and unfinished uploads active a minute ago:
    nothing the running server's clean-up would remove while it is measured."""
    now, found = time.time(), []
    for row in rows:
        values = list(row)
        if values[STATE] == State.COMPLETE.value:
            values[EXPIRES] = now + 30 * 86400 + random.random() * 86400
        elif values[STATE] in (State.RECEIVING.value, State.FAILED.value):
            values[UPDATED] = now - random.random() * 60
        found.append(tuple(values))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return times


def get(client: httpx.Client, path: str, status: int = 200, **params: Any) -> httpx.Response:
    reply = client.get(path, params=params)
    assert reply.status_code == status, (path, reply.status_code, reply.text[:200])
    return reply


def over_http(backend: str, folder: Path, database: str, repeat: int) -> list[Row]:
    """The admin API of a real server on `database`, against its 404 for an unknown token."""
    port = free_port()
    command = [
        sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port", str(port),
        "-s", str(folder / "storage"), "-c", str(folder / "chunks"), "--database", database,
        "-a", "--admin-password", PASSWORD,
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=("", PASSWORD)) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get("/favicon.ico")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.1)
            return ask(client, backend, repeat)
    finally:
        server.terminate()
        server.wait(30)


def ask(client: httpx.Client, backend: str, repeat: int) -> list[Row]:
    lookup = "/download/" + "x" * 32
    timed(lambda: get(client, lookup, 404), repeat)  # warm the connections
    base = statistics.median(timed(lambda: get(client, lookup, 404), repeat * 4))
    found = [Row(backend, "GET /download/<unknown> (baseline)", [base], base)]
    for name, params in PAGES.items():
        get(client, "/admin/api/uploads", **params)
        times = timed(partial(get, client, "/admin/api/uploads", **params), repeat)
        found.append(Row(backend, name, times, base))
    after = get(client, "/admin/api/uploads").json()["next"]
    times = timed(lambda: get(client, "/admin/api/uploads", after=after), repeat)
    found.append(Row(backend, "second page, by its cursor", times, base))
    times = timed(lambda: get(client, "/admin/api/summary"), repeat)
    found.append(Row(backend, "summary (30 days)", times, base))
    return found


async def atimed(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return times


async def in_store(backend: str, meta: MetaStore, repeat: int) -> list[Row]:
    """The store's part of the same answers, against one `get` by id."""
    try:
        some = (await meta.list_uploads(Listing(limit=1))).uploads[0].id
        await atimed(lambda: meta.get(some), repeat)
        base = statistics.median(await atimed(lambda: meta.get(some), repeat * 4))

        async def first_page() -> None:
            page = await meta.list_uploads(Listing(descending=True, limit=50))
            await meta.chunks_received([u.id for u in page.uploads if u.state == State.RECEIVING])

        return [
            Row(backend, "store: get one upload by id (baseline)", [base], base),
            Row(backend, "store: first page + chunks received", await atimed(first_page, repeat),
                base),
            Row(backend, "store: summary", await atimed(lambda: meta.summary(since(time.time())),
                                                        repeat), base),
        ]  # fmt: skip
    finally:
        await meta.close()


def run_sqlite(folder: Path, seeded: list[tuple[Any, ...]], repeat: int) -> list[Row]:
    path = folder / "meta.sqlite3"
    asyncio.run(SQLiteMetaStore(path).close())  # the schema
    with sqlite3.connect(path) as db:
        marks = ", ".join("?" * len(NAMES))
        db.executemany(f"INSERT INTO uploads ({COLUMNS}) VALUES ({marks})", seeded)
    rows = over_http("sqlite", folder, f"sqlite:///{path}", repeat)
    return rows + asyncio.run(in_store("sqlite", SQLiteMetaStore(path), repeat))


def run_postgres(folder: Path, url: str, seeded: list[tuple[Any, ...]], repeat: int) -> list[Row]:
    async def schema() -> None:
        await PostgresMetaStore(url).close()

    asyncio.run(schema())
    with psycopg.connect(url) as db, db.cursor() as cursor:
        with cursor.copy(f"COPY uploads ({COLUMNS}) FROM STDIN") as copy:
            for row in seeded:
                copy.write_row(row)
        db.commit()
        db.execute("ANALYZE uploads")
    rows = over_http("postgresql", folder, url, repeat)

    async def store() -> list[Row]:
        return await in_store("postgresql", PostgresMetaStore(url), repeat)

    return rows + asyncio.run(store())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15, help="runs of each question")
    args = parser.parse_args()
    random.seed(7)
    seeded = settled(seed_rows(args.uploads))
    cluster = Cluster(durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="admin-bench-") as folder:
            rows = run_sqlite(Path(folder) / "sqlite", seeded, args.repeat)
            rows += run_postgres(Path(folder) / "pg", cluster.create_database(), seeded,
                                 args.repeat)  # fmt: skip
    finally:
        cluster.stop()
    print(f"{args.uploads:,} uploads, pages of 50, {args.repeat} runs each")
    print(f"{'back end':<12}{'question':<46}{'median ms':>9}{'max ms':>9}{'x baseline':>11}")
    for row in rows:
        print(row.line())


if __name__ == "__main__":
    main()
