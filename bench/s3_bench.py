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

The store is warmed up first (its first upload allocates volumes); the ceiling and the 8 MiB run
are each the best of --repeat runs.

Run from the repository root:  python bench/s3_bench.py [--size-mib 1024] [--no-small] [--repeat 2]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from boto3.s3.transfer import TransferConfig  # noqa: E402
from tests.seaweed import SeaweedFS, free_ports  # noqa: E402

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


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
        status = __import__("json").loads(reply.read())
        if status["state"] in ("complete", "failed"):
            break
    done = time.monotonic()
    if status.get("sha256") != sha:
        raise RuntimeError(f"wrong or missing SHA-256: {status}")
    return done - start, done - sent


def best(results: Iterable[Result]) -> Result:
    return min(results, key=lambda r: r.seconds)


def measure_boto3(store: SeaweedFS, path: Path, size: int) -> Result:
    client = store.client(
        max_pool_connections=PARALLEL * 2, s3={"payload_signing_enabled": False}
    )  # the client settings pyfiledrop uses
    config = TransferConfig(
        multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=PARALLEL
    )
    start = time.monotonic()
    client.upload_file(str(path), "bench", "ceiling/file.bin", Config=config)
    seconds = time.monotonic() - start
    client.delete_object(Bucket="bench", Key="ceiling/file.bin")
    return Result("boto3 multipart (ceiling)", seconds, size, "8 MiB parts, 4 threads")


def measure_server(
    label: str, work: Path, path: Path, size: int, chunk: int, sha: str, flags: list[str],
    env: dict[str, str],
) -> Result:  # fmt: skip
    proc, port = start_server(work, *flags, env=env)
    try:
        seconds, tail = send_chunks(port, path, size, chunk, sha)
        memory = vm_hwm_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    return Result(label, seconds, size, f"tail {tail:.2f} s, server peak {memory:.0f} MB")


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
    parser.add_argument("--repeat", type=int, default=2, help="best of N: ceiling and @8 MiB")
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="s3bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        path = work / "file.bin"
        sha = make_file(path, size)
        store = SeaweedFS(work / "weed").start()
        try:
            store.bucket("bench")
            env = store.env()
            s3 = ["--storage", "s3://bench/pyfiledrop", "--s3-endpoint", store.endpoint]
            hashed = measure_hash_by_download(store, path, size)  # also warms the store up
            results = [best(measure_boto3(store, path, size) for _ in range(args.repeat))]
            results.append(best(
                measure_server("pyfiledrop s3 @8 MiB", work / f"s3-{n}", path, size, 8 * MIB,
                               sha, s3, env)
                for n in range(args.repeat)
            ))  # fmt: skip
            if not args.no_small:
                results.append(
                    measure_server("pyfiledrop s3 @1 MB", work / "s3small", path, size, MB, sha,
                                   s3, env)  # fmt: skip
                )
            results.append(
                measure_server("pyfiledrop disk @8 MiB", work / "disk", path, size, 8 * MIB,
                               sha, [], {})  # fmt: skip
            )
            results.append(hashed)
        finally:
            store.stop()
    ceiling = results[0].mbps
    print(f"{size / MIB:.0f} MiB, {PARALLEL} chunks in flight, SeaweedFS on this machine "
          f"({os.cpu_count()} cores)")  # fmt: skip
    for r in results:
        print(f"  {r.label:30} {r.mbps:7.0f} MB/s  {r.seconds:6.2f} s  "
              f"{r.mbps / ceiling:4.2f} of ceiling  {r.note}")  # fmt: skip
    print(f"aim: pyfiledrop s3 @8 MiB >= {AIM} of the boto3 ceiling")


if __name__ == "__main__":
    main()
