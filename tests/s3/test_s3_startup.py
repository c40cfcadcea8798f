"""Start-up checks of the S3 store: each problem stops the server with exit status 2 and a message
naming the setting to change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.dz import DzFile
from tests.s3.conftest import FLAGS, MiB, ensure_bucket
from tests.seaweed import SeaweedFS


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1",
         "--port", str(free_port()), "-c", str(tmp_path / "chunks"), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("storage", "endpoint", "env", "setting", "reason"),
    [
        ("s3://no-such-bucket/p", None, {}, "'--storage'", "does not exist"),
        ("s3://e2e/p", None, {"AWS_SECRET_ACCESS_KEY": "wrong"}, "'AWS_ACCESS_KEY_ID/", "refused"),
        ("s3://e2e/p", "http://127.0.0.1:9", {}, "'--s3-endpoint'", "cannot reach"),
        ("s3://No_Bucket/p", None, {}, "'--storage'", "is not a bucket name"),
    ],
    ids=["bucket missing", "wrong credentials", "store down", "bad bucket name"],
)
def test_a_store_that_cannot_be_used_stops_the_server_naming_the_setting(
    tmp_path: Path,
    seaweed: SeaweedFS,
    storage: str,
    endpoint: str | None,
    env: dict[str, str],
    setting: str,
    reason: str,
) -> None:
    ensure_bucket(seaweed, "e2e")
    result = serve(
        tmp_path, "--storage", storage, "--s3-endpoint", endpoint or seaweed.endpoint, **env
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert setting in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_presigned_downloads_redirect_to_the_store(server_on, seaweed: SeaweedFS) -> None:  # type: ignore[no-untyped-def]
    server = server_on(seaweed, "--s3-presigned-downloads")
    data = os.urandom(MiB + 5)
    f = DzFile(data, MiB, name="report.pdf")
    with server.client() as client:
        f.send_all(client)
        url = str(f.wait_complete(client, timeout=60)["download_url"])
    reply = httpx.get(url)
    assert reply.status_code == 307
    assert reply.headers["location"].startswith(seaweed.endpoint)
    fetched = httpx.get(reply.headers["location"])
    assert fetched.content == data, (reply.headers["location"], fetched.text)
    assert FLAGS  # the same limits as every S3 server here


def test_the_page_sends_whole_parts_to_s3_unless_told_otherwise(
    server_on, seaweed: SeaweedFS
) -> None:  # type: ignore[no-untyped-def]
    """8 MiB chunks by default on S3 (each a part by itself: smaller ones are staged, then read
    back and sent again as parts of at least 5 MiB); a --chunk-size given is kept."""
    default = server_on(seaweed)
    assert f'"chunkSize": {8 * MiB}' in httpx.get(default.url + "/").text
    default.stop()
    chosen = server_on(seaweed, "--chunk-size", "1000000")
    assert '"chunkSize": 1000000' in httpx.get(chosen.url + "/").text
