"""Small tus 1.0 request helpers for the tests: create, patch, head, and a half-sent PATCH."""

from __future__ import annotations

import base64
import hashlib
import socket
import time

import httpx

from tests.conftest import Server

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
MiB = 1024 * 1024


def metadata(**pairs: str) -> str:
    """`Upload-Metadata` value: `key base64(value)` pairs (just `key` if empty) joined by commas."""
    return ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in pairs.items()
    )


def digest(algo: str, data: bytes) -> str:
    """`Upload-Checksum` value for `data`."""
    return f"{algo} {base64.b64encode(hashlib.new(algo, data).digest()).decode()}"


def create(
    client: httpx.Client, length: int | None, body: bytes | None = None, **headers: str
) -> httpx.Response:
    """POST /files/ with Upload-Length (unless None) and any extra headers (`_` becomes `-`)."""
    sent = dict(TUS)
    if length is not None:
        sent["Upload-Length"] = str(length)
    if body is not None:
        sent["Content-Type"] = "application/offset+octet-stream"
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return client.post("/files/", headers=sent, content=body)


def new_upload(client: httpx.Client, length: int | None, **headers: str) -> str:
    """Create an upload and return its absolute URL."""
    reply = create(client, length, **headers)
    assert reply.status_code == 201, (reply.status_code, reply.headers, reply.text)
    return reply.headers["location"]


def patch(
    client: httpx.Client, url: str, offset: int, data: bytes, **headers: str
) -> httpx.Response:
    """PATCH `data` at `offset` with the right content type unless overridden."""
    sent = {**OCTETS, "Upload-Offset": str(offset)}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return client.patch(url, headers=sent, content=data)


def head(client: httpx.Client, url: str) -> httpx.Response:
    return client.head(url, headers=TUS)


def offset_of(client: httpx.Client, url: str) -> int:
    reply = head(client, url)
    assert reply.status_code == 200, (reply.status_code, reply.headers)
    return int(reply.headers["upload-offset"])


def upload(client: httpx.Client, data: bytes, **headers: str) -> str:
    """Create and fill an upload in one PATCH; return its URL."""
    url = new_upload(client, len(data), **headers)
    if data:
        reply = patch(client, url, 0, data)
        assert reply.status_code == 204, (reply.status_code, reply.headers, reply.text)
        assert reply.headers["upload-offset"] == str(len(data))
    return url


def download(client: httpx.Client, url: str) -> bytes:
    """GET /files/<id> of a finished upload."""
    reply = client.get(url, headers=TUS)
    assert reply.status_code == 200, (reply.status_code, reply.headers, reply.text[:200])
    return reply.content


def wait_offset(client: httpx.Client, url: str, want: int, seconds: float = 10) -> int:
    """Poll HEAD until the offset is `want` (e.g. after a dropped PATCH); return the last one."""
    deadline = time.monotonic() + seconds
    seen = -1
    while time.monotonic() < deadline:
        reply = head(client, url)
        if reply.status_code == 200:
            seen = int(reply.headers["upload-offset"])
            if seen == want:
                return seen
        time.sleep(0.05)
    return seen


def half_patch(
    server: Server, url: str, offset: int, data: bytes, sent: int, checksum: str = ""
) -> socket.socket:
    """Start a PATCH of all of `data` but send only `sent` bytes of the body; keep it open."""
    path = url.split(str(server.port), 1)[1] if url.startswith("http") else url
    head_ = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {len(data)}\r\n"
        + (f"Upload-Checksum: {checksum}\r\n" if checksum else "")
        + "\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(head_ + data[:sent])
    return sock
