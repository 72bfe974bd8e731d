"""Tune-then-rerun studies: the winner is the lowest mean final error, shared winners are run once."""

import numpy as np

from rlinside.studies.rtrl import LearnerSpec, tune_and_run


def test_tune_and_run_picks_best_and_dedupes_shared_configs(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RLINSIDE_DATA", str(tmp_path / "data"))
    base = dict(method="tbptt", n_features=2, truncation=3, step_size=1e-3, n_steps=3000, bin_steps=300,
                optimizer="rmsprop")
    specs = [LearnerSpec("a", base, {"truncation": [3, 0]}),  # truncation 0 fails: out of the running
             LearnerSpec("b", base)]                            # same config as a's winner
    res, tuning = tune_and_run(specs, tune_seeds=[10_000], final_seeds=[0, 1], scheduler="synchronous", progress=False)
    assert res["a"].best["truncation"] == 3 and res["b"].best == res["a"].best
    assert res["a"].curves.shape == (2, 10) and res["b"].curves.shape == (2, 10)
    table = res["a"].tuning
    assert list(table["status"]) == ["ok", "diverged/failed"]
    assert np.isinf(table["mean final_error"].iloc[1])
    assert len(tuning.failed) == 1 and "truncation=0" in tuning.failed[0].error
