"""Store the float64 arrays of shipped artifacts as float32, to keep data/ small.

Usage: python scripts/repack_float32.py KIND [--dry-run]
  e.g. python scripts/repack_float32.py sweep-rtrl-atari

For every artifact of KIND under data/, its ``arrays.npz`` is rewritten (compressed) with each
float64 array cast to float32, and its manifest's file entry (sha256, bytes) updated, with a
``repacked`` note. Each artifact is rewritten with ``store.rewrite_arrays`` (arrays first,
manifest last, both renamed into place); an artifact with no float64 array is left as it is.
Run ``rlinside artifacts verify`` afterwards.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rlinside import store

NOTE = "float64 arrays stored as float32 (scripts/repack_float32.py)"


def to_float32(arrays: dict, manifest: dict) -> dict | None:
    """The arrays with float64 cast to float32, or None when there is none."""
    if not any(v.dtype == np.float64 for v in arrays.values()):
        return None
    return {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in arrays.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        n, before, after = store.rewrite_kind_arrays(args.kind, to_float32, note_key="repacked", note=NOTE,
                                                     dry_run=args.dry_run)
    except store.ArtifactError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"{n} artifacts of {args.kind}: arrays {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB"
          f"{' (dry run)' if args.dry_run else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
