"""The client's state file: what `pyfiledrop upload` remembers between runs (client/state.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pyfiledrop.client import state as state_module
from pyfiledrop.client.state import Resumable, StateFile, default_path, key_of

SERVER = "http://127.0.0.1:1"


def test_two_runs_at_once_keep_each_others_changes(tmp_path: Path) -> None:
    """Two `pyfiledrop upload` runs share the file: neither undoes what the other wrote."""
    path = tmp_path / "state.sqlite3"
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"a")
    b.write_bytes(b"bb")
    first, second = StateFile(path), StateFile(path)
    first.put(key_of(SERVER, a, 10), Resumable("1" * 32, "c1"))
    second.put(key_of(SERVER, b, 10), Resumable("2" * 32, "c2"))
    first.remember_sent(SERVER, a, "a" * 64)
    second.remember_sent(SERVER, b, "b" * 64)
    again = StateFile(path)
    assert again.get(key_of(SERVER, a, 10)) == Resumable("1" * 32, "c1")
    assert again.get(key_of(SERVER, b, 10)) == Resumable("2" * 32, "c2")
    assert (again.sent(SERVER, a), again.sent(SERVER, b)) == ("a" * 64, "b" * 64)
    assert again.sent_sizes(SERVER) == {1, 2} and again.sent_sizes("http://other") == set()
    first.forget(key_of(SERVER, a, 10))
    assert again.get(key_of(SERVER, a, 10)) is None
    assert oct(path.stat().st_mode & 0o777) == "0o600", "it holds cookies: owner-only"


def test_a_changed_file_is_not_taken_for_the_one_sent(tmp_path: Path) -> None:
    path, state = tmp_path / "a.bin", StateFile(tmp_path / "s.sqlite3")
    path.write_bytes(b"one")
    state.remember_sent(SERVER, path, "1" * 64)
    path.write_bytes(b"two")
    os.utime(path, ns=(1, 1))
    assert state.sent(SERVER, path) is None


def test_only_the_newest_files_sent_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_module, "MAX_SENT", 3)
    state = StateFile(tmp_path / "s.sqlite3")
    files = []
    for n in range(5):
        files.append(tmp_path / f"{n}.bin")
        files[-1].write_bytes(b"x" * (n + 1))
        state.remember_sent(SERVER, files[-1], f"{n}" * 64)
    state.remember_sent(SERVER, files[1], "1" * 64)  # sent again: the newest now
    assert [state.sent(SERVER, f) is not None for f in files] == [False, True, False, True, True]


def test_the_json_file_of_earlier_versions_is_taken_in_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    folder = default_path().parent
    folder.mkdir(parents=True)
    sent = tmp_path / "sent.bin"
    sent.write_bytes(b"sent")
    half = tmp_path / "half.bin"
    half.write_bytes(b"half")
    stat = sent.stat()
    legacy = {
        key_of(SERVER, half, 10): {"upload_id": "9" * 32, "cookie": "c9"},
        json.dumps(["cookie", SERVER]): {"cookie": "kept"},
        json.dumps(["sent", SERVER, str(sent.resolve()), stat.st_size, stat.st_mtime_ns]): {
            "sha256": "5" * 64
        },
        "not json": {"what": "ever"},
    }
    (folder / "uploads.json").write_text(json.dumps(legacy))
    state = StateFile(default_path())
    assert state.cookie(SERVER) == "kept"
    assert state.get(key_of(SERVER, half, 10)) == Resumable("9" * 32, "c9")
    assert state.sent(SERVER, sent) == "5" * 64
    assert not (folder / "uploads.json").exists(), "taken in once, then removed"
