"""The log: one line per upload event, refusal and server start and stop, as text or JSON on
stderr; an access log when asked; no download token, secret or forged line in it."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.dz import DzFile
from tests.logged import STAMP, LoggedServer, logged_servers  # noqa: F401  (fixture)
from tests.tus.helpers import TUS, metadata, upload
from tests.web.raw import connect, head, read_reply, request

MB = 1_000_000
KiB = 1024
FORGED_STAMP = "2026-01-01T00:00:00.000Z INFO pyfiledrop.uploads"


def test_json_log_says_start_completion_refusal_and_stop_one_object_per_line(
    logged: type[LoggedServer],
) -> None:
    server = logged("--log-format", "json")
    f = DzFile(os.urandom(3 * MB), MB, name="report 2026.pdf")
    with server.client() as client:
        f.send_all(client)
        assert f.wait_complete(client)["state"] == "complete"
        bad = client.post(
            "/upload",
            params={"dzuuid": "not-a-uuid", "dzchunkindex": "0"},
            headers={"X-Forwarded-For": "203.0.113.9"},  # from 127.0.0.1, a trusted proxy
        )
        assert bad.status_code == 400
    server.stop()

    records = server.records()
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    (started,) = server.find("upload started")
    (completed,) = server.find("upload completed")
    assert started["logger"] == completed["logger"] == "pyfiledrop.uploads"
    assert started["id"] == completed["id"] and started["event"] == "upload-created"
    assert started["name"] == completed["name"] == "report 2026.pdf"
    assert started["client"] == "127.0.0.1" and started["level"] == "info"
    assert completed["size"] == 3 * MB and completed["sha256"] == f.sha256
    speed = completed["size"] / completed["seconds"]
    assert abs(completed["bytes_per_second"] - speed) <= 0.01 * speed
    (refused,) = server.find("request refused")
    assert refused["logger"] == "pyfiledrop.refusals" and refused["level"] == "info"
    assert refused["status"] == 400 and refused["code"] == "bad_chunk"
    assert refused["reason"] == bad.json()["error"] and refused["client"] == "203.0.113.9"
    assert refused["method"] == "POST"
    assert refused["path"] == "/upload?dzuuid=not-a-uuid&dzchunkindex=0"
    lifecycle = [r["message"] for r in records if r["logger"] == "pyfiledrop.server"]
    assert lifecycle == ["server started", "server stopped"]
    assert not [r for r in records if r["logger"] == "pyfiledrop.access"], "off by default"


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_file_name_cannot_forge_or_break_a_log_line(
    logged: type[LoggedServer], form: str
) -> None:
    name = f"a\n{FORGED_STAMP} upload completed\r\x1b[2K\u2028{FORGED_STAMP}\u0085\u202e.txt"
    server = logged("--log-format", form, "--access-log")
    with server.client() as client:
        created = client.post("/upload", params={"filename": name}, content=b"x" * 100)
        assert created.status_code == 200, created.text
        stored = created.json()["filename"]
        client.get(f"/nothing%0A{FORGED_STAMP}")
    server.stop()
    assert "\u2028" in stored, "the core keeps line separators (not controls): the log escapes them"

    text = server.text()
    lines = text.splitlines()  # splits at U+2028, U+0085, \r and more, not only at \n
    assert lines == text.split("\n")[:-1], "no line break but the one ending each record"
    assert not any(line.startswith(FORGED_STAMP) for line in lines)
    if form == "json":
        (completed,) = server.find("upload completed")
        assert completed["name"] == stored
        assert any(record.get("path", "").startswith("/nothing\n") for record in server.records())
    else:
        assert all(STAMP.match(line) for line in lines), lines
        (completed,) = [line for line in lines if " upload completed " in line[:80]]
        assert "\\u2028" in completed
        assert any("path=/nothing\\x0a" in line or 'path="/nothing\\x0a' in line for line in lines)


def test_the_access_log_has_a_line_per_request_without_tokens_or_query_values(
    logged: type[LoggedServer],
) -> None:
    server = logged("-a", "--access-log", "--log-format", "json")
    f = DzFile(b"secret-free " * 1000, 4096, name="private-plans.txt")
    with server.client() as client:
        f.send_all(client, raw=True)
        link = str(f.wait_complete(client)["download_url"])
        assert client.get(link).content == f.data
        part = client.get(link, headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206 and part.content == f.data[100:1100]
    server.stop()

    token = link.rsplit("/", 1)[1]
    assert token not in server.text()
    (download,) = server.find("request", method="GET", path="/download/[token]", status=200)
    assert download["logger"] == "pyfiledrop.access"
    assert download["bytes"] == len(f.data) and download["client"] == "127.0.0.1"
    assert download["seconds"] >= 0
    (ranged,) = server.find("request", method="GET", path="/download/[token]", status=206)
    assert ranged["bytes"] == 1000, "a range sent with sendfile counts what was sent"
    chunks = server.find("request", method="POST", status=200)
    assert len(chunks) == f.count
    assert sum(chunk["received"] for chunk in chunks) == len(f.data)
    assert all("filename=...&" in c["path"] or c["path"].endswith("filename=...") for c in chunks)
    assert "private-plans" not in " ".join(c["path"] for c in chunks), "query values dropped"
    assert f"dzuuid={f.uuid}" in chunks[0]["path"], "harmless values stay"


def test_removals_say_how_and_the_bytes_freed(logged: type[LoggedServer]) -> None:
    server = logged("-a", "--expire", "1s", "--cleanup-interval", "1s", "--log-format", "json")
    with server.client() as client:
        url = upload(client, b"d" * 5000, Upload_Metadata=metadata(filename="gone.bin"))
        assert client.delete(url, headers=TUS).status_code == 204
        kept = DzFile(b"e" * 3000, 4096, name="expiring.bin")
        kept.send_all(client, raw=True)
        assert kept.wait_complete(client)["state"] == "complete"
    deadline = time.monotonic() + 25  # the clean-up runs every second
    while not server.find("upload removed", event="upload-expired"):
        assert time.monotonic() < deadline, "no expiry line"
        time.sleep(0.2)
    server.stop()
    (deleted,) = server.find("upload removed", event="upload-deleted")
    assert deleted["name"] == "gone.bin" and deleted["freed_bytes"] == 5000
    assert deleted["client"] == "127.0.0.1"
    (expired,) = server.find("upload removed", event="upload-expired")
    assert expired["name"] == "expiring.bin" and expired["freed_bytes"] == 3000
    assert "client" not in expired, "the clean-up serves no request"


def test_refusals_at_the_edge_are_logged_with_reason_and_client(
    logged: type[LoggedServer],
) -> None:
    server = logged("--header-timeout", "1", "--max-connections", "2", "--log-format", "json")
    with connect(server) as sock:  # 408: the head never ends
        sock.sendall(b"POST /files/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert read_reply(sock).status == 408
    with connect(server) as sock:  # 431
        sock.sendall(head("GET", "/", X_Big="b" * (70 * KiB)))
        assert read_reply(sock).status == 431
    too_big = request(server, head("POST", "/upload", Content_Length=10**15))
    assert too_big.status == 413  # from the app, before the body
    with connect(server) as idle, connect(server) as idle2, connect(server) as third:
        idle.sendall(b"G")
        idle2.sendall(b"G")
        time.sleep(0.2)
        third.sendall(head("GET", "/"))
        assert read_reply(third).status == 503
    server.stop()

    by_code = {record["code"]: record for record in server.find("request refused")}
    (slow,) = server.find("request refused", code="headers_too_slow", path="/files/")
    assert slow["status"] == 408 and slow["method"] == "POST"
    assert by_code["headers_too_large"]["status"] == 431
    assert by_code["too_large"]["status"] == 413
    busy = by_code["too_many_connections"]
    assert busy["status"] == 503 and busy["level"] == "warning"
    assert all(record["client"] == "127.0.0.1" for record in by_code.values())


def test_a_body_that_finds_no_turn_is_logged_as_refused(logged: type[LoggedServer]) -> None:
    server = logged("--max-streams", "1", "--header-timeout", "1", "--log-format", "json")
    query = f"dzuuid={uuid.uuid4()}&dzchunkindex=0&dztotalfilesize={MB}&dzchunksize={MB}"
    query += "&dztotalchunkcount=1&dzchunkbyteoffset=0&filename=turn.bin"
    with connect(server) as holder, connect(server) as second:
        holder.sendall(head("POST", f"/upload?{query}", Content_Length=MB) + b"x" * 256 * KiB)
        time.sleep(0.2)  # holds the only turn (a 1 s window before it could give it back)
        second.sendall(head("POST", "/upload?filename=late.bin", Content_Length=MB))
        assert read_reply(second).status == 503
    server.stop()
    (busy,) = server.find("request refused", code="too_many_streams")
    assert busy["status"] == 503 and busy["path"] == "/upload?filename=..."


def test_log_level_and_uvicorn_lines_share_the_format_and_no_secret_is_logged(
    logged: type[LoggedServer],
) -> None:
    dead_hook = "http://127.0.0.1:1/hook?key=hunter2"  # nothing listens on port 1
    quiet = logged("--log-level", "warning", "--hook-url", dead_hook, "--hook-secret", "hunter3")
    with quiet.client() as client:
        assert client.post("/upload", params={"filename": "a"}, content=b"a").status_code == 200
    time.sleep(0.2)  # the first attempts fail at once
    quiet.stop()
    text = quiet.text()
    assert "upload completed" not in text and "server started" not in text
    assert "hook attempt failed" in text and "url=http://127.0.0.1:1/hook " in text
    assert "hunter" not in text, "neither the secret nor the URL's query"

    (quiet.root / "loud").mkdir()
    loud = LoggedServer(quiet.root / "loud", "--log-level", "debug", "--log-format", "json")
    loud.start()
    loud.stop()
    assert any(r["logger"].startswith("uvicorn") for r in loud.records()), "uvicorn's own lines"
