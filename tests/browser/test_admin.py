"""The admin page in Chromium: sign in, see the uploads another browser made on the upload page,
filter and search, delete one after confirming (its download is then 404), change an expiry, a
hostile name shown as text; in German too. Leaves a screenshot to look at."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Dialog, Page, expect
from tests.browser.test_page import a_file, row_named, upload
from tests.conftest import Server

PASSWORD = "correct horse battery"
HOSTILE = '<img src=x onerror="window.pwned=1">.txt'
SHOTS = Path(__file__).resolve().parents[2] / "build"


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url + "/admin")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Uploads")).to_be_visible()


def rows(page: Page) -> list[str]:
    return page.locator("#uploads tbody td.name").all_text_contents()


def test_sign_in_find_filter_delete_and_change_expiry(
    new_page: Callable[..., Page], make_server: Callable[..., Server]
) -> None:
    server = make_server("-a", "--admin-password", PASSWORD)
    uploader = new_page()
    uploader.goto(server.url)
    kept, doomed = os.urandom(1_200_000), os.urandom(300_000)
    upload(
        uploader,
        a_file("holiday.mp4", kept),
        a_file("doomed.bin", doomed),
        a_file(HOSTILE, b"text"),
    )
    doomed_link = row_named(uploader, "doomed.bin")["href"]

    admin = new_page()
    sign_in(admin, server)
    expect(admin.locator("#uploads tbody tr")).to_have_count(3)
    assert sorted(rows(admin)) == sorted(["holiday.mp4", "doomed.bin", HOSTILE])
    assert admin.evaluate("window.pwned") is None, "the name is text, not markup"
    figures = admin.locator("#figures").inner_text()
    assert "complete\n3" in figures and "1.43 MiB" in figures, figures
    expect(admin.locator("#chart-uploads rect")).to_have_count(30)
    expect(admin.get_by_role("img", name="Uploads per day over the last 30 days: 3 in all"))

    admin.get_by_label("Name contains").fill("holi")
    admin.get_by_role("button", name="Show").click()
    expect(admin.locator("#uploads tbody td.name")).to_have_text(["holiday.mp4"])
    admin.get_by_label("Name contains").fill("")
    admin.get_by_label("State").select_option("receiving")
    expect(admin.locator("#empty")).to_be_visible()
    admin.get_by_label("State").select_option("complete")
    expect(admin.locator("#uploads tbody tr")).to_have_count(3)

    asked: list[str] = []

    def confirm(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    admin.once("dialog", confirm)
    admin.get_by_role("button", name="Delete doomed.bin").click()
    expect(admin.locator("#announce")).to_have_text("doomed.bin deleted.")
    expect(admin.locator("#uploads tbody tr")).to_have_count(2)
    assert asked == ["Delete doomed.bin and its data? This cannot be undone."]
    assert admin.request.get(doomed_link).status == 404
    stored = {path.name for path in server.storage.rglob("*") if path.is_file()}
    assert hashlib.sha256(doomed).hexdigest() not in stored, "its file is gone from the disk"
    assert hashlib.sha256(kept).hexdigest() in stored
    assert uploader.request.get(row_named(uploader, "holiday.mp4")["href"]).status == 200

    admin.once("dialog", lambda dialog: dialog.dismiss())  # changed its mind: nothing happens
    admin.get_by_role("button", name="Delete holiday.mp4").click()
    expect(admin.locator("#uploads tbody tr")).to_have_count(2)

    # after name, state, size, owner, account, address, created and updated
    expires = admin.locator("#uploads tbody tr", has_text="holiday.mp4").locator("td").nth(8)
    expect(expires).to_have_text("never")  # no --expire: kept for ever
    admin.get_by_role("button", name="Change the expiry of holiday.mp4").click()
    expect(admin.get_by_label("Keep for ever")).to_be_checked()
    admin.get_by_label("Keep for ever").uncheck()
    admin.get_by_label("Expires on").fill("2099-01-02T03:04")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("#announce")).to_have_text("The expiry of holiday.mp4 was changed.")
    expect(expires).to_contain_text("2099")
    admin.get_by_role("button", name="Change the expiry of holiday.mp4").click()
    admin.get_by_label("Keep for ever").check()
    admin.get_by_role("button", name="Save").click()
    expect(expires).to_have_text("never")

    SHOTS.mkdir(exist_ok=True)
    admin.screenshot(path=str(SHOTS / "admin.png"), full_page=True)
    admin.get_by_role("button", name="Sign out").click()
    expect(admin.get_by_role("button", name="Sign in")).to_be_visible()


def test_the_page_speaks_german_and_follows_the_dark_mode(
    new_page: Callable[..., Page], make_server: Callable[..., Server]
) -> None:
    server = make_server("--admin-password", PASSWORD)
    page = new_page(locale="de-DE", color_scheme="dark")
    page.goto(server.url + "/admin")
    expect(page.locator(".limits")).to_have_text("Die Verwaltung braucht das Verwaltungspasswort.")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name="Aufgegebene Uploads entfernen")).to_be_visible()
    expect(page.locator("#empty")).to_have_text("Keine passenden Uploads.")
    background = page.locator("body").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(22, 24, 28)", background
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-de-dark.png"), full_page=True)
