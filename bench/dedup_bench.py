"""Sending a file again: `pyfiledrop upload` of a file this client already sent, against its first
upload in the same run.

    python bench/dedup_bench.py                  # 1 GiB, storage on /dev/shm (tmpfs)
    python bench/dedup_bench.py --size 256 --storage /tmp/bench

One server (`pyfiledrop serve`, local storage, SQLite), one client state file. Each row is one
`pyfiledrop upload` process, timed from its start to its exit (the link printed, the SHA-256
checked): the first upload of a file of random bytes; the same file again (the client recorded
its digest: it asks the server by hash and sends nothing); a copy of it under another name (a
file of the same size was sent: the client reads and hashes it first, then asks); and a file of
other bytes of the same size (hashed and asked in vain, then sent: what asking costs when it does
not pay). The figures are ratios against the first upload; the issue's target is the second row
under one second for 1 GiB.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MIB = 1024 * 1024
CHUNK = 8 * MIB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for start in range(0, size, CHUNK):
            block = os.urandom(min(CHUNK, size - start))
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


def serve(root: Path, size: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port", str(port),
        "-s", str(root / "storage"), "-c", str(root / "chunks"), "-a",
        "--max-size", str(size // MIB + 1), "--max-chunk-size", str(CHUNK),
    ]  # fmt: skip
    log = open(root / "server.log", "wb")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            urllib.request.urlopen(url + "/favicon.ico", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server did not start: {(root / 'server.log').read_text()}")


def upload(url: str, path: Path, state: Path) -> tuple[float, str]:
    """One `pyfiledrop upload` process: its wall time, and what it said about the file."""
    command = [
        sys.executable, "-m", "pyfiledrop", "upload", str(path), "--url", url,
        "--chunk-size", str(CHUNK), "--state-file", str(state),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"upload of {path} failed: {done.stderr}")
    return seconds, done.stderr.strip().splitlines()[-1]


def measure(url: str, work: Path, size: int) -> list[tuple[str, float, str]]:
    state = work / "client-state.json"
    first, copy, other = work / "file.bin", work / "copy of file.bin", work / "other.bin"
    make_file(first, size)
    shutil.copyfile(first, copy)
    make_file(other, size)
    rows = []
    for label, path in (
        ("first upload", first),
        ("same file again", first),
        ("a copy, hashed first", copy),
        ("other bytes, same size", other),
    ):
        seconds, said = upload(url, path, state)
        rows.append((label, seconds, "nothing sent" if said.endswith("already sent") else "sent"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="file size in MiB")
    default = "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()
    parser.add_argument("--storage", default=default, help="where the server and files go")
    args = parser.parse_args()
    size = args.size * MIB
    work = Path(tempfile.mkdtemp(prefix="pyfiledrop-dedup-", dir=args.storage))
    proc, url = serve(work, size)
    try:
        rows = measure(url, work, size)
        stored = [p for p in (work / "storage" / "files").rglob("*") if p.is_file()]
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    baseline = rows[0][1]
    print(f"pyfiledrop upload of {args.size} MiB, storage under {args.storage}")
    print(f"{'run':<24} {'seconds':>8} {'x first':>8}  bytes")
    for label, seconds, said in rows:
        print(f"{label:<24} {seconds:8.2f} {seconds / baseline:8.3f}  {said}")
    print(f"files stored: {len(stored)} (three uploads of one content, one of another)")
    verdict = "under" if rows[1][1] < 1 else "NOT under"
    print(f"same file again: {rows[1][1]:.2f} s, {verdict} 1 s")


if __name__ == "__main__":
    main()
