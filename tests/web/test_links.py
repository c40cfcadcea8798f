"""Absolute links: from --public-url, else from the client's Host or a trusted proxy's
X-Forwarded-Proto/-Host; a Host that is not host[:port] is refused."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import Server
from tests.dz import DzFile
from tests.tus.helpers import OCTETS, TUS
from tests.web.raw import head, request

KiB = 1024
PUBLIC = "https://files.example.org/drop"


def cookies_anywhere(client: httpx.Client) -> None:
    """Makes `client` send its cookies whatever their Path and Secure: a client that plays a
    proxy has paths without the prefix the proxy strips, and speaks plain HTTP where the proxy
    reports HTTPS."""

    def widen(response: httpx.Response) -> None:
        for cookie in list(client.cookies.jar):
            if (cookie.path != "/" or cookie.secure) and cookie.value is not None:
                client.cookies.set(cookie.name, cookie.value)

    client.event_hooks["response"].append(widen)


def links(server: Server, headers: dict[str, str]) -> list[str]:
    """The status call's download_url, and a tus upload's Location and Pyfiledrop-Download-Url."""
    with server.client() as client:
        client.headers.update(headers)
        cookies_anywhere(client)
        f = DzFile(os.urandom(KiB), KiB)
        f.send_all(client)
        download_url = str(f.wait_complete(client)["download_url"])
        created = client.post("/files/", headers={**TUS, "Upload-Length": "1"})
        location = created.headers["location"]
        path = "/files/" + location.rsplit("/", 1)[1]  # the server's own path, prefix or not
        client.patch(path, headers={**OCTETS, "Upload-Offset": "0"}, content=b"x")
        tus_link = client.head(path, headers=TUS).headers["pyfiledrop-download-url"]
    return [download_url, location, tus_link]


def test_with_public_url_every_link_starts_with_it_whatever_the_host(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("-a", "--public-url", PUBLIC)
    spoofed = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    for found in links(server, spoofed):
        assert found.startswith(PUBLIC + "/"), found


def test_forwarded_headers_count_from_an_allowed_proxy_only(make_server) -> None:  # type: ignore[no-untyped-def]
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "files.example.org"}
    trusting = make_server("-a")  # --forwarded-allow-ips 127.0.0.1 by default
    for found in links(trusting, forwarded):
        assert found.startswith("https://files.example.org/"), found
    trusting.stop()
    distrusting = make_server("-a", "--forwarded-allow-ips", "10.0.0.1")
    for found in links(distrusting, forwarded):
        assert found.startswith(f"http://127.0.0.1:{distrusting.port}/"), found


@pytest.mark.parametrize(
    "host", ["evil.example/x?", "a b", "evil.example:99999", "[::1", "user@evil.example", ""]
)
@pytest.mark.parametrize(("path", "json_errors"), [("/upload/x", True), ("/files/x", False)])
def test_a_host_that_is_not_host_and_port_is_400(
    server: Server, host: str, path: str, json_errors: bool
) -> None:
    reply = request(
        server, head("GET", path, **TUS).replace(b"Host: 127.0.0.1", f"Host: {host}".encode())
    )
    assert reply.status == 400
    if json_errors:
        assert reply.json()["code"] == "bad_host"
    else:
        assert reply.body == b"The Host header is not a valid host name with a port."


@pytest.mark.parametrize(
    "host", ["files.example.org", "files.example.org:8080", "[::1]:80", "10.1.2.3"]
)
def test_a_valid_host_is_served(server: Server, host: str) -> None:
    reply = request(server, head("GET", "/favicon.ico").replace(b"127.0.0.1", host.encode()))
    assert reply.status == 200
