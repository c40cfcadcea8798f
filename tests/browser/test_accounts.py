"""Accounts in Chromium: sign in on the page with a name and password, upload as the account;
sign in on the admin page with an admin account and see who uploaded what, from where. Leaves
screenshots to look at."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from tests.browser.test_page import a_file, check_download, upload
from tests.conftest import Server

PASSWORD = "ann's long password"
SHOTS = Path(__file__).resolve().parents[2] / "build"


def add_account(root: Path, name: str, *flags: str) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "user", "add", name, *flags,
         "-s", str(root / "storage"), "-c", str(root / "chunks")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYFILEDROP_USER_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def sign_in(page: Page, name: str, password: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_with_an_account_and_upload_as_it(
    new_page: Callable[..., Page], make_server: Callable[..., Server], tmp_path: Path
) -> None:
    add_account(tmp_path, "ann")
    server = make_server("-a")
    page = new_page()
    page.goto(server.url)
    expect(page.locator(".limits")).to_have_text(
        "Uploads here need an account: sign in with its name and password."
    )
    expect(page.locator(".dropzone")).to_have_count(0)
    sign_in(page, "ann", "wrong")
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "sign-in-account.png"))

    sign_in(page, "ann", PASSWORD)
    expect(page.locator("#access-text")).to_have_text("Signed in as ann.")
    data = os.urandom(1_500_000)
    upload(page, a_file("ann.bin", data))
    check_download(page, "ann.bin", data)
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        found = db.execute("SELECT filename, account, address FROM uploads").fetchall()
    assert found == [("ann.bin", "ann", "127.0.0.1")]

    page.get_by_role("button", name="Sign out").click()
    page.goto(server.url)
    expect(page.locator(".dropzone")).to_have_count(0)  # the session is gone


def test_an_admin_account_signs_in_to_the_admin_page(
    new_page: Callable[..., Page], make_server: Callable[..., Server], tmp_path: Path
) -> None:
    add_account(tmp_path, "ann")
    add_account(tmp_path, "ops", "--admin")
    server = make_server("-a")
    uploader = new_page()
    uploader.goto(server.url)
    sign_in(uploader, "ann", PASSWORD)
    upload(uploader, a_file("report.pdf", b"%PDF" * 1000))

    admin = new_page()
    admin.goto(server.url + "/admin")
    sign_in(admin, "ann", PASSWORD)
    expect(admin.get_by_role("alert")).to_have_text("This account may not use the admin page.")
    sign_in(admin, "ops", PASSWORD)
    expect(admin.get_by_role("heading", name="Uploads")).to_be_visible()
    row = admin.locator("#uploads tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("report.pdf")
    expect(row).to_contain_text("ann")
    expect(row).to_contain_text("127.0.0.1")
    header = admin.locator("#uploads thead").inner_text()
    assert "Account" in header and "Address" in header
    admin.screenshot(path=str(SHOTS / "admin-accounts.png"), full_page=True)
