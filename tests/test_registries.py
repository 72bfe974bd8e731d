"""A new agent family and a new saliency method join the book through their registries alone:
no ``if`` on a family or method name elsewhere needs editing. Each runs a smoke study."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rlinside.agents import registry, zoo
from rlinside.explain import saliency as S
from rlinside.nets.atari import DuelingQNetwork
from rlinside.studies import saliency as study

# --- a dummy family: its module is this test module


@dataclasses.dataclass(frozen=True)
class DummyConfig:
    game: str = "Breakout"
    seed: int = 0
    total_steps: int = 10
    frames: int = 2


def build(config: DummyConfig) -> DuelingQNetwork:
    torch.manual_seed(config.seed)
    return DuelingQNetwork(n_actions=4, in_channels=config.frames).eval()


def dummy_load(path, device=None):
    return build(DummyConfig()), {"step": 0}


def dummy_train(config, run_dir):
    return None


def dummy_ship(run_dir, *, agent, stage):
    return {"shipped": str(run_dir), "agent": agent, "stage": stage}


class InputTimesGradient:
    """A seventh method: the input times its gradient (Shrikumar et al. 2016)."""

    def __init__(self, model):
        self.model = model

    def attribute(self, obs, target, forward_kwargs=None):
        grad = S.Gradient(self.model).attribute(obs, target, forward_kwargs)
        return obs.float() * grad


@pytest.fixture()
def dummy_family():
    kind = registry.register(registry.AgentKind(
        "dummy-dqn", "Dummy DQN", "atari", __name__, "DummyConfig", "dummy_train", "dummy_load", None, None,
        "atari-agent", recurrent=False, output="q", heads=("action", "value_stream", "advantage_stream"),
        protocol="greedy", config_overrides={"frames": 2}, ship=f"{__name__}:dummy_ship",
        ship_options={"agent": "dummy-dqn"}))
    try:
        yield kind
    finally:
        registry.KINDS.pop(kind.name)


@pytest.fixture()
def seventh_method():
    S.register_method("Input x Gradient", InputTimesGradient)
    try:
        yield "Input x Gradient"
    finally:
        S._METHODS.pop("Input x Gradient")


def test_a_new_family_is_seen_by_the_zoo_and_the_studies(dummy_family):
    assert "dummy-dqn" in zoo.AGENTS and zoo.AGENTS["dummy-dqn"].label == "Dummy DQN"
    assert list(zoo.AGENTS)[-1] == "dummy-dqn"
    assert dummy_family.make_config().frames == 2
    assert not study.is_recurrent("dummy-dqn") and "dummy-dqn" in study.feed_forward_agents()
    net, meta = zoo.load_weights_file("dummy-dqn", "unused.pt")
    assert meta == {"step": 0}
    from rlinside.agents import shipped

    assert shipped.ship("dummy-dqn", "runs/x", stage="final") == {"shipped": "runs/x", "agent": "dummy-dqn",
                                                                  "stage": "final"}
    assert list(study.heads("dummy-dqn", 1)) == [
        "Q(s, chosen action)", "value stream V(s)", "advantage stream A(s, chosen action)"]


def test_smoke_study_with_the_new_family_and_the_new_method(dummy_family, seventh_method):
    """Play the dummy agent, explain its states with every registered method and every head
    its registry entry names: the study code has no line that knows either of them."""
    assert seventh_method in S.METHOD_NAMES and len(S.METHOD_NAMES) == 7
    assert seventh_method not in S.COARSE
    from rlinside import params

    params.check_value("m", "list[str]", [seventh_method], params.parse_rules("{@saliency_methods}"))

    net = build(dummy_family.make_config())
    obs, frames, actions = zoo.play_states("dummy-dqn", net, "Breakout", steps=3, seed=0)
    assert obs.shape == (3, 2, 84, 84) and frames.shape == (3, 210, 160, 3) and len(actions) == 3
    model = study.saliency_model("dummy-dqn", net)
    x = torch.from_numpy(obs)
    for name, (target, kwargs) in study.heads("dummy-dqn", int(actions[-1])).items():
        maps = S.explain_all(model, x, target, net.torso.conv1, forward_kwargs=kwargs)
        assert list(maps) == list(S.METHOD_NAMES), name
        for m, a in maps.items():
            assert torch.isfinite(a).all(), (name, m)
            assert a.shape[0] == 3 and a.shape[-2:] == (84, 84)
        expected = x.float() * S.Gradient(model).attribute(x, target, kwargs)
        np.testing.assert_allclose(maps[seventh_method].numpy(), expected.numpy())


def test_registering_twice_or_with_unknown_heads_is_an_error(dummy_family):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(dummy_family)
    with pytest.raises(ValueError, match="unknown heads"):
        dataclasses.replace(dummy_family, name="other", heads=("logit",))
    with pytest.raises(ValueError, match="agent must be one of"):
        registry.get("ppo")
    with pytest.raises(ValueError, match="already registered"):
        S.register_method("Gradient", S.Gradient)
