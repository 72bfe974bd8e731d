"""The one rule for which stored agent wins (agents.shipped.most_trained), tested once, and
the one loader verb over the registry's families."""

from __future__ import annotations

import pytest
import torch

from rlinside import store
from rlinside.agents import shipped


def _art(tmp_path, key, config, metrics=None, where="data"):
    path = tmp_path / where / "k" / key
    path.mkdir(parents=True)
    manifest = {"kind": "k", "key": key, "config": config, "metrics": metrics or {}, "files": {}}
    return store.Artifact(path=path, manifest=manifest)


def test_most_trained_wins_then_shipped_then_smallest_key(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_DATA", str(tmp_path / "data"))
    early = _art(tmp_path, "b", {"step": 250_000})
    final = _art(tmp_path, "c", {"step": 700_000})
    cached = _art(tmp_path, "a", {"step": 700_000}, where="cache")
    assert shipped.most_trained([early, final]) is final
    assert shipped.most_trained([cached, early, final]) is final  # equal training: the shipped one
    assert shipped.most_trained([final, cached]) is shipped.most_trained([cached, final])  # order-free
    twin = _art(tmp_path, "0", {"step": 700_000})
    assert shipped.most_trained([final, twin]) is twin  # then the smallest key
    # families without a step: training episodes from the metrics
    short = _art(tmp_path, "x", {"seed": 0}, {"training_episodes": 900})
    long = _art(tmp_path, "y", {"seed": 0}, {"training_episodes": 2550})
    assert shipped.most_trained([long, short]) is long
    with pytest.raises(ValueError, match="no artifact"):
        shipped.most_trained([])


def test_load_net_uses_the_family_loader_of_the_registry():
    from rlinside.agents.arm_dqn import find_arm_agents

    art = shipped.most_trained(find_arm_agents(3, 32, 0))
    net, meta = shipped.load_net("arm-dqn", art)
    assert isinstance(net, torch.nn.Module) and meta["config"]["n_joints"] == 3
    from rlinside.agents.zoo import find_agents

    atari = shipped.most_trained(find_agents("dddqn", "Breakout"))
    assert atari.config["stage"] == "final"  # the final agent is the most trained
    net, meta = shipped.load_net("dddqn", atari, device=torch.device("cpu"))
    assert meta["step"] == atari.config["step"]
