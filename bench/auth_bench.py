"""What credentials cost a chunk: the same chunk requests sent with no credentials (uploads
open), with an account's name and password (Basic), an account's token (Bearer) and an account's
session cookie; and one argon2id check, which a process pays once per password it has not
verified yet (web/accounts.py remembers it).

Two real servers on their own folders (local disk + SQLite): one open, one with an account.
Rounds alternate between the ways, each going first in turn, so a noisy machine affects them
alike; each figure is the median time per chunk request, and its ratio to the open server's
measured in the same run.

Run: python bench/auth_bench.py [--chunks 200] [--rounds 5] [--chunk-size 65536]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.conftest

from tests.conftest import Server  # noqa: E402

from pyfiledrop.core import passwords  # noqa: E402

PASSWORD = "a long enough password"


def add_account(root: Path) -> str:
    """An account `bench` with a token; the token."""
    where = ["-s", str(root / "storage"), "-c", str(root / "chunks")]
    env = {**os.environ, "PYFILEDROP_USER_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "pyfiledrop", "user"]
    subprocess.run([*command, "add", "bench", *where], check=True, env=env, capture_output=True)
    made = subprocess.run([*command, "token", "add", "bench", "--label", "b", *where],
                          check=True, env=env, capture_output=True, text=True)  # fmt: skip
    return made.stdout.strip()


def send_chunks(client: httpx.Client, count: int, size: int) -> float:
    """Seconds per chunk request: one upload of `count` chunks, sent one after another."""
    data = os.urandom(size)
    fields = {"dzuuid": str(uuid.uuid4()), "dztotalchunkcount": str(count),
              "dzchunksize": str(size), "dztotalfilesize": str(size * count),
              "filename": "bench.bin"}  # fmt: skip
    started = time.perf_counter()
    for index in range(count):
        params = {**fields, "dzchunkindex": str(index), "dzchunkbyteoffset": str(index * size)}
        reply = client.post("/upload", params=params, content=data)
        assert reply.status_code == 200, reply.text
    return (time.perf_counter() - started) / count


def argon2_check() -> float:
    hashed = passwords.hash_password(PASSWORD)
    started = time.perf_counter()
    for _ in range(5):
        passwords.verify(hashed, PASSWORD)
    return (time.perf_counter() - started) / 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk-size", type=int, default=64 * 1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as open_root, tempfile.TemporaryDirectory() as root:
        token = add_account(Path(root))
        flags = ("--max-size", "4096", "--max-open-uploads", "0")
        servers = [Server(Path(open_root), *flags).start(), Server(Path(root), *flags).start()]
        try:
            signed = httpx.Client(base_url=servers[1].url, timeout=60)
            reply = signed.post("/sign-in", data={"name": "bench", "password": PASSWORD})
            assert reply.status_code == 303, reply.text
            basic = base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
            ways: dict[str, Callable[[], httpx.Client]] = {
                "open (no credentials)": lambda: httpx.Client(base_url=servers[0].url),
                "Basic name:password": lambda: httpx.Client(
                    base_url=servers[1].url, headers={"Authorization": f"Basic {basic}"}),
                "Bearer token": lambda: httpx.Client(
                    base_url=servers[1].url, headers={"Authorization": f"Bearer {token}"}),
                "session cookie": lambda: signed,
            }  # fmt: skip
            times: dict[str, list[float]] = {name: [] for name in ways}
            names = list(ways)
            for round_ in range(args.rounds):  # each way goes first in turn
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    times[name].append(send_chunks(ways[name](), args.chunks, args.chunk_size))
        finally:
            for server in servers:
                server.stop()
    base = statistics.median(times["open (no credentials)"])
    print(f"{args.chunks} chunks of {args.chunk_size} bytes, {args.rounds} rounds; median:")
    for name, found in times.items():
        median = statistics.median(found)
        print(f"  {name:<24} {median * 1000:7.2f} ms per chunk  x{median / base:.2f}")
    check = argon2_check()
    print(f"  {'one argon2id check':<24} {check * 1000:7.2f} ms            x{check / base:.2f}"
          "  (once per password a process has not verified)")  # fmt: skip


if __name__ == "__main__":
    main()
