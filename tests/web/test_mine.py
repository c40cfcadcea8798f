"""GET /uploads: each client sees its own uploads again, newest first, a page at a time, and
nobody else's."""

from __future__ import annotations

import base64
import json
import os

import httpx
import pytest

from tests.conftest import Server


def plain_upload(client: httpx.Client, name: str) -> dict[str, object]:
    reply = client.post("/upload", params={"filename": name}, content=os.urandom(100))
    assert reply.status_code == 200, reply.text
    found: dict[str, object] = reply.json()
    return found


def listing(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get("/uploads", params=params)


def test_each_client_lists_its_own_uploads_newest_first(server: Server) -> None:
    with server.client() as alice, server.client() as bob:
        mine = [plain_upload(alice, f"a{i}.bin") for i in range(5)]
        theirs = plain_upload(bob, "b.bin")
        names: list[str] = []
        after: str | None = None
        pages = 0
        while True:
            reply = listing(alice, limit="2", **({"after": after} if after else {}))
            assert reply.status_code == 200
            names += [u["filename"] for u in reply.json()["uploads"]]
            pages += 1
            after = reply.json()["next"]
            if after is None:
                break
        assert names == [str(u["filename"]) for u in reversed(mine)]
        assert pages == 3
        first = listing(alice).json()["uploads"][0]
        assert first["download_url"] == mine[-1]["download_url"]
        assert first["sha256"] == mine[-1]["sha256"]
        assert [u["filename"] for u in listing(bob).json()["uploads"]] == [theirs["filename"]]
    with server.client() as stranger:
        assert listing(stranger).json() == {"uploads": [], "next": None}


def forged(key: object, upload_id: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, upload_id]).encode()).decode()


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"after": "%%%"},
        {"after": forged("1", "x")}, {"after": forged(1, 2)}, {"after": forged(True, "x")},
        {"after": base64.urlsafe_b64encode(b"[1]").decode()},
    ],
)  # fmt: skip
def test_bad_paging_is_400(server: Server, params: dict[str, str]) -> None:
    with server.client() as client:
        reply = listing(client, **params)
        assert reply.status_code == 400
        assert reply.json()["code"] == "bad_request"


def test_the_list_needs_the_upload_password_when_one_is_set(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--upload-password", "pw")
    assert httpx.get(server.url + "/uploads").status_code == 401
