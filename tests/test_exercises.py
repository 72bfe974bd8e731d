"""Exercises whose solutions are what the data shows (rlinside.exercises).

Every exercise command of the book is listed once in notebooks/<chapter>/exercises.yml,
printed verbatim on the chapter page, executed here at smoke scale exactly as printed
(``--profile smoke`` added when the printed command names no profile), and its claim is
measured by that run. The engine: declarations are checked, solutions are rendered from the
measurement, and a solution whose observation the data contradicts fails the book build."""

from __future__ import annotations

import json
import shlex
import textwrap

import pytest
import yaml
from conftest import ROOT, make_mini_root, run_cli

from rlinside import claims as C
from rlinside import exercises as E

EXERCISES = [(f.parent.name, e) for f in sorted((ROOT / "notebooks").glob("*/exercises.yml"))
             for e in (yaml.safe_load(f.read_text()) or {}).get("exercises", []) if e.get("command")]
CHAPTERS = ("rtrl", "saliency", "lstm_contribution", "neuron_activation")


def test_every_chapter_lists_its_exercise_commands():
    assert {c for c, _ in EXERCISES} == set(CHAPTERS)
    for chapter in CHAPTERS:
        page = (ROOT / "book" / chapter / "index.md").read_text()
        section = page.split("## Exercises", 1)[1].split("\n## ", 1)[0]
        listed = {e["command"] for c, e in EXERCISES if c == chapter}
        printed = {cmd for cmd in _commands(section)}
        assert printed == listed, (chapter, printed ^ listed)


def test_every_exercise_with_a_command_states_a_claim_and_includes_its_rendered_solution():
    for ex in E.load_exercises(ROOT):
        if not ex.command:
            continue
        assert ex.claim is not None, f"exercise {ex.id}: a command without a claim: what does it show?"
        page = (ROOT / "book" / ex.chapter / "index.md").read_text()
        assert f"generated/exercises/{ex.id}.md" in page, f"{ex.chapter} page does not include {ex.id}'s solution"


def _commands(text: str) -> list[str]:
    import re

    flat = re.sub(r"\s*\n\s*", " ", text)  # a command may wrap over lines of the page's source
    return re.findall(r"`(rlinside run [^`]+)`", flat)


@pytest.mark.parametrize("chapter, exercise", EXERCISES, ids=[e["id"] for _, e in EXERCISES])
def test_exercise_command_runs_as_printed_and_measures_its_claim(chapter, exercise, tmp_path):
    argv = shlex.split(exercise["command"])
    assert argv[:2] == ["rlinside", "run"], exercise
    if "--profile" not in argv:
        argv += ["--profile", "smoke"]
    out = tmp_path / "ex.ipynb"
    p = run_cli(*argv[1:], "-q", "--out", str(out))
    assert p.returncode == 0, (exercise["id"], p.stderr[-3000:])
    assert out.is_file()
    ex = next(e for e in E.load_exercises(ROOT) if e.id == exercise["id"])
    recorded = {d["claim"]: d for d in json.loads(out.with_suffix(".claims.json").read_text())}
    assert ex.claim.id in recorded, f"the run of {ex.id} does not measure its claim {ex.claim.id}"
    E.render_solution(ex, C.Measurement.from_dict(recorded[ex.claim.id]))  # every template field recorded


# --- the engine on a repository of its own

def _write_exercises(root, body: str) -> None:
    (root / "notebooks" / "demo" / "exercises.yml").write_text("chapter: demo\nexercises:\n" + textwrap.indent(
        textwrap.dedent(body), "  "))


DEMO_NB = textwrap.dedent('''\
    # %% [markdown]
    # # A notebook that measures an exercise's claim

    # %% tags=["parameters"]
    effect: float = 1.0  # the effect each of the 10 units shows | [-10, 10]

    # %%
    from rlinside import claims
    claims.measure("demo.ex1", [effect + 0.01 * i for i in range(10)], scale={"units": 10},
                   details={"first": effect})
''')


@pytest.fixture()
def demo_root(tmp_path):
    root = make_mini_root(tmp_path, "01_effect", DEMO_NB, smoke="{effect: 1.0}")
    (root / "book").mkdir()
    return root


EX_BODY = '''\
- id: demo.1
  title: Is there an effect?
  command: rlinside run demo/01_effect -p effect={effect}
  observe: the effect is positive
  claim:
    id: demo.ex1
    quantity: the effect per unit
    unit: test
    comparison: {{greater: 0}}
  solution: |
    The effect is {{estimate:.2f}} [{{low:.2f}}, {{high:.2f}}] over {{n}} units (first {{details[first]:g}}).
'''


def test_declarations_are_checked(demo_root):
    _write_exercises(demo_root, EX_BODY.format(effect=1))
    (ex,) = E.load_exercises(demo_root)
    assert ex.claim.id == "demo.ex1" and ex.claim.statement == "the effect is positive"
    assert ex.notebook == "demo/01_effect"
    bad = {
        "unknown keys": EX_BODY.format(effect=1) + "  hint: x\n",
        "needs command, observe": EX_BODY.format(effect=1).replace("  observe: the effect is positive\n", ""),
        "solution field": EX_BODY.format(effect=1).replace("{details[first]:g}", "{mean}"),
        "not allowed in an exercise command": EX_BODY.format(effect=1).replace("-p effect=1", "--force"),
        "must be 'rlinside run": EX_BODY.format(effect=1).replace("rlinside run", "rlinside book"),
        "exactly one of": EX_BODY.format(effect=1).replace("greater: 0", "above: 0"),
    }
    for msg, body in bad.items():
        _write_exercises(demo_root, body)
        with pytest.raises(E.ExerciseError, match=msg):
            E.load_exercises(demo_root)


def test_solution_is_rendered_from_the_run_and_a_contradiction_fails_the_book(demo_root):
    _write_exercises(demo_root, EX_BODY.format(effect=1))
    p = run_cli("book", "--profile", "smoke", "--no-build", root=demo_root)
    assert p.returncode == 0, p.stderr[-2000:]
    md = (demo_root / "book" / "generated" / "exercises" / "demo.1.md").read_text()
    assert "The effect is 1.04 [" in md and "over 10 units (first 1)" in md and "**supported**" in md
    again = run_cli("book", "--profile", "smoke", "--no-build", root=demo_root)
    assert "exercise demo.1" not in again.stdout  # cached like any notebook
    # the same exercise whose data now contradict it: the build fails, naming it
    _write_exercises(demo_root, EX_BODY.format(effect=-1))
    p = run_cli("book", "--profile", "smoke", "--no-build", root=demo_root)
    assert p.returncode == 1
    assert "exercise demo.1" in p.stderr and "contradicts" in p.stderr and "the effect is positive" in p.stderr
    assert "**contradicted**" in (demo_root / "book" / "generated" / "exercises" / "demo.1.md").read_text()


def test_a_relative_out_records_its_measurements_beside_it(demo_root):
    # relative to where the command runs, not to the kernel's folder (a bug once)
    p = run_cli("run", "demo/01_effect", "--profile", "smoke", "--out", "rel/y.ipynb", "-q", root=demo_root)
    assert p.returncode == 0, p.stderr
    assert json.loads((demo_root / "rel" / "y.claims.json").read_text())[0]["claim"] == "demo.ex1"


def test_a_solution_not_yet_run_says_so():
    ex = E.Exercise(id="x.1", chapter="x", title="t", command="rlinside run x/01 -p a=1", observe="o",
                    claim=C.Claim(id="x.e", chapter="x", statement="o", where="w", quantity="q", unit="test",
                                  comparison={"greater": 0}),
                    solution="{estimate}")
    assert "has not run yet" in E.render_solution(ex, None)
    m = C.measure("x.e", [1.0, 2.0], scale={}, details={})
    ex2 = E.Exercise(**{**ex.__dict__, "solution": "{details[missing]}"})
    with pytest.raises(E.ExerciseError, match="missing"):
        E.render_solution(ex2, m)


# --- derivations: the numbers a solution quotes, recomputed by the library

def test_rtrl_trace_by_hand():
    import numpy as np

    page = (ROOT / "book" / "rtrl" / "index.md").read_text()
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    i1 = sig(1.0)
    c1 = i1 * np.tanh(1.0)
    h1 = i1 * np.tanh(c1)
    f2 = sig(0.5 * h1 + 0.5)
    c2 = f2 * c1 + f2 * np.tanh(0.5 * h1 + 0.5)
    dh2 = f2 * (1 - np.tanh(c2) ** 2) * c1 * f2 * (1 - f2) * h1
    for v, text in [(h1, "0.3696"), (c1, "0.5568"), (f2, "0.6648"), (dh2, "0.0178")]:
        assert f"{v:.4f}" == text and text in page


def test_lstm_contribution_by_hand():
    import numpy as np

    from rlinside.explain.contribution import contributions, salient_channels

    page = (ROOT / "book" / "lstm_contribution" / "index.md").read_text()
    W = np.array([[2, -1, 0.5], [0, 1, 1]])
    h = np.array([[0.5, -0.4, 0.8]])
    scores = W @ h[0]
    assert [f"{v:.1f}" for v in scores] == ["1.8", "0.4"] and "s[0] = 1 + 0.4 + 0.4 = 1.8" in page
    _, r = contributions(W, h, np.array([int(scores.argmax())]))
    assert "(0.556, 0.222, 0.222)" in page and [f"{v:.3f}" for v in r[0]] == ["0.556", "0.222", "0.222"]
    assert salient_channels(r).tolist() == [[True, False, False]]  # "channel 0 alone"


def test_neuron_distance_by_hand():
    import numpy as np

    from rlinside.explain.activations import neuron_distances

    page = (ROOT / "book" / "neuron_activation" / "index.md").read_text()
    D = neuron_distances([[np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 0.0]])]])
    assert D[0, 1] == pytest.approx(1.5) and "$d = 1.5$" in page
