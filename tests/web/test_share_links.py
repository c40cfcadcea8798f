"""Download passwords, the share page's form and the delete link against a real server: each
refusal with its status (401, 403, 429, 400), cookies that are forged or belong to another file,
and the terms set by every way of making an upload (Dropzone, tus, the command-line client)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyfiledrop.web.access import FAILURES
from tests.conftest import Server
from tests.test_client import cli
from tests.tus.helpers import TUS
from tests.web.test_download_limits import FLAGS, Pair, pair, shared  # noqa: F401  (fixture)

PASSWORD = "Gänseblümchen 42%"
HEADER = {"Pyfiledrop-Download-Password": "G%C3%A4nsebl%C3%BCmchen%2042%25"}


def path_of(server: Server, url: str) -> str:
    return url.split(str(server.port), 1)[1]


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"anyone:{password}".encode()).decode()}


@pytest.fixture
def one(make_server: Any) -> Server:
    return make_server(*FLAGS)  # type: ignore[no-any-return]


def test_a_protected_download_needs_the_password_as_basic_or_the_cookie(one: Server) -> None:
    data = os.urandom(70_000)
    done = shared(one, data, **HEADER)
    assert done["password_protected"] is True and "password" not in str(done["share_url"])
    link = path_of(one, done["download_url"])
    with one.client() as client:
        refused = client.get(link)
        assert refused.status_code == 401 and refused.json()["code"] == "password_needed"
        assert refused.headers["WWW-Authenticate"].startswith('Basic realm="pyfiledrop download"')
        page = client.get(link, headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["Location"] == done["share_url"]
        assert client.get(link, headers=basic("wrong")).status_code == 401
        assert client.get(link, headers=basic(PASSWORD)).content == data
        assert client.head(link, headers=basic(PASSWORD)).status_code == 200


def test_wrong_passwords_are_limited_per_address(one: Server) -> None:
    done = shared(one, b"x" * 100, **HEADER)
    link, share = path_of(one, done["download_url"]), path_of(one, done["share_url"])
    with one.client() as client:
        for _ in range(FAILURES // 2):
            assert client.get(link, headers=basic("guess")).status_code == 401
            assert client.post(share, data={"password": "guess"}).status_code == 401
        limited = client.get(link, headers=basic(PASSWORD))  # even the right one, for now
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        form = client.post(share, data={"password": PASSWORD})
        assert form.status_code == 429 and "Set-Cookie" not in form.headers


def test_forged_and_foreign_cookies_open_nothing(one: Server) -> None:
    first = shared(one, b"first" * 100, **HEADER)
    second = shared(one, b"second" * 100, **HEADER)
    with one.client() as client:
        unlocked = client.post(path_of(one, first["share_url"]), data={"password": PASSWORD})
        assert unlocked.status_code == 303
        cookies = unlocked.headers.get_list("set-cookie")
        assert len(cookies) == 2 and all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
        value = cookies[0].split(";")[0].split("=", 1)[1]
        token = first["download_url"].rsplit("/", 1)[1]
        assert f"Path=/download/{token}" in cookies[0] and f"Path=/s/{token}" in cookies[1]
        assert client.get(path_of(one, first["download_url"])).status_code == 200
    expires, mac = value.split(".")
    for forged in (
        value,  # the first file's cookie, sent to the second file's link
        f"{int(expires) + 10**6}.{mac}",  # a later expiry under the same MAC
        f"{expires}.{'A' * len(mac)}",
        "9999999999",
        "",
    ):
        answer = httpx.get(
            second["download_url"], headers={"Cookie": f"pyfiledrop_download={forged}"}
        )
        assert answer.status_code == 401, forged


def test_the_password_form_must_come_from_this_origin(one: Server) -> None:
    done = shared(one, b"y" * 100, **HEADER)
    share = path_of(one, done["share_url"])
    with one.client() as client:
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            refused = client.post(share, data={"password": PASSWORD}, headers=headers)
            assert refused.status_code == 403 and "Set-Cookie" not in refused.headers


def test_the_delete_link_asks_then_deletes_with_its_key_only(pair: Pair) -> None:  # noqa: F811
    server = pair.a
    done = shared(server, os.urandom(3000))
    url = done["delete_url"]
    assert url.startswith(done["share_url"] + "/delete?key=")
    key = url.split("key=", 1)[1]
    action = path_of(server, url.split("?", 1)[0])
    with server.client() as client:
        page = client.get(path_of(server, url))
        assert page.status_code == 200 and f'value="{key}"' in page.text
        assert client.get(action + "?key=nope").status_code == 403
        assert client.post(action, data={"key": key[:-1]}).status_code == 403
        cross = client.post(action, data={"key": key}, headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403
        assert pair.stored() == 1
        assert client.post(action, data={"key": key}).status_code == 200
        assert client.get(path_of(server, done["download_url"])).status_code == 404
        assert client.get(path_of(server, done["share_url"])).status_code == 404
    assert pair.stored() == 0, "deleted from the disk or the bucket at once"


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Pyfiledrop-Max-Downloads": "0"}, "Pyfiledrop-Max-Downloads must be a whole number"),
        ({"Pyfiledrop-Max-Downloads": "1000001"}, "from 1 to 1,000,000"),
        ({"Pyfiledrop-Max-Downloads": "two"}, "Pyfiledrop-Max-Downloads"),
        ({"Pyfiledrop-Download-Password": ""}, "1 to 1024 characters"),
        ({"Pyfiledrop-Download-Password": "a" * 1025}, "1 to 1024 characters"),
        ({"Pyfiledrop-Download-Password": "%FF"}, "percent-encoded as UTF-8"),
    ],
)
def test_bad_terms_are_refused_with_400_before_anything_is_made(
    one: Server, headers: dict[str, str], says: str
) -> None:
    with one.client() as client:
        answer = client.post("/upload", params={"filename": "a.bin"}, content=b"a", headers=headers)
        assert answer.status_code == 400 and says in answer.json()["error"], answer.text
        tus = client.post("/files/", headers={**TUS, "Upload-Length": "1", **headers})
        assert tus.status_code == 400 and says in tus.text
        assert client.get("/uploads").json()["uploads"] == []


def test_a_tus_upload_takes_its_terms_from_the_creation_request(one: Server) -> None:
    terms = {**HEADER, "Pyfiledrop-Max-Downloads": "1"}
    with one.client() as client:
        made = client.post(
            "/files/", headers={**TUS, "Upload-Length": "5", **terms,
                                "Content-Type": "application/offset+octet-stream"},
            content=b"hello",
        )  # fmt: skip
        assert made.status_code == 201, made.text
        link = made.headers["Pyfiledrop-Download-Url"]
    assert httpx.get(link).status_code == 401
    assert httpx.get(link, headers=basic(PASSWORD)).content == b"hello"


def test_the_command_line_client_sets_the_terms(one: Server, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"some notes")
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n")
    result = cli(str(path), "--url", one.url, "--download-password-file", str(secret),
                 "--max-downloads", "1", "--state-file", str(tmp_path / "state"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert httpx.get(link).status_code == 401
    assert httpx.get(link, headers=basic(PASSWORD)).content == b"some notes"
    both = cli(str(path), "--url", one.url, "--download-password", "x",
               "--download-password-file", str(secret))  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
    zero = cli(str(path), "--url", one.url, "--max-downloads", "0")
    assert zero.returncode == 2 and "--max-downloads" in zero.stderr
