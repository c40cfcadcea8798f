"""Where a file was in its folder reaches the server from each client's way of saying it (tus
metadata `relativePath` as Uppy sends it, Dropzone's `fullPath` form field, the `path` query
field), cleaned, and is shown to its owner (`GET /uploads`) and on the admin API."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.dz import DzFile
from tests.tus.helpers import metadata, new_upload, patch
from tests.web.test_admin import ADMIN, basic


def test_each_client_s_relative_path_is_kept_cleaned_and_shown(make_server) -> None:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a", "--admin-password", ADMIN)
    with server.client() as client:
        url = new_upload(
            client, 3, Upload_Metadata=metadata(filename="t.txt", relativePath="Up/../py/t.txt")
        )
        assert patch(client, url, 0, b"tus").status_code == 204
        form = DzFile(b"form", 1024, name="f.txt")
        assert form.send(client, 0, fullPath="/Drop/sub/f.txt").status_code == 200
        raw = client.post("/upload", params={"filename": "r.txt", "path": "C:\\Raw\\r.txt"},
                          content=b"raw")  # fmt: skip
        assert raw.status_code == 200
        assert raw.json()["relative_path"] == "Raw/r.txt"
        bare = client.post("/upload", params={"filename": "b.txt", "path": "b.txt"}, content=b"")
        assert "relative_path" not in bare.json()  # a bare name is no folder
        long = client.post("/upload", params={"filename": "l", "path": "d/" * 2049}, content=b"")
        assert long.status_code == 400 and "4096" in long.json()["error"]
        form.wait_complete(client)
        mine = client.get("/uploads").json()["uploads"]
    assert sorted(u.get("relative_path") or "-" for u in mine) == [
        "-", "Drop/sub/f.txt", "Raw/r.txt", "Up/py/t.txt"
    ]  # fmt: skip
    rows = httpx.get(server.url + "/admin/api/uploads", headers=basic(ADMIN)).json()["uploads"]
    assert sorted(r["relative_path"] or "-" for r in rows) == [
        "-", "Drop/sub/f.txt", "Raw/r.txt", "Up/py/t.txt"
    ]  # fmt: skip
