"""The README's deployment, for real: Debian's nginx in front of two `pyfiledrop serve` processes.

nginx runs the README's own ```nginx block, with only the upstream addresses and the `listen`
port replaced, so what is documented is what is tested. It runs unprivileged from a folder of its
own (daemon off, pid, logs and every temp path inside it; see shared/docs/testing.md). Behind it,
two processes share one storage folder and one database (SQLite, or PostgreSQL as in the README),
as the README's hosts share PostgreSQL and a bucket.

What the tests can see of each process is the database: a chunk being written is a claim held by
the instance (process) writing it. A claim that exists while the client has sent only half of the
chunk shows both that nginx streams bodies (no request buffering) and which process got the chunk.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from tusclient.client import TusClient

from tests.conftest import Server, finished_files, free_port
from tests.dz import BOUNDARY, DzFile, multipart
from tests.tus.helpers import TUS

README = Path(__file__).resolve().parents[1] / "README.md"
MiB = 1024 * 1024
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
BUFFERED = "buffered to a temporary file"  # nginx's warning when it spools a body to disk

T = TypeVar("T")


def readme_nginx_blocks() -> list[str]:
    """The README's ```nginx blocks."""
    return [str(b) for b in re.findall(r"^```nginx\n(.*?)^```", README.read_text(), re.S | re.M)]


def readme_nginx_block() -> str:
    """The README's nginx site: its one ```nginx block with an upstream."""
    sites = [block for block in readme_nginx_blocks() if "upstream" in block]
    assert len(sites) == 1, "the README should have exactly one ```nginx site with an upstream"
    return sites[0]


def readme_sub_path_site() -> tuple[str, str]:
    """The README's site moved under a sub-path as the README says (its `location /` line and
    the `proxy_pass` after it replaced with the sub-path block's lines), and that sub-path."""
    snippets = [block for block in readme_nginx_blocks() if "X-Forwarded-Prefix" in block]
    assert len(snippets) == 1, "the README should show one sub-path location"
    found = re.search(r"location\s+(/\S+)/\s*\{", snippets[0])
    assert found, "the sub-path block has no `location /prefix/ {`"
    site, count = re.subn(
        r"(?m)^\s*location / \{\n\s*proxy_pass http://pyfiledrop;\n",
        lambda _: snippets[0],
        readme_nginx_block(),
    )
    assert count == 1, "the README's site has no `location /` with its proxy_pass"
    return site, found.group(1)


def readme_chunk_size() -> int:
    """The --chunk-size the README's deployment gives the page (and tus clients, as PATCHes)."""
    deploying = README.read_text().split("## Deploying", 1)[1]
    found = re.search(r"--chunk-size (\d+)", deploying)
    assert found, "the README's serve command sets no --chunk-size"
    return int(found.group(1))


def site_config(block: str, port: int, backends: list[str]) -> str:
    """The README's block listening on 127.0.0.1:`port`, its upstream servers replaced in order
    by `backends`; everything else as written."""
    upstream = re.search(r"^upstream\s+\S+\s*\{.*?^\}", block, re.S | re.M)
    assert upstream, "no upstream block"
    found = iter(backends)
    servers, count = re.subn(
        r"(?m)^(\s*server\s+)[^\s;]+", lambda m: m.group(1) + next(found), upstream.group(0)
    )
    assert count == len(backends), f"the README's upstream names {count} servers"
    site = block.replace(upstream.group(0), servers)
    site, count = re.subn(r"(?m)^(\s*listen\s+)[^\s;]+", rf"\g<1>127.0.0.1:{port}", site)
    assert count == 1, "the README's server block should listen once"
    return site


def body_limit(block: str) -> int:
    """client_max_body_size in bytes."""
    found = re.search(r"client_max_body_size\s+(\d+)([kKmMgG]?);", block)
    assert found, "the README's block sets no client_max_body_size"
    unit = {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}[found.group(2).lower()]
    return int(found.group(1)) * unit


def nginx_binary() -> str:
    """Debian's nginx; fail, not skip, without it: CI must run these tests."""
    found = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
    if not found:
        pytest.fail(
            "nginx is not installed: apt-get install nginx, or run ./scripts/test.sh, which does",
            pytrace=False,
        )
    return found


class Nginx:
    """nginx in a folder of its own on 127.0.0.1, one worker (so round robin is strict)."""

    def __init__(self, site: str, port: int) -> None:
        # Not under pytest's tmp_path: that is 0700, and nginx's workers run as another user.
        self.dir = Path(tempfile.mkdtemp(prefix="pyfiledrop-nginx-"))
        self.dir.chmod(0o755)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.error_log = self.dir / "error.log"
        temp = "".join(f"    {kind}_temp_path {self.dir / kind}_temp;\n" for kind in TEMP_PATHS)
        (self.dir / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {self.dir / 'nginx.pid'};\n"
            f"error_log {self.error_log} warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log {self.dir / 'access.log'};\n{temp}{site}}}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        conf = self.dir / "nginx.conf"
        command = [nginx_binary(), "-e", str(self.error_log), "-p", str(self.dir), "-c", str(conf)]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"nginx did not start: {self.errors()}")

    def errors(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Deployment:
    nginx: Nginx
    servers: tuple[Server, Server]
    database: str | None  # a PostgreSQL URL, or None for the SQLite file in the storage folder

    def client(self, **headers: str) -> httpx.Client:
        """A browser that knows only nginx's address."""
        return httpx.Client(base_url=self.nginx.url, headers=headers, timeout=30)

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        if self.database:
            with psycopg.connect(self.database) as pg:
                return pg.execute(sql.replace("?", "%s").encode(), params).fetchall()
        with sqlite3.connect(self.servers[0].storage / "pyfiledrop.sqlite3") as db:
            return list(db.execute(sql, params))

    def chunk_holders(self, f: DzFile) -> dict[str, int]:
        """Claims on `f`'s chunks being written: claim name -> pid of the process writing it."""
        found = self.query(
            "SELECT c.name, i.pid FROM claims c JOIN instances i ON i.id = c.instance "
            "JOIN uploads u ON u.id = c.upload_id WHERE u.client_id = ?",
            f.uuid,
        )
        return {name: pid for name, pid in found}


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Two servers on one storage folder behind nginx, as the README deploys them; their
    metadata in SQLite, or in PostgreSQL when parametrized with "postgresql"."""
    flags = ["-a", "--forwarded-allow-ips", "127.0.0.1"]
    database = None
    if getattr(request, "param", "sqlite") == "postgresql":
        database = request.getfixturevalue("pg_url")  # first: dropped after the servers stop
        flags += ["--database", database]
    make_server = request.getfixturevalue("make_server")
    servers = (make_server(*flags), make_server(*flags))
    port = free_port()
    site = site_config(readme_nginx_block(), port, [f"127.0.0.1:{s.port}" for s in servers])
    nginx = Nginx(site, port).start()
    yield Deployment(nginx, servers, database)
    nginx.stop()


def pid_of(server: Server) -> int:
    assert server.proc is not None
    return server.proc.pid


def wait_for(found: Callable[[], T | None], what: str, seconds: float = 10) -> T:
    deadline = time.monotonic() + seconds
    while (value := found()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.02)
    return value


class HeldChunk:
    """A Dropzone form chunk sent through nginx whose second half waits for `release`."""

    def __init__(self, client: httpx.Client, f: DzFile, index: int, release: threading.Event):
        body = multipart(f.fields(index), f.name, f.chunk(index))
        self.replies: list[httpx.Response] = []

        def parts() -> Iterator[bytes]:
            yield body[: len(body) // 2]
            release.wait(30)
            yield body[len(body) // 2 :]

        headers = {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(body)),  # as a browser sends it, not chunked
        }
        self.thread = threading.Thread(  # a daemon: a failed test does not wait for it
            target=lambda: self.replies.append(
                client.post("/upload", content=parts(), headers=headers)
            ),
            daemon=True,
        )
        self.thread.start()

    def reply(self) -> httpx.Response:
        self.thread.join(30)
        assert self.replies, "the chunk got no answer"
        return self.replies[0]


def send_in_parallel(client: httpx.Client, f: DzFile, indexes: list[int]) -> None:
    """Dropzone 6 binaryBody chunks, all at once."""
    replies: dict[int, httpx.Response] = {}
    threads = [
        threading.Thread(target=lambda i=i: replies.update({i: f.send_raw(client, i)}))
        for i in indexes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {i: r.status_code for i, r in replies.items()} == dict.fromkeys(indexes, 200), [
        r.text for r in replies.values()
    ]


def assert_nothing_buffered(nginx: Nginx) -> None:
    """nginx warns each time it spools a request or a response to a temporary file."""
    spooled = [line for line in nginx.errors().splitlines() if BUFFERED in line]
    assert spooled == [], spooled


@pytest.mark.parametrize("deployment", ["sqlite", "postgresql"], indirect=True)
def test_chunks_round_robin_over_both_servers_and_survive_one_stopping(
    deployment: Deployment,
) -> None:
    """Half-sent chunks are already being written by both processes; with one stopped, nginx
    sends the rest to the other; the file completes once, and its link is on the address the
    client asked nginx for, whatever forwarded headers the client itself sent."""
    a, b = deployment.servers
    f = DzFile(os.urandom(6 * MiB + 1234), MiB, name="through nginx.bin")
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "elsewhere.example"}
    with deployment.client(**spoofed) as client:
        client.get("/")  # the owner cookie, from whichever process nginx picked
        release = threading.Event()
        held = [HeldChunk(client, f, index, release) for index in range(4)]
        holders = wait_for(
            lambda: found if len(found := deployment.chunk_holders(f)) == 4 else None,
            "four half-sent chunks being written",
        )
        pids = [pid_of(a), pid_of(b)]
        assert sorted(holders.values()) == sorted(pids * 2), (holders, pids)
        release.set()
        assert [h.reply().status_code for h in held] == [200] * 4, [h.reply().text for h in held]

        b.stop()  # midway: the rest can only go to a
        send_in_parallel(client, f, list(range(4, f.count)))
        status = f.wait_complete(client)
        assert status["state"] == "complete" and status["sha256"] == f.sha256, status

        link = str(status["download_url"])
        assert link.startswith(deployment.nginx.url + "/download/"), link
        with client.stream("GET", link) as reply:
            assert reply.status_code == 200
            pieces = reply.iter_bytes()
            first = next(pieces)
            time.sleep(0.5)  # a buffering nginx reads the rest from the server meanwhile
            assert first + b"".join(pieces) == f.data
    assert deployment.query("SELECT client_id, state FROM uploads") == [(f.uuid, "complete")]
    assert len(finished_files(a.storage)) == 1, "the file was finished once"
    assert_nothing_buffered(deployment.nginx)


def test_tuspy_upload_through_nginx(deployment: Deployment, tmp_path: Path) -> None:
    """tuspy with the README's chunk size (8 MiB PATCHes): every PATCH fits the body limit, links
    point at nginx (else tuspy would talk to a server directly), and the bytes come back."""
    chunk_size = readme_chunk_size()
    data = os.urandom(2 * chunk_size + 4321)
    path = tmp_path / "tus.bin"
    path.write_bytes(data)
    tus = TusClient(deployment.nginx.url + "/files/")
    uploader = tus.uploader(str(path), chunk_size=chunk_size, metadata={"filename": path.name})
    uploader.upload()
    url = uploader.url
    assert url and url.startswith(deployment.nginx.url + "/files/"), url
    assert uploader.offset == len(data)
    with deployment.client() as client:
        head = client.head(url, headers=TUS)
        assert head.headers["pyfiledrop-download-url"].startswith(deployment.nginx.url + "/")
        reply = client.get(url, headers=TUS)
        assert reply.status_code == 200 and reply.content == data
    assert_nothing_buffered(deployment.nginx)


def test_body_limit_and_request_streaming(deployment: Deployment) -> None:
    """A chunk above client_max_body_size gets nginx's 413 and reaches no server; a chunk of the
    README's size passes, and the server is writing it while half of it is still to come."""
    limit, chunk_size = body_limit(readme_nginx_block()), readme_chunk_size()
    with deployment.client() as client:
        client.get("/")
        too_big = DzFile(os.urandom(limit + 1), limit + 1)
        refused = too_big.send_raw(client, 0)
        assert refused.status_code == 413 and "nginx" in refused.text, refused.text
        assert deployment.query("SELECT client_id FROM uploads") == [], "it reached a server"

        f = DzFile(os.urandom(chunk_size + 100), chunk_size)  # a full chunk in its form
        release = threading.Event()
        held = HeldChunk(client, f, 0, release)
        wait_for(
            lambda: deployment.chunk_holders(f) or None,
            "the server writing a chunk whose second half is not sent yet",
        )
        release.set()
        assert held.reply().status_code == 200, held.reply().text
        f.send_all(client, [1])
        assert f.wait_complete(client)["sha256"] == f.sha256
    assert_nothing_buffered(deployment.nginx)
