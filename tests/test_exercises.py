"""Every exercise command of the book runs: listed once in notebooks/<chapter>/exercises.yml,
printed verbatim on the chapter page, and executed here at smoke scale exactly as printed
(``--profile smoke`` added when the printed command names no profile)."""

from __future__ import annotations

import shlex

import pytest
import yaml
from conftest import ROOT, run_cli

EXERCISES = [(f.parent.name, e) for f in sorted((ROOT / "notebooks").glob("*/exercises.yml"))
             for e in (yaml.safe_load(f.read_text()) or {}).get("exercises", [])]


def test_every_chapter_lists_its_exercise_commands():
    assert {c for c, _ in EXERCISES} == {"rtrl", "saliency", "lstm_contribution", "neuron_activation"}
    for chapter in ("rtrl", "saliency", "lstm_contribution", "neuron_activation"):
        page = (ROOT / "book" / chapter / "index.md").read_text()
        section = page.split("## Exercises", 1)[1].split("\n## ", 1)[0]
        listed = {e["command"] for c, e in EXERCISES if c == chapter}
        printed = {cmd for cmd in _commands(section)}
        assert printed == listed, (chapter, printed ^ listed)


def _commands(text: str) -> list[str]:
    import re

    flat = re.sub(r"\s*\n\s*", " ", text)  # a command may wrap over lines of the page's source
    return re.findall(r"`(rlinside run [^`]+)`", flat)


@pytest.mark.parametrize("chapter, exercise", EXERCISES, ids=[e["id"] for _, e in EXERCISES])
def test_exercise_command_runs_as_printed(chapter, exercise, tmp_path):
    argv = shlex.split(exercise["command"])
    assert argv[:2] == ["rlinside", "run"], exercise
    if "--profile" not in argv:
        argv += ["--profile", "smoke"]
    p = run_cli(*argv[1:], "-q", "--out", str(tmp_path / "ex.ipynb"))
    assert p.returncode == 0, (exercise["id"], p.stderr[-3000:])
    assert (tmp_path / "ex.ipynb").is_file()
