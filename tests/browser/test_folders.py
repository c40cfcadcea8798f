"""Folders and zips on the page in Chromium: a chosen folder uploads every file with its
relative path, the list shows the folder with its files and a zip link, and finished files
chosen one by one download as one zip."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from tests.browser.test_page import CHUNK, a_file, drop, wait_finished
from tests.conftest import Server

SHOTS = Path(os.environ.get("PYFILEDROP_SHOTS", "/tmp"))


def unzip(path: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def a_folder(root: Path) -> dict[str, bytes]:
    files = {
        "Trip/notes.txt": b"day one\n",
        "Trip/photos/big.bin": os.urandom(CHUNK + 500_000),  # sent in chunks
        "Trip/photos/<b>tag</b>.txt": b"markup in a name",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_a_chosen_folder_is_listed_with_its_files_and_zips(
    page: Page, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = make_server("-a", "--chunk-size", str(CHUNK))
    files = a_folder(tmp_path)
    page.goto(server.url)
    page.get_by_role("button", name="Choose a folder to upload").wait_for()
    page.set_input_files("#folder-input", str(tmp_path / "Trip"))
    wait_finished(page, 3)
    folder = page.locator("#uploaded > li.folder")
    expect(folder).to_have_count(1)
    expect(folder.locator(".folder-head .name")).to_have_text("Trip")
    expect(folder.locator(".folder-head .meta")).to_contain_text("3 files")
    names = sorted(folder.locator("li .name").all_text_contents())
    assert names == ["notes.txt", "photos/<b>tag</b>.txt", "photos/big.bin"]  # text, not markup
    expect(page.locator("#folder-progress")).to_contain_text("Trip: 3 files · 100")
    page.screenshot(path=str(SHOTS / "pyfiledrop-folder.png"), full_page=True)

    with page.expect_download() as zipped:
        folder.get_by_role("link", name="Download the folder Trip as zip").click()
    assert zipped.value.suggested_filename == "Trip.zip"
    assert unzip(zipped.value.path()) == files

    drop(page, a_file("alone.txt", b"dropped alone"))
    wait_finished(page, 4)
    expect(page.locator("#uploaded > li:not(.folder) .name")).to_have_text("alone.txt")
    zip_button = page.get_by_role("button", name="Download selected as zip")
    expect(zip_button).to_be_disabled()
    page.get_by_role("checkbox", name="Choose alone.txt for the zip").check()
    page.get_by_role("checkbox", name="Choose notes.txt for the zip").check()
    with page.expect_download() as chosen:
        zip_button.click()
    assert unzip(chosen.value.path()) == {
        "Trip/notes.txt": b"day one\n",
        "alone.txt": b"dropped alone",
    }


def test_the_list_keeps_folders_after_a_reload_and_in_german(
    new_page: Callable[..., Page], make_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = make_server("-a")
    a_folder(tmp_path)
    page = new_page(locale="de-DE")
    page.goto(server.url)
    page.set_input_files("#folder-input", str(tmp_path / "Trip"))
    wait_finished(page, 3)
    page.reload()
    folder = page.locator("#uploaded > li.folder")
    expect(folder.locator(".folder-head .meta")).to_contain_text("3 Dateien")
    expect(folder.get_by_role("link", name="Den Ordner Trip als ZIP herunterladen")).to_have_count(
        1
    )
    page.click("#clear")
    expect(page.locator("#uploaded > li")).to_have_count(0)
    page.click("#restore")  # the list from the server: with the relative paths
    expect(folder.locator("li .name")).to_have_count(3)
    zipped = page.request.get(server.url + "/zip?folder=Trip")
    assert zipped.status == 200
    assert sorted(zipfile.ZipFile(io.BytesIO(zipped.body())).namelist()) == [
        "Trip/notes.txt", "Trip/photos/<b>tag</b>.txt", "Trip/photos/big.bin"
    ]  # fmt: skip


def test_dropzone_5_sends_the_paths_in_its_forms(
    page: Page, make_server: Callable[..., Server], fake_cdn: str, tmp_path: Path
) -> None:
    server = make_server("-a", "--chunk-size", str(CHUNK), "--dz-cdn", fake_cdn,
                         "--dz-version", "5.9.3")  # fmt: skip
    files = a_folder(tmp_path)
    kinds: list[str] = []
    page.on(
        "request",
        lambda r: kinds.append(r.headers.get("content-type", "")) if r.method == "POST" else None,
    )
    page.goto(server.url)
    page.set_input_files("#folder-input", str(tmp_path / "Trip"))
    wait_finished(page, 3)
    assert len(kinds) == 4 and all(k.startswith("multipart/form-data") for k in kinds)
    # forms, whose paths (their fullPath fields) the zip's names show arrived:
    zipped = page.request.get(server.url + "/zip?folder=Trip")
    assert unzip_bytes(zipped.body()) == files


def unzip_bytes(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# A folder as the browser hands a drop of one to Dropzone: an item whose entry is a directory,
# read with createReader(); Dropzone's own code walks it and gives each file its fullPath.
DROP_A_FOLDER = """() => {
    const fileEntry = (name, text) => ({ isFile: true, isDirectory: false, name: name,
        file: (ok) => ok(new File([text], name)) });
    const dirEntry = (name, children) => ({ isFile: false, isDirectory: true, name: name,
        createReader: () => { let read = false;
            return { readEntries: (ok) => {
                const batch = read ? [] : children;
                read = true;
                setTimeout(() => ok(batch), 0);  // later, as the browser's own reader answers
            } }; } });
    const folder = dirEntry("Dropped", [fileEntry("a.txt", "A"),
        dirEntry("sub", [fileEntry("b.txt", "BB")])]);
    document.getElementById("dropper").dropzone.drop({ dataTransfer: {
        files: [new File(["x"], "Dropped")], items: [{ webkitGetAsEntry: () => folder }] } });
}"""


def test_a_dropped_folder_keeps_its_paths(page: Page, server: Server) -> None:
    page.goto(server.url)
    page.evaluate(DROP_A_FOLDER)
    wait_finished(page, 2)
    folder = page.locator("#uploaded > li.folder")
    expect(folder.locator(".folder-head .name")).to_have_text("Dropped")
    assert sorted(folder.locator("li .name").all_text_contents()) == ["a.txt", "sub/b.txt"]
    zipped = page.request.get(server.url + "/zip?folder=Dropped")
    assert unzip_bytes(zipped.body()) == {"Dropped/a.txt": b"A", "Dropped/sub/b.txt": b"BB"}
