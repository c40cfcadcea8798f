"""Download terms set on the page, and the share page, in a real browser: a password and a limit
chosen before dropping a file with a hostile name, the share page showing that name as text with
its password form, the download cookie it sets, and the same page in German and dark mode."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from tests.browser.test_access import luminance
from tests.browser.test_page import a_file, upload
from tests.conftest import Server
from tests.test_expiry import until

HOSTILE = '<img src=x onerror="document.title=1">&amp; "quoted" <b>bold.txt'


def test_terms_set_on_the_page_hold_and_the_share_page_unlocks_with_the_password(
    page: Page, server: Server, tmp_path: Path
) -> None:
    data = os.urandom(1_500_000)
    page.goto(server.url)
    page.fill("#download-password", "grüne wiese")
    page.fill("#max-downloads", "3")
    upload(page, a_file(HOSTILE, data))
    share = page.locator("#uploaded li .share-link")
    expect(share).to_have_text("Share page")
    share.click()

    expect(page.locator(".shared-name")).to_have_text(HOSTILE)  # text, not markup
    assert page.locator("main img, main b").count() == 0 and page.title() == "pyfiledrop"
    expect(page.locator(".facts")).to_contain_text("1.43 MiB (1,500,000 bytes)")
    expect(page.locator(".facts")).to_contain_text("3 downloads")
    expect(page.locator(".facts")).to_contain_text("kept for ever")
    expect(page.locator(".qr svg path")).to_have_count(2)
    expect(page.locator("a.button")).to_have_count(0)  # no download before the password

    page.fill("input[name=password]", "wrong")
    page.click("form.sign-in button")
    expect(page.locator(".refusal")).to_have_text("Wrong password.")
    page.fill("input[name=password]", "grüne wiese")
    page.click("form.sign-in button")
    button = page.locator("a.button")
    expect(button).to_have_text("Download")
    if shots := os.environ.get("PYFILEDROP_SHOTS"):
        page.screenshot(path=f"{shots}/share.png", full_page=True)
    with page.expect_download() as download:
        button.click()
    saved = tmp_path / "got"
    download.value.save_as(saved)
    assert saved.read_bytes() == data

    link = page.url.replace("/s/", "/download/")
    fetch = page.context.request.get  # with the page's cookies, which open the download too
    again = until(lambda: (r := fetch(link)).status != 429 and r, 5, "the first one counted")
    assert again.status == 200 and again.body() == data
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        refused = other.request.get(link, max_redirects=0, headers={"Accept": "application/json"})
        assert refused.status == 401 and refused.json()["code"] == "password_needed"
    finally:
        other.close()


def test_the_share_page_speaks_german_in_dark_mode(
    new_page: Callable[..., Page], server: Server
) -> None:
    page = new_page(locale="de-DE", color_scheme="dark")
    page.goto(server.url)
    upload(page, a_file("bericht.pdf", b"%PDF-1.4 " * 1000))
    page.locator("#uploaded li .share-link").click()
    expect(page.locator(".facts")).to_contain_text("Verbleibende Downloads")
    expect(page.locator(".facts")).to_contain_text("unbegrenzt")
    expect(page.locator("a.button")).to_have_text("Herunterladen")
    if shots := os.environ.get("PYFILEDROP_SHOTS"):  # to look at it
        page.screenshot(path=f"{shots}/share-de-dark.png", full_page=True)
    assert luminance(page, "body") < 0.2
    assert luminance(page, ".qr svg") > 0.9, "the code stays dark on light, to be scanned"
