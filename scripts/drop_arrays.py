"""Drop named arrays from shipped sweep results that nothing reads, to keep data/ small.

Usage: python scripts/drop_arrays.py KIND --arrays NAME [NAME ...] --keep-seeds SEED [SEED ...] [--dry-run]
  e.g. python scripts/drop_arrays.py sweep-rtrl-atari --arrays tail_prediction tail_return --keep-seeds 0

For every artifact of KIND under data/ whose seed is not one of ``--keep-seeds``, the named
arrays are removed from its ``arrays.npz`` (rewritten compressed) and its manifest's file entry
(sha256, bytes) updated, with a ``dropped`` note naming what went. The Atari runs' last
predictions are read by Figure 11 only, and only from the first report seed (seed 0,
``StudyResult.first``), so every other run's copy is dead weight; a rerun of any run
regenerates them. Each artifact is rewritten through temporary files renamed into place, the
arrays first and the manifest last, so an interrupted run leaves every artifact valid. Run
``rlinside artifacts verify`` afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

from rlinside import store
from rlinside.utils import atomic_write_bytes


def drop(path: Path, names: set[str], keep_seeds: set[int], dry_run: bool = False) -> tuple[int, int]:
    """Drop ``names`` from one artifact folder unless its seed is kept; returns (bytes before, after)."""
    f = path / "arrays.npz"
    before = f.stat().st_size
    manifest = json.loads((path / store.MANIFEST).read_text())
    seed = manifest.get("config", {}).get("seed")
    if seed is None:
        raise SystemExit(f"{path}: its manifest has no config.seed; is this a sweep result?")
    if int(seed) in keep_seeds:
        return before, before
    with np.load(f) as z:
        arrays = {k: z[k] for k in z.files}
    gone = sorted(names & set(arrays))
    if not gone:
        return before, before
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v for k, v in arrays.items() if k not in names})
    data = buf.getvalue()
    if not dry_run:
        atomic_write_bytes(f, data)
        manifest["files"]["arrays.npz"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        note = f"arrays {', '.join(gone)} dropped (read from seeds {sorted(keep_seeds)} only; scripts/drop_arrays.py)"
        manifest["dropped"] = note
        atomic_write_bytes(path / store.MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return before, len(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("--arrays", nargs="+", required=True, help="names of the arrays to drop")
    parser.add_argument("--keep-seeds", nargs="+", type=int, required=True,
                        help="seeds whose runs keep every array")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    root = store.data_root() / args.kind
    if not root.is_dir():
        print(f"no artifacts of kind {args.kind!r} under {store.data_root()}", file=sys.stderr)
        return 2
    folders = sorted(p for p in root.iterdir() if (p / "arrays.npz").is_file())
    total = [0, 0]
    for p in folders:
        b, a = drop(p, set(args.arrays), set(args.keep_seeds), args.dry_run)
        total[0] += b
        total[1] += a
    print(f"{len(folders)} artifacts of {args.kind}: arrays {total[0] / 1e6:.1f} MB -> {total[1] / 1e6:.1f} MB"
          f"{' (dry run)' if args.dry_run else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
