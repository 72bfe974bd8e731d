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
- the measurements of the chapter's notebooks, each a loop over the zoo's agents and states
  that returns tables (DataFrames) and gallery rows (:class:`MapRow`: a screen and maps in
  [-1, 1]) for the notebook to draw: :func:`zoo_status`, :func:`learning_curves` and
  :func:`filmstrips` (00); :func:`explain_shipped`, :func:`map_statistics` and
  :func:`stream_maps` (01); :func:`play_games` (the states of several evaluation games; the
  per-state tables of one game are pooled over them by :func:`over_games`), then
  :func:`head_maps`, :func:`head_correlations`, :func:`layer_maps`,
  :func:`past_frames_over_games`, :func:`attention_over_games`, :func:`attention_gradients`
  and :func:`streams_layers_claims` (02); :func:`early_final_pairs`,
  :func:`early_final_gallery`, :func:`early_final_enrichment` and :func:`training_curves` (03);
  :func:`video_study` and :func:`stability_claims` (04); :func:`sanity_agents`, then
  :func:`cascading_study`, :func:`fully_randomized`, :func:`edge_correlation`,
  :func:`perturbation_agreement`, :func:`action_discrimination` and :func:`sanity_claims`
  (05, the sanity checks of Adebayo et al.);
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

import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from scipy.stats import spearmanr
from torch import nn

from rlinside import store
from rlinside.agents import registry
from rlinside.agents.zoo import find_agents, most_trained
from rlinside.envs.atari_objects import OBJECTS, object_masks, to_observation_grid
from rlinside.explain.attention import attention_on_input, attention_summary, mean_over_fields, receptive_field
from rlinside.explain.gate import GateResult, sensitivity_gate
from rlinside.explain.saliency import (
    COARSE,
    METHOD_NAMES,
    GuidedBackprop,
    Unrolled,
    advantage_stream,
    cam_module,
    critic_value,
    explain_all,
    make_method,
    newest_frame,
    normalize,
    value_stream,
)
from rlinside.explain.sanity import (
    cascading_randomization,
    object_share,
    perturbation_saliency,
    rank_correlation,
    ssim,
)
from rlinside.utils import nan_mean

__all__ = ["block_means", "enrichment_blocks", "layer_spread", "is_recurrent", "feed_forward_agents",
           "saliency_model", "heads", "ARTIFACT_KIND", "object_saliency",
           "snapshots", "measure_run", "ship_measurement", "load_measurement",
           # the notebooks' measurements
           "PAPER_TABLE", "chapter_agents", "chapter_most_trained", "CONVS", "ATTENTIONS", "label", "every",
           "MapRow", "Played", "play_most_trained", "repeats", "distinct_games", "MAX_REPEATS",
           "play_distinct",
           "head_maps", "head_correlations", "layer_maps", "past_frame_saliency", "has_attention", "attention_maps",
           "attention_gradients", "SanityAgent", "sanity_agents", "newest_maps", "cascading_study",
           "fully_randomized", "edge_correlation", "perturbation_agreement", "action_discrimination",
           "MEASURED_RUN", "PAPER_EARLY_VARIANT", "exploration_at", "stage_label", "PlayedPair",
           "early_final_pairs", "early_final_gallery", "early_final_enrichment", "rise_step", "half_rise_step",
           "departure_steps", "learning_first_ratio", "training_returns",
           "MEMORISED_PAIR", "SEED_NULL", "MEMORISED_NULL_SEED", "START_VARIANTS", "memorised_pair",
           "start_variant_scores", "start_gaps", "memorised_maps",
           "MOMENT_RULES", "pick_moments", "moment_rows",
           "BUG_STUDY", "BUG_NULL_SEED", "bug_agents", "bug_stream_rows", "bug_stream_statistics", "bug_flags",
           "bug_scores",
           "TrainingCurves", "training_curves", "zoo_status", "checkpoint_label", "LearningCurve", "learning_curves",
           "Filmstrip", "filmstrips", "ExplainedState", "explain_state", "explain_shipped", "map_statistics",
           "has_streams", "stream_maps", "GATE_STATES", "gate_distribution", "agent_gate", "sensitive",
           "gate_rows", "CAM_FAMILY", "cam_variants", "zoo_gates",
           "RANDOMIZATION_INITS", "own_initialization",
           "PERTURBATION", "RANDOM_ORDER", "faithfulness", "faithfulness_summary", "explain_steps",
           "step_statistics"]

#: States of one evaluation game the sensitivity gate reads per agent.
GATE_STATES = 40

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
    cam_net: torch.nn.Module | None = None,
) -> pd.DataFrame:
    """One row per (state, method, object) -- objects of :data:`OBJECTS` plus ``"all"``, their
    union -- with ``share`` and ``enrichment`` (:func:`~rlinside.explain.sanity.object_share`)
    of the newest frame's map, explaining the action ``net`` ranks first on each state.

    ``observations: (T, C, 84, 84)`` uint8 and ``frames: (T, 210, 160, 3)`` the matching
    screens (as :func:`rlinside.agents.zoo.play_states` returns them). States without any
    object on screen give NaN for that object. ``net`` may be a recurrent network unrolled from
    the states it carried (:func:`saliency_model`); ``cam_net`` is then the network itself, where
    the Grad-CAM layer ``cam_layer`` is found (default: ``net``).
    """
    if len(observations) != len(frames):
        raise ValueError(f"observations and frames must have the same length, got {len(observations)} and "
                         f"{len(frames)}")
    layer = cam_module(net if cam_net is None else cam_net, cam_layer)
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
    the mean ``train_return`` of the last ``return_window`` training games before it. A
    recurrent snapshot explains each state from the memory it built over the same game
    (:func:`rlinside.agents.zoo.replay_states`)."""
    from rlinside.agents.zoo import load_weights_file, play_states, replay_states

    families = tuple(k.name for k in registry.kinds("atari"))
    if agent not in families:
        raise ValueError(f"agent must be one of {families}, got {agent!r}")
    if game not in OBJECTS:
        raise ValueError(f"game must be one of {sorted(OBJECTS)}, got {game!r}")
    snaps = snapshots(run_dir)
    metrics = pd.read_csv(Path(run_dir) / "metrics.csv")
    last, _ = load_weights_file(agent, snaps[-1][1])
    obs, frames, _, carried = play_states(agent, last, game, steps=n_states * every, seed=seed, return_states=True)
    resets = [c is None for c in carried]
    idx = np.arange(every - 1, n_states * every, every)
    tables = []
    for step, path in snaps:
        net, _ = load_weights_file(agent, path)
        model = _model_at(agent, net, replay_states(agent, net, obs, resets), idx)
        table = object_saliency(model, game, obs[idx], frames[idx], cam_layer=cam_layer, cam_net=net)
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
                     command: str | None = None, wall_time_s: float | None = None,
                     returns: pd.DataFrame | None = None) -> store.Artifact:
    """Store the table of :func:`measure_run` (CSV) as a ``saliency-training`` artifact, with
    the run's training games (``returns``: columns ``step``, ``return``; the intervals of
    :func:`departure_steps` resample them) when given."""
    summary = (table[table.object == "all"].groupby(["step", "method"])["enrichment"].mean()
               .unstack("method").round(3))
    metrics = {"steps": sorted(int(s) for s in table.step.unique()),
               "states": int(table.state.nunique()),
               "enrichment_all_objects": {str(k): v for k, v in summary.to_dict(orient="index").items()}}
    files = {"object_saliency.csv": table.to_csv(index=False).encode()}
    if returns is not None:
        missing = {"step", "return"} - set(returns.columns)
        if missing:
            raise ValueError(f"returns needs the columns step and return; missing {sorted(missing)}")
        files["train_returns.csv"] = returns[["step", "return"]].to_csv(index=False).encode()
    return store.save(ARTIFACT_KIND, config, ARTIFACT_VERSION, files,
                      metrics=metrics, command=command, wall_time_s=wall_time_s, root=root)


def load_measurement(**config_filters: Any) -> tuple[pd.DataFrame, store.Artifact] | None:
    """The latest stored measurement matching the filters (e.g. ``agent="a2c"``), or None."""
    found = store.find(ARTIFACT_KIND, ARTIFACT_VERSION, **config_filters)
    if not found:
        return None
    art = found[-1]
    return pd.read_csv(art.file("object_saliency.csv")), art


# --------------------------------------------------------------------------------------------
# The notebooks' measurements: the zoo's agents, their states, and the maps drawn from them
# --------------------------------------------------------------------------------------------

#: The agents of Rosynski et al.'s Table 1, as (family, game) of the zoo. The A3C-LSTM twice:
#: our first A2C-LSTM, which fails the sensitivity gate (kept as a cautionary example), and its
#: retrained successor with a layer-normalised LSTM input.
PAPER_TABLE = (("dddqn", "Breakout"), ("dddqn", "Seaquest"), ("drqn", "Seaquest"),
               ("a2c", "Breakout"), ("a2c", "Seaquest"), ("a2c-lstm", "Seaquest"), ("a2c-lnlstm", "Seaquest"))


def chapter_agents() -> list:
    """The shipped Atari agents of this chapter: those of :data:`PAPER_TABLE` (the paper's
    Table 1 pairs), in :func:`rlinside.agents.zoo.find_agents` order. Agents shipped for other
    chapters (the RTRL chapter's prediction benchmark plays more games) stay out."""
    return [a for a in find_agents() if (a.config["agent"], a.config["game"]) in PAPER_TABLE]


def block_means(values: np.ndarray, block: int = 10) -> np.ndarray:
    """The mean of each full block of ``block`` consecutive per-step ``values`` (NaN ignored; a
    block with no finite value is NaN): neighbouring steps of a video are too alike to be
    separate units, blocks of them are closer to independent."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be one value per step, got shape {v.shape}")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    n = len(v) // block
    out = np.full(n, np.nan)
    for k in range(n):
        x = v[k * block:(k + 1) * block]
        if np.isfinite(x).any():
            out[k] = np.nanmean(x)
    return out


def enrichment_blocks(a: np.ndarray, b: np.ndarray, block: int = 10) -> tuple[np.ndarray, dict[str, float]]:
    """Exercise 1 of the chapter: two methods' per-step object enrichments of one video
    (:func:`rlinside.explain.sanity.object_share`; NaN where a map is empty), compared per block
    of ``block`` consecutive steps: ``(a's block mean minus b's, one value per block with both
    finite; {"a_on_objects", "b_on_objects"})``, the shares of steps with an enrichment of at
    least 2, as the videos' stability table counts them."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be per-step enrichments of the same video, got {a.shape} and {b.shape}")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    diffs = []
    for s in range(0, len(a) - block + 1, block):
        x, y = a[s:s + block], b[s:s + block]
        if np.isfinite(x).any() and np.isfinite(y).any():
            diffs.append(np.nanmean(x) - np.nanmean(y))

    def on(v):
        v = v[np.isfinite(v)]
        return float(np.mean(v >= 2)) if len(v) else float("nan")
    return np.array(diffs), {"a_on_objects": on(a), "b_on_objects": on(b)}


def chapter_most_trained() -> list:
    """:func:`rlinside.agents.zoo.most_trained`, for this chapter's agents only."""
    return [a for a in most_trained() if (a.config["agent"], a.config["game"]) in PAPER_TABLE]

#: The convolutions of the Nature CNN torso, input first.
CONVS = ("conv1", "conv2", "conv3")

#: The attention outputs (``AttentionDetails`` fields and module names) of a network with
#: split attention (the recurrent attention DQN): its ``(7, 7)`` attention maps.
ATTENTIONS = ("lstm_attention", "value_attention", "advantage_attention")


def label(agent: str) -> str:
    """The family's name as the book's tables write it (the registry's ``label``)."""
    return registry.get(agent).label


def every(n_states: int, state_every: int, first: int | None = None) -> range:
    """The measured steps of a played game: every ``state_every``-th of the first
    ``n_states * state_every`` steps, from step ``state_every - 1`` (or from ``first``)."""
    return range(state_every - 1 if first is None else first, n_states * state_every, state_every)


@dataclass
class MapRow:
    """One row of a gallery: its label, the screen its maps are drawn on, the maps by column."""

    label: str
    screen: np.ndarray  #: (210, 160, 3) uint8
    maps: dict[str, np.ndarray]  #: column -> (84, 84) float map, scaled to [-1, 1]
    insensitive: bool = False  #: the agent failed the sensitivity gate: drawn greyed, never read


@dataclass
class Played:
    """A shipped agent and what it met playing one evaluation game (:func:`play_most_trained`)."""

    art: store.Artifact
    net: nn.Module
    obs: np.ndarray  #: (T, C, 84, 84) uint8, what the agent acted on at each step
    frames: np.ndarray  #: (T, 210, 160, 3) uint8, the screen at each step
    actions: np.ndarray  #: (T,) int64, the action chosen at each step
    states: list  #: (T,) the recurrent state each step started from (None: fresh or feed-forward)
    gate: GateResult | None = None  #: the sensitivity gate over states of this game (:func:`agent_gate`)

    @property
    def insensitive(self) -> bool:
        """The agent failed the sensitivity gate (its maps are drawn greyed and never counted)."""
        return self.gate is not None and not self.gate.passed

    @property
    def agent(self) -> str:
        """The family's name (registry id)."""
        return self.art.config["agent"]

    @property
    def game(self) -> str:
        """The Atari game."""
        return self.art.config["game"]

    @property
    def stage(self) -> str:
        """``early`` or ``final``."""
        return self.art.config["stage"]

    @property
    def name(self) -> str:
        """``"<label> <game>"``, e.g. ``"DDDQN Breakout"``."""
        return f"{label(self.agent)} {self.game}"

    def state_at(self, i: int) -> tuple[nn.Module, torch.Tensor, np.ndarray, int]:
        """``(model, obs (1, C, 84, 84) uint8, screen (210, 160, 3), action)`` of step ``i``; a
        recurrent agent's model starts from the state it carried into that step."""
        model = saliency_model(self.agent, self.net, self.states[i]) if is_recurrent(self.agent) else self.net
        return model, torch.from_numpy(self.obs[i:i + 1]), self.frames[i], int(self.actions[i])


def gate_distribution(agent: str) -> str:
    """How the gate reads the family's output as an action distribution: ``softmax`` for the
    actor-critics (they sample), ``greedy`` for the Q-learning agents."""
    return "softmax" if registry.get(agent).output == "actor-critic" else "greedy"


def agent_gate(played: Played, n_states: int = GATE_STATES) -> GateResult:
    """:func:`rlinside.explain.gate.sensitivity_gate` over up to ``n_states`` states spread
    evenly over what ``played`` met (each explained for the action the agent chose there)."""
    T = len(played.actions)
    if T < 2:
        raise ValueError(f"the gate needs at least 2 played steps, got {T}")
    idx = np.unique(np.linspace(0, T - 1, min(n_states, T)).round().astype(int))
    steps = []
    for i in idx:
        model, obs, _, action = played.state_at(int(i))
        steps.append((model, obs, action))
    return sensitivity_gate(steps, distribution=gate_distribution(played.agent))


def play_most_trained(steps: int, seed: int = 0, gate_states: int = GATE_STATES) -> list[Played]:
    """The most trained shipped agent of each (family, game) (:func:`rlinside.agents.zoo.most_trained`),
    each after ``steps`` agent steps of evaluation game ``seed``, with the states it carried
    and its sensitivity gate (:func:`agent_gate` over ``gate_states`` of those states)."""
    from rlinside.agents.zoo import load_agent, play_states

    played = []
    for art in chapter_most_trained():
        agent, game, stage = art.config["agent"], art.config["game"], art.config["stage"]
        net, _ = load_agent(agent, game, stage)
        obs, frames, actions, states = play_states(agent, net, game, steps=steps, seed=seed, return_states=True)
        p = Played(art, net, obs, frames, actions, states)
        p.gate = agent_gate(p, gate_states) if steps >= 2 else None
        played.append(p)
    return played


def sensitive(played: list[Played]) -> list[Played]:
    """The agents of ``played`` that passed the sensitivity gate: the only ones any statistic
    or verdict reads (an agent with no gate measured is kept)."""
    return [p for p in played if not p.insensitive]


def repeats(frames: np.ndarray, earlier: list[np.ndarray]) -> bool:
    """Whether the game ``frames`` is the start of one of the ``earlier`` games of the same agent
    (or they of it): the same screens over their common length. A greedy agent can play two
    evaluation games of different seeds step for step alike (in Breakout the no-op starts leave
    the screen unchanged); pooled twice, such a game's states would be counted as two samples."""
    return any(len(e) and np.array_equal(frames[:len(e)], e[:len(frames)]) for e in earlier)


def gate_rows(played: list[Played]) -> pd.DataFrame:
    """One row per agent: what the sensitivity gate measured and its verdict."""
    rows = []
    for p in played:
        g = p.gate if p.gate is not None else agent_gate(p)
        rows.append({"agent": label(p.agent), "game": p.game, "states": g.n_states,
                     "max |dy/dpixel|": g.grad_max, "median over states": g.grad_median,
                     "finite-difference rel. error": g.fd_rel_error,
                     "policy change, shuffled input": g.shuffle_change,
                     "policy change, blank input": g.blank_change,
                     "gate": "passed" if g.passed else "FAILED: " + g.reason})
    return pd.DataFrame(rows)


def _newest(raw: torch.Tensor) -> np.ndarray:
    """The map of the newest input (channel C-1) of ``raw (1, C, 84, 84)`` scaled to [-1, 1]: (84, 84)."""
    return normalize(raw[:, -1:], mode="frame")[0, 0].numpy()


def head_maps(played: list[Played], i: int, cam_layer: str = "conv1") -> list[MapRow]:
    """One row per (agent, head of :func:`heads`) for step ``i``: the newest-frame map of every
    method of :data:`METHOD_NAMES`, explaining that head for the chosen action."""
    rows = []
    for p in played:
        model, obs, screen, action = p.state_at(i)
        layer = cam_module(p.net, cam_layer)
        for head, (target, kwargs) in heads(p.agent, action).items():
            maps = explain_all(model, obs, target, layer, forward_kwargs=kwargs)
            rows.append(MapRow(f"{p.name}\n{head}", screen, {m: _newest(r) for m, r in maps.items()},
                               insensitive=p.insensitive))
    return rows


def head_correlations(played: list[Played], n_states: int, state_every: int, *,
                      per_state: bool = False) -> pd.DataFrame:
    """Spearman correlation of the absolute guided-backprop maps (newest frame) of every pair
    of heads of an agent, over the states :func:`every`: ``mean``, ``std`` and ``count`` by
    (agent, heads); empty when no agent has two heads. ``per_state``: one row per (agent,
    state, heads) with its ``rho`` and the ``log10 size ratio`` of the two maps' total
    magnitude (first head over second) instead (the claims' units)."""
    rows = []
    for p in played:
        for i in every(n_states, state_every):
            model, obs, _, action = p.state_at(i)
            gb = {h: GuidedBackprop(model).attribute(obs, target=t, forward_kwargs=kw)[0, -1].abs().flatten().numpy()
                  for h, (t, kw) in heads(p.agent, action).items()}
            names = list(gb)
            for a in range(len(names)):
                for b in range(a + 1, len(names)):
                    size_a, size_b = gb[names[a]].sum(), gb[names[b]].sum()
                    rows.append({"agent": p.name, "state": i, "heads": f"{names[a].split(':')[0]} vs "
                                 f"{names[b].split(':')[0]}".replace(f" {action}", ""),
                                 "rho": spearmanr(gb[names[a]], gb[names[b]]).statistic,
                                 "log10 size ratio": (float(np.log10(size_a / size_b)) if size_a > 0 and size_b > 0
                                                      else np.nan)})
    table = pd.DataFrame(rows)
    if per_state:
        return table
    return table.groupby(["agent", "heads"])["rho"].agg(["mean", "std", "count"]) if len(table) else table


def layer_maps(played: list[Played], i: int) -> tuple[list[MapRow], pd.DataFrame]:
    """The Grad-CAM family (:data:`COARSE`) at each convolution of :data:`CONVS` for step ``i``:
    one row per agent, columns ``"<method>\\n<conv>"``, and a table (agent x (layer, method))
    of the share of the map above half its maximum over the agents that passed the gate (empty
    without agents)."""
    rows, stats = [], []
    for p in played:
        model, obs, screen, action = p.state_at(i)
        maps = {}
        for conv in CONVS:
            for m in COARSE:
                raw = make_method(m, model, cam_module(p.net, conv)).attribute(obs, target=action)
                maps[f"{m}\n{conv}"] = _newest(raw)
                flat = raw.flatten()
                if not p.insensitive:  # a failing agent's maps are drawn, never counted
                    stats.append({"agent": p.name, "layer": conv, "method": m,
                                  "area above half max": float((flat > 0.5 * flat.max()).float().mean())
                                  if flat.max() > 0 else float("nan")})
        rows.append(MapRow(p.name, screen, maps, insensitive=p.insensitive))
    table = (pd.DataFrame(stats).pivot_table(index="agent", columns=["layer", "method"], values="area above half max")
             if stats else pd.DataFrame())
    return rows, table


def layer_spread(played: list[Played], n_states: int, state_every: int,
                 method: str = "Grad-CAM") -> pd.DataFrame:
    """The spread of ``method``'s map at each convolution of :data:`CONVS`, over the states
    :func:`every`: one row per (agent, state, layer) with the share of the map above half its
    maximum (``area above half max``; NaN for a map that is nowhere positive)."""
    rows = []
    for p in played:
        for i in every(n_states, state_every):
            model, obs, _, action = p.state_at(i)
            for conv in CONVS:
                flat = make_method(method, model, cam_module(p.net, conv)).attribute(obs, target=action).flatten()
                rows.append({"agent": p.name, "state": i, "layer": conv,
                             "area above half max": float((flat > 0.5 * flat.max()).float().mean())
                             if flat.max() > 0 else float("nan")})
    return pd.DataFrame(rows)


def past_frame_saliency(played: list[Played], n_states: int, state_every: int,
                        history: int, *, per_state: bool = False) -> tuple[list[MapRow], pd.DataFrame]:
    """Guided backpropagation of the chosen action with respect to past inputs: each stacked
    frame of a feed-forward agent, the last ``history`` inputs of a recurrent one (unrolled
    from the state it carried; windows with a reset inside are skipped).

    Returns one row per agent (its first measured state; columns ``"t"``, ``"t-1"``, ``"t-2"``,
    ``"t-3"``, ``"t-9"`` where it sees them, all frames scaled together) and the mean share of
    the map's magnitude on each input, agent x lag (empty without agents); ``per_state``: one
    row per (agent, state, lag) with its ``share`` and its ``signed`` share (the map's sum on
    that input over the magnitude on all inputs: > 0 where positive gradients dominate)
    instead (the units of an interval).
    """
    rows, shares = [], []
    for p in played:
        net = p.net
        recurrent = is_recurrent(p.agent)
        span = history if recurrent else net.torso.in_channels
        lags = list(range(span - 1, -1, -1))  # channel c shows lag span-1-c
        for i in every(n_states, state_every, first=max(state_every - 1, span - 1)):
            if recurrent and any(p.states[j] is None for j in range(i - span + 2, i + 1)):
                continue  # a life was lost inside the window: its state was reset there
            if recurrent:
                model = saliency_model(p.agent, net, p.states[i - span + 1], steps=span)
                obs = torch.from_numpy(p.obs[i - span + 1:i + 1, 0][None])  # (1, span, 84, 84)
            else:
                model, obs = net, torch.from_numpy(p.obs[i:i + 1])
            gb = GuidedBackprop(model).attribute(obs, target=int(p.actions[i]))[0]  # (span, 84, 84)
            mags = gb.abs().flatten(1).sum(1)
            signed = gb.flatten(1).sum(1)
            total = mags.sum().item()
            for c in range(span):
                shares.append({"agent": p.name, "state": i, "lag": lags[c],
                               "share": mags[c].item() / total if total > 0 else float("nan"),
                               "signed": signed[c].item() / total if total > 0 else float("nan")})
            if not any(r.label == p.name for r in rows):
                scaled = normalize(gb[None], mode="frame")[0]
                rows.append(MapRow(p.name, p.frames[i], {f"t-{lags[c]}" if lags[c] else "t": scaled[c].numpy()
                                                         for c in range(span) if lags[c] in (0, 1, 2, 3, 9)},
                                   insensitive=p.insensitive))
    if per_state:
        return rows, pd.DataFrame(shares, columns=["agent", "state", "lag", "share", "signed"])
    table = pd.DataFrame(shares).groupby(["agent", "lag"])["share"].mean().unstack("lag") if rows else pd.DataFrame()
    return rows, table


#: Column labels of :func:`attention_maps`' rows: the three attentions, then the streams' saliency.
_ATTENTION_COLUMNS = {"lstm_attention": "attention\nfeeding the LSTM",
                      "value_attention": "attention of\nthe value stream",
                      "advantage_attention": "attention of the\nadvantage stream",
                      "value": "guided backprop\nV(s)", "advantage": "guided backprop\nA(s, chosen action)"}


def has_attention(net: nn.Module) -> bool:
    """Whether ``net`` has the split attention of :data:`ATTENTIONS` (the recurrent attention DQN)."""
    return all(hasattr(net, k) for k in ATTENTIONS)


def _attention_and_saliency(p: Played, i: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The ``(7, 7)`` attention maps of step ``i`` and the ``(84, 84)`` newest-frame guided
    backprop of the value and the advantage stream (of the chosen action)."""
    obs = torch.from_numpy(p.obs[i:i + 1])
    with torch.no_grad():
        _, _, details = p.net(obs, p.states[i], return_details=True)
    att = {k: getattr(details, k)[0] for k in ATTENTIONS}  # (7, 7) each, sums to 1
    model, action = saliency_model(p.agent, p.net, p.states[i]), int(p.actions[i])
    gb = {stream: GuidedBackprop(model).attribute(obs.float(), target=target,
                                                  forward_kwargs={"return_streams": True})[0, -1]
          for stream, target in (("value", value_stream()), ("advantage", advantage_stream(action)))}
    return att, gb


def attention_maps(played: list[Played], i: int | None, n_states: int,
                   state_every: int, *, per_state: bool = False) -> tuple[list[MapRow], pd.DataFrame]:
    """The attention of the agents with split attention (:func:`has_attention`) next to the
    saliency of their streams.

    Returns one row per such agent for step ``i`` (none when ``i`` is None) -- the three
    attentions of :data:`ATTENTIONS` placed on the receptive fields of the conv3 cells
    (:func:`~rlinside.explain.attention.attention_on_input`), relative to uniform attention
    placed the same way (``a / uniform - 1``), scaled by its largest magnitude; then guided
    backprop of the value and the advantage stream (newest frame, scaled to [-1, 1]), under the
    figure's column labels -- and a table, one column per agent, of the means over the states
    :func:`every` of: Spearman correlations between attentions and the stream maps averaged over
    each cell's receptive field (:func:`~rlinside.explain.attention.mean_over_fields`),
    :func:`~rlinside.explain.attention.attention_summary` of each attention, its enrichment on
    the game's objects (of the placed attention; uniform attention's, for reference), the size
    of the conv3 features. ``per_state``: one row per (agent, state) with those statistics as
    columns instead.
    """
    rows, stats = [], []
    for p in played:
        if not has_attention(p.net):
            continue
        net, name = p.net, f"{p.name} ({p.stage})"
        rf = receptive_field(net.torso)
        uniform = attention_on_input(torch.full((7, 7), 1 / 49), rf)  # where uniform attention puts its mass
        if i is not None:  # the gallery's row (None: the statistics only, as for a game shorter than i)
            att, gb = _attention_and_saliency(p, i)
            dev = {k: attention_on_input(a, rf) / uniform - 1 for k, a in att.items()}  # > 0: more than uniform
            maps = {k: (d / d.abs().max()).numpy() for k, d in dev.items()} | {
                k: normalize(g[None, None], mode="frame")[0, 0].numpy() for k, g in gb.items()}
            rows.append(MapRow(name, p.frames[i], {_ATTENTION_COLUMNS[k]: v for k, v in maps.items()},
                               insensitive=p.insensitive))
        for j in every(n_states, state_every):
            att, gb = _attention_and_saliency(p, j)
            pooled = {k: mean_over_fields(g.abs(), rf).flatten().numpy() for k, g in gb.items()}
            with torch.no_grad():
                conv3 = net.features(torch.from_numpy(p.obs[j:j + 1]))  # (1, 49, 64)
            mask = to_observation_grid(np.logical_or.reduce(list(object_masks(p.game, p.frames[j]).values())))
            flat = {k: a.flatten() for k, a in att.items()}
            row = {"agent": name, "state": j,
                   "rho value att vs value saliency": spearmanr(flat["value_attention"], pooled["value"]).statistic,
                   "rho value att vs advantage saliency": spearmanr(flat["value_attention"],
                                                                    pooled["advantage"]).statistic,
                   "rho advantage att vs advantage saliency": spearmanr(flat["advantage_attention"],
                                                                        pooled["advantage"]).statistic,
                   "rho advantage att vs value saliency": spearmanr(flat["advantage_attention"],
                                                                    pooled["value"]).statistic,
                   "rho value att vs advantage att": spearmanr(flat["value_attention"],
                                                               flat["advantage_attention"]).statistic,
                   "rho lstm att vs value att": spearmanr(flat["lstm_attention"], flat["value_attention"]).statistic}
            for k, a in att.items():
                row |= {f"{n} {k.split('_')[0]}": v for n, v in attention_summary(a).items()}
                row[f"enrichment {k.split('_')[0]}"] = object_share(attention_on_input(att[k], rf), mask)[1]
            row["enrichment, uniform attention"] = object_share(uniform, mask)[1]
            row["conv3 features, mean"] = float(conv3.mean())
            row["conv3 features, std over locations"] = float(conv3.std(dim=1).mean())
            stats.append(row)
    if per_state:
        return rows, pd.DataFrame(stats)
    return rows, (pd.DataFrame(stats).drop(columns="state").groupby("agent").mean().T if stats else pd.DataFrame())


def play_games(steps: int, seed: int, n_games: int, per_game: int, state_every: int) -> list[list[Played]]:
    """What every chapter agent met in ``n_games`` evaluation games ``seed``, ``seed`` + 1, ...:
    the first game over ``max(steps, per_game * state_every)`` steps (the page's example states
    come from it), the others over ``per_game * state_every`` steps."""
    if n_games < 1 or per_game < 1:
        raise ValueError(f"n_games and per_game must be >= 1, got {n_games} and {per_game}")
    first = play_most_trained(max(steps, per_game * state_every), seed)
    return [first] + [play_most_trained(per_game * state_every, seed + g) for g in range(1, n_games)]


def distinct_games(games: list[list[Played]]) -> list[list[Played]]:
    """``games`` without the agents' repeated games: an agent's game that :func:`repeats` one of
    its earlier games is left out (its states are the same states, not a new sample)."""
    seen: dict[str, list[np.ndarray]] = {}
    out = []
    for g in games:
        kept = [p for p in g if not repeats(p.frames, seen.get(f"{p.name} ({p.stage})", []))]
        for p in kept:
            seen.setdefault(f"{p.name} ({p.stage})", []).append(p.frames)
        out.append(kept)
    return out


def over_games(fn, games: list[list[Played]], *args, **kwargs) -> pd.DataFrame:
    """``fn(gated agents of one game, *args, **kwargs)`` (a per-state DataFrame) over every
    game, with an ``episode`` column: the states of the agents that passed the gate, each
    agent's repeated games left out (:func:`distinct_games`)."""
    parts = [fn(sensitive(g), *args, **kwargs).assign(episode=k) for k, g in enumerate(distinct_games(games))]
    parts = [t for t in parts if len(t)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def past_frames_over_games(games: list[list[Played]], per_game: int, state_every: int,
                           history: int) -> tuple[list[MapRow], pd.DataFrame, pd.DataFrame]:
    """:func:`past_frame_saliency` over the games of :func:`play_games`: the gallery's rows
    (first game, every agent, a failing one greyed), the per-state shares of the agents that
    passed the gate (``agent, state, lag, share, episode``), and their mean share per (agent,
    lag) with a bootstrap interval over states (:func:`rlinside.claims.interval_table`)."""
    from rlinside.claims import interval_table

    enough = max(per_game, -(-history // state_every) + 1)  # states enough for a recurrent agent's first window
    rows, _ = past_frame_saliency(games[0], enough, state_every, history)
    long = over_games(lambda g: past_frame_saliency(g, per_game, state_every, history, per_state=True)[1], games)
    table = interval_table(long, ["agent", "lag"], "share") if len(long) else pd.DataFrame()
    return rows, long, table


def attention_over_games(games: list[list[Played]], i: int, per_game: int,
                         state_every: int) -> tuple[list[MapRow], pd.DataFrame]:
    """:func:`attention_maps` over the games of :func:`play_games`: the gallery's rows (step
    ``i`` of the first game) and, per (statistic, agent), the mean over the states of every
    game with a bootstrap interval over states (agents that passed the gate only)."""
    from rlinside.claims import interval_table

    rows, _ = attention_maps(games[0], i, 0, state_every, per_state=True)
    # the statistics only: the games after the first are played for per_game * state_every steps,
    # fewer than i when the example state lies past them
    long = over_games(lambda g: attention_maps(g, None, per_game, state_every, per_state=True)[1], games)
    if not len(long):
        return rows, pd.DataFrame()
    stats = long.drop(columns=["state", "episode"]).melt(id_vars="agent", var_name="statistic")
    return rows, interval_table(stats, ["statistic", "agent"], "value")


def frame_sign_values(frame_shares: pd.DataFrame, label: str = "DDDQN ") -> pd.Series:
    """Per state of the agents whose name starts with ``label`` (the feed-forward DDDQNs): the
    signed share of guided backprop on the newest stacked frame minus that on the oldest (from
    :func:`past_frames_over_games`' per-state table): > 0 when the newest frame is the most
    positive and the oldest the most negative, the paper's time-dependent negative gradients."""
    if not len(frame_shares):
        return pd.Series(dtype=float)
    mine = frame_shares[frame_shares["agent"].str.startswith(label)]
    if not len(mine):
        return pd.Series(dtype=float)
    wide = mine.pivot_table(index=["agent", "episode", "state"], columns="lag", values="signed")
    return (wide[wide.columns.min()] - wide[wide.columns.max()]).dropna()


def streams_layers_claims(games: list[list[Played]], per_game: int, state_every: int,
                          profile: str | None, frame_shares: pd.DataFrame | None = None) -> list:
    """The measurements of ``saliency.streams_differ`` (Spearman correlation of the two
    streams' absolute guided-backprop maps, per state of every agent with a value and an
    advantage stream) and ``saliency.deep_gradcam_blurred`` (Grad-CAM's area above half its
    maximum at conv3 minus at conv1, per state of every feed-forward agent), over the states of
    every game of :func:`play_games`, agents that passed the gate only; ``saliency.actor_maps_fainter``
    (per state of every feed-forward actor-critic, the log10 ratio of the actor's guided-backprop map's total
    magnitude to the critic's); and, from the per-state
    past-frame table ``frame_shares``, ``saliency.dddqn_negative_gradients_time_dependent``
    (:func:`frame_sign_values`; no values without it)."""
    from rlinside import claims

    n_games = len(games)
    heads_ = over_games(head_correlations, games, per_game, state_every, per_state=True)
    streams = heads_[heads_["heads"].str.startswith("value stream")] if len(heads_) else heads_
    recurrent = {p.name for g in games for p in g if is_recurrent(p.agent)}
    actor = (heads_[heads_["heads"].str.startswith("actor") & ~heads_["agent"].isin(recurrent)]
             if len(heads_) else heads_)
    ff = over_games(lambda g: layer_spread([p for p in g if not is_recurrent(p.agent)], per_game, state_every),
                     games)
    if len(ff):
        wide = ff.pivot_table(index=["agent", "episode", "state"], columns="layer", values="area above half max")
        deeper = (wide["conv3"] - wide["conv1"]).dropna()
    else:
        deeper = pd.Series(dtype=float)
    scale = {"profile": profile, "states": per_game * n_games, "games": n_games}
    fs = frame_shares if frame_shares is not None else pd.DataFrame()
    sign = frame_sign_values(fs)
    others = ({n: round(float(frame_sign_values(fs, n).mean()), 3) for n in fs["agent"].unique()
               if not n.startswith("DDDQN ") and fs[fs["agent"] == n]["lag"].nunique() > 1} if len(fs) else {})
    return [
        claims.measure("saliency.streams_differ", streams["rho"].dropna().to_numpy() if len(streams) else [],
                       scale=scale | {"agents": int(streams["agent"].nunique()) if len(streams) else 0},
                       details={"by agent": streams.groupby("agent")["rho"].mean().round(3).to_dict()
                                if len(streams) else {}}),
        claims.measure("saliency.deep_gradcam_blurred", deeper.to_numpy(),
                       scale=scale | {"agents": int(ff["agent"].nunique()) if len(ff) else 0},
                       details={"by agent": deeper.groupby(level=0).mean().round(3).to_dict()
                                if len(deeper) else {}}),
        claims.measure("saliency.dddqn_negative_gradients_time_dependent", sign.to_numpy(),
                       scale=scale | {"agents": int(sign.index.get_level_values(0).nunique()) if len(sign) else 0},
                       details={"by agent": sign.groupby(level=0).mean().round(3).to_dict() if len(sign) else {},
                                "other agents, same statistic": others}),
        claims.measure("saliency.actor_maps_fainter", actor["log10 size ratio"].dropna().to_numpy()
                       if len(actor) else [],
                       scale=scale | {"agents": int(actor["agent"].nunique()) if len(actor) else 0},
                       details={"by agent": actor.groupby("agent")["log10 size ratio"].mean().round(3).to_dict()
                                if len(actor) else {}}),
    ]


def attention_gradients(played: list[Played], n_states: int, state_every: int) -> pd.DataFrame:
    """For each agent with split attention: the gradient norm of each part of the network
    (convolutions, the three attentions, the LSTM, the two streams) for the sum of the chosen
    actions' Q-values over the states :func:`every`, and that norm over the part's weight
    norm; indexed by (agent, part), empty without such an agent."""
    rows = []
    for p in played:
        if not has_attention(p.net):
            continue
        net = p.net
        net.zero_grad()
        with torch.enable_grad():
            total = 0.0
            for i in every(n_states, state_every):
                q, _ = net(torch.from_numpy(p.obs[i:i + 1]), p.states[i])
                total = total + q[0, int(p.actions[i])]
            total.backward()
        parts = {"convolutions": net.torso, "attention feeding the LSTM": net.lstm_attention, "LSTM": net.lstm,
                 "value attention": net.value_attention, "advantage attention": net.advantage_attention,
                 "value stream": [net.value_hidden, net.value_out],
                 "advantage stream": [net.advantage_hidden, net.advantage_out]}
        for part, modules in parts.items():
            params = [q for m in (modules if isinstance(modules, list) else [modules]) for q in m.parameters()]
            g = torch.sqrt(sum((q.grad ** 2).sum() for q in params)).item()
            w = torch.sqrt(sum((q.detach() ** 2).sum() for q in params)).item()
            rows.append({"agent": f"{p.name} ({p.stage})", "part": part,
                         "gradient norm": g, "gradient / weight norm": g / w})
        net.zero_grad(set_to_none=True)
    return pd.DataFrame(rows).set_index(["agent", "part"]) if rows else pd.DataFrame()


# --------------------------------------------------------------------------------------------
# Sanity checks (Adebayo et al. 2018) on the feed-forward agents
# --------------------------------------------------------------------------------------------


@dataclass
class SanityAgent:
    """A feed-forward agent and the states it is tested on (:func:`sanity_agents`)."""

    agent: str
    name: str  #: ``"<label> <game>"``
    net: nn.Module
    x: torch.Tensor  #: (N, C, 84, 84) uint8 observations
    frames: np.ndarray  #: (N, 210, 160, 3) uint8 screens of those states
    actions: torch.Tensor  #: (N,) int64, the action the trained network ranks first on each


#: Seeds skipped at most, per game, while looking for an evaluation game that does not repeat an
#: earlier one of the same agent (:func:`repeats`); after that the game is left out.
MAX_REPEATS = 5


def play_distinct(agent: str, net: nn.Module, game: str, steps: int, seed: int, played: list[np.ndarray],
                  **kwargs) -> tuple[int, tuple | None]:
    """``(seed used, play_states(...))`` of the first of evaluation games ``seed, seed + 1, ...``
    that does not :func:`repeat <repeats>` one of the agent's games in ``played`` (its frames
    are appended to ``played``); ``(last seed tried, None)`` when :data:`MAX_REPEATS` + 1 seeds
    in a row all repeat one: the game is left out, never counted twice."""
    from rlinside.agents.zoo import play_states

    for g in range(seed, seed + MAX_REPEATS + 1):
        out = play_states(agent, net, game, steps=steps, seed=g, **kwargs)
        if not repeats(out[1], played):
            played.append(out[1])
            return g, out
    return g, None


def sanity_agents(n_states: int, state_every: int, seed: int = 0, n_games: int = 1) -> list[SanityAgent]:
    """The most trained shipped feed-forward agents (randomizing a recurrent net also changes
    the memory it carried: left out), each with ``n_states`` states spread over ``n_games``
    evaluation games ``seed, seed + 1, ...`` (:func:`every` in each, as equal a share per game
    as ``n_states`` allows; a game that :func:`repeats` an earlier one gives way to the next
    seed, or is left out: :func:`play_distinct`) and its greedy action on them. An agent that fails the sensitivity
    gate on those states (:func:`rlinside.explain.gate.sensitivity_gate`, with 2 states or
    more) is left out."""
    from rlinside.agents.zoo import load_agent

    if isinstance(n_games, bool) or not isinstance(n_games, int) or not 1 <= n_games <= max(n_states, 1):
        raise ValueError(f"n_games must be an int in [1, n_states={n_states}], got {n_games!r}")
    per_game = [n_states // n_games + (g < n_states % n_games) for g in range(n_games)]
    agents = []
    for art in chapter_most_trained():
        agent, game, stage = art.config["agent"], art.config["game"], art.config["stage"]
        if is_recurrent(agent):
            continue
        net, _ = load_agent(agent, game, stage)
        xs, fs, played, g = [], [], [], seed
        for n in per_game:
            g, out = play_distinct(agent, net, game, n * state_every, g, played)
            g += 1
            if out is None:  # every seed tried repeated an earlier game: fewer states, none twice
                continue
            obs, frames, _ = out
            idx = np.arange(state_every - 1, n * state_every, state_every)
            xs.append(obs[idx])
            fs.append(frames[idx])
        x = torch.from_numpy(np.concatenate(xs))
        with torch.no_grad():
            out = net(x.float())
        actions = _first(out).argmax(1)
        if len(x) >= 2 and not sensitivity_gate([(net, x[j:j + 1], int(actions[j])) for j in range(len(x))],
                                                distribution=gate_distribution(agent)).passed:
            continue
        agents.append(SanityAgent(agent, f"{label(agent)} {game}", net, x, np.concatenate(fs), actions))
    return agents


def newest_maps(net: nn.Module, x: torch.Tensor, actions: torch.Tensor,
                cam_layer: str = "conv1") -> dict[str, np.ndarray]:
    """``method -> (N, 84, 84)`` raw maps of the newest frame of ``x (N, C, 84, 84)``, each
    explaining ``actions[i]`` (the Grad-CAM family at ``cam_module(net, cam_layer)``)."""
    maps = explain_all(net, x, actions, cam_module(net, cam_layer))
    return {m: r[:, -1].numpy() for m, r in maps.items()}


def _scaled_first(maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The map of the first state of each method, scaled to [-1, 1]: method -> (84, 84)."""
    return {m: normalize(torch.from_numpy(maps[m][0:1]))[0].numpy() for m in METHOD_NAMES}


#: How cascading randomization re-initializes a layer: ``own`` the agent's own initialization
#: (:func:`own_initialization`), ``default`` PyTorch's ``reset_parameters``.
RANDOMIZATION_INITS = ("own", "default")


def own_initialization(net: nn.Module):
    """A callable building a freshly initialized network of ``net``'s architecture with the
    initialization its family trains from (orthogonal for the A2C networks, PyTorch's default
    for the DDDQN): what cascading randomization re-initializes a layer to."""
    from rlinside.nets.atari import DuelingQNetwork
    from rlinside.nets.recurrent import ActorCritic

    if isinstance(net, ActorCritic):
        return lambda: ActorCritic(net.n_actions, in_channels=net.torso.in_channels, hidden=net.fc.out_features,
                                   lstm_size=net.lstm.hidden_size if net.lstm is not None else 0,
                                   lstm_input_norm=net.lstm_norm is not None)
    if isinstance(net, DuelingQNetwork):
        return lambda: DuelingQNetwork(net.n_actions, in_channels=net.torso.in_channels,
                                       hidden=net.value_hidden.out_features)
    raise ValueError(f"no own initialization known for a {type(net).__name__}; use init='default'")


def _check_init(init: str) -> None:
    if init not in RANDOMIZATION_INITS:
        raise ValueError(f"init must be one of {RANDOMIZATION_INITS}, got {init!r}")


def cascading_study(agents: list[SanityAgent], cam_layer: str = "conv1", randomization_seed: int = 0,
                    init: str = "own") -> tuple[pd.DataFrame, dict[str, list[MapRow]]]:
    """Cascading randomization (:func:`~rlinside.explain.sanity.cascading_randomization`):
    after each re-initialized layer (``init``: :data:`RANDOMIZATION_INITS`), every method's
    map against the trained network's.

    Returns one row per (agent, step, method, state) -- ``spearman``, ``spearman |.|`` and
    ``ssim`` -- and, per agent name, gallery rows of its first state (trained, then after
    randomizing down to conv2 and to conv1), every map scaled to [-1, 1].
    """
    _check_init(init)
    rows, examples = [], {}
    for a in agents:
        original = newest_maps(a.net, a.x, a.actions, cam_layer)
        examples[a.name] = [MapRow("trained", a.frames[0], _scaled_first(original))]
        fresh = own_initialization(a.net) if init == "own" else None
        for k, (layer, randomized) in enumerate(cascading_randomization(a.net, seed=randomization_seed,
                                                                        fresh=fresh), 1):
            maps = newest_maps(randomized, a.x, a.actions, cam_layer)
            if layer.endswith("conv2") or layer.endswith("conv1"):
                examples[a.name].append(MapRow(f"up to {layer}", a.frames[0], _scaled_first(maps)))
            for m in METHOD_NAMES:
                for i in range(len(a.x)):
                    rows.append({"agent": a.name, "step": k, "layer": layer, "method": m,
                                 "spearman": rank_correlation(original[m][i], maps[m][i]),
                                 "spearman |.|": rank_correlation(original[m][i], maps[m][i], absolute=True),
                                 "ssim": ssim(original[m][i], maps[m][i])})
    return pd.DataFrame(rows), examples


def fully_randomized(cascade: pd.DataFrame) -> pd.DataFrame:
    """What is left once every layer is random: mean ``spearman |.|`` and ``ssim`` of the last
    step of :func:`cascading_study`, method x (metric, agent) (empty without agents)."""
    if not len(cascade):
        return pd.DataFrame()
    fully = (cascade[cascade.step == cascade.groupby("agent")["step"].transform("max")]
             .groupby(["method", "agent"])[["spearman |.|", "ssim"]].mean().unstack("agent"))
    return fully.reindex(list(METHOD_NAMES))


def edge_correlation(agents: list[SanityAgent], cam_layer: str = "conv1", randomization_seed: int = 0,
                     init: str = "own") -> pd.DataFrame:
    """Mean Spearman correlation of each absolute map with the Sobel edges of the newest input
    frame, for the trained and the fully randomized network (``init`` as in
    :func:`cascading_study`): method x (agent, network)."""
    _check_init(init)
    rows = []
    for a in agents:
        edges = [np.hypot(ndimage.sobel(f, 0), ndimage.sobel(f, 1)) for f in a.x[:, -1].numpy().astype(np.float64)]
        fresh = own_initialization(a.net) if init == "own" else None
        _, randomized = deque(cascading_randomization(a.net, seed=randomization_seed, fresh=fresh),
                              maxlen=1)[0]  # all layers
        for network, model in (("trained", a.net), ("all layers random", randomized)):
            maps = newest_maps(model, a.x, a.actions, cam_layer)
            for m in METHOD_NAMES:
                rows.append({"agent": a.name, "network": network, "method": m,
                             "rho with edges": nan_mean([rank_correlation(maps[m][i], edges[i], absolute=True)
                                                           for i in range(len(edges))])})
    table = pd.DataFrame(rows)
    return (table.pivot_table(index="method", columns=["agent", "network"], values="rho with edges")
            .reindex(list(METHOD_NAMES)) if len(table) else table)


def perturbation_agreement(agents: list[SanityAgent], cam_layer: str = "conv1",
                           stride: int = 5) -> tuple[pd.DataFrame, list[MapRow]]:
    """Spearman correlation of each method's absolute map with perturbation saliency
    (:func:`~rlinside.explain.sanity.perturbation_saliency`, grid step ``stride``), mean over
    the states: method x agent; and one row per agent with the perturbation map of its first
    state (column ``"perturbation"``, scaled by its maximum)."""
    rows, examples = [], []
    for a in agents:
        maps = newest_maps(a.net, a.x, a.actions, cam_layer)
        for i in range(len(a.x)):
            p = perturbation_saliency(a.net, a.x[i:i + 1], stride=stride)[0, 0].numpy()
            if i == 0:
                examples.append(MapRow(a.name, a.frames[0], {"perturbation": p / p.max() if p.max() > 0 else p}))
            for m in METHOD_NAMES:
                rows.append({"agent": a.name, "method": m,
                             "rho with perturbation": rank_correlation(np.abs(maps[m][i]), p)})
    table = pd.DataFrame(rows)
    return (table.pivot_table(index="method", columns="agent", values="rho with perturbation")
            .reindex(list(METHOD_NAMES)) if len(table) else table), examples


def action_discrimination(agents: list[SanityAgent], cam_layer: str = "conv1", *,
                          per_state: bool = False) -> pd.DataFrame:
    """Mean Spearman correlation of the absolute maps of every pair of actions on the same
    state (1: a method draws the same map whatever action it explains): method x agent.
    ``per_state``: one row per (agent, method, state) with that state's mean over the pairs."""
    rows = []
    for a in agents:
        with torch.no_grad():
            out = a.net(a.x[:1].float())
        n_actions = _first(out).shape[1]
        per_action = [newest_maps(a.net, a.x, torch.full((len(a.x),), k), cam_layer) for k in range(n_actions)]
        for m in METHOD_NAMES:
            for i in range(len(a.x)):
                rhos = [rank_correlation(per_action[p][m][i], per_action[q][m][i], absolute=True)
                        for p in range(n_actions) for q in range(p + 1, n_actions)]
                rows.append({"agent": a.name, "method": m, "state": i, "actions": n_actions,
                             "rho between actions": nan_mean(rhos)})
    table = pd.DataFrame(rows)
    if per_state:
        return table
    if len(table):  # the mean over states of the per-state means: every state has the same pairs
        table = table.groupby(["agent", "method"], as_index=False)["rho between actions"].mean()
    return (table.pivot_table(index="method", columns="agent", values="rho between actions")
            .reindex(list(METHOD_NAMES)) if len(table) else table)


# --------------------------------------------------------------------------------------------
# Early against trained (notebook 03)
# --------------------------------------------------------------------------------------------

#: The training run whose stored measurement notebook 03 reads: (family, game).
MEASURED_RUN = ("a2c", "Breakout")


#: Figures 43-48: the paper's early agent had taken about 250k steps with three actions in four
#: still random. The zoo's Q-learning agents reach epsilon 0.01 at 150k steps, so the early
#: recurrent agent comes from a run of its own with a 1M-step exploration decay (the study
#: variant of :data:`rlinside.agents.zoo.VARIANT_FIELDS`), when it is shipped.
PAPER_EARLY_VARIANT = {("drqn", "Seaquest"): {"epsilon_decay_steps": 1_000_000}}


def exploration_at(art: store.Artifact) -> float | None:
    """The exploration rate epsilon of a Q-learning agent's schedule at its shipped step (None
    for the actor-critics, which sample from their policy)."""
    from rlinside.agents.offpolicy import linear_epsilon

    tc = art.config.get("train_config") or {}
    if "epsilon_decay_steps" not in tc:
        return None
    cfg = type("Schedule", (), {k: tc[k] for k in ("epsilon_start", "epsilon_end", "epsilon_decay_steps")})
    return float(linear_epsilon(cfg, int(art.config["step"])))


def early_final_pairs() -> dict[tuple[str, str], dict[str, store.Artifact]]:
    """``(family, game) -> {"early": artifact, "final": artifact}`` of the shipped agents with
    both checkpoints; the early agent of a pair in :data:`PAPER_EARLY_VARIANT` is that variant's
    when it is shipped (the zoo's early agent otherwise)."""
    pairs: dict[tuple[str, str], dict[str, store.Artifact]] = {}
    for art in chapter_agents():
        c = art.config
        pairs.setdefault((c["agent"], c["game"]), {})[c["stage"]] = art
    for (agent, game), variant in PAPER_EARLY_VARIANT.items():
        found = find_agents(agent, game, "early", **variant)
        if found:
            pairs.setdefault((agent, game), {})["early"] = found[-1]
    return {k: v for k, v in pairs.items() if {"early", "final"} <= set(v)}


def stage_label(art: store.Artifact) -> str:
    """``"early: 250,000 steps, ε 0.75"``: the stage, its step and (Q-learning) exploration rate."""
    eps = exploration_at(art)
    return f"{art.config['stage']}: {art.config['step']:,} steps" + ("" if eps is None else f", ε {eps:.2f}")


@dataclass
class PlayedPair:
    """What the final agent of an early/final pair met (:func:`early_final_gallery`), and the
    memory each network of the pair carried into every step of it (recurrent families)."""

    obs: np.ndarray  #: (T, C, 84, 84) uint8
    frames: np.ndarray  #: (T, 210, 160, 3) uint8
    nets: dict[str, nn.Module]  #: stage -> network
    states: dict[str, list]  #: stage -> the state that network carried into each step (None: fresh)
    gates: dict[str, GateResult] = None  #: stage -> the sensitivity gate of that network on these states


def _pair_gate(agent: str, net: nn.Module, obs: np.ndarray, states: list, n_states: int = GATE_STATES) -> GateResult:
    """:func:`rlinside.explain.gate.sensitivity_gate` of ``net`` over up to ``n_states`` of the
    played states (spread evenly), each explaining the action the network ranks first there."""
    idx = np.unique(np.linspace(0, len(obs) - 1, min(n_states, len(obs))).round().astype(int))
    steps = []
    for i in idx:
        model = _model_at(agent, net, states, [int(i)])
        x = torch.from_numpy(obs[i:i + 1])
        with torch.no_grad():
            steps.append((model, x, int(_first(model(x.float())).argmax(1))))
    return sensitivity_gate(steps, distribution=gate_distribution(agent))


def _model_at(agent: str, net: nn.Module, states: list, idx) -> nn.Module:
    """``net`` for a feed-forward family; for a recurrent one, the network unrolled from the
    states it carried into the steps ``idx`` (a batch, in order)."""
    if not is_recurrent(agent):
        return net
    zero = net.initial_state(1)
    hs = [states[i] if states[i] is not None else zero for i in idx]
    return saliency_model(agent, net, (torch.cat([h for h, _ in hs]), torch.cat([c for _, c in hs])))


def early_final_gallery(
    pairs: dict[tuple[str, str], dict[str, store.Artifact]], i: int, steps: int, seed: int = 0,
) -> tuple[list[MapRow], dict[tuple[str, str], PlayedPair]]:
    """The final agent of each pair plays ``steps`` steps of evaluation game ``seed``; on its
    step ``i`` the early and the final network each explain the action they rank first, a
    recurrent network from the memory it built over the same game
    (:func:`rlinside.agents.zoo.replay_states`).

    Returns two rows per pair (early, final; columns :data:`METHOD_NAMES`, newest frame, each
    map scaled to [-1, 1]) and the :class:`PlayedPair` of each pair, for
    :func:`early_final_enrichment`.
    """
    from rlinside.agents import shipped
    from rlinside.agents.zoo import play_states, replay_states

    rows, played = [], {}
    for (agent, game), stages in pairs.items():
        nets = {stage: shipped.load_net(agent, stages[stage])[0] for stage in ("early", "final")}
        obs, frames, _, carried = play_states(agent, nets["final"], game, steps=steps, seed=seed, return_states=True)
        resets = [c is None for c in carried]
        states = {"final": carried, "early": replay_states(agent, nets["early"], obs, resets)}
        gates = {stage: _pair_gate(agent, nets[stage], obs, states[stage]) if len(obs) >= 2 else None
                 for stage in ("early", "final")}
        played[(agent, game)] = PlayedPair(obs, frames, nets, states, gates)
        x = torch.from_numpy(obs[i:i + 1])
        for stage in ("early", "final"):
            model = _model_at(agent, nets[stage], states[stage], [i])
            with torch.no_grad():
                action = int(_first(model(x.float())).argmax(1))
            maps = explain_all(model, x, action, cam_module(nets[stage], "conv1"))
            rows.append(MapRow(f"{label(agent)} {game}\n{stage_label(stages[stage])}", frames[i],
                               {m: _newest(r) for m, r in maps.items()},
                               insensitive=gates[stage] is not None and not gates[stage].passed))
    return rows, played


def early_final_enrichment(
    pairs: dict[tuple[str, str], dict[str, store.Artifact]],
    played: dict[tuple[str, str], PlayedPair],
    n_states: int,
    state_every: int,
) -> pd.DataFrame:
    """Mean enrichment on all the game's objects (:func:`object_saliency`) over the states
    :func:`every` of each played game, for the early and the final network: rows (agent,
    method), columns ``early``, ``final`` (empty without pairs). A network that failed the
    sensitivity gate on these states is left out (its column NaN for that agent)."""
    tables = []
    for (agent, game), pp in played.items():
        idx = np.arange(state_every - 1, n_states * state_every, state_every)
        idx = idx[idx < len(pp.obs)]
        for stage in ("early", "final"):
            gate = (pp.gates or {}).get(stage)
            if gate is not None and not gate.passed:
                continue
            model = _model_at(agent, pp.nets[stage], pp.states[stage], idx)
            t = object_saliency(model, game, pp.obs[idx], pp.frames[idx], cam_net=pp.nets[stage])
            t.insert(0, "stage", stage)
            t.insert(0, "agent", f"{label(agent)} {game}")
            tables.append(t)
    if not tables:
        return pd.DataFrame()
    zoo = pd.concat(tables, ignore_index=True)
    summary = (zoo[zoo.object == "all"].groupby(["agent", "method", "stage"])["enrichment"].mean()
               .unstack("stage").reindex(columns=["early", "final"]))
    agents = sorted(f"{label(a)} {g}" for a, g in played)
    return summary.reindex(pd.MultiIndex.from_product([agents, METHOD_NAMES], names=["agent", "method"]))


def rise_step(curve: pd.Series, fraction: float = 0.5) -> float:
    """The first index (step) from which ``curve`` stays at least ``fraction`` of the way from
    its first to its last value (NaN values dropped; NaN for fewer than two values or no
    change). ``fraction`` 0.5 is the *half-rise step*; a small one (0.25) the step at which the
    curve first departs from its starting value for good."""
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    curve = curve.dropna()
    if len(curve) < 2:
        return np.nan
    start, end = curve.iloc[0], curve.iloc[-1]
    if end == start:
        return np.nan
    beyond = ((curve - start) * np.sign(end - start) >= fraction * abs(end - start)).to_numpy()
    below = np.flatnonzero(~beyond)  # the curve is beyond the mark from the step after its last miss
    first = 0 if not len(below) else below[-1] + 1
    return int(curve.index[first]) if first < len(curve) else np.nan


def half_rise_step(curve: pd.Series) -> float:
    """:func:`rise_step` at one half."""
    return rise_step(curve, 0.5)


def _return_windows(returns: pd.DataFrame, steps, window: int) -> dict[int, np.ndarray]:
    """Per snapshot step: the full-game returns of the last ``window`` training games finished by it."""
    out = {}
    for step in steps:
        done = returns[returns["step"] <= step]["return"].to_numpy(dtype=float)[-window:]
        if len(done):
            out[int(step)] = done
    return out


def departure_steps(table: pd.DataFrame, returns: pd.DataFrame | None, *, fraction: float = 0.25,
                    window: int = 100, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """When each curve of one run's over-training measurement leaves its untrained value.

    ``table`` is a stored measurement (:func:`measure_run`; the enrichment on all objects per
    state and snapshot), ``returns`` the run's training games (columns ``step``, ``return``;
    None: only the mean return stored with the table, without an interval). For each method
    the curve is the mean enrichment over the states, and for the training return the mean of
    the last ``window`` games before each snapshot; its :func:`rise_step` at ``fraction`` is the
    step. The interval (95 %) comes from a bootstrap: the states resampled (the same states
    for every snapshot, which all explain them) and, independently, the games of each window.

    Returns rows (methods of the table, then ``training return``) with ``step``, ``low``,
    ``high``, the curve's ``change`` from its first to its last snapshot and whether it
    ``moved`` (the 95 % interval of that change excludes 0; None where the draws cannot tell),
    and the bootstrap draws of the step (column ``draws``, for ratios)."""
    rng = np.random.default_rng(seed)
    enr = table[table.object == "all"].pivot_table(index="state", columns=["method", "step"], values="enrichment")
    steps = sorted(int(s) for s in table.step.unique())
    methods = [m for m in METHOD_NAMES if m in enr.columns.get_level_values(0)]
    n_states = len(enr)
    picks = [np.arange(n_states)] + [rng.integers(0, n_states, n_states) for _ in range(n_boot)]
    rows, changes = {}, {}
    for m in methods:
        values = enr[m].reindex(columns=steps).to_numpy()  # (states, snapshots)
        curves = [np.nanmean(values[idx], axis=0) for idx in picks]
        rows[m] = [rise_step(pd.Series(c, index=steps), fraction) for c in curves]
        changes[m] = [c[-1] - c[0] for c in curves]
    if returns is not None:
        windows = _return_windows(returns, steps, window)
        draws, change = [], []
        for b in range(n_boot + 1):
            means = pd.Series({s: (w.mean() if b == 0 else rng.choice(w, len(w)).mean()) for s, w in windows.items()},
                              dtype=float)
            draws.append(rise_step(means, fraction))
            change.append(means.iloc[-1] - means.iloc[0] if len(means) > 1 else np.nan)
        rows["training return"], changes["training return"] = draws, change
    else:
        ret = table.groupby("step")["train_return"].first()
        rows["training return"] = [rise_step(ret, fraction)] + [np.nan] * n_boot
        changes["training return"] = [np.nan] * (n_boot + 1)
    out = []
    for name, draws in rows.items():
        d = np.asarray(draws[1:], dtype=float)
        finite = d[np.isfinite(d)]
        lo, hi = ((np.quantile(finite, 0.025, method="lower"), np.quantile(finite, 0.975, method="higher"))
                  if len(finite) > n_boot // 2 else (np.nan, np.nan))  # snapshot steps, not between them
        c = np.asarray(changes[name], dtype=float)
        c_lo, c_hi = (np.quantile(c[1:], [0.025, 0.975]) if np.isfinite(c[1:]).all() else (np.nan, np.nan))
        moved = bool(c_lo > 0 or c_hi < 0) if np.isfinite(c_lo) else None
        out.append({"curve": name, "step": draws[0], "low": lo, "high": hi, "change": c[0],
                    "moved": moved, "draws": d})
    return pd.DataFrame(out).set_index("curve")


def learning_first_ratio(departures: pd.DataFrame, method: str = "G1Grad-CAM") -> dict[str, float]:
    """The training return's departure step over ``method``'s (above 1: the map leaves its
    untrained value first), with a 95 % interval from the paired bootstrap draws of
    :func:`departure_steps`. Rules: a run whose return has not clearly changed by its last
    snapshot (``moved`` not True: the interval of the change includes 0, or no games stored to
    tell) has no ratio (NaN: nothing to be early against); a map whose curve has not clearly
    risen (moved upwards: more of the map on the objects) while the return has shows no
    learning: its ratio is 0. A map that moves down is not learning the objects first."""
    ret, m = departures.loc["training return"], departures.loc[method]

    def flag(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v)

    ret_moved, map_moved = flag(ret["moved"]), flag(m["moved"])
    if ret_moved is not True:
        rule = "the return did not change" if ret_moved is False else "no games stored: the return's change not tested"
        return {"ratio": np.nan, "low": np.nan, "high": np.nan, "rule": rule}
    if not (map_moved and m["change"] > 0):
        return {"ratio": 0.0, "low": 0.0, "high": 0.0,
                "rule": "the map did not move" if not map_moved else "the map moved down"}
    ratio = ret["step"] / m["step"] if m["step"] and np.isfinite(m["step"]) else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = ret["draws"] / m["draws"]
    draws = draws[np.isfinite(draws)]
    lo, hi = np.quantile(draws, [0.025, 0.975]) if len(draws) > len(m["draws"]) // 2 else (np.nan, np.nan)
    return {"ratio": float(ratio), "low": float(lo), "high": float(hi), "rule": "departure steps"}


@dataclass
class TrainingCurves:
    """The stored over-training measurement of one run, as curves (:func:`training_curves`)."""

    art: store.Artifact
    enrichment: pd.DataFrame  #: (snapshots, methods) mean enrichment on all objects, indexed by step
    methods: list[str]  #: the methods of :data:`METHOD_NAMES` the measurement holds
    train_return: pd.Series  #: (snapshots,) training return at each step
    random_return: float  #: mean score of a random policy over 10 evaluation games
    departures: pd.DataFrame  #: per method and for the return: departure step with its interval
    half_rise: pd.DataFrame  #: the same at one half (the alternative the page shows beside it)

    @property
    def name(self) -> str:
        c = self.art.config
        return f"{label(c['agent'])} {c['game']} ({c['run']})"

    @property
    def family(self) -> str:
        """The agent family's name as the book writes it (:func:`label`)."""
        return label(self.art.config["agent"])

    def ratio(self, method: str = "G1Grad-CAM") -> dict[str, float]:
        """:func:`learning_first_ratio` of this run."""
        return learning_first_ratio(self.departures, method)


def training_returns(art: store.Artifact) -> pd.DataFrame | None:
    """The training games (``step``, ``return``) stored with a measurement, or None (older
    measurements kept only the mean return at each snapshot)."""
    if "train_returns.csv" not in art.manifest.get("files", {}):
        return None
    return pd.read_csv(art.file("train_returns.csv"))


def training_curves(agent: str | None = None, game: str | None = None, *, fraction: float = 0.25,
                    n_boot: int = 1000) -> list[TrainingCurves]:
    """Curves of every stored over-training measurement (of ``agent`` on ``game`` when given),
    one per run, with the :func:`departure_steps` of each at ``fraction`` and at one half."""
    from rlinside.agents.zoo import random_scores

    out, randoms = [], {}
    filters = {k: v for k, v in (("agent", agent), ("game", game)) if v is not None}
    for art in store.find(ARTIFACT_KIND, ARTIFACT_VERSION, **filters):
        run = pd.read_csv(art.file("object_saliency.csv"))
        per_step = (run[run.object == "all"].groupby(["step", "method"])["enrichment"].mean().unstack("method"))
        stored = [m for m in METHOD_NAMES if m in per_step.columns]
        ret = run.groupby("step")["train_return"].first()
        g = art.config["game"]
        if g not in randoms:
            randoms[g] = float(np.mean(random_scores(g, 10, seed=0)))
        games = training_returns(art)
        dep = departure_steps(run, games, fraction=fraction, n_boot=n_boot)
        half = departure_steps(run, games, fraction=0.5, n_boot=n_boot)
        out.append(TrainingCurves(art, per_step[stored], stored, ret, randoms[g], dep, half))
    return sorted(out, key=lambda c: (c.art.config["agent"], c.art.config["run"]))


# --------------------------------------------------------------------------------------------
# The zoo (notebook 00) and the methods gallery (notebook 01)
# --------------------------------------------------------------------------------------------


def zoo_status(shipped: list[store.Artifact]) -> pd.DataFrame:
    """One row per agent of :data:`PAPER_TABLE`: the step of its shipped early and final
    checkpoints (or "not shipped yet") and the command that trains it."""
    status = []
    for agent, game in PAPER_TABLE:
        arts = [a for a in shipped if a.config["agent"] == agent and a.config["game"] == game]
        stages = {a.config["stage"]: a for a in arts}
        status.append({
            "agent": label(agent), "game": game,
            "early": f"step {stages['early'].config['step']:,}" if "early" in stages else "not shipped yet",
            "final": f"step {stages['final'].config['step']:,}" if "final" in stages else "not shipped yet",
            "train with": f"scripts/train_atari.py --game {game} {registry.get(agent).train_command}",
        })
    return pd.DataFrame(status)


def checkpoint_label(art: store.Artifact) -> str:
    """The family's label, with " (early only)" for an agent whose final checkpoint is not shipped."""
    name = label(art.config["agent"])
    return name if art.config["stage"] == "final" else f"{name} (early only)"


@dataclass
class LearningCurve:
    """One agent's training log, smoothed (:func:`learning_curves`)."""

    agent: str
    label: str  #: :func:`checkpoint_label`
    order: int  #: position of the family among the zoo's (for a colour that stays with it)
    step: np.ndarray  #: (G,) agent step at the end of each training game
    score: pd.Series  #: (G,) mean score of the last ``smoothing`` games
    early_steps: list[int]  #: steps of the family's shipped early checkpoints on that game


def learning_curves(finals: list[store.Artifact], shipped: list[store.Artifact],
                    smoothing: int) -> dict[str, list[LearningCurve]]:
    """``game -> curves`` (games sorted) of the agents ``finals`` from their ``metrics.csv``
    (agents without a log left out), each a rolling mean over ``smoothing`` games."""
    from rlinside.agents.zoo import read_metrics

    order = [k.name for k in registry.kinds("atari")]
    out: dict[str, list[LearningCurve]] = {}
    for game in sorted({a.config["game"] for a in finals}):
        out[game] = []
        for art in (a for a in finals if a.config["game"] == game):
            cols = read_metrics(art.file("metrics.csv"))
            if not cols:
                continue
            ret = pd.Series(cols["return"]).rolling(smoothing, min_periods=1).mean()
            early = [a.config["step"] for a in shipped if a.config["stage"] == "early"
                     and a.config["agent"] == art.config["agent"] and a.config["game"] == game]
            out[game].append(LearningCurve(art.config["agent"], checkpoint_label(art), order.index(art.config["agent"]),
                                           cols["step"], ret, early))
    return out


@dataclass
class Filmstrip:
    """Frames of one agent playing (:func:`filmstrips`)."""

    art: store.Artifact
    steps: list[int]  #: (F,) 0-based agent step of each frame
    frames: list[np.ndarray]  #: (F,) (210, 160, 3) uint8 screens after those steps
    scores: list[float]  #: (F,) running game score after those steps


def filmstrips(finals: list[store.Artifact], n_frames: int, every: int, seed: int = 0) -> list[Filmstrip]:
    """Each agent of ``finals`` plays evaluation game ``seed``; every ``every``-th of its first
    ``n_frames * every`` screens."""
    from rlinside.agents.zoo import load_agent, play_frames

    out = []
    for art in finals:
        agent, game = art.config["agent"], art.config["game"]
        net, _ = load_agent(agent, game, art.config["stage"])
        frames, scores, _ = play_frames(agent, net, game, steps=n_frames * every, seed=seed)
        steps = [(j + 1) * every - 1 for j in range(n_frames)]
        out.append(Filmstrip(art, steps, [frames[t] for t in steps], [scores[t] for t in steps]))
    return out


@dataclass
class ExplainedState:
    """One agent's state explained by every method (:func:`explain_shipped`)."""

    art: store.Artifact
    net: nn.Module
    model: nn.Module  #: what the methods differentiate (:func:`saliency_model`)
    obs: torch.Tensor  #: (1, C, 84, 84) uint8
    screen: np.ndarray  #: (210, 160, 3) uint8
    action: int  #: the action the agent chose
    maps: dict[str, tuple[torch.Tensor, torch.Tensor]]  #: method -> (raw, scaled to [-1, 1]), (1, C', 84, 84)

    @property
    def agent(self) -> str:
        """The family's name (registry id)."""
        return self.art.config["agent"]


def explain_state(model: nn.Module, net: nn.Module, obs: torch.Tensor, target: Any, cam_layer: str = "conv1",
                  forward_kwargs: dict | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """All methods' maps of one observation ``(1, C, 84, 84)``: method -> (raw ``(1, C', 84,
    84)``, the same scaled to [-1, 1]); the Grad-CAM family at ``cam_module(net, cam_layer)``."""
    raw = explain_all(model, obs, target, cam_module(net, cam_layer), forward_kwargs=forward_kwargs)
    return {name: (r, normalize(r, mode="frame")) for name, r in raw.items()}


def explain_shipped(warmup_steps: int, seed: int = 0, cam_layer: str = "conv1") -> list[ExplainedState]:
    """Every shipped agent (:func:`rlinside.agents.zoo.find_agents`) plays ``warmup_steps``
    decisions of evaluation game ``seed``; its last state is explained for the action it chose
    (a recurrent agent from the state it carried into that step)."""
    from rlinside.agents.zoo import load_agent, play_states

    states = []
    for art in chapter_agents():
        agent, game, stage = art.config["agent"], art.config["game"], art.config["stage"]
        net, _ = load_agent(agent, game, stage)
        observations, screens, actions, carried = play_states(agent, net, game, steps=warmup_steps, seed=seed,
                                                              return_states=True)
        model = saliency_model(agent, net, carried[-1]) if is_recurrent(agent) else net
        obs = torch.from_numpy(observations[-1:])
        states.append(ExplainedState(art, net, model, obs, screens[-1], int(actions[-1]),
                                     explain_state(model, net, obs, int(actions[-1]), cam_layer)))
    return states


def map_statistics(states: list[ExplainedState]) -> pd.DataFrame:
    """One row per (agent, method): the ``positive mass`` (share of the raw map's magnitude that
    is positive, over all frames) and ``max |value|`` of the raw map."""
    stats = []
    for s in states:
        for name, (raw, _) in s.maps.items():
            mags = raw.abs().sum().item()
            stats.append({"agent": label(s.agent), "game": s.art.config["game"],
                          "stage": s.art.config["stage"], "method": name,
                          "positive mass": raw.clamp(min=0).sum().item() / mags if mags > 0 else float("nan"),
                          "max |value|": raw.abs().max().item()})
    return pd.DataFrame(stats)


def has_streams(agent: str) -> bool:
    """Whether ``agent`` is a feed-forward family with dueling value and advantage streams."""
    kind = registry.get(agent)
    return not kind.recurrent and {"value_stream", "advantage_stream"} <= set(kind.heads)


def stream_maps(s: ExplainedState, cam_layer: str = "conv1") -> dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """``"value stream V(s)"`` and ``"advantage stream A(s, <action>)"`` -> :func:`explain_state`
    of that stream of a feed-forward dueling agent (:func:`has_streams`), same state."""
    targets = {"value stream V(s)": value_stream(), f"advantage stream A(s, {s.action})": advantage_stream(s.action)}
    return {k: explain_state(s.net, s.net, s.obs, t, cam_layer, {"return_streams": True}) for k, t in targets.items()}


# --------------------------------------------------------------------------------------------
# Grad-CAM: the standard post-ReLU layer against the pre-ReLU variant
# --------------------------------------------------------------------------------------------

#: The Grad-CAM-family methods, whose maps depend on which side of the ReLU the layer is read.
CAM_FAMILY = ("Grad-CAM", "G1Grad-CAM", "Guided Grad-CAM", "G2Grad-CAM")


def cam_variants(played: list[Played], n_states: int, state_every: int, conv: str = "conv1",
                 example_step: int | None = None) -> tuple[list[MapRow], pd.DataFrame]:
    """The Grad-CAM family read after ``conv``'s ReLU (standard) and before it (variant).

    Over the states :func:`every` of each agent that passes the gate: per (agent, method), the
    median Spearman correlation of the two variants' absolute newest-frame maps and the share
    of states on which each variant's map is empty (all zero). Returns gallery rows (one per
    agent, for step ``example_step``, default the first measured step: the four methods, post
    then pre) and the table."""
    if conv not in CONVS:
        raise ValueError(f"conv must be one of {CONVS}, got {conv!r}")
    steps = list(every(n_states, state_every))
    first = steps[0] if example_step is None else example_step
    rows, stats = [], []
    for p in played:
        for i in ([first] if p.insensitive else sorted({first, *steps})):
            model, obs, screen, action = p.state_at(i)
            maps = {}
            for side, name in (("post-ReLU", conv), ("pre-ReLU", f"{conv}:pre")):
                layer = cam_module(p.net, name)
                maps[side] = {m: make_method(m, model, layer).attribute(obs, target=action)[0, -1].numpy()
                              for m in CAM_FAMILY}
            if i == first:
                rows.append(MapRow(p.name, screen, {f"{m}\n{side}": normalize(torch.from_numpy(maps[side][m])[None])[0]
                                                    .numpy() for side in maps for m in CAM_FAMILY},
                                   insensitive=p.insensitive))
            if p.insensitive or i not in steps:
                continue
            for m in CAM_FAMILY:
                a, b = np.abs(maps["post-ReLU"][m]).ravel(), np.abs(maps["pre-ReLU"][m]).ravel()
                rho = spearmanr(a, b).statistic if a.std() > 0 and b.std() > 0 else float("nan")
                stats.append({"agent": p.name, "method": m, "state": i, "rho": rho,
                              "post empty": float(a.max() == 0), "pre empty": float(b.max() == 0)})
    table = pd.DataFrame(stats)
    if len(table):
        table = (table.groupby(["agent", "method"], sort=False)
                 .agg(states=("state", "size"), rho_median=("rho", "median"),
                      post_empty=("post empty", "mean"), pre_empty=("pre empty", "mean"))
                 .rename(columns={"rho_median": "Spearman post vs pre (median)",
                                  "post_empty": "empty maps, post-ReLU", "pre_empty": "empty maps, pre-ReLU"})
                 .reset_index())
    return rows, table


def zoo_gates(artifacts: list, steps: int, seed: int = 0) -> pd.DataFrame:
    """The sensitivity gate of every shipped agent in ``artifacts`` (early and final): each
    plays ``steps`` agent steps of evaluation game ``seed`` and the gate reads up to
    :data:`GATE_STATES` of them (:func:`agent_gate`). One row per agent (:func:`gate_rows`)."""
    from rlinside.agents.shipped import load_net
    from rlinside.agents.zoo import play_states

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2 (the gate compares states), got {steps!r}")
    played = []
    for art in artifacts:
        agent, game = art.config["agent"], art.config["game"]
        net, _ = load_net(agent, art)
        obs, frames, actions, states = play_states(agent, net, game, steps=steps, seed=seed, return_states=True)
        p = Played(art, net, obs, frames, actions, states)
        p.gate = agent_gate(p)
        played.append(p)
    table = gate_rows(played)
    if len(table):
        table.insert(1, "stage", [f"{a.config['stage']}, {a.config['step']:,} steps" for a in artifacts])
    return table


# --------------------------------------------------------------------------------------------
# Faithfulness: deletion and insertion curves
# --------------------------------------------------------------------------------------------

#: The orders compared besides the six methods: Greydanus et al.'s perturbation saliency and
#: a random order (the baseline any map has to beat).
PERTURBATION, RANDOM_ORDER = "Perturbation (Greydanus)", "Random order"


def faithfulness(agents: list[SanityAgent], *, steps: int = 20, n_random: int = 3, cam_layer: str = "conv1",
                 perturbation_stride: int = 5, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deletion and insertion curves (:mod:`rlinside.explain.faithfulness`) of every method of
    :data:`METHOD_NAMES`, of perturbation saliency and of ``n_random`` random orders (averaged),
    on every state of every agent, explaining the action the agent ranks first (its Q-value
    or logit), with a blurred-frame baseline.

    Returns ``(areas, curves)``: one row per (agent, method, state) with the four areas of
    :meth:`~rlinside.explain.faithfulness.Curves.areas`, and one row per (agent, method,
    fraction) with the mean deletion and insertion curves over the states."""
    from rlinside.explain.faithfulness import deletion_insertion, random_order, salience_order

    areas, curves = [], []
    for a in agents:
        size = tuple(a.x.shape[-2:])
        maps = explain_all(a.net, a.x, a.actions, cam_module(a.net, cam_layer))
        for i in range(len(a.x)):
            obs, action = a.x[i:i + 1], int(a.actions[i])
            orders = {m: [salience_order(r[i], size)] for m, r in maps.items()}
            orders[PERTURBATION] = [salience_order(perturbation_saliency(a.net, obs, stride=perturbation_stride)[0],
                                                   size)]
            orders[RANDOM_ORDER] = [random_order(size, seed * 100_003 + 1000 * i + k) for k in range(n_random)]
            for m, os in orders.items():
                runs = [deletion_insertion(a.net, obs, o, action, steps=steps) for o in os]
                row = {"agent": a.name, "method": m, "state": i}
                for key in runs[0].areas():
                    row[key] = float(np.mean([r.areas()[key] for r in runs]))
                areas.append(row)
                for k, f in enumerate(runs[0].fractions):
                    curves.append({"agent": a.name, "method": m, "state": i, "fraction": f,
                                   "deletion": float(np.mean([r.deletion[k] for r in runs])),
                                   "insertion": float(np.mean([r.insertion[k] for r in runs]))})
    curve_table = pd.DataFrame(curves)
    if len(curve_table):
        curve_table = curve_table.groupby(["agent", "method", "fraction"], sort=False)[["deletion", "insertion"]] \
            .mean().reset_index()
    return pd.DataFrame(areas), curve_table


def faithfulness_summary(areas: pd.DataFrame) -> pd.DataFrame:
    """Per method, pooled over agents and states: the mean of each area with its bootstrap
    interval (:func:`rlinside.claims.bootstrap_ci`), and the mean paired difference from the
    random order on the same state (deletion: below 0 is better than random; insertion: above
    0), with its interval. Empty without rows."""
    from rlinside.claims import bootstrap_ci

    if not len(areas):
        return pd.DataFrame()
    rand = areas[areas.method == RANDOM_ORDER].set_index(["agent", "state"])
    rows = []
    for m, sub in areas.groupby("method", sort=False):
        row = {"method": m, "states": len(sub)}
        for key in ("deletion", "insertion"):
            v = sub[key].to_numpy(dtype=float)
            lo, hi = bootstrap_ci(v)
            row[f"{key} AUC"] = f"{nan_mean(v):.3f} [{lo:.3f}, {hi:.3f}]"
            d = (sub.set_index(["agent", "state"])[key] - rand[key]).to_numpy(dtype=float)
            lo, hi = bootstrap_ci(d)
            row[f"{key} vs random"] = f"{nan_mean(d):+.3f} [{lo:+.3f}, {hi:+.3f}]"
        row["deletion AUC, action kept"] = float(sub["deletion, action kept"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Videos (notebook 04): every step of a played game explained, and what the maps do over time
# --------------------------------------------------------------------------------------------


def explain_steps(agent: str, net: nn.Module, obs: np.ndarray, carried: list, actions: np.ndarray, *,
                  cam_layer: str = "conv1", batch: int = 50) -> dict[str, torch.Tensor]:
    """Newest-frame maps of every step of a played game, ``method -> (T, 84, 84)``: each step
    explains the action chosen there, a recurrent agent from the memory it carried into it."""
    layer = cam_module(net, cam_layer)
    out = {m: [] for m in METHOD_NAMES}
    for start in range(0, len(obs), batch):
        sl = slice(start, start + batch)
        x = torch.from_numpy(obs[sl])
        if is_recurrent(agent):  # each state from its own carried memory, in one batch
            zero = net.initial_state(1)
            hs = [s if s is not None else zero for s in carried[sl]]
            model = saliency_model(agent, net, (torch.cat([h for h, _ in hs]), torch.cat([c for _, c in hs])))
        else:
            model = net
        for m, r in explain_all(model, x, torch.from_numpy(actions[sl]), layer).items():
            out[m].append(r[:, -1])
    return {m: torch.cat(v) for m, v in out.items()}


def step_statistics(game: str, frames: np.ndarray, maps: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Per method, per step of a video: ``enrichment`` of the map on the game's objects (NaN for
    an empty map or a screen without objects), ``on objects`` (1 where the enrichment is at
    least 2; an empty map counts as 0) and ``consecutive rho`` (Spearman correlation of the
    absolute maps of this step and the next; NaN where either is empty). Seaquest adds
    ``enrichment, oxygen and divers``: the enrichment on the oxygen bar and the divers in the sea
    (NaN on a screen with neither; 0 for an empty map, which shows neither)."""
    from rlinside.explain.sanity import temporal_stability

    per_frame = [object_masks(game, f) for f in frames]
    masks = [to_observation_grid(np.logical_or.reduce(list(o.values()))) for o in per_frame]
    oxygen_divers = ([to_observation_grid(o["oxygen"] | o["divers"]) for o in per_frame] if game == "Seaquest"
                     else None)
    out = {}
    for m, mp in maps.items():
        enrich = np.array([object_share(mp[t], masks[t])[1] for t in range(len(frames))])
        out[m] = {"enrichment": enrich,
                  "on objects": np.where(np.isfinite(enrich), enrich >= 2, False).astype(np.float64),
                  "consecutive rho": np.asarray(temporal_stability(mp), dtype=np.float64)}
        if oxygen_divers is not None:  # an empty map shows nothing of them: 0, as for "on objects"
            out[m]["enrichment, oxygen and divers"] = np.array(
                [(object_share(mp[t], oxygen_divers[t])[1] if np.abs(np.asarray(mp[t])).sum() > 0 else 0.0)
                 if oxygen_divers[t].any() else np.nan for t in range(len(frames))])
    return out


def sanity_claims(cascade: pd.DataFrame, disc_states: pd.DataFrame, *, n_states: int, n_agents: int,
                  profile: str | None, randomization_init: str, randomization_seed: int) -> list:
    """The measurements of notebook 05's claims: ``saliency.randomization_changes_gbp`` (per
    state, the Spearman correlation of guided backprop's absolute map on the trained network
    with its map once every layer is re-initialized, from :func:`cascading_study`) and
    ``saliency.g1gradcam_ignores_action`` (per state, G1Grad-CAM's mean correlation between the
    maps of different actions, from :func:`action_discrimination` with ``per_state``)."""
    from rlinside import claims

    scale = {"profile": profile, "states": n_states, "agents": n_agents}
    if len(cascade):
        last = cascade[(cascade.step == cascade.groupby("agent")["step"].transform("max"))
                       & (cascade.method == "Guided Backprop")]
        survive = last["spearman |.|"].dropna().to_numpy()
    else:
        survive = []
    g1 = (disc_states[disc_states.method == "G1Grad-CAM"]["rho between actions"].dropna().to_numpy()
          if len(disc_states) else [])
    return [claims.measure("saliency.randomization_changes_gbp", survive, scale=scale,
                           details={"init": randomization_init, "randomization_seed": randomization_seed}),
            claims.measure("saliency.g1gradcam_ignores_action", g1, scale=scale)]


@dataclass
class VideoStudy:
    """What notebook 04 measured: per agent (``"<label> <game> (<stage>)"``) its video's frames
    and maps, its family, its sensitivity gate, and per (agent, method) the per-step statistics
    of :func:`step_statistics` over ``n_games`` distinct games (``per_game`` steps of each)."""

    videos: dict[str, tuple[np.ndarray, dict[str, torch.Tensor]]]
    families: dict[str, str]
    gates: dict[str, GateResult]
    stats: dict[tuple[str, str], dict[str, np.ndarray]]
    stability: pd.DataFrame
    per_game: int
    n_games: int
    #: per agent, the evaluation games (seeds) its statistics come from: ``seed, seed + 1, ...``
    #: except where a game repeated an earlier one (:func:`repeats`): the next seed replaced it,
    #: or, after :data:`MAX_REPEATS` repeats in a row, the game was left out (fewer seeds)
    seeds: dict[str, list[int]] = field(default_factory=dict)

    def statistic(self, key: str) -> dict[tuple[str, str], np.ndarray]:
        """``(agent, method) -> `` the per-step statistic ``key`` (``enrichment``, ``on objects``;
        ``enrichment, oxygen and divers`` for the Seaquest agents only)."""
        return {k: v[key] for k, v in self.stats.items() if key in v}

    @property
    def feed_forward_gated(self) -> list[str]:
        """The feed-forward agents that passed the gate: the only ones the claims read."""
        return [n for n in self.videos if not is_recurrent(self.families[n]) and self.gates[n].passed]


def video_study(video_steps: int, seed: int, n_games: int, cam_layer: str = "conv1", batch: int = 50) -> VideoStudy:
    """Every chapter agent (the most trained checkpoint of each) plays ``video_steps`` steps of
    evaluation game ``seed`` (the video), explained at every step by the six methods; the
    statistics pool the video's first ``per_game`` steps with ``per_game`` steps of each of the
    games ``seed + 1 ... seed + n_games - 1`` (``per_game``: ``video_steps / n_games`` rounded
    down to whole blocks of 10, at least 10); a game that :func:`repeats` an earlier one of the
    agent gives way to the next seed, or is left out (:func:`play_distinct`;
    :attr:`VideoStudy.seeds` lists the seeds used)."""
    from rlinside.agents.zoo import AGENTS, load_agent, play_states
    from rlinside.explain.sanity import temporal_stability
    from rlinside.utils import nan_median

    per_game = max(10, video_steps // n_games // 10 * 10)
    videos, stability, stats, families, gates, seeds = {}, [], {}, {}, {}, {}
    for art in chapter_most_trained():
        agent, game, stage = art.config["agent"], art.config["game"], art.config["stage"]
        net, _ = load_agent(agent, game, stage)
        obs, frames, actions, carried = play_states(agent, net, game, steps=video_steps, seed=seed,
                                                    return_states=True)
        maps = explain_steps(agent, net, obs, carried, actions, cam_layer=cam_layer, batch=batch)
        name = f"{AGENTS[agent].label} {game} ({stage})"
        videos[name], families[name] = (frames, maps), agent
        gates[name] = agent_gate(Played(art, net, obs, frames, actions, carried))
        parts = [step_statistics(game, frames[:per_game], {m: v[:per_game] for m, v in maps.items()})]
        played, g, seeds[name] = [frames[:per_game]], seed + 1, [seed]
        for _ in range(1, n_games):  # the statistics' other games (the first is the video's start)
            g, out = play_distinct(agent, net, game, per_game, g, played, return_states=True)
            g += 1
            if out is None:  # every seed tried repeated an earlier game: fewer blocks, none twice
                continue
            o, f, a, c = out
            seeds[name].append(g - 1)
            parts.append(step_statistics(game, f, explain_steps(agent, net, o, c, a, cam_layer=cam_layer,
                                                                batch=batch)))
        screen_corr = nan_median(temporal_stability(obs[:, -1].astype(np.float32), absolute=False))
        for m in METHOD_NAMES:
            stats[name, m] = {k: np.concatenate([pt[m][k] for pt in parts]) for k in parts[0][m]}
            stability.append({"agent": name, "method": m,
                              "consecutive rho (median)": nan_median(stats[name, m]["consecutive rho"]),
                              "steps on objects (share)": float(stats[name, m]["on objects"].mean()),
                              "screen rho (median)": float(screen_corr)})
    return VideoStudy(videos, families, gates, stats, pd.DataFrame(stability), per_game, n_games, seeds)


def stability_claims(vs: VideoStudy, profile: str | None, block: int = 10) -> list:
    """The measurements of notebook 04's claims over the gated feed-forward agents of ``vs``,
    the unit a block of ``block`` consecutive steps: ``gradient_noisier`` (guided backprop's
    object enrichment minus the gradient's), ``gbp_most_stable`` (guided backprop's share of
    steps on the objects minus the best other method's), ``guided_gradcam_unstable`` and
    ``g2gradcam_unstable`` (that share minus guided backprop's) and
    ``gradcam_misses_oxygen_and_divers`` (Grad-CAM's enrichment on the oxygen bar and the divers,
    Seaquest agents) and ``g1gradcam_best_on_dddqn_breakout`` (G1Grad-CAM's object enrichment
    minus the best other method's, the DDDQN on Breakout)."""
    from rlinside import claims

    ff = vs.feed_forward_gated
    enrichment, on_objects = vs.statistic("enrichment"), vs.statistic("on objects")

    def pooled(table, m, other=None):
        out = []
        for n in ff:
            a = block_means(table[n, m], block)
            if other is not None:
                a = a - block_means(table[n, other], block)
            out.append(a[np.isfinite(a)])
        return np.concatenate(out) if out else np.zeros(0)

    def best_other(n, m):
        others = np.stack([block_means(on_objects[n, o], block) for o in METHOD_NAMES if o != m])
        return block_means(on_objects[n, m], block) - np.nanmax(others, axis=0)

    scale = {"profile": profile, "agents": len(ff), "steps": vs.per_game * vs.n_games, "games": vs.n_games,
             "blocks": len(pooled(on_objects, "Guided Backprop"))}
    gbp_best = np.concatenate([best_other(n, "Guided Backprop") for n in ff]) if ff else np.zeros(0)
    od = vs.statistic("enrichment, oxygen and divers")
    sea = [n for n in ff if (n, "Grad-CAM") in od]
    # G1Grad-CAM's enrichment on ball and paddle minus the best other method's, DDDQN on Breakout
    g1_agents = [n for n in ff if vs.families[n] == "dddqn" and "Breakout" in n]
    g1_best = (np.concatenate([block_means(enrichment[n, "G1Grad-CAM"], block) - np.nanmax(np.stack(
        [block_means(enrichment[n, o], block) for o in METHOD_NAMES if o != "G1Grad-CAM"]), axis=0)
        for n in g1_agents]) if g1_agents else np.zeros(0))

    def od_blocks(m):
        out = [block_means(od[n, m], block) for n in sea]
        v = np.concatenate(out) if out else np.zeros(0)
        return v[np.isfinite(v)]

    return [
        claims.measure("saliency.gradcam_misses_oxygen_and_divers", od_blocks("Grad-CAM"),
                       scale={**scale, "agents": len(sea), "blocks": len(od_blocks("Grad-CAM"))},
                       details={"agents": sea, **{f"{m}: mean enrichment": float(np.mean(od_blocks(m)))
                                                  if len(od_blocks(m)) else float("nan") for m in METHOD_NAMES}}),
        claims.measure("saliency.gradient_noisier", pooled(enrichment, "Guided Backprop", "Gradient"), scale=scale,
                       details={"agents": ff}),
        claims.measure("saliency.gbp_most_stable", gbp_best[np.isfinite(gbp_best)], scale=scale),
        claims.measure("saliency.guided_gradcam_unstable", pooled(on_objects, "Guided Grad-CAM", "Guided Backprop"),
                       scale=scale),
        claims.measure("saliency.g2gradcam_unstable", pooled(on_objects, "G2Grad-CAM", "Guided Backprop"),
                       scale=scale),
        claims.measure("saliency.g1gradcam_best_on_dddqn_breakout", g1_best[np.isfinite(g1_best)],
                       scale={**scale, "agents": len(g1_agents), "blocks": int(np.isfinite(g1_best).sum())},
                       details={"agents": g1_agents, "evaluation games": {a: vs.seeds.get(a, []) for a in g1_agents}}),
    ]


# --------------------------------------------------------------------------------------------
# A memorised policy (notebook 08): an agent trained where every game starts the same
# --------------------------------------------------------------------------------------------

#: The memorised-policy study: (family, game) of the pair. The usual agent is the zoo's; its twin
#: was trained with the same settings and seed but ``noop_max`` 0 (every training game starts
#: from the same screen; ``scripts/train_atari.py --noop-max 0``).
MEMORISED_PAIR = ("a2c", "Breakout")
#: The two ways a game starts: the zoo's (up to 30 random no-ops) and the fixed start.
START_VARIANTS = {"random start": 30, "fixed start": 0}
#: The name of a comparison's control network: the same setup as its reference network with
#: another training seed (a study variant of :data:`rlinside.agents.zoo.VARIANT_FIELDS`). Two
#: networks differ by their seed alone; a difference the claim reads must exceed theirs
#: (:func:`rlinside.claims.exchangeable_null`).
SEED_NULL = "second seed"
#: The seed of the usual A2C's control: the snapshot run ``runs/a2c_breakout_snapshots_s2``
#: (the zoo's settings; its snapshots serve notebook 07, its final network is shipped as a
#: variant with ``scripts/ship_atari_agent.py --stage final``).
MEMORISED_NULL_SEED = 2


def memorised_pair() -> dict[str, store.Artifact]:
    """``{"usual": zoo agent, "fixed-start trained": its twin}`` (final stages), and
    :data:`SEED_NULL` (the usual agent's setup with seed :data:`MEMORISED_NULL_SEED`) when it
    is shipped; a missing usual agent or twin is an error naming the command that trains it,
    raised before any work starts."""
    agent, game = MEMORISED_PAIR
    usual = find_agents(agent, game, "final")
    twin = find_agents(agent, game, "final", noop_max=0)
    if not usual or not twin:
        raise store.ArtifactError(
            f"the memorised-policy study needs the zoo's {agent} {game} agent and its fixed-start twin; "
            f"missing: {'the zoo agent' if not usual else 'the twin'}. Train the twin with: python scripts/"
            f"train_atari.py --game {game} --agent {agent} --steps 1000000 --noop-max 0 --early-step 0 "
            f"--run-dir runs/{agent}_{game.lower()}_fixedstart_s0, then ship it with scripts/ship_atari_agent.py "
            f"--stage final")
    out = {"usual": usual[-1], "fixed-start trained": twin[-1]}
    second = find_agents(agent, game, "final", seed=MEMORISED_NULL_SEED)
    if second:
        out[SEED_NULL] = second[-1]
    return out


def start_variant_scores(pair: dict[str, store.Artifact], episodes: int, seed: int = 0) -> pd.DataFrame:
    """Full-game scores of the usual agent and its twin (not the seed control) on ``episodes``
    evaluation games of each start variant (:data:`START_VARIANTS`; the zoo's evaluation
    protocol otherwise): one row per (agent, start, game) with ``score``."""
    from rlinside.agents import shipped

    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    agent, game = MEMORISED_PAIR
    evaluate = registry.get(agent).function("evaluate")
    rows = []
    for name, art in pair.items():
        if name == SEED_NULL:
            continue
        net, _ = shipped.load_net(agent, art)
        for start, noop_max in START_VARIANTS.items():
            scores = evaluate(net, game, int(episodes), seed=seed, noop_max=noop_max)
            rows += [{"agent": name, "start": start, "game": i, "score": float(v)} for i, v in enumerate(scores)]
    return pd.DataFrame(rows)


def _difference_ci(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval (percentile) of mean(a) - mean(b) for independent samples."""
    from scipy.stats import bootstrap

    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    res = bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), n_resamples=9999,
                    method="percentile", random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def start_gaps(scores: pd.DataFrame) -> pd.DataFrame:
    """Per agent: the mean score with fixed starts minus with random starts (a memorised policy
    scores well only where the game starts as in training), with its interval; and the twin's
    gap minus the usual agent's (``difference``) with its interval, from the games resampled."""
    out = {}
    for name, g in scores.groupby("agent", sort=False):
        fixed = g[g.start == "fixed start"].score.to_numpy()
        rand = g[g.start == "random start"].score.to_numpy()
        lo, hi = _difference_ci(fixed, rand)
        out[name] = {"fixed start": fixed.mean(), "random start": rand.mean(), "gap": fixed.mean() - rand.mean(),
                     "low": lo, "high": hi, "games": len(fixed)}
    table = pd.DataFrame(out).T
    if {"usual", "fixed-start trained"} <= set(out):
        rng = np.random.default_rng(1)

        def gap(name):
            g = scores[scores.agent == name]
            f, r = g[g.start == "fixed start"].score.to_numpy(), g[g.start == "random start"].score.to_numpy()
            return rng.choice(f, len(f)).mean() - rng.choice(r, len(r)).mean()

        draws = np.array([gap("fixed-start trained") - gap("usual") for _ in range(4000)])
        table.attrs["difference"] = {"estimate": out["fixed-start trained"]["gap"] - out["usual"]["gap"],
                                     "low": float(np.quantile(draws, 0.025)), "high": float(np.quantile(draws, 0.975))}
    return table


def memorised_maps(pair: dict[str, store.Artifact], n_states: int, every: int, seed: int = 0,
                   cam_layer: str = "conv1") -> pd.DataFrame:
    """Per start variant, the states every ``every``-th step of evaluation game ``seed`` played
    by the *usual* agent (the same states for both networks), each network explaining the
    action it ranks first: one row per (start, state, method) with each agent's enrichment on
    all the game's objects (columns ``usual``, ``fixed-start trained``, and :data:`SEED_NULL`
    when the pair has it), ``difference`` (usual minus twin) and ``seed difference`` (usual
    minus the seed control; NaN without it)."""
    from rlinside.agents import shipped
    from rlinside.agents.zoo import play_states

    agent, game = MEMORISED_PAIR
    nets = {name: shipped.load_net(agent, art)[0] for name, art in pair.items()}
    tables = []
    for start, noop_max in START_VARIANTS.items():
        obs, frames, _ = play_states(agent, nets["usual"], game, steps=n_states * every, seed=seed, noop_max=noop_max)
        idx = np.arange(every - 1, n_states * every, every)
        per = {}
        for name, net in nets.items():
            t = object_saliency(net, game, obs[idx], frames[idx], cam_layer=cam_layer)
            per[name] = t[t.object == "all"].set_index(["state", "method"])["enrichment"]
        t = pd.DataFrame(per).reset_index()
        t.insert(0, "start", start)
        tables.append(t)
    out = pd.concat(tables, ignore_index=True)
    out["difference"] = out["usual"] - out["fixed-start trained"]
    out["seed difference"] = out["usual"] - out[SEED_NULL] if SEED_NULL in out else np.nan
    return out


# --------------------------------------------------------------------------------------------
# Bug localisation (notebook 09): dueling networks with a planted error against the correct one
# --------------------------------------------------------------------------------------------

#: The bug study's family, game and the step its networks are compared at: the zoo's early DDDQN
#: on Breakout is the correct network, each planted bug (rlinside.nets.atari.DUELING_BUGS) is
#: trained with the same settings and seed to the same step (``scripts/train_bug_agents.sh``).
BUG_STUDY = ("dddqn", "Breakout", 250_000)
#: The seed of the correct network's control (:data:`SEED_NULL`): the zoo's settings, no bug,
#: trained to the same step (``scripts/train_bug_agents.sh``).
BUG_NULL_SEED = 1


def bug_agents(step: int = BUG_STUDY[2]) -> dict[str, store.Artifact]:
    """``{"correct": the zoo's network, "<bug>": ..., "second seed": ...}`` at ``step`` (default
    :data:`BUG_STUDY`'s), for every bug that is shipped (the correct one first) and the correct
    setup's seed control (:data:`SEED_NULL`, seed :data:`BUG_NULL_SEED`) when shipped; raises,
    naming the script, when the correct network is missing."""
    from rlinside.nets.atari import DUELING_BUGS

    agent, game, _ = BUG_STUDY
    out = {}
    for bug in DUELING_BUGS:
        found = [a for a in find_agents(agent, game, bug=bug) if a.config["step"] == step]
        if found:
            out[bug or "correct"] = found[-1]
    if "correct" not in out:
        raise store.ArtifactError(f"no {agent} {game} network at step {step:,} without a bug (the zoo's early agent); "
                                  f"train it with scripts/train_atari.py --game {game} --agent {agent}")
    found = [a for a in find_agents(agent, game, seed=BUG_NULL_SEED) if a.config["step"] == step]
    if found:
        out[SEED_NULL] = found[-1]
    return out


def _stream_maps(net: nn.Module, obs: torch.Tensor, actions: torch.Tensor) -> dict[str, np.ndarray]:
    """Guided backprop of the value stream V(s) and of the advantage A(s, a) of the given
    actions, newest frame, raw (not scaled): ``stream -> (T, 84, 84)``."""
    out = {}
    for stream, target in (("value", value_stream()), ("advantage", advantage_stream(actions))):
        raw = make_method("Guided Backprop", net).attribute(obs, target=target,
                                                            forward_kwargs={"return_streams": True})
        out[stream] = newest_frame(raw).numpy()
    return out


def bug_stream_statistics(agents: dict[str, store.Artifact], n_states: int, every: int,
                          seed: int = 0) -> pd.DataFrame:
    """Per network and state (every ``every``-th step of evaluation game ``seed``, played by the
    correct network, so that every network explains the same states, each for the action it
    ranks first): for the value and the advantage stream's guided-backprop map, its magnitude
    (sum of |map|), its enrichment on the game's objects, and the Spearman ``correlation`` of
    the two streams' absolute maps. One row per (network, state, stream)."""
    from rlinside.agents import shipped
    from rlinside.agents.zoo import play_states

    agent, game, _ = BUG_STUDY
    nets = {name: shipped.load_net(agent, art)[0] for name, art in agents.items()}
    obs, frames, _ = play_states(agent, nets["correct"], game, steps=n_states * every, seed=seed)
    idx = np.arange(every - 1, n_states * every, every)
    x, frames = torch.from_numpy(obs[idx]), frames[idx]
    masks = []
    for frame in frames:
        m = {k: to_observation_grid(v) for k, v in object_masks(game, frame).items()}
        masks.append(np.logical_or.reduce(list(m.values())))
    rows = []
    for name, net in nets.items():
        with torch.no_grad():
            actions = _first(net(x.float())).argmax(1)
        maps = _stream_maps(net, x, actions)
        for i in range(len(idx)):
            rho = spearmanr(np.abs(maps["value"][i]).ravel(), np.abs(maps["advantage"][i]).ravel()).statistic
            for stream, m in maps.items():
                _, enrichment = object_share(m[i], masks[i])
                rows.append({"network": name, "state": i, "stream": stream, "magnitude": float(np.abs(m[i]).sum()),
                             "enrichment": enrichment, "correlation": float(rho)})
    return pd.DataFrame(rows)


def bug_flags(stats: pd.DataFrame, statistic: str = "enrichment", stream: str = "value") -> pd.DataFrame:
    """Per other network (each bug, and the seed control when present: what a second seed
    alone flags): the per-state difference of ``statistic`` of ``stream`` (correct minus it),
    with its bootstrap interval; a network is *flagged* when the interval excludes 0."""
    from rlinside.claims import bootstrap_ci

    s = stats[stats.stream == stream].pivot_table(index="state", columns="network", values=statistic)
    out = {}
    for name in s.columns:
        if name == "correct":
            continue
        d = (s["correct"] - s[name]).dropna().to_numpy()
        lo, hi = bootstrap_ci(d)
        out[name] = {"difference": float(d.mean()) if len(d) else np.nan, "low": lo, "high": hi, "states": len(d),
                     "flagged": bool(lo > 0 or hi < 0) if np.isfinite(lo) else False}
    return pd.DataFrame(out).T


def bug_scores(agents: dict[str, store.Artifact]) -> pd.DataFrame:
    """Each network's evaluation games (its shipped ``eval.json``) and, for every other one (a
    bug, the seed control), its mean minus the correct network's with a 95 % bootstrap interval
    over games: whether the score alone would have flagged it."""
    games = {name: np.asarray(json.loads(art.file("eval.json").read_text())["scores"], dtype=float)
             for name, art in agents.items()}
    rows = {}
    for name, g in games.items():
        row = {"mean score": g.mean(), "games": len(g)}
        if name != "correct":
            lo, hi = _difference_ci(g, games["correct"])
            row |= {"minus correct": g.mean() - games["correct"].mean(), "low": lo, "high": hi,
                    "flagged": bool(lo > 0 or hi < 0) if np.isfinite(lo) else False}
        rows[name] = row
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------------------------
# Moments picked by rule (notebook 04; the paper's Figures 29-32 were picked by hand)
# --------------------------------------------------------------------------------------------

#: The Seaquest moments of the paper's Figures 29-32 and the rule that finds each in a played
#: game from the object masks (``rlinside.envs.atari_objects``): the step with the most diver
#: pixels in the sea, and the step with the fewest (but some) oxygen-bar pixels, the bar nearly
#: empty (an empty bar has no pixels to find).
MOMENT_RULES = {
    "most divers in the sea": ("divers", "max"),
    "least oxygen left": ("oxygen", "min positive"),
}


def pick_moments(frames: np.ndarray, game: str = "Seaquest") -> dict[str, int]:
    """The step of ``frames`` ``(T, 210, 160, 3)`` picked by each rule of :data:`MOMENT_RULES`
    (the first such step on a tie); a rule with nothing to pick (no diver ever on screen) is
    left out."""
    if game != "Seaquest":
        raise ValueError(f"the moments are Seaquest's, got game {game!r}")
    areas = {obj: np.array([object_masks(game, f)[obj].sum() for f in frames]) for obj, _ in MOMENT_RULES.values()}
    out = {}
    for name, (obj, rule) in MOMENT_RULES.items():
        a = areas[obj]
        if rule == "max" and a.max() > 0:
            out[name] = int(np.argmax(a))
        elif rule == "min positive" and (a > 0).any():
            out[name] = int(np.flatnonzero(a == a[a > 0].min())[0])
    return out


def moment_rows(vs: VideoStudy) -> list[MapRow]:
    """One gallery row per (Seaquest agent of the video study, moment of :func:`pick_moments`):
    its screen and the six methods' maps at that step, each scaled to [-1, 1] by its own
    maximum |value|; agents that failed the sensitivity gate are marked."""
    rows = []
    for name, (frames, maps) in vs.videos.items():
        if "Seaquest" not in name:
            continue
        for moment, t in pick_moments(frames).items():
            scaled = {}
            for m, mp in maps.items():
                x = np.asarray(mp[t], dtype=np.float64)
                peak = np.abs(x).max()
                scaled[m] = x / peak if peak > 0 else x
            rows.append(MapRow(f"{name}\n{moment} (step {t})", frames[t], scaled,
                               insensitive=not vs.gates[name].passed))
    return rows


def bug_stream_rows(agents: dict[str, store.Artifact], step: int, seed: int = 0) -> list[MapRow]:
    """One gallery row per network of the bug study: guided backprop of its value stream and of
    its advantage stream (for the action it ranks first) on step ``step`` of evaluation game
    ``seed`` played by the correct network, newest frame, each map scaled by its own maximum."""
    from rlinside.agents import shipped
    from rlinside.agents.zoo import play_states

    agent, game, _ = BUG_STUDY
    nets = {name: shipped.load_net(agent, art)[0] for name, art in agents.items()}
    obs, frames, _ = play_states(agent, nets["correct"], game, steps=step + 1, seed=seed)
    x = torch.from_numpy(obs[step:step + 1])
    rows = []
    for name, net in nets.items():
        with torch.no_grad():
            actions = _first(net(x.float())).argmax(1)
        maps = {}
        for stream, m in _stream_maps(net, x, actions).items():
            peak = np.abs(m[0]).max()
            maps[f"{stream} stream"] = m[0] / peak if peak > 0 else m[0]
        rows.append(MapRow(f"{name}\n{agents[name].config['step']:,} steps", frames[step], maps))
    return rows
