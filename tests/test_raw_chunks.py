"""Raw-body uploads (Dropzone 6 binaryBody, the CLI): dz* fields in the query, bytes as the body."""

from __future__ import annotations

import hashlib
import os
import random

import httpx
import pytest

from tests.conftest import Server
from tests.dz import DzFile

CHUNK = 64 * 1024


def refused(reply: httpx.Response, status: int, words: str) -> None:
    assert reply.status_code == status, reply.text
    assert words.lower() in reply.json()["error"].lower()


def test_shuffled_raw_chunks_with_duplicates(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(7 * CHUNK + 3), CHUNK, name="raw movie.mkv")
        order = list(range(f.count)) + [2, 5]
        random.Random(7).shuffle(order)
        f.send_all(client, order, raw=True)
        status = f.wait_complete(client)
        assert status["filename"] == "raw movie.mkv"
        assert httpx.get(str(status["download_url"])).content == f.data


def test_raw_and_multipart_chunks_mix_in_one_upload(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(4 * CHUNK), CHUNK)
        f.send_raw(client, 0)
        f.send(client, 1)
        f.send_raw(client, 3)
        f.send(client, 2)
        assert httpx.get(str(f.wait_complete(client)["download_url"])).content == f.data


def test_empty_file_as_one_raw_chunk(server: Server) -> None:
    with server.client() as client:
        f = DzFile(b"", CHUNK)
        f.send_all(client, raw=True)
        assert f.wait_complete(client)["sha256"] == hashlib.sha256(b"").hexdigest()


def test_raw_plain_upload_with_only_a_filename(server: Server) -> None:
    with server.client() as client:
        data = os.urandom(CHUNK + 1)
        reply = client.post(
            "/upload", params={"filename": "../x/notes.txt"}, content=data,
            headers={"Content-Type": "text/plain"},
        )  # fmt: skip
        assert reply.status_code == 200, reply.text
        status = reply.json()
        assert status["filename"] == "notes.txt"
        download = httpx.get(status["download_url"])
        assert download.content == data
        assert download.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("overrides", "data", "status", "words"),
    [
        ({"dzuuid": "../../etc"}, None, 400, "upload id"),
        ({"dzchunkindex": 9}, None, 400, "outside"),
        ({"dzchunkbyteoffset": 1}, None, 400, "must start"),
        ({"dztotalchunkcount": "x"}, None, 400, "whole number"),
        ({}, b"short", 400, "require"),
        ({}, os.urandom(CHUNK + 1), 413, "larger than"),
        ({"dztotalfilesize": 65 * 2**20, "dztotalchunkcount": 65 * 16}, None, 413, "at most"),
    ],
)
def test_bad_raw_chunks(
    server: Server, overrides: dict[str, object], data: bytes | None, status: int, words: str
) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(4 * CHUNK), CHUNK)
        refused(f.send_raw(client, 0, data=data, **overrides), status, words)


def test_missing_query_field_is_named(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(CHUNK), CHUNK)
        query = f.fields(0)
        del query["dzchunkbyteoffset"]
        refused(client.post("/upload", params=query, content=f.chunk(0)), 400, "dzchunkbyteoffset")


def test_raw_chunks_are_bound_to_their_owner(server: Server) -> None:
    with server.client() as alice, server.client() as mallory:
        f = DzFile(os.urandom(2 * CHUNK), CHUNK)
        f.send_raw(alice, 0)
        refused(f.send_raw(mallory, 1, data=b"\0" * CHUNK), 403, "another")
        refused(
            f.send_raw(alice, 1, dztotalfilesize=2 * CHUNK + 1, dztotalchunkcount=3), 409, "differs"
        )
        f.send_raw(alice, 1)
        assert httpx.get(str(f.wait_complete(alice)["download_url"])).content == f.data
