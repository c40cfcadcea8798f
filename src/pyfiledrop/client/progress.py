"""The command line's view of uploads: a progress bar per file and overall, then the links.

Bars only on a terminal; elsewhere (scripts, CI, benchmarks) plain lines, without importing rich.
"""

from __future__ import annotations

import contextlib
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from pyfiledrop.client.state import StateFile
from pyfiledrop.client.uploader import Uploaded, Uploader, UploadFailed
from pyfiledrop.client.walk import Item, expand


class View(Protocol):
    def add_task(self, description: str, total: float) -> Any: ...
    def advance(self, task: Any, advance: float) -> None: ...
    def remove_task(self, task: Any) -> None: ...
    def note(self, text: str) -> None: ...


class PlainView:
    """No bars: notes go to stderr as lines."""

    def add_task(self, description: str, total: float) -> int:
        return 0

    def advance(self, task: Any, advance: float) -> None:
        pass

    def remove_task(self, task: Any) -> None:
        pass

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def bars() -> Any:
    """rich's live bars on stderr, with `note` printing above them."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    class Bars(Progress):
        def note(self, text: str) -> None:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    rates = (TransferSpeedColumn(), TimeRemainingColumn())
    return Bars(*columns, *rates, console=Console(stderr=True), transient=True)


def upload_all(
    paths: tuple[Path, ...], url: str, state: StateFile, *, chunk_size: int, parallel: int,
    retries: int, expire: str | None = None, authorization: str | None = None,
    terms: dict[str, str] | None = None,
) -> int:  # fmt: skip
    """Upload the files and the files of the folders (`walk.py`), up to `parallel` at once (and
    at most `parallel` chunk requests in flight among them all), so that many small files
    overlap their round trips and the server's work of finishing each; returns how many failed
    (a folder without files counts as one). Each link goes to stdout in the order the files
    were given (a folder's in the order of their relative paths), notes to stderr."""
    shown = bars() if sys.stderr.isatty() else contextlib.nullcontext(PlainView())
    files, skipped, empty = expand(paths)
    uploader = Uploader(url, state, chunk_size=chunk_size, parallel=parallel, retries=retries,
                        expire=expire, authorization=authorization, terms=terms)  # fmt: skip
    with uploader, shown as view, ThreadPoolExecutor(parallel) as pool:
        for note in skipped:
            view.note(note)
        for folder in empty:
            view.note(f"error: {folder}: no file to upload in this folder")
        total = view.add_task("all files", total=sum(f.path.stat().st_size for f in files))

        def one(item: Item) -> Uploaded:
            path = item.path
            task = view.add_task(item.shown, total=path.stat().st_size)

            def advance(n: int) -> None:
                view.advance(task, n)
                view.advance(total, n)

            try:
                done = uploader.upload(path, advance, item.relative_path)
            finally:
                view.remove_task(task)
            how = "already sent" if done.known else "matches"
            view.note(f"{item.shown}: {done.size} bytes, SHA-256 {done.sha256} {how}")
            return done

        failures = len(empty)
        for item, future in [(item, pool.submit(one, item)) for item in files]:
            try:
                done = future.result()
            except UploadFailed as exc:
                failures += 1
                view.note(f"error: {item.shown}: {exc}")
                continue
            # print(), not click.echo: while the bars are live, rich puts stdout above them
            print(done.download_url or "(downloads are not allowed on this server)", flush=True)
    return failures
