"""Prediction streams for the RTRL chapter's Atari benchmark (Javed et al., Sec. 6, Fig. 10).

The benchmark asks a learner to predict the discounted return of an agent's experience from
a stream that hides most of the state: only the most recent frame, grey and downscaled to
16 x 16 (256 features), the action just taken and the reward just received. The paper's
streams come from Rainbow experts; ours come from the agents of this project's zoo (any
family of :mod:`rlinside.agents.registry` with an Atari domain) playing with their greedy
policy (the arg-max action of Q-values or policy logits, no exploration).

A stream is stored as one artifact of kind ``atari-stream`` (``stream.npz``, compressed):

``frames (T, 16, 16) uint8``
    the newest frame of the observation the agent acted on at step ``t`` (the 84 x 84 grey,
    max-pooled frame of :mod:`rlinside.envs.atari`, resized with ``cv2.INTER_AREA``);
``actions (T,) uint8``
    the action taken at step ``t`` (index in the game's minimal action set);
``rewards (T,) float32``
    the game's reward after that action (unclipped; a learner clips it to [-1, 1]);
``starts (T,) bool``
    ``True`` where step ``t`` is the first of a game.

A learner's input at step ``t`` is then ``frames[t]``, the one-hot of ``actions[t-1]`` and
``clip(rewards[t-1])`` (zero at a game's first step), the 256 + A + 1 features of the paper
(which pads the action one-hot to 20 entries: ALE's full action set has 18, a game's minimal
set fewer; the padding is a parameter of the learner, not of the stream). Collection stops
at the end of the first game that ends after ``steps`` steps, so every game is whole. The same
agent, configuration and seed give the same stream bit for bit.
"""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlinside import store
from rlinside.agents import registry, shipped

__all__ = ["ARTIFACT_KIND", "StreamConfig", "collect_stream", "ship_stream", "load_stream"]

ARTIFACT_KIND = "atari-stream"
ARTIFACT_VERSION = "1"


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    """What a stream is made of (its artifact's configuration, with the agent's key)."""

    steps: int = 100_000  # at least this many agent steps; the last game is played to its end
    seed: int = 20_000  # evaluation seed (rlinside.seeds.EVALUATION): the games' no-op starts
    frame_size: int = 16  # side of the downscaled frame
    max_steps: int = 1_000_000  # hard stop, should a game never end

    def __post_init__(self) -> None:
        for name in ("steps", "frame_size", "max_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.max_steps < self.steps:
            raise ValueError(f"max_steps ({self.max_steps}) must be >= steps ({self.steps})")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")


def _greedy(kind: registry.AgentKind, net: torch.nn.Module, x: torch.Tensor, state):
    out = net(x, state) if kind.recurrent else net(x)
    if kind.output == "actor-critic":
        logits, _, state = out
        return int(logits.argmax(1).item()), state
    if kind.output == "q+state":
        q, state = out
        return int(q.argmax(1).item()), state
    return int(out.argmax(1).item()), None


@torch.no_grad()
def collect_stream(agent: str, net: torch.nn.Module, game: str, config: StreamConfig) -> dict[str, np.ndarray]:
    """Let ``net`` (family ``agent``) play ``game`` greedily and record the stream (module
    docstring). Games are seeded by :func:`rlinside.agents.rundir.game_seed` from
    ``config.seed`` (evaluation purpose); a recurrent agent's state is zeroed at each game."""
    import cv2

    from rlinside.agents.rundir import game_seed
    from rlinside.envs.atari import make_atari_env

    kind = registry.get(agent)
    if kind.domain != "atari":
        raise ValueError(f"agent {agent!r} does not play Atari games")
    env = make_atari_env(game, seed=config.seed, frame_stack=net.torso.in_channels, training=False)
    device = next(net.parameters()).device
    frames, actions, rewards, starts = [], [], [], []
    try:
        game_index, t = 0, 0
        while True:
            obs, _ = env.reset(seed=game_seed(config.seed, game_index, purpose=1))
            state, first = None, True
            while True:
                newest = np.asarray(obs)[-1]
                frames.append(cv2.resize(newest, (config.frame_size, config.frame_size), interpolation=cv2.INTER_AREA))
                action, state = _greedy(kind, net, torch.from_numpy(np.asarray(obs)[None]).to(device), state)
                obs, reward, terminated, truncated, _ = env.step(action)
                actions.append(action)
                rewards.append(float(reward))
                starts.append(first)
                first, t = False, t + 1
                if terminated or truncated or t >= config.max_steps:
                    break
            game_index += 1
            if t >= config.steps:
                break
    finally:
        env.close()
    return {"frames": np.stack(frames).astype(np.uint8), "actions": np.asarray(actions, dtype=np.uint8),
            "rewards": np.asarray(rewards, dtype=np.float32), "starts": np.asarray(starts, dtype=bool)}


def _summary(stream: dict[str, np.ndarray]) -> dict[str, Any]:
    starts = np.flatnonzero(stream["starts"])
    returns = np.add.reduceat(stream["rewards"].astype(np.float64), starts)
    return {"steps": int(stream["actions"].size), "games": int(starts.size),
            "mean_game_score": round(float(returns.mean()), 2), "min_game_score": float(returns.min()),
            "max_game_score": float(returns.max()), "distinct_actions": int(np.unique(stream["actions"]).size),
            "nonzero_rewards": int(np.count_nonzero(stream["rewards"]))}


def ship_stream(agent_artifact: store.Artifact, config: StreamConfig, *, root: Path | None = None,
                command: str | None = None) -> store.Artifact:
    """Collect the stream of a stored agent (an ``atari-agent`` artifact) and store it (default
    ``data/``); the manifest names the agent (kind, key, score), the seed and the preprocessing."""
    agent, game = agent_artifact.config["agent"], agent_artifact.config["game"]
    net, _ = shipped.load_net(agent, agent_artifact, device=torch.device("cpu"))
    t0 = time.perf_counter()
    stream = collect_stream(agent, net, game, config)
    wall = time.perf_counter() - t0
    buf = io.BytesIO()
    np.savez_compressed(buf, **stream)
    cfg = {"game": game, "agent": agent, "agent_key": agent_artifact.key, "agent_step": agent_artifact.config["step"],
           **dataclasses.asdict(config), "preprocessing": "newest 84x84 grey max-pooled frame, cv2.INTER_AREA"}
    metrics = {**_summary(stream), "agent_eval_mean": agent_artifact.metrics.get("eval_mean"),
               "agent_random_mean": agent_artifact.metrics.get("random_mean")}
    return store.save(ARTIFACT_KIND, cfg, ARTIFACT_VERSION, {"stream.npz": buf.getvalue()}, metrics=metrics,
                      root=root if root is not None else store.data_root(), wall_time_s=round(wall, 1),
                      command=command or f"python scripts/collect_atari_stream.py --game {game} --agent {agent}")


def load_stream(game: str, **filters: Any) -> tuple[dict[str, np.ndarray], store.Artifact]:
    """The stored stream of ``game`` (the one from the most trained agent when several match):
    its arrays and its artifact."""
    found = store.find(ARTIFACT_KIND, ARTIFACT_VERSION, game=game, **filters)
    if not found:
        raise store.ArtifactError(f"no {ARTIFACT_KIND} artifact for game={game!r} {filters or ''}; collect one with "
                                  f"python scripts/collect_atari_stream.py --game {game}")
    art = shipped.most_trained(found)
    with np.load(art.file("stream.npz")) as z:
        return {k: z[k] for k in z.files}, art
