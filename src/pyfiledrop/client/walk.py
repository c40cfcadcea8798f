"""What `pyfiledrop upload` sends for the paths it is given: files as they are, folders walked.

A folder's files keep their place in it as a relative path that starts with the folder's own
name (`Photos/2024/a.jpg` for `pyfiledrop upload Photos`), as a browser does for a dropped
folder; the server keeps it as data. Nothing outside the folder is read through it: a symbolic
link is followed only when it points to a file inside the folder, never to a folder (which could
loop) or out of it; those links, and anything that is not a regular file (sockets, pipes,
devices), are skipped, each with a note saying why.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Item:
    """A file to upload and, for a file of a folder, its relative path there."""

    path: Path
    relative_path: str | None = None

    @property
    def shown(self) -> str:
        return self.relative_path or str(self.path)


def expand(paths: tuple[Path, ...]) -> tuple[list[Item], list[str], list[Path]]:
    """The files to upload, in the order given (a folder's in the order of their relative
    paths), the notes about what was skipped, and the folders that had no file to upload."""
    items: list[Item] = []
    notes: list[str] = []
    empty: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = _walk(path, notes)
            items += found
            if not found:
                empty.append(path)
        else:
            items.append(Item(path))
    return items, notes, empty


def _walk(folder: Path, notes: list[str]) -> list[Item]:
    root = folder.resolve()
    top = root.name or "folder"  # `/` has no name
    found: list[Item] = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        at = Path(here)
        for name in [d for d in dirs if (at / d).is_symlink()]:
            notes.append(f"skipped {at / name}: a link to a folder is not followed")
            dirs.remove(name)
        for name in files:
            path = at / name
            why = _skip_reason(path, root)
            if why:
                notes.append(f"skipped {path}: {why}")
                continue
            relative = path.relative_to(folder).as_posix()
            found.append(Item(path, f"{top}/{relative}"))
    return sorted(found, key=lambda item: item.relative_path or "")


def _skip_reason(path: Path, root: Path) -> str | None:
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            return "a link to something outside the folder"
        if not target.is_file():
            return "a link to something that is not a file"
        return None
    mode = path.lstat().st_mode
    return None if stat.S_ISREG(mode) else "not a regular file"
