"""The library's layers: no import runs upward (ARCHITECTURE: envs/nets -> agents -> explain ->
studies -> notebooks), and ``explain`` knows no agent family or chapter."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

LIB = ROOT / "lib" / "rlinside"

#: Layer of each top-level module or package of rlinside; a module imports only from its own
#: layer or lower ones.
LAYERS = {
    "utils": 0,
    "store": 1, "sweep": 1, "seeds": 1, "claims": 1,
    "envs": 2, "nets": 2,
    "agents": 3, "rtrl": 3,
    "explain": 4, "plots": 4,
    "studies": 5,
    "params": 6, "notebook": 6, "exercises": 6, "book": 6, "pagecheck": 6, "cli": 6, "sphinxext": 6, "__init__": 6,
}


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "rlinside" else [node.module]
            out += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, n) for line, n in out if n.startswith("rlinside.")]


def _unit(path: Path) -> str:
    rel = path.relative_to(LIB).with_suffix("")
    return rel.parts[0]


def test_every_module_has_a_layer():
    units = {_unit(p) for p in LIB.rglob("*.py")}
    assert units <= set(LAYERS), f"modules without a layer: {sorted(units - set(LAYERS))}"


def test_no_import_runs_upward():
    upward = []
    for path in sorted(LIB.rglob("*.py")):
        src = _unit(path)
        for line, name in _imports(path):
            dst = name.split(".")[1]
            if dst in LAYERS and LAYERS[dst] > LAYERS[src]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {name} "
                              f"({src} {LAYERS[src]} -> {dst} {LAYERS[dst]})")
    assert not upward, "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The parser finds imports inside functions too (a lazy import is still a dependency)."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from rlinside.studies.saliency import heads\n")
    assert _imports(f) == [(2, "rlinside.studies.saliency")]
