"""The maze policy's trainer, rollouts, evaluation and shipping, on tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rlinside.agents.maze_a2c import (
    MazeA2CConfig, evaluate_maze, export_maze_weights, load_maze_policy, rollout, train_maze,
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
    # same seed, same run: deterministic
    c = train_maze(config, tmp_path / "c", progress=False)
    pc = torch.load(c, weights_only=False)
    assert all(torch.equal(pa["net"][k], pc["net"][k]) for k in pa["net"])
    with pytest.raises(ValueError, match="different learning_rate"):
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
    from rlinside.agents.maze_zoo import load_policy, ship_policy
    from rlinside import store

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
