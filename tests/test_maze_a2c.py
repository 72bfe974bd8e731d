"""The maze policy's trainer, rollouts, evaluation and shipping, on tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rlinside.agents.maze_a2c import (
    MazeA2CConfig,
    evaluate_maze,
    export_maze_weights,
    load_maze_policy,
    rollout,
    train_maze,
)
from rlinside.envs.marble_maze import MarbleMazeEnv

TINY = dict(total_steps=320, n_envs=4, n_steps=10, checkpoint_every=80, lstm_size=8,
            env={"max_steps": 30, "start_rings": [1, 4]})


def test_train_resume_export_and_roll_out(tmp_path):
    config = MazeA2CConfig(**TINY)
    a = train_maze(config, tmp_path / "a", progress=False)
    assert train_maze(config, tmp_path / "b", progress=False, stop_after=160) is None
    b = train_maze(config, tmp_path / "b", progress=False)  # resumed from the checkpoint at 160
    pa, pb = torch.load(a, weights_only=False), torch.load(b, weights_only=False)
    assert pa["step"] == pb["step"] == 320
    # killed at 160 and resumed from its checkpoint: bit-identical to the uninterrupted run
    # (the games in progress are in the checkpoint, pybullet worlds included)
    assert all(torch.equal(pa["net"][k], pb["net"][k]) for k in pa["net"])
    def rows(run):  # the training log without its wall-clock column
        lines = (tmp_path / run / "metrics.csv").read_text().splitlines()
        return [",".join(line.split(",")[:-1]) for line in lines]

    assert rows("a") == rows("b") and len(rows("a")) > 1
    # same seed, same run: deterministic
    c = train_maze(config, tmp_path / "c", progress=False)
    pc = torch.load(c, weights_only=False)
    assert all(torch.equal(pa["net"][k], pc["net"][k]) for k in pa["net"])
    with pytest.raises(ValueError, match=r"different configuration \(learning_rate"):
        train_maze(MazeA2CConfig(**{**TINY, "learning_rate": 1e-3}), tmp_path / "b", progress=False)
    w = export_maze_weights(a, tmp_path / "w.pt")
    net, meta = load_maze_policy(w)
    assert next(net.parameters()).dtype == torch.float32 and meta["step"] == 320
    env = MarbleMazeEnv(max_steps=12)
    r = rollout(net, env, 0, start_angle=1.0)
    assert r["steps"] == 12 and r["h"].shape == (12, 8) and r["output"].shape == (12, 8)
    assert r["ring"][0] == 4  # tests start in the outer ring
    assert ((r["input"] > 0) & (r["input"] < 1)).all()
    r0 = rollout(net, env, 0, start_angle=1.0, memory=False)
    # without memory every step starts from the zero state: h_t depends on the image only
    z = net(torch.from_numpy(r0["obs"][3:4]))[2][0][0].detach().numpy()
    assert np.allclose(r0["h"][3], z, atol=1e-6)
    env.close()
    res = evaluate_maze(net, MarbleMazeEnv(max_steps=12).config, episodes=2)
    assert len(res) == 2 and res[0]["entered"][4] == 0 and not res[0]["success"]


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="n_envs"):
        MazeA2CConfig(n_envs=0)
    with pytest.raises(ValueError, match="env holds a field"):
        MazeA2CConfig(env={"colour": "red"})
    with pytest.raises(ValueError, match="start_rings"):
        MazeA2CConfig(env={"start_rings": [0]})


def test_ship_and_load_policy(tmp_path, monkeypatch):
    from rlinside import store
    from rlinside.agents.maze_zoo import load_policy, ship_policy

    monkeypatch.setenv("RLINSIDE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(store.ArtifactError, match="train_maze.py"):
        load_policy()
    run = tmp_path / "run"
    train_maze(MazeA2CConfig(**TINY), run, progress=False)
    art = ship_policy(run, episodes=2)
    assert art.shipped and art.manifest["metrics"]["episodes"] == 2
    report = json.loads(art.file("eval.json").read_text())
    assert len(report["memory"]) == 2 and len(report["no_memory"]) == 2
    net, found = load_policy()
    assert found.key == art.key and net.lstm_size == 8
    from rlinside.agents.maze_zoo import policy_config

    assert policy_config(found) == MazeA2CConfig(**TINY)


def test_dagger_trains_a_policy_that_ships(tmp_path, monkeypatch):
    from rlinside.agents.maze_imitation import DaggerConfig, train_dagger
    from rlinside.agents.maze_zoo import ship_policy

    monkeypatch.setenv("RLINSIDE_DATA", str(tmp_path / "data"))
    cfg = DaggerConfig(rounds=2, episodes_per_round=2, epochs_per_round=1, max_steps=40, lstm_size=8)
    final = train_dagger(cfg, tmp_path / "run", progress=False)
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("round,") and len(log) == 3
    net, meta = load_maze_policy(final)
    assert meta["trainer"] == "dagger" and meta["episode"] == 4
    art = ship_policy(tmp_path / "run", episodes=1)
    assert art.config["trainer"] == "dagger" and "log.csv" in art.manifest["files"]
    # the labels the policy learns from: the controller's actions are valid and move the tilt
    env = MarbleMazeEnv(max_steps=5)
    env.reset(seed=0)
    from rlinside.agents.maze_imitation import oracle_action

    assert oracle_action(env) in range(5)
    env.close()


def test_hold_mode_controller_solves_the_maze_from_the_outer_ring():
    from rlinside.agents.maze_imitation import HOLD_PUSH, oracle_action

    env = MarbleMazeEnv(tilt_mode="hold", max_steps=1000)
    # an action holds the board at max_tilt about its axis, no-op levels it (no accumulation)
    env.reset(seed=0)
    for a in (1, 1, 3):
        env.step(a)
    assert np.allclose(env._tilt, [0.0, env.config.max_tilt])
    env.step(0)
    assert np.allclose(env._tilt, 0.0)
    # each action pushes the ball along its HOLD_PUSH direction
    for a in range(1, 5):
        env.reset(seed=0, options={"ring": 4, "angle": 0.3})
        x0 = env._ball_xy()
        for _ in range(3):
            env.step(a)
        moved = env._ball_xy() - x0
        assert moved @ HOLD_PUSH[a - 1] > 0.8 * np.linalg.norm(moved) > 0
    obs, info = env.reset(seed=3, options={"ring": 4, "angle": 2.0})
    done = False
    while not done:
        obs, _, term, trunc, info = env.step(oracle_action(env, speed=0.08, gain=8.0))
        done = term or trunc
    assert info["success"] and info["steps"] < 800
    env.close()
    with pytest.raises(ValueError, match="tilt_mode"):
        MarbleMazeEnv(tilt_mode="sideways")


def test_input_normalization_removes_the_background_and_old_weights_load():
    from rlinside.nets.maze import MazePolicy

    env = MarbleMazeEnv(tilt_mode="hold")
    imgs = np.stack([env.reset(seed=s, options={"ring": 1 + s % 4})[0] for s in range(32)])
    env.close()
    torch.manual_seed(0)
    net = MazePolicy(lstm_size=8)
    # before statistics are set the layer is x / 255, as the nets shipped before it
    old = {k: v for k, v in net.state_dict().items() if not k.startswith("input_")}
    fresh = MazePolicy(lstm_size=8)
    fresh.load_state_dict(old)
    x = torch.from_numpy(imgs[:2])
    assert torch.allclose(fresh(x)[0], net(x)[0])
    net.set_input_statistics(torch.from_numpy(imgs))
    z = ((x.float() - net.input_mean) * net.input_scale).clamp(-5, 5)
    constant = torch.from_numpy((imgs == imgs[0]).all(0))
    assert constant.float().mean() > 0.5 and (z[:, constant] == 0).all()
    assert z.abs().max() > 1  # the ball stands out


def test_a2c_fine_tuning_starts_from_given_weights_and_warms_up_the_critic_only(tmp_path):
    cfg = MazeA2CConfig(**TINY)
    first = train_maze(cfg, tmp_path / "a", progress=False)
    tuned_cfg = MazeA2CConfig(**{**TINY, "total_steps": 40, "init_weights": str(first),
                                 "critic_warmup_updates": 1})
    tuned = train_maze(tuned_cfg, tmp_path / "b", progress=False)
    a, b = torch.load(first, weights_only=False)["net"], torch.load(tuned, weights_only=False)["net"]
    for k in a:  # one update of 4 x 10 steps, all of it critic warm-up
        assert torch.equal(a[k], b[k]) == (not k.startswith("value.")), k
    with pytest.raises(ValueError, match="lstm_size"):
        train_maze(MazeA2CConfig(**{**TINY, "lstm_size": 16, "init_weights": str(first)}), tmp_path / "c",
                   progress=False)


def test_shipped_policy_reproduces_its_stored_test_episodes():
    """The shipped maze policy, rerun on two of its 40 test starts (angles 0 and pi), gives the
    episodes its eval.json records: same success, same number of steps."""
    from rlinside.agents.maze_zoo import load_policy, policy_config

    net, art = load_policy()
    report = json.loads(art.file("eval.json").read_text())
    n = report["episodes"]
    again = evaluate_maze(net, policy_config(art).env_config(), episodes=2)
    for mine, stored in zip(again, (report["memory"][0], report["memory"][n // 2])):
        assert (mine["success"], mine["steps"]) == (stored["success"], stored["steps"])
    assert art.manifest["metrics"]["success_rate"] >= 0.9  # the target, as shipped


def test_dagger_resumes_after_a_kill_bit_identically(tmp_path):
    from rlinside.agents.maze_imitation import DaggerConfig, train_dagger

    cfg = DaggerConfig(rounds=3, episodes_per_round=2, epochs_per_round=1, max_steps=30, lstm_size=8)
    a = train_dagger(cfg, tmp_path / "a", progress=False)
    assert train_dagger(cfg, tmp_path / "b", progress=False, stop_after=2) is None  # killed after round 1
    b = train_dagger(cfg, tmp_path / "b", progress=False)
    pa, pb = torch.load(a, weights_only=False), torch.load(b, weights_only=False)
    assert all(torch.equal(pa["net"][k], pb["net"][k]) for k in pa["net"])
    assert pa["dagger"]["rounds_done"] == pb["dagger"]["rounds_done"] == 3

    def rows(run):  # the log without its wall-clock column
        return [line.rsplit(",", 1)[0] for line in (tmp_path / run / "log.csv").read_text().splitlines()]

    assert rows("a") == rows("b") and len(rows("a")) == 4
    with pytest.raises(ValueError, match=r"different configuration \(learning_rate"):
        train_dagger(DaggerConfig(**{**cfg.__dict__, "learning_rate": 1e-2}), tmp_path / "b", progress=False)


def test_memory_window_rebuilds_the_state_from_the_last_k_images():
    """``window=1`` is the reset-every-step ablation; a window longer than the episode is the
    full memory; ``window=K`` gives at step t the state of a fresh run over images t-K+1..t."""
    torch.manual_seed(3)
    from rlinside.nets.maze import MazePolicy

    net = MazePolicy(lstm_size=8).eval()
    env = MarbleMazeEnv(max_steps=15)
    full = rollout(net, env, 0, start_angle=2.0)
    long = rollout(net, env, 0, start_angle=2.0, window=100)  # batched slots: float32 rounding only
    np.testing.assert_allclose(long["h"], full["h"], atol=1e-6)
    assert np.array_equal(long["actions"], full["actions"])
    reset = rollout(net, env, 0, start_angle=2.0, memory=False)
    one = rollout(net, env, 0, start_angle=2.0, window=1)
    np.testing.assert_allclose(one["h"], reset["h"], atol=1e-6)
    assert np.array_equal(one["actions"], reset["actions"])
    w = rollout(net, env, 0, start_angle=2.0, window=4)
    t = 9
    with torch.no_grad():
        state = None
        for k in range(t - 3, t + 1):
            _, _, state = net(torch.from_numpy(w["obs"][k:k + 1]), state)
    np.testing.assert_allclose(w["h"][t], state[0][0].numpy(), atol=1e-6)
    assert not np.allclose(w["h"][t], full["h"][t], atol=1e-4)  # the window forgot something
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="window must be an int >= 1"):
            rollout(net, env, 0, window=bad)
    env.close()
