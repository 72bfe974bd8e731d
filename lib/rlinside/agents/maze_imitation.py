"""Training the maze policy by imitating a privileged controller (DAgger).

A second trainer for :class:`rlinside.nets.maze.MazePolicy`, besides recurrent A2C
(:mod:`rlinside.agents.maze_a2c`, the chapter's policy). It was written when A2C had not yet
learned the maze (with the incremental tilt and no input normalization), and it is kept
because its policies solve the task differently (one needs no memory) and because it
trains policies for the observation-delay experiment in about 20 minutes. DAgger (Ross,
Gordon and Bagnell 2011): a controller that reads the simulator's state,
:func:`oracle_action`, labels every step with its action; the policy learns to predict that
label from the images alone; after the first round the policy itself drives (so it sees the
states its own mistakes lead to) while the controller keeps labelling.

The controller needs the ball's velocity (and, with ``tilt_mode="incremental"``, the board's
tilt), which one image does not show: the policy has to integrate it over frames, which is
what its LSTM is for. Training runs over whole episodes, 8 at a time, with truncated
backpropagation through time in chunks of ``chunk`` steps and the LSTM state carried between
chunks, as the policy is used. The net's input normalization
(:meth:`rlinside.nets.maze.MazePolicy.set_input_statistics`) is frozen from the controller's
episodes of round 0.

With the incremental tilt, DAgger did not learn within our budget (0 of 40 tests after two
rounds, before the input normalization existed); the shipped DAgger policies use
``tilt_mode="hold"`` (the default here), whose controller is a bang-bang velocity
controller: it pushes along the one axis direction closest to the acceleration it wants, or
holds the board level when that acceleration is small (``deadband``).
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pybullet
import torch
import torch.nn.functional as F

from rlinside.agents._config import check_resumable
from rlinside.agents.maze_a2c import FORMAT, MazeA2CConfig
from rlinside.agents.rundir import load_checkpoint, rng_states, save_payload, set_rng_states
from rlinside.envs.marble_maze import MarbleMazeConfig, MarbleMazeEnv, _angle_diff
from rlinside.nets.maze import MazePolicy
from rlinside.utils import atomic_write_bytes

__all__ = ["oracle_action", "DaggerConfig", "train_dagger"]


# direction (board x, y) in which actions 1-4 push the ball when the board is held tilted
HOLD_PUSH = np.array([[0.0, -1.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
HOLD_DEADBAND = 0.05  # m/s^2 of wanted acceleration below which the controller holds the board level


def oracle_action(env: MarbleMazeEnv, speed: float = 0.05, gain: float = 4.0, deadband: float = 1.0) -> int:
    """The privileged controller: along the ring towards the next gate (keeping to the middle
    of the channel), through the gate, inwards; a velocity controller turned into the tilt it
    wants, and the action that moves the tilt towards it. Reads the simulator's state."""
    c = env.config
    xy = env._ball_xy()
    v = np.array(pybullet.getBaseVelocity(env._ball, physicsClientId=env._client)[0][:2])
    ring = env.ring_of(xy)
    if ring == 0:
        return 0
    r = max(math.hypot(xy[0], xy[1]), 1e-9)
    radial = xy / r
    tangent = np.array([-radial[1], radial[0]])
    d = float(_angle_diff(env._gates[ring - 1], math.atan2(xy[1], xy[0])))
    middle = env._radii[ring - 1] + c.ring_width / 2
    if abs(d) * r > 0.006:
        want = speed * np.sign(d) * tangent + 2.0 * (middle - r) * radial
    else:
        want = -speed * radial
    acc = gain * (want - v)
    if c.tilt_mode == "hold":  # the action whose push points most along the wanted acceleration
        if math.hypot(*acc) < deadband * HOLD_DEADBAND:
            return 0
        return int(1 + np.argmax(HOLD_PUSH @ acc))
    k = 9.81 * 5 / 7  # a rolling ball accelerates at 5/7 g sin(tilt)
    target = np.clip([-acc[1] / k, acc[0] / k], -c.max_tilt, c.max_tilt)
    ex, ey = target - env._tilt
    if max(abs(ex), abs(ey)) < deadband * c.tilt_step:  # close enough: leave the tilt alone
        return 0
    if abs(ex) >= abs(ey):
        return 1 if ex > 0 else 2
    return 3 if ey > 0 else 4


@dataclass(frozen=True)
class DaggerConfig:
    rounds: int = 6  # round 0: the controller drives; later rounds: the policy drives
    episodes_per_round: int = 24
    epochs_per_round: int = 6
    batch_episodes: int = 8
    chunk: int = 16  # truncated backpropagation through time
    learning_rate: float = 1e-3
    lstm_size: int = 64
    seed: int = 0
    max_steps: int = 1200  # per collected episode
    tilt_mode: str = "hold"  # of the maze (rlinside.envs.marble_maze)
    oracle_speed: float = 0.08  # m/s, the controller's cruising speed
    oracle_gain: float = 8.0  # 1/s, the controller's velocity gain
    oracle_deadband: float = 1.0  # the controller's dead band (0: it never chooses no-op)
    greedy_share: float = 0.0  # share of the policy-driven episodes that take the arg-max action (the rest sample)
    start_rings: tuple[int, ...] = (1, 2, 3, 4, 4, 4)  # rings a collected episode starts in (drawn uniformly)
    env: dict | None = None  # MarbleMazeConfig fields that differ from the defaults (all rings start)

    def env_config(self) -> MarbleMazeConfig:
        fields = {"start_rings": list(self.start_rings), "max_steps": self.max_steps, "tilt_mode": self.tilt_mode}
        fields.update(self.env or {})
        return MarbleMazeConfig(**fields)


@torch.no_grad()
def _collect(net: MazePolicy | None, env: MarbleMazeEnv, seeds: list[int], rng: np.random.Generator,
             oracle: dict | None = None, greedy_share: float = 0.0):
    """Episodes driven by ``net`` (None: the controller), labelled by the controller; the
    first ``greedy_share`` of them take the policy's arg-max action, the others sample it."""
    out = []
    n_greedy = int(round(greedy_share * len(seeds)))
    for k, s in enumerate(seeds):
        obs, _ = env.reset(seed=s)
        state = None
        frames, labels = [], []
        done = False
        while not done:
            label = oracle_action(env, **(oracle or {}))
            frames.append(obs)
            labels.append(label)
            if net is None:
                action = label
            else:
                logits, _, state = net(torch.from_numpy(obs[None]), state)
                if k < n_greedy:
                    action = int(logits.argmax(1))
                else:
                    p = torch.softmax(logits.double(), 1).numpy()[0]
                    action = int(rng.choice(5, p=p / p.sum()))
            obs, _, term, trunc, _ = env.step(action)
            done = term or trunc
        out.append((np.stack(frames), np.asarray(labels, dtype=np.int64)))
    return out


def _train(net: MazePolicy, opt, data, cfg: DaggerConfig, rng: np.random.Generator) -> float:
    """One epoch over ``data``; returns the mean cross-entropy."""
    net.train()
    order = rng.permutation(len(data))
    losses = []
    for b in range(0, len(order), cfg.batch_episodes):
        batch = [data[i] for i in order[b:b + cfg.batch_episodes]]
        n = len(batch)
        length = max(len(a) for _, a in batch)
        obs = np.zeros((length, n, 1, *batch[0][0].shape[-2:]), dtype=np.uint8)
        act = np.zeros((length, n), dtype=np.int64)
        mask = np.zeros((length, n), dtype=np.float32)
        for j, (o, a) in enumerate(batch):
            obs[:len(a), j], act[:len(a), j], mask[:len(a), j] = o, a, 1.0
        state = net.initial_state(n)
        for t0 in range(0, length, cfg.chunk):
            loss, count = 0.0, 0.0
            for t in range(t0, min(t0 + cfg.chunk, length)):
                logits, _, state = net(torch.from_numpy(obs[t]), state)
                m = torch.from_numpy(mask[t])
                loss = loss + (F.cross_entropy(logits, torch.from_numpy(act[t]), reduction="none") * m).sum()
                count += float(mask[t].sum())
            if count == 0:
                break
            opt.zero_grad()
            (loss / count).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            losses.append(float(loss.detach()) / count)
            state = (state[0].detach(), state[1].detach())
    net.eval()
    return float(np.mean(losses)) if losses else float("nan")


CHECKPOINT_FORMAT = "rlinside-maze-dagger-checkpoint-1"
#: Fields that may change when a run resumes: more rounds (never the numbers computed).
RESUMABLE_CHANGES = frozenset({"rounds"})


def _round_file(run_dir: Path, k: int) -> Path:
    return run_dir / f"dagger_round{k:03d}.npz"


def _save_round(path: Path, episodes: list) -> None:
    """The episodes collected in one round, as one compressed archive (written atomically)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, obs=np.concatenate([o for o, _ in episodes]),
                        actions=np.concatenate([a for _, a in episodes]),
                        lengths=np.array([len(a) for _, a in episodes], dtype=np.int64))
    atomic_write_bytes(path, buf.getvalue())


def _load_round(path: Path) -> list:
    with np.load(path) as z:
        ends = np.cumsum(z["lengths"])
        starts = ends - z["lengths"]
        return [(z["obs"][a:b], z["actions"][a:b]) for a, b in zip(starts, ends)]


def train_dagger(cfg: DaggerConfig, run_dir: str | Path, *, progress: bool = True,
                 stop_after: int | None = None) -> Path | None:
    """DAgger in ``run_dir``; writes ``log.csv`` (round, episodes, loss, success of the
    episodes the policy drove) and, after every round, ``final.pt`` in the format of
    :mod:`rlinside.agents.maze_a2c` (its ``config`` and ``dagger`` record this training and
    the rounds done), the round's episodes (``dagger_round<k>.npz``) and ``checkpoint.pt``
    (network, optimizer, random generators): run it again after a kill and it resumes after
    the last completed round, bit-identically (:mod:`rlinside.agents.rundir`). ``stop_after``
    rounds: return None as if killed (for tests)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    env_cfg = cfg.env_config()
    net = MazePolicy(lstm_size=cfg.lstm_size, image_size=env_cfg.image_size).eval()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    data, log = [], ["round,episodes,loss,policy_success,greedy_success,wall_time"]
    first, wall = 0, 0.0
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, CHECKPOINT_FORMAT, "a maze DAgger")
        check_resumable(ckpt["config"], _Dict(asdict(cfg)), run_dir, RESUMABLE_CHANGES)
        net.load_state_dict(ckpt["net"])
        opt.load_state_dict(ckpt["optimizer"])
        set_rng_states(ckpt["rng"], rng)
        first, log, wall = ckpt["rounds_done"], list(ckpt["log"]), ckpt["wall_time"]
        for k in range(first):
            data += _load_round(_round_file(run_dir, k))
    env = MarbleMazeEnv(env_cfg)
    t_start = time.perf_counter() - wall
    try:
        for k in range(first, cfg.rounds):
            if stop_after is not None and k - first >= stop_after:
                return None
            seeds = [cfg.seed * 100_000 + k * 1000 + i for i in range(cfg.episodes_per_round)]
            new = _collect(None if k == 0 else net, env, seeds, rng,
                           oracle={"speed": cfg.oracle_speed, "gain": cfg.oracle_gain,
                                   "deadband": cfg.oracle_deadband}, greedy_share=cfg.greedy_share)
            data += new
            if k == 0:  # the input normalization, frozen from the controller's episodes
                net.set_input_statistics(torch.from_numpy(np.concatenate([o for o, _ in new])))
            success = float(np.mean([len(a) < env_cfg.max_steps for _, a in new]))
            n_greedy = int(round(cfg.greedy_share * len(new))) if k > 0 else 0
            greedy = float(np.mean([len(a) < env_cfg.max_steps for _, a in new[:n_greedy]])) if n_greedy else None
            for _ in range(cfg.epochs_per_round):
                loss = _train(net, opt, data, cfg, rng)
            log.append(f"{k},{len(data)},{loss:.4f},{'' if k == 0 else round(success, 3)},"
                       f"{'' if greedy is None else round(greedy, 3)},"
                       f"{time.perf_counter() - t_start:.0f}")
            if progress:
                print(f"round {k}: {len(data)} episodes, loss {loss:.3f}, "
                      f"{'controller' if k == 0 else 'policy'} reached the centre in {success:.0%}", flush=True)
            atomic_write_bytes(run_dir / "log.csv", ("\n".join(log) + "\n").encode())
            # the policy after every completed round, so a run cut short still leaves one
            _save(run_dir / "final.pt", net, cfg, env_cfg, data, time.perf_counter() - t_start, k + 1)
            _save_round(_round_file(run_dir, k), new)
            save_payload(ckpt_path, {"format": CHECKPOINT_FORMAT, "config": asdict(cfg), "net": net.state_dict(),
                                     "optimizer": opt.state_dict(), "rng": rng_states(rng), "rounds_done": k + 1,
                                     "log": log, "wall_time": time.perf_counter() - t_start})
    finally:
        env.close()
    return run_dir / "final.pt"


class _Dict(dict):
    """A plain dict with the ``to_dict`` that :func:`check_resumable` reads."""

    def to_dict(self) -> dict:
        return dict(self)


def _save(path: Path, net: MazePolicy, cfg: DaggerConfig, env_cfg: MarbleMazeConfig, data: list,
          wall: float, rounds_done: int) -> None:
    a2c_like = MazeA2CConfig(lstm_size=cfg.lstm_size, seed=cfg.seed, total_steps=1,
                             env={k: v for k, v in asdict(env_cfg).items()
                                  if v != getattr(MarbleMazeConfig(), k)})
    save_payload(path, {"format": FORMAT + "-weights", "config": a2c_like.to_dict(), "net": net.state_dict(),
                        "step": int(sum(len(a) for _, a in data)), "episode": len(data), "wall_time": wall,
                        "trainer": "dagger", "dagger": {**asdict(cfg), "rounds_done": rounds_done}})
