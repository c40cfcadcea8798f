"""Embedding: CORS on the upload routes for the sites in --cors-origins, nothing for the rest;
uploads bound by the Pyfiledrop-Owner header where a cookie would not be sent."""

from __future__ import annotations

import os
import secrets

import httpx
import pytest

from tests.conftest import Server, serve_once
from tests.dz import DzFile

SITE = "https://embedder.example"
KiB = 1024


def preflight(server: Server, path: str, origin: str) -> httpx.Response:
    return httpx.options(
        server.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "pyfiledrop-owner, content-type, x-requested-with",
        },
    )


def owner_header() -> dict[str, str]:
    return {"Pyfiledrop-Owner": secrets.token_urlsafe(32)}


@pytest.fixture
def embeddable(make_server) -> Server:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a", "--cors-origins", f"{SITE}, http://other.example:8080")
    return server


@pytest.mark.parametrize("path", ["/upload", "/upload/some-upload-id"])
def test_a_listed_site_passes_the_preflight(embeddable: Server, path: str) -> None:
    reply = preflight(embeddable, path, SITE)
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == SITE
    allowed = reply.headers["access-control-allow-headers"].lower()
    assert "pyfiledrop-owner" in allowed and "x-requested-with" in allowed
    assert "access-control-allow-credentials" not in reply.headers


def test_another_site_gets_no_cors(embeddable: Server) -> None:
    reply = preflight(embeddable, "/upload", "https://evil.example")
    assert reply.status_code == 400
    assert "access-control-allow-origin" not in reply.headers
    posted = httpx.post(
        embeddable.url + "/upload",
        params={"filename": "x.bin"},
        content=b"x",
        headers={"Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in posted.headers


JSON = {"Accept": "application/json"}  # a plain upload's answer is else its link as text


def test_cors_covers_the_upload_routes_only(embeddable: Server) -> None:
    """A listed site may upload and ask for the status; the page and downloads stay closed."""
    headers = {"Origin": SITE, **owner_header()}
    with httpx.Client(base_url=embeddable.url, headers=headers) as client:
        posted = client.post(
            "/upload", params={"filename": "e.bin"}, content=b"embedded", headers=JSON
        )
        assert posted.status_code == 200
        assert posted.headers["access-control-allow-origin"] == SITE
        assert "set-cookie" not in posted.headers  # the header binds it, no cookie handed out
        token = posted.json()["download_url"].rsplit("/", 1)[1]
        for path in ["/", f"/download/{token}", "/static/app.js", "/healthz"]:
            reply = client.get(path)
            assert reply.status_code == 200, path
            assert "access-control-allow-origin" not in reply.headers, path


def test_without_cors_origins_there_is_no_cors(server: Server) -> None:
    reply = preflight(server, "/upload", SITE)
    assert reply.status_code == 405
    assert "access-control-allow-origin" not in reply.headers


def test_the_owner_header_binds_uploads_instead_of_the_cookie(server: Server) -> None:
    mine, theirs = owner_header(), owner_header()
    f = DzFile(os.urandom(3 * KiB), KiB)
    with httpx.Client(base_url=server.url, headers=mine) as client:
        f.send_all(client)  # three requests, no cookie kept between them: the header is the owner
        assert "pyfiledrop_client" not in client.cookies
        assert f.wait_complete(client)["state"] == "complete"
    with httpx.Client(base_url=server.url, headers=theirs) as stranger:
        assert stranger.get(f"/upload/{f.uuid}").status_code == 403
    with server.client() as cookie_holder:  # a browser with a cookie is someone else too
        assert cookie_holder.get(f"/upload/{f.uuid}").status_code == 403


@pytest.mark.parametrize("value", ["short", "x" * 65, "a" * 42 + "!", ""])
def test_a_malformed_owner_header_is_400(server: Server, value: str) -> None:
    reply = httpx.get(f"{server.url}/upload/x", headers={"Pyfiledrop-Owner": value})
    assert reply.status_code == 400
    assert reply.json()["code"] == "bad_owner"
    assert "random secret" in reply.json()["error"]


def test_cors_works_under_a_sub_path(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--cors-origins", SITE, "--root-path", "/drop")
    assert preflight(server, "/drop/upload", SITE).headers["access-control-allow-origin"] == SITE


@pytest.mark.parametrize("value", ["embedder.example", "https://a.example/", "https://a.example/x"])
def test_a_bad_origin_stops_the_server_with_a_message(value: str) -> None:
    run = serve_once("--cors-origins", value)
    assert run.returncode == 2
    assert "--cors-origins" in run.stderr and "is not an origin" in run.stderr
