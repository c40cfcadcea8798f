"""Peak server memory against the number of chunk uploads in flight at once.

    python bench/connections.py                          # 50 ... 800 in flight, --max-streams 64
    python bench/connections.py --max-streams 100000     # the same without turns
    python bench/connections.py --counts 300,600 --max-connections 256

For each count a fresh `pyfiledrop serve` is started on 127.0.0.1 and its idle RSS read from
/proc/PID/status after one request. Then that many connections each send a chunk's headers (raw
Dropzone 6 body, the first of two chunks of its own file) and the first quarter of its body,
and wait until the server holds all of them (its RSS then is "held"); then they send the rest and
read the answers. The server's VmHWM (peak RSS over its life) is printed next to its idle RSS,
with the cost per connection served.
Connections above --max-connections get 503 at once; they are counted under "refused". Bodies
beyond --max-streams wait for a turn with their body unread (the server's default: 64).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

MB = 1_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024 / MB
    return found


def start_server(
    root: Path, port: int, max_connections: int, max_streams: int
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port", str(port),
        "-s", str(root / "storage"), "-c", str(root / "chunks"),
        "--max-connections", str(max_connections), "--max-streams", str(max_streams),
        "--header-timeout", "120",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


async def held_request(
    port: int, head: str, body: bytes, first: int, held: asyncio.Semaphore, go: asyncio.Event
) -> int:
    """Send `head` and `first` body bytes, report it held, wait for `go`, send the rest; the
    answer's status (0: refused and closed before the body was sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body[:first])
        await writer.drain()
        held.release()
        await go.wait()
        writer.write(body[first:])
        await writer.drain()
        return int((await reader.readline()).split()[1])
    except (ConnectionError, IndexError):
        return 0
    finally:
        writer.close()


async def one_chunk(
    port: int, body: bytes, first: int, held: asyncio.Semaphore, go: asyncio.Event
) -> int:
    """A chunk held after `first` body bytes (see `held_request`). The first of two chunks: the
    file is never finished, so only the requests in flight are measured, not the hashing of
    finished files."""
    query = (
        f"dzuuid={uuid.uuid4()}&dzchunkindex=0&dztotalfilesize={2 * len(body)}"
        f"&dzchunksize={len(body)}&dztotalchunkcount=2&dzchunkbyteoffset=0&filename=f.bin"
    )
    head = (
        f"POST /upload?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return await held_request(port, head, body, first, held, go)


async def in_flight(port: int, count: int, chunk: int, pid: int) -> tuple[float, float, int]:
    """Hold `count` chunk uploads in flight at once, then finish them; (RSS while held, VmHWM,
    refused)."""
    body = os.urandom(chunk)
    held, go = asyncio.Semaphore(0), asyncio.Event()
    tasks = [asyncio.create_task(one_chunk(port, body, chunk // 4, held, go)) for _ in range(count)]
    for _ in range(count):
        await held.acquire()
    await asyncio.sleep(1)  # let the server read what was sent (a bench, not a test)
    held_rss = memory_mb(pid)["VmRSS"]
    go.set()
    statuses = await asyncio.gather(*tasks)
    return held_rss, memory_mb(pid)["VmHWM"], sum(1 for s in statuses if s != 200)


def measure(
    count: int, chunk: int, max_connections: int, max_streams: int
) -> tuple[float, float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        proc = start_server(Path(folder), port, max_connections, max_streams)
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
            idle = memory_mb(proc.pid)["VmRSS"]
            held, peak, refused = asyncio.run(in_flight(port, count, chunk, proc.pid))
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return idle, held, peak, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="50,100,200,400,800")
    parser.add_argument("--chunk", type=int, default=MB, help="chunk size in bytes")
    parser.add_argument("--max-connections", type=int, default=100_000)
    parser.add_argument("--max-streams", type=int, default=64)
    args = parser.parse_args()
    print(
        f"chunk {args.chunk} bytes, --max-connections {args.max_connections}, "
        f"--max-streams {args.max_streams}"
    )
    names = ("in flight", "idle MB", "held MB", "VmHWM MB", "MB/conn", "refused")
    print(" ".join(f"{name:>9}" for name in names))
    for count in (int(c) for c in args.counts.split(",")):
        idle, held, peak, refused = measure(
            count, args.chunk, args.max_connections, args.max_streams
        )
        served = count - refused
        per = (peak - idle) / served if served else 0.0
        print(f"{count:>9} {idle:>9.1f} {held:>9.1f} {peak:>9.1f} {per:>9.2f} {refused:>9}")


if __name__ == "__main__":
    main()
