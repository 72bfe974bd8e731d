"""``rlinside book``: execute the notebooks whose cache key changed, then build the Jupyter Book.

The cache key of an executed notebook (see :func:`rlinside.notebook.cache_key`) covers the
notebook's text, its resolved parameters for the profile, and a hash of the ``rlinside``
sources. A notebook is re-executed when its key differs from the one recorded next to its
output (``book/generated/<chapter>/<name>.run.json``), when an artifact it read was replaced
or deleted or a kind it searched changed (the record's ``inputs``), or always with ``--force``. Notebooks
run in separate processes (``--jobs`` at a time). The book is then built with
``execute_notebooks: off``: the pages show exactly what papermill produced.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rlinside import store
from rlinside.notebook import (
    NotebookSpec,
    cache_key,
    catalog,
    check_budget,
    check_store_folders,
    record_path,
    resolve_parameters,
)
from rlinside.utils import atomic_write_bytes, repo_root

__all__ = ["build_book", "plan", "write_status_page", "toc_mismatch"]


def plan(specs: list[NotebookSpec], profile: str, force: bool) -> list[tuple[NotebookSpec, str, bool]]:
    """(spec, key, needs_run) for every notebook."""
    out = []
    for s in specs:
        values, _ = resolve_parameters(s, profile)
        key = cache_key(s, profile, values)
        rec = record_path(s.default_output())
        cached = False
        if not force and rec.is_file() and s.default_output().is_file():
            try:
                record = json.loads(rec.read_text())
            except json.JSONDecodeError:
                record = {}
            # same notebook, parameters and library, and every artifact it read unchanged
            cached = record.get("key") == key and not store.inputs_changed(record.get("inputs"))
        out.append((s, key, not cached))
    return out


def _execute(spec: NotebookSpec, profile: str) -> tuple[str, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rlinside.cli", "run", str(spec.path), "--profile", profile, "--quiet"],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode == 0:
        return "ran", wall, ""
    msg = (proc.stderr.strip().splitlines() or ["(no message)"])
    return "failed", wall, " | ".join(msg[-2:])


def write_status_page(specs: list[NotebookSpec], root: Path) -> Path:
    """Write ``book/generated/execution_status.md`` from the run records."""
    lines = [
        "# Execution status",
        "",
        "Every notebook of the book, the profile it was last executed with, how long it took and",
        "at which code version. Written by `rlinside book`; a notebook whose last run failed keeps",
        "its last good output, and the failure is listed here.",
        "",
        "| notebook | reproduces | profile | status | wall time | code | finished (UTC) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in specs:
        out = s.default_output(root)
        rec = record_path(out)
        failed = out.with_name(f"{out.stem}.failed.ipynb")
        link = f"[{s.slug}]({s.chapter}/{s.name}.ipynb)" if out.is_file() else s.slug
        repro = ", ".join(s.reproduces) or "-"
        if rec.is_file():
            r = json.loads(rec.read_text())
            status = "ok" + (" (a later run failed)" if failed.is_file() else "")
            lines.append(
                f"| {link} | {repro} | {r['profile']} | {status} | {r['wall_time_s']:.1f} s | "
                f"`{r['code_version']}` | {r['finished'].replace('+00:00', '')} |"
            )
        else:
            status = "failed, no good output" if failed.is_file() else "not executed"
            lines.append(f"| {s.slug} | {repro} | - | {status} | - | - | - |")
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "")
    lines += ["", f"Page written {now} UTC."]
    path = root / "book" / "generated" / "execution_status.md"
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def toc_mismatch(specs: list[NotebookSpec], root: Path) -> tuple[list[str], list[str]]:
    """(notebooks of the catalogue that ``_toc.yml`` does not list, generated pages that
    ``_toc.yml`` lists but no notebook makes), each as ``chapter/name``."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text()) or {}
    listed = set()

    def walk(node):
        if isinstance(node, dict):
            f = node.get("file")
            if isinstance(f, str) and f.startswith("book/generated/") and f.count("/") == 3:
                listed.add(f.removeprefix("book/generated/"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    made = {s.slug for s in specs}
    return sorted(made - listed), sorted(listed - made)


def build_book(profile: str = "book", jobs: int = 1, force: bool = False, build: bool = True) -> int:
    """Execute what changed, write the status page, build the HTML. Returns an exit status."""
    root = repo_root()
    specs = catalog(root)
    for s in specs:  # every rule and budget holds before any kernel starts
        check_budget(s, profile, resolve_parameters(s, profile)[0])
    check_store_folders()
    missing, stale = toc_mismatch(specs, root)
    for slug in missing:
        print(f"warning: notebook {slug} is not in _toc.yml: its page will not be in the book", file=sys.stderr)
    for slug in stale:
        print(f"warning: _toc.yml lists book/generated/{slug}, which no notebook makes", file=sys.stderr)
    todo = plan(specs, profile, force)
    results: dict[str, tuple[str, float, str]] = {}
    run_list = [s for s, _, need in todo if need]
    for s, _, need in todo:
        if not need:
            results[s.slug] = ("cached", 0.0, "")
    if run_list:
        print(f"executing {len(run_list)} notebook(s) with profile '{profile}', {jobs} at a time ...", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(_execute, s, profile): s for s in run_list}
        for fut in futs:
            s = futs[fut]
            results[s.slug] = fut.result()
            st, wall, msg = results[s.slug]
            print(f"  {st:6s} {s.slug} ({wall:.1f} s){'  ' + msg if msg else ''}", flush=True)
    write_status_page(specs, root)

    build_status = "skipped"
    build_wall = 0.0
    if build:
        t0 = time.perf_counter()
        jb = Path(sys.executable).parent / "jupyter-book"
        cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root)]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        build_wall = time.perf_counter() - t0
        log = root / "_build" / "jupyter-book.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout + "\n" + proc.stderr)
        warnings = sum(1 for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line)
        build_status = "ok" if proc.returncode == 0 else "failed"
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
        build_status += f" ({warnings} warnings, log: {log.relative_to(root)})"

    print()
    print(f"{'notebook':45s} {'status':8s} {'wall time':>10s}")
    print(f"{'-' * 45} {'-' * 8} {'-' * 10}")
    for s in specs:
        st, wall, _ = results[s.slug]
        print(f"{s.slug:45s} {st:8s} {wall:9.1f}s")
    print(f"{'jupyter-book build':45s} {build_status.split(' ')[0]:8s} {build_wall:9.1f}s")
    if build:
        print(f"book: {root / '_build' / 'html' / 'index.html'}  [{build_status}]")
    failed = [k for k, v in results.items() if v[0] == "failed"]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or build_status.startswith("failed") else 0
