"""The page for everyone: the keyboard alone, names a screen reader reads, the system's dark mode,
and the browser's language (English and German, from one catalogue in static/text.js)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import FileChooser, Page, expect
from tests.browser.test_controls import wait_until
from tests.browser.test_page import a_file, drop, wait_finished
from tests.browser.test_resume import Gate
from tests.conftest import Server

CHUNK = 1_000_000


def focused_name(page: Page) -> str:
    """The accessible name of the element with the focus, as Chromium computes it."""
    assert page.evaluate("document.activeElement !== document.body"), "nothing has the focus"
    snapshot = page.locator(":focus").aria_snapshot()
    found = re.match(r'- \w+ "(.*)"', snapshot)
    assert found, snapshot
    return found.group(1)


def luminance(page: Page, selector: str) -> float:
    """0 (black) to 1 (white): the computed background colour of `selector`."""
    colour = page.locator(selector).evaluate("e => getComputedStyle(e).backgroundColor")
    red, green, blue = (int(v) for v in re.findall(r"\d+", colour)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_the_keyboard_alone_chooses_pauses_and_cancels(page: Page, server: Server) -> None:
    """Tab reaches the files' lifetime, then the drop area, whose Enter and Space open the file
    chooser; then every button of a file in progress and of all uploads, each with a name; Enter
    pauses, Space cancels."""
    choosers: list[FileChooser] = []
    page.on(
        "filechooser", lambda chooser: choosers.append(chooser)
    )  # well before any key: Playwright sets this up late
    page.goto(server.url)
    page.keyboard.press("Tab")  # first how long to keep the files, then the download terms
    expect(page.locator("#expire")).to_be_focused()
    for terms in ("#download-password", "#max-downloads"):
        page.keyboard.press("Tab")
        expect(page.locator(terms)).to_be_focused()
    page.keyboard.press("Tab")  # then the drop area
    expect(page.locator(".dz-button")).to_be_focused()
    assert focused_name(page) == "Drop files here or click to choose them"
    page.keyboard.press("Enter")
    wait_until(page, lambda: len(choosers) == 1, "Enter opens the file chooser")
    page.keyboard.press(" ")
    wait_until(page, lambda: len(choosers) == 2, "Space opens the file chooser")
    assert all(chooser.is_multiple() for chooser in choosers)
    Gate(page, allow=0)
    choosers[1].set_files(a_file("keys.bin", os.urandom(3 * CHUNK)))

    expect(page.locator(".dz-preview .status")).to_have_text("0%")
    buttons = [
        "Pause keys.bin",
        "Cancel keys.bin",
        "Choose a folder to upload",
        "Pause all",
        "Cancel all",
        "Clear the list of uploads",
        "Show every finished upload of this browser that the server keeps",
    ]
    names = []
    for key in ["Tab"] * len(buttons) + ["Shift+Tab"] * len(buttons) + ["Tab"]:
        page.keyboard.press(key)
        names.append(focused_name(page))
    drop_area = "Drop files here or click to choose them"
    assert names == buttons + buttons[-2::-1] + [drop_area, buttons[0]]
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_accessible_name("Resume keys.bin")
    expect(page.locator(".dz-preview .status")).to_have_text("0% · paused")
    expect(page.locator("#announce")).to_have_text("keys.bin paused.")
    page.keyboard.press("Tab")
    page.keyboard.press(" ")
    expect(page.locator(".dz-preview")).to_have_count(0)
    expect(page.locator(".dz-button")).to_be_focused()
    expect(page.locator("#announce")).to_have_text("keys.bin cancelled.")


def test_progress_is_a_named_progressbar_and_milestones_are_read_out(
    page: Page, server: Server
) -> None:
    """A screen reader finds each file's figures as a progressbar named after it, with its value
    and text, and hears in the live region when the file is uploaded."""
    page.goto(server.url)
    expect(page.locator("#announce")).to_have_attribute("role", "status")
    drop(page, a_file("heard.txt", b"something to say\n"))
    wait_finished(page, 1)
    bar = page.get_by_role("progressbar", name="Upload of heard.txt")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(bar).to_have_attribute("aria-valuetext", "100% · done")
    expect(page.get_by_role("progressbar", name="All uploads")).to_have_attribute(
        "aria-valuetext", "1 file · 100% · done"
    )
    expect(page.locator("#announce")).to_have_text("heard.txt is uploaded.")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_follows_the_systems_colour_scheme(
    new_page: Callable[..., Page], server: Server, scheme: str
) -> None:
    page = new_page(color_scheme=scheme)
    page.goto(server.url)
    drop(page, a_file("tile.txt", b"x"))
    wait_finished(page, 1)
    for selector in ("body", "#dropper", "#uploaded li", ".dz-preview button:visible"):
        if scheme == "dark":
            assert luminance(page, selector) < 0.2, selector
        else:
            assert luminance(page, selector) > 0.9, selector
    text = page.locator("body").evaluate("e => getComputedStyle(e).color")
    assert (sum(int(v) for v in re.findall(r"\d+", text)[:3]) > 600) == (scheme == "dark")


def test_german_browsers_get_the_german_page(new_page: Callable[..., Page], server: Server) -> None:
    """Under locale de-DE every text is German, numbers too, and no English is left."""
    page = new_page(locale="de-DE", permissions=["clipboard-read", "clipboard-write"])
    page.goto(server.url)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator(".dz-button")).to_have_text(
        "Dateien hier ablegen oder klicken, um sie auszuwählen"
    )
    expect(page.locator("#limits")).to_have_text(
        "Dateien bis 64 MiB; gesendet in Teilen zu 977 KiB, 6 gleichzeitig."
    )
    expect(page.get_by_label("Jede Datei behalten")).to_contain_text("für immer")
    expect(page.get_by_role("button", name="Liste der Uploads leeren")).to_have_text("Leeren")

    drop(page, a_file("bericht.pdf", os.urandom(1_500_000)))
    wait_finished(page, 1)
    expect(page.locator(".dz-preview .status")).to_have_text("100\u00a0% · fertig")
    expect(page.locator("#overall-status")).to_have_text("1 Datei · 100\u00a0% · fertig")
    copy = page.locator(".dz-preview").get_by_role("button", name="Link kopieren: bericht.pdf")
    copy.click()
    expect(copy).to_have_text("Kopiert")
    expect(page.locator("#announce")).to_have_text("Link zu bericht.pdf kopiert.")
    expect(page.locator("#uploaded .meta")).to_have_text("1,43 MiB")
    expect(page.locator(".dz-preview .dz-size")).to_have_text("1,43 MiB")
    shown = page.locator("body").inner_text()
    english = r"\b(Drop|Files up|Uploaded|Clear|Show all|All uploads|files?|done|paused)\b"
    assert re.findall(english, shown) == [], shown


def test_every_language_has_every_text(page: Page, server: Server) -> None:
    page.goto(server.url)
    missing = page.evaluate(
        """async () => {
            const { CATALOGUE } = await import("/static/text.js");
            const keys = (entries) => Object.keys(entries).sort().join();
            return Object.entries(CATALOGUE)
                .filter(([, entries]) => keys(entries) !== keys(CATALOGUE.en))
                .map(([lang]) => lang);
        }"""
    )
    assert missing == []


SIZES = {
    "en-US": {0: "0 B", 1000000: "977 KiB", 2**20: "1 MiB", 104857600: "100 MiB",
              100000 * 2**20: "97.7 GiB", 1536: "1.5 KiB", 10 * 2**40: "10 TiB"},
    "de-AT": {1000000: "977 KiB", 100000 * 2**20: "97,7 GiB", 1536: "1,5 KiB"},
}  # fmt: skip


def test_sizes_read_well(new_page: Callable[..., Page], server: Server) -> None:
    """Binary units with up to three significant digits, in the language's own decimal mark."""
    for locale, sizes in SIZES.items():
        page = new_page(locale=locale)
        page.goto(server.url)
        shown = page.evaluate(
            "async sizes => { const { size } = await import('/static/text.js');"
            "  return sizes.map(size); }",
            list(sizes),
        )
        assert dict(zip(sizes, shown, strict=True)) == sizes
