"""Ship the latest *resumable* checkpoint of an unfinished Atari run to data/ (no replay buffer).

A run that cannot finish in one session is committed this way once, near the session's end,
and resumed in a later one::

    python scripts/ship_run_checkpoint.py --run-dir runs/dddqn_breakout_s0
    # later, on any machine:
    python scripts/ship_run_checkpoint.py --restore KEY --run-dir runs/dddqn_breakout_s0
    python scripts/train_atari.py --game Breakout --agent dddqn --steps 1500000 --seed 0 \\
        --run-dir runs/dddqn_breakout_s0 --threads 1

The artifact (kind ``dqn-resume``, or ``a2c-resume`` for A2C runs) holds ``checkpoint.pt``
(networks, optimizer, counters, RNG states; for A2C also the emulator states), ``metrics.csv``
and the early float16 snapshot when present. Without the replay buffer, a resumed DQN run
refills it before learning again: it is not bit-identical to an uninterrupted run (see
``rlinside.agents.dqn.train_dqn``); an A2C run has no replay and resumes exactly.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

from rlinside import store
from rlinside.agents.rundir import snapshots


def ship(run_dir: Path, command: str) -> store.Artifact:
    ckpt_path = run_dir / "checkpoint.pt"
    if not ckpt_path.is_file():
        raise SystemExit(f"no checkpoint.pt in {run_dir}: nothing to ship")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    cfg = ckpt.get("config") or {}
    files = {"checkpoint.pt": ckpt_path}
    metrics_csv = run_dir / "metrics.csv"
    if metrics_csv.is_file():
        files["metrics.csv"] = metrics_csv
    for _, snap in snapshots(run_dir):
        files[snap.name] = snap
    step = int(ckpt["counters"]["step"])
    config = {"run": run_dir.name, "config": cfg, "step": step}
    kind = "a2c-resume" if str(ckpt.get("format", "")).startswith("rlinside.a2c") else "dqn-resume"
    return store.save(kind, config, 1, files, root=store.data_root(), command=command,
                      metrics={"agent_steps": step},
                      extra={"note": "resumable checkpoint without replay buffer; restore with "
                                     "scripts/ship_run_checkpoint.py --restore KEY --run-dir DIR"})


def restore(key: str, run_dir: Path) -> None:
    paths = [store.data_root() / kind / key for kind in ("dqn-resume", "a2c-resume")]
    found = [p for p in paths if p.is_dir()]
    if not found:
        raise SystemExit(f"no resumable checkpoint {key} under {store.data_root()} (dqn-resume, a2c-resume)")
    art = store.verify(found[0])
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / "checkpoint.pt").exists():
        raise SystemExit(f"{run_dir} already holds a checkpoint.pt; refusing to overwrite it")
    for name in art.manifest["files"]:
        shutil.copyfile(art.file(name), run_dir / name)
    print(f"restored {len(art.manifest['files'])} files into {run_dir}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--restore", metavar="KEY", help="copy artifact KEY back into --run-dir instead")
    a = ap.parse_args(argv)
    if a.restore:
        restore(a.restore, a.run_dir)
    else:
        art = ship(a.run_dir, "python scripts/ship_run_checkpoint.py " + " ".join(argv or sys.argv[1:]))
        print(f"shipped {art.kind}/{art.key} ({sum(f['bytes'] for f in art.manifest['files'].values()) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
