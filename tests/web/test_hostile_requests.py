"""Hostile and odd requests at the HTTP edge: each gets the one answer the contract promises, at
once, and never a traceback."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import Server
from tests.dz import DzFile
from tests.tus.helpers import OCTETS, TUS, new_upload
from tests.web.raw import connect, head, read_reply, request

KiB = 1024
PETABYTE = 10**15
MAX_SIZE = 64 * 1024 * KiB  # the `server` fixture's --max-size 64
FORM_LIMIT = MAX_SIZE + 64 * KiB  # plus room for the form around the file


@pytest.mark.parametrize("wait", ["²", "٣", "1.5", "-1", "9" * 5000])
def test_a_wait_that_is_not_an_ascii_number_is_400(server: Server, wait: str) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(2 * KiB), KiB)
        assert f.send(client, 0).status_code == 200
        reply = client.get(f"/upload/{f.uuid}", params={"wait": wait})
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "wait must be a whole number of seconds.",
        "code": "bad_request",
    }


def test_a_multipart_boundary_over_256_bytes_is_400(server: Server) -> None:
    boundary = "b" * 300
    body = f"--{boundary}\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--{boundary}--\r\n"
    with server.client() as client:
        reply = client.post(
            "/upload",
            content=body.encode(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "The multipart boundary is longer than 256 bytes.",
        "code": "bad_request",
    }


def test_a_tus_patch_past_the_upload_length_is_413_at_once_though_the_client_then_waits(
    server: Server,
) -> None:
    """Sent chunked, so no Content-Length gives it away: the server finds out from the bytes."""
    with server.client() as client:
        url = new_upload(client, 100)
        with connect(server, timeout=5) as sock:
            sock.sendall(
                head(
                    "PATCH",
                    httpx.URL(url).path,
                    **OCTETS,
                    Upload_Offset=0,
                    Transfer_Encoding="chunked",
                )  # fmt: skip
                + b"96\r\n"
                + os.urandom(150)
                + b"\r\n"
            )
            reply = read_reply(sock)  # and nothing more is sent
        assert reply.status == 413
        assert reply.body == b"The data goes past the upload's length."
        assert client.head(url, headers=TUS).headers["upload-offset"] == "0"


@pytest.mark.parametrize(
    ("target", "headers", "answer"),
    [
        ("/upload?filename=a.bin", {}, f"The request is larger than the {FORM_LIMIT} bytes"),
        (
            "/upload",
            {"Content-Type": "multipart/form-data; boundary=x"},
            f"The request is larger than the {FORM_LIMIT} bytes",
        ),
        ("/files/", {**TUS, "Upload-Length": "10"}, f"longer than the {MAX_SIZE} bytes"),
    ],
)
def test_a_declared_petabyte_is_413_before_the_body(
    server: Server, target: str, headers: dict[str, str], answer: str
) -> None:
    reply = request(server, head("POST", target, **headers, Content_Length=PETABYTE))
    assert reply.status == 413
    assert answer in reply.body.decode()
    assert reply.headers["connection"] == "close"


def test_a_tus_patch_declaring_more_than_the_upload_has_left_is_413_before_the_body(
    server: Server,
) -> None:
    with server.client() as client:
        url = new_upload(client, 1000)
    path = httpx.URL(url).path
    for length in (1001, PETABYTE):
        reply = request(
            server, head("PATCH", path, **OCTETS, Upload_Offset=0, Content_Length=length)
        )
        assert reply.status == 413
        assert reply.body == b"The body is longer than the 1000 bytes allowed."


def test_method_override_is_honoured_on_post_only_and_needs_tus_resumable(server: Server) -> None:
    with server.client() as client:
        url = new_upload(client, 100)
        override = {"X-HTTP-Method-Override": "DELETE"}
        assert client.get(url, headers=override).status_code == 404, "a GET stays a GET"
        assert client.head(url, headers=TUS).status_code == 200
        refused = client.post(url, headers=override)
        assert refused.status_code == 412, "the overridden DELETE needs Tus-Resumable"
        assert client.head(url, headers=TUS).status_code == 200
        assert client.post(url, headers={**override, **TUS}).status_code == 204
        assert client.head(url, headers=TUS).status_code == 404
