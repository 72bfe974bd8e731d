"""The one registry of agent families: what each family is, where its code lives, how it acts.

Every other place that needs to know about an agent family reads an :class:`AgentKind` from
here: the Atari zoo (:mod:`rlinside.agents.zoo`: loading, evaluating, playing), the training
script (``scripts/train_atari.py``), and the studies (:mod:`rlinside.studies.saliency`: which
heads to explain, whether the network is recurrent). Adding a family is one :func:`register`
call plus its module; nothing else branches on family names.

A family's functions are named, not imported, so that this module imports none of them (the
registry sits below every family in the layers); :meth:`AgentKind.function` imports one when
it is first used.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["AgentKind", "HEADS", "register", "get", "kinds", "KINDS"]

#: Outputs of a network a saliency method can explain, by name (see
#: :func:`rlinside.studies.saliency.heads`): ``action`` the chosen action's Q-value or policy
#: logit; ``value_stream`` / ``advantage_stream`` the dueling streams; ``critic_value`` V(s).
HEADS = ("action", "value_stream", "advantage_stream", "critic_value")

#: How to read a network's output: ``q`` a Q-value tensor; ``q+state`` (Q-values, recurrent
#: state); ``actor-critic`` (logits, value, state); ``policy`` a policy network of another
#: domain (arm, maze) that its own module drives.
OUTPUTS = ("q", "q+state", "actor-critic", "policy")


@dataclasses.dataclass(frozen=True)
class AgentKind:
    """One agent family: its names, its code, its artifacts and how it acts."""

    name: str  #: the family's id, as in artifacts' configs and on the command line
    label: str  #: as in the book's tables
    domain: str  #: atari, arm or maze: which environments it plays
    module: str  #: the module with its config, trainer, loader and evaluator
    config: str  #: name of its configuration dataclass in ``module``
    train: str  #: trainer ``(config, run_dir) -> final weights or None``
    load: str  #: loader ``(path, device=None) -> (net, meta)``
    export: str | None  #: ``(run_dir, path) -> path`` float16 weights of a run (None: none)
    evaluate: str | None  #: ``(net, game, episodes, seed=, progress=) -> scores``
    artifact_kind: str  #: store kind of its shipped agents
    recurrent: bool  #: carries a state from step to step
    output: str  #: one of :data:`OUTPUTS`
    heads: tuple[str, ...] = ()  #: explainable outputs, from :data:`HEADS`, the main one first
    protocol: str = ""  #: how evaluation actions are chosen
    config_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)  #: fixed settings
    reset_on_life_loss: bool = False  #: zero the recurrent state after a lost life (as in training)
    ship: str | None = None  #: ``module:function`` ``(run_dir, **ship_options, **options) -> Artifact``
    ship_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)  #: fixed arguments of ``ship``

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"agent kind {self.name!r}: output must be one of {OUTPUTS}, got {self.output!r}")
        bad = [h for h in self.heads if h not in HEADS]
        if bad:
            raise ValueError(f"agent kind {self.name!r}: unknown heads {bad}; allowed: {HEADS}")

    def function(self, which: str) -> Callable:
        """The family's ``train``, ``load``, ``export``, ``evaluate`` or ``ship`` function."""
        name = getattr(self, which)
        if name is None:
            raise ValueError(f"agent kind {self.name!r} has no {which} function")
        module, _, name = name.rpartition(":") if ":" in name else (self.module, "", name)
        return getattr(importlib.import_module(module), name)

    def config_class(self) -> type:
        return getattr(importlib.import_module(self.module), self.config)

    def make_config(self, **settings: Any) -> Any:
        """The family's configuration: its fixed settings, then ``settings``."""
        return self.config_class()(**{**self.config_overrides, **settings})

    @property
    def train_command(self) -> str:
        return f"--agent {self.name}"


KINDS: dict[str, AgentKind] = {}


def register(kind: AgentKind) -> AgentKind:
    """Add a family (a second one of the same name is an error)."""
    if kind.name in KINDS:
        raise ValueError(f"agent kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> AgentKind:
    """The family ``name``, or a ValueError listing the registered ones."""
    if name not in KINDS:
        raise ValueError(f"agent must be one of {sorted(KINDS)}, got {name!r}")
    return KINDS[name]


def kinds(domain: str | None = None) -> list[AgentKind]:
    """The registered families (of one domain), in registration order."""
    return [k for k in KINDS.values() if domain is None or k.domain == domain]


def _atari_ship(name: str) -> dict[str, Any]:
    return {"ship": "rlinside.agents.zoo:ship_agent", "ship_options": {"agent": name}}


_GREEDY = "epsilon-greedy, epsilon 0.001"
_SAMPLED = "actions sampled from the policy"

register(AgentKind(
    "dddqn", "DDDQN", "atari", "rlinside.agents.dqn", "DQNConfig", "train_dqn", "load_weights",
    "export_weights", "evaluate", "atari-agent", recurrent=False, output="q",
    heads=("action", "value_stream", "advantage_stream"), protocol=_GREEDY, **_atari_ship("dddqn")))
register(AgentKind(
    "drqn", "Recurrent attention DQN", "atari", "rlinside.agents.drqn", "DRQNConfig", "train_drqn",
    "load_drqn_weights", "export_drqn_weights", "evaluate_drqn", "atari-agent", recurrent=True,
    output="q+state", heads=("action", "value_stream", "advantage_stream"), protocol=_GREEDY,
    **_atari_ship("drqn")))
register(AgentKind(
    "a2c", "A2C", "atari", "rlinside.agents.a2c", "A2CConfig", "train_a2c", "load_a2c_weights",
    "export_a2c_weights", "evaluate_a2c", "atari-agent", recurrent=False, output="actor-critic",
    heads=("action", "critic_value"), protocol=_SAMPLED, config_overrides={"lstm_size": 0, "frame_stack": 3},
    **_atari_ship("a2c")))
register(AgentKind(
    "a2c-lstm", "A2C-LSTM", "atari", "rlinside.agents.a2c", "A2CConfig", "train_a2c", "load_a2c_weights",
    "export_a2c_weights", "evaluate_a2c", "atari-agent", recurrent=True, output="actor-critic",
    heads=("action", "critic_value"), protocol=_SAMPLED, config_overrides={"lstm_size": 256, "frame_stack": 1},
    reset_on_life_loss=True, **_atari_ship("a2c-lstm")))
register(AgentKind(
    "a2c-lnlstm", "A2C-LSTM (layer-normalised input)", "atari", "rlinside.agents.a2c", "A2CConfig",
    "train_a2c", "load_a2c_weights", "export_a2c_weights", "evaluate_a2c", "atari-agent", recurrent=True,
    output="actor-critic", heads=("action", "critic_value"), protocol=_SAMPLED,
    config_overrides={"lstm_size": 256, "frame_stack": 1, "lstm_input_norm": True},
    reset_on_life_loss=True, **_atari_ship("a2c-lnlstm")))
register(AgentKind(
    "arm-dqn", "Arm DQN", "arm", "rlinside.agents.arm_dqn", "ArmDQNConfig", "train_arm_dqn",
    "load_arm_weights", None, None, "arm-dqn", recurrent=False, output="policy", heads=("action",),
    protocol="greedy", ship="rlinside.agents.arm_zoo:ship_run"))
register(AgentKind(
    "maze-policy", "Marble-maze A2C-LSTM", "maze", "rlinside.agents.maze_a2c", "MazeA2CConfig",
    "train_maze", "load_maze_policy", "export_maze_weights", None, "maze-policy", recurrent=True, output="policy",
    heads=("action",), protocol="greedy", ship="rlinside.agents.maze_zoo:ship_policy"))
