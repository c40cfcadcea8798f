"""The admin page and its API against a real server: off without --admin-password; its own
password, session and rate limit; the listing (filter, search, sort, keyset pages) and the
summary; delete, change the expiry, remove abandoned uploads; refusals of cross-site requests;
a sub-path. On SQLite and PostgreSQL where the answer comes from the store."""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from pyfiledrop.web.access import ADMIN as ADMIN_REALM
from pyfiledrop.web.access import FAILURES, UPLOADS, PasswordAccess
from tests.conftest import Server, serve_once
from tests.dz import DzFile
from tests.test_expiry import until
from tests.tus.helpers import new_upload, patch

ADMIN = "admin: ünïcode too"
UPLOAD = "uploaders' password"
API = "/admin/api"


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"ops:{password}".encode()).decode()}


class Admin:
    """A server with the admin page on, a client signed in as a script would (Basic), and SQL
    on its metadata store for what only time or the clean-up would do."""

    def __init__(self, server: Server, url: str | None) -> None:
        self.server = server
        self.url = url
        self.client = httpx.Client(base_url=server.url, headers=basic(ADMIN), timeout=30)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(API + path, params=params)

    def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return self.client.post(API + path, json={} if body is None else body, headers=headers)

    def rows(self, **params: Any) -> list[dict[str, Any]]:
        reply = self.get("/uploads", **params)
        assert reply.status_code == 200, reply.text
        found: list[dict[str, Any]] = reply.json()["uploads"]
        return found

    def names(self, **params: Any) -> list[str]:
        return [row["name"] for row in self.rows(**params)]

    def sql(self, statement: str, *values: Any) -> None:
        if self.url is None:
            with sqlite3.connect(self.server.storage / "pyfiledrop.sqlite3") as db:
                db.execute(statement, values)
        else:
            with psycopg.connect(self.url) as pg:
                pg.execute(statement.replace("?", "%s"), values)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def admin(request: pytest.FixtureRequest) -> Iterator[Admin]:
    url: str | None = None
    args = ["-a", "--admin-password", ADMIN]
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")  # first: dropped after the server stops
        args += ["--database", url]
    make_server = request.getfixturevalue("make_server")
    found = Admin(make_server(*args), url)
    yield found
    found.client.close()


def plain(server: Server, name: str, size: int = 100, data: bytes | None = None) -> dict[str, Any]:
    body = os.urandom(size) if data is None else data
    reply = httpx.post(
        server.url + "/upload", params={"filename": name}, content=body, timeout=30,
        headers={"Accept": "application/json"},  # else the link alone, as text
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()
    return found


def row_of(admin: Admin, name: str) -> dict[str, Any]:
    (found,) = [row for row in admin.rows(q=name, limit=100) if row["name"] == name]
    return found


# --- who may --------------------------------------------------------------------------------------


def test_without_an_admin_password_there_is_no_admin_page(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--upload-password", UPLOAD)
    with server.client() as client:
        client.post("/sign-in", data={"password": UPLOAD})
        assert "pyfiledrop_session" in client.cookies
        for reply in (
            client.get("/admin", headers={"Accept": "text/html"}),
            client.get(API + "/uploads", headers=basic(UPLOAD)),
            client.get(API + "/summary", headers=basic("")),
            client.post(API + "/abandoned/remove", json={}, headers=basic(UPLOAD)),
            client.post("/admin/sign-in", data={"password": UPLOAD}),
        ):
            assert reply.status_code == 404, (reply.request.url, reply.text)
            assert "--admin-password" in reply.json()["error"]


def test_the_upload_password_and_its_session_do_not_open_the_admin_page(make_server) -> None:  # type: ignore[no-untyped-def]
    """Even when both passwords are the same: the sessions are keyed per realm."""
    server = make_server("--upload-password", ADMIN, "--admin-password", ADMIN)
    with server.client() as client:
        assert client.post("/sign-in", data={"password": ADMIN}).status_code == 303
        session = client.cookies["pyfiledrop_session"]
    with httpx.Client(base_url=server.url, cookies={"pyfiledrop_admin": session}) as client:
        refused = client.get(API + "/uploads")
        assert refused.status_code == 401
        assert refused.json()["code"] == "password_needed"
        assert refused.headers["www-authenticate"] == 'Basic realm="pyfiledrop admin"'
        assert client.get(API + "/uploads", headers=basic(ADMIN)).status_code == 200


def test_a_session_of_one_realm_opens_no_other_with_the_same_password() -> None:
    admin, uploads = PasswordAccess(ADMIN, ADMIN_REALM), PasswordAccess(ADMIN, UPLOADS)
    assert admin.session_ok(admin.new_session()) and uploads.session_ok(uploads.new_session())
    assert not admin.session_ok(uploads.new_session())
    assert not uploads.session_ok(admin.new_session())


def test_the_admin_password_comes_from_a_variable_or_a_file(
    make_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "admin-password"
    secret.write_text(ADMIN + "\n")
    from_file = make_server("--admin-password-file", str(secret))
    assert httpx.get(from_file.url + API + "/summary", headers=basic(ADMIN)).status_code == 200
    from_file.stop()
    monkeypatch.setenv("PYFILEDROP_ADMIN_PASSWORD", "from the environment")
    from_env = make_server()
    reply = httpx.get(from_env.url + API + "/summary", headers=basic("from the environment"))
    assert reply.status_code == 200
    monkeypatch.delenv("PYFILEDROP_ADMIN_PASSWORD")
    (tmp_path / "empty").write_text("\n")
    for args in (
        ["--admin-password", ""],
        ["--admin-password-file", str(tmp_path / "empty")],
        ["--admin-password", "x", "--admin-password-file", str(secret)],
    ):
        run = serve_once(*args)
        assert run.returncode == 2 and "--admin-password" in run.stderr, run.stderr


def test_signing_in_gives_a_strict_session_for_the_admin_path_only(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--admin-password", ADMIN)
    with server.client() as client:
        client.headers["Accept"] = "text/html"
        form = client.get("/admin")
        assert form.status_code == 200 and 'action="admin/sign-in"' in form.text
        assert 'data-text="adminSignInNeeded"' in form.text
        from_page = client.get(API + "/summary", headers={"Sec-Fetch-Site": "same-origin"})
        assert from_page.status_code == 401
        assert "www-authenticate" not in from_page.headers, "no password dialog over the page"
        wrong = client.post("/admin/sign-in", data={"password": "guess"})
        assert wrong.status_code == 401 and 'data-text="wrongPassword"' in wrong.text
        signed = client.post("/admin/sign-in", data={"password": ADMIN})
        assert signed.status_code == 303 and signed.headers["location"] == "../admin"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("pyfiledrop_admin=")
        for part in ("Path=/admin;", "HttpOnly", "SameSite=Strict"):
            assert part in cookie, cookie
        page = client.get("/admin")
        assert page.status_code == 200 and 'src="static/admin.js"' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get(API + "/summary").status_code == 200
        assert client.get("/").status_code == 200  # the upload page: open, as before
        client.post("/admin/sign-out")
        assert client.get(API + "/summary").status_code == 401


def test_wrong_admin_passwords_are_limited_per_address(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--admin-password", ADMIN)
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    with server.client() as client:
        for _ in range(FAILURES):
            reply = client.get(API + "/uploads", headers={**attacker, **basic("guess")})
            assert reply.status_code == 401 and reply.json()["code"] == "wrong_password"
        locked = client.get(API + "/uploads", headers={**attacker, **basic(ADMIN)})
        assert locked.status_code == 429 and locked.json()["code"] == "too_many_tries"
        assert 1 <= int(locked.headers["retry-after"]) <= 61
        form = client.post("/admin/sign-in", data={"password": ADMIN}, headers=attacker)
        assert form.status_code == 429
        other = {"X-Forwarded-For": "203.0.113.10"}
        assert client.get(API + "/uploads", headers={**other, **basic(ADMIN)}).status_code == 200


# --- the listing and the summary ------------------------------------------------------------------


def test_listing_filters_searches_sorts_and_pages(admin: Admin) -> None:
    for name, size in (("b-report.zip", 300), ("a-Report.zip", 100), ("c-photo.jpg", 200)):
        plain(admin.server, name, size)
        time.sleep(0.01)  # distinct creation times
    with admin.server.client() as client:  # a tus upload, 400 of 1,000 bytes in
        url = new_upload(
            client, 1000, Upload_Metadata="filename " + base64.b64encode(b"d-tus.bin").decode()
        )
        assert patch(client, url, 0, os.urandom(400)).status_code == 204
        chunked = DzFile(os.urandom(3000), 1000, name="e-chunks.bin")
        assert chunked.send(client, 0).status_code == 200  # 1 chunk of 3
    assert admin.names() == ["e-chunks.bin", "d-tus.bin", "c-photo.jpg", "a-Report.zip",
                             "b-report.zip"], "newest first by default"  # fmt: skip
    assert admin.names(sort="name", order="asc") == [
        "a-Report.zip", "b-report.zip", "c-photo.jpg", "d-tus.bin", "e-chunks.bin"
    ]  # fmt: skip
    assert admin.names(sort="size", order="desc")[:3] == ["e-chunks.bin", "d-tus.bin",
                                                          "b-report.zip"]  # fmt: skip
    assert admin.names(q="REPORT", sort="name", order="asc") == ["a-Report.zip", "b-report.zip"]
    assert admin.names(state="receiving", sort="name", order="asc") == ["d-tus.bin",
                                                                        "e-chunks.bin"]  # fmt: skip
    assert len(admin.names(state=["receiving", "complete"])) == 5
    assert admin.names(state="abandoned") == []

    tus = row_of(admin, "d-tus.bin")
    assert tus["state"] == "receiving" and tus["percent"] == 40.0 and tus["received_bytes"] == 400
    assert tus["bytes_per_second"] > 0
    dz = row_of(admin, "e-chunks.bin")
    assert dz["percent"] == 33.3 and dz["received_bytes"] == 1000
    done = row_of(admin, "a-Report.zip")
    assert done["state"] == "complete" and done["size"] == 100 and len(done["owner"]) == 12
    assert len(done["sha256"]) == 64 and done["expires_at"] is None
    assert done["downloads"] == 0 and done["max_downloads"] is None
    assert httpx.get(done["download_url"]).status_code == 200
    assert done["address"] == "127.0.0.1" and done["account"] is None
    counted = lambda: row_of(admin, "a-Report.zip")["downloads"] == 1  # noqa: E731
    until(counted, 5, "the download counted")

    seen: list[str] = []
    after = None
    for _ in range(10):
        reply = admin.get("/uploads", sort="name", order="asc", limit=2,
                          **({"after": after} if after else {}))  # fmt: skip
        assert reply.status_code == 200
        seen += [row["name"] for row in reply.json()["uploads"]]
        after = reply.json()["next"]
        if after is None:
            break
    assert seen == sorted(seen) and len(seen) == 5, "every upload once, in order"


@pytest.mark.parametrize(
    "params, words",
    [
        ({"state": "gone"}, "`state` must be one of"),
        ({"sort": "owner"}, "`sort` must be one of"),
        ({"order": "up"}, "`order` must be asc or desc"),
        ({"limit": "0"}, "`limit` must be"),
        ({"limit": "101"}, "`limit` must be"),
        ({"after": "not-a-cursor"}, "`after`"),
        ({"q": "x" * 201}, "`q` is longer"),
    ],
)
def test_a_bad_query_is_400_naming_what_is_wrong(
    make_server, params: dict[str, str], words: str
) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--admin-password", ADMIN)
    reply = httpx.get(server.url + API + "/uploads", params=params, headers=basic(ADMIN))
    assert reply.status_code == 400 and words in reply.json()["error"], reply.text


def test_a_cursor_is_good_only_for_the_order_it_came_from(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--admin-password", ADMIN)
    for n in range(3):
        plain(server, f"f{n}.bin")
    with httpx.Client(base_url=server.url, headers=basic(ADMIN)) as client:
        after = client.get(API + "/uploads", params={"sort": "name", "limit": 1}).json()["next"]
        assert after.startswith("name-desc.")
        for params in ({"sort": "size"}, {"sort": "name", "order": "asc"}):
            reply = client.get(API + "/uploads", params={**params, "after": after})
            assert reply.status_code == 400 and "another order" in reply.json()["error"]
        forged = "name-desc." + base64.urlsafe_b64encode(b'[12, "x"]').decode()
        assert (
            client.get(API + "/uploads", params={"sort": "name", "after": forged}).status_code
            == 400
        )


def test_the_summary_counts_states_bytes_and_days(admin: Admin) -> None:
    twin = os.urandom(2000)
    for n, data in enumerate((os.urandom(1000), twin, os.urandom(4000))):
        plain(admin.server, f"s{n}.bin", data=data)
    with admin.server.client() as client:
        new_upload(client, 50)
    plain(admin.server, "twin.bin", data=twin)  # the same bytes again: stored once
    summary = admin.get("/summary").json()
    assert summary["stored_bytes"] == 1000 + 2000 + 4000 + 2000
    assert summary["content_bytes"] == 1000 + 2000 + 4000 and summary["saved_bytes"] == 2000
    gone = row_of(admin, "s2.bin")["id"]  # expired, as the clean-up leaves it:
    admin.sql(
        "UPDATE uploads SET state = 'expired', removed_at = ?, content = NULL WHERE id = ?",
        time.time(), gone,
    )  # fmt: skip
    admin.sql("DELETE FROM contents WHERE size = 4000")
    summary = admin.get("/summary").json()
    assert summary["states"] == {"receiving": 1, "assembling": 0, "complete": 3, "failed": 0,
                                 "expired": 1, "abandoned": 0, "deleted": 0}  # fmt: skip
    assert summary["stored_bytes"] == 1000 + 2000 + 2000
    assert summary["content_bytes"] == 3000 and summary["saved_bytes"] == 2000
    assert len(summary["days"]) == 30
    today = summary["days"][-1]
    assert today["uploads"] == 5 and today["bytes"] == 9000
    assert today["start"] <= summary["now"] < today["start"] + 86400
    assert sum(day["uploads"] for day in summary["days"]) == 5
    assert "not_recorded" not in summary, "everything shown is recorded"


# --- actions --------------------------------------------------------------------------------------


def test_delete_removes_the_file_and_its_record(admin: Admin) -> None:
    made = plain(admin.server, "doomed.bin")
    kept = plain(admin.server, "kept.bin")
    target = row_of(admin, "doomed.bin")
    stored = {p.name for p in admin.server.storage.rglob("*") if p.is_file()}
    reply = admin.post(f"/uploads/{target['id']}/delete")
    assert reply.status_code == 200 and reply.json() == {"deleted": target["id"]}
    assert httpx.get(made["download_url"]).status_code == 404
    assert httpx.get(kept["download_url"]).status_code == 200
    assert row_of(admin, "doomed.bin")["state"] == "deleted", "shown as deleted a while"
    assert admin.names(state="complete") == ["kept.bin"]
    left = {p.name for p in admin.server.storage.rglob("*") if p.is_file()}
    assert len(stored - left) == 1, "its file is gone from the storage"
    again = admin.post(f"/uploads/{target['id']}/delete")
    assert again.status_code == 404 and again.json()["code"] == "not_found"


def test_change_expiry_to_a_date_or_never(admin: Admin) -> None:
    made = plain(admin.server, "kept.bin")
    target = row_of(admin, "kept.bin")["id"]
    later = time.time() + 90 * 86400
    reply = admin.post(f"/uploads/{target}/expiry", {"expires_at": later})
    assert reply.status_code == 200 and reply.json()["expires_at"] == later
    assert row_of(admin, "kept.bin")["expires_at"] == later
    assert (
        admin.post(f"/uploads/{target}/expiry", {"expires_at": None}).json()["expires_at"] is None
    )
    for body, words in (
        ({"expires_at": time.time() - 5}, "in the future"),
        ({"expires_at": "tomorrow"}, "seconds since the epoch"),
        ({"expires_at": True}, "seconds since the epoch"),
        ({"expires_at": 1e300}, "9999"),
        ({"when": 5}, "expires_at"),
    ):
        bad = admin.post(f"/uploads/{target}/expiry", body)
        assert bad.status_code == 400 and words in bad.json()["error"], bad.text
    missing = admin.post("/uploads/" + "0" * 32 + "/expiry", {"expires_at": later})
    assert missing.status_code == 404
    with admin.server.client() as client:
        new_upload(client, 10)
    receiving = admin.rows(state="receiving")[0]["id"]
    unfinished = admin.post(f"/uploads/{receiving}/expiry", {"expires_at": later})
    assert unfinished.status_code == 409 and "receiving" in unfinished.json()["error"]

    soon = admin.post(f"/uploads/{target}/expiry", {"expires_at": time.time() + 1})
    assert soon.status_code == 200
    time.sleep(1.2)
    assert httpx.get(made["download_url"]).status_code == 410, "expired at the new moment"
    late = admin.post(f"/uploads/{target}/expiry", {"expires_at": later})
    assert late.status_code == 410, "past its expiry: being removed, not brought back"


def test_remove_abandoned_forgets_only_abandoned_records(admin: Admin) -> None:
    for n in range(3):
        plain(admin.server, f"done{n}.bin")
    with admin.server.client() as client:
        for _ in range(2):
            new_upload(client, 10)
    for row in admin.rows(state="receiving"):
        admin.sql("UPDATE uploads SET state = 'abandoned', removed_at = ?, freed_bytes = 0 "
                  "WHERE id = ?", time.time(), row["id"])  # fmt: skip
    assert admin.get("/summary").json()["states"]["abandoned"] == 2
    reply = admin.post("/abandoned/remove")
    assert reply.status_code == 200 and reply.json() == {"removed": 2}
    assert admin.get("/summary").json()["states"]["abandoned"] == 0
    assert len(admin.rows()) == 3
    assert admin.post("/abandoned/remove").json() == {"removed": 0}


def test_cross_site_requests_change_nothing(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("-a", "--admin-password", ADMIN)
    made = plain(server, "precious.bin")
    with server.client() as client:
        client.post("/admin/sign-in", data={"password": ADMIN})  # a browser's session
        upload_id = client.get(API + "/uploads").json()["uploads"][0]["id"]
        delete = f"{API}/uploads/{upload_id}/delete"
        own = server.url
        for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Origin": own, "Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},  # another host of the same site
        ):
            refused = client.post(delete, json={}, headers=headers)
            assert refused.status_code == 403, headers
            assert refused.json()["code"] == "cross_site"
        form = client.post(delete, data={"x": "1"}, headers={"Origin": own})
        assert form.status_code == 415, "a form, which a page of another site could send"
        assert httpx.get(made["download_url"]).status_code == 200, "nothing was deleted"
        done = client.post(
            delete, json={}, headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}
        )
        assert done.status_code == 200
    assert httpx.get(made["download_url"]).status_code == 404


def test_under_a_sub_path(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--admin-password", ADMIN, "--root-path", "/drop")
    plain(server, "deep.bin")
    with server.client() as client:
        page = client.get("/drop/admin", headers={"Accept": "text/html"})
        assert page.status_code == 200 and '<base href="/drop/">' in page.text
        signed = client.post("/drop/admin/sign-in", data={"password": ADMIN})
        assert signed.status_code == 303 and "Path=/drop/admin;" in signed.headers["set-cookie"]
        listed = client.get("/drop/admin/api/uploads")
        assert listed.status_code == 200, listed.text
        assert [row["name"] for row in listed.json()["uploads"]] == ["deep.bin"]
