"""A smoke build of the whole book: every notebook executes, figures and provenance land in
the HTML, the pages work offline, and a real browser finds no broken image or console error."""

from __future__ import annotations

import json
import os
import re

import nbformat
import pytest

from rlinside.notebook import catalog


def test_every_notebook_executed_in_smoke_profile(smoke_book):
    specs = catalog(smoke_book)
    assert specs, "no notebooks found"
    for s in specs:
        out = smoke_book / "book" / "generated" / s.chapter / f"{s.name}.ipynb"
        assert out.is_file(), f"{s.slug} was not executed"
        rec = json.loads(out.with_suffix(".run.json").read_text())
        assert rec["status"] == "ok" and rec["profile"] == "smoke"
        nb = nbformat.read(out, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{s.slug} has error outputs"


def test_book_html_holds_glued_figure_and_provenance(smoke_book):
    page = smoke_book / "_build" / "html" / "book" / "generated" / "rtrl" / "01_trace_patterning_task.html"
    html = page.read_text()
    imgs = re.findall(r'<img[^>]+src="([^"]+\.png)"', html)
    assert len(imgs) >= 2, "the two trace patterning figures are missing"
    for src in imgs:
        assert (page.parent / src).resolve().is_file(), f"image {src} missing"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert "Provenance. notebook notebooks/rtrl/01_trace_patterning_task.py · profile smoke" in text
    assert "Reproduce: rlinside run notebooks/rtrl/01_trace_patterning_task.py --profile smoke" in text
    assert (smoke_book / "_build" / "html" / "index.html").is_file()


def test_book_status_page_and_second_build_is_cached(smoke_book):
    status = (smoke_book / "_build" / "html" / "book" / "generated" / "execution_status.html").read_text()
    assert "rtrl/01_trace_patterning_task" in status and "smoke" in status
    from conftest import run_cli

    p = run_cli("book", "--profile", "smoke", "--no-build", root=smoke_book)
    assert p.returncode == 0, p.stderr
    assert re.search(r"rtrl/01_trace_patterning_task\s+cached", p.stdout), p.stdout


def test_html_needs_no_network(smoke_book):
    html_root = smoke_book / "_build" / "html"
    remote = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:)?//|unpkg\.com|cdn\.jsdelivr', re.I)
    offenders = [str(p.relative_to(html_root)) for p in html_root.rglob("*.html") if remote.search(p.read_text())]
    assert not offenders, f"pages load remote resources: {offenders}"
    assert (html_root / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not bundled"


@pytest.mark.browser
def test_every_page_renders_in_a_real_browser(smoke_book):
    from rlinside.pagecheck import PAGE_LIMIT_BYTES, check_pages, chromium

    exe = chromium()
    if exe is None:
        msg = ("no Chromium found: install Debian's `chromium` package (apt-get install chromium) "
               "to run the browser test of the book")
        if os.environ.get("RLINSIDE_REQUIRE_BROWSER"):
            pytest.fail(msg)
        pytest.skip(msg)
    html_root = smoke_book / "_build" / "html"
    report = check_pages(html_root, exe)
    assert len(report.pages) >= 8
    assert not report.problems, "\n".join(report.problems[:20])
    # the trace patterning page shows its figures at real size
    assert sum(w > 300 for w in report.image_widths["book/generated/rtrl/01_trace_patterning_task.html"]) >= 2
    # every page weighs at most 5 MB with what it loads; the videos page loads its stills only
    assert not report.too_heavy(), {p: f"{w / 1e6:.1f} MB" for p, w in report.too_heavy().items()}
    videos = "book/generated/saliency/04_videos.html"
    assert 0 < report.weights[videos] < PAGE_LIMIT_BYTES
    text = (html_root / videos).read_text()
    assert "<video" in text and "data:image/gif" not in text


def test_pages_inline_no_large_media(smoke_book):
    html_root = smoke_book / "_build" / "html"
    inlined = {str(p.relative_to(html_root)): len(m) for p in html_root.rglob("*.html")
               for m in re.findall(r"data:(?:image|video)/[a-z]+;base64,[A-Za-z0-9+/=]{200000,}", p.read_text())}
    assert not inlined, f"pages inline media of 150 kB or more as base64: {inlined}"


def test_every_figure_names_the_artifacts_behind_it(smoke_book):
    """Each executed notebook's run record lists the artifacts it read, and every provenance
    footer of a notebook that read some names them (figures and animations alike)."""
    readers = 0
    for s in catalog(smoke_book):
        out = smoke_book / "book" / "generated" / s.chapter / f"{s.name}.ipynb"
        rec = json.loads(out.with_suffix(".run.json").read_text())
        keys = [a["key"] for a in rec["inputs"]["artifacts"]]
        nb = nbformat.read(out, as_version=4)
        footers = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if "Provenance." in o.get("data", {}).get("text/markdown", "")]
        if not keys:
            assert not any("Artifacts read" in f for f in footers), s.slug
            continue
        readers += 1
        assert footers, f"{s.slug} reads artifacts but publishes no figure"
        named = [set(re.findall(r"`[a-z0-9-]+/([0-9a-f]{16})`", f)) for f in footers]
        assert named[-1], f"{s.slug}: its last figure names no artifact"
        for before, after in zip(named, named[1:]):  # cumulative: what was read stays named
            assert before <= after, (s.slug, before - after)
        assert named[-1] <= set(keys), (s.slug, named[-1] - set(keys))  # and it was really read
    assert readers >= 10  # the agents, policies and sweeps of all four chapters


def test_no_page_shows_stderr_or_warnings_and_helper_code_is_folded(smoke_book):
    """A reader cannot act on a warning: no executed notebook has a stderr output (tqdm's
    IProgress notice, RuntimeWarnings, library banners); code cells that are neither the
    parameters nor a figure are folded behind a toggle."""
    problems = []
    for s in catalog(smoke_book):
        nb = nbformat.read(smoke_book / "book" / "generated" / s.chapter / f"{s.name}.ipynb", as_version=4)
        for i, c in enumerate(nb.cells):
            if c.cell_type != "code":
                continue
            for o in c.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stderr":
                    problems.append(f"{s.slug} cell {i}: {o['text'].strip()[:200]}")
            tags = c.metadata.get("tags", [])
            figure = "publish(" in c.source or "publish_html(" in c.source
            if not ({"parameters", "injected-parameters"} & set(tags)) and not figure:
                assert "hide-input" in tags, (s.slug, i, c.source[:80])
    assert not problems, "\n".join(problems)


def test_claims_are_measured_rendered_and_exported(smoke_book):
    """Every claim whose notebook exists is measured when the book is built; the chapter page,
    the audit page and claims.csv show it with a computed verdict (at smoke scale: not tested)."""
    import csv

    from rlinside.claims import VERDICTS, load_claims, read_measurements

    declared = load_claims(smoke_book)
    slugs = {s.slug for s in catalog(smoke_book)}
    measured = read_measurements(smoke_book)
    missing = [c.id for c in declared.values() if c.notebook in slugs and c.id not in measured]
    assert not missing, f"declared, and their notebook ran, but never measured: {missing}"
    html = smoke_book / "_build" / "html"
    rows = list(csv.DictReader((html / "claims.csv").open()))
    assert {r["id"] for r in rows} == set(declared)
    assert all(r["verdict"] in VERDICTS for r in rows)
    smoke = [r for r in rows if r["id"] in measured]
    assert smoke and all(r["verdict"] == "not tested" and "minimum scale" in r["reason"] for r in smoke)
    text = re.sub(r"<[^>]+>", "", (html / "book" / "rtrl" / "index.html").read_text())
    assert "rtrl.hybrid_beats_tbptt" not in text and "not tested" in text and "steps 20,000" in text
    audit = (html / "book" / "generated" / "claims_audit.html").read_text()
    assert "verdict-filter" in audit and "claims.csv" in audit
