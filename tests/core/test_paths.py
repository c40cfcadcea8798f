"""Relative paths from clients are cleaned into data that can never climb out of a folder."""

from __future__ import annotations

import pytest

from pyfiledrop import errors
from pyfiledrop.core.paths import archive_names, clean_relative_path, top_folder


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Photos/2024/a.jpg", "Photos/2024/a.jpg"),
        ("/Photos/a.jpg", "Photos/a.jpg"),  # Dropzone's fullPath starts with a slash
        ("../../etc/passwd", "etc/passwd"),
        ("Photos/../../../a.jpg", "Photos/a.jpg"),  # dropped, never resolved
        ("./Photos/./a.jpg", "Photos/a.jpg"),
        ("Photos\\sub\\a.jpg", "Photos/sub/a.jpg"),
        ("C:\\Users\\me\\a.jpg", "Users/me/a.jpg"),
        ("\\\\server\\share\\a.jpg", "server/share/a.jpg"),
        ("Pho\x00tos/a\x1b[31m.jpg\u202e", "Photos/a[31m.jpg"),
        ("Photos//a.jpg", "Photos/a.jpg"),
        (" Photos / a.jpg ", "Photos/a.jpg"),
        ("Photos/" + "x" * 256 + "/a.jpg", "Photos/a.jpg"),  # an over-long name is dropped
        ("Fotos/Ünïcödé/ファイル.txt", "Fotos/Ünïcödé/ファイル.txt"),
        ("a.jpg", None),  # a bare name is no folder
        ("../a.jpg", None),
        ("", None),
        (None, None),
        ("/../\\./", None),
    ],
)
def test_hostile_relative_paths_are_cleaned(sent: str | None, kept: str | None) -> None:
    assert clean_relative_path(sent) == kept


def test_a_path_over_4096_bytes_is_refused() -> None:
    at_most = "/".join(["d" * 200] * 20) + "/" + "f" * 76
    assert len(at_most.encode()) == 4096
    assert clean_relative_path(at_most) == at_most
    with pytest.raises(errors.UploadError) as refused:
        clean_relative_path(at_most + "f")
    assert refused.value.status == 400 and "4096" in refused.value.message


def test_the_top_folder_is_the_first_name() -> None:
    assert top_folder("Photos/2024/a.jpg") == "Photos"
    assert top_folder(None) is None


def test_archive_names_are_clean_and_unique_ignoring_case() -> None:
    assert archive_names(
        ["a/b.txt", "a/b.txt", "A/B.TXT", "notes", "notes", "../../x", "/abs/y", "a.b/c", "a.b/c"]
    ) == [
        "a/b.txt", "a/b (2).txt", "A/B (3).TXT", "notes", "notes (2)", "x", "abs/y", "a.b/c",
        "a.b/c (2)",
    ]  # fmt: skip
    assert archive_names(["..", "\x07"]) == ["file", "file (2)"]
