"""The ``rlinside`` command: list, params, run, book, artifacts.

Exit status: 0 success, 1 a notebook or a check failed, 2 bad input (unknown notebook,
parameter, profile or value), always with a message that says what is allowed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlinside.notebook import PROFILES, NotebookNotFound, ParameterError
from rlinside.params import COST_BOUND_HOURS

__all__ = ["main"]


def _fmt(v) -> str:
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def cmd_list(args) -> int:
    from rlinside.notebook import catalog

    rows = []
    for s in catalog():
        profs = ["book"] + [p for p in ("smoke", "paper") if s.overrides.get(p)]
        rows.append([s.relpath(), s.chapter, ", ".join(s.reproduces) or "-", ",".join(profs), s.title])
    print(_table(rows, ["notebook", "chapter", "reproduces", "profiles", "title"]))
    return 0


def cmd_params(args) -> int:
    from rlinside.notebook import find_notebook
    from rlinside.params import describe

    s = find_notebook(args.notebook)
    print(f"{s.relpath()}  ({s.title})")
    rows = []
    for name, p in s.parameters.items():
        sm = s.overrides["smoke"].get(name, "")
        pa = s.overrides["paper"].get(name, "")
        rows.append([name, p.type, _fmt(p.default), _fmt(sm) if sm != "" else "=", _fmt(pa) if pa != "" else "=",
                     describe(p.rules) or "-", p.help])
    print(_table(rows, ["parameter", "type", "book", "smoke", "paper", "allowed", "help"]))
    if s.cost:
        print(f"\ncost estimate (core-hours): {s.cost}; refused above "
              + ", ".join(f"{h:g} h ({prof})" for prof, h in COST_BOUND_HOURS.items())
              + " unless --force")
    return 0


def cmd_run(args) -> int:
    from rlinside.notebook import (
        check_budget,
        check_output,
        check_store_folders,
        find_notebook,
        resolve_parameters,
        run_notebook,
    )

    s = find_notebook(args.notebook)
    values, _ = resolve_parameters(s, args.profile, args.param)  # validate before anything starts
    hours = check_budget(s, args.profile, values, args.force)
    out = Path(args.out) if args.out else s.default_output()
    check_output(out)
    check_store_folders()
    if args.check:
        est = f"; estimated {hours:.3g} core-hours" if hours is not None else ""
        print(f"ok: {s.slug} ({args.profile}) accepts " + ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
              + f" -> {out}{est}")
        return 0
    rec = run_notebook(s, args.profile, args.param, output=out, progress=not args.quiet, force=args.force)
    if rec.status == "ok":
        print(f"ok: {rec.notebook} ({rec.profile}) in {rec.wall_time_s:.1f} s -> {rec.output}")
        return 0
    print(f"FAILED: {rec.notebook} ({rec.profile}): {rec.error}", file=sys.stderr)
    print(f"the failed notebook is saved at {rec.output}; the last good output (if any) is untouched",
          file=sys.stderr)
    return 1


def cmd_book(args) -> int:
    from rlinside.book import build_book

    if args.jobs < 1:
        raise ParameterError(f"--jobs must be >= 1, got {args.jobs}")
    if args.jobs > 64:
        raise ParameterError(f"--jobs must be <= 64 (notebooks run in parallel processes), got {args.jobs}")
    return build_book(profile=args.profile, jobs=args.jobs, force=args.force, build=not args.no_build)


def _check_kind_key(kind: str | None, key: str | None, action: str) -> None:
    """Exit 2 (ParameterError) for a kind or key that no stored artifact has."""
    from rlinside import store

    if kind is None:
        if key is not None:  # pragma: no cover - argparse fills kind first
            raise ParameterError("a KEY needs a KIND")
        return
    pairs = list(store.iter_artifacts())
    kinds = sorted({p.parent.name for _, p in pairs})
    if kind not in kinds and action != "ship":
        raise ParameterError(f"no artifacts of kind '{kind}'; kinds: {', '.join(kinds) or '(none stored)'}")
    if key is not None and action != "ship":  # ship checks the cache itself
        keys = sorted({p.name for _, p in pairs if p.parent.name == kind})
        if key not in keys:
            raise ParameterError(f"no artifact '{key}' of kind '{kind}'; keys: {', '.join(keys) or '(none)'}")


def cmd_artifacts(args) -> int:
    from rlinside import store

    _check_kind_key(args.kind, args.key, args.action)
    chosen = [(w, p) for w, p in store.iter_artifacts(args.kind) if args.key is None or p.name == args.key]
    if args.action == "list":
        rows = []
        for where, p in chosen:
            try:
                a = store.verify(p)
                m = a.manifest
                size = sum(f["bytes"] for f in m["files"].values())
                metric = ", ".join(f"{k}={v}" for k, v in list(m.get("metrics", {}).items())[:3])
                rows.append([m["kind"], m["key"], where, f"{size / 1e6:.2f} MB", m.get("created", ""), metric])
            except store.ArtifactError as e:
                rows.append([p.parent.name, p.name, where, "?", "", f"INVALID: {e}"])
        if not rows:
            print(f"no artifacts in {store.data_root()} or {store.cache_root()}")
            return 0
        print(_table(rows, ["kind", "key", "where", "size", "created", "metrics"]))
        return 0
    if args.action == "verify":
        bad = 0
        n = 0
        for where, p in chosen:
            n += 1
            try:
                store.verify(p)
                print(f"ok       {where}/{p.parent.name}/{p.name}")
            except store.ArtifactError as e:
                bad += 1
                print(f"CORRUPT  {where}/{p.parent.name}/{p.name}: {e}", file=sys.stderr)
        print(f"{n - bad} of {n} artifacts verified" + (f", {bad} failed" if bad else ""))
        return 1 if bad else 0
    if args.action == "ship":
        if not args.kind:
            raise ParameterError("artifacts ship needs KIND [KEY] (see `rlinside artifacts list`)")
        cached = [p.name for w, p in store.iter_artifacts(args.kind) if w == "cache"]
        if args.key and args.key not in cached:
            raise ParameterError(f"artifact '{args.key}' of kind '{args.kind}' is not in the cache; "
                                 f"cached keys: {', '.join(cached) or '(none)'}")
        keys = [args.key] if args.key else cached
        if not keys:
            raise ParameterError(f"no cached artifacts of kind '{args.kind}' to ship")
        for key in keys:
            a = store.ship(args.kind, key)
        print(f"shipped {len(keys)} artifact(s) of kind {args.kind} -> {store.data_root() / args.kind}")
        return 0
    raise ParameterError(f"unknown action {args.action}")  # pragma: no cover


def cmd_sweep(args) -> int:
    from rlinside import sweep

    overrides = {}
    for a in args.set:
        if "=" not in a:
            raise ParameterError(f"--set expects name=value, got {a!r}")
        k, v = a.split("=", 1)
        import yaml

        if not k.strip():
            raise ParameterError(f"--set expects name=value, got {a!r}")
        try:
            overrides[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError as e:
            raise ParameterError(f"--set {k.strip()}: the value {v!r} is not valid YAML ({e.problem})") from None
    try:
        spec = sweep.load_spec(args.spec, overrides)
    except ValueError as e:
        raise ParameterError(str(e)) from None
    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers must be >= 1, got {args.workers}")
    cmd = "rlinside sweep " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else None
    if args.status:
        configs = spec.configs()
        done = sweep.load_results(spec.function, configs, spec.seeds, name=spec.name, version=spec.version)
        print(f"sweep {spec.name}: {len(done)} of {len(configs) * len(spec.seeds)} tuning tasks stored")
        return 0
    tuning, best, rerun = sweep.select_and_rerun(spec, scheduler=args.scheduler, workers=args.workers,
                                                 command=cmd, progress=not args.quiet)
    print(tuning.summary())
    if best is not None:
        print(f"best by mean {spec.select_metric}: {best}")
    if rerun is not None:
        print(rerun.summary())
    failed = tuning.failed + (rerun.failed if rerun else [])
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rlinside",
        description="Reproducible companion to four papers on looking inside RL networks.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sp = sub.add_parser("list", help="every notebook with its chapter, figures and profiles")
    sp.set_defaults(fn=cmd_list)

    sp = sub.add_parser("params", help="the parameters of one notebook")
    sp.add_argument("notebook", help="path, chapter/stem or stem of a notebook")
    sp.set_defaults(fn=cmd_params)

    sp = sub.add_parser("run", help="execute one notebook with papermill")
    sp.add_argument("notebook", help="path, chapter/stem or stem of a notebook")
    sp.add_argument("--profile", default="book", choices=PROFILES, help="parameter profile (default: book)")
    sp.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override one parameter (repeatable); lists as a,b,c")
    sp.add_argument("--out", help="where to write the executed .ipynb (default: book/generated/...)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sp.add_argument("--check", action="store_true",
                    help="validate the parameters, budget and output path, print them, and stop")
    sp.add_argument("--force", action="store_true",
                    help="run even when the cost estimate exceeds the profile's bound")
    sp.set_defaults(fn=cmd_run)

    sp = sub.add_parser("book", help="execute changed notebooks, then build the Jupyter Book")
    sp.add_argument("--profile", default="book", choices=PROFILES)
    sp.add_argument("--jobs", type=int, default=1, help="notebooks executed in parallel (default 1)")
    sp.add_argument("--force", action="store_true", help="re-execute every notebook, ignoring the cache")
    sp.add_argument("--no-build", action="store_true", help="execute notebooks only, skip jupyter-book")
    sp.set_defaults(fn=cmd_book)

    sp = sub.add_parser("sweep", help="run a Dask sweep described by a YAML file (resumable)")
    sp.add_argument("spec", help="sweep file, e.g. sweeps/rtrl_tuning.yml")
    sp.add_argument("--scheduler", help="address of a running Dask scheduler, or 'synchronous' "
                    "(default: a LocalCluster sized to this machine)")
    sp.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    sp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a key of the sweep's base configuration (repeatable)")
    sp.add_argument("--status", action="store_true", help="only report how many tasks are stored")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(fn=cmd_sweep)

    sp = sub.add_parser("artifacts", help="list, verify or ship stored artifacts")
    sp.add_argument("action", choices=["list", "verify", "ship"])
    sp.add_argument("kind", nargs="?", help="only this kind")
    sp.add_argument("key", nargs="?", help="only this artifact (ship: without it, every cached artifact of KIND)")
    sp.set_defaults(fn=cmd_artifacts)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (ParameterError, NotebookNotFound) as e:
        print(f"rlinside {args.command}: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"rlinside {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - keep a clean message for store errors
        from rlinside.store import ArtifactError

        if isinstance(e, ArtifactError):
            print(f"rlinside {args.command}: error: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
