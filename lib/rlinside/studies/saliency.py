"""The saliency chapter's study (Rosynski et al.): which agents, which heads, which runs.

The methods themselves are generic (:mod:`rlinside.explain.saliency`: tensors and modules
in). This module holds what the chapter does with them:

- :func:`saliency_model` gives the module a saliency method differentiates for an agent of
  the zoo (:mod:`rlinside.agents.zoo`): the net itself for a feed-forward agent, or
  :class:`~rlinside.explain.saliency.Unrolled` around a recurrent one, started from the state
  the agent carried (what :func:`rlinside.agents.zoo.play_states` returns with
  ``return_states=True``);
- :func:`heads` names the scalar outputs each agent can be explained by: the Q-value of an
  action for the DQN family, plus the value and advantage streams of the dueling nets; the
  actor's logit of an action and the critic's value for A2C;
- the measurement over training (below).

Do saliency maps find the game's objects before the reward curve rises?

Rosynski et al. (Sec. 4, Figures 43-48) see Grad-CAM and G1Grad-CAM highlight the ball and
the paddle on an agent saved after 325 episodes, whose reward curve had not yet moved, and
conclude that these methods show learning earlier than rewards do. They judge one state by
eye. Here the claim becomes a measurement over the float16 snapshots of one training run:

1. a fixed set of states, played by the run's final network (so the states are the ones a
   competent agent meets: the ball in play, the paddle under it);
2. every snapshot explains every state with all six methods, for the action it ranks first
   (its most likely action, or its greedy action), and :func:`object_saliency` reports the
   share of each map's magnitude on the objects (:mod:`rlinside.envs.atari_objects`, grown by
   one observation pixel) and its *enrichment*: that share over the objects' share of the
   screen (1 = the map ignores the objects);
3. next to it, the return of the training games around the snapshot's step.

:func:`measure_run` does all three for one run folder and :func:`ship_measurement` stores the
table as a ``saliency-training`` artifact (``data/`` when shipped).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rlinside import store
from rlinside.agents import registry
from rlinside.envs.atari_objects import OBJECTS, object_masks, to_observation_grid
from rlinside.explain.saliency import (
    METHOD_NAMES,
    Unrolled,
    advantage_stream,
    critic_value,
    make_method,
    newest_frame,
    value_stream,
)
from rlinside.explain.sanity import object_share

__all__ = ["is_recurrent", "feed_forward_agents", "saliency_model", "heads", "ARTIFACT_KIND", "object_saliency",
           "snapshots", "measure_run", "ship_measurement",
           "load_measurement"]

ARTIFACT_KIND = "saliency-training"
ARTIFACT_VERSION = "1"

#: How each head of :data:`rlinside.agents.registry.HEADS` becomes a saliency target for the
#: chosen ``action``: ``(label by network output, target, forward keyword arguments)``.
_HEAD_TARGETS: dict[str, tuple[dict[str, str], Any]] = {
    "action": ({"q": "Q(s, chosen action)", "q+state": "Q(s, chosen action)",
                "actor-critic": "actor: logit of the chosen action"}, lambda a: (a, None)),
    "value_stream": ({"*": "value stream V(s)"}, lambda a: (value_stream(), {"return_streams": True})),
    "advantage_stream": ({"*": "advantage stream A(s, chosen action)"},
                         lambda a: (advantage_stream(a), {"return_streams": True})),
    "critic_value": ({"*": "critic: V(s)"}, lambda a: (critic_value(), None)),
}


def is_recurrent(agent: str) -> bool:
    """Whether the zoo's family ``agent`` carries a state (the registry says)."""
    return registry.get(agent).recurrent


def feed_forward_agents() -> tuple[str, ...]:
    """The zoo's feed-forward families (the ones the over-training measurement takes)."""
    return tuple(k.name for k in registry.kinds("atari") if not k.recurrent)


def saliency_model(agent: str, net: nn.Module, state=None, steps: int = 1) -> nn.Module:
    """The module to explain: ``net`` for a feed-forward agent; for a recurrent one
    ``Unrolled(net, state, steps)``, whose input is the last ``steps`` frames (one channel
    each), oldest first."""
    if is_recurrent(agent):
        return Unrolled(net, state, steps=steps, channels_per_step=net.torso.in_channels)
    if state is not None or steps != 1:
        raise ValueError(f"{agent} is feed-forward: no recurrent state or unrolled steps")
    return net


def heads(agent: str, action: int) -> dict[str, tuple[Any, dict | None]]:
    """``name -> (target, forward_kwargs)`` of the outputs of ``agent`` worth explaining for
    ``action`` (the registry's ``heads``): the chosen action's Q-value or policy logit first."""
    kind = registry.get(agent)
    out = {}
    for head in kind.heads:
        labels, make = _HEAD_TARGETS[head]
        out[labels.get(kind.output, labels.get("*", head))] = make(action)
    return out


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def object_saliency(
    net: torch.nn.Module,
    game: str,
    observations: np.ndarray,
    frames: np.ndarray,
    *,
    methods: tuple[str, ...] = METHOD_NAMES,
    cam_layer: str = "conv1",
    dilate: int = 1,
) -> pd.DataFrame:
    """One row per (state, method, object) -- objects of :data:`OBJECTS` plus ``"all"``, their
    union -- with ``share`` and ``enrichment`` (:func:`~rlinside.explain.sanity.object_share`)
    of the newest frame's map, explaining the action ``net`` ranks first on each state.

    ``observations: (T, C, 84, 84)`` uint8 and ``frames: (T, 210, 160, 3)`` the matching
    screens (as :func:`rlinside.agents.zoo.play_states` returns them). States without any
    object on screen give NaN for that object.
    """
    if len(observations) != len(frames):
        raise ValueError(f"observations and frames must have the same length, got {len(observations)} and "
                         f"{len(frames)}")
    layer = getattr(net.torso, cam_layer, None)
    if layer is None:
        raise ValueError(f"cam_layer must be conv1, conv2 or conv3, got {cam_layer!r}")
    obs = torch.from_numpy(np.asarray(observations))
    with torch.no_grad():
        actions = _first(net(obs.float())).argmax(dim=1)
    maps = {m: newest_frame(make_method(m, net, layer).attribute(obs, target=actions)).numpy()
            for m in methods}
    rows = []
    for i, frame in enumerate(frames):
        masks = {k: to_observation_grid(v, dilate=dilate) for k, v in object_masks(game, frame).items()}
        masks["all"] = np.logical_or.reduce(list(masks.values()))
        for m in methods:
            for obj, mask in masks.items():
                share, enrichment = object_share(maps[m][i], mask)
                rows.append({"state": i, "action": int(actions[i]), "method": m, "object": obj,
                             "share": share, "enrichment": enrichment, "area": float(mask.mean())})
    return pd.DataFrame(rows)


def snapshots(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(agent step, path)`` of the float16 snapshots ``weights_step<N>.pt`` of a run folder,
    in order of step, followed by ``final.pt`` when present (its step read from the file)."""
    run_dir = Path(run_dir)
    found = []
    for p in run_dir.glob("weights_step*.pt"):
        m = re.fullmatch(r"weights_step(\d+)\.pt", p.name)
        if m:
            found.append((int(m.group(1)), p))
    found.sort()
    final = run_dir / "final.pt"
    if final.exists():
        step = int(torch.load(final, map_location="cpu", weights_only=False)["step"])
        if not found or step > found[-1][0]:
            found.append((step, final))
    if not found:
        raise FileNotFoundError(f"no weights_step*.pt or final.pt in {run_dir}")
    return found


def _return_near(metrics: pd.DataFrame, step: int, games: int) -> tuple[float, int]:
    """Mean full-game return of the last ``games`` training games finished by ``step``."""
    done = metrics[metrics["step"] <= step]["return"].to_numpy()[-games:]
    return (float(done.mean()) if len(done) else float("nan")), int(len(done))


def measure_run(
    run_dir: str | Path,
    agent: str,
    game: str,
    *,
    n_states: int = 40,
    every: int = 5,
    seed: int = 0,
    cam_layer: str = "conv1",
    return_window: int = 100,
    progress: bool = False,
) -> pd.DataFrame:
    """The measurement of this module for one run folder: the states are the ``n_states``
    states every ``every``-th agent step of evaluation game ``seed`` played by the run's last
    network; one row per (snapshot, state, method, object), with the snapshot's ``step`` and
    the mean ``train_return`` of the last ``return_window`` training games before it."""
    from rlinside.agents.zoo import load_weights_file, play_states

    if agent not in feed_forward_agents():
        raise ValueError(f"agent must be one of {feed_forward_agents()} (feed-forward agents), got {agent!r}")
    if game not in OBJECTS:
        raise ValueError(f"game must be one of {sorted(OBJECTS)}, got {game!r}")
    snaps = snapshots(run_dir)
    metrics = pd.read_csv(Path(run_dir) / "metrics.csv")
    last, _ = load_weights_file(agent, snaps[-1][1])
    obs, frames, _ = play_states(agent, last, game, steps=n_states * every, seed=seed)
    obs, frames = obs[every - 1::every], frames[every - 1::every]
    tables = []
    for step, path in snaps:
        net, _ = load_weights_file(agent, path)
        table = object_saliency(net, game, obs, frames, cam_layer=cam_layer)
        ret, games = _return_near(metrics, step, return_window)
        table.insert(0, "step", step)
        table["train_return"], table["train_games"] = ret, games
        tables.append(table)
        if progress:
            print(f"step {step:>9,}: return {ret:6.1f}; enrichment on all objects "
                  + ", ".join(f"{m} {table[(table.method == m) & (table.object == 'all')].enrichment.mean():.2f}"
                              for m in METHOD_NAMES), flush=True)
    return pd.concat(tables, ignore_index=True)


def ship_measurement(table: pd.DataFrame, config: dict, *, root: Path | None = None,
                     command: str | None = None, wall_time_s: float | None = None) -> store.Artifact:
    """Store the table of :func:`measure_run` (CSV) as a ``saliency-training`` artifact."""
    summary = (table[table.object == "all"].groupby(["step", "method"])["enrichment"].mean()
               .unstack("method").round(3))
    metrics = {"steps": sorted(int(s) for s in table.step.unique()),
               "states": int(table.state.nunique()),
               "enrichment_all_objects": {str(k): v for k, v in summary.to_dict(orient="index").items()}}
    return store.save(ARTIFACT_KIND, config, ARTIFACT_VERSION,
                      {"object_saliency.csv": table.to_csv(index=False).encode()},
                      metrics=metrics, command=command, wall_time_s=wall_time_s, root=root)


def load_measurement(**config_filters: Any) -> tuple[pd.DataFrame, store.Artifact] | None:
    """The latest stored measurement matching the filters (e.g. ``agent="a2c"``), or None."""
    found = store.find(ARTIFACT_KIND, ARTIFACT_VERSION, **config_filters)
    if not found:
        return None
    art = found[-1]
    return pd.read_csv(art.file("object_saliency.csv")), art
