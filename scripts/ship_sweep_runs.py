"""Ship the finished runs of a sweep kind from the cache into ``data/``, keeping only runs at
or above a length, so smoke-test runs in the same cache are left behind.

A sweep stores each (configuration, seed) result as its own artifact as soon as it finishes;
a long background sweep that cannot end in one session is kept by shipping the runs it has
finished (they are then found in ``data/`` and skipped when the sweep's command is run again).

A sweep whose tasks have no ``n_steps`` names the key that tells its real runs from smoke
ones with ``--min KEY=VALUE`` (repeatable; a run is shipped when ``config[KEY] >= VALUE``).

Usage::

    python scripts/ship_sweep_runs.py sweep-rtrl-atari --min-steps 1000000
    python scripts/ship_sweep_runs.py sweep-rtrl-trace-patterning --min-steps 1000000 --dry-run
    python scripts/ship_sweep_runs.py sweep-arm-pruning-comparison --min retrain_budget=1000
"""

from __future__ import annotations

import argparse
import json
import sys

from rlinside import store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", help="artifact kind of the sweep, e.g. sweep-rtrl-atari")
    parser.add_argument("--min-steps", type=int, default=1, help="ship runs whose config has n_steps >= this")
    parser.add_argument("--min", action="append", default=[], metavar="KEY=VALUE",
                        help="ship only runs whose config has KEY >= VALUE (repeatable; for sweeps without n_steps)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be shipped")
    args = parser.parse_args(argv)
    if args.min_steps < 1:
        parser.error(f"--min-steps must be a positive integer, got {args.min_steps}")
    floors = {}
    for item in args.min:
        key, sep, value = item.partition("=")
        try:
            floors[key] = float(value)
        except ValueError:
            parser.error(f"--min must be KEY=NUMBER, got {item!r}")
        if not sep or not key:
            parser.error(f"--min must be KEY=NUMBER, got {item!r}")
    root = store.cache_root() / args.kind
    if not root.is_dir():
        parser.error(f"no cached artifacts of kind {args.kind!r} under {store.cache_root()}")
    shipped = skipped = 0
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = path / "manifest.json"
        if not manifest.exists():
            continue
        config = json.loads(manifest.read_text()).get("config", {}).get("config", {})
        short = int(config.get("n_steps", 0)) < args.min_steps if "n_steps" in config or not floors else False
        below = any(not isinstance(config.get(k), (int, float)) or config[k] < v for k, v in floors.items())
        if short or below or (store.data_root() / args.kind / path.name).exists():
            skipped += 1
            continue
        if not args.dry_run:
            store.ship(args.kind, path.name)
        shipped += 1
    print(f"{args.kind}: {'would ship' if args.dry_run else 'shipped'} {shipped}, left {skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
