"""tus 1.0 by hand: every status and header the protocol and pyfiledrop's contract promise."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.conftest import Server, finished_files
from tests.tus.conftest import MAX_SIZE_MIB
from tests.tus.helpers import (
    OCTETS,
    TUS,
    MiB,
    create,
    digest,
    download,
    half_patch,
    head,
    metadata,
    new_upload,
    offset_of,
    patch,
    upload,
    wait_offset,
)

ID = re.compile(r"[A-Za-z0-9_-]{32,}")


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def header_list(reply: httpx.Response, name: str) -> set[str]:
    """A comma-separated header as a set of lowercase items."""
    return {item.strip().lower() for item in reply.headers.get(name, "").split(",") if item.strip()}


# --- discovery -------------------------------------------------------------------------------


def test_options_lists_version_extensions_limits_and_needs_no_tus_resumable(
    tus: httpx.Client,
) -> None:
    """OPTIONS is the one request that works without Tus-Resumable, and it advertises all."""
    reply = tus.options("/files/")
    assert reply.status_code == 204
    assert reply.headers["tus-resumable"] == "1.0.0"
    assert reply.headers["tus-version"] == "1.0.0"
    assert header_list(reply, "tus-extension") == {
        "creation", "creation-with-upload", "creation-defer-length", "termination",
        "checksum", "expiration", "concatenation",
    }  # fmt: skip
    assert reply.headers["tus-max-size"] == str(MAX_SIZE_MIB * MiB)
    assert header_list(reply, "tus-checksum-algorithm") == {"md5", "sha1", "sha256"}


# --- creation --------------------------------------------------------------------------------

CREATE_CASES = [
    # (headers, status, what it proves)
    ({"Upload-Length": "10"}, 201, "plain length"),
    ({"Upload-Length": "0"}, 201, "an empty file"),
    ({"Upload-Defer-Length": "1"}, 201, "deferred length"),
    ({"Upload-Length": "10", "Upload-Metadata": ""}, 201, "tuspy sends empty metadata"),
    (
        {"Upload-Length": "10", "Upload-Metadata": metadata(filename="a", filetype="b/c")},
        201,
        "meta",
    ),
    ({"Upload-Length": str(MAX_SIZE_MIB * MiB)}, 201, "exactly the limit"),
    ({"Upload-Length": str(MAX_SIZE_MIB * MiB + 1)}, 413, "over --max-size"),
    ({}, 400, "neither length nor defer"),
    ({"Upload-Defer-Length": "2"}, 400, "defer value other than 1"),
    ({"Upload-Length": "10", "Upload-Defer-Length": "1"}, 400, "both at once"),
    ({"Upload-Length": "-1"}, 400, "negative length"),
    ({"Upload-Length": "ten"}, 400, "not a number"),
]


@pytest.mark.parametrize(
    ("headers", "status"), [c[:2] for c in CREATE_CASES], ids=[c[2] for c in CREATE_CASES]
)
def test_create(
    tus_server: Server, tus: httpx.Client, headers: dict[str, str], status: int
) -> None:
    """POST /files/: 201 with an absolute Location, Upload-Expires, Tus-Resumable; else 4xx."""
    reply = tus.post("/files/", headers={**TUS, **headers})
    assert reply.status_code == status, reply.text
    assert reply.headers["tus-resumable"] == "1.0.0"
    if status != 201:
        assert "location" not in reply.headers
        return
    location = reply.headers["location"]
    assert re.fullmatch(rf"{re.escape(tus_server.url)}/files/[A-Za-z0-9_-]{{32,}}", location)
    if headers.get("Upload-Length") != "0":  # a finished upload has nothing left to expire
        assert "upload-expires" in reply.headers
    assert head(tus, location).status_code == 200


@pytest.mark.parametrize(
    ("version", "method"),
    [(None, "POST"), ("0.2.2", "POST"), (None, "PATCH"), ("1.0.1", "PATCH"), (None, "DELETE")],
)
def test_missing_or_wrong_tus_resumable_is_412_and_changes_nothing(
    tus: httpx.Client, version: str | None, method: str
) -> None:
    """Without Tus-Resumable: 1.0.0 the server says 412 with Tus-Version and does nothing."""
    url = new_upload(tus, 4)
    assert patch(tus, url, 0, b"ab").status_code == 204
    headers = {"Upload-Length": "4", "Content-Type": OCTETS["Content-Type"], "Upload-Offset": "2"}
    if version:
        headers["Tus-Resumable"] = version
    target = "/files/" if method == "POST" else url
    reply = tus.request(method, target, headers=headers, content=b"cd")
    assert reply.status_code == 412
    assert reply.headers["tus-version"] == "1.0.0"
    assert "location" not in reply.headers
    assert offset_of(tus, url) == 2, "a refused request must not touch the upload"


def test_ids_are_long_random_and_a_made_up_one_is_404(tus: httpx.Client) -> None:
    """Ids come from the server, differ each time, and guessing one finds nothing."""
    a, b = upload_id(new_upload(tus, 1)), upload_id(new_upload(tus, 1))
    assert a != b
    assert ID.fullmatch(a) and ID.fullmatch(b)
    made_up = "A" * len(a)
    reply = tus.head(f"/files/{made_up}", headers=TUS)
    assert reply.status_code == 404
    assert "upload-offset" not in reply.headers
    for bogus in ("/files/..%2f..%2fetc", f"/files/{a[:8]}"):
        assert "upload-offset" not in tus.head(bogus, headers=TUS).headers


def test_expiration_is_an_http_date_in_the_future(tus: httpx.Client) -> None:
    """Upload-Expires on POST and on a PATCH of an unfinished upload: RFC 9110, later than now."""
    reply = create(tus, 10)
    created = parsedate_to_datetime(reply.headers["upload-expires"])
    assert reply.headers["upload-expires"].endswith(" GMT")
    assert created > datetime.now(UTC)
    patched = patch(tus, reply.headers["location"], 0, b"12345")
    assert parsedate_to_datetime(patched.headers["upload-expires"]) > datetime.now(UTC)


# --- HEAD ------------------------------------------------------------------------------------


def test_head_reports_offset_length_metadata_and_no_store(tus: httpx.Client) -> None:
    """HEAD tells where to resume, echoes the metadata as given, and must not be cached."""
    meta = metadata(filename="report.pdf", filetype="application/pdf", empty="")
    url = new_upload(tus, 100, Upload_Metadata=meta)
    patch(tus, url, 0, b"x" * 30)
    reply = head(tus, url)
    assert reply.status_code == 200
    assert reply.headers["upload-offset"] == "30"
    assert reply.headers["upload-length"] == "100"
    assert reply.headers["upload-metadata"] == meta
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["tus-resumable"] == "1.0.0"
    assert reply.content == b""


# --- PATCH -----------------------------------------------------------------------------------

# (how the PATCH differs from the right one at offset 4 of 10, status, what it proves)
BAD_PATCHES = [
    ({"Upload-Offset": "3"}, b"5678", 409, "offset behind"),
    ({"Upload-Offset": "5"}, b"5678", 409, "offset ahead"),
    ({"Upload-Offset": "0"}, b"5678", 409, "offset from the start"),
    ({"Content-Type": "application/octet-stream"}, b"5678", 415, "wrong content type"),
    ({"Content-Type": "multipart/form-data; boundary=x"}, b"5678", 415, "form content type"),
    ({"Tus-Resumable": "0.2.2"}, b"5678", 412, "old protocol version"),
    ({}, b"5678901", 413, "body past Upload-Length"),
    ({"Upload-Checksum": digest("sha1", b"other")}, b"5678", 460, "sha1 mismatch"),
    ({"Upload-Checksum": digest("md5", b"other")}, b"5678", 460, "md5 mismatch"),
    ({"Upload-Checksum": digest("sha256", b"other")}, b"5678", 460, "sha256 mismatch"),
    ({"Upload-Checksum": "crc32 AAAAAA=="}, b"5678", 400, "unknown algorithm"),
    ({"Upload-Checksum": "sha1"}, b"5678", 400, "checksum without digest"),
    ({"Upload-Length": "12"}, b"5678", 400, "changing a known length"),
    ({"Upload-Offset": "four"}, b"5678", 400, "offset not a number"),
]


@pytest.mark.parametrize(
    ("change", "body", "status"), [c[:3] for c in BAD_PATCHES], ids=[c[3] for c in BAD_PATCHES]
)
def test_bad_patch_is_refused_and_the_offset_stays(
    tus: httpx.Client, change: dict[str, str], body: bytes, status: int
) -> None:
    """A refused PATCH leaves the upload at its offset, and the right PATCH still works after."""
    data = b"0123456789"
    url = new_upload(tus, len(data))
    assert patch(tus, url, 0, data[:4]).status_code == 204
    reply = tus.patch(url, headers={**OCTETS, "Upload-Offset": "4", **change}, content=body)
    assert reply.status_code == status, (reply.headers, reply.text)
    assert reply.headers.get("upload-offset") in (None, "4")
    assert offset_of(tus, url) == 4
    good = patch(tus, url, 4, data[4:], Upload_Checksum=digest("sha1", data[4:]))
    assert good.status_code == 204 and good.headers["upload-offset"] == "10"
    assert download(tus, url) == data


def test_checksum_mismatch_on_a_chunk_of_many_mib_keeps_nothing(tus: httpx.Client) -> None:
    """Progress commits during a long PATCH must not count bytes whose checksum then fails."""
    data = os.urandom(10 * MiB)
    url = new_upload(tus, len(data))
    wrong = digest("sha256", data[:-1] + b"!")
    reply = patch(tus, url, 0, data, Upload_Checksum=wrong)
    assert reply.status_code == 460
    assert offset_of(tus, url) == 0
    assert patch(tus, url, 0, data).status_code == 204
    assert download(tus, url) == data


@pytest.mark.parametrize("algo", ["md5", "sha1", "sha256"])
def test_checksum_that_matches_is_accepted(tus: httpx.Client, algo: str) -> None:
    """Each advertised algorithm verifies a chunk; the bytes are stored."""
    data = os.urandom(5000)
    url = new_upload(tus, len(data))
    for start in (0, 3000):
        chunk = data[start : start + 3000]
        reply = patch(tus, url, start, chunk, Upload_Checksum=digest(algo, chunk))
        assert reply.status_code == 204
        assert reply.headers["upload-offset"] == str(start + len(chunk))
        assert reply.headers["tus-resumable"] == "1.0.0"
    assert download(tus, url) == data


def test_patches_move_the_offset_chunk_by_chunk(tus: httpx.Client) -> None:
    """Several PATCHes, each answered 204 with the new offset; HEAD agrees; GET has the bytes."""
    data = os.urandom(100_000)
    url = new_upload(tus, len(data))
    for start in range(0, len(data), 30_000):
        chunk = data[start : start + 30_000]
        reply = patch(tus, url, start, chunk)
        assert reply.status_code == 204
        assert reply.content == b""
        assert reply.headers["upload-offset"] == str(start + len(chunk))
        assert offset_of(tus, url) == start + len(chunk)
    assert download(tus, url) == data


def test_empty_patch_keeps_the_offset(tus: httpx.Client) -> None:
    """A PATCH with no body is legal and leaves the offset where it was."""
    url = new_upload(tus, 10)
    reply = patch(tus, url, 0, b"")
    assert reply.status_code == 204 and reply.headers["upload-offset"] == "0"


def test_patch_on_unknown_upload_is_404(tus: httpx.Client) -> None:
    reply = patch(tus, "/files/" + "B" * 40, 0, b"abc")
    assert reply.status_code == 404


def test_patch_on_a_finished_upload_is_refused(tus: httpx.Client) -> None:
    """Nothing can be appended once the last byte is in."""
    url = upload(tus, b"done")
    reply = patch(tus, url, 4, b"more")
    assert reply.status_code in (400, 403, 409, 413)
    assert download(tus, url) == b"done"


def test_method_override_turns_a_post_into_a_patch(tus: httpx.Client) -> None:
    """tus-js-client's overridePatchMethod: POST + X-HTTP-Method-Override: PATCH appends."""
    url = new_upload(tus, 6)
    headers = {**OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"}
    reply = tus.post(url, headers=headers, content=b"abcdef")
    assert reply.status_code == 204
    assert reply.headers["upload-offset"] == "6"
    assert download(tus, url) == b"abcdef"


# --- deferred length and creation-with-upload -------------------------------------------------


def test_deferred_length_is_set_by_a_later_patch(tus: httpx.Client) -> None:
    """Upload-Defer-Length: 1, then bytes, then a PATCH that names the length and finishes."""
    url = new_upload(tus, None, Upload_Defer_Length="1")
    reply = head(tus, url)
    assert reply.headers["upload-defer-length"] == "1"
    assert "upload-length" not in reply.headers
    assert reply.headers["upload-offset"] == "0"
    assert patch(tus, url, 0, b"hello").headers["upload-offset"] == "5"
    assert head(tus, url).headers["upload-defer-length"] == "1"
    reply = patch(tus, url, 5, b" world", Upload_Length="11")
    assert reply.status_code == 204 and reply.headers["upload-offset"] == "11"
    after = head(tus, url)
    assert after.headers["upload-length"] == "11"
    assert "upload-defer-length" not in after.headers
    assert download(tus, url) == b"hello world"


def test_deferred_length_cannot_be_set_below_the_offset(tus: httpx.Client) -> None:
    url = new_upload(tus, None, Upload_Defer_Length="1")
    patch(tus, url, 0, b"hello")
    reply = patch(tus, url, 5, b"", Upload_Length="3")
    assert reply.status_code == 400
    assert head(tus, url).headers["upload-defer-length"] == "1"


@pytest.mark.parametrize("sent", [0, 1000, 4096], ids=["no body", "part", "whole"])
def test_creation_with_upload(tus: httpx.Client, sent: int) -> None:
    """POST with a body stores it and answers with Upload-Offset; the rest can follow by PATCH."""
    data = os.urandom(4096)
    reply = create(tus, len(data), body=data[:sent])
    assert reply.status_code == 201
    assert reply.headers["upload-offset"] == str(sent)
    url = reply.headers["location"]
    assert offset_of(tus, url) == sent
    if sent < len(data):
        assert patch(tus, url, sent, data[sent:]).headers["upload-offset"] == str(len(data))
    assert download(tus, url) == data


def test_creation_with_upload_over_the_length_is_413(tus: httpx.Client) -> None:
    reply = create(tus, 3, body=b"four")
    assert reply.status_code == 413


def test_zero_length_upload_is_finished_at_once(tus: httpx.Client) -> None:
    url = new_upload(tus, 0)
    reply = head(tus, url)
    assert reply.headers["upload-offset"] == "0" and reply.headers["upload-length"] == "0"
    assert download(tus, url) == b""


# --- downloads -------------------------------------------------------------------------------


def test_finished_upload_downloads_with_its_name_right_after_the_last_patch(
    tus: httpx.Client,
) -> None:
    """The last PATCH returns once the file is stored: GET and the download link work at once."""
    data = os.urandom(3 * MiB + 7)
    url = new_upload(tus, len(data), Upload_Metadata=metadata(filename="big file.bin"))
    assert patch(tus, url, 0, data[: 2 * MiB]).status_code == 204
    assert "pyfiledrop-download-url" not in head(tus, url).headers
    last = patch(tus, url, 2 * MiB, data[2 * MiB :])
    assert last.status_code == 204
    link = last.headers["pyfiledrop-download-url"]
    reply = tus.get(url, headers=TUS)
    assert reply.status_code == 200
    assert reply.content == data
    assert 'filename="big file.bin"' in reply.headers["content-disposition"]
    assert reply.headers["content-disposition"].startswith("attachment")
    assert head(tus, url).headers["pyfiledrop-download-url"] == link
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/download/[A-Za-z0-9_-]{32,}", link)
    assert httpx.get(link).content == data


def test_incomplete_upload_cannot_be_downloaded(tus: httpx.Client) -> None:
    url = new_upload(tus, 10)
    patch(tus, url, 0, b"12345")
    assert tus.get(url, headers=TUS).status_code == 404


def test_without_allow_downloads_get_is_403(make_server) -> None:  # type: ignore[no-untyped-def]
    """Downloads off: a finished upload is stored but GET /files/<id> is refused."""
    server = make_server()
    with server.client() as client:
        url = upload(client, b"secret")
        reply = client.get(url, headers=TUS)
        assert reply.status_code == 403
        assert b"secret" not in reply.content


def test_hostile_metadata_filename_is_stored_as_a_plain_name(
    tus_server: Server, tus: httpx.Client
) -> None:
    """Path parts are dropped and HTML is never served inline; nothing lands outside storage."""
    name = "../../etc/<img src=x onerror=alert(1)>\x1b.html"
    meta = metadata(filename=name, filetype="text/html")
    url = upload(tus, b"<script>alert(1)</script>", Upload_Metadata=meta)
    assert head(tus, url).headers["upload-metadata"] == meta
    reply = tus.get(url, headers=TUS)
    assert reply.content == b"<script>alert(1)</script>"
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert "filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.html" in disposition
    assert ".." not in disposition and "etc" not in disposition and "/" not in disposition
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert not (tus_server.root.parent / "etc").exists()
    assert not (tus_server.root / "etc").exists()


def test_newlines_in_the_metadata_filename_cannot_add_headers(tus: httpx.Client) -> None:
    """A decoded filename with CR/LF must not split the download's Content-Disposition."""
    meta = metadata(filename="a\r\nSet-Cookie: owned=1\r\n.txt")
    url = upload(tus, b"data", Upload_Metadata=meta)
    reply = tus.get(url, headers=TUS)
    assert reply.status_code == 200 and reply.content == b"data"
    assert "set-cookie" not in reply.headers
    assert "\n" not in reply.headers["content-disposition"]
    assert "owned" not in reply.cookies


# --- termination -----------------------------------------------------------------------------


def test_delete_removes_the_upload(tus: httpx.Client) -> None:
    """DELETE answers 204; afterwards HEAD, PATCH and GET find nothing."""
    url = new_upload(tus, 10)
    patch(tus, url, 0, b"12345")
    reply = tus.delete(url, headers=TUS)
    assert reply.status_code == 204
    assert reply.headers["tus-resumable"] == "1.0.0"
    gone = head(tus, url)
    assert gone.status_code in (404, 410)
    assert "upload-offset" not in gone.headers
    assert patch(tus, url, 5, b"67890").status_code in (404, 410)
    assert tus.get(url, headers=TUS).status_code in (404, 410)
    assert tus.delete(url, headers=TUS).status_code in (404, 410)


def test_delete_a_finished_upload(tus: httpx.Client) -> None:
    url = upload(tus, b"finished")
    assert tus.delete(url, headers=TUS).status_code == 204
    assert tus.get(url, headers=TUS).status_code in (404, 410)


# --- concatenation ---------------------------------------------------------------------------


def test_three_partials_concatenate_into_a_final(tus_server: Server, tus: httpx.Client) -> None:
    """Partials in any order, final by absolute URLs and paths, HEAD/GET of the final right."""
    parts = [os.urandom(n) for n in (70_000, 1, 33_333)]
    urls = []
    for part in parts:
        url = new_upload(tus, len(part), Upload_Concat="partial")
        urls.append(url)
        assert head(tus, url).headers["upload-concat"] == "partial"
    for url, part in reversed(list(zip(urls, parts, strict=True))):
        assert patch(tus, url, 0, part).status_code == 204
    refs = [urls[0], "/files/" + upload_id(urls[1]), urls[2]]
    reply = tus.post(
        "/files/",
        headers={**TUS, "Upload-Concat": "final;" + " ".join(refs),
                 "Upload-Metadata": metadata(filename="joined.bin")},
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    final = reply.headers["location"]
    assert final.startswith(tus_server.url + "/files/")
    total = sum(map(len, parts))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = head(tus, final)
        if state.headers.get("upload-offset") == str(total):
            break
        time.sleep(0.05)
    assert state.status_code == 200
    assert state.headers["upload-concat"].startswith("final;")
    assert state.headers["upload-length"] == str(total)
    assert state.headers["upload-offset"] == str(total)
    body = tus.get(final, headers=TUS)
    assert body.content == b"".join(parts)
    assert 'filename="joined.bin"' in body.headers["content-disposition"]
    assert patch(tus, final, total, b"x").status_code == 403


BAD_CONCATS = [
    ({"Upload-Concat": "final;"}, "final without parts"),
    ({"Upload-Concat": "final;/files/" + "C" * 40}, "final with an unknown part"),
    ({"Upload-Concat": "final;/files/x", "Upload-Length": "5"}, "final with a length"),
    ({"Upload-Concat": "partial;x", "Upload-Length": "1"}, "partial with urls"),
    ({"Upload-Concat": "whole", "Upload-Length": "1"}, "unknown kind"),
]


@pytest.mark.parametrize("headers", [c[0] for c in BAD_CONCATS], ids=[c[1] for c in BAD_CONCATS])
def test_bad_concatenation_is_refused(tus: httpx.Client, headers: dict[str, str]) -> None:
    """Malformed Upload-Concat values create nothing."""
    reply = tus.post("/files/", headers={**TUS, **headers})
    assert reply.status_code in (400, 404), reply.text
    assert "location" not in reply.headers


def test_final_of_a_plain_or_unfinished_upload_is_refused(tus: httpx.Client) -> None:
    """Only finished partials concatenate (no concatenation-unfinished extension)."""
    plain = upload(tus, b"plain")
    done = new_upload(tus, 1, Upload_Concat="partial")
    patch(tus, done, 0, b"p")
    unfinished = new_upload(tus, 2, Upload_Concat="partial")
    patch(tus, unfinished, 0, b"u")
    for refs in (f"{plain} {done}", f"{done} {unfinished}"):
        reply = tus.post("/files/", headers={**TUS, "Upload-Concat": f"final;{refs}"})
        assert reply.status_code in (400, 403, 409), (refs, reply.status_code)
        assert "location" not in reply.headers


def test_a_final_may_name_each_partial_once_and_a_bounded_number(
    tus_server: Server, tus: httpx.Client
) -> None:
    """Issue 9, defect 5: one 1 MiB partial named 1,024 times wrote 1 GiB and echoed the header."""
    part = new_upload(tus, 4, Upload_Concat="partial")
    assert patch(tus, part, 0, b"abcd").status_code == 204
    files = finished_files(tus_server.storage)
    for refs, why in ((f"{part} {part}", "named only once"), (" ".join([part] * 1024), "at most")):
        reply = tus.post("/files/", headers={**TUS, "Upload-Concat": f"final;{refs}"})
        assert reply.status_code == 400, reply.text
        assert why in reply.text and len(reply.text) < 200, reply.text
        assert "location" not in reply.headers
    assert finished_files(tus_server.storage) == files, "nothing was written"
    assert head(tus, part).status_code == 200, "the partial is still there to be used"


# --- locking, disconnects, crashes -------------------------------------------------------------


def test_second_patch_while_one_is_running_is_423_and_a_drop_keeps_the_bytes(
    tus_server: Server, tus: httpx.Client
) -> None:
    """One writer at a time (423); when the first drops, its received bytes count; resume works."""
    data = os.urandom(MiB)
    url = new_upload(tus, len(data))
    sock = half_patch(tus_server, url, 0, data, sent=MiB // 2)
    try:
        time.sleep(0.5)  # the first PATCH holds the upload by now
        reply = patch(tus, url, 0, data)
        assert reply.status_code == 423
        assert offset_of(tus, url) <= MiB // 2
    finally:
        sock.close()
    assert wait_offset(tus, url, MiB // 2) == MiB // 2, "bytes received before a drop must count"
    reply = patch(tus, url, MiB // 2, data[MiB // 2 :])
    assert reply.status_code == 204
    assert download(tus, url) == data


def test_a_dropped_patch_with_a_checksum_counts_nothing(
    tus_server: Server, tus: httpx.Client
) -> None:
    """Bytes of a checksummed PATCH cut off part-way cannot be verified, so they do not count."""
    data = os.urandom(6 * MiB)
    url = new_upload(tus, len(data))
    sock = half_patch(tus_server, url, 0, data, sent=5 * MiB, checksum=digest("sha1", data))
    time.sleep(0.5)
    sock.close()
    time.sleep(0.5)
    assert wait_offset(tus, url, 0) == 0
    assert patch(tus, url, 0, data).status_code == 204
    assert download(tus, url) == data


def test_sigkill_during_a_long_patch_keeps_a_correct_prefix(make_server) -> None:  # type: ignore[no-untyped-def]
    """Commits every few MiB: after SIGKILL, HEAD gives a prefix the client can extend."""
    server = make_server("-a", "--max-size", "64")
    data = os.urandom(24 * MiB)
    with server.client() as client:
        url = new_upload(client, len(data))
        sent = 20 * MiB
        sock = half_patch(server, url, 0, data, sent=sent)
        time.sleep(1.5)
        server.kill()
        sock.close()
        server.start()
        offset = offset_of(client, url)
        assert 8 * MiB <= offset <= sent, f"only {offset} bytes of {sent} survived the crash"
        assert patch(client, url, offset, data[offset:]).status_code == 204
        assert download(client, url) == data


# --- CORS ------------------------------------------------------------------------------------

ORIGIN = "http://example.test"


@pytest.mark.parametrize("method", ["POST", "HEAD", "PATCH"])
def test_cors_headers_let_a_browser_read_location_and_offset(
    tus: httpx.Client, method: str
) -> None:
    """A cross-origin tus client must be allowed, and must be able to read the tus headers."""
    url = new_upload(tus, 10)
    headers = {**TUS, "Origin": ORIGIN}
    if method == "POST":
        reply = tus.post("/files/", headers={**headers, "Upload-Length": "5"})
    elif method == "HEAD":
        reply = tus.head(url, headers=headers)
    else:
        reply = patch(tus, url, 0, b"12", Origin=ORIGIN)
    assert reply.status_code in (200, 201, 204)
    assert reply.headers["access-control-allow-origin"] in (ORIGIN, "*")
    exposed = header_list(reply, "access-control-expose-headers")
    assert {"upload-offset", "location", "upload-length", "tus-resumable"} <= exposed


@pytest.mark.parametrize("target", ["endpoint", "upload", "unknown upload"])
def test_cors_preflight_allows_patch_and_the_tus_headers(tus: httpx.Client, target: str) -> None:
    """The browser's preflight (before POST, and before HEAD/PATCH of an upload URL) succeeds."""
    path = {
        "endpoint": "/files/",
        "upload": new_upload(tus, 10),
        "unknown upload": "/files/" + "D" * 40,
    }[target]
    asked = "upload-offset,tus-resumable,upload-metadata,upload-checksum,content-type"
    reply = tus.options(
        path,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH",
                 "Access-Control-Request-Headers": asked},
    )  # fmt: skip
    assert reply.status_code in (200, 204)
    assert reply.headers["access-control-allow-origin"] in (ORIGIN, "*")
    assert "patch" in header_list(reply, "access-control-allow-methods")
    allowed = header_list(reply, "access-control-allow-headers")
    assert allowed == {"*"} or {
        "upload-offset", "tus-resumable", "upload-metadata", "upload-checksum",
    } <= allowed  # fmt: skip


def test_two_finals_naming_the_same_partials_at_once_consume_them_once(
    tus_server: Server, tus: httpx.Client
) -> None:
    """Each partial is used by one final: the other request is refused (423 while the first
    holds the partials, 404 once they are consumed) and creates nothing."""
    parts = [os.urandom(8 << 20) for _ in range(3)]
    urls = [new_upload(tus, len(part), Upload_Concat="partial") for part in parts]
    for url, part in zip(urls, parts, strict=True):
        assert patch(tus, url, 0, part).status_code == 204
    final = {**TUS, "Upload-Concat": "final;" + " ".join(urls)}
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: tus.post("/files/", headers=final), range(2)))
    statuses = sorted(reply.status_code for reply in replies)
    assert statuses[0] == 201 and statuses[1] in (404, 423), [r.text for r in replies]
    made = next(reply for reply in replies if reply.status_code == 201).headers["location"]
    assert all("location" not in reply.headers for reply in replies if reply.status_code != 201)
    assert tus.get(made, headers=TUS).content == b"".join(parts)
