"""The Dropzone copy pyfiledrop serves is the one package-lock.json pins, made by scripts/vendor.sh.

Needs `npm ci` (scripts/test.sh runs it): without node_modules these tests fail rather than skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from pyfiledrop.config import DROPZONE_VERSION

ROOT = Path(__file__).parent.parent
VENDORED = ROOT / "src" / "pyfiledrop" / "web" / "static" / "vendor"
INSTALLED = ROOT / "node_modules"
LOCKED = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/dropzone"]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_node_modules_holds_what_package_lock_pins() -> None:
    """So that what vendor.sh copies is the locked release (`npm ci` checked its integrity)."""
    assert (INSTALLED / ".package-lock.json").is_file(), "node_modules is missing: run npm ci"
    installed = json.loads((INSTALLED / ".package-lock.json").read_text())["packages"]
    assert installed["node_modules/dropzone"]["integrity"] == LOCKED["integrity"]
    package = json.loads((INSTALLED / "dropzone" / "package.json").read_text())
    assert package["version"] == LOCKED["version"]


def test_vendored_dropzone_is_the_locked_version() -> None:
    assert DROPZONE_VERSION == LOCKED["version"]  # what --dz-version asks a CDN for by default
    script = (VENDORED / "dropzone" / "dropzone-min.js").read_text()
    declared = re.findall(r"[`'\"](\d+\.\d+\.\d+)[`'\"]", script[:200])  # Dropzone.version
    assert declared == [LOCKED["version"]]


def test_vendor_script_makes_exactly_the_committed_copy(tmp_path: Path) -> None:
    """Same files, byte for byte: nothing edited by hand, nothing stale left behind."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "vendor.sh", tmp_path / "scripts")
    (tmp_path / "node_modules").symlink_to(INSTALLED.resolve())
    stale = tmp_path / "src" / "pyfiledrop" / "web" / "static" / "vendor" / "dropzone" / "old.js"
    stale.parent.mkdir(parents=True)
    stale.write_text("a file of an earlier release")
    result = subprocess.run([tmp_path / "scripts" / "vendor.sh"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    made = tree(stale.parent.parent)
    assert sorted(made) == sorted(tree(VENDORED))
    assert made == tree(VENDORED)
