"""The LSTM-contribution chapter's study (Lee et al. 2019): the shipped marble-maze policy under test.

The measures themselves are generic (:mod:`rlinside.explain.contribution`: arrays in). This
module holds what the chapter does with them, on the policies of :mod:`rlinside.agents.maze_zoo`:

- :func:`memory_test` and :func:`example_trajectories`: the greedy test with and without the
  LSTM's memory, and a few episodes to draw (notebook 01);
- :func:`contribution_tests`: ``n_tests`` greedy test episodes with each step's channel
  contributions and salient channels; on them :func:`snapshot_steps`, :func:`specialisation`
  (how sparse, how pure, how tied to one ring), :func:`located_channels` (the channels of
  Figure 4), :func:`readout_ablation` and :func:`readout_score_removed` (does activation times
  weight rank the channels that change the action, and carry its score?);
  :func:`atari_contributions` does the same on the Atari A2C-LSTM agent; the claims in
  :func:`contribution_claims` (notebook 02);
- :func:`offset_tests`: the test episodes with the preceding offsets of one gate under the
  method's choices (``theta_c``, the two :data:`READINGS`, :data:`CENSORING`);
  :func:`offsets_by_ring`, :func:`delay_table` (the same policy seeing the maze late),
  :func:`trained_delay_tests` / :func:`trained_delay_table` (every shipped policy, some trained
  with a delay), :func:`offset_sensitivity` (each choice in turn against the null),
  :func:`example_channel` (Figure 5's rule) and :func:`offset_claims` (notebook 03);
- :func:`seed_policies`, :func:`window_ablation` / :func:`window_study` (memory by window:
  the state rebuilt from the last K images), :func:`window_summary`, :func:`window_crossings`
  and :func:`memory_claims` (notebook 04);
- :func:`known_lag_study` and :func:`known_lag_summary`: the offset method on a task with a
  planted lag (notebook 05);
- the claims' per-episode statistics (:func:`mask_statistics`, :func:`offset_statistics`,
  :func:`readout_flips`, :func:`crossing_times`, :func:`memoryless_crossings`), their values on
  every test episode (:func:`per_episode`) and the **time-shift null** (:func:`shift_mask`,
  :func:`time_shift_null`): each channel's salient mask moved by a random time within its
  episode, which keeps how often and in what runs a channel is salient but breaks its timing
  relative to the gates, the ball and the actions (notebooks 02-04); and the second null of
  the offset claims, the within-ring permutation (:func:`ring_permute_mask`,
  :func:`ring_permutation_null`).

Test episode ``i`` of ``n_tests`` starts at angle ``2 pi i / n_tests`` of the outer ring with
seed ``1000 + i``, actions are greedy (the arg-max of the scores, as in the paper).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from rlinside.agents.maze_a2c import evaluate_maze, load_maze_policy, rollout
from rlinside.agents.maze_zoo import find_policies, load_policy, policy_config
from rlinside.envs.marble_maze import MarbleMazeConfig, MarbleMazeEnv
from rlinside.explain.contribution import (
    action_order,
    channel_actions,
    contributions,
    salient_channels,
    sparsity,
)
from rlinside.nets.maze import MazePolicy
from rlinside.store import Artifact
from rlinside.utils import nan_mean, torch_threads

__all__ = [
    "zero_offset_comparison",
    "MIN_STEPS",
    "memory_test",
    "example_trajectories",
    "ContributionTests",
    "contribution_tests",
    "snapshot_steps",
    "specialisation",
    "LocatedChannels",
    "located_channels",
    "readout_ablation",
    "RANKINGS",
    "readout_score_removed",
    "contribution_claims",
    "AtariContributions",
    "atari_contributions",
    "offset_tests",
    "offsets_by_ring",
    "delay_table",
    "trained_delay_table",
    "PolicyOffsets",
    "trained_delay_tests",
    "readout_flips",
    "first_salient_offsets",
    "shift_mask",
    "mask_statistics",
    "offset_statistics",
    "per_episode",
    "time_shift_null",
    "ring_permute_mask",
    "ring_permutation_null",
    "mean_offset_by_episode",
    "pooled_ring_means",
    "crossing_times",
    "memoryless_crossings",
    "READINGS",
    "CENSORING",
    "salient_mask",
    "with_salience",
    "offset_sensitivity",
    "offset_claims",
    "example_channel",
    "known_lag_study",
    "known_lag_summary",
    "seed_policies",
    "window_ablation",
    "window_summary",
    "window_crossings",
    "window_study",
    "memory_claims",
]

#: A channel enters the per-channel statistics when it is salient on at least this many steps.
MIN_STEPS = 20

# ----------------------------------------------------------------------------- notebook 01


def memory_test(net: MazePolicy, env_config: MarbleMazeConfig, n_tests: int) -> pd.DataFrame:
    """The greedy test (:func:`~rlinside.agents.maze_a2c.evaluate_maze`, ``n_tests`` episodes)
    with the policy's memory and with its LSTM state reset to zero before every step.

    Returns a ``(2, 3)`` table, rows ``with memory`` and ``without memory``: the success rate,
    the median steps of the successful episodes (NaN without any) and the median innermost
    ring reached.
    """
    with_memory = evaluate_maze(net, env_config, n_tests)
    without = evaluate_maze(net, env_config, n_tests, memory=False)
    return pd.DataFrame({
        "success": [np.mean([r["success"] for r in with_memory]), np.mean([r["success"] for r in without])],
        "steps (successful episodes, median)": [
            np.median([r["steps"] for r in rs if r["success"]]) if any(r["success"] for r in rs) else np.nan
            for rs in (with_memory, without)],
        "innermost ring reached (median)": [np.median([r["final_ring"] for r in rs]) for rs in (with_memory, without)],
    }, index=["with memory", "without memory"])


def seed_memory_tests(n_tests: int, seeds: int) -> pd.DataFrame:
    """The greedy test with and without memory (:func:`memory_test`'s two conditions) of the
    no-delay A2C policy of each of the first ``seeds`` training seeds (:func:`seed_policies`):
    one row per (seed, condition) with the success rate, its 95 % bootstrap interval over the
    test episodes and the policy's key; the last rows pool the seeds' episodes."""
    from rlinside.claims import bootstrap_ci

    stored = seed_policies(0)
    if len(stored) < seeds:
        raise ValueError(f"{seeds} training seeds asked for, {len(stored)} no-delay A2C maze policies stored")
    rows, pooled = [], {"with memory": [], "without memory": []}
    for seed, net, art in stored[:seeds]:
        env_config = policy_config(art).env_config()
        for cond, memory in (("with memory", True), ("without memory", False)):
            s = [float(r["success"]) for r in evaluate_maze(net, env_config, n_tests, memory=memory)]
            pooled[cond] += s
            rows.append({"seed": seed, "condition": cond, "success": float(np.mean(s)),
                         **dict(zip(("low", "high"), bootstrap_ci(s))), "episodes": len(s), "policy": art.key})
    for cond, s in pooled.items():
        rows.append({"seed": "all", "condition": cond, "success": float(np.mean(s)),
                     **dict(zip(("low", "high"), bootstrap_ci(s))), "episodes": len(s), "policy": ""})
    return pd.DataFrame(rows).set_index(["seed", "condition"])


def example_trajectories(net: MazePolicy, env: MarbleMazeEnv, n: int) -> list[dict[str, Any]]:
    """``n`` greedy episodes in ``env`` (episode ``k``: seed ``2000 + k``, start angle
    ``2 pi k / n + 0.3``), each a :func:`~rlinside.agents.maze_a2c.rollout` dict (``obs
    (T, 1, S, S)``, ``ball_xy (T, 2)``, ``success``, ``steps``, ...)."""
    return [rollout(net, env, 2000 + k, start_angle=2 * np.pi * k / n + 0.3) for k in range(n)]


# ----------------------------------------------------------------------------- notebook 02


@dataclass
class ContributionTests:
    """Test episodes with their contributions; ``T`` is the number of steps of all episodes."""

    env_config: MarbleMazeConfig  #: the maze of the tests
    episodes: list[dict[str, Any]]  #: rollout dicts plus ``c``, ``r`` (shares), ``mask`` (salient), each (T_i, n_l)
    weight: np.ndarray  #: (n_a, n_l) the read-out ``W_a``
    bias: np.ndarray  #: (n_a,) its bias
    mask: np.ndarray  #: (T, n_l) bool, salient channels of every step
    actions: np.ndarray  #: (T,) the action taken
    table: pd.DataFrame  #: one row per channel (:func:`~rlinside.explain.contribution.channel_actions`)
    order: np.ndarray  #: (n_l,) the row order of Figure 2 (:func:`~rlinside.explain.contribution.action_order`)

    def concat(self, key: str) -> np.ndarray:
        """An episode array (e.g. ``ball_xy``, ``ring``, ``h``) over all episodes, ``(T, ...)``."""
        return np.concatenate([e[key] for e in self.episodes])

    @property
    def successes(self) -> int:
        """Number of episodes that reached the centre."""
        return sum(e["success"] for e in self.episodes)


def contribution_tests(n_tests: int, fraction: float = 0.5, *, net: MazePolicy | None = None,
                       env_config: MarbleMazeConfig | None = None) -> ContributionTests:
    """``n_tests`` greedy test episodes of ``net`` in ``env_config`` (default: the shipped policy,
    :func:`~rlinside.agents.maze_zoo.load_policy`, in the maze it was trained in); at every step
    the contributions of the LSTM's channels to the chosen action's score and the fewest channels
    carrying more than ``fraction`` of it, then which action each channel serves over all steps."""
    if net is None:
        net, art = load_policy()
        env_config = policy_config(art).env_config() if env_config is None else env_config
    if env_config is None:
        raise ValueError("env_config is needed with a net that is not the shipped policy")
    env = MarbleMazeEnv(env_config)
    W = net.policy.weight.detach().numpy()
    episodes = []
    for i in range(n_tests):
        r = rollout(net, env, 1000 + i, start_angle=2 * np.pi * i / n_tests)
        r["c"], r["r"] = contributions(W, r["h"], r["actions"])
        r["mask"] = salient_channels(r["r"], fraction)
        episodes.append(r)
    env.close()
    all_mask = np.concatenate([e["mask"] for e in episodes])
    all_actions = np.concatenate([e["actions"] for e in episodes])
    table = channel_actions(all_mask, all_actions, 5)
    return ContributionTests(env_config, episodes, W, net.policy.bias.detach().numpy(), all_mask, all_actions, table,
                             action_order(table))


def snapshot_steps(ring: np.ndarray, n: int = 4) -> np.ndarray:
    """The first step in each ring of one episode (``ring``: ``(T,)`` per step), in time order,
    at most ``n`` of them: ``(<= n,)`` ints."""
    return np.array(sorted({int(np.argmax(ring == k)) for k in np.unique(ring)}))[:n]


def specialisation(tests: ContributionTests) -> tuple[pd.Series, pd.DataFrame]:
    """How sparse and how specialised the salient channels are over all test steps.

    Returns ``(summary, ring_table)``: ``summary`` has the channels needed per step
    (:func:`~rlinside.explain.contribution.sparsity`), the share of channels of purity >= 0.9
    and the median share of a channel's salient steps spent in its main ring against the
    share of all steps spent there; ``ring_table`` has one row per channel salient on at least
    :data:`MIN_STEPS` steps: its salient steps, main ring, share in that ring and that ring's
    ``baseline`` share of all steps.
    """
    all_mask = tests.mask
    sp = sparsity(all_mask)
    rings = tests.concat("ring")
    ring_rows = []
    for j in range(all_mask.shape[1]):
        on = all_mask[:, j]
        if on.sum() < MIN_STEPS:
            continue
        counts = np.bincount(rings[on], minlength=tests.env_config.n_rings + 1)
        top = int(counts.argmax())
        ring_rows.append({"channel": j, "salient steps": int(on.sum()), "main ring": top,
                          "share in main ring": counts[top] / on.sum(), "baseline": float(np.mean(rings == top))})
    ring_table = pd.DataFrame(ring_rows)
    active = tests.table[tests.table["salient steps"] > 0]
    summary = pd.Series({
        "channels": sp["channels"],
        "channels needed per step (mean)": sp["mean"],
        "as a fraction of all channels": sp["mean_fraction"],
        "steps needing fewer than 10% of channels": sp["steps_below_10pct"],
        "channels ever salient": sp["channels_ever_salient"],
        f"channels with purity >= 0.9 (of those salient >= {MIN_STEPS} steps)":
            float(np.mean(active[active["salient steps"] >= MIN_STEPS]["purity"] >= 0.9)) if len(active) else np.nan,
        f"median share in main ring (channels salient >= {MIN_STEPS} steps)":
            float(ring_table["share in main ring"].median()) if len(ring_table) else np.nan,
        "median baseline share of that ring": float(ring_table["baseline"].median()) if len(ring_table) else np.nan,
    })
    return summary, ring_table


@dataclass
class LocatedChannels:
    """The channels of Figure 4 and where the ball was at every test step."""

    by_ring: list[int]  #: the (at most) two channels most concentrated in one ring relative to the time there
    by_region: list[int]  #: the (at most) two others whose salient ball positions spread least
    xy: np.ndarray  #: (T, 2) the ball's position at every test step

    @property
    def chosen(self) -> list[int]:
        """The channels drawn, ring channels first."""
        return self.by_ring + self.by_region


def located_channels(tests: ContributionTests, ring_table: pd.DataFrame) -> LocatedChannels:
    """Figure 4's channels: by the lift (share in the main ring over its baseline) of
    ``ring_table`` (from :func:`specialisation`), and by the spread (norm of the standard
    deviation) of the ball's positions at the channel's salient steps, among the channels
    salient on at least :data:`MIN_STEPS` steps."""
    all_mask = tests.mask
    xy = tests.concat("ball_xy")
    spread = {j: float(np.linalg.norm(xy[all_mask[:, j]].std(0)))
              for j in range(all_mask.shape[1]) if all_mask[:, j].sum() >= MIN_STEPS}
    if len(ring_table):
        lift = ring_table.assign(lift=ring_table["share in main ring"] / ring_table["baseline"])
        by_ring = lift.sort_values("lift", ascending=False)["channel"].tolist()[:2]
    else:
        by_ring = []
    by_region = [j for j in sorted(spread, key=spread.get) if j not in by_ring][:2]
    return LocatedChannels(by_ring, by_region, xy)


def _readout_changes(tests: ContributionTests, ks: Sequence[int], seed: int) -> dict[tuple[str, int], np.ndarray]:
    """Per ranking and ``k``: ``(T,)`` bool, whether the action of each test step changes when
    the ranking's top ``k`` channels are removed from the read-out (see :func:`readout_ablation`)."""
    W, b, all_actions = tests.weight, tests.bias, tests.actions
    h_all = tests.concat("h")
    rng = np.random.default_rng(seed)
    out = {}
    for name, top in _rankings(W, b, h_all, all_actions, rng).items():
        for k in ks:
            h_cut = h_all.copy()
            np.put_along_axis(h_cut, top[:, :k], 0.0, axis=1)
            out[name, k] = (h_cut @ W.T + b).argmax(1) != all_actions
    return out


#: The channel rankings of the read-out tests, in table order.
RANKINGS = ("contribution (activation x weight)", "margin (activation x weight gap to the runner-up)",
            "|activation|", "|weight|", "random")


def _rankings(W: np.ndarray, b: np.ndarray, h: np.ndarray, actions: np.ndarray,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per ranking of :data:`RANKINGS`, the channels of every step ``(T, n_l)`` from the
    highest score down. *Margin* scores a channel by what it adds to the chosen action's lead
    over the runner-up, ``max(0, (W[a] - W[a2]) h)``: the channels whose removal closes the gap."""
    scores = h @ W.T + b
    runner = np.argsort(-scores, axis=1)[:, 1] if W.shape[0] > 1 else actions
    raw = {RANKINGS[0]: np.maximum(0, W[actions] * h),
           RANKINGS[1]: np.maximum(0, (W[actions] - W[runner]) * h),
           RANKINGS[2]: np.abs(h), RANKINGS[3]: np.abs(W[actions]), RANKINGS[4]: rng.random(h.shape)}
    return {name: np.argsort(-raw[name], axis=1, kind="stable") for name in RANKINGS}


def readout_score_removed(tests: ContributionTests, ks: tuple[int, ...] = (1, 2, 4, 8), seed: int = 0) -> pd.DataFrame:
    """The other reading of the read-out test: the share of the chosen action's positive score
    (the sum over channels of ``max(0, W_a[a_t, j] h_t[j])``) that the top ``k`` channels of
    each ranking carry, mean over the test steps. One row per ranking, one column per ``k``."""
    W, b, actions = tests.weight, tests.bias, tests.actions
    h = tests.concat("h")
    pos = np.maximum(0, W[actions] * h)
    total = pos.sum(1)
    rows = []
    for name, top in _rankings(W, b, h, actions, np.random.default_rng(seed)).items():
        ranked = np.take_along_axis(pos, top, axis=1).cumsum(1)
        for k in ks:
            carried = ranked[:, min(k, ranked.shape[1]) - 1]
            share = np.divide(carried, total, out=np.full(len(total), np.nan), where=total > 0)
            rows.append({"ranking": name, "k": k, "score removed": nan_mean(share)})
    return pd.DataFrame(rows).pivot(index="ranking", columns="k", values="score removed").reindex(list(RANKINGS))


def readout_ablation(tests: ContributionTests, ks: tuple[int, ...] = (1, 2, 4, 8), seed: int = 0) -> pd.DataFrame:
    """Share of test steps whose action changes when the top ``k`` channels of a ranking are
    removed from the read-out only (their ``h`` set to 0 in ``W_a h + b``).

    Rankings (:data:`RANKINGS`): the contribution ``max(0, W_a[a_t, j] h_t[j])``, the margin
    (its share of the lead over the runner-up action), ``|h_t[j]|``, ``|W_a[a_t, j]|`` and a
    random one (``np.random.default_rng(seed)``). Returns a table, one row per ranking (in
    :data:`RANKINGS` order), one column per ``k``.
    """
    flip_rows = [{"ranking": name, "k": k, "action changed": float(np.mean(changed))}
                 for (name, k), changed in _readout_changes(tests, ks, seed).items()]
    return pd.DataFrame(flip_rows).pivot(index="ranking", columns="k", values="action changed").reindex(list(RANKINGS))


def readout_flips(tests: ContributionTests, k: int = 4, seed: int = 0) -> pd.DataFrame:
    """:func:`readout_ablation` per test episode, for one ``k``: the share of the episode's steps
    whose action changes when each ranking's top ``k`` channels are removed from the read-out.
    One row per episode (index ``episode``), one column per ranking; these are the per-unit
    values of the claim that activation times weight finds the channels that matter (paired
    by episode: every ranking is applied to the same steps)."""
    changes = _readout_changes(tests, (k,), seed)
    bounds = np.cumsum([0] + [len(e["actions"]) for e in tests.episodes])
    rows = {name: [float(np.mean(c[a:b])) if b > a else np.nan for a, b in zip(bounds[:-1], bounds[1:])]
            for (name, _), c in changes.items()}
    return pd.DataFrame(rows, index=pd.RangeIndex(len(tests.episodes), name="episode"))


@dataclass
class AtariContributions:
    """The contribution analysis of one played stretch of an Atari A2C-LSTM agent."""

    stage: str  #: the agent's training stage
    train_steps: int  #: its training steps
    channels: int  #: LSTM channels
    mean_channels: float  #: salient channels per step, mean (:func:`~rlinside.explain.contribution.sparsity`)
    mean_fraction: float  #: that as a fraction of the channels
    steps_below_10pct: float  #: share of steps needing fewer than 10 % of the channels
    channels_ever_salient: int  #: channels salient on at least one step
    pure_share: float  #: share of purity >= 0.9 among the channels salient on >= MIN_STEPS steps (NaN: none)
    frequent_channels: int  #: number of channels salient on >= MIN_STEPS steps
    actions_taken: int  #: distinct actions played
    argmax_actions: int  #: distinct arg-max actions
    game: str = "Seaquest"  #: the game played

    def __str__(self) -> str:
        return (f"A2C-LSTM {self.game} ({self.stage}, {self.train_steps:,} steps): {self.channels} channels; "
                f"{self.mean_channels:.1f} needed per step on average ({self.mean_fraction:.1%}); fewer than 10% "
                f"on {self.steps_below_10pct:.0%} of steps; {self.channels_ever_salient} channels ever salient; "
                f"purity >= 0.9 for {self.pure_share:.0%} of the {self.frequent_channels} channels salient on "
                f">= {MIN_STEPS} steps; distinct actions taken: {self.actions_taken}, distinct arg-max actions: "
                f"{self.argmax_actions}")


def atari_contributions(fraction: float, steps: int, game: str = "Seaquest",
                        family: str = "a2c-lnlstm") -> AtariContributions | None:
    """Contributions of the LSTM channels of the newest shipped agent of ``family`` on ``game``
    to the action it took (sampled from its policy) over ``steps`` played steps
    (:func:`~rlinside.agents.zoo.play_states`); None when no such agent is shipped. The default
    family is the A2C-LSTM with a layer-normalised LSTM input, the one that passes the saliency
    chapter's sensitivity gate (the first A2C-LSTM, ``a2c-lstm``, ignores its input)."""
    from rlinside.agents.zoo import find_agents, load_agent, play_states

    arts = [a for a in find_agents(family, game)]
    if not arts:
        return None
    stage = arts[-1].config["stage"]
    anet, aart = load_agent(family, game, stage)
    obs, _, played, states = play_states(family, anet, game, steps=steps, return_states=True)
    hs, argmax = [], []
    with torch.no_grad():
        for t in range(len(obs)):
            logits, _, _, gates = anet(torch.from_numpy(obs[t:t + 1]), states[t], return_gates=True)
            hs.append(gates.h[0].numpy())
            argmax.append(int(logits.argmax(1)))
    acts = [int(a) for a in played]
    _, ar = contributions(anet.policy.weight, np.stack(hs), np.array(acts))
    amask = salient_channels(ar, fraction)
    atab = channel_actions(amask, np.array(acts), anet.policy.out_features)
    aact = atab[atab["salient steps"] >= MIN_STEPS]
    asp = sparsity(amask)
    return AtariContributions(stage, aart.config["step"], asp["channels"], asp["mean"], asp["mean_fraction"],
                              asp["steps_below_10pct"], asp["channels_ever_salient"],
                              np.mean(aact["purity"] >= 0.9) if len(aact) else float("nan"), len(aact),
                              len(set(acts)), len(set(argmax)), game)


# ----------------------------------------------------------------------------- notebook 03


def offset_tests(model: MazePolicy, env_config: MarbleMazeConfig, n_tests: int, *, gate: str = "output",
                 theta_g: float = 0.5, theta_c: float | None = None, reading: str = "first",
                 censored: str = "keep") -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """``n_tests`` greedy test episodes of ``model`` with shares ``r`` and salient channels
    ``mask`` (:func:`salient_mask` at ``theta_c``: by default the top half of the score; each
    ``(T_i, n_l)``) added to each rollout dict, and the preceding offsets of ``gate``
    (``> theta_g``) under ``reading`` and ``censored`` (:func:`first_salient_offsets`): one row
    per offset, with its ``episode``, ``channel``, ``t0``, ``t``, ``offset`` and the ball's
    ``distance_px`` at the salient step ``t``."""
    if gate not in ("input", "forget", "output"):
        raise ValueError(f"gate must be one of input, forget, output, got {gate!r}")
    W_m = model.policy.weight.detach().numpy()
    env = MarbleMazeEnv(env_config)
    eps, rows = [], []
    for i in range(n_tests):
        r = rollout(model, env, 1000 + i, start_angle=2 * np.pi * i / n_tests)
        _, r["r"] = contributions(W_m, r["h"], r["actions"])
        r["mask"] = salient_channels(r["r"]) if theta_c is None else salient_mask(r, theta_c)
        o = first_salient_offsets(r[gate], r["mask"], theta_g, reading=reading, censored=censored)
        offs = pd.DataFrame({k: o[k] for k in ("channel", "t0", "t", "offset")})
        offs["episode"] = i
        offs["distance_px"] = r["distance_px"][offs["t"].to_numpy()] if len(offs) else []
        rows.append(offs)
        eps.append(r)
    env.close()
    return eps, pd.concat(rows, ignore_index=True)


def offsets_by_ring(episodes: list[dict[str, Any]], offsets: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    """The Spearman correlation (``statistic``, ``pvalue``) of the offsets of
    :func:`offset_tests` with the ball's distance to the centre, and per ring of the salient
    step the number of offsets, their mean and median and the share longer than 10 steps."""
    rho = stats.spearmanr(offsets["distance_px"], offsets["offset"])
    rings = [episodes[e]["ring"][t] for e, t in zip(offsets["episode"], offsets["t"])]
    by_ring = offsets.assign(ring=rings).groupby("ring")["offset"].agg(
        ["count", "mean", "median", lambda x: np.mean(x > 10)])
    by_ring.columns = ["offsets", "mean", "median", "share > 10 steps"]
    return rho, by_ring


def _offset_stats(eps: list[dict[str, Any]], offs: pd.DataFrame, at_least: Sequence[int] = ()) -> dict[str, float]:
    return {"success": np.mean([e["success"] for e in eps]),
            "offsets": len(offs), "mean offset": offs["offset"].mean() if len(offs) else np.nan,
            "median offset": offs["offset"].median() if len(offs) else np.nan,
            "share of offsets > 0": np.mean(offs["offset"] > 0) if len(offs) else np.nan,
            **{f"share of offsets >= {k}": np.mean(offs["offset"] >= k) if len(offs) else np.nan
               for k in at_least}}


def delay_table(model: MazePolicy, artifact: Artifact, delays: list[int],
                base: tuple[list[dict[str, Any]], pd.DataFrame], *, n_tests: int, **method: Any) -> pd.DataFrame:
    """The policy of ``artifact`` in its maze seen ``d`` steps late, for each ``d`` of ``delays``:
    success and offset statistics of :func:`offset_tests`, one row per delay. ``base`` is the
    ``(episodes, offsets)`` of the maze as trained, reused for its own delay; ``method``: the
    offset choices of :func:`offset_tests` (gate, theta_g, theta_c, reading, censored)."""
    cfg = policy_config(artifact)
    rows = []
    for d in delays:
        eps_d, offs_d = base if d == cfg.env_config().obs_delay else offset_tests(
            model, MarbleMazeConfig(**{**cfg.env, "obs_delay": d}), n_tests, **method)
        rows.append({"delay d": d, **_offset_stats(eps_d, offs_d)})
    return pd.DataFrame(rows).set_index("delay d")


@dataclass
class PolicyOffsets:
    """:func:`offset_tests` of one shipped policy in the maze it was trained in."""

    artifact: Artifact
    label: str  #: key, trainer and trained delay, for a table
    delay: int  #: the observation delay it was trained with (0: none)
    episodes: list[dict[str, Any]]
    offsets: pd.DataFrame

    @property
    def trainer(self) -> str:
        return self.artifact.config.get("trainer", "a2c")


def trained_delay_tests(artifact: Artifact, base: tuple[list[dict[str, Any]], pd.DataFrame], *, n_tests: int,
                        **method: Any) -> list[PolicyOffsets]:
    """:func:`offset_tests` (with the offset choices ``method``) of every shipped policy in the
    maze it was trained in: ``artifact`` first (from ``base``, its ``(episodes, offsets)``),
    then every other one, trained with or without an observation delay."""
    def label(a: Artifact, d: int) -> str:
        return f"{a.key} ({a.config.get('trainer', 'a2c')}, {'trained with d = ' + str(d) if d else 'no delay'})"

    out = [PolicyOffsets(artifact, label(artifact, 0), int(policy_config(artifact).env_config().obs_delay), *base)]
    for a in find_policies():
        if a.key == artifact.key:
            continue
        model, _ = load_maze_policy(a.file("weights.pt"))
        d = int(a.config.get("env", {}).get("obs_delay", 0) or 0)
        eps_d, offs_d = offset_tests(model, policy_config(a).env_config(), n_tests, **method)
        out.append(PolicyOffsets(a, label(a, d), d, eps_d, offs_d))
    return out


def trained_delay_table(artifact: Artifact, base: tuple[list[dict[str, Any]], pd.DataFrame], *, n_tests: int,
                        tests: list[PolicyOffsets] | None = None, **method: Any) -> tuple[pd.DataFrame, bool]:
    """One row per shipped policy (:func:`trained_delay_tests`, or the given ``tests``): success
    and offset statistics, with the share of offsets of at least each trained delay.

    Returns ``(table, any_delayed)``: whether a policy trained with a delay is shipped.
    """
    if tests is None:
        tests = trained_delay_tests(artifact, base, n_tests=n_tests, **method)
    delayed = [p for p in tests[1:] if p.delay]
    at_least = sorted({1, *[p.delay for p in delayed]} - {0})
    rows = [{"policy": p.label, "delay d": p.delay, **_offset_stats(p.episodes, p.offsets, at_least)} for p in tests]
    return pd.DataFrame(rows).set_index("policy"), bool(delayed)


def mean_offset_by_episode(offsets: pd.DataFrame) -> dict[int, float]:
    """The mean preceding offset of each test episode (``episode`` -> mean; episodes without
    offsets are absent), from the table of :func:`offset_tests`."""
    return {int(e): float(v) for e, v in offsets.groupby("episode")["offset"].mean().items()}


# ----------------------------------------------------------------------------- the claims


#: The two readings of the paper's offset (:func:`first_salient_offsets`): ``first``, its text (the
#: first salient step of each gate interval); ``each``, its Figure 5 caption (every salient step
#: measured back to the start of the gate interval it falls in).
READINGS = ("first", "each")
#: What to do with a gate interval that is open at the episode's first step (its true start is
#: unknown, so its offsets are only lower bounds): ``keep`` them, or ``exclude`` them.
CENSORING = ("keep", "exclude")


def first_salient_offsets(gate: np.ndarray, mask: np.ndarray, theta_g: float = 0.5, *, reading: str = "first",
                          censored: str = "keep") -> dict[str, np.ndarray]:
    """The preceding offsets of one episode, vectorised: for every maximal interval in which
    ``gate[:, j] > theta_g`` (``gate``: ``(T, n_l)``), the first step in it at which channel ``j``
    is salient (``mask``: ``(T, n_l)`` bool). Returns arrays ``channel``, ``t0``, ``t``,
    ``offset = t - t0``, ordered by channel, then time: the same offsets as
    :func:`~rlinside.explain.contribution.all_offsets` of ``gate`` and ``mask`` with
    ``theta_c = 0.5`` (the table of :func:`offset_tests`), fast enough for a null of many draws.

    ``reading="each"`` (:data:`READINGS`): one offset per salient step inside an open interval
    instead of the first one only. ``censored="exclude"`` (:data:`CENSORING`): drop the offsets
    of intervals open at step 0 (left-censored)."""
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, got {reading!r}")
    if censored not in CENSORING:
        raise ValueError(f"censored must be one of {CENSORING}, got {censored!r}")
    g = np.asarray(gate, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if g.shape != m.shape or g.ndim != 2:
        raise ValueError(f"gate and mask must be (T, n_l) of the same shape, got {g.shape} and {m.shape}")
    T = g.shape[0]
    above = g > theta_g
    starts = above & ~np.vstack([np.zeros((1, g.shape[1]), bool), above[:-1]])
    if reading == "each":  # every salient step with an open gate, back to its interval's start
        start_time = np.where(starts, np.arange(T)[:, None], -1)
        t0_at = np.maximum.accumulate(start_time, axis=0)  # the start of the interval each step is in
        tt, chans = np.nonzero(above & m)
        t0 = t0_at[tt, chans]
        order = np.lexsort((tt, chans))
        tt, chans, t0 = tt[order], chans[order], t0[order]
        keep = t0 > 0 if censored == "exclude" else np.ones(len(tt), bool)
        return {"channel": chans[keep], "t0": t0[keep], "t": tt[keep], "offset": (tt - t0)[keep]}
    steps = np.arange(T)[:, None]
    # next step at or after t where the channel is salient / where the gate is closed (T: none)
    next_salient = np.minimum.accumulate(np.where(m, steps, T)[::-1], axis=0)[::-1]
    next_closed = np.minimum.accumulate(np.where(above, T, steps)[::-1], axis=0)[::-1]
    chans, t0 = np.nonzero(starts.T)
    t = next_salient[t0, chans]
    keep = t < next_closed[t0, chans]
    if censored == "exclude":
        keep &= t0 > 0
    return {"channel": chans[keep], "t0": t0[keep], "t": t[keep], "offset": (t - t0)[keep]}


def shift_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The time-shift null of one episode: each channel's column of ``mask`` (``(T, n_l)``)
    rolled by its own random lag, uniform in ``[0, T)``, round the episode (``np.roll``). How
    often and in what runs a channel is salient stays as it was; when, relative to the gates,
    the ball and the actions, becomes chance."""
    m = np.asarray(mask)
    T, n = m.shape
    lags = rng.integers(0, T, size=n) if T else np.zeros(n, dtype=int)
    return m[(np.arange(T)[:, None] - lags[None, :]) % max(T, 1), np.arange(n)[None, :]]


def ring_permute_mask(mask: np.ndarray, ring: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The within-ring permutation null of one episode: each channel's column of ``mask``
    (``(T, n_l)``) shuffled among the steps the ball spent in the same ring (``ring``: ``(T,)``),
    channel by channel. How often a channel is salient in each ring stays; when, within the
    ring and relative to the gates, becomes chance (runs of salience are broken up, unlike in
    :func:`shift_mask`)."""
    m = np.asarray(mask)
    out = m.copy()
    ring = np.asarray(ring)
    for r in np.unique(ring):
        steps = np.flatnonzero(ring == r)
        if len(steps) < 2:
            continue
        for j in range(m.shape[1]):
            out[steps, j] = m[rng.permutation(steps), j]
    return out


def ring_permutation_null(episodes: Sequence[Mapping[str, Any]], statistic: "Statistic", n_draws: int = 200,
                          seed: int = 0) -> dict[str, np.ndarray]:
    """:func:`time_shift_null` with :func:`ring_permute_mask` instead of the time shift: the
    second null of the offset claims, which keeps each channel's salience rate per ring."""
    rng = np.random.default_rng(seed)
    draws = [[statistic(ep, ring_permute_mask(ep["mask"], ep["ring"], rng)) for ep in episodes]
             for _ in range(n_draws)]
    keys = draws[0][0] if draws and draws[0] else {}
    return {k: np.array([[v[k] for v in d] for d in draws], dtype=np.float64) for k in keys}


def mask_statistics(ep: Mapping[str, Any], mask: np.ndarray, *, n_rings: int = 4, n_actions: int = 5,
                    min_steps: int = MIN_STEPS) -> dict[str, float]:
    """Per-episode statistics of a salient ``mask`` (``(T, n_l)``) of test episode ``ep`` (its
    ``ring`` and ``actions`` per step), among the channels salient on at least ``min_steps``
    of its steps: ``ring share``, the median over them of the share of a channel's salient steps
    spent in its most frequent ring; ``ring pure share``, the share of them that spend at least
    90 % of their salient steps in one ring; ``pure share``, the share of them that give at
    least 90 % of their salient steps to one action (purity >= 0.9); ``channels``, how many there
    are. NaN where none is."""
    m = np.asarray(mask, dtype=np.float64)
    on = m.sum(0)
    keep = on >= min_steps
    if not keep.any():
        return {"ring share": np.nan, "ring pure share": np.nan, "pure share": np.nan, "channels": 0.0}
    rings = np.eye(n_rings + 1)[np.asarray(ep["ring"], dtype=int)]
    acts = np.eye(n_actions)[np.asarray(ep["actions"], dtype=int)]
    by_ring = (m.T @ rings)[keep]
    by_action = (m.T @ acts)[keep]
    return {"ring share": float(np.median(by_ring.max(1) / on[keep])),
            "ring pure share": float(np.mean(by_ring.max(1) / on[keep] >= 0.9)),
            "pure share": float(np.mean(by_action.max(1) / on[keep] >= 0.9)), "channels": float(keep.sum())}


def offset_statistics(ep: Mapping[str, Any], mask: np.ndarray, *, gate: str = "output", theta_g: float = 0.5,
                      n_rings: int = 4, reading: str = "first", censored: str = "keep") -> dict[str, Any]:
    """Per-episode statistics of the preceding offsets (:func:`first_salient_offsets` of
    ``ep[gate]`` and ``mask``, with ``reading`` and ``censored``): ``positive share`` (offsets
    > 0), ``spearman`` (rank correlation of the offset with the ball's ``distance_px`` at the
    salient step; negative: longer offsets nearer the centre; NaN for fewer than 3 offsets or a
    constant one), ``mean``, ``offsets``, and per ring of the salient step (index 0 = the
    centre) ``ring sum`` and ``ring count``,
    from which the offsets' mean by ring is pooled over episodes."""
    o = first_salient_offsets(ep[gate], mask, theta_g, reading=reading, censored=censored)
    off = o["offset"].astype(np.float64)
    ring = np.asarray(ep["ring"], dtype=int)[o["t"]]
    dist = np.asarray(ep["distance_px"], dtype=np.float64)[o["t"]]
    rho = np.nan
    if len(off) >= 3 and np.ptp(off) > 0 and np.ptp(dist) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = float(stats.spearmanr(off, dist).statistic)
    return {"positive share": float(np.mean(off > 0)) if len(off) else np.nan, "spearman": rho,
            "mean": float(off.mean()) if len(off) else np.nan, "offsets": float(len(off)),
            "ring sum": np.bincount(ring, weights=off, minlength=n_rings + 1)[:n_rings + 1],
            "ring count": np.bincount(ring, minlength=n_rings + 1)[:n_rings + 1].astype(np.float64)}


def zero_offset_comparison(episodes: Sequence[Mapping[str, Any]], *, gate: str, theta_g: float = 0.5,
                           n_rings: int = 4, reference: str = "output") -> dict[str, Any]:
    """Exercise 2 of the chapter: how often ``gate`` gives an offset of 0 against ``reference``,
    on the same test episodes and salient masks. ``difference``: per episode, the share of
    zero offsets with ``gate`` minus that with ``reference`` (NaN where either has no offset).
    Pooled over the episodes, for ``gate`` and (prefixed ``reference_``) for ``reference``:
    ``zero_share``, ``mean_offset``, ``open_at_salient`` (the share of salient steps on which
    the gate is above ``theta_g``) and ``zeros_at_start`` (the share of the zero offsets whose
    gate interval begins at step 0, left-censored)."""
    if gate == reference:
        raise ValueError(f"gate and reference are both {gate!r}: compare two different gates")
    out: dict[str, Any] = {}
    per: dict[str, np.ndarray] = {}
    for name, g in (("", gate), ("reference_", reference)):
        offs, starts, open_at, n_salient = [], [], 0, 0
        for ep in episodes:
            o = first_salient_offsets(ep[g], ep["mask"], theta_g)
            offs.append(o["offset"])
            starts.append(o["t0"])
            m = np.asarray(ep["mask"], dtype=bool)
            open_at += int((np.asarray(ep[g]) > theta_g)[m].sum())
            n_salient += int(m.sum())
        per[g] = np.array([1 - _positive_share(o) for o in offs])
        pooled = np.concatenate(offs) if offs else np.zeros(0)
        t0 = np.concatenate(starts) if starts else np.zeros(0)
        zeros = pooled == 0
        out[f"{name}zero_share"] = float(zeros.mean()) if len(pooled) else float("nan")
        out[f"{name}mean_offset"] = float(pooled.mean()) if len(pooled) else float("nan")
        out[f"{name}open_at_salient"] = open_at / n_salient if n_salient else float("nan")
        out[f"{name}zeros_at_start"] = float(np.mean(t0[zeros] == 0)) if zeros.any() else float("nan")
    out["reference"] = reference
    out["difference"] = per[gate] - per[reference]
    return out


def _positive_share(offsets: np.ndarray) -> float:
    """The share of positive ``offsets`` (NaN for none): 1 minus the share of zero offsets."""
    offsets = np.asarray(offsets)
    return float(np.mean(offsets > 0)) if len(offsets) else float("nan")


def pooled_ring_means(values: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The mean offset per ring (``ring 1`` ... ``ring n``), pooled over all offsets of all
    episodes (and draws) of :func:`per_episode` or :func:`time_shift_null` of
    :func:`offset_statistics`: the ``ring sum`` over the ``ring count``, summed over every axis
    but the last; NaN for a ring without offsets."""
    s = np.asarray(values["ring sum"], dtype=np.float64)
    c = np.asarray(values["ring count"], dtype=np.float64)
    s, c = s.reshape(-1, s.shape[-1]).sum(0), c.reshape(-1, c.shape[-1]).sum(0)
    return {f"ring {k}": float(s[k] / c[k]) if c[k] else float("nan") for k in range(1, len(s))}


Statistic = Callable[[Mapping[str, Any], np.ndarray], Mapping[str, Any]]


def per_episode(episodes: Sequence[Mapping[str, Any]], statistic: Statistic) -> dict[str, np.ndarray]:
    """``statistic(ep, ep["mask"])`` of every episode: name -> ``(n_episodes, ...)`` array, the
    per-unit values of a claim (the unit: the test episode)."""
    vals = [statistic(ep, ep["mask"]) for ep in episodes]
    return {k: np.array([v[k] for v in vals], dtype=np.float64) for k in (vals[0] if vals else {})}


def time_shift_null(episodes: Sequence[Mapping[str, Any]], statistic: Statistic, n_draws: int = 200,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """The time-shift null of a per-episode ``statistic``: in each of ``n_draws`` draws every
    episode's salient mask is shifted channel by channel (:func:`shift_mask`, one generator
    ``np.random.default_rng(seed)`` for all draws) and the statistic recomputed. Returns
    name -> ``(n_draws, n_episodes, ...)`` array; ``np.nanmean(a, axis=1)`` is the pooled
    statistic (the mean over episodes) under the null, one value per draw, what
    :func:`rlinside.claims.measure` takes as ``null``.

    Everything but the timing of salience stays: each channel's number and runs of salient
    steps, the gates, the ball and the actions. A pattern the null reproduces comes from those,
    not from when a channel becomes important."""
    rng = np.random.default_rng(seed)
    draws = [[statistic(ep, shift_mask(ep["mask"], rng)) for ep in episodes] for _ in range(n_draws)]
    keys = draws[0][0] if draws and draws[0] else {}
    return {k: np.array([[v[k] for v in d] for d in draws], dtype=np.float64) for k in keys}


def action_shift_null(by_seed: Mapping[int, "ContributionTests"], statistic: Statistic, n_draws: int = 200,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """A second null for the single-action claim: in each draw every episode's actions are
    rolled by a random time (one shift per episode, ``np.random.default_rng(seed)``) and the
    contributions and salient channels are recomputed for the rolled actions from the same
    hidden states and read-out weights. Salience is measured towards the chosen action, so a
    channel can only ever be salient for actions whose weight has the sign of its activation;
    this null keeps that link and breaks only *when* each action is taken. A purity it
    reproduces comes from the read-out weights, not from the policy's timing. Same shape as
    :func:`time_shift_null`'s result."""
    from rlinside.explain.contribution import contributions, salient_channels

    rng = np.random.default_rng(seed)
    eps = [(t.weight, ep) for t in by_seed.values() for ep in t.episodes]
    draws = []
    for _ in range(n_draws):
        row = []
        for w, ep in eps:
            a = np.asarray(ep["actions"])
            a2 = np.roll(a, int(rng.integers(1, len(a)))) if len(a) > 1 else a
            _, r = contributions(w, ep["h"], a2)
            row.append(statistic({**ep, "actions": a2}, salient_channels(r)))
        draws.append(row)
    keys = draws[0][0] if draws and draws[0] else {}
    return {k: np.array([[v[k] for v in d] for d in draws], dtype=np.float64) for k in keys}


def crossing_times(results: Sequence[Mapping[str, Any]], n_rings: int) -> pd.DataFrame:
    """Per test episode of :func:`~rlinside.agents.maze_a2c.evaluate_maze` and per wall whose ring
    the ball entered (wall ``k`` leads from ring ``k`` into ring ``k - 1``): the steps from entering
    ring ``k`` to entering ring ``k - 1`` (``crossed``), or, when it never crossed, the steps from
    entering ring ``k`` to the end of the episode, a lower bound (``crossed`` False).
    Columns ``episode``, ``wall``, ``steps to cross``, ``crossed``."""
    rows = []
    for i, r in enumerate(results):
        entered = {int(k): v for k, v in r["entered"].items()}
        for ring in range(n_rings, 0, -1):
            if ring not in entered:
                continue
            crossed = ring - 1 in entered
            end = entered[ring - 1] if crossed else r["steps"]
            rows.append({"episode": r.get("episode", i), "wall": ring, "steps to cross": end - entered[ring],
                         "crossed": crossed})
    return pd.DataFrame(rows, columns=["episode", "wall", "steps to cross", "crossed"])


def memoryless_crossings(results: Sequence[Mapping[str, Any]], n_rings: int) -> pd.DataFrame:
    """The claims of the memory ablation, per test episode (:func:`crossing_times` of the
    episodes run without memory): ``reached inner ring`` (1 when the ball entered ring 1 or
    the centre, else 0) and ``last minus outer``, the steps to cross wall 1 into the centre
    (censored at the episode's end: a lower bound) minus the mean steps to cross the outer walls
    (``n_rings`` to 2) in the same episode; NaN when the ball never entered ring 1 or crossed
    no outer wall. Index ``episode``."""
    ct = crossing_times(results, n_rings)
    rows = []
    for i, r in enumerate(results):
        e = r.get("episode", i)
        mine = ct[ct["episode"] == e]
        last = mine[mine["wall"] == 1]["steps to cross"]
        outer = mine[(mine["wall"] > 1) & mine["crossed"]]["steps to cross"]
        reached = any(int(k) <= 1 for k in r["entered"])
        rows.append({"episode": e, "reached inner ring": float(reached),
                     "last minus outer": float(last.iloc[0] - outer.mean()) if len(last) and len(outer) else np.nan,
                     "last crossed": bool(len(last) and mine[mine["wall"] == 1]["crossed"].iloc[0])})
    return pd.DataFrame(rows).set_index("episode")


# ----------------------------------------------------------------------------- notebook 04: memory by window


def seed_policies(obs_delay: int = 0, *, tilt_mode: str = "hold", min_step: int | None = None,
                  fine_tuned: bool = False, trainer: str = "a2c") -> list:
    """The stored maze policies of one condition, one per training seed (the most trained of
    each seed), sorted by seed: trained by ``trainer`` (``a2c`` or ``dagger``) for at least
    ``min_step`` steps (default: 1M for A2C, any for DAgger, whose steps are labelled steps) in
    the maze with observation delay ``obs_delay`` and ``tilt_mode`` (``[(seed, net, artifact),
    ...]``); ``fine_tuned``: the policies that started from other weights (``init_weights``)
    instead of the ones trained from scratch."""
    if trainer not in ("a2c", "dagger"):
        raise ValueError(f"trainer must be a2c or dagger, got {trainer!r}")
    min_step = (1_000_000 if trainer == "a2c" else 0) if min_step is None else min_step
    from rlinside.agents import shipped

    by_seed: dict[int, list] = {}
    for a in find_policies():
        env = a.config.get("env", {})
        if (a.config.get("trainer", "a2c") == trainer and int(env.get("obs_delay", 0) or 0) == obs_delay
                and env.get("tilt_mode", "hold") == tilt_mode and a.config.get("step", 0) >= min_step
                and bool(a.config.get("init_weights")) == fine_tuned):
            by_seed.setdefault(int(a.config["seed"]), []).append(a)
    out = []
    for seed in sorted(by_seed):
        art = shipped.most_trained(by_seed[seed])
        net, _ = shipped.load_net("maze-policy", art)
        out.append((seed, net, art))
    return out


def window_ablation(net: MazePolicy, env_config: MarbleMazeConfig, windows: Sequence[int],
                    n_tests: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, list[dict[str, Any]]]]:
    """The greedy test with the memory cut to a window: for each ``K`` of ``windows`` the
    ``n_tests`` test episodes with the LSTM state recomputed from zero over the last ``K``
    observations before every step (:func:`~rlinside.agents.maze_a2c.evaluate_maze`'s
    ``window``; ``K = 1`` is the reset-every-step ablation), and with the full memory
    (``K`` = 0 in the tables, drawn as "full").

    Returns one row per (``window``, ``episode``) with ``success`` and ``steps``,
    :func:`crossing_times` of every episode with a ``window`` column, and the test results of
    each window (``window -> evaluate_maze's list``)."""
    if not windows or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in windows):
        raise ValueError(f"windows must be ints >= 1 (steps of memory kept), got {list(windows)!r}")
    rows, crossings, by_window = [], [], {}
    for k in [0, *windows]:
        results = by_window[k] = evaluate_maze(net, env_config, n_tests, window=k or None)
        rows += [{"window": k, "episode": r["episode"], "success": float(r["success"]), "steps": r["steps"]}
                 for r in results]
        crossings.append(crossing_times(results, env_config.n_rings).assign(window=k))
    return pd.DataFrame(rows), pd.concat(crossings, ignore_index=True), by_window


def window_study(conditions: Mapping[str, list], windows: Sequence[int], n_tests: int,
                 delays: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`window_ablation` of every policy of every condition (``name -> [(seed, net,
    artifact), ...]`` as :func:`seed_policies` returns), each in the maze it was trained in, with
    the windows ``windows`` plus, per condition, its planted delay ``d`` and ``d + 1`` when
    ``delays`` names one (the windows that just miss and just cover it).

    Returns the episode rows and the crossings (columns ``condition`` and ``seed`` added), and
    :func:`memoryless_crossings` of the reset-every-step runs (``K = 1``) with the same columns."""
    episodes, crossings, memless = [], [], []
    for name, policies in conditions.items():
        d = (delays or {}).get(name, 0)
        ks = sorted({*windows, *([d, d + 1] if d else [])})
        for seed, net, art in policies:
            env_cfg = policy_config(art).env_config()
            e, c, by_window = window_ablation(net, env_cfg, ks, n_tests)
            episodes.append(e.assign(condition=name, seed=seed))
            crossings.append(c.assign(condition=name, seed=seed))
            if 1 in by_window:
                memless.append(memoryless_crossings(by_window[1], env_cfg.n_rings).assign(condition=name, seed=seed))
    if not episodes:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    return (pd.concat(episodes, ignore_index=True), pd.concat(crossings, ignore_index=True),
            pd.concat(memless) if memless else pd.DataFrame())


def window_summary(episodes: pd.DataFrame) -> pd.DataFrame:
    """Success rate per (``seed``, ``window``) of :func:`window_ablation`'s episode rows (with a
    ``seed`` column), with its bootstrap interval over the test episodes
    (:func:`rlinside.claims.interval_table`)."""
    from rlinside.claims import interval_table

    keys = ["condition", "seed", "window"] if "condition" in episodes.columns else ["seed", "window"]
    return interval_table(episodes, keys, "success")


def window_crossings(crossings: pd.DataFrame) -> pd.DataFrame:
    """Per (``seed``, ``window``, ``wall``) of :func:`window_ablation`'s crossings (with a
    ``seed`` column): how many episodes reached the wall's ring, the share of those that
    crossed it, and the mean steps to cross over the crossings with its bootstrap interval."""
    from rlinside.claims import interval_table

    if not len(crossings):
        return pd.DataFrame()
    keys = (["condition"] if "condition" in crossings.columns else []) + ["seed", "window", "wall"]
    reached = crossings.groupby(keys).size().rename("reached")
    share = crossings.groupby(keys)["crossed"].mean().rename("share crossed")
    crossed = crossings[crossings["crossed"]]
    parts = [reached, share]
    if len(crossed):
        parts.append(interval_table(crossed, keys, "steps to cross").add_prefix("steps, "))
    return pd.concat(parts, axis=1)


# ----------------------------------------------------------------------------- notebook 03: method choices


def salient_mask(ep: Mapping[str, Any], theta_c: float | None = None) -> np.ndarray:
    """The salient steps of each channel of test episode ``ep`` (``(T, n_l)`` bool): the
    chapter's default (``theta_c=None``, the smallest set of channels carrying more than half
    of the chosen action's score, ``ep["mask"]``), or the channels whose share of the score
    ``ep["r"]`` exceeds ``theta_c`` (the paper's unstated threshold)."""
    if theta_c is None:
        return np.asarray(ep["mask"], dtype=bool)
    if not 0 < theta_c < 1:
        raise ValueError(f"theta_c must be in (0, 1) (a share of the score) or None, got {theta_c!r}")
    return np.asarray(ep["r"]) > theta_c


def with_salience(episodes: Sequence[Mapping[str, Any]], theta_c: float | None) -> list[dict[str, Any]]:
    """Shallow copies of ``episodes`` whose ``mask`` is :func:`salient_mask` at ``theta_c``."""
    return [{**ep, "mask": salient_mask(ep, theta_c)} for ep in episodes]


def offset_sensitivity(episodes: Sequence[Mapping[str, Any]], settings: Sequence[Mapping[str, Any]], *,
                       n_rings: int = 4, null_draws: int = 100, seed: int = 0) -> pd.DataFrame:
    """The offset claims under other method choices: for each setting (keys ``gate``,
    ``theta_g``, ``theta_c`` (None: top half of the score), ``reading``, ``censored``; missing
    keys take the chapter's defaults), over the same test episodes, the number of offsets, the
    mean over episodes of the positive share and of the Spearman correlation of offset with
    distance, each with its bootstrap interval and the 95 % range of the time-shift null
    (``null_draws`` draws), and the mean offset in the outer and the inner ring. Whether a
    pattern survives the choices, and whether the null produces it too, is read across rows."""
    from rlinside.claims import bootstrap_ci

    defaults = {"gate": "output", "theta_g": 0.5, "theta_c": None, "reading": "first", "censored": "keep"}
    rows = []
    for setting in settings:
        unknown = set(setting) - set(defaults)
        if unknown:
            raise ValueError(f"unknown offset setting(s) {sorted(unknown)}; allowed: {sorted(defaults)}")
        cfg = {**defaults, **setting}
        eps = with_salience(episodes, cfg["theta_c"])
        stat = partial(offset_statistics, gate=cfg["gate"], theta_g=cfg["theta_g"], n_rings=n_rings,
                       reading=cfg["reading"], censored=cfg["censored"])
        real = per_episode(eps, stat)
        null = time_shift_null(eps, stat, null_draws, seed=seed)
        rings = pooled_ring_means(real)
        row = {"gate": cfg["gate"], "theta_g": cfg["theta_g"],
               "theta_c": "top half" if cfg["theta_c"] is None else cfg["theta_c"],
               "reading": cfg["reading"], "left-censored": cfg["censored"], "offsets": int(np.nansum(real["offsets"]))}
        for key, name in (("positive share", "positive share"), ("spearman", "rho(offset, distance)")):
            v = real[key]
            lo, hi = bootstrap_ci(v)
            draws = np.array([nan_mean(d) for d in null[key]])  # the null's pooled statistic, one per draw
            draws = draws[np.isfinite(draws)]
            nq = np.quantile(draws, [0.025, 0.975]) if draws.size else (np.nan, np.nan)
            row |= {name: nan_mean(v), f"{name} low": lo,
                    f"{name} high": hi, f"{name} null low": float(nq[0]), f"{name} null high": float(nq[1])}
        row |= {"mean offset, outer ring": rings.get(f"ring {n_rings}", np.nan),
                "mean offset, ring 1": rings.get("ring 1", np.nan)}
        rows.append(row)
    return pd.DataFrame(rows)


def offset_claims(episodes: Sequence[Mapping[str, Any]], policy_tests: Sequence[PolicyOffsets], *,
                  method: Mapping[str, Any], n_rings: int, null_draws: int, profile: str | None,
                  planted_delay: int = 4, recovered_delay: int = 8, recovered_trainer: str = "dagger") -> list:
    """The measurements of the offset claims over the test episodes of the no-delay A2C policy
    of every training seed in ``policy_tests`` (pooled; each seed's value in the details; the
    given ``episodes`` when there is none), their ``mask`` the method's salience, under the
    offset choices ``method`` (``gate``, ``theta_g``, ``reading``,
    ``censored``): ``gate_precedes_contribution`` and ``offsets_longer_near_centre`` against the
    time-shift null, and ``planted_delay_moves_offsets`` (the mean offset of the policy trained
    with ``planted_delay`` minus that of the policy of the same trainer without a delay, paired
    by test episode) when both are in ``policy_tests``; ``planted_delay_recovered`` over the
    training seeds: each ``recovered_trainer`` policy trained with ``recovered_delay`` against the
    no-delay policy of the same trainer and seed, paired by (seed, test episode)."""
    from rlinside import claims

    m = {k: method[k] for k in ("gate", "theta_g", "reading", "censored") if k in method}
    stat = partial(offset_statistics, n_rings=n_rings, **m)
    # the unit is the test episode, pooled over the no-delay A2C policies of every training seed
    seeds = {int(p.artifact.config["seed"]): p.episodes for p in policy_tests
             if p.trainer == "a2c" and p.delay == 0 and p.artifact.config.get("step", 0) >= 1_000_000
             and not p.artifact.config.get("init_weights")}
    if seeds:
        episodes = [ep for s in sorted(seeds) for ep in seeds[s]]
    real = per_episode(episodes, stat)
    null_all = time_shift_null(episodes, stat, null_draws)
    null = {k: np.array([nan_mean(d) for d in null_all[k]]) for k in ("positive share", "spearman")}
    n_offsets = int(np.nansum(real["offsets"]))
    scale = {"profile": profile, "episodes": len(episodes), "seeds": max(1, len(seeds))}
    null_scale = {**scale, "null_draws": null_draws}
    per_seed = {s: per_episode(eps, stat) for s, eps in sorted(seeds.items())}
    ring_null_all = ring_permutation_null(episodes, stat, min(null_draws, 100))
    ring_null = {k: np.array([nan_mean(d) for d in ring_null_all[k]]) for k in ("positive share", "spearman")}

    def ring_range(k: str) -> list[float]:
        d = ring_null[k][np.isfinite(ring_null[k])]
        return [float(q) for q in np.quantile(d, [0.025, 0.975])] if d.size else [float("nan")] * 2

    choices = {k: str(v) for k, v in method.items()} | {
        f"seed {s}: {k}": nan_mean(v[k]) for s, v in per_seed.items() for k in ("positive share", "spearman")}
    measured = [
        claims.measure("lstm_contribution.gate_precedes_contribution", real["positive share"], scale=null_scale,
                       null=null["positive share"],
                       details={"offsets": n_offsets, "null mean": float(np.mean(null["positive share"])),
                                "within-ring permutation null, 95 % range": ring_range("positive share"),
                                **choices}),
        claims.measure("lstm_contribution.offsets_longer_near_centre", real["spearman"], scale=null_scale,
                       null=null["spearman"],
                       details={"null mean": float(np.mean(null["spearman"])),
                                "within-ring permutation null, 95 % range": ring_range("spearman"),
                                "mean offset by ring": pooled_ring_means(real),
                                "null mean offset by ring": pooled_ring_means(null_all), **choices}),
    ]
    def means(p: PolicyOffsets) -> dict[int, float]:
        return {i: v for i, v in enumerate(per_episode(p.episodes, stat)["mean"]) if np.isfinite(v)}

    # over seeds: each DAgger policy trained with the delay against the no-delay DAgger policy of its seed
    # (A2C trained from scratch with this delay does not learn the task; see the chapter page)
    tuned = [p for p in policy_tests if p.trainer == recovered_trainer and p.delay == recovered_delay]
    diffs, by_seed = {}, {}
    for p in tuned:
        seed = int(p.artifact.config["seed"])
        ref = [q for q in policy_tests if q.trainer == recovered_trainer and q.delay == 0
               and not q.artifact.config.get("init_weights") and int(q.artifact.config["seed"]) == seed]
        if ref:
            d = claims.paired_differences(means(p), means(ref[0]))
            diffs.update({(seed, i): v for i, v in enumerate(d)})
            by_seed[f"seed {seed}"] = nan_mean(d)
    measured.append(claims.measure(  # with no fine-tuned delayed policy shipped: no values, "not tested"
        "lstm_contribution.planted_delay_recovered", list(diffs.values()),
        scale={**scale, "episodes": len(diffs), "seeds": len(by_seed)},
        details={"by seed": by_seed, "delay": recovered_delay, "delayed policies": len(tuned), **choices}))
    delayed = [p for p in policy_tests if p.delay == planted_delay]
    # its reference: the no-delay policy of the same trainer and seed (not the first one found)
    reference = [q for q in policy_tests if delayed and q.delay == 0 and q.trainer == delayed[0].trainer
                 and not q.artifact.config.get("init_weights")
                 and int(q.artifact.config["seed"]) == int(delayed[0].artifact.config["seed"])]
    if delayed and reference:

        d_off, r_off = means(delayed[0]), means(reference[0])
        measured.append(claims.measure(
            "lstm_contribution.planted_delay_moves_offsets", claims.paired_differences(d_off, r_off), scale=scale,
            details={"delayed policy": delayed[0].artifact.key, "reference policy": reference[0].artifact.key,
                     "delayed mean offset": float(np.mean(list(d_off.values()))) if d_off else float("nan"),
                     "reference mean offset": float(np.mean(list(r_off.values()))) if r_off else float("nan"),
                     **choices}))
    return measured


def example_channel(ep: Mapping[str, Any], gate: str = "output", theta_g: float = 0.5, min_openings: int = 2) -> int:
    """The channel Figure 5 draws, by a stated rule: among the channels of test episode ``ep``
    whose ``gate`` rises above ``theta_g`` at least ``min_openings`` times, the one salient on
    the most steps (ties: the lowest index); with no such channel, the most salient one."""
    above = np.asarray(ep[gate]) > theta_g
    openings = (above & ~np.vstack([np.zeros((1, above.shape[1]), bool), above[:-1]])).sum(0)
    salient = np.asarray(ep["mask"], dtype=bool).sum(0)
    eligible = openings >= min_openings
    return int(np.argmax(np.where(eligible, salient, -1)) if eligible.any() else np.argmax(salient))


# ----------------------------------------------------------------------------- notebook 05: a known lag


def known_lag_study(lags: Sequence[int], seeds: Sequence[int], *, hidden: int = 16, updates: int = 1500,
                    episodes: int = 40, theta_g: float = 0.5, theta_c: float = 0.1,
                    gates: Sequence[str] = ("input", "forget", "output")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The offset method on a task whose memory dependency is known
    (:mod:`rlinside.explain.known_lag`): for each lag of ``lags`` and training seed of ``seeds``
    (report seeds), a small LSTM trained on the cue -> response task, then ``episodes`` fresh
    episodes (evaluation seeds, :data:`rlinside.seeds.EVALUATION`) and the offsets of every gate
    of ``gates`` at the go step, the decision that needs the memory.

    Returns the networks (``lag, seed, accuracy``: at the go steps of 500 fresh episodes) and
    the offsets (``lag, seed, gate, episode, channel, offset, t0, censored, correct``)."""
    from rlinside import seeds as S

    bad = [lag for lag in lags if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1]
    if bad or not lags or not seeds:
        raise ValueError(f"lags must be ints >= 1 and seeds non-empty, got lags={list(lags)!r}, seeds={list(seeds)!r}")
    not_report = [seed for seed in seeds if S.purpose_of(seed) != "report"]
    if not_report:
        raise ValueError(f"training seeds must be report seeds ({S.REPORT.start}-{S.REPORT.stop - 1}): {not_report}")
    nets, offs = [], []
    with torch_threads(1):  # small batches: more threads only thrash (4x slower measured on 2 busy cores)
        for lag in lags:
            for seed in seeds:
                nets_offs = _known_lag_network(lag, seed, hidden, updates, episodes, theta_g, theta_c, gates)
                nets.append(nets_offs[0])
                offs += nets_offs[1]
    table = pd.concat(offs, ignore_index=True)  # an empty part (no offset) would leave object columns
    return pd.DataFrame(nets), table.astype({"episode": int, "channel": int, "offset": int, "t0": int, "lag": int,
                                             "censored": bool, "correct": bool, "seed": int})


def _known_lag_network(lag: int, seed: int, hidden: int, updates: int, episodes: int, theta_g: float,
                       theta_c: float, gates: Sequence[str]) -> tuple[dict[str, Any], list[pd.DataFrame]]:
    """One network of :func:`known_lag_study`: its row and its offsets per gate."""
    from rlinside import seeds as S
    from rlinside.explain import known_lag as K

    net, acc = K.train_cue_response(lag, hidden=hidden, updates=updates, seed=seed)
    offs = [K.lag_offsets(net, lag, episodes=episodes, gate=gate, theta_g=theta_g, theta_c=theta_c,
                          seed=S.EVALUATION.start + seed).assign(seed=seed, gate=gate) for gate in gates]
    return {"lag": lag, "seed": seed, "accuracy": acc}, offs


def known_lag_summary(offsets: pd.DataFrame) -> pd.DataFrame:
    """Per (``gate``, ``lag``, ``seed``) of :func:`known_lag_study`'s offsets: how many, the
    share left-censored, the median offset (a censored offset counts with its observed value, a
    lower bound of the true one), the median over the uncensored ones, and each minus the lag
    (``error`` and ``error, uncensored``; 0 where the method recovers the lag)."""
    rows = []
    for (gate, lag, seed), g in offsets.groupby(["gate", "lag", "seed"]):
        unc = g[~g["censored"]]["offset"]
        med = float(g["offset"].median())
        rows.append({"gate": gate, "lag": lag, "seed": seed, "offsets": len(g),
                     "censored share": float(g["censored"].mean()), "median offset": med,
                     "median, uncensored": float(unc.median()) if len(unc) else float("nan"),
                     "error": med - lag, "error, uncensored": float(unc.median()) - lag if len(unc) else float("nan")})
    return pd.DataFrame(rows, columns=["gate", "lag", "seed", "offsets", "censored share", "median offset",
                                       "median, uncensored", "error", "error, uncensored"])


# ----------------------------------------------------------------------------- notebook 02: the claims


def seed_contribution_tests(n_tests: int, fraction: float, seeds: int,
                            figure: ContributionTests | None = None) -> dict[int, ContributionTests]:
    """:func:`contribution_tests` for the no-delay A2C policy of each of the first ``seeds``
    training seeds (:func:`seed_policies`), ``{seed: tests}``; ``figure``: the tests already run
    on the chapter's policy (seed 0), reused for its seed. Raises when fewer seeds are stored."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    stored = seed_policies(0)
    if len(stored) < seeds:
        raise ValueError(f"{seeds} training seeds asked for, {len(stored)} no-delay A2C maze policies stored "
                         f"(seeds {[s for s, _, _ in stored]}); train more with scripts/train_maze.py or lower seeds")
    out = {}
    for seed, net, art in stored[:seeds]:
        if figure is not None and seed == 0:
            out[seed] = figure
        else:
            out[seed] = contribution_tests(n_tests, fraction, net=net, env_config=policy_config(art).env_config())
    return out


def seed_summaries(by_seed: Mapping[int, ContributionTests]) -> pd.DataFrame:
    """:func:`specialisation`'s summary of every training seed side by side: one column per seed."""
    return pd.DataFrame({f"seed {s}": specialisation(t)[0] for s, t in by_seed.items()})


def readout_over_seeds(by_seed: Mapping[int, ContributionTests], ks: tuple[int, ...] = (1, 2, 4, 8)) -> pd.DataFrame:
    """Both read-out measures (:func:`readout_ablation`, :func:`readout_score_removed`) per
    ranking and ``k``, each episode's mean over its steps, then the mean over the test episodes
    of every seed's policy with a bootstrap interval over those episodes: one row per (measure, ranking, k), columns
    ``mean``, ``low``, ``high``, ``n`` (episodes)."""
    from rlinside import claims

    rows = []
    for tests in by_seed.values():
        bounds = np.cumsum([0] + [len(e["actions"]) for e in tests.episodes])
        h_all = tests.concat("h")
        rankings = _rankings(tests.weight, tests.bias, h_all, tests.actions, np.random.default_rng(0))
        pos = np.maximum(0, tests.weight[tests.actions] * h_all)
        total = pos.sum(1)
        for name, top in rankings.items():
            for k in ks:
                h_cut = h_all.copy()
                np.put_along_axis(h_cut, top[:, :k], 0.0, axis=1)
                changed = (h_cut @ tests.weight.T + tests.bias).argmax(1) != tests.actions
                kept = np.take_along_axis(pos, top[:, :k], axis=1).sum(1)
                removed = np.divide(kept, total, out=np.full(len(total), np.nan), where=total > 0)
                for a, b in zip(bounds[:-1], bounds[1:]):
                    if b > a:
                        rows += [{"measure": "action changed", "ranking": name, "k": k,
                                  "value": float(np.mean(changed[a:b]))},
                                 {"measure": "score removed", "ranking": name, "k": k,
                                  "value": float(np.nanmean(removed[a:b]))}]
    return claims.interval_table(pd.DataFrame(rows), ["measure", "ranking", "k"], "value")


def contribution_claims(tests: ContributionTests, summary: Mapping[str, Any], atari: AtariContributions | None, *,
                        null_draws: int, profile: str | None, k: int = 4,
                        by_seed: Mapping[int, ContributionTests] | None = None) -> list:
    """The measurements of notebook 02's claims over the test episodes (the unit) of ``tests``,
    or pooled over the policies of every training seed in ``by_seed`` (each seed's value in the
    details): sparsity on average and step by step, single-action and single-ring channels
    against the time-shift null (``null_draws`` draws), and the read-out test (the share of
    steps whose action changes when the top ``k`` channels by contribution are removed, minus
    the same by |weight|, paired by episode). ``summary``: the chapter policy's pooled sparsity
    figures."""
    from rlinside import claims

    by_seed = dict(by_seed) if by_seed else {0: tests}
    n_l = tests.weight.shape[1]
    episodes = [ep for t in by_seed.values() for ep in t.episodes]
    counts = [e["mask"].sum(1) for e in episodes]
    flips = pd.concat([readout_flips(t, k=k) for t in by_seed.values()], ignore_index=True)
    stat = partial(mask_statistics, n_rings=tests.env_config.n_rings, n_actions=tests.weight.shape[0])
    real = per_episode(episodes, stat)
    null = {key: np.array([nan_mean(d) for d in v]) for key, v in time_shift_null(episodes, stat,
                                                                                 null_draws).items()}
    act_null = np.array([nan_mean(d) for d in action_shift_null(by_seed, stat, null_draws)["pure share"]])
    scale = {"profile": profile, "episodes": len(episodes), "seeds": len(by_seed)}
    null_scale = {**scale, "null_draws": null_draws}
    seeds: dict[str, Any] = {}
    for s, t in by_seed.items():
        r, c, f = per_episode(t.episodes, stat), [e["mask"].sum(1) for e in t.episodes], readout_flips(t, k=k)
        seeds[f"seed {s}"] = {"fraction of channels": nan_mean([x.mean() / n_l for x in c]),
                              "steps below 10 %": nan_mean([np.mean(x < 0.1 * n_l) for x in c]),
                              "pure share": nan_mean(r["pure share"]),
                              "ring pure share": nan_mean(r["ring pure share"]),
                              "flip difference": nan_mean(f[RANKINGS[0]] - f["|weight|"])}
    pooled = {"mean channels per step (seed 0)": float(summary["channels needed per step (mean)"]),
              "steps below 10 % (seed 0)": float(summary["steps needing fewer than 10% of channels"]),
              "channels ever salient (seed 0)": int(summary["channels ever salient"]), "channels": n_l,
              "by seed": seeds}
    if atari is not None:
        pooled.update({"atari mean fraction": atari.mean_fraction, "atari steps below 10 %": atari.steps_below_10pct})
    changed = readout_ablation(tests)
    removed = readout_score_removed(tests)
    return [
        claims.measure("lstm_contribution.sparse_on_average", [c.mean() / n_l for c in counts], scale=scale,
                       details=pooled),
        claims.measure("lstm_contribution.sparse_at_each_step", [np.mean(c < 0.1 * n_l) for c in counts],
                       scale=scale, details={**pooled, f"steps with at most {int(0.1 * n_l) + 1} channels (one more), "
                                             "mean over episodes": nan_mean([np.mean(c <= int(0.1 * n_l) + 1)
                                                                             for c in counts])}),
        claims.measure("lstm_contribution.single_action_channels", real["pure share"], scale=null_scale,
                       null=null["pure share"], details={"null mean": nan_mean(null["pure share"]), "by seed": seeds,
                                                         "action-shift null, mean": float(np.mean(act_null)),
                                                         "action-shift null, 95 % range": [
                                                             float(q) for q in np.quantile(act_null, [0.025, 0.975])]}),
        claims.measure("lstm_contribution.ring_channels", real["ring pure share"], scale=null_scale,
                       null=null["ring pure share"],
                       details={"null mean": nan_mean(null["ring pure share"]),
                                "median share in main ring (mean over episodes)": nan_mean(real["ring share"]),
                                "null median share in main ring": nan_mean(null["ring share"]), "by seed": seeds}),
        claims.measure("lstm_contribution.contribution_finds_channels", flips[RANKINGS[0]] - flips["|weight|"],
                       scale=scale,
                       details={f"action changed, {name} (k = {kk}, seed 0)": float(changed.loc[name, kk])
                                for name in changed.index for kk in changed.columns}
                       | {f"score removed, {name} (k = {kk}, seed 0)": float(removed.loc[name, kk])
                          for name in removed.index for kk in removed.columns} | {"by seed": seeds}),
    ]


def memory_claims(episodes: pd.DataFrame, memless: pd.DataFrame, *, planted_delay: int, profile: str | None,
                  base_condition: str = "no delay", delayed_condition: str | None = None) -> list:
    """The measurements of notebook 04's claims from :func:`window_study`'s tables: the two
    memoryless claims over the reset-every-step episodes of the ``base_condition`` policies
    (pooled over seeds, each seed's value in the details), and ``delayed_policy_needs_memory``:
    per (seed, test episode) of ``delayed_condition`` (default: every condition but the base),
    success with the full memory minus success with a window of ``planted_delay`` images (no
    values when none was tested)."""
    from rlinside import claims

    out = []
    base = memless[memless["condition"] == base_condition] if len(memless) else memless
    if len(base):
        def scale(key: str) -> dict:  # what the values come from: episodes (and seeds) with a value
            has = base[np.isfinite(base[key].astype(float))]
            return {"profile": profile, "episodes": len(has), "seeds": int(has["seed"].nunique())}

        by_seed = {k: {f"seed {s}": v for s, v in base.groupby("seed")[k].mean().round(3).items()}
                   for k in ("reached inner ring", "last minus outer")}
        timed = base[np.isfinite(base["last minus outer"].astype(float))]
        out += [claims.measure("lstm_contribution.memoryless_reaches_inner_ring", base["reached inner ring"],
                               scale=scale("reached inner ring"), details={"by seed": by_seed["reached inner ring"]}),
                claims.measure("lstm_contribution.memoryless_last_gate_slower", base["last minus outer"],
                               scale=scale("last minus outer"),
                               details={"by seed": by_seed["last minus outer"], "episodes tested": len(base),
                                        "episodes with a value": len(timed),
                                        "of them, wall 1 crossed": int(timed["last crossed"].astype(bool).sum())})]
    if not len(episodes):
        delayed = episodes
    elif delayed_condition is None:
        delayed = episodes[episodes["condition"] != base_condition]
    else:
        delayed = episodes[episodes["condition"] == delayed_condition]
    diff, details = pd.Series(dtype=float), {"delayed policies": 0}
    if len(delayed):
        wide = delayed.pivot_table(index=["seed", "episode"], columns="window", values="success")
        if 0 in wide.columns and planted_delay in wide.columns:
            diff = (wide[0] - wide[planted_delay]).dropna()
            by_seed = {f"seed {s}": float(v) for s, v in diff.groupby(level="seed").mean().round(3).items()}
            covered = planted_delay + 1 if planted_delay + 1 in wide.columns else None
            details = {"by seed": by_seed, "full memory": float(wide[0].mean()),
                       f"window {planted_delay}": float(wide[planted_delay].mean())}
            if covered:
                details[f"window {covered}"] = float(wide[covered].mean())
    seeds = int(diff.index.get_level_values("seed").nunique()) if len(diff) else 0
    out.append(claims.measure(  # with no delayed policy shipped: no values, "not tested"
        "lstm_contribution.delayed_policy_needs_memory", diff.to_numpy(),
        scale={"profile": profile, "episodes": int(len(diff)), "seeds": seeds}, details=details))
    return out
