"""Real clients through the fault proxy: the command-line client and tus-js-client finish with the
right bytes although connections are cut mid-chunk, delayed and trickled. (The page in Chromium:
tests/browser/test_cut_connections.py.)"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import MakeFaultServer
from tests.faults.proxy import PASS, Plan, Proxy, Rule
from tests.faults.servers import FaultServer
from tests.tus.test_tus_js import SCRIPT

REPO = Path(__file__).resolve().parents[2]
KiB = 1024


def rough_network(seed: int, cut_every: int, low: int, high: int) -> Plan:
    """Every `cut_every`-th connection is cut after a random number of bytes in [low, high]; of
    the others, some are delayed (20 ms per piece), some trickled (4 MB/s), the rest pass."""
    rng = random.Random(seed)

    def plan(number: int) -> Rule:
        if (number - 1) % cut_every == 0:
            return Rule(cut_after=rng.randint(low, high))
        return [PASS, Rule(delay=0.02), Rule(trickle=4_000_000)][number % 3]

    return plan


@pytest.fixture
def served(make_fault_server: MakeFaultServer) -> Iterator[tuple[FaultServer, Proxy]]:
    server = make_fault_server("-a")
    with Proxy(server.port) as proxy:
        yield server, proxy


def a_file(tmp_path: Path, size: int, name: str) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def test_cli_finishes_through_cuts_delays_and_trickles(
    served: tuple[FaultServer, Proxy], tmp_path: Path
) -> None:
    server, proxy = served
    path, data = a_file(tmp_path, 6 * 1024 * KiB + 321, "cli through cuts.bin")
    proxy.set_plan(rough_network(seed=5, cut_every=2, low=20 * KiB, high=600 * KiB))
    done = subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "upload", str(path), "--url", proxy.url,
         "--parallel", "3", "--chunk-size", str(256 * KiB), "--retries", "8",
         "--state-file", str(tmp_path / "state.json")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    assert proxy.cuts >= 2, "the plan must have cut connections mid-upload"
    link = done.stdout.strip().splitlines()[-1]
    assert "/download/" in link
    direct = server.url + "/download/" + link.rsplit("/download/", 1)[1]
    assert httpx.get(direct).content == data
    (row,) = server.rows()
    assert row["state"] == "complete"
    assert row["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("parallel", [1, 3])
def test_tus_js_client_finishes_through_cuts_delays_and_trickles(
    served: tuple[FaultServer, Proxy], tmp_path: Path, parallel: int
) -> None:
    """One upload with 256 KiB PATCHes, and one with parallelUploads (concatenation)."""
    server, proxy = served
    path, data = a_file(tmp_path, 3 * 1024 * KiB + 77, "tus through cuts.bin")
    proxy.set_plan(rough_network(seed=parallel, cut_every=3, low=10 * KiB, high=200 * KiB))
    options = {"chunkSize": 256 * KiB, "parallelUploads": parallel,
               "retryDelays": [0, 100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000]}  # fmt: skip
    done = subprocess.run(
        ["node", str(SCRIPT), proxy.url + "/files/", str(path), json.dumps(options)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events and events[-1]["event"] == "success", (events, done.stderr[-2000:])
    assert proxy.cuts >= 1, "the plan must have cut connections mid-upload"
    url = str(events[-1]["url"]).replace(proxy.url, server.url)
    head = httpx.head(url, headers={"Tus-Resumable": "1.0.0"})
    link = head.headers["pyfiledrop-download-url"].replace(proxy.url, server.url)
    download = httpx.get(link)
    assert download.content == data
    assert download.headers["etag"].strip('"') == hashlib.sha256(data).hexdigest()
