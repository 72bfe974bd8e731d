"""The shipped RTRL sweep files match the notebooks' paper-profile configurations."""

import pytest
from conftest import ROOT

from rlinside import sweep
from rlinside.notebook import find_notebook, resolve_parameters
from rlinside.rtrl.experiment import EXPERIMENT_VERSION, make_learner


@pytest.mark.parametrize("name", ["rtrl_hybrid_paper", "rtrl_tbptt_paper"])
def test_paper_sweeps_are_valid_and_share_the_notebook_namespace(name):
    spec = sweep.load_spec(ROOT / "sweeps" / f"{name}.yml")
    assert spec.name == "rtrl-trace-patterning" and str(spec.version) == str(EXPERIMENT_VERSION)
    nb = find_notebook("rtrl/02_learning_curves", ROOT)
    values, _ = resolve_parameters(nb, "paper")
    for cfg in spec.configs():
        assert cfg["n_steps"] == values["n_steps"]
        assert cfg["bin_steps"] == values["n_steps"] // values["n_bins"]
        assert cfg["step_size"] in values["step_sizes"]
        make_learner(cfg, 7, 0)  # every configuration builds
    assert len(spec.seeds) == 5 and len(spec.rerun_seeds) == 30
