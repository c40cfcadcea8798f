"""The real tus-js-client (npm, run by Node) against the server, via tests/tus/js/upload.mjs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.tus.conftest import TUS_FLAGS
from tests.tus.helpers import TUS, MiB, download, head, offset_of

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("js") / "upload.mjs"


def node_command(server: Server, file: Path, **options: object) -> list[str]:
    return ["node", str(SCRIPT), server.url + "/files/", str(file), json.dumps(options)]


def run_js(server: Server, file: Path, **options: object) -> list[dict[str, object]]:
    """Run one tus-js-client upload to its end; return the JSON events it printed."""
    done = subprocess.run(
        node_command(server, file, **options), cwd=REPO, capture_output=True, text=True, timeout=60
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events, f"no output; exit {done.returncode}; stderr: {done.stderr[-2000:]}"
    return events


def finished(events: list[dict[str, object]]) -> dict[str, object]:
    last = events[-1]
    assert last["event"] == "success", events
    return last


def write(tmp_path: Path, size: int, name: str = "js upload.bin") -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


CLIENT_MODES = {
    "one PATCH": {},
    "data during creation": {"uploadDataDuringCreation": True, "chunkSize": 100_000},
    "POST with method override": {"overridePatchMethod": True, "chunkSize": 100_000},
    "deferred length": {"uploadLengthDeferred": True, "chunkSize": 100_000, "buffer": True},
}


@pytest.mark.parametrize("mode", list(CLIENT_MODES))
def test_upload(tus_server: Server, tus: httpx.Client, tmp_path: Path, mode: str) -> None:
    """Each way tus-js-client can send a file ends with the same bytes and the metadata name."""
    path, data = write(tmp_path, 300_001)
    result = finished(run_js(tus_server, path, **CLIENT_MODES[mode]))
    url = str(result["url"])
    assert url.startswith(tus_server.url + "/files/")
    assert result["bytes"] == len(data)
    assert head(tus, url).headers["upload-length"] == str(len(data))
    reply = tus.get(url, headers=TUS)
    assert reply.content == data
    assert 'filename="js upload.bin"' in reply.headers["content-disposition"]


def test_parallel_uploads_use_concatenation(
    tus_server: Server, tus: httpx.Client, tmp_path: Path
) -> None:
    """parallelUploads: 4 sends four partials and a final; the final holds the whole file."""
    path, data = write(tmp_path, 6 * MiB + 13)
    result = finished(run_js(tus_server, path, parallelUploads=4, chunkSize=MiB))
    url = str(result["url"])
    state = head(tus, url)
    assert state.headers["upload-concat"].startswith("final;")
    assert len(state.headers["upload-concat"].split(";", 1)[1].split()) == 4
    assert state.headers["upload-offset"] == str(len(data))
    assert download(tus, url) == data


@pytest.mark.parametrize("how", ["urlStorage", "uploadUrl"])
def test_aborted_upload_resumes_from_its_url(
    tus_server: Server, tus: httpx.Client, tmp_path: Path, how: str
) -> None:
    """abort() after some chunks; a second client run resumes the same upload, not a new one."""
    path, data = write(tmp_path, MiB + 7)
    storage = {"urlStorage": str(tmp_path / "tus-urls.json")} if how == "urlStorage" else {}
    first = run_js(tus_server, path, chunkSize=64 * 1024, abortAfter=256 * 1024, **storage)
    stopped = first[-1]
    assert stopped["event"] == "aborted", first
    url = str(stopped["url"])
    assert int(str(stopped["bytes"])) >= 256 * 1024
    assert offset_of(tus, url) == stopped["bytes"]
    assert tus.get(url, headers=TUS).status_code == 404, "not complete yet"

    resume = storage if how == "urlStorage" else {"uploadUrl": url}
    result = finished(run_js(tus_server, path, chunkSize=64 * 1024, **resume))
    assert result["url"] == url
    assert result["resumed"] is True
    assert download(tus, url) == data


def test_client_retries_through_a_server_crash(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL mid-upload, restart on the same port: retryDelays carry the client to the end."""
    server = make_server(*TUS_FLAGS)
    path, data = write(tmp_path, 4 * MiB + 99)
    options = {"chunkSize": 128 * 1024, "delayMs": 25, "retryDelays": [0, 500, 1000, 2000, 4000]}
    proc = subprocess.Popen(
        node_command(server, path, **options),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "url", first
        url = str(first["url"])
        with server.client() as client:
            deadline = time.monotonic() + 20
            while offset_of(client, url) < MiB and time.monotonic() < deadline:
                time.sleep(0.02)
            at_kill = offset_of(client, url)
            assert MiB <= at_kill < len(data), "the kill must land mid-upload"
            server.kill()
            time.sleep(0.7)
            server.start()
            out, err = proc.communicate(timeout=60)
            events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            assert events and events[-1]["event"] == "success", (events, err[-2000:])
            assert events[-1]["url"] == url, "the client resumed, it did not start over"
            assert download(client, url) == data
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
