"""Saliency for the agents of the zoo (:mod:`rlinside.agents.zoo`): one entry point for
feed-forward and recurrent agents and for their different heads.

- :func:`saliency_model` gives the module a saliency method differentiates: the net itself
  for a feed-forward agent, or :class:`~rlinside.explain.saliency.Unrolled` around a
  recurrent one, started from the recurrent state the agent carried (what
  :func:`rlinside.agents.zoo.play_states` returns with ``return_states=True``).
- :func:`heads` names the scalar outputs each agent can be explained by: the Q-value of an
  action for the DQN family, plus the value and advantage streams of the dueling nets
  (the recurrent attention DQN's through ``return_streams=True``, which
  :class:`~rlinside.explain.saliency.Unrolled` passes on); the
  actor's logit of an action and the critic's value for A2C.
- :func:`explain_all` runs the six methods of :data:`~rlinside.explain.saliency.METHOD_NAMES`
  on one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from rlinside.explain.saliency import METHOD_NAMES, Unrolled, advantage_stream, make_method, value_stream

__all__ = ["RECURRENT", "saliency_model", "heads", "explain_all", "critic_value"]

RECURRENT = frozenset({"drqn", "a2c-lstm"})


def critic_value() -> Callable[[Any], torch.Tensor]:
    """Target: the critic's value ``V(s)`` of an actor-critic net (second element of its
    output ``(logits, value, state)``)."""

    def select(output: Any) -> torch.Tensor:
        if not isinstance(output, tuple) or len(output) < 2:
            raise ValueError("critic_value() needs an actor-critic output (logits, value, ...)")
        return output[1]

    return select


def saliency_model(agent: str, net: nn.Module, state=None, steps: int = 1) -> nn.Module:
    """The module to explain: ``net`` for a feed-forward agent; for a recurrent one
    ``Unrolled(net, state, steps)``, whose input is the last ``steps`` frames (one channel
    each), oldest first."""
    if agent in RECURRENT:
        return Unrolled(net, state, steps=steps, channels_per_step=net.torso.in_channels)
    if state is not None or steps != 1:
        raise ValueError(f"{agent} is feed-forward: no recurrent state or unrolled steps")
    return net


def heads(agent: str, action: int) -> dict[str, tuple[Any, dict | None]]:
    """``name -> (target, forward_kwargs)`` of the outputs of ``agent`` worth explaining for
    ``action``: the chosen action's Q-value or policy logit first."""
    if agent in ("a2c", "a2c-lstm"):
        return {"actor: logit of the chosen action": (action, None),
                "critic: V(s)": (critic_value(), None)}
    if agent in ("dddqn", "drqn"):
        return {"Q(s, chosen action)": (action, None),
                "value stream V(s)": (value_stream(), {"return_streams": True}),
                "advantage stream A(s, chosen action)": (advantage_stream(action), {"return_streams": True})}
    raise ValueError(f"agent must be one of dddqn, drqn, a2c, a2c-lstm, got {agent!r}")


def explain_all(
    model: nn.Module,
    obs: torch.Tensor,
    target: Any,
    layer: nn.Module,
    *,
    methods: tuple[str, ...] = METHOD_NAMES,
    forward_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, torch.Tensor]:
    """``method name -> raw map`` for the batch ``obs`` (shapes as the methods return them)."""
    return {m: make_method(m, model, layer).attribute(obs, target=target, forward_kwargs=forward_kwargs)
            for m in methods}
