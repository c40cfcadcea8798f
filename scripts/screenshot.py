"""Make docs/screenshot.png for the README: the page in headless Chromium, one file finished and
one on its way.

Starts its own pyfiledrop server (downloads on) in a temporary folder on a free 127.0.0.1 port and
drops two files on the page. The small one finishes; the large one's chunks are let through one
every quarter second, so the picture shows its figures (percent, speed, time left) and buttons.

    python scripts/screenshot.py [OUTPUT.png] [--scheme dark] [--locale de-DE]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import FilePayload, Page, Route, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
OUTPUT = REPO / "docs" / "screenshot.png"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHUNK = 1024 * 1024
FILES = [
    ("holiday-video.mp4", "video/mp4", 40 * CHUNK),
    ("report-2026.pdf", "application/pdf", 180_000),
]
SHOWN_AT = 0.4  # the share of the large file sent when the picture is taken


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("pyfiledrop exited before it answered")
        try:
            urllib.request.urlopen(url + "/favicon.ico", timeout=1).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    sys.exit("pyfiledrop did not answer within 20 s")


def photograph(page: Page, url: str, output: Path) -> None:
    """Drop the files, let the large one's chunks through slowly, and take the picture."""
    held: list[Route] = []
    large = FILES[0][0]

    def hold(route: Route) -> None:
        """Holds the large file's chunks: named in the query (Dropzone 6) or the form (5)."""
        request = route.request
        if large in request.url or large.encode() in (request.post_data_buffer or b""):
            held.append(route)
        else:
            route.continue_()

    page.route(lambda url: urlsplit(url).path == "/upload", hold)
    page.goto(url)
    files: list[FilePayload] = [
        {"name": name, "mimeType": mime, "buffer": os.urandom(size)} for name, mime, size in FILES
    ]
    page.set_input_files("input.dz-hidden-input", files=files)
    let_through = int(SHOWN_AT * FILES[0][2] / CHUNK)
    started = time.monotonic()
    while let_through or time.monotonic() - started < 3.2:  # the success tick fades after 3 s
        if time.monotonic() - started > 60:
            sys.exit(f"{large} did not get {SHOWN_AT:.0%} of the way within a minute")
        if held and let_through:
            held.pop(0).continue_()
            let_through -= 1
        page.wait_for_timeout(250)
    output.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(output), full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", type=Path, default=OUTPUT)
    parser.add_argument("--scheme", choices=("light", "dark"), default="light")
    parser.add_argument("--locale", default="en-US")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pyfiledrop-shot-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1",
             "--port", str(port), "-s", f"{tmp}/storage", "-c", f"{tmp}/chunks", "-a",
             "--max-size", "10240", "--chunk-size", str(CHUNK)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until_up(url, proc)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(
                    viewport={"width": 900, "height": 600},
                    color_scheme=args.scheme,
                    locale=args.locale,
                )
                photograph(page, url, args.output)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
