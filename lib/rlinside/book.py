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
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rlinside import store
from rlinside.exercises import Exercise
from rlinside.notebook import (
    NotebookSpec,
    cache_key,
    catalog,
    check_budget,
    check_store_folders,
    find_notebook,
    record_path,
    resolve_parameters,
)
from rlinside.utils import atomic_write_bytes, repo_root

__all__ = ["build_book", "plan", "plan_exercises", "write_status_page", "write_claims_pages", "toc_mismatch"]


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


def plan_exercises(profile: str, force: bool, root: Path | None = None) -> list[tuple[Exercise, list[str], bool]]:
    """``(exercise, command-line arguments, needs_run)`` for every exercise whose command is not
    the chapter's own book run (those read that run's output): its command at ``profile`` (or
    the profile it names), cached by the same key as a notebook."""
    from rlinside import exercises as E

    root = root or repo_root()
    out = []
    for ex in E.load_exercises(root):
        if not ex.command or ex.claim is None:
            continue
        nb, params, prof = E.parse_command(ex.command)
        spec = find_notebook(nb, root)
        target = E.output_path(ex, root)
        if target == spec.default_output(root):
            continue
        prof = prof or profile
        values, _ = resolve_parameters(spec, prof, params)
        check_budget(spec, prof, values)
        key = cache_key(spec, prof, values)
        args = [str(spec.path), "--profile", prof, "--out", str(target)]
        for p in params:
            args += ["-p", p]
        rec = record_path(target)
        cached = False
        if not force and rec.is_file() and target.is_file():
            try:
                record = json.loads(rec.read_text())
            except json.JSONDecodeError:
                record = {}
            cached = record.get("key") == key and not store.inputs_changed(record.get("inputs"))
        out.append((ex, args, not cached))
    return out


def _execute(spec: NotebookSpec, profile: str, args: list[str] | None = None) -> tuple[str, float, str]:
    t0 = time.perf_counter()
    argv = args if args is not None else [str(spec.path), "--profile", profile]
    proc = subprocess.run(
        [sys.executable, "-m", "rlinside.cli", "run", *argv, "--quiet"],
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


_AUDIT_SCRIPT = """
<p><label>Show verdict: <select id="verdict-filter" aria-label="filter the claims by verdict">
<option value="">all</option><option>supported</option><option>contradicted</option>
<option>inconclusive</option><option>not tested</option></select></label></p>
<script>
document.addEventListener("DOMContentLoaded", function () {
  var select = document.getElementById("verdict-filter");
  if (!select) { return; }
  select.addEventListener("change", function () {
    document.querySelectorAll("table tr").forEach(function (row) {
      var cells = row.querySelectorAll("td");
      if (cells.length === 0) { return; }
      var verdict = cells[cells.length - 1].textContent;
      row.style.display = (!select.value || verdict.indexOf(select.value + ":") === 0) ? "" : "none";
    });
  });
});
</script>
"""


def _worked_examples() -> list[dict[str, str]]:
    """The verdict rule applied to synthetic data (seeded), for the audit page: a known effect,
    no effect, a reversed effect, a run below the minimum scale, and a pattern a null also makes."""
    import numpy as np

    from rlinside import claims as C

    rng = np.random.default_rng(0)
    base = dict(chapter="examples", where="synthetic", quantity="B minus A, paired by seed", unit="seed",
                comparison={"greater": 0}, min_scale={"seeds": 5})
    cases = [
        ("A known effect (B - A = 1 + noise, 30 seeds)", 1 + 0.3 * rng.normal(size=30), {}, None),
        ("No effect (noise only, 30 seeds)", 0.3 * rng.normal(size=30), {}, None),
        ("A reversed effect (B - A = -1 + noise, 30 seeds)", -1 + 0.3 * rng.normal(size=30), {}, None),
        ("A known effect measured on 3 seeds only", 1 + 0.3 * rng.normal(size=3), {}, None),
        ("A pattern a shuffled null also produces", 0.55 + 0.05 * rng.normal(size=40),
         {"comparison": {"greater_than_null": True}}, 0.5 + 0.1 * rng.normal(size=200)),
    ]
    claims_, measured = [], {}
    for i, (text, values, extra, null) in enumerate(cases):
        c = C.Claim(id=f"example.{i}", statement=text, **{**base, **extra})
        claims_.append(c)
        measured[c.id] = C.measure(c.id, values, scale={"seeds": len(values)}, null=null)
    return C.claims_table(claims_, measured)


def _exercise_section(root: Path) -> list[str]:
    """The audit page's table of exercise observations (each exercise's solution states one;
    :mod:`rlinside.exercises`), judged by the same rule on the run of the exercise's command."""
    from rlinside import claims as C
    from rlinside import exercises as E

    exs = [ex for ex in E.load_exercises(root) if ex.claim is not None]
    if not exs:
        return []
    rows = []
    for ex in exs:
        (row,) = C.claims_table([ex.claim], {ex.claim.id: m} if (m := E.read_measurement(ex, root)) else {})
        row["claim"] = f"{ex.id} ({ex.title}): {ex.observe}"
        row["where"], row["paper"] = f"`{ex.command}`", ""
        rows.append(row)
    return ["## Exercises checked against their data", "",
            "Each exercise's solution states an observation; the book runs the exercise's command and "
            "judges the observation by the same rule. A contradicted one fails the book build.", "",
            C.markdown_table(rows, link_notebooks=False)]


def write_claims_pages(root: Path) -> list[dict[str, str]]:
    """Render every chapter's claims table (``book/generated/claims/<chapter>.md``, included by
    the chapter page), the book-wide audit page (``book/generated/claims_audit.md``) and
    ``claims.csv`` (copied to the HTML root) from the declared claims and the measurements
    recorded by the executed notebooks. Returns the rows."""
    import csv
    import io

    from rlinside import claims as C

    declared = C.load_claims(root)
    rows = C.claims_table(list(declared.values()), C.read_measurements(root))
    out = root / "book" / "generated"
    for chapter in sorted({r["chapter"] for r in rows}):
        mine = [r for r in rows if r["chapter"] == chapter]
        atomic_write_bytes(out / "claims" / f"{chapter}.md", C.markdown_table(mine).encode())
    counts = ["| chapter | " + " | ".join(C.VERDICTS) + " | claims |", "|---|" + "---|" * (len(C.VERDICTS) + 1)]
    for chapter in sorted({r["chapter"] for r in rows}):
        n = [sum(r["verdict"] == v and r["chapter"] == chapter for r in rows) for v in C.VERDICTS]
        counts.append(f"| {chapter} | " + " | ".join(map(str, n)) + f" | {sum(n)} |")
    page = [
        "# Claims audit",
        "",
        "Every claim of the four papers that this book tests, with our measurement, its 95 % "
        "bootstrap interval, the number of units behind it, the scale that produced it and the "
        "verdict, computed by the one rule of {doc}`../claims` from the measurements the "
        "notebooks recorded (nothing on this page is typed). The same table, for citing: "
        "<a href=\"../../claims.csv\">claims.csv</a>.",
        "",
        "## Verdicts per chapter",
        "",
        *counts,
        "",
        "## Every claim",
        "",
        _AUDIT_SCRIPT.strip(),
        "",
        C.markdown_table(rows),
        *_exercise_section(root),
        "## The rule on synthetic data",
        "",
        "The same rule applied to data whose answer is known (made by `rlinside book` with a "
        "fixed seed): a real effect is supported, no effect is inconclusive, a reversed effect is "
        "contradicted, three seeds are below the minimum scale, and a pattern that the null model "
        "also produces is not evidence for the claim.",
        "",
        C.markdown_table(_worked_examples(), link_notebooks=False),
    ]
    atomic_write_bytes(out / "claims_audit.md", "\n".join(page).encode())
    buf = io.StringIO()
    fields = ["id", "chapter", "claim", "where", "paper", "quantity", "ours", "n", "scale", "verdict", "reason",
              "notebook"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "_extra" / "claims.csv", buf.getvalue().encode())
    return rows


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


def publish_media(root: Path) -> list[Path]:
    """Mirror every executed notebook's media folder (``book/generated/<chapter>/<name>_media``,
    :func:`rlinside.notebook.media_dir`) into ``book/generated/_extra``, which Sphinx copies
    to the root of the HTML (``html_extra_path``), so the pages find their videos at the same
    relative address as the notebooks do. Media of notebooks no longer executed are dropped.
    Returns the mirrored folders."""
    gen = Path(root) / "book" / "generated"
    target_root = gen / "_extra" / "book" / "generated"
    shutil.rmtree(target_root, ignore_errors=True)
    done = []
    for folder in sorted(gen.glob("*/*_media")):
        if folder.parent.name.startswith("_") or not folder.is_dir():
            continue
        target = target_root / folder.parent.name / folder.name
        shutil.copytree(folder, target)
        done.append(target)
    return done


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
    ex_todo = plan_exercises(profile, force, root)  # their parameters are checked before any kernel starts
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
    ex_run = [(ex, args) for ex, args, need in ex_todo if need]
    if ex_run:
        print(f"executing {len(ex_run)} exercise command(s) ...", flush=True)
    ex_failed = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(_execute, None, profile, args): ex for ex, args in ex_run}
        for fut in futs:
            ex = futs[fut]
            st, wall, msg = fut.result()
            print(f"  {st:6s} exercise {ex.id}: {ex.command} ({wall:.1f} s){'  ' + msg if msg else ''}", flush=True)
            if st == "failed":
                ex_failed.append(ex.id)
    write_status_page(specs, root)
    write_claims_pages(root)
    publish_media(root)
    from rlinside import exercises as E

    contradicted = E.contradicted(E.write_exercise_pages(root))
    for msg in contradicted:
        print(f"error: {msg}", file=sys.stderr)

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
    failed = [k for k, v in results.items() if v[0] == "failed"] + [f"exercise {i}" for i in ex_failed]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    if contradicted:
        print(f"{len(contradicted)} exercise solution(s) contradicted by their data (see above)", file=sys.stderr)
    return 1 if failed or contradicted or build_status.startswith("failed") else 0
