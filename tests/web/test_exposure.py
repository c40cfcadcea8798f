"""What the server exposes beyond uploads: the page's security policy, and the owner cookie only
where it binds uploads to a client."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import Server
from tests.dz import DzFile
from tests.tus.helpers import OCTETS, TUS

KiB = 1024


def test_the_page_allows_no_foreign_or_inline_code_and_no_framing(server: Server) -> None:
    reply = httpx.get(server.url + "/")
    assert reply.headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'"
    )
    assert reply.headers["x-frame-options"] == "DENY"
    assert "server" not in reply.headers, "what runs the server is nobody's business"


def test_with_a_cdn_the_policy_allows_its_origin_for_scripts_and_styles(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--dz-cdn", "https://cdn.example.org/libs/dropzone")
    policy = httpx.get(server.url + "/").headers["content-security-policy"]
    assert "script-src 'self' https://cdn.example.org;" in policy
    assert "style-src 'self' https://cdn.example.org;" in policy


@pytest.fixture
def finished(server: Server) -> dict[str, str]:
    """Paths of a finished chunked upload's download and of a finished tus upload."""
    with server.client() as client:
        f = DzFile(os.urandom(KiB), KiB)
        f.send_all(client)
        download = httpx.URL(str(f.wait_complete(client)["download_url"])).path
        tus = (
            "/files/"
            + client.post("/files/", headers={**TUS, "Upload-Length": "1"})
            .headers["location"]
            .rsplit("/", 1)[1]
        )
        client.patch(tus, headers={**OCTETS, "Upload-Offset": "0"}, content=b"x")
    return {"download": download, "tus": tus, "uuid": f.uuid}


def test_the_owner_cookie_is_set_only_where_it_binds_uploads(
    server: Server, finished: dict[str, str]
) -> None:
    binding = [
        ("GET", "/", {}, b""),
        ("POST", "/upload?filename=a.txt", {}, b"a plain upload"),
        ("GET", f"/upload/{finished['uuid']}", {}, b""),
        ("POST", "/files/", {**TUS, "Upload-Length": "5"}, b""),
    ]
    other = [
        ("GET", finished["download"], {}, b""),
        ("HEAD", finished["download"], {}, b""),
        ("GET", finished["tus"], TUS, b""),
        ("HEAD", finished["tus"], TUS, b""),
        ("DELETE", f"/upload/{finished['uuid']}", {}, b""),  # another browser's: refused
        ("GET", "/static/page.css", {}, b""),
        ("GET", "/favicon.ico", {}, b""),
        ("GET", "/no/such/page", {}, b""),
        ("OPTIONS", "/files/", TUS, b""),
    ]
    for method, path, headers, body in binding + other:
        reply = httpx.request(method, server.url + path, headers=headers, content=body)
        wanted = (method, path, headers, body) in binding
        assert ("set-cookie" in reply.headers) == wanted, (method, path, reply.status_code)
