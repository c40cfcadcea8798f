"""How many chunks per second can the metadata store record? SQLite against PostgreSQL.

Run from the repository root, with pyfiledrop installed and PostgreSQL's programs under
/usr/lib/postgresql/*/bin (Debian's `postgresql`; as root they run as the `postgres` user):

    python bench/meta_bench.py [--seconds 3] [--tasks 4] [--database postgresql://...]

Each chunk costs the store one `start_chunk` (claim the chunk, check the upload is receiving)
and one `end_chunk` (record it, release the claim, count the received chunks): the pair every
chunk request makes. `--tasks` coroutines in one event loop send pairs back to back for
`--seconds`, after a warm-up, through one store object (one server process). Two workloads:
  one upload   all tasks on chunks of one upload (they contend for its row)
  own uploads  each task on chunks of its own upload
Back ends, measured in the same run on the same machine (these machines are shared and noisy):
  sqlite                  a file in a temp folder (WAL, synchronous=NORMAL: no fsync per commit)
  postgresql durable      a throw-away cluster on 127.0.0.1 with PostgreSQL's default settings
                          (every commit waits for its WAL fsync)
  postgresql async commit the same cluster, the store's connections with synchronous_commit=off
                          (the nearest to SQLite's synchronous=NORMAL: a crash may lose the last
                          commits, never corrupt)
`--database` measures an existing PostgreSQL database instead of a throw-away cluster (its
tables are created if missing; the benchmark's rows are deleted afterwards).

Printed: pairs per second and the p50 / p99 latency of one pair, per back end and workload.
The temp folder and the cluster are removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.postgres

from tests.postgres import Cluster  # noqa: E402

from pyfiledrop.core.interfaces import ChunkStart, MetaStore  # noqa: E402
from pyfiledrop.core.model import Layout, State, Upload  # noqa: E402
from pyfiledrop.meta.postgres import PostgresMetaStore  # noqa: E402
from pyfiledrop.meta.sqlite import SQLiteMetaStore  # noqa: E402

CHUNKS = 10_000_000  # chunk indexes never run out within a run


@dataclass
class Result:
    backend: str
    workload: str
    pairs: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.pairs / self.seconds


def new_upload() -> Upload:
    now = time.time()
    return Upload(
        id=secrets.token_hex(16), client_id=None, owner="bench", filename="f", content_type="x/y",
        layout=Layout(CHUNKS, 1, CHUNKS), state=State.RECEIVING, created_at=now, updated_at=now,
    )  # fmt: skip


async def pairs(
    meta: MetaStore, tasks: int, seconds: float, shared: bool
) -> tuple[int, list[float]]:
    """Send start/end pairs from `tasks` tasks for `seconds`; the count and each pair's time."""
    instance = secrets.token_hex(8)
    await meta.heartbeat(instance, "bench", 1)
    uploads = [await meta.create_or_get(new_upload()) for _ in range(1 if shared else tasks)]
    indexes = itertools.count()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def task(n: int) -> None:
        upload = uploads[0 if shared else n]
        holder = f"{instance}:{n}"
        while time.perf_counter() < deadline:
            index = next(indexes)
            began = time.perf_counter()
            started = await meta.start_chunk(upload.id, index, holder, instance, 60)
            assert started == ChunkStart.CLAIMED, started
            await meta.end_chunk(upload.id, index, holder)
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(task(n) for n in range(tasks)))
    for upload in uploads:
        await meta.delete(upload.id)
    return len(latencies), latencies


async def measure(
    backend: str, make: Callable[[], MetaStore], args: argparse.Namespace
) -> list[Result]:
    meta = make()
    try:
        await pairs(meta, args.tasks, args.warmup, shared=True)
        results = []
        for workload, shared in (("one upload", True), ("own uploads", False)):
            began = time.perf_counter()
            count, latencies = await pairs(meta, args.tasks, args.seconds, shared)
            results.append(Result(backend, workload, count, time.perf_counter() - began, latencies))
        return results
    finally:
        await meta.close()


def with_options(url: str, options: str) -> str:
    return (
        url
        + ("&" if "?" in url else "?")
        + "options="
        + options.replace(" ", "%20").replace("=", "%3D")
    )


def print_table(results: list[Result]) -> None:
    print(f"{'back end':<26}{'workload':<14}{'pairs/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for r in results:
        ordered = sorted(r.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        print(f"{r.backend:<26}{r.workload:<14}{r.rate:>10.0f}{p50:>9.2f}{p99:>9.2f}")


async def run(args: argparse.Namespace, folder: Path, url: str) -> list[Result]:
    backends: list[tuple[str, Callable[[], MetaStore]]] = [
        ("sqlite", lambda: SQLiteMetaStore(folder / "meta.sqlite3")),
        ("postgresql durable", lambda: PostgresMetaStore(url)),
        ("postgresql async commit",
         lambda: PostgresMetaStore(with_options(url, "-c synchronous_commit=off"))),
    ]  # fmt: skip
    results = []
    for name, make in backends:
        results += await measure(name, make, args)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per workload and back end")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--tasks", type=int, default=4, help="concurrent tasks")
    parser.add_argument("--database", help="an existing PostgreSQL database to measure")
    args = parser.parse_args()
    cluster = None if args.database else Cluster(durable=True)
    try:
        url = args.database or cluster.url()  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory(prefix="meta-bench-") as folder:
            results = asyncio.run(run(args, Path(folder), url))
    finally:
        if cluster:
            cluster.stop()
    print(f"{args.tasks} tasks, {args.seconds:g} s per row, one store object each")
    print_table(results)


if __name__ == "__main__":
    main()
