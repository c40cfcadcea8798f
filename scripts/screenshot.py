"""Make docs/screenshot.png for the README: the page after two uploads, in headless Chromium.

Starts its own pyfiledrop server (downloads on) in a temporary folder on a free 127.0.0.1 port,
drops two files on the page, waits until both are listed, and saves a full-page screenshot.

    python scripts/screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import FilePayload, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
OUTPUT = REPO / "docs" / "screenshot.png"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
FILES = [
    ("holiday-video.mp4", "video/mp4", 3_400_000),
    ("report-2026.pdf", "application/pdf", 180_000),
]


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


def main(output: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="pyfiledrop-shot-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1",
             "--port", str(port), "-s", f"{tmp}/storage", "-c", f"{tmp}/chunks", "-a",
             "--max-size", "10240", "--chunk-size", str(2 * 1024 * 1024)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until_up(url, proc)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 900, "height": 600})
                page.goto(url)
                files: list[FilePayload] = [
                    {"name": name, "mimeType": mime, "buffer": os.urandom(size)}
                    for name, mime, size in FILES
                ]
                page.set_input_files("input.dz-hidden-input", files=files)
                page.wait_for_function(
                    "n => document.querySelectorAll('#uploaded li').length === n",
                    arg=len(FILES),
                    timeout=30_000,
                )
                page.wait_for_timeout(3200)  # Dropzone's success tick fades out after 3 s
                output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(output), full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
