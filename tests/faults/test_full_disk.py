"""A full disk, on a real tmpfs: new uploads of every kind are refused with 507 and a message, a
finishing copy that runs out of room leaves nothing half-done, and with the space back every
upload finishes with the right bytes. Root only (mount)."""

from __future__ import annotations

from pathlib import Path

from tests.faults.conftest import needs_root
from tests.faults.full_disk import ONE, SPLIT, full_disk


@needs_root
def test_everything_on_one_full_file_system(tmp_path: Path) -> None:
    full_disk(tmp_path, ONE)


@needs_root
def test_chunks_on_another_file_system_than_a_full_storage(tmp_path: Path) -> None:
    full_disk(tmp_path, SPLIT)
