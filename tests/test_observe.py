"""/healthz says whether this process can take uploads, and why not; /metrics counts what
happened, in Prometheus' text format."""

from __future__ import annotations

import os
import re
import shutil

import httpx

from tests.conftest import Server
from tests.dz import DzFile

MB = 1_000_000


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 if absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = (
        rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$"
        if wanted
        else (rf"^{re.escape(name)} (\S+)$")
    )
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_healthz_is_ok_with_a_database_and_writable_storage_with_space(server: Server) -> None:
    reply = httpx.get(server.url + "/healthz")
    assert reply.status_code == 200
    found = reply.json()
    assert found["status"] == "ok" and found["database"] == "ok" and found["storage"] == "ok"
    assert found["free_bytes"] > 0
    assert not any(p.name.startswith("healthz") for p in server.chunks.iterdir()), "probe left"


def test_healthz_is_503_with_the_reason_when_the_storage_cannot_be_written(
    server: Server,
) -> None:
    shutil.rmtree(server.chunks)
    server.chunks.write_text("not a folder")  # even root cannot make a file in it
    reply = httpx.get(server.url + "/healthz")
    assert reply.status_code == 503
    found = reply.json()
    assert found["status"] == "unhealthy" and found["database"] == "ok"
    assert found["storage"].startswith("the storage cannot be written"), found


def test_metrics_count_uploads_bytes_requests_and_refusals(server: Server) -> None:
    f = DzFile(os.urandom(3 * MB), MB)
    with server.client() as client:
        before = client.get("/metrics").text
        assert f.send_raw(client, 0).status_code == 200
        midway = client.get("/metrics").text
        f.send_all(client, order=[1, 2], raw=True)
        assert f.wait_complete(client)["state"] == "complete"
        assert client.post("/upload", params={"dzuuid": "not-a-uuid"}).status_code == 400
        reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert metric(before, "pyfiledrop_uploads_total", event="upload-completed") == 0
    assert metric(text, "pyfiledrop_uploads_total", event="upload-created") == 1
    assert metric(text, "pyfiledrop_uploads_total", event="upload-completed") == 1
    assert metric(text, "pyfiledrop_received_bytes_total") >= 3 * MB
    assert metric(text, "pyfiledrop_upload_request_seconds_count") == 4
    assert metric(text, "pyfiledrop_requests_refused_total", status="400") == 1
    assert metric(midway, "pyfiledrop_uploads_in_progress") == 1
    assert metric(text, "pyfiledrop_uploads_in_progress") == 0
    assert metric(text, "pyfiledrop_storage_free_bytes") > 0
