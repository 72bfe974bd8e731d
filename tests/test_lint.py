"""The code base is ruff-clean (lint and import order, the rules in pyproject.toml): run by
``make test`` so that a contributor learns of a fault before review does."""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def _ruff() -> list[str]:
    exe = Path(sys.executable).parent / "ruff"
    return [str(exe)] if exe.exists() else [shutil.which("ruff") or "ruff"]


def test_ruff_is_clean():
    p = subprocess.run([*_ruff(), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-5000:] + p.stderr[-2000:]
