"""A folder downloaded as one zip (GET /zip, made while it is sent) against the same files
downloaded one by one by their links (sendfile), in the same run.

    python bench/zip_bench.py                         # 8 files of 64 MiB, 3 rounds
    python bench/zip_bench.py --files 200 --size-mib 1 --rounds 5

A folder of random files is made in a temp folder (default on /dev/shm, a tmpfs, so the disk is
not the limit) and uploaded with `pyfiledrop upload DIR` to `pyfiledrop serve` (its storage in
the same temp folder). Each round downloads the files one after another by their links, then the
folder as a zip, each with `curl -o /dev/null`. Printed: the medians in MB/s (10^6 bytes) over the
files' bytes, the ratio zip / one by one, and the server's peak RSS while it sends zips (the
archive must never be held in memory). The zip is checked once with Python's zipfile first.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

MB = 1_000_000
MIB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def curl_seconds(url: str, cookie: str) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sSf", "-o", "/dev/null", "-b", f"pyfiledrop_client={cookie}", url],
                   check=True)  # fmt: skip
    return time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_folder(root: Path, count: int, size: int) -> Path:
    folder = root / "Set"
    folder.mkdir()
    for n in range(count):
        (folder / f"file-{n:04d}.bin").write_bytes(os.urandom(size))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--size-mib", type=float, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tmp-dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None)
    args = parser.parse_args()
    size = int(args.size_mib * MIB)
    root = Path(tempfile.mkdtemp(prefix="zip-bench-", dir=args.tmp_dir))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port", str(port),
         "-a", "-s", str(root / "storage"), "-c", str(root / "chunks"), "--max-size", "100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        folder = make_folder(root, args.files, size)
        state = root / "state.json"
        sent = subprocess.run(
            [sys.executable, "-m", "pyfiledrop", "upload", str(folder), "--url", url,
             "--state-file", str(state)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        links = sent.stdout.split()
        from pyfiledrop.client.state import StateFile

        cookie = StateFile(state).cookie(url) or ""
        zip_url = f"{url}/zip?folder=Set"
        body = subprocess.run(["curl", "-sSf", "-b", f"pyfiledrop_client={cookie}", zip_url],
                              capture_output=True, check=True).stdout  # fmt: skip
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert archive.testzip() is None and len(archive.namelist()) == args.files
        del body
        total = args.files * size
        single, zipped = [], []
        for _ in range(args.rounds):
            single.append(total / MB / sum(curl_seconds(link, cookie) for link in links))
            zipped.append(total / MB / curl_seconds(zip_url, cookie))
        one, whole = statistics.median(single), statistics.median(zipped)
        print(f"{args.files} files of {args.size_mib:g} MiB, {args.rounds} rounds, medians")
        print(f"  one by one (sendfile)  {one:8.0f} MB/s")
        print(f"  as one zip (streamed)  {whole:8.0f} MB/s   ratio {whole / one:.2f}")
        print(f"  server peak RSS        {peak_rss_mb(server.pid):8.0f} MB")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
