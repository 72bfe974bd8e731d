"""pyproject.toml and environment.yml must list the same dependencies."""

import re

import tomllib
import yaml
from conftest import ROOT


def _norm(req: str) -> tuple[str, str]:
    req = req.strip()
    m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req)
    assert m, f"cannot parse requirement {req!r}"
    name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
    return name + (m.group(2) or ""), m.group(3).replace(" ", "")


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in py["dependencies"] + py["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    got = {_norm(r) for r in pip_section if not r.startswith("-e")}
    assert got == wanted, f"only in environment.yml: {sorted(got - wanted)}; only in pyproject: {sorted(wanted - got)}"


def test_torch_pinned_to_cpu_build_first():
    makefile = (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in makefile
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pip_section[0] == "torch==2.13.0"


def test_ci_calls_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
