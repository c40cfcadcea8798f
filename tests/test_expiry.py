"""Expiry against real server processes: `--expire`, the life an uploader asks for on each
protocol and from the command line, 410 for what expired, and the clean-up removing a file from
the disk while its record stays. The clean-up's rules are tested in-process with a settable clock
(tests/core/test_cleanup.py); here one file really expires, after two seconds."""

from __future__ import annotations

import sqlite3
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyfiledrop.core.model import content_key
from tests.conftest import Server
from tests.dz import DzFile, multipart, post_form
from tests.test_client import cli
from tests.tus.helpers import TUS, create, head, metadata, upload


def record(server: Server, upload_id: str) -> dict[str, Any]:
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
    return dict(row)


def until(condition: Any, seconds: float, what: str) -> Any:
    """Poll `condition()` until it is truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def test_a_file_expires_and_the_clean_up_removes_it_and_keeps_its_record(
    make_server,  # type: ignore[no-untyped-def]
) -> None:
    server: Server = make_server("-a", "--expire", "2s", "--cleanup-interval", "1s")
    client = server.client()
    f = DzFile(b"expiring " * 1000, 4096)
    f.send_all(client, raw=True)
    status = f.wait_complete(client)
    assert status["state"] == "complete"
    finished = time.time()
    assert finished - 3 < status["expires_at"] <= finished + 2  # type: ignore[operator]
    link = str(status["download_url"])
    assert client.get(link).content == f.data
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        (upload_id,) = db.execute(
            "SELECT id FROM uploads WHERE client_id = ?", (f.uuid,)
        ).fetchone()
    path = server.storage / "files" / content_key(f.sha256)
    assert path.read_bytes() == f.data

    gone = until(lambda: (r := client.get(link)).status_code != 200 and r, 5, "expiry")
    assert gone.status_code == 410, gone.text
    assert "expired" in gone.json()["error"] and gone.json()["code"] == "expired"
    assert client.head(link).status_code == 410
    assert client.get(f"/upload/{f.uuid}").json()["state"] == "expired"

    removed = until(lambda: record(server, upload_id)["removed_at"], 30, "the clean-up")
    row = record(server, upload_id)
    assert row["state"] == "expired" and row["freed_bytes"] == len(f.data)
    assert row["sha256"] == f.sha256, "the record stays"
    assert not path.exists(), "the database says removed: so does the disk"
    shown = client.get(f"/upload/{f.uuid}").json()
    assert shown["state"] == "expired" and shown["removed_at"] == removed
    assert "download_url" not in shown
    assert client.get(link).status_code == 410


def test_a_longer_or_malformed_life_is_refused_naming_the_limit(
    make_server,  # type: ignore[no-untyped-def]
) -> None:
    server: Server = make_server("-a", "--expire", "1h")
    client = server.client()
    f = DzFile(b"x" * 5000, 4096)
    for reply in (
        f.send_raw(client, 0, expire="2h"),
        f.send(client, 0, expire="soon"),
        client.post("/upload", params={"filename": "a.txt", "expire": "1d"}, content=b"abc"),
        post_form(client, multipart({"expire": "0"}, "a.txt", b"abc")),
    ):
        assert reply.status_code == 400, reply.text
        assert "at most 1h" in reply.json()["error"]
    refused = create(client, 3, Upload_Metadata=metadata(filename="a", expire="90m"))
    assert refused.status_code == 400 and "at most 1h" in refused.text
    assert list(server.chunks.iterdir()) == [], "nothing was stored"

    assert f.send_raw(client, 0, expire="30m").status_code == 200
    assert f.send_raw(client, 1).status_code == 200
    status = f.wait_complete(client)
    assert time.time() + 1700 < status["expires_at"] <= time.time() + 1800  # type: ignore[operator]
    plain = client.post("/upload", params={"filename": "p.txt", "expire": "10m"}, content=b"p")
    assert plain.status_code == 200 and plain.json()["expires_at"] <= time.time() + 600
    url = upload(client, b"tus data", Upload_Metadata=metadata(filename="t", expire="15m"))
    row = record(server, url.rsplit("/", 1)[1])
    assert row["lifetime"] == 900 and row["expires_at"] <= time.time() + 900


def test_tus_upload_expires_follows_the_idle_limit_and_an_expired_upload_is_410(
    make_server,  # type: ignore[no-untyped-def]
) -> None:
    server: Server = make_server("-a", "--incomplete-ttl", "1h")
    client = server.client()
    reply = create(client, 10)
    expires = parsedate_to_datetime(reply.headers["upload-expires"]).timestamp()
    assert time.time() + 3500 < expires <= time.time() + 3600
    url = upload(client, b"short life", Upload_Metadata=metadata(filename="s", expire="1s"))
    assert head(client, url).status_code == 200
    gone = until(lambda: (r := head(client, url)).status_code != 200 and r, 5, "expiry")
    assert gone.status_code == 410 and "upload-offset" not in gone.headers
    assert client.get(url, headers=TUS).status_code == 410


@pytest.fixture
def server_with_limit(make_server) -> Server:  # type: ignore[no-untyped-def]
    return make_server("-a", "--expire", "1h")  # type: ignore[no-any-return]


def test_the_command_line_asks_for_a_shorter_life(
    server_with_limit: Server, tmp_path: Path
) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"y" * 100_000)
    state = ["--url", server_with_limit.url, "--state-file", str(tmp_path / "state.json")]
    longer = cli(str(path), *state, "--expire", "2h")
    assert longer.returncode == 1 and "at most 1h" in longer.stderr, longer.stderr
    malformed = cli(str(path), *state, "--expire", "soon")
    assert malformed.returncode == 2 and "--expire" in malformed.stderr
    done = cli(str(path), *state, "--expire", "30m")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1].rsplit("/", 1)[1]
    with sqlite3.connect(server_with_limit.storage / "pyfiledrop.sqlite3") as db:
        (life,) = db.execute(
            "SELECT lifetime FROM uploads WHERE download_token = ?", (token,)
        ).fetchone()
    assert life == 1800
    assert httpx.get(done.stdout.strip().splitlines()[-1]).status_code == 200
