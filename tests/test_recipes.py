"""The recipes of ARCHITECTURE.md, followed at smoke scale: adding a notebook, adding a
chapter (agent families and saliency methods: tests/test_registries.py); and the table of
contents lists exactly the notebooks of the catalogue."""

from __future__ import annotations

import textwrap

from conftest import ROOT, run_cli

from rlinside.book import toc_mismatch
from rlinside.notebook import catalog

NB = textwrap.dedent('''\
    # %% [markdown]
    # # {title}

    # %% tags=["parameters"]
    n: int = 3  # points drawn | [1, 100]

    # %%
    import matplotlib.pyplot as plt

    from rlinside.plots import publish, set_theme

    set_theme()
    fig, ax = plt.subplots()
    ax.plot(range(n))
    publish("{name}", fig, "A line of n points.")
''')


def test_toc_lists_exactly_the_catalogue():
    missing, stale = toc_mismatch(catalog(ROOT), ROOT)
    assert missing == [] and stale == [], (missing, stale)


def _mini(tmp_path, toc_files):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                       + "".join(f"  - file: book/generated/{f}\n" for f in toc_files))
    return tmp_path


def test_recipe_add_a_notebook(tmp_path):
    root = _mini(tmp_path, ["demo/01_line"])
    nbdir = root / "notebooks" / "demo"
    nbdir.mkdir(parents=True)
    (nbdir / "01_line.py").write_text(NB.format(title="A line", name="demo_line"))
    (nbdir / "profiles.yml").write_text("chapter: demo\nnotebooks:\n  01_line:\n    reproduces: [Figure 1]\n"
                                        "    smoke: {n: 2}\n    paper: {n: 50}\n")
    assert toc_mismatch(catalog(root), root) == ([], [])
    p = run_cli("list", root=root)
    assert p.returncode == 0 and "notebooks/demo/01_line.py" in p.stdout and "Figure 1" in p.stdout
    p = run_cli("run", "demo/01_line", "--profile", "smoke", "-q", root=root)
    assert p.returncode == 0, p.stderr
    assert b"A line of n points." in (root / "book/generated/demo/01_line.ipynb").read_bytes()
    # step 3 forgotten: the notebook is not in the table of contents
    (nbdir / "02_more.py").write_text(NB.format(title="More", name="demo_more"))
    assert toc_mismatch(catalog(root), root) == (["demo/02_more"], [])
    p = run_cli("book", "--profile", "smoke", "--no-build", root=root)
    assert "warning: notebook demo/02_more is not in _toc.yml" in p.stderr


def test_recipe_add_a_chapter(tmp_path):
    root = _mini(tmp_path, ["newpaper/01_first"])
    nbdir = root / "notebooks" / "newpaper"
    nbdir.mkdir(parents=True)
    (nbdir / "01_first.py").write_text(NB.format(title="First figure", name="newpaper_first"))
    (nbdir / "profiles.yml").write_text("chapter: newpaper\nnotebooks:\n  01_first:\n    smoke: {n: 2}\n")
    p = run_cli("book", "--profile", "smoke", "--no-build", root=root)
    assert p.returncode == 0, p.stderr
    assert "newpaper/01_first" in p.stdout and "ran" in p.stdout
    rec = (root / "book/generated/newpaper/01_first.run.json").read_text()
    assert '"profile": "smoke"' in rec
