"""A real server whose stderr (its log) is kept apart from its stdout (the banner)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server

# The start of every line of the text format: time, level, logger.
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) \S+ ")


class LoggedServer(Server):
    def __init__(self, root: Path, *args: str) -> None:
        super().__init__(root, *args)
        self.stderr = root / "stderr.log"

    def command(self) -> list[str]:
        # sh sends stderr to its own file, then becomes the server (signals reach it directly).
        return ["sh", "-c", 'exec "$@" 2>>"$0"', str(self.stderr), *super().command()]

    def text(self) -> str:
        return self.stderr.read_text(encoding="utf-8") if self.stderr.exists() else ""

    def records(self) -> list[dict[str, Any]]:
        """Every line of a `--log-format json` log as an object (fails on a line that is not)."""
        return [json.loads(line) for line in self.text().split("\n") if line]

    def find(self, message: str, **wanted: Any) -> list[dict[str, Any]]:
        return [
            record
            for record in self.records()
            if record["message"] == message
            and all(record.get(key) == value for key, value in wanted.items())
        ]


@pytest.fixture(name="logged")
def logged_servers(tmp_path: Path) -> Iterator[type[LoggedServer]]:
    """Start logged servers with flags: `logged("--log-format", "json")`; stopped at the end."""
    started: list[LoggedServer] = []

    def make(*args: str) -> LoggedServer:
        server = LoggedServer(tmp_path, *args).start()
        started.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in started:
        server.stop()
