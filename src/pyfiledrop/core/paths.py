"""Where a file was in the folder its uploader sent: a relative path kept as data.

A browser that uploads a dropped folder says where each file was (Dropzone's `fullPath`, Uppy's
`relativePath`, the command-line client's `path`). The server keeps it, cleaned, to show the
folder and to name the file inside a zip; it never becomes a path of the server's own (files
are stored under their content's digest). Cleaning makes the path safe to hand to someone
else's unzip as well: no `..`, no absolute or drive parts, no control characters, `/` only.
"""

from __future__ import annotations

import re
import unicodedata

from pyfiledrop import errors

MAX_PATH_BYTES = 4096  # the whole path, as PATH_MAX on Linux
MAX_PART_BYTES = 255  # one name in it, as NAME_MAX
_DRIVE = re.compile(r"^[A-Za-z]:$")


def clean_part(part: str) -> str:
    """One name of a path without control characters or surrounding spaces; "" when nothing
    usable is left (`.`, `..`, a Windows drive such as `C:`, or a name over 255 bytes)."""
    part = "".join(c for c in part if unicodedata.category(c)[0] != "C").strip()
    if part in (".", "..") or _DRIVE.match(part) or len(part.encode()) > MAX_PART_BYTES:
        return ""
    return part


def clean_relative_path(raw: str | None) -> str | None:
    """The relative path a client sent, cleaned; None when it names no folder (empty, or a bare
    file name). Backslashes separate names as slashes do; empty, `.`, `..`, drive and over-long
    names are dropped, never resolved (`a/../b` is `a/b`: nothing climbs). 400 when what is left
    is longer than 4096 bytes."""
    if not raw:
        return None
    parts = [kept for part in re.split(r"[/\\]", raw) if (kept := clean_part(part))]
    if len(parts) < 2:
        return None
    path = "/".join(parts)
    if len(path.encode()) > MAX_PATH_BYTES:
        raise errors.BAD_REQUEST(f"The file's relative path is longer than {MAX_PATH_BYTES} bytes.")
    return path


def top_folder(relative_path: str | None) -> str | None:
    """The first name of a relative path: the folder its uploader dropped or chose."""
    return relative_path.split("/", 1)[0] if relative_path else None


def archive_names(names: list[str]) -> list[str]:
    """Names for files put in one archive, in their order: each cleaned as a relative path (a
    hostile name stored before cleaning existed is cleaned now), and made unique by adding
    ` (2)`, ` (3)`, ... before the extension of a name already taken (ignoring case, since
    unzipping on Windows or macOS would overwrite)."""
    taken: set[str] = set()
    unique: list[str] = []
    for name in names:
        parts = [kept for part in re.split(r"[/\\]", name) if (kept := clean_part(part))]
        clean = "/".join(parts) or "file"
        stem, dot, ext = clean.rpartition(".")
        if not stem or "/" in ext:  # no extension: the number goes at the end
            stem, dot, ext = clean, "", ""
        candidate, n = clean, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem} ({n}){dot}{ext}"
        taken.add(candidate.lower())
        unique.append(candidate)
    return unique
