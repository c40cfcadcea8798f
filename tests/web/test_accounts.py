"""Accounts against real servers, on local disk + SQLite and on SeaweedFS + PostgreSQL: the
`pyfiledrop user` commands, uploads with an account's password (Basic) or token (Bearer) from
the command-line client, tuspy and httpx, sessions (forged, expired, of a changed password or a
removed account), quotas and the per-address cap refused before anything is stored, and admin
accounts on the admin API."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tusclient.client import TusClient

from pyfiledrop.core.accounts import Account
from pyfiledrop.web.access import ADMIN, FAILURES, SESSION_SECONDS, UPLOADS
from pyfiledrop.web.accounts import Credentials
from tests.conftest import Server
from tests.s3.conftest import ensure_bucket, s3_flags
from tests.seaweed import SeaweedFS
from tests.tus.helpers import TUS

PASSWORD = "ann's password: ünïcode"
KiB = 1024


def basic(name: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def plain(client: httpx.Client, size: int = KiB, **headers: str) -> httpx.Response:
    return client.post(
        "/upload", params={"filename": "p.bin"}, content=os.urandom(size), headers=headers
    )


class Rig:
    """Servers on one store, the `pyfiledrop user` commands on the same database, and what the
    store holds, read behind the server's back."""

    def __init__(self, kind: str, root: Path, seaweed: SeaweedFS | None, url: str | None) -> None:
        self.kind = kind
        self.root = root
        self.seaweed = seaweed
        self.url = url
        self.prefix = uuid.uuid4().hex[:8]
        self.servers: list[Server] = []
        self.flags: tuple[str, ...] = ()
        if seaweed is not None and url is not None:
            ensure_bucket(seaweed, "accounts")
            self.flags = (*s3_flags(seaweed, "accounts", self.prefix), "--database", url)

    def start(self, *flags: str) -> Server:
        server = Server(self.root, "-a", *self.flags, *flags).start()
        self.servers.append(server)
        return server

    def user(self, *args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
        where = ["-s", str(self.root / "storage"), "-c", str(self.root / "chunks")]
        if self.seaweed is not None:
            where = ["-s", f"s3://accounts/{self.prefix}", "-c", str(self.root / "chunks"),
                     "--database", str(self.url)]  # fmt: skip
        env = {**os.environ, "PYFILEDROP_USER_PASSWORD": password or ""}
        if password is None:
            env.pop("PYFILEDROP_USER_PASSWORD")
        return subprocess.run(
            [sys.executable, "-m", "pyfiledrop", "user", *args, *where],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip

    def add(self, name: str, *flags: str, password: str = PASSWORD) -> None:
        made = self.user("add", name, *flags, password=password)
        assert made.returncode == 0, made.stderr

    def token(self, name: str, label: str) -> str:
        made = self.user("token", "add", name, "--label", label)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip()

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        if self.url is not None:
            with psycopg.connect(self.url) as db:
                return list(db.execute(statement.replace("?", "%s")).fetchall())
        with sqlite3.connect(self.root / "storage" / "pyfiledrop.sqlite3") as db:
            return list(db.execute(statement))

    def uploads(self) -> list[tuple[Any, ...]]:
        return self.sql("SELECT filename, account, address, state FROM uploads ORDER BY created_at")

    def account(self, name: str) -> Account:
        row = self.sql(f"SELECT name, password_hash FROM accounts WHERE name = '{name}'")[0]
        return Account(row[0], row[1])

    def partials(self) -> int:
        """Unfinished uploads' data in the storage: partial files, or multipart uploads."""
        if self.seaweed is None:
            return sum(1 for p in (self.root / "chunks").rglob("*") if p.is_file())
        s3 = self.seaweed.client()
        found = s3.list_multipart_uploads(Bucket="accounts", Prefix=self.prefix)
        return len(found.get("Uploads", []))

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(params=["local+sqlite", "s3+postgresql"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "s3+postgresql":
        made = Rig(
            request.param, tmp_path, request.getfixturevalue("seaweed"),
            request.getfixturevalue("pg_url"),
        )  # fmt: skip
    else:
        made = Rig(request.param, tmp_path, None, None)
    yield made
    made.stop()


def test_the_user_commands_add_list_change_and_remove_accounts_and_tokens(rig: Rig) -> None:
    if rig.url is None:
        assert rig.user("list").returncode == 2, "no database file yet: only `add` makes one"
    rig.add("ann", "--quota-bytes", "10G", "--quota-uploads", "3")
    rig.add("ops", "--admin")
    again = rig.user("add", "ann")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = rig.user("add", "bad name")
    assert bad.returncode == 2 and "account name" in bad.stderr
    short = rig.user("add", "bob", password="short")
    assert short.returncode == 2 and "8 to 1024 characters" in short.stderr
    stored = rig.account("ann").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    token = rig.token("ann", "laptop")
    assert token.startswith("pfd_") and len(token) > 40
    assert token not in str(rig.sql("SELECT * FROM tokens")), "only its digest is kept"
    listed = rig.user("list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADMIN", "STORED", "/", "QUOTA", "OPEN", "/", "QUOTA",
                                "TOKENS"]  # fmt: skip
    assert lines[1].split() == ["ann", "no", "0", "B", "/", "10", "GiB", "0", "/", "3", "1"]
    assert lines[2].split() == ["ops", "yes", "0", "B", "/", "-", "0", "/", "-", "0"]
    assert rig.user("passwd", "ann", password="another password").returncode == 0
    assert rig.account("ann").password_hash != stored
    assert rig.user("token", "rm", "ann", "--label", "laptop").returncode == 0
    assert rig.user("token", "rm", "ann", "--label", "laptop").returncode == 1
    assert rig.user("rm", "ann").returncode == 0
    gone = rig.user("rm", "ann")
    assert gone.returncode == 1 and "no account named ann" in gone.stderr
    assert "ann" not in rig.user("list").stdout


def test_the_password_comes_from_a_file_or_a_prompt_never_the_command_line(
    rig: Rig, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from a file, line one\nignored\n")
    made = rig.user("add", "filed", "--password-file", str(secret), password=None)
    assert made.returncode == 0, made.stderr
    prompted = subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "user", "add", "asked", "-s",
         str(rig.root / "storage"), "-c", str(rig.root / "chunks"),
         *(["--database", str(rig.url)] if rig.url else [])],
        input="typed at a prompt\ntyped at a prompt\n", capture_output=True, text=True,
        timeout=60, env={k: v for k, v in os.environ.items() if k != "PYFILEDROP_USER_PASSWORD"},
    )  # fmt: skip
    assert prompted.returncode == 0, prompted.stderr
    server = rig.start()
    with server.client() as client:
        assert plain(client, **basic("filed", "from a file, line one")).status_code == 200
        assert plain(client, **basic("asked", "typed at a prompt")).status_code == 200
        assert plain(client, **basic("filed", "ignored")).status_code == 401
    flag = rig.user("add", "x", "--password", "on the command line")
    assert flag.returncode == 2 and "No such option" in flag.stderr


def test_uploads_need_an_account_once_one_exists_and_record_it(rig: Rig, tmp_path: Path) -> None:
    rig.add("ann")
    server = rig.start()
    with server.client() as client:
        refused = plain(client)
        assert refused.status_code == 401 and refused.json()["code"] == "password_needed"
        assert refused.headers["www-authenticate"].startswith("Basic ")
        wrong = plain(client, **basic("ann", "not it"))
        assert wrong.status_code == 401 and wrong.json()["error"] == "Wrong name or password."
        nobody = plain(client, **basic("nobody", PASSWORD))
        assert nobody.status_code == 401
        assert plain(client, **basic("ann", PASSWORD)).status_code == 200
    assert rig.uploads() == [("p.bin", "ann", "127.0.0.1", "complete")]

    token = rig.token("ann", "ci")
    tus = TusClient(server.url + "/files/", headers=bearer(token))
    data = os.urandom(3000)
    (tmp_path / "t.bin").write_bytes(data)
    tus.uploader(str(tmp_path / "t.bin"), chunk_size=1000, metadata={"filename": "t.bin"}).upload()
    cli = tmp_path / "c.bin"
    cli.write_bytes(os.urandom(5000))
    command = [sys.executable, "-m", "pyfiledrop", "upload", str(cli), "--url", server.url,
               "--state-file", str(tmp_path / "state.json"), "--chunk-size", "2000"]  # fmt: skip
    env = {**os.environ, "PYFILEDROP_PASSWORD": PASSWORD}
    by_password = subprocess.run([*command, "--user", "ann"], capture_output=True, text=True,
                                 timeout=60, env=env)  # fmt: skip
    assert by_password.returncode == 0, by_password.stderr
    by_token = subprocess.run(
        command, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYFILEDROP_TOKEN": token,
             "PYFILEDROP_STATE_FILE": str(tmp_path / "s2")},
    )  # fmt: skip
    assert by_token.returncode == 0, by_token.stderr
    assert [row[:2] for row in rig.uploads()] == [
        ("p.bin", "ann"), ("t.bin", "ann"), ("c.bin", "ann"), ("c.bin", "ann"),
    ]  # fmt: skip

    # The account owns them: another client, signed in as ann, sees all four.
    with server.client() as other:
        mine = other.get("/uploads", headers=bearer(token))
        assert mine.status_code == 200, mine.text
        assert sorted(u["filename"] for u in mine.json()["uploads"]) == [
            "c.bin", "c.bin", "p.bin", "t.bin",
        ]  # fmt: skip
        anonymous = other.get("/uploads")
        assert anonymous.status_code == 401


def test_a_removed_token_account_or_changed_password_is_refused_at_once(rig: Rig) -> None:
    rig.add("ann")
    rig.add("bob")  # uploads stay closed once ann is gone (without accounts they are open)
    token = rig.token("ann", "ci")
    server = rig.start()
    with server.client() as client:
        assert plain(client, **bearer(token)).status_code == 200
        assert plain(client, **basic("ann", PASSWORD)).status_code == 200  # verified: remembered
        assert rig.user("token", "rm", "ann", "--label", "ci").returncode == 0
        refused = plain(client, **bearer(token))
        assert refused.status_code == 401 and refused.json()["code"] == "wrong_token"
        assert plain(client, **bearer("pfd_forged")).status_code == 401
        assert rig.user("passwd", "ann", password="a new password").returncode == 0
        assert plain(client, **basic("ann", PASSWORD)).status_code == 401, "the old one"
        assert plain(client, **basic("ann", "a new password")).status_code == 200
        assert rig.user("rm", "ann").returncode == 0
        assert plain(client, **basic("ann", "a new password")).status_code == 401
    assert len(rig.uploads()) == 3


def test_sessions_of_accounts_forged_expired_or_outdated_are_refused(rig: Rig) -> None:
    rig.add("ann")
    rig.add("bob")
    first, second = rig.start(), rig.start()  # two processes on one store
    with first.client() as client:
        client.headers["Accept"] = "text/html"
        form = client.get("/")
        assert (
            'name="name"' in form.text and "hidden" not in form.text.split('name="name"')[0][-80:]
        )
        wrong = client.post("/sign-in", data={"name": "ann", "password": "nope"})
        assert wrong.status_code == 401 and 'data-text="wrongNameOrPassword"' in wrong.text
        signed = client.post("/sign-in", data={"name": "ann", "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        session = client.cookies["pyfiledrop_session"]
        assert '"account": "ann"' in client.get("/").text
    with second.client() as other:  # the other process takes the session
        other.cookies.set("pyfiledrop_session", session)
        assert plain(other).status_code == 200
    prefix, name, expires, nonce, mac = session.split(".")
    bob = base64.urlsafe_b64encode(b"bob").decode().rstrip("=")
    forged = [
        f"{prefix}.{bob}.{expires}.{nonce}.{mac}",  # another account's name
        f"{prefix}.{name}.{int(expires) + 3600}.{nonce}.{mac}",  # a longer life
        f"{prefix}.{name}.{expires}.{nonce}.{mac[:-2]}AA",  # a changed MAC
    ]
    account = rig.account("ann")
    past = Credentials(None, clock=lambda: time.time() - SESSION_SECONDS - 60)  # type: ignore[arg-type]
    forged.append(past.new_session(account, UPLOADS.salt, SESSION_SECONDS))  # expired
    forged.append(Credentials(None).new_session(account, ADMIN.salt, 3600))  # the admin realm's  # type: ignore[arg-type]
    for value in forged:
        with second.client() as other:
            other.cookies.set("pyfiledrop_session", value)
            assert plain(other).status_code == 401, value
    fresh = Credentials(None).new_session(account, UPLOADS.salt, 3600)  # type: ignore[arg-type]
    with second.client() as other:
        other.cookies.set("pyfiledrop_session", fresh)
        assert plain(other).status_code == 200, "made with the stored hash: good"
        assert rig.user("passwd", "ann", password="a new password").returncode == 0
        assert plain(other).status_code == 401, "a new password ends the sessions"


def test_each_quota_is_refused_before_anything_is_stored(rig: Rig) -> None:
    rig.add("ann", "--quota-bytes", "2K", "--quota-uploads", "1")
    server = rig.start()
    ann = basic("ann", PASSWORD)
    with server.client() as client:
        open_one = client.post("/files/", headers={**TUS, **ann, "Upload-Length": "1000"})
        assert open_one.status_code == 201, open_one.text
        partials = rig.partials()
        assert partials == 1, "an open upload's data is seen"
        second = client.post("/files/", headers={**TUS, **ann, "Upload-Length": "10"})
        assert second.status_code == 429, second.text
        assert "1 unfinished uploads at once and has 1: 0 left" in second.text
        assert (
            client.delete(open_one.headers["location"], headers={**TUS, **ann}).status_code == 204
        )
        assert plain(client, 1500, **ann).status_code == 200
        too_big = client.post("/files/", headers={**TUS, **ann, "Upload-Length": "1000"})
        assert too_big.status_code == 507, too_big.text
        assert "quota of 2048 bytes stored would be passed: 548 bytes are left" in too_big.text
        chunk = {"dzuuid": str(uuid.uuid4()), "dzchunkindex": "0", "dztotalchunkcount": "1",
                 "dzchunksize": "1000", "dztotalfilesize": "1000", "dzchunkbyteoffset": "0",
                 "filename": "dz.bin"}  # fmt: skip
        dz = client.post("/upload", params=chunk, content=os.urandom(1000), headers=ann)
        assert dz.status_code == 507 and dz.json()["code"] == "quota_bytes"
    assert [row[0] for row in rig.uploads() if row[3] != "deleted"] == ["p.bin"]
    assert rig.partials() <= partials, "nothing stored for the refused ones"


def test_free_space_floor_refuses_new_uploads(rig: Rig) -> None:
    if rig.seaweed is not None:
        pytest.skip("an S3 store says nothing of its free space: --min-free-space is local")
    server = rig.start("--min-free-space", "1P")
    with server.client() as client:
        refused = plain(client)
        assert refused.status_code == 507 and refused.json()["code"] == "storage_full"
        assert "at least 1125899906842624 are" in refused.json()["error"]
    assert rig.uploads() == [] and rig.partials() == 0


def test_the_cap_on_unfinished_uploads_counts_per_address_across_owners(rig: Rig) -> None:
    server = rig.start("--max-open-uploads", "2")
    with server.client() as first, server.client() as second:  # two owners, one address
        assert first.post("/files/", headers={**TUS, "Upload-Length": "10"}).status_code == 201
        assert second.post("/files/", headers={**TUS, "Upload-Length": "10"}).status_code == 201
        partials = rig.partials()
        assert partials == 2
        third = second.post("/files/", headers={**TUS, "Upload-Length": "10"})
        assert third.status_code == 429, third.text
        assert "Your address (127.0.0.1) already has 2 unfinished uploads" in third.text
    assert len(rig.uploads()) == 2 and rig.partials() == partials


def test_admin_accounts_open_the_admin_api_and_others_do_not(rig: Rig) -> None:
    rig.add("ops", "--admin")
    rig.add("ann")
    token = rig.token("ops", "script")
    ann_token = rig.token("ann", "script")
    server = rig.start()
    with server.client() as client:
        assert plain(client, **basic("ann", PASSWORD)).status_code == 200
        for headers in (basic("ops", PASSWORD), bearer(token)):
            listed = client.get("/admin/api/uploads", headers=headers)
            assert listed.status_code == 200, listed.text
            row = listed.json()["uploads"][0]
            assert (row["account"], row["address"]) == ("ann", "127.0.0.1")
        for headers in (basic("ann", PASSWORD), bearer(ann_token)):
            refused = client.get("/admin/api/summary", headers=headers)
            assert refused.status_code == 403 and refused.json()["code"] == "not_admin"
        assert client.get("/admin/api/summary", headers=bearer("pfd_nope")).status_code == 401
        client.headers["Accept"] = "text/html"
        not_admin = client.post("/admin/sign-in", data={"name": "ann", "password": PASSWORD})
        assert not_admin.status_code == 403 and 'data-text="notAdmin"' in not_admin.text
        signed = client.post("/admin/sign-in", data={"name": "ops", "password": PASSWORD})
        assert signed.status_code == 303 and "SameSite=Strict" in signed.headers["set-cookie"]
        assert client.get("/admin/api/summary").status_code == 200
        assert plain(client).status_code == 401, "an admin session is not an upload session"


def test_without_admin_accounts_or_password_the_admin_page_stays_off(rig: Rig) -> None:
    rig.add("ann")
    server = rig.start()
    with server.client() as client:
        off = client.get("/admin/api/summary", headers=basic("ann", PASSWORD))
        assert off.status_code == 404 and "no admin account" in off.json()["error"]


def test_wrong_account_passwords_and_tokens_are_limited_per_address(rig: Rig) -> None:
    if rig.seaweed is not None:
        pytest.skip("the limiter is the web layer's, the same on every store")
    rig.add("ann")
    server = rig.start()
    with server.client() as client:
        for attempt in range(FAILURES):
            wrong = basic("ann", "guess") if attempt % 2 else bearer("pfd_guess")
            assert plain(client, **wrong).status_code == 401
        limited = plain(client, **basic("ann", PASSWORD))
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert rig.uploads() == []


def test_behind_a_trusted_proxy_the_address_is_the_one_it_reports(rig: Rig) -> None:
    if rig.seaweed is not None:
        pytest.skip("the address comes from the web layer, the same on every store")
    server = rig.start("--max-open-uploads", "1")  # 127.0.0.1 is trusted by default
    create = {**TUS, "Upload-Length": "10"}
    with server.client() as first, server.client() as second, server.client() as third:
        far = first.post("/files/", headers={**create, "X-Forwarded-For": "203.0.113.7"})
        assert far.status_code == 201
        near = second.post("/files/", headers={**create, "X-Forwarded-For": "198.51.100.9"})
        assert near.status_code == 201, "another address: its own cap"
        again = third.post("/files/", headers={**create, "X-Forwarded-For": "203.0.113.7"})
        assert again.status_code == 429 and "(203.0.113.7)" in again.text
    assert sorted(row[2] for row in rig.uploads()) == ["198.51.100.9", "203.0.113.7"]
