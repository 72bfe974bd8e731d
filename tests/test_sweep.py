"""Dask sweeps: results persisted as they complete, failures reported, kill and resume."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, run_cli

from rlinside import sweep


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RLINSIDE_DATA", str(tmp_path / "data"))
    return tmp_path / "cache"


def test_grid_expands_axes_and_paired_dicts():
    g = sweep.grid({"a": 1}, {"b": [1, 2], "pair": [{"d": 2, "k": 30}, {"d": 13, "k": 2}]})
    assert g == [{"a": 1, "b": 1, "d": 2, "k": 30}, {"a": 1, "b": 1, "d": 13, "k": 2},
                 {"a": 1, "b": 2, "d": 2, "k": 30}, {"a": 1, "b": 2, "d": 13, "k": 2}]


def test_failures_are_reported_and_the_rest_finish_on_a_local_cluster(cache):
    configs = [{"x": 0.0}, {"x": 1.0, "fail": True}, {"x": 2.0}]
    rep = sweep.run_sweep("rlinside.sweep:demo_task", configs, [0, 1], name="t1", version=1,
                          workers=2, progress=False)
    c = rep.counts()
    assert c == {"done": 0, "ran": 4, "failed": 2}
    assert all("asked to fail" in r.error and r.config["fail"] for r in rep.failed)
    assert "FAILED config=" in rep.summary() and "Traceback" in rep.summary()
    # the finished ones are in the store; a rerun runs only the failed ones again
    again = sweep.run_sweep("rlinside.sweep:demo_task", configs, [0, 1], name="t1", version=1,
                            scheduler="synchronous", progress=False)
    assert again.counts() == {"done": 4, "ran": 0, "failed": 2}
    ok = [r for r in again.results if r.status == "done"]
    assert ok[0].arrays()["curve"].shape == (10,)


def test_select_and_rerun_follows_the_paper_protocol(cache):
    spec = sweep.load_spec(ROOT / "sweeps" / "demo.yml")
    tuning, best, rerun = sweep.select_and_rerun(spec, scheduler="synchronous", progress=False)
    assert best["x"] == 1.0  # the quadratic's minimum
    assert tuning.counts()["ran"] == 12
    assert rerun.counts() == {"done": 0, "ran": 6, "failed": 0}  # report seeds 0..5, none used in tuning


def test_tuning_and_report_seeds_must_be_disjoint_unless_the_variant_is_named(cache, tmp_path):
    text = ("name: overlap\nfunction: rlinside.sweep:demo_task\nversion: 1\ngrid: {x: [0.0, 1.0]}\nseeds: 2\n"
            "select: {metric: final, rerun_seeds: 3}\n")
    (tmp_path / "o.yml").write_text(text)
    with pytest.raises(ValueError, match="tuning and report seeds overlap in sweep overlap"):
        sweep.select_and_rerun(sweep.load_spec(tmp_path / "o.yml"), scheduler="synchronous", progress=False)
    (tmp_path / "o.yml").write_text(text.replace("rerun_seeds: 3}", "rerun_seeds: 3, reuse_tuning_seeds: true}"))
    _, best, rerun = sweep.select_and_rerun(sweep.load_spec(tmp_path / "o.yml"), scheduler="synchronous",
                                            progress=False)
    assert best["x"] == 1.0 and rerun.counts()["done"] == 2  # the named variant reuses seeds 0 and 1


def test_a_killed_sweep_resumes_without_losing_finished_results(cache, tmp_path):
    spec = tmp_path / "slow.yml"
    spec.write_text(
        "name: slow\nfunction: rlinside.sweep:demo_task\nversion: 1\nbase: {sleep: 0.4}\n"
        "grid: {x: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}\nseeds: 2\n")
    env = dict(os.environ, RLINSIDE_CACHE=str(cache))
    proc = subprocess.Popen([sys.executable, "-m", "rlinside.cli", "sweep", str(spec), "--scheduler",
                             "synchronous", "-q"], env=env, cwd=ROOT, start_new_session=True)
    kind_dir = cache / "sweep-slow"
    deadline = time.time() + 60
    while time.time() < deadline:
        if kind_dir.is_dir() and len([p for p in kind_dir.iterdir() if not p.name.startswith(".")]) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = {p.name for p in kind_dir.iterdir() if not p.name.startswith(".")}
    assert 3 <= len(stored) < 12, "kill landed too late to test resumption"
    p = run_cli("sweep", str(spec), "--scheduler", "synchronous", "-q", env={"RLINSIDE_CACHE": str(cache)})
    assert p.returncode == 0, p.stderr
    assert f"{len(stored)} already stored, {12 - len(stored)} ran, 0 failed" in p.stdout
    after = {p.name for p in kind_dir.iterdir() if not p.name.startswith(".")}
    assert stored <= after and len(after) == 12


@pytest.mark.parametrize("body, msg", [
    ("name: x\nversion: 1\nseeds: 2\n", "missing required key 'function'"),
    ("name: x\nfunction: nowhere:fn\nversion: 1\nseeds: 2\n", "cannot import sweep function 'nowhere:fn'"),
    ("name: x\nfunction: rlinside.sweep:demo_task\nversion: 1\nseeds: [-1]\n", "seeds must be"),
    ("name: x\nfunction: rlinside.sweep:demo_task\nversion: 1\nseeds: 2\ngrdi: {}\n", "unknown keys ['grdi']"),
])
def test_bad_sweep_files_exit_2(tmp_path, body, msg):
    f = tmp_path / "bad.yml"
    f.write_text(body)
    p = run_cli("sweep", str(f))
    assert p.returncode == 2 and msg in p.stderr, p.stderr


def test_missing_sweep_file(tmp_path):
    p = run_cli("sweep", str(tmp_path / "nope.yml"))
    assert p.returncode == 2 and "no sweep file" in p.stderr


def test_ship_sweep_runs_ships_long_runs_only_and_a_rerun_finds_them(cache):
    sys.path.insert(0, str(ROOT / "scripts"))
    import ship_sweep_runs

    configs = [{"x": 0.0, "n_steps": 10}, {"x": 1.0, "n_steps": 1000}]
    sweep.run_sweep("rlinside.sweep:demo_task", configs, [0], name="ship", version=1, scheduler="synchronous",
                    progress=False)
    assert ship_sweep_runs.main(["sweep-ship", "--min-steps", "100"]) == 0
    shipped = [p for p in (cache.parent / "data" / "sweep-ship").iterdir() if not p.name.startswith(".")]
    assert len(shipped) == 1
    import shutil
    shutil.rmtree(cache)  # a fresh checkout: only data/ is left
    again = sweep.run_sweep("rlinside.sweep:demo_task", configs, [0], name="ship", version=1, scheduler="synchronous",
                            progress=False)
    assert again.counts() == {"done": 1, "ran": 1, "failed": 0}
    with pytest.raises(SystemExit):
        ship_sweep_runs.main(["sweep-none"])
    # a sweep without n_steps ships by the key that tells its real runs from smoke ones
    sweep.run_sweep("rlinside.sweep:demo_task", [{"x": 0.0, "budget": 10}, {"x": 1.0, "budget": 5000}], [0],
                    name="nosteps", version=1, scheduler="synchronous", progress=False)
    assert ship_sweep_runs.main(["sweep-nosteps"]) == 0  # without --min: nothing (no n_steps to judge by)
    assert not (cache.parent / "data" / "sweep-nosteps").exists()
    assert ship_sweep_runs.main(["sweep-nosteps", "--min", "budget=1000"]) == 0
    shipped = [p for p in (cache.parent / "data" / "sweep-nosteps").iterdir() if not p.name.startswith(".")]
    assert len(shipped) == 1
    with pytest.raises(SystemExit):
        ship_sweep_runs.main(["sweep-nosteps", "--min", "budget"])


def test_drop_arrays_keeps_the_named_seeds_and_leaves_valid_artifacts(cache):
    sys.path.insert(0, str(ROOT / "scripts"))
    import drop_arrays
    import ship_sweep_runs

    from rlinside import store

    sweep.run_sweep("rlinside.sweep:demo_task", [{"x": 0.0, "n_steps": 1000}], [0, 1], name="drop", version=1,
                    scheduler="synchronous", progress=False)
    assert ship_sweep_runs.main(["sweep-drop", "--min-steps", "100"]) == 0
    root = cache.parent / "data" / "sweep-drop"
    assert drop_arrays.main(["sweep-drop", "--arrays", "curve", "--keep-seeds", "0"]) == 0
    kept = {}
    for p in root.iterdir():
        art = store.verify(p)  # manifest and sha256 updated with the arrays
        with np.load(p / "arrays.npz") as z:
            kept[art.manifest["config"]["seed"]] = set(z.files)
        assert ("dropped" in art.manifest) == (art.manifest["config"]["seed"] == 1)
    assert kept == {0: {"curve"}, 1: set()}
    assert drop_arrays.main(["sweep-none", "--arrays", "curve", "--keep-seeds", "0"]) == 2


def test_repack_float32_casts_only_float64_and_a_dry_run_writes_nothing(cache):
    sys.path.insert(0, str(ROOT / "scripts"))
    import repack_float32
    import ship_sweep_runs

    from rlinside import store

    sweep.run_sweep("rlinside.sweep:demo_task", [{"x": 0.0, "n_steps": 1000}], [0], name="repack", version=1,
                    scheduler="synchronous", progress=False)
    assert ship_sweep_runs.main(["sweep-repack", "--min-steps", "100"]) == 0
    (p,) = (cache.parent / "data" / "sweep-repack").iterdir()
    with np.load(p / "arrays.npz") as z:
        dtypes = {k: z[k].dtype for k in z.files}
    assert np.float64 in dtypes.values()  # the demo's curve is float64: the test can fail
    snapshot = {f.name: f.read_bytes() for f in p.iterdir()}
    assert repack_float32.main(["sweep-repack", "--dry-run"]) == 0
    assert {f.name: f.read_bytes() for f in p.iterdir()} == snapshot
    assert repack_float32.main(["sweep-repack"]) == 0
    art = store.verify(p)
    assert art.manifest["repacked"] == repack_float32.NOTE
    with np.load(p / "arrays.npz") as z:
        after = {k: z[k].dtype for k in z.files}
    assert after == {k: np.dtype(np.float32) if d == np.float64 else d for k, d in dtypes.items()}
    mtime = (p / "manifest.json").stat().st_mtime_ns
    assert repack_float32.main(["sweep-repack"]) == 0  # nothing left to cast: untouched
    assert (p / "manifest.json").stat().st_mtime_ns == mtime
    assert sorted(f.name for f in p.iterdir()) == sorted(snapshot)  # no temporary left over
