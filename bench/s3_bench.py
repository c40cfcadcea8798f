"""Upload throughput to S3 storage (a local SeaweedFS) against the store's own ceiling, in one run.

Measured (1 MB = 10^6 bytes):
  boto3 ceiling     boto3's own multipart upload of the file (upload_file, 8 MiB parts, 4 threads,
                    unsigned payload as pyfiledrop sends it) to the same SeaweedFS: what the store
                    takes here
  pyfiledrop s3 @C  chunks of C bytes, 4 in flight (raw-body Dropzone protocol, as the command-line
                    client sends them) to `pyfiledrop serve --storage s3://...`, timed from the
                    first byte until GET /upload/<id> reports "complete" with the SHA-256 (checked)
  pyfiledrop disk   the same to `pyfiledrop serve` on the local disk
  tail              seconds from the last chunk's answer to "complete": the finishing step
                    (gathering small chunks, CompleteMultipartUpload, the rest of the SHA-256)
  hash by download  GET of the finished object and SHA-256 of it: what the digest costs when the
                    running digest could not follow the chunks (the fallback in `complete`)
  held @8 MiB       memory with --held requests (64, the server's --max-streams) arriving at once
                    on a fresh S3 server: each sends its headers and 7/8 of an 8 MiB body, then
                    waits; the server's RSS then ("held") and its VmHWM once every request has
                    sent the rest and been answered. "chunks": Dropzone raw-body chunks (the first
                    of two, so no file is finished); "tus": PATCHes of 8 MiB at offset 0 of
                    16 MiB uploads. Idle is the RSS after one request, before them

The store is warmed up first (its first upload allocates volumes); the ceiling and the 8 MiB run
alternate for --repeat rounds, since the store slows as it fills (a run straight after another
was up to a quarter slower here), and each figure is the median of its runs.

Run from the repository root:
    python bench/s3_bench.py [--size-mib 1024] [--no-small] [--repeat 2] [--held 64]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from boto3.s3.transfer import TransferConfig  # noqa: E402
from tests.seaweed import SeaweedFS, free_ports  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from connections import held_request  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
MB = 1_000_000
MIB = 1 << 20
PARALLEL = 4
AIM = 0.8


@dataclass
class Result:
    label: str
    seconds: float
    size: int
    note: str = ""
    cpu: str = ""  # CPU seconds per GiB of the store, the server and the client, if measured

    @property
    def mbps(self) -> float:
        return self.size / self.seconds / MB


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 8 * MIB))
            digest.update(block)
            f.write(block)
            left -= len(block)
    return digest.hexdigest()


def start_server(
    work: Path, *flags: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    work.mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1)
    log = open(work / f"server-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port", str(port),
         "-s", str(work / "storage"), "-c", str(work / "chunks"), "--max-chunk-size",
         str(16 * MIB), *flags],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/favicon.ico")
            conn.getresponse().read()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((work / f"server-{port}.log").read_text()) from None
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status (VmRSS, VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / MB
    return 0.0


def vm_hwm_mb(pid: int) -> float:
    return status_mb(pid, "VmHWM")


def send_chunks(port: int, path: Path, size: int, chunk: int, sha: str) -> tuple[float, float]:
    """Every chunk, PARALLEL in flight; (seconds until complete, seconds of the finishing tail)."""
    count = max(1, -(-size // chunk))
    client_id = str(uuid.uuid4())
    cookie = "pyfiledrop_client=" + "b" * 43
    todo = list(range(count))
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        with open(path, "rb") as f:
            while True:
                with lock:
                    if not todo or failures:
                        return
                    index = todo.pop(0)
                f.seek(index * chunk)
                data = f.read(chunk)
                query = urlencode({
                    "dzuuid": client_id, "dzchunkindex": index, "dztotalfilesize": size,
                    "dzchunksize": chunk, "dztotalchunkcount": count,
                    "dzchunkbyteoffset": index * chunk, "filename": path.name,
                })  # fmt: skip
                conn.request("POST", f"/upload?{query}", body=data, headers={"Cookie": cookie})
                reply = conn.getresponse()
                body = reply.read()
                if reply.status != 200:
                    failures.append(f"chunk {index}: {reply.status} {body[:200]!r}")

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = time.monotonic()
    if failures:
        raise RuntimeError(failures[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while True:
        conn.request("GET", f"/upload/{client_id}?wait=30", headers={"Cookie": cookie})
        reply = conn.getresponse()
        status = json.loads(reply.read())
        if status["state"] in ("complete", "failed"):
            break
    done = time.monotonic()
    if status.get("sha256") != sha:
        raise RuntimeError(f"wrong or missing SHA-256: {status}")
    return done - start, done - sent


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class CPUs:
    """CPU seconds spent during a run by the store, the server (if any) and this process: on a
    machine of few cores they share, where the time goes says what a ratio can reach."""

    def __init__(self, store: SeaweedFS, server: int | None = None) -> None:
        assert store.proc is not None
        self.pids = {"store": store.proc.pid, **({"server": server} if server else {})}
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.client = time.process_time()

    def per_gib(self, size: int) -> str:
        spent = {name: cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}
        spent["client"] = time.process_time() - self.client
        gib = size / (1 << 30)
        return ", ".join(f"{name} {seconds / gib:.1f}" for name, seconds in spent.items())


def shown(run: Result) -> Result:
    """`run`, printed as it ends (to stderr): the spread is part of the figure."""
    print(
        f"  run: {run.label} {run.mbps:.0f} MB/s, {run.note}; CPU s/GiB {run.cpu}", file=sys.stderr
    )
    return run


def median(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def measure_boto3(store: SeaweedFS, path: Path, size: int) -> Result:
    client = store.client(
        max_pool_connections=PARALLEL * 2, s3={"payload_signing_enabled": False}
    )  # the client settings pyfiledrop uses
    config = TransferConfig(
        multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=PARALLEL
    )
    start, cpus = time.monotonic(), CPUs(store)
    client.upload_file(str(path), "bench", "ceiling/file.bin", Config=config)
    seconds, cpu = time.monotonic() - start, cpus.per_gib(size)
    client.delete_object(Bucket="bench", Key="ceiling/file.bin")
    return Result("boto3 multipart (ceiling)", seconds, size, "8 MiB parts, 4 threads", cpu)


def measure_server(
    label: str, work: Path, path: Path, size: int, chunk: int, sha: str, flags: list[str],
    env: dict[str, str], store: SeaweedFS,
) -> Result:  # fmt: skip
    proc, port = start_server(work, *flags, env=env)
    try:
        cpus = CPUs(store, proc.pid)
        seconds, tail = send_chunks(port, path, size, chunk, sha)
        cpu = cpus.per_gib(size)
        memory = vm_hwm_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    note = f"tail {tail:.2f} s, server peak {memory:.0f} MB"
    return Result(label, seconds, size, note, cpu)


def tus_upload(port: int, size: int) -> str:
    """A tus upload of `size` bytes: its path."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/files/", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(size)})
    reply = conn.getresponse()
    reply.read()
    if reply.status != 201:
        raise RuntimeError(f"tus create: {reply.status}")
    return "/" + reply.getheader("Location", "").split("/", 3)[3]


async def hold(port: int, pid: int, heads: list[str], body: bytes) -> tuple[float, float]:
    """Hold the requests with these heads at once, then finish them; (RSS held, VmHWM)."""
    held, go = asyncio.Semaphore(0), asyncio.Event()
    first = len(body) * 7 // 8
    tasks = [asyncio.create_task(held_request(port, h, body, first, held, go)) for h in heads]
    for _ in heads:
        await held.acquire()
    await asyncio.sleep(2)  # the server reads what was sent
    rss = status_mb(pid, "VmRSS")
    go.set()
    statuses = await asyncio.gather(*tasks)
    if any(s not in (200, 204) for s in statuses):
        raise RuntimeError(f"held requests answered {sorted(set(statuses))}")
    return rss, vm_hwm_mb(pid)


def measure_held(kind: str, work: Path, count: int, flags: list[str], env: dict[str, str]) -> str:
    chunk = 8 * MIB
    proc, port = start_server(work, *flags, env=env)
    try:
        tus_upload(port, chunk)  # one request: the server's idle memory with its code loaded
        idle = status_mb(proc.pid, "VmRSS")
        body = os.urandom(chunk)
        if kind == "chunks":
            heads = []
            for _ in range(count):
                query = urlencode({
                    "dzuuid": str(uuid.uuid4()), "dzchunkindex": 0, "dztotalfilesize": 2 * chunk,
                    "dzchunksize": chunk, "dztotalchunkcount": 2, "dzchunkbyteoffset": 0,
                    "filename": "held.bin",
                })  # fmt: skip
                heads.append(
                    f"POST /upload?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Length: {chunk}\r\nCookie: pyfiledrop_client={'c' * 43}\r\n\r\n"
                )
        else:
            heads = [
                f"PATCH {tus_upload(port, 2 * chunk)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {chunk}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                "Content-Type: application/offset+octet-stream\r\n\r\n"
                for _ in range(count)
            ]
        rss, peak = asyncio.run(hold(port, proc.pid, heads, body))
    finally:
        proc.terminate()
        proc.wait(30)
    return (
        f"  held @8 MiB, {count} {kind:6}  idle {idle:4.0f} MB  held {rss:4.0f} MB  "
        f"peak {peak:4.0f} MB  ({(peak - idle) / count:.2f} MB per request above idle)"
    )


def measure_hash_by_download(store: SeaweedFS, path: Path, size: int) -> Result:
    client = store.client()
    client.upload_file(str(path), "bench", "hash/file.bin")
    start = time.monotonic()
    body = client.get_object(Bucket="bench", Key="hash/file.bin")["Body"]
    digest = hashlib.sha256()
    while block := body.read(8 * MIB):
        digest.update(block)
    seconds = time.monotonic() - start
    client.delete_object(Bucket="bench", Key="hash/file.bin")
    return Result("hash by download (fallback)", seconds, size, "GET + SHA-256 of the object")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--no-small", action="store_true", help="skip the 1 MB chunk run on S3")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of ceiling and @8 MiB")
    parser.add_argument("--held", type=int, default=64, help="requests held at once (0: none)")
    parser.add_argument("--only-held", action="store_true", help="only the held measurements")
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="s3bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        path = work / "file.bin"
        sha = make_file(path, size) if not args.only_held else ""
        store = SeaweedFS(work / "weed").start()
        held: list[str] = []
        results: list[Result] = []
        try:
            store.bucket("bench")
            env = store.env()
            endpoint = ["--s3-endpoint", store.endpoint]

            def s3(run: str) -> list[str]:
                """Each run its own prefix: a second run of the same file to the same prefix
                would find its content stored and skip placing it."""
                return ["--storage", f"s3://bench/{run}", *endpoint]

            for kind in ("chunks", "tus") if args.held else ():
                held.append(measure_held(kind, work / f"held-{kind}", args.held, s3(kind), env))
            if args.only_held:
                print("\n".join(held))
                return
            hashed = measure_hash_by_download(store, path, size)  # also warms the store up
            ceilings: list[Result] = []
            ours: list[Result] = []
            for n in range(args.repeat):  # alternating: the store slows as it fills
                ceilings.append(shown(measure_boto3(store, path, size)))
                ours.append(shown(measure_server(
                    "pyfiledrop s3 @8 MiB", work / f"s3-{n}", path, size, 8 * MIB, sha,
                    s3(f"big-{n}"), env, store,
                )))  # fmt: skip
            print("  ratios by round: " + ", ".join(
                f"{o.mbps / c.mbps:.2f}" for c, o in zip(ceilings, ours, strict=True)
            ), file=sys.stderr)  # fmt: skip
            results += [median(ceilings), median(ours)]
            if not args.no_small:
                small = s3("small")
                results.append(measure_server(
                    "pyfiledrop s3 @1 MB", work / "s3small", path, size, MB, sha, small, env, store
                ))  # fmt: skip
            results.append(measure_server(
                "pyfiledrop disk @8 MiB", work / "disk", path, size, 8 * MIB, sha, [], {}, store
            ))  # fmt: skip
            results.append(hashed)
        finally:
            store.stop()
    ceiling = results[0].mbps
    print(f"{size / MIB:.0f} MiB, {PARALLEL} chunks in flight, SeaweedFS on this machine "
          f"({os.cpu_count()} cores)")  # fmt: skip
    for r in results:
        print(f"  {r.label:30} {r.mbps:7.0f} MB/s  {r.seconds:6.2f} s  "
              f"{r.mbps / ceiling:4.2f} of ceiling  {r.note}")  # fmt: skip
        if r.cpu:
            print(f"  {'':30} CPU s/GiB: {r.cpu}")
    print(f"aim: pyfiledrop s3 @8 MiB >= {AIM} of the boto3 ceiling")
    print("\n".join(held))


if __name__ == "__main__":
    main()
