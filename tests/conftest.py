"""Shared fixtures: the repository root, a CLI runner, and one smoke build of the whole book."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, root: Path | None = None, env: dict | None = None, timeout: int = 900):
    """Run ``rlinside ARGS`` in a subprocess; returns the CompletedProcess."""
    e = dict(os.environ)
    e.update(env or {})
    if root is not None:
        e["RLINSIDE_ROOT"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "rlinside.cli", *args], cwd=root or ROOT, env=e,
        capture_output=True, text=True, timeout=timeout,
    )


def make_mini_root(root: Path, name: str, source: str, smoke: str = "{value: 2}", chapter: str = "demo") -> Path:
    """A repository of one notebook ``notebooks/<chapter>/<name>.py`` (with its smoke
    override) and a table of contents, for tests of the command line."""
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    nbdir = root / "notebooks" / chapter
    nbdir.mkdir(parents=True)
    (nbdir / f"{name}.py").write_text(source)
    (nbdir / "profiles.yml").write_text(f"chapter: {chapter}\nnotebooks:\n  {name}:\n    smoke: {smoke}\n")
    return root


def copy_book_tree(dst: Path) -> Path:
    """Copy what the book needs (not .venv, caches or outputs) into ``dst``; link data/."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, dst / name)
    for name in ("book", "notebooks"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("generated", "__pycache__"))
    (dst / "data").symlink_to(ROOT / "data")
    return dst


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> Path:
    """A copy of the book built from scratch with the smoke profile (executes every notebook)."""
    dst = copy_book_tree(tmp_path_factory.mktemp("smoke_book"))
    proc = run_cli("book", "--profile", "smoke", "--jobs", "2", root=dst, timeout=1500)
    if proc.returncode != 0:
        pytest.fail(f"smoke book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    (dst / "build_summary.txt").write_text(proc.stdout)
    return dst
