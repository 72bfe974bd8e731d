"""Drop named arrays from shipped sweep results that nothing reads, to keep data/ small.

Usage: python scripts/drop_arrays.py KIND --arrays NAME [NAME ...] --keep-seeds SEED [SEED ...] [--dry-run]
  e.g. python scripts/drop_arrays.py sweep-rtrl-atari --arrays tail_prediction tail_return --keep-seeds 0

For every artifact of KIND under data/ whose seed is not one of ``--keep-seeds``, the named
arrays are removed from its ``arrays.npz`` (rewritten compressed) and its manifest's file entry
(sha256, bytes) updated, with a ``dropped`` note naming what went. The Atari runs' last
predictions are read by Figure 11 only, and only from the first report seed (seed 0,
``StudyResult.first``), so every other run's copy is dead weight; a rerun of any run
regenerates them. Each artifact is rewritten with ``store.rewrite_arrays`` (arrays first,
manifest last, both renamed into place), so an interrupted run leaves every artifact valid.
Run ``rlinside artifacts verify`` afterwards.
"""

from __future__ import annotations

import argparse
import sys

from rlinside import store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("--arrays", nargs="+", required=True, help="names of the arrays to drop")
    parser.add_argument("--keep-seeds", nargs="+", type=int, required=True,
                        help="seeds whose runs keep every array")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    names, keep = set(args.arrays), set(args.keep_seeds)

    def drop(arrays: dict, manifest: dict) -> dict | None:
        seed = manifest.get("config", {}).get("seed")
        if seed is None:
            raise SystemExit(f"{manifest.get('key', '?')}: its manifest has no config.seed; is this a sweep result?")
        if int(seed) in keep or not names & set(arrays):
            return None
        return {k: v for k, v in arrays.items() if k not in names}

    note = f"arrays {', '.join(sorted(names))} dropped (read from seeds {sorted(keep)} only; scripts/drop_arrays.py)"
    try:
        n, before, after = store.rewrite_kind_arrays(args.kind, drop, note_key="dropped", note=note,
                                                     dry_run=args.dry_run)
    except store.ArtifactError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"{n} artifacts of {args.kind}: arrays {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB"
          f"{' (dry run)' if args.dry_run else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
