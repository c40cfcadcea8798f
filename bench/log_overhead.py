"""What logs and hooks cost: the same uploads against four servers started in this run.

    quiet   --log-level error (no line per event: the baseline)
    info    the default: a line per upload event and per refusal
    access  --access-log --log-format json: also a line per request, as JSON
    all     that and a --hook-url (a receiver in a process of its own answering 204): a JSON
            body and a POST per event

Two loads, best of `--repeat` rounds (each round starts with the next server): `--size-mib` of
one file in 8 MiB raw chunks (throughput, few requests), and `--small` one-byte plain uploads one
after the other (requests per second: two events, two hook POSTs and one access line each).
Prints, for each, the speed (wall clock: noisy on a shared machine) and the server process's CPU
time per unit (steadier), each with its ratio to quiet's.

Run: python bench/log_overhead.py [--size-mib 256] [--small 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

CHUNK = 8 * 1024 * 1024


RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Ok(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(folder: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1",
               "--port", str(port), "-s", str(folder / "s"), "-c", str(folder / "c"),
               "--max-chunk-size", str(CHUNK), *flags]  # fmt: skip
    with open(folder / "stderr.log", "wb") as log:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"BENCHMARK FAILED: {flags} did not start")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def big_file(url: str, data: bytes) -> float:
    """One file sent as raw Dropzone chunks, one at a time; its MB."""
    count = -(-len(data) // CHUNK)
    fields = {
        "dzuuid": str(uuid.uuid4()),
        "dztotalfilesize": str(len(data)),
        "dzchunksize": str(CHUNK),
        "dztotalchunkcount": str(count),
        "filename": "big.bin",
    }
    with httpx.Client(base_url=url, timeout=120) as client:
        for index in range(count):
            query = fields | {"dzchunkindex": str(index), "dzchunkbyteoffset": str(index * CHUNK)}
            body = data[index * CHUNK : (index + 1) * CHUNK]
            reply = client.post("/upload", params=query, content=body)
            if reply.status_code != 200:
                raise SystemExit(f"BENCHMARK FAILED: {reply.status_code} {reply.text}")
        status = client.get(f"/upload/{fields['dzuuid']}", params={"wait": "30"}).json()
    if status["state"] != "complete":
        raise SystemExit(f"BENCHMARK FAILED: {status}")
    return len(data) / 1e6


def small_files(url: str, count: int) -> float:
    """`count` plain one-byte uploads, one after the other; their number."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for n in range(count):
            reply = client.post("/upload", params={"filename": f"{n}.txt"}, content=b"x")
            if reply.status_code != 200:
                raise SystemExit(f"BENCHMARK FAILED: {reply.status_code} {reply.text}")
    return count


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    hook_port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(hook_port)])
    hook = f"http://127.0.0.1:{hook_port}/hook"
    access = ("--access-log", "--log-format", "json")
    configs = {
        "quiet": ("--log-level", "error"),
        "info": (),
        "access": access,
        "all": (*access, "--hook-url", hook, "--hook-secret", "s"),
    }
    data = os.urandom(args.size_mib * 1024 * 1024)
    root = Path(tempfile.mkdtemp(prefix="log-overhead-"))
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    speed: dict[tuple[str, str], float] = {}  # the best units per second
    cpu: dict[tuple[str, str], float] = {}  # the least server CPU ms per unit
    loads: dict[str, tuple[str, Callable[[str], float]]] = {
        "one file in 8 MiB chunks": ("MB", lambda url: big_file(url, data)),
        f"{args.small} one-byte files": ("upload", lambda url: small_files(url, args.small)),
    }
    try:
        for name, flags in configs.items():
            (root / name).mkdir()
            servers[name] = start(root / name, *flags)
        names = list(configs)
        for round_ in range(args.repeat):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]  # who goes first
            for load, (_, run) in loads.items():
                for name in order:
                    proc, url = servers[name]
                    used, started = cpu_seconds(proc.pid), time.perf_counter()
                    units = run(url)
                    took, used = time.perf_counter() - started, cpu_seconds(proc.pid) - used
                    key = (load, name)
                    speed[key] = max(speed.get(key, 0.0), units / took)
                    cpu[key] = min(cpu.get(key, float("inf")), used * 1000 / units)
    finally:
        for proc, _ in servers.values():
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        receiver.terminate()
        receiver.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    for load, (unit, _) in loads.items():
        print(f"{load}, best of {args.repeat}:  {unit}/s, then server CPU ms per {unit}")
        for name in configs:
            fast, busy = speed[load, name], cpu[load, name]
            base_fast, base_busy = speed[load, "quiet"], cpu[load, "quiet"]
            print(f"  {name:6} {fast:9.1f} {fast / base_fast:6.2f}x   "
                  f"{busy:8.3f} {busy / base_busy:6.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
