"""A Dropzone-protocol client for tests: builds the exact multipart bodies Dropzone sends."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from dataclasses import dataclass, field

import httpx

from tests.conftest import Server

BOUNDARY = "----pyfiledroptestboundary7MA4YWxkTrZu0gW"


def multipart(
    fields: dict[str, str], filename: str, data: bytes, file_first: bool = False
) -> bytes:
    """A multipart/form-data body; the file part goes last, as Dropzone sends it, unless told."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    file_part = (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )
    parts = [file_part, *parts] if file_first else [*parts, file_part]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post_form(client: httpx.Client, body: bytes) -> httpx.Response:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return client.post("/upload", content=body, headers=headers)


@dataclass
class DzFile:
    """One file as Dropzone would cut it."""

    data: bytes
    chunk_size: int
    name: str = "file.bin"
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def count(self) -> int:
        return max(1, -(-len(self.data) // self.chunk_size))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def fields(self, index: int, **overrides: object) -> dict[str, str]:
        found = {
            "dzuuid": self.uuid,
            "dzchunkindex": str(index),
            "dztotalfilesize": str(len(self.data)),
            "dzchunksize": str(self.chunk_size),
            "dztotalchunkcount": str(self.count),
            "dzchunkbyteoffset": str(index * self.chunk_size),
        }
        found.update({k: str(v) for k, v in overrides.items()})
        return found

    def chunk(self, index: int) -> bytes:
        return self.data[index * self.chunk_size : (index + 1) * self.chunk_size]

    def send(
        self,
        client: httpx.Client,
        index: int,
        data: bytes | None = None,
        file_first: bool = False,
        **overrides: object,
    ) -> httpx.Response:
        body = multipart(
            self.fields(index, **overrides),
            self.name,
            self.chunk(index) if data is None else data,
            file_first,
        )
        return post_form(client, body)

    def send_raw(
        self, client: httpx.Client, index: int, data: bytes | None = None, **overrides: object
    ) -> httpx.Response:
        """The chunk as Dropzone 6 sends it with binaryBody: fields in the query, bytes as body."""
        query = self.fields(index, **overrides) | {"filename": self.name}
        body = self.chunk(index) if data is None else data
        return client.post("/upload", params=query, content=body)

    def send_all(
        self, client: httpx.Client, order: list[int] | None = None, raw: bool = False
    ) -> None:
        for index in order if order is not None else range(self.count):
            reply = self.send_raw(client, index) if raw else self.send(client, index)
            assert reply.status_code == 200, reply.text

    def wait_complete(self, client: httpx.Client, timeout: float = 20) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = client.get(f"/upload/{self.uuid}").json()
            if status["state"] in ("complete", "failed"):
                return status  # type: ignore[no-any-return]
            time.sleep(0.02)
        raise AssertionError(f"upload {self.uuid} did not finish: {status}")


def start_chunk_and_stall(
    server: Server, f: DzFile, index: int, cookie: str, sent: int
) -> socket.socket:
    """Send a chunk's headers and only `sent` bytes of its body, then leave the socket open."""
    body = multipart(f.fields(index), f.name, f.chunk(index))
    head = (
        f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\nCookie: pyfiledrop_client={cookie}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(head + body[:sent])
    return sock
