"""The command line's view of uploads: a progress bar per file and overall, then the links."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pyfiledrop.client.state import StateFile
from pyfiledrop.client.uploader import Uploader, UploadFailed


def upload_all(
    files: tuple[Path, ...], url: str, state: StateFile, *, chunk_size: int, parallel: int,
    retries: int,
) -> int:  # fmt: skip
    """Upload each file in turn; returns how many failed. Links go to stdout, errors to stderr."""
    console = Console(stderr=True)
    uploader = Uploader(url, state, chunk_size=chunk_size, parallel=parallel, retries=retries)
    failures = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress, uploader:
        total = progress.add_task("all files", total=sum(p.stat().st_size for p in files))
        for path in files:
            task = progress.add_task(path.name, total=path.stat().st_size)

            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)
                progress.advance(total, n)

            try:
                done = uploader.upload(path, advance)
            except UploadFailed as exc:
                failures += 1
                progress.console.print(f"error: {path}: {exc}", markup=False, soft_wrap=True)
                continue
            finally:
                progress.remove_task(task)
            progress.console.print(
                f"{path}: {done.size} bytes, SHA-256 {done.sha256} matches",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            # print(), not click.echo: while the bars are live, rich puts stdout above them
            print(done.download_url or "(downloads are not allowed on this server)", flush=True)
    return failures
