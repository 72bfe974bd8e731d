"""Store the float64 arrays of shipped artifacts as float32, to keep data/ small.

Usage: python scripts/repack_float32.py KIND [--dry-run]
  e.g. python scripts/repack_float32.py sweep-rtrl-atari

For every artifact of KIND under data/, its ``arrays.npz`` is rewritten (compressed) with each
float64 array cast to float32, and its manifest's file entry (sha256, bytes) updated, with a
``repacked`` note. Each artifact is rewritten through temporary files renamed into place, the
arrays first and the manifest last; an artifact with no float64 array is left as it is. Run
``rlinside artifacts verify`` afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys

import numpy as np

from rlinside import store
from rlinside.utils import atomic_write_bytes

NOTE = "float64 arrays stored as float32 (scripts/repack_float32.py)"


def repack(path, dry_run: bool = False) -> tuple[int, int]:
    """Repack one artifact folder; returns (bytes before, bytes after) of its arrays.npz."""
    f = path / "arrays.npz"
    with np.load(f) as z:
        arrays = {k: z[k] for k in z.files}
    if not any(v.dtype == np.float64 for v in arrays.values()):
        return f.stat().st_size, f.stat().st_size
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in arrays.items()})
    data = buf.getvalue()
    before = f.stat().st_size
    if not dry_run:
        manifest = json.loads((path / store.MANIFEST).read_text())
        atomic_write_bytes(f, data)
        manifest["files"]["arrays.npz"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        manifest["repacked"] = NOTE
        atomic_write_bytes(path / store.MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return before, len(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    root = store.data_root() / args.kind
    if not root.is_dir():
        print(f"no artifacts of kind {args.kind!r} under {store.data_root()}", file=sys.stderr)
        return 2
    folders = sorted(p for p in root.iterdir() if (p / "arrays.npz").is_file())
    total = [0, 0]
    for p in folders:
        b, a = repack(p, args.dry_run)
        total[0] += b
        total[1] += a
    print(f"{len(folders)} artifacts of {args.kind}: arrays {total[0] / 1e6:.1f} MB -> {total[1] / 1e6:.1f} MB"
          f"{' (dry run)' if args.dry_run else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
