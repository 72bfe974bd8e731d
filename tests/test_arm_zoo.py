"""Training and storing arm agents: one function for the script and the paper-scale sweep."""

from __future__ import annotations

import pytest
import torch

from rlinside import store
from rlinside.agents import arm_zoo
from rlinside.agents.arm_dqn import ArmDQNConfig, find_arm_agents, load_arm_weights
from rlinside.sweep import load_spec

TINY = dict(max_episodes=8, validate_every=4, validation_episodes=30, learning_starts=32,
            batch_size=16, buffer_size=500, checkpoint_every=4)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_train_and_store_writes_a_findable_agent(cache, tmp_path):
    cfg = ArmDQNConfig(n_joints=2, width=8, seed=3, **TINY)
    logs = []
    art, passed = arm_zoo.train_and_store(cfg, tmp_path / "run", progress=False, log=logs.append)
    assert not passed and art.metrics["validation_passed"] is False  # 8 episodes cannot pass
    assert art.metrics["training_episodes"] == 8
    assert art.path.parent.parent == cache
    assert set(art.manifest["files"]) == {"weights.pt", "metrics.csv", "validation.csv"}
    model, meta = load_arm_weights(art.file("weights.pt"))
    assert model.hidden_sizes == [8] * 6 and meta["dtype"] == "torch." + art.metrics["weights_dtype"]
    assert [a.key for a in find_arm_agents(2, 8, 3)] == [art.key]
    assert any("hold-out" in m for m in logs)
    # not stored when failing agents are refused
    none, _ = arm_zoo.train_and_store(ArmDQNConfig(n_joints=2, width=8, seed=4, **TINY), tmp_path / "r2",
                                      progress=False, log=lambda m: None, store_failed=False)
    assert none is None and not find_arm_agents(2, 8, 4)


def test_sweep_task_trains_once_then_reuses(cache, monkeypatch):
    res = arm_zoo.sweep_task({"n_joints": 2, "width": 8, **TINY}, 5)
    assert res["arrays"] == {} and res["metrics"]["training_episodes"] == 8
    key = res["metrics"]["agent"]

    def fail(*a, **k):
        raise AssertionError("trained an agent that is already stored")

    monkeypatch.setattr(arm_zoo, "train_arm_dqn", fail)
    assert arm_zoo.sweep_task({"n_joints": 2, "width": 8, **TINY}, 5)["metrics"]["agent"] == key
    with pytest.raises(ValueError, match="seed"):
        arm_zoo.sweep_task({"n_joints": 2, "seed": 1}, 5)


def test_rounded_copies():
    net = torch.nn.Linear(3, 2)
    r = arm_zoo.rounded(net, torch.float16)
    assert r is not net and not r.training
    assert torch.equal(r.weight, net.weight.half().float())


def test_paper_sweep_file_loads():
    spec = load_spec("sweeps/arm_agents_paper.yml")
    assert spec.function == "rlinside.agents.arm_zoo:sweep_task" and list(spec.seeds) == list(range(20))
    assert store.cache_root()  # the sweep stores into the cache
