"""Project-wide helpers: the one seeding routine, the one device choice, repository paths.

Every module that needs randomness, a torch device or the repository root imports it
from here (STYLE.md: one way to do each thing).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

__all__ = [
    "seed_everything", "torch_device", "torch_threads", "repo_root", "code_version", "atomic_write_bytes", "is_int",
    "is_real", "temp_path", "clean_stale_temps", "process_alive", "nan_median", "nan_mean",
]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch (when installed) and return a fresh NumPy Generator.

    The returned generator is the one to pass around; the global seeds only protect code
    (third-party libraries) that still draws from the global state.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    try:
        import torch

        torch.manual_seed(int(seed))
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return np.random.default_rng(int(seed))


@functools.lru_cache(maxsize=1)
def torch_device():
    """The torch device for the whole project: CUDA when present, else CPU.

    Override with the environment variable ``RLINSIDE_DEVICE`` (e.g. ``cpu``).
    """
    import torch

    forced = os.environ.get("RLINSIDE_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def torch_threads(n: int = 1):
    """Run the block with ``torch.set_num_threads(n)``, restoring the previous count after.

    For small batches (one rollout, one validation): a second thread only adds overhead, and
    on a busy machine it waits for a core. Measured on 2 cores with both busy, validating a
    width-32 arm agent took 0.019 s with one thread and 3.1 s with two, bit-identical.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def repo_root(start: Path | None = None) -> Path:
    """The repository root: ``$RLINSIDE_ROOT`` if set, else the nearest parent holding ``_toc.yml``.

    Falls back to the source checkout this package was imported from.
    """
    env = os.environ.get("RLINSIDE_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_toc.yml").is_file() and (p / "notebooks").is_dir():
            return p
    src = Path(__file__).resolve().parents[2]
    if (src / "_toc.yml").is_file():
        return src
    raise FileNotFoundError(
        f"cannot find the rlinside repository root from {here}: no parent holds _toc.yml and "
        "notebooks/. Run from inside the repository or set RLINSIDE_ROOT."
    )


def code_version(root: Path | None = None) -> str:
    """Short git commit of the checkout, with ``-dirty`` when ``lib/`` or notebooks changed."""
    try:
        root = root or repo_root()
        sha = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"], cwd=root, capture_output=True, text=True,
            timeout=10,
        )
        if sha.returncode != 0:
            return "unversioned"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "lib", "notebooks"], cwd=root,
            capture_output=True, text=True, timeout=10,
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError, FileNotFoundError):
        return "unversioned"


#: Name of a temporary file or folder made by :func:`temp_path`: ``.<name>.tmp-<pid>[-<n>][.<ext>]``.
_TEMP = re.compile(r"^\..+\.tmp-(\d+)(?:-\d+)?(?:\.[A-Za-z0-9]+)?$")


def temp_path(path: Path, unique: bool = False) -> Path:
    """A temporary name beside ``path`` that names this process, keeping the suffix.

    ``.<stem>.tmp-<pid>[-<ns>]<suffix>``: written to, then renamed over ``path``. A process
    killed before the rename leaves it behind; :func:`clean_stale_temps` recognises it by the
    pid of a process that no longer runs and removes it at the next start.
    """
    path = Path(path)
    extra = f"-{time.time_ns()}" if unique else ""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{extra}{path.suffix}")


def process_alive(pid: int) -> bool:
    """True while the process ``pid`` runs (this process included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` left by processes that died."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        m = _TEMP.match(entry.name)
        if not m or process_alive(int(m.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def is_int(v) -> bool:
    """True for Python and NumPy integers, False for bools (for validating config fields)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v) -> bool:
    """True for Python and NumPy ints and floats, False for bools (for validating config fields)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def nan_mean(values) -> float:
    """The mean of the finite values, NaN (and no warning) when there is none."""
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


def nan_median(values) -> float:
    """The median of the finite values, NaN (and no warning) when there is none."""
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")
