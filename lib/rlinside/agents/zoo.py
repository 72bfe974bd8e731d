"""The Atari agent zoo: shipping trained agents to the store, finding and loading them, playing.

Each shipped agent is a store artifact of kind ``atari-agent`` (``data/atari-agent/<key>/``)
holding ``weights.pt`` (float16, the agent's own weights format), ``metrics.csv`` (the
training log up to that point: one row per training game) and ``eval.json``; its manifest
records the agent, game, seed, stage (``early`` or ``final``), agent steps, training wall
time, the full training configuration, and the evaluation: full-game scores over
``episodes`` games under the agent's protocol, next to a uniformly random policy's scores on
the same games (same seeds). The families are those of the registry
(:mod:`rlinside.agents.registry`) whose domain is ``atari``:

========== ================================================ ==========================
name       what                                             module
========== ================================================ ==========================
dddqn      Double + Dueling DQN                             :mod:`rlinside.agents.dqn`
drqn       recurrent attention DQN (split attention)        :mod:`rlinside.agents.drqn`
a2c        A2C (synchronous A3C), 3 stacked frames          :mod:`rlinside.agents.a2c`
a2c-lstm   A2C with an LSTM, 1 frame per step               :mod:`rlinside.agents.a2c`
========== ================================================ ==========================
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from rlinside import store
from rlinside.agents import registry, shipped
from rlinside.agents.rundir import snapshots

__all__ = [
    "AGENTS",
    "ARTIFACT_KIND",
    "Policy",
    "evaluate_agent",
    "load_weights_file",
    "ship_agent",
    "select_snapshot",
    "selection_rows",
    "summary_rows",
    "find_agents",
    "load_agent",
    "random_scores",
    "play_frames",
    "play_states",
    "most_trained",
    "read_metrics",
]

ARTIFACT_KIND = "atari-agent"
ARTIFACT_VERSION = "1"
STAGES = ("early", "final")


class _Kinds(Mapping):
    """The Atari families of the registry (:mod:`rlinside.agents.registry`), by name, read
    live: a family registered later appears here too."""

    def __getitem__(self, name: str) -> registry.AgentKind:
        kind = registry.KINDS.get(name)
        if kind is None or kind.domain != "atari":
            raise KeyError(name)
        return kind

    def __iter__(self):
        return (k.name for k in registry.kinds("atari"))

    def __len__(self) -> int:
        return len(registry.kinds("atari"))


#: The zoo's agent families: name -> :class:`~rlinside.agents.registry.AgentKind`.
AGENTS: Mapping[str, registry.AgentKind] = _Kinds()


def _spec(agent: str) -> registry.AgentKind:
    if agent not in AGENTS:
        raise ValueError(f"agent must be one of {sorted(AGENTS)}, got {agent!r}")
    return AGENTS[agent]


def _function(agent: str, which: str) -> Callable:
    return _spec(agent).function(which)


def load_weights_file(agent: str, path: str | Path, device: torch.device | None = None):
    """``(net, meta)`` from a weights file of ``agent`` (float32 net in eval mode)."""
    return _function(agent, "load")(path, device=device)


def evaluate_agent(agent: str, net: torch.nn.Module, game: str, episodes: int, seed: int = 0,
                   *, progress: bool = False) -> np.ndarray:
    """Full-game scores ``(episodes,)`` of ``net`` with the zoo's evaluation protocol for
    ``agent`` (:attr:`~rlinside.agents.registry.AgentKind.protocol`)."""
    return _function(agent, "evaluate")(net, game, episodes, seed=seed, progress=progress)


class Policy:
    """One agent acting in one game, step by step, with its own recurrent state.

    ``act(obs)`` takes the preprocessed observation ``(C, 84, 84)`` uint8 and returns an
    action: greedy with probability 1 - epsilon for Q-learning agents (epsilon 0.001 as in
    evaluation), sampled from the policy for actor-critic agents. Call :meth:`reset` at the
    start of a game and :meth:`lost_life` after a lost life (recurrent agents zero their state
    then, as in training).
    """

    def __init__(self, agent: str, net: torch.nn.Module, seed: int = 0, epsilon: float = 0.001) -> None:
        self.kind = _spec(agent)
        self.agent, self.net, self.epsilon = agent, net, epsilon
        self.rng = np.random.default_rng(seed)
        self.device = next(net.parameters()).device
        self.state = None

    def reset(self) -> None:
        self.state = None

    def lost_life(self) -> None:
        if self.kind.reset_on_life_loss:
            self.state = None

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> int:
        x = torch.from_numpy(np.asarray(obs)[None]).to(self.device)
        if self.kind.output == "actor-critic":
            from rlinside.agents.a2c import _sample_actions

            logits, _, self.state = self.net(x, self.state)
            return int(_sample_actions(logits, self.rng)[0])
        if self.kind.output == "q+state":
            q, self.state = self.net(x, self.state)
        else:
            q = self.net(x)
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(q.shape[1]))
        return int(q.argmax(dim=1).item())


def random_scores(game: str, episodes: int, seed: int = 0) -> np.ndarray:
    """Full-game scores of a uniformly random policy on the evaluation games of ``seed``
    (``game_seed(seed, i, purpose=1)``, the games the agents are evaluated on)."""
    from rlinside.agents.dqn import game_seed
    from rlinside.envs.atari import make_atari_env

    env = make_atari_env(game, seed=seed, frame_stack=1, training=False)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
    scores = np.zeros(episodes)
    try:
        for i in range(episodes):
            env.reset(seed=game_seed(seed, i, purpose=1))
            while True:
                _, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
                if terminated or truncated:
                    scores[i] = float(info["episode"]["r"])
                    break
    finally:
        env.close()
    return scores


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """A training ``metrics.csv`` as columns of floats."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in rows]) for k in rows[0]}


def _wall_time_at(metrics_csv: Path, step: int) -> float | None:
    if not metrics_csv.is_file():
        return None
    cols = read_metrics(metrics_csv)
    if not cols:
        return None
    before = cols["step"] <= step
    return float(cols["wall_time"][before][-1]) if before.any() else None


def ship_agent(
    run_dir: str | Path,
    agent: str,
    stage: str,
    *,
    weights: str | Path | None = None,
    episodes: int = 10,
    seed: int = 0,
    root: Path | None = None,
    command: str | None = None,
    progress: bool = False,
    selection: dict | None = None,
) -> store.Artifact:
    """Evaluate a trained agent of ``run_dir`` and save it as an ``atari-agent`` artifact.

    Args:
        run_dir: the training run folder (``scripts/train_atari.py --run-dir``).
        agent: one of :data:`AGENTS`.
        stage: ``"early"`` (the first ``weights_step*.pt`` snapshot) or ``"final"``
            (``weights_final_fp16.pt``).
        weights: use this weights file instead of the default of ``stage``.
        episodes: evaluation games (>= 10 for the book).
        seed: evaluation seed (games ``game_seed(seed, i, purpose=1)``).
        root: store root (default: ``data/``, i.e. shipped).
        selection: how ``weights`` was chosen (the record of :func:`select_snapshot`), stored
            in the manifest's evaluation; its validation games must differ from ``seed``'s.
    """
    run_dir = Path(run_dir)
    if selection is not None and int(selection.get("seed", seed)) == seed:
        raise ValueError(f"the selection's validation seed must differ from the evaluation seed "
                         f"{seed}: a snapshot chosen on the games it is scored on is cherry-picked")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if weights is None:
        if stage == "early":
            snaps = snapshots(run_dir)
            if not snaps:
                raise FileNotFoundError(f"no weights_step*.pt snapshot in {run_dir}")
            weights = snaps[0][1]
        else:
            weights = run_dir / "weights_final_fp16.pt"
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} does not exist")
    net, meta = load_weights_file(agent, weights, device=torch.device("cpu"))
    game, step = meta["game"], int(meta["step"])
    scores = evaluate_agent(agent, net, game, episodes, seed, progress=progress)
    baseline = random_scores(game, episodes, seed=seed)
    spec = _spec(agent)
    evaluation = {
        "episodes": episodes, "seed": seed, "protocol": spec.protocol,
        "environment": "full games (all lives), up to 108,000 frames, up to 30 no-ops at reset, "
                       "no sticky actions, unclipped score",
        "scores": scores.tolist(), "mean": float(scores.mean()), "std": float(scores.std()),
        "random_scores": baseline.tolist(), "random_mean": float(baseline.mean()),
    }
    if selection is not None:
        evaluation["selection"] = selection
    train_config = meta["config"]
    final_pt = run_dir / "final.pt"
    wall = None
    if stage == "final" and final_pt.is_file():
        wall = torch.load(final_pt, map_location="cpu", weights_only=True).get("wall_time")
    if wall is None:
        wall = _wall_time_at(run_dir / "metrics.csv", step)
    files: dict[str, Path | bytes] = {"weights.pt": weights,
                                      "eval.json": json.dumps(evaluation, indent=2).encode()}
    if (run_dir / "metrics.csv").is_file():
        with open(run_dir / "metrics.csv", newline="") as f:
            lines = f.read().splitlines()
        keep = [lines[0]] + [ln for ln in lines[1:] if ln and int(float(ln.split(",")[0])) <= step]
        files["metrics.csv"] = ("\n".join(keep) + "\n").encode()
    config = {"agent": agent, "game": game, "seed": int(train_config.get("seed", 0)),
              "stage": stage, "step": step, "train_config": train_config}
    metrics = {"agent_steps": step, "frames": 4 * step, "eval_mean": evaluation["mean"],
               "eval_std": evaluation["std"], "eval_episodes": episodes,
               "random_mean": evaluation["random_mean"], "train_wall_time_s": wall}
    return store.save(ARTIFACT_KIND, config, ARTIFACT_VERSION, files, metrics=metrics,
                      root=root if root is not None else store.data_root(), command=command,
                      wall_time_s=wall, extra={"evaluation": evaluation, "label": spec.label})


def _evaluation_code_hash() -> str:
    """Hash of the sources an evaluation depends on (``rlinside.agents``, ``envs``, ``nets``)."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for sub in ("agents", "envs", "nets"):
        for f in sorted((root / sub).glob("*.py")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def select_snapshot(agent: str, run_dir: str | Path, *, from_step: int, episodes: int = 10,
                    seed: int = 1, progress: bool = False,
                    cache: str | Path | None = None) -> tuple[Path, dict]:
    """Choose the weights to ship as a run's final agent on validation games.

    The candidates are every ``weights_step<N>.pt`` snapshot with ``N >= from_step`` and
    ``weights_final_fp16.pt``, when present. Each is scored over ``episodes`` full games of
    evaluation seed ``seed`` (the validation games, ``game_seed(seed, i, purpose=1)``), and
    the best mean wins (ties: the later step). Ship it with an evaluation seed other than
    ``seed``, so the reported score comes from games the choice never saw.

    ``cache``: a JSON file of validation scores already measured, keyed by the agent, the
    weights file's sha256, ``seed``, ``episodes`` and a hash of the evaluation code, so that
    scores of a run's earlier snapshots can be measured while it trains; any change of those
    measures again.

    Returns ``(path, record)``, the record (rule, seed, episodes, candidates with steps and
    validation means, chosen step and file) going into the manifest through ``ship_agent(selection=)``.
    """

    from rlinside.utils import atomic_write_bytes

    run_dir = Path(run_dir)
    if isinstance(from_step, bool) or not isinstance(from_step, int) or from_step < 0:
        raise ValueError(f"from_step must be an integer >= 0, got {from_step!r}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    candidates = []
    candidates = [path for step, path in snapshots(run_dir) if step >= from_step]
    if (run_dir / "weights_final_fp16.pt").is_file():
        candidates.append(run_dir / "weights_final_fp16.pt")
    if not candidates:
        raise FileNotFoundError(f"no weights_step<N>.pt at or after step {from_step} and no "
                                f"weights_final_fp16.pt in {run_dir}")
    known: dict[str, Any] = {}
    if cache is not None and Path(cache).is_file():
        known = json.loads(Path(cache).read_text())
    code = _evaluation_code_hash()
    rows = []
    for path in candidates:
        net, meta = load_weights_file(agent, path, device=torch.device("cpu"))
        key = f"{agent}|{store._sha256(path)}|seed {seed}|{episodes} games|code {code}"
        if key in known:
            scores = np.asarray(known[key])
        else:
            scores = np.asarray(evaluate_agent(agent, net, meta["game"], episodes, seed, progress=progress))
            if cache is not None:
                known[key] = scores.tolist()
                atomic_write_bytes(Path(cache), json.dumps(known, indent=1).encode())
        rows.append({"file": path.name, "step": int(meta["step"]), "validation_mean": float(np.mean(scores)),
                     "validation_std": float(np.std(scores))})
    best = max(range(len(rows)), key=lambda i: (rows[i]["validation_mean"], rows[i]["step"]))
    last = " and the last weights" if candidates[-1].name == "weights_final_fp16.pt" else ""
    record = {"rule": f"best mean over {episodes} validation games (evaluation seed {seed}) among "
                      f"the snapshots from step {from_step} on{last}",
              "seed": seed, "episodes": episodes, "from_step": from_step, "candidates": rows,
              "chosen_step": rows[best]["step"], "chosen_file": rows[best]["file"]}
    return candidates[best], record


#: Training settings that make an agent a *study variant* rather than a zoo agent, with the
#: zoo's value: a planted bug (the saliency chapter's bug study), a deterministic start
#: (``noop_max`` 0, its memorised-policy study), a slow exploration schedule (its early
#: recurrent agent of Figures 43-48) and another training seed (the seed nulls of its
#: two-network comparisons). A train config without the field has the zoo's value.
VARIANT_FIELDS = {"bug": "", "noop_max": 30, "epsilon_decay_steps": 150_000, "seed": 0}


def variant_of(art) -> dict[str, Any]:
    """The :data:`VARIANT_FIELDS` of a shipped agent's training config."""
    tc = art.config.get("train_config") or {}
    return {k: tc.get(k, v) for k, v in VARIANT_FIELDS.items()}


def find_agents(agent: str | None = None, game: str | None = None, stage: str | None = None, *,
                bug: str = "", **variant: Any) -> list:
    """Verified ``atari-agent`` artifacts (shipped, then cached) matching the filters, sorted by
    (agent order of :data:`AGENTS`, game, stage, step). Study variants (:data:`VARIANT_FIELDS`:
    a planted bug, a deterministic start, a slow exploration schedule, another seed) are found
    only by asking for them (``bug="merge"``, ``noop_max=0``, ``epsilon_decay_steps=1_000_000``,
    ``seed=1``); the zoo (every field at its default) never sees them."""
    unknown = set(variant) - set(VARIANT_FIELDS)
    if unknown:
        raise ValueError(f"unknown variant fields {sorted(unknown)}; allowed: {sorted(VARIANT_FIELDS)}")
    want = {**VARIANT_FIELDS, **variant, "bug": bug}
    order = {name: i for i, name in enumerate(AGENTS)}
    found = [a for a in store.find(ARTIFACT_KIND, ARTIFACT_VERSION, agent=agent, game=game, stage=stage)
             if variant_of(a) == want]
    return sorted(found, key=lambda a: (order.get(a.config["agent"], 99), a.config["game"],
                                        STAGES.index(a.config["stage"]), a.config["step"]))


def most_trained() -> list:
    """One artifact per shipped (agent, game): its final agent, or its early one when no final
    is shipped yet (in the order of :func:`find_agents`)."""
    groups: dict[tuple[str, str], list] = {}
    for art in find_agents():
        groups.setdefault((art.config["agent"], art.config["game"]), []).append(art)
    return [shipped.most_trained(group) for group in groups.values()]


def load_agent(agent: str, game: str, stage: str = "final", device: torch.device | None = None):
    """``(net, artifact)`` of the shipped agent (latest step of that stage). Raises
    :class:`rlinside.store.ArtifactError` naming the training command when none is stored."""
    found = find_agents(agent, game, stage)
    if not found:
        raise store.ArtifactError(
            f"no {ARTIFACT_KIND} artifact for agent={agent!r}, game={game!r}, stage={stage!r} in "
            f"{store.data_root()} or {store.cache_root()}; train it with python "
            f"scripts/train_atari.py --game {game} {_spec(agent).train_command} --run-dir runs/RUN "
            f"and ship it with python scripts/ship_atari_agent.py --run-dir runs/RUN --agent {agent}"
        )
    art = shipped.most_trained(found)
    net, _ = shipped.load_net(agent, art, device=device)
    return net, art


def _play(agent: str, net: torch.nn.Module, game: str, *, steps: int, seed: int = 0, noop_max: int = 30):
    """The one play loop of the zoo: yields ``(obs, screen_before, action, reward,
    screen_after, game_over, state)`` per agent step of evaluation game ``seed``, ``state``
    being the recurrent state the agent acted from (None for feed-forward agents); a game
    that ends is followed by the next one. ``noop_max`` 0: every game starts the same."""
    from rlinside.agents.dqn import game_seed
    from rlinside.envs.atari import make_atari_env

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    env = make_atari_env(game, seed=seed, frame_stack=net.torso.in_channels, training=False,
                         render_mode="rgb_array", noop_max=noop_max)
    policy = Policy(agent, net, seed=seed)
    obs, _ = env.reset(seed=game_seed(seed, 0, purpose=1))
    lives = env.unwrapped.ale.lives()
    try:
        for _ in range(steps):
            before = env.unwrapped.ale.getScreenRGB().copy()
            state = policy.state
            action = policy.act(obs)
            prev_obs = np.asarray(obs).copy()
            obs, reward, terminated, truncated, _ = env.step(action)
            yield prev_obs, before, action, float(reward), env.unwrapped.ale.getScreenRGB().copy(), \
                bool(terminated or truncated), state
            if env.unwrapped.ale.lives() < lives:
                policy.lost_life()
            lives = env.unwrapped.ale.lives()
            if terminated or truncated:
                obs, _ = env.reset()
                policy.reset()
                lives = env.unwrapped.ale.lives()
    finally:
        env.close()


@torch.no_grad()
def replay_states(agent: str, net: torch.nn.Module, observations: np.ndarray, resets) -> list:
    """The recurrent states ``net`` would carry into each of ``observations`` (``(T, C, 84, 84)``
    uint8, e.g. played by another network of the same family), starting afresh wherever
    ``resets[i]`` is true (the start of a game or, for families that reset there, of a life:
    where the player's own state was None). A feed-forward family gets ``[None] * T``.

    This lets two networks of one recurrent family (an early and a final one) be explained on
    the same situations, each from its own memory of the game."""
    kind = _spec(agent)
    resets = np.asarray(resets, dtype=bool)
    if len(resets) != len(observations):
        raise ValueError(f"resets must have one flag per observation, got {len(resets)} for {len(observations)}")
    if not kind.recurrent:
        return [None] * len(observations)
    device = next(net.parameters()).device
    state, out = None, []
    for obs, reset in zip(observations, resets):
        if reset:
            state = None
        out.append(state)
        result = net(torch.from_numpy(np.asarray(obs)[None]).to(device), state)
        state = result[-1]
    return out


def play_frames(
    agent: str, net: torch.nn.Module, game: str, *, steps: int, seed: int = 0,
) -> tuple[list[np.ndarray], np.ndarray, list[int]]:
    """Let an agent play the evaluation game ``seed`` for ``steps`` agent steps.

    Returns ``(rgb_frames, scores, actions)``: the 210x160 RGB screen after each step, the
    running game score after each step (restarting if the game ends) and the actions.
    """
    frames, scores, actions, score = [], [], [], 0.0
    for _, _, action, reward, after, game_over, _ in _play(agent, net, game, steps=steps, seed=seed):
        score += reward
        frames.append(after)
        scores.append(score)
        actions.append(action)
        if game_over:
            score = 0.0
    return frames, np.array(scores), actions


def play_states(
    agent: str, net: torch.nn.Module, game: str, *, steps: int, seed: int = 0,
    return_states: bool = False, noop_max: int = 30,
):
    """Play like :func:`play_frames` and return what the agent acted on.

    Returns ``(observations (T, C, 84, 84) uint8, rgb_frames (T, 210, 160, 3) uint8,
    actions (T,) int64)``: ``actions[i]`` was chosen on ``observations[i]``, and
    ``rgb_frames[i]`` is the screen at that moment (the newest frame of the stack, channel
    ``C-1``, before the 84x84 grey-scale preprocessing). With ``return_states`` a fourth
    element, the list of recurrent states ``(h, c)`` (each ``(1, n)``) the agent acted from,
    ``None`` at the start of a game or life or for a feed-forward agent.
    """
    observations, frames, actions, states = [], [], [], []
    for obs, before, action, _, _, _, state in _play(agent, net, game, steps=steps, seed=seed, noop_max=noop_max):
        observations.append(obs)
        frames.append(before)
        actions.append(action)
        states.append(state)
    out = np.stack(observations), np.stack(frames), np.asarray(actions, dtype=np.int64)
    return (*out, states) if return_states else out


def selection_rows(artifacts: list) -> list[dict[str, Any]]:
    """One row per candidate of every artifact whose weights were chosen on validation games:
    the candidate's step, its validation score, and whether it was chosen."""
    rows = []
    for art in artifacts:
        selection = art.manifest.get("evaluation", {}).get("selection")
        if not selection:
            continue
        label = AGENTS[art.config["agent"]].label if art.config["agent"] in AGENTS else art.config["agent"]
        for cand in selection["candidates"]:
            rows.append({"agent": label, "game": art.config["game"], "stage": art.config["stage"],
                         "candidate step": cand["step"],
                         "validation score (mean)": round(cand["validation_mean"], 1),
                         "validation score (std)": round(cand["validation_std"], 1),
                         "chosen": cand["file"] == selection["chosen_file"]})
    return rows


def summary_rows(artifacts: list) -> list[dict[str, Any]]:
    """One row per artifact for the evaluation table. ``weights`` says how they were chosen:
    the stage's own (the early snapshot, the run's last weights) or the best of several
    snapshots on validation games (:func:`select_snapshot`; see :func:`selection_rows`)."""
    rows = []
    for art in artifacts:
        m, c = art.manifest["metrics"], art.config
        selection = art.manifest.get("evaluation", {}).get("selection")
        if selection:
            chosen = (f"best of {len(selection['candidates'])} on validation games "
                      f"(seed {selection['seed']})")
        else:
            chosen = "early snapshot" if c["stage"] == "early" else "last of the run"
        rows.append({
            "agent": AGENTS[c["agent"]].label if c["agent"] in AGENTS else c["agent"],
            "game": c["game"], "stage": c["stage"], "agent steps": m["agent_steps"],
            "frames": m["frames"], "score (mean)": round(m["eval_mean"], 1),
            "score (std)": round(m["eval_std"], 1), "games": m["eval_episodes"],
            "random (mean)": round(m["random_mean"], 1), "weights": chosen,
            "training hours": None if m.get("train_wall_time_s") is None
            else round(m["train_wall_time_s"] / 3600, 2),
            "key": art.key,
        })
    return rows
