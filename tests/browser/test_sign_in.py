"""The page with --upload-password: sign in once, upload, sign out; and an open server says it
is open."""

from __future__ import annotations

import os

from playwright.sync_api import Page, expect
from tests.browser.test_page import a_file, check_download, upload
from tests.conftest import Server

PASSWORD = "correct horse"


def test_sign_in_upload_and_sign_out(page: Page, make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("-a", "--upload-password", PASSWORD)
    page.goto(server.url)
    expect(page.locator(".limits")).to_have_text("Uploads here need a password.")
    expect(page.locator(".dropzone")).to_have_count(0)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#access-text")).to_have_text(
        "Uploads here need a password; this browser is signed in."
    )
    data = os.urandom(1_500_000)
    upload(page, a_file("signed.bin", data))
    check_download(page, "signed.bin", data)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto(server.url)
    expect(page.locator(".dropzone")).to_have_count(0)  # the session is gone


def test_an_open_server_says_anyone_may_upload(page: Page, server: Server) -> None:
    page.goto(server.url)
    expect(page.locator("#access-text")).to_have_text(
        "Anyone who can reach this page can upload here."
    )
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
