"""The page under a sub-path, for real: Chromium talks to Debian's nginx, which serves pyfiledrop
under /drop/ as the README says (prefix stripped, X-Forwarded-Prefix sent)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from tests.browser.test_page import a_file, check_download, upload
from tests.conftest import free_port
from tests.test_nginx import Nginx, readme_sub_path_site, site_config
from tusclient.client import TusClient


@pytest.fixture
def proxy(make_server) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """nginx with the README's sub-path site in front of two servers; (its URL, the prefix)."""
    site, prefix = readme_sub_path_site()
    servers = [make_server("-a", "--chunk-size", "1000000") for _ in range(2)]
    port = free_port()
    nginx = Nginx(site_config(site, port, [f"127.0.0.1:{s.port}" for s in servers]), port)
    nginx.start()
    yield nginx.url, prefix
    nginx.stop()


def test_the_page_uploads_and_links_under_the_sub_path(page: Page, proxy: tuple[str, str]) -> None:
    url, prefix = proxy
    outside: list[str] = []  # requests the page sends outside its sub-path
    page.on("request", lambda r: outside.append(r.url) if prefix not in r.url else None)
    page.goto(f"{url}{prefix}/")
    data = os.urandom(2_500_000)  # three chunks, through both servers
    upload(page, a_file("under.bin", data))
    check_download(page, "under.bin", data)
    href = page.locator("#uploaded li a.name").get_attribute("href")
    assert href is not None and href.startswith(f"{url}{prefix}/download/"), href
    assert outside == []


def test_tus_follows_locations_under_the_sub_path(proxy: tuple[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, prefix = proxy
    source = tmp_path / "tus.bin"
    source.write_bytes(os.urandom(300_000))
    uploader = TusClient(f"{url}{prefix}/files/").uploader(str(source), chunk_size=100_000)
    uploader.upload()
    assert uploader.url is not None and uploader.url.startswith(f"{url}{prefix}/files/")
