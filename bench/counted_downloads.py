"""What counting downloads costs: requests per second for small downloads, each kind against a
baseline measured in the same run on the same server.

    python bench/counted_downloads.py                       # local disk + SQLite
    python bench/counted_downloads.py --database postgresql://...   # PostgreSQL's metadata
    python bench/counted_downloads.py --size-kib 1024 --requests 300

One server (`pyfiledrop serve -a`), one file uploaded twice: without terms, and with
`Pyfiledrop-Max-Downloads: 1000000`. Sequential GETs on one kept-alive connection, in rounds that
alternate the kinds:
- `short range` (the baseline): the first KiB; never counted, nothing reserved;
- `counted`: the whole file of the upload without a limit: watched until acknowledged, then
  counted (one write);
- `limited`: the whole file of the limited upload: a reservation first (one write), then the same.
Medians of the rounds are printed as requests per second and as ratios to the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import Server  # noqa: E402
from tests.web.test_download_limits import shared  # noqa: E402


def rate(client: httpx.Client, path: str, headers: dict[str, str], requests: int) -> float:
    """Requests per second for `requests` GETs of `path` with `headers`, each checked."""
    start = time.perf_counter()
    for _ in range(requests):
        reply = client.get(path, headers=headers)
        assert reply.status_code in (200, 206), reply.text
    return requests / (time.perf_counter() - start)


def measure(server: Server, size: int, requests: int, rounds: int) -> dict[str, list[float]]:
    data = os.urandom(size)
    plain = shared(server, data)["download_url"].split(str(server.port), 1)[1]
    limited = shared(server, data, **{"Pyfiledrop-Max-Downloads": "1000000"})
    limited_path = limited["download_url"].split(str(server.port), 1)[1]
    kinds: dict[str, Callable[[httpx.Client], float]] = {
        "short range": lambda c: rate(c, plain, {"Range": "bytes=0-1023"}, requests),
        "counted": lambda c: rate(c, plain, {}, requests),
        "limited": lambda c: rate(c, limited_path, {}, requests),
    }
    found: dict[str, list[float]] = {name: [] for name in kinds}
    with server.client() as client:
        for run in kinds.values():  # warm up
            run(client)
        for _ in range(rounds):
            for name, run in kinds.items():
                found[name].append(run(client))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-kib", type=int, default=64)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default=None, help="postgresql://... (default: SQLite)")
    args = parser.parse_args()
    flags = ["-a", "--max-size", "64"]
    if args.database:
        flags += ["--database", args.database]
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder), *flags).start()
        try:
            found = measure(server, args.size_kib * 1024, args.requests, args.rounds)
        finally:
            server.stop()
    base = statistics.median(found["short range"])
    print(f"{args.size_kib} KiB file, {args.requests} GETs per round, {args.rounds} rounds, "
          f"metadata in {'PostgreSQL' if args.database else 'SQLite'}")  # fmt: skip
    print(f"{'kind':<12} {'requests/s':>11} {'ratio':>7}")
    for name, rates in found.items():
        median = statistics.median(rates)
        print(f"{name:<12} {median:>11.0f} {median / base:>7.2f}")


if __name__ == "__main__":
    main()
