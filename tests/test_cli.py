"""The `rlinside` command: listings, parameter validation before any kernel, atomic outputs."""

import json
import textwrap

import pytest
from conftest import make_mini_root, run_cli

NB = "notebooks/rtrl/01_trace_patterning_task.py"


def test_list_shows_every_notebook_with_figures_and_profiles():
    p = run_cli("list")
    assert p.returncode == 0, p.stderr
    assert NB in p.stdout and "Figure 3" in p.stdout and "book,smoke,paper" in p.stdout


def test_params_shows_types_defaults_overrides_help():
    p = run_cli("params", "rtrl/01_trace_patterning_task")
    assert p.returncode == 0, p.stderr
    line = next(l for l in p.stdout.splitlines() if l.startswith("n_steps "))
    assert "int" in line and "700" in line and "300" in line and "1500" in line and "steps drawn" in line
    assert "[1, 1_000_000]" in line  # the declared rule, in the allowed column
    assert "allowed" in p.stdout.splitlines()[1]


# --- bad input: each exits 2 (usage) with a message naming what was wrong and what is allowed
BAD = [
    (["run", "rtrl/01_trace_paterning_task"], "no notebook 'rtrl/01_trace_paterning_task'",
     "Did you mean: rtrl/01_trace_patterning_task"),
    (["run", NB, "-p", "n_step=5"], "unknown parameter 'n_step'", "Did you mean: n_steps"),
    (["run", NB, "-p", "bogus=5"], "unknown parameter 'bogus'", "Valid parameters: seed (int)"),
    (["run", NB, "-p", "n_steps=many"], "parameter 'n_steps' expects int, got 'many'", ""),
    (["run", NB, "-p", "n_steps=1.5"], "parameter 'n_steps' expects int, got '1.5'", ""),
    (["run", NB, "-p", "gamma=high"], "parameter 'gamma' expects float, got 'high'", ""),
    (["run", NB, "-p", "n_steps"], "-p expects name=value, got 'n_steps'", ""),
    (["run", NB, "-p", "seed=1", "-p", "seed=2"], "parameter 'seed' is given twice", ""),
    (["run", NB, "--profile", "huge"], "invalid choice: 'huge'", "choose from 'smoke', 'book', 'paper'"),
    (["params", "nope"], "no notebook 'nope'", "Available notebooks"),
    (["run", NB, "--out", "/tmp/x.html"], "--out must end in .ipynb", ""),
    (["book", "--jobs", "0"], "--jobs must be >= 1, got 0", ""),
    (["artifacts", "ship"], "artifacts ship needs KIND [KEY]", ""),
    (["artifacts", "ship", "no-such-kind"], "no cached artifacts of kind 'no-such-kind'", ""),
]


@pytest.mark.parametrize("args, msg, hint", BAD, ids=[" ".join(b[0][:1] + b[0][2:]) for b in BAD])
def test_bad_input_exits_2_with_clear_message(args, msg, hint, tmp_path):
    p = run_cli(*args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert msg in p.stderr, p.stderr
    assert hint in p.stderr, p.stderr
    # nothing was executed: no kernel, no output written
    assert "Executing" not in p.stderr


FAILING_NB = textwrap.dedent('''\
    # %% [markdown]
    # # A notebook that fails on demand

    # %% tags=["parameters"]
    fail: bool = False  # raise an error in the second cell
    value: int = 1  # a number printed by the notebook

    # %%
    if fail:
        raise RuntimeError("asked to fail")
    print("value is", value)
''')


@pytest.fixture()
def mini_root(tmp_path):
    return make_mini_root(tmp_path, "01_fails", FAILING_NB)


def test_run_writes_output_and_a_failure_never_replaces_it(mini_root):
    p = run_cli("run", "demo/01_fails", "--profile", "smoke", "-q", root=mini_root)
    assert p.returncode == 0, p.stderr
    out = mini_root / "book" / "generated" / "demo" / "01_fails.ipynb"
    good = out.read_bytes()
    assert b"value is 2" in good
    rec = json.loads(out.with_suffix(".run.json").read_text())
    assert rec["status"] == "ok" and rec["profile"] == "smoke" and rec["non_default"] == {"value": 2}

    p = run_cli("run", "demo/01_fails", "-p", "fail=true", "-q", root=mini_root)
    assert p.returncode == 1
    assert "asked to fail" in p.stderr and "01_fails.failed.ipynb" in p.stderr
    assert out.read_bytes() == good  # last good output untouched
    failed = out.with_name("01_fails.failed.ipynb")
    assert failed.is_file() and b"asked to fail" in failed.read_bytes()
    assert not list(out.parent.glob(".*tmp*"))  # no temp files left behind


def test_run_out_path_and_bool_parsing(mini_root, tmp_path):
    dst = tmp_path / "elsewhere" / "x.ipynb"
    p = run_cli("run", "demo/01_fails", "-p", "fail=no", "-p", "value=41", "--out", str(dst), "-q", root=mini_root)
    assert p.returncode == 0, p.stderr
    assert b"value is 41" in dst.read_bytes()


def test_profiles_yml_with_unknown_parameter_is_reported(mini_root):
    (mini_root / "notebooks" / "demo" / "profiles.yml").write_text(
        "chapter: demo\nnotebooks:\n  01_fails:\n    smoke: {valeu: 2}\n")
    p = run_cli("list", root=mini_root)
    assert p.returncode == 2
    assert "sets unknown parameter 'valeu'" in p.stderr and "valid: fail, value" in p.stderr
