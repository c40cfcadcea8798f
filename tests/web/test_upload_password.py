"""--upload-password: who may upload. Basic credentials or the page's session; nothing created
for a refused request; wrong passwords limited per client address; sessions good on every
process that knows the password, and on none that does not."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pyfiledrop.web.access import FAILURES, SESSION_SECONDS, PasswordAccess
from tests.conftest import Server, serve_once
from tests.tus.helpers import TUS

PASSWORD = "open sesame: ünïcode too"
KiB = 1024


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"anyone:{password}".encode()).decode()}


def plain_upload(client: httpx.Client, **headers: str) -> httpx.Response:
    return client.post(
        "/upload", params={"filename": "p.bin"}, content=os.urandom(KiB), headers=headers
    )


def uploads(server: Server) -> int:
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])


@pytest.fixture
def guarded(make_server) -> Server:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a", "--upload-password", PASSWORD)
    return server


def test_without_the_password_nothing_is_created(guarded: Server) -> None:
    with guarded.client() as client:
        reply = plain_upload(client)
        assert reply.status_code == 401
        assert reply.json()["code"] == "password_needed"
        assert reply.headers["www-authenticate"].startswith("Basic ")
        tus = client.post("/files/", headers={**TUS, "Upload-Length": "10"})
        assert tus.status_code == 401 and "password" in tus.text  # tus: plain text
        wrong = plain_upload(client, **basic("sesame"))
        assert wrong.status_code == 401 and wrong.json()["error"] == "Wrong password."
    assert uploads(guarded) == 0
    assert list(guarded.chunks.iterdir()) == []


def test_basic_credentials_upload(guarded: Server) -> None:
    with guarded.client() as client:
        reply = plain_upload(client, **basic(PASSWORD))
        assert reply.status_code == 200, reply.text
        assert httpx.get(reply.json()["download_url"]).status_code == 200  # downloads: open
        created = client.post("/files/", headers={**TUS, **basic(PASSWORD), "Upload-Length": "1"})
        assert created.status_code == 201


def test_the_page_signs_in_once_then_uploads_with_its_session(guarded: Server) -> None:
    with guarded.client() as client:
        client.headers["Accept"] = "text/html"  # as a browser: the page; a program gets 401 JSON
        assert 'action="sign-in"' in client.get("/").text
        assert client.post("/sign-in", data={"password": "nope"}).status_code == 401
        signed = client.post("/sign-in", data={"password": PASSWORD})
        assert signed.status_code == 303 and signed.headers["location"] == "./"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
        assert '"passwordRequired": true' in client.get("/").text  # the upload page now
        assert plain_upload(client).status_code == 200
        client.post("/sign-out")
        assert plain_upload(client).status_code == 401


def test_a_program_asking_for_the_page_gets_why_as_json(guarded: Server) -> None:
    reply = httpx.get(guarded.url + "/", headers={"Accept": "application/json"})
    assert reply.status_code == 401 and reply.json()["code"] == "password_needed"
    assert "pyfiledrop_client" not in reply.headers.get("set-cookie", "")


def test_over_https_the_cookies_are_secure(guarded: Server) -> None:
    with guarded.client() as client:  # as through a trusted proxy that ended TLS
        signed = client.post(
            "/sign-in", data={"password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
        )
        assert "; Secure" in signed.headers["set-cookie"]
    with guarded.client() as client:  # the owner cookie too
        client.headers["X-Forwarded-Proto"] = "https"
        reply = client.post("/upload", params={"filename": "s"}, content=b"s", auth=("", PASSWORD))
        assert "pyfiledrop_client=" in reply.headers["set-cookie"]
        assert "; Secure" in reply.headers["set-cookie"]


def test_wrong_passwords_are_limited_per_client_address(guarded: Server) -> None:
    """Behind the (trusted, local) proxy, the address is the one X-Forwarded-For names."""
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    with guarded.client() as client:
        for _ in range(FAILURES):
            assert plain_upload(client, **attacker, **basic("guess")).status_code == 401
        locked = plain_upload(client, **attacker, **basic(PASSWORD))  # even the right one
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 61
        assert (
            client.post("/sign-in", data={"password": PASSWORD}, headers=attacker).status_code
            == 429
        )
        other = {"X-Forwarded-For": "203.0.113.8"}
        assert plain_upload(client, **other, **basic(PASSWORD)).status_code == 200
    assert uploads(guarded) == 1


def test_a_session_is_good_on_every_process_with_the_password(make_server) -> None:  # type: ignore[no-untyped-def]
    first = make_server("--upload-password", PASSWORD)
    second = make_server("--upload-password", PASSWORD)
    other = make_server("--upload-password", "another one")
    with first.client() as client:
        client.post("/sign-in", data={"password": PASSWORD})
        session = {"pyfiledrop_session": client.cookies["pyfiledrop_session"]}
    with httpx.Client(base_url=second.url, cookies=session) as client:
        assert plain_upload(client).status_code == 200
    with httpx.Client(base_url=other.url, cookies=session) as client:
        assert plain_upload(client).status_code == 401


def test_a_session_ends_after_its_time_and_cannot_be_forged() -> None:
    now = [1_000_000.0]
    access = PasswordAccess(PASSWORD, clock=lambda: now[0])
    session = access.new_session()
    assert access.session_ok(session)
    expires, nonce, mac = session.split(".")
    assert not access.session_ok(f"{int(expires) + 3600}.{nonce}.{mac}")  # a longer life
    assert not PasswordAccess("another one").session_ok(session)
    now[0] += SESSION_SECONDS + 1
    assert not access.session_ok(session)


def test_the_open_server_says_so(server: Server) -> None:
    with server.client() as client:
        assert '"passwordRequired": false' in client.get("/").text
        assert plain_upload(client).status_code == 200


def test_a_password_file_or_variable_works_and_an_empty_one_is_refused(
    make_server,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    server = make_server("--upload-password-file", str(secret))
    with server.client() as client:
        assert plain_upload(client, **basic(PASSWORD)).status_code == 200
    (tmp_path / "empty").write_text("\n")
    for args in (["--upload-password-file", str(tmp_path / "empty")], ["--upload-password", ""]):
        run = serve_once(*args)
        assert run.returncode == 2 and "--upload-password" in run.stderr, run.stderr
    both = serve_once("--upload-password", "x", "--upload-password-file", str(secret))
    assert both.returncode == 2 and "not both" in both.stderr


def test_the_command_line_client_sends_the_password(guarded: Server, tmp_path: Path) -> None:
    path = tmp_path / "cli.bin"
    path.write_bytes(os.urandom(3 * KiB))
    command = [sys.executable, "-m", "pyfiledrop", "upload", str(path), "--url", guarded.url,
               "--state-file", str(tmp_path / "state.json")]  # fmt: skip
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "Uploads need the password" in refused.stderr
    env = {**os.environ, "PYFILEDROP_PASSWORD": PASSWORD}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert httpx.get(done.stdout.strip().splitlines()[-1]).content == path.read_bytes()
