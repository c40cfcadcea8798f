"""GET/HEAD /download/<token>: who may fetch what, and HTTP's caching and range rules."""

from __future__ import annotations

import os

import httpx

from tests.conftest import Server
from tests.dz import DzFile

CHUNK = 64 * 1024


def finished(server: Server, data: bytes, name: str = "film.mkv") -> tuple[DzFile, str]:
    with server.client() as client:
        f = DzFile(data, CHUNK, name=name)
        f.send_all(client)
        status = f.wait_complete(client)
    return f, str(status["download_url"])


def test_link_is_a_server_token_not_the_client_id(server: Server) -> None:
    f, url = finished(server, os.urandom(CHUNK))
    token = url.rsplit("/", 1)[1]
    assert f.uuid not in url and len(token) >= 32
    assert httpx.get(f"{server.url}/download/{f.uuid}").status_code == 404
    assert httpx.get(f"{server.url}/download/{f.uuid[:8]}").status_code == 404


def test_anyone_with_the_link_downloads_with_headers(server: Server) -> None:
    data = os.urandom(3 * CHUNK + 11)
    f, url = finished(server, data, name="Résumé 2026.pdf")
    reply = httpx.get(url)  # a different client, with no cookie
    assert reply.status_code == 200
    assert reply.content == data
    assert reply.headers["content-length"] == str(len(data))
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.headers["content-disposition"] == (
        "attachment; filename=\"R_sum_ 2026.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf"
    )
    assert reply.headers["etag"]
    assert reply.headers["last-modified"]
    assert reply.headers["accept-ranges"] == "bytes"


def test_head_has_the_headers_and_no_body(server: Server) -> None:
    data = os.urandom(CHUNK)
    _, url = finished(server, data)
    reply = httpx.head(url)
    assert reply.status_code == 200
    assert reply.headers["content-length"] == str(len(data))
    assert reply.content == b""


def test_byte_ranges(server: Server) -> None:
    data = os.urandom(2 * CHUNK)
    _, url = finished(server, data)
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_conditional_get_with_etag(server: Server) -> None:
    _, url = finished(server, os.urandom(CHUNK))
    etag = httpx.get(url).headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_unknown_incomplete_and_malformed_tokens_are_404(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(2 * CHUNK), CHUNK)
        reply = f.send(client, 0)
        assert "download_url" not in reply.json()
    for token in ("A" * 32, "..%2F..%2Fstorage", "x", "a" * 200):
        assert httpx.get(f"{server.url}/download/{token}").status_code == 404


def test_downloads_off_is_403_even_with_a_valid_link(make_server) -> None:  # type: ignore[no-untyped-def]
    """A link handed out while downloads were on, after a restart with them off (the servers
    share the test's folders)."""
    on = make_server("-a")
    _, url = finished(on, os.urandom(CHUNK))
    on.stop()
    off = make_server()
    reply = httpx.get(url.replace(on.url, off.url))
    assert reply.status_code == 403
    assert "turned off" in reply.json()["error"]


def test_page_and_favicon(server: Server) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200
    assert 'src="static/vendor/dropzone/dropzone-min.js"' in page.text  # under <base>
    assert "pyfiledrop_client" in page.headers["set-cookie"]
    icon = httpx.get(server.url + "/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
    script = httpx.get(server.url + "/static/vendor/dropzone/dropzone-min.js")
    assert script.status_code == 200 and b"Dropzone" in script.content


def test_the_declared_type_is_kept_for_the_download(server: Server) -> None:
    with server.client() as client:
        reply = client.post("/upload", files={"file": ("scan", b"%PDF-1.7", "application/pdf")})
        assert httpx.get(reply.json()["download_url"]).headers["content-type"] == "application/pdf"
        odd = client.post("/upload", files={"file": ("a.txt", b"x", "text/html; charset=utf-8")})
        assert (
            httpx.get(odd.json()["download_url"]).headers["content-type"].startswith("text/plain")
        ), "a type that is not a plain media type falls back to a guess from the name"
