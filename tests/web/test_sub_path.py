"""A server under a sub-path: X-Forwarded-Prefix from a trusted proxy that strips it, or
--root-path for proxies that send none; and RFC 7239's Forwarded header."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from tests.conftest import Server, serve_once
from tests.web.raw import head, request
from tests.web.test_links import cookies_anywhere, links

KiB = 1024
STRIPPED = {"X-Forwarded-Prefix": "/drop"}  # what a proxy that took /drop off the path sends


def test_a_trusted_proxys_prefix_is_in_every_link(make_server) -> None:  # type: ignore[no-untyped-def]
    trusting = make_server("-a")
    for found in links(trusting, STRIPPED):
        assert found.startswith(f"http://127.0.0.1:{trusting.port}/drop/"), found
    trusting.stop()
    distrusting = make_server("-a", "--forwarded-allow-ips", "10.0.0.1")
    for found in links(distrusting, STRIPPED):
        assert found.startswith(f"http://127.0.0.1:{distrusting.port}/download/") or (
            found.startswith(f"http://127.0.0.1:{distrusting.port}/files/")
        ), found


def page_base(reply: httpx.Response) -> str:
    found = re.search(r'<base href="([^"]*)">', reply.text)
    assert found, reply.text[:300]
    return found.group(1)


def test_the_page_and_its_cookie_live_under_the_prefix(server: Server) -> None:
    with server.client() as client:
        cookies_anywhere(client)
        reply = client.get("/", headers=STRIPPED)
        assert reply.status_code == 200
        assert page_base(reply) == "/drop/"
        assert "Path=/drop/;" in reply.headers["set-cookie"]
        # Everything the page asks for is relative to its <base>: nothing starts with a slash.
        assert not re.search(r'(?<!<base )(?:href|src|action)="/', reply.text), reply.text
        assert page_base(client.get("/")) == "/"  # the same server, asked directly


@pytest.mark.parametrize("prefix", ["/a/../b", "/..", "drop", "/a%2e%2e", "/a b", "/<x>", "/a//b"])
def test_a_prefix_that_is_not_a_plain_path_is_refused(server: Server, prefix: str) -> None:
    reply = request(server, head("GET", "/", X_Forwarded_Prefix=prefix))
    assert reply.status == 400
    assert reply.json()["error"] == "X-Forwarded-Prefix is not a plain URL path."


@pytest.mark.parametrize("stripped", [True, False], ids=["proxy strips", "proxy passes on"])
def test_root_path_serves_whether_the_proxy_strips_the_prefix_or_not(
    make_server,
    stripped: bool,  # type: ignore[no-untyped-def]
) -> None:
    server = make_server("-a", "--root-path", "/drop/")
    at = "" if stripped else "/drop"
    with server.client() as client:
        assert page_base(client.get(f"{at}/")) == "/drop/"
        body = os.urandom(3 * KiB)
        reply = client.post(f"{at}/upload", params={"filename": "a.bin"}, content=body)
        assert reply.status_code == 200, reply.text
        url = reply.json()["download_url"]
        assert url.startswith(f"http://127.0.0.1:{server.port}/drop/download/"), url
        assert client.get(at + url.split("/drop", 1)[1]).content == body
        assert client.get(f"{at}/static/app.js").status_code == 200
    if not stripped:  # the page asked for without its slash is still the page
        reply = httpx.get(f"{server.url}/drop")
        assert reply.status_code == 200 and page_base(reply) == "/drop/"


def test_forwarded_header_gives_scheme_and_host(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("-a")
    told = {  # the client forged the first element; the proxy next to the server added the last
        "Forwarded": "host=evil.example;proto=http, for=192.0.2.60;proto=https;"
        'host="files.example.org:8443"',
        "X-Forwarded-Host": "ignored.example",  # Forwarded wins when both are sent
        **STRIPPED,
    }
    for found in links(server, told):
        assert found.startswith("https://files.example.org:8443/drop/"), found


def test_a_bad_host_in_forwarded_is_refused(server: Server) -> None:
    reply = request(server, head("GET", "/upload/x", Forwarded='host="evil.example/x?"'))
    assert reply.status == 400
    assert reply.json()["code"] == "bad_host"


@pytest.mark.parametrize("value", ["drop", "/a/../b", "/a b"])
def test_a_bad_root_path_stops_the_server_with_a_message(value: str) -> None:
    run = serve_once("--root-path", value)
    assert run.returncode == 2
    assert "--root-path" in run.stderr and "is not a URL path such as /drop" in run.stderr
