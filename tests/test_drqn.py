"""Split-attention recurrent Q-network and its DRQN training loop: shapes, attention,
sequence replay, exact resume, export."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from rlinside.agents.dqn import FrameReplayBuffer
from rlinside.agents.drqn import (
    DRQNConfig,
    evaluate_drqn,
    export_drqn_weights,
    load_drqn_weights,
    sample_sequences,
    train_drqn,
    valid_window_starts,
)
from rlinside.nets.attention import RecurrentAttentionQNetwork

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net() -> RecurrentAttentionQNetwork:
    torch.manual_seed(0)
    return RecurrentAttentionQNetwork(n_actions=5, lstm_size=32, attention_size=16, hidden=24)


def _frames(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)


def test_network_shapes_streams_and_attention(net):
    x = _frames(3, 1, 84, 84)
    q, (h, c), d = net(x, return_details=True)
    assert q.shape == (3, 5) and h.shape == c.shape == (3, 32)
    assert d.value.shape == (3, 1) and d.advantage.shape == (3, 5)
    for a in (d.lstm_attention, d.value_attention, d.advantage_attention):
        assert a.shape == (3, 7, 7) and (a >= 0).all()
        torch.testing.assert_close(a.sum(dim=(1, 2)), torch.ones(3))  # softmax over 49 places
    assert not torch.allclose(d.value_attention, d.advantage_attention)  # two separate attentions
    assert d.gates.forget.shape == (3, 32) and torch.equal(d.gates.h, h)
    # Q = V + A - mean(A) (Wang et al. 2016, Eq. 9)
    torch.testing.assert_close(q, d.value + d.advantage - d.advantage.mean(dim=1, keepdim=True))
    # uint8 and float pixels give the same numbers; a float input has a saliency gradient
    xf = x.float().requires_grad_()
    q2, _ = net(xf, (h, c))
    torch.testing.assert_close(net(x.float())[0], q)
    q2[:, 0].sum().backward()
    assert xf.grad is not None and xf.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="n_actions"):
        RecurrentAttentionQNetwork(0)


def test_stream_outputs_and_their_saliency_through_unrolled(net):
    from rlinside.explain.saliency import Gradient, GuidedBackprop
    from rlinside.studies.saliency import heads, saliency_model

    x = _frames(2, 1, 84, 84, seed=3)
    state = net(_frames(2, 1, 84, 84, seed=4))[1]
    q, value, advantage, new_state = net(x, state, return_streams=True)
    q_ref, state_ref, d = net(x, state, return_details=True)
    torch.testing.assert_close(q, q_ref)
    torch.testing.assert_close(value, d.value)
    torch.testing.assert_close(advantage, d.advantage)
    torch.testing.assert_close(new_state[0], state_ref[0])
    with pytest.raises(ValueError, match="both"):
        net(x, state, return_details=True, return_streams=True)
    # the stream targets reach the DRQN through Unrolled, over a window of 3 steps
    window = _frames(1, 3, 84, 84, seed=5)
    one = tuple(s[:1] for s in state)
    model = saliency_model("drqn", net, one, steps=3)
    targets = heads("drqn", 2)
    assert list(targets) == ["Q(s, chosen action)", "value stream V(s)",
                             "advantage stream A(s, chosen action)"]
    grads = {}
    for name, (target, kwargs) in targets.items():
        grads[name] = Gradient(model).attribute(window.float(), target=target, forward_kwargs=kwargs)
        assert grads[name].shape == (1, 3, 84, 84)
    # Q = V + A(a) - mean(A): independent autograd of the centred advantage gives the rest
    xf = window.float().requires_grad_()
    s = one
    for k in range(3):
        q_k, v_k, a_k, s = net(xf[:, k:k + 1], s, return_streams=True)
    (a_k[:, 2] - a_k.mean(dim=1)).sum().backward()
    torch.testing.assert_close(grads["Q(s, chosen action)"] - grads["value stream V(s)"], xf.grad,
                               atol=1e-5, rtol=1e-4)
    gb = GuidedBackprop(model).attribute(window.float(), target=targets["value stream V(s)"][0],
                                         forward_kwargs={"return_streams": True})
    assert gb.abs().sum() > 0


def test_orthogonal_initialization():
    torch.manual_seed(0)
    default = RecurrentAttentionQNetwork(n_actions=5, lstm_size=32, attention_size=16, hidden=24)
    torch.manual_seed(0)
    ortho = RecurrentAttentionQNetwork(n_actions=5, lstm_size=32, attention_size=16, hidden=24,
                                       init="orthogonal")
    assert ortho.init == "orthogonal" and default.init == "pytorch"
    w = ortho.torso.conv2.weight.flatten(1)  # (64, 32*4*4): rows orthogonal, norm sqrt(2)
    torch.testing.assert_close(w @ w.T, 2.0 * torch.eye(64), atol=1e-4, rtol=1e-4)
    assert torch.count_nonzero(ortho.torso.conv1.bias) == 0
    for block in ortho.lstm.weight_ih.chunk(4, dim=0):  # each gate: (32, 64), orthonormal rows
        torch.testing.assert_close(block @ block.T, torch.eye(32), atol=1e-4, rtol=1e-4)
    assert torch.count_nonzero(ortho.lstm.bias_hh) == 0
    # the point of it: much larger conv3 features, hence attention that is not flat at step 0
    x = _frames(4, 1, 84, 84, seed=7)
    f_default, f_ortho = default.features(x), ortho.features(x)
    assert f_ortho.abs().mean() > 3 * f_default.abs().mean()
    with pytest.raises(ValueError, match="init must be one of"):
        RecurrentAttentionQNetwork(5, init="xavier")
    with pytest.raises(ValueError, match="init must be one of"):
        DRQNConfig(init="xavier")


def test_every_relu_runs_once_per_forward(net):
    calls: dict[str, int] = {}
    relus = {n: m for n, m in net.named_modules() if isinstance(m, torch.nn.ReLU)}
    def count(name):
        return lambda module, inputs, output: calls.__setitem__(name, calls.get(name, 0) + 1)

    handles = [m.register_forward_hook(count(n)) for n, m in relus.items()]
    try:
        for details in (False, True):
            calls.clear()
            net(_frames(2, 1, 84, 84), return_details=details)
            assert calls == {n: 1 for n in relus}
    finally:
        for h in handles:
            h.remove()
    assert sorted(relus) == [
        "advantage_relu", "torso.relu1", "torso.relu2", "torso.relu3", "value_relu"
    ]


def test_forward_sequence_equals_stepping_with_resets(net):
    steps, batch = 5, 3
    x = _frames(steps, batch, 1, 84, 84, seed=1)
    resets = torch.zeros(steps, batch, dtype=torch.bool)
    resets[2, 1] = resets[4, 0] = True
    g = torch.Generator().manual_seed(2)
    state0 = (torch.randn(batch, 32, generator=g), torch.randn(batch, 32, generator=g))
    with torch.no_grad():
        q_seq, (h_seq, _) = net.forward_sequence(x, state0, resets)
        state, qs = state0, []
        for t in range(steps):
            keep = (~resets[t]).float()[:, None]
            q, state = net(x[t], (state[0] * keep, state[1] * keep))
            qs.append(q)
        torch.testing.assert_close(q_seq, torch.stack(qs), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(h_seq, state[0], atol=1e-5, rtol=1e-5)
        # a reset zeroes the state: from step 2 on, sequence 1 is a fresh sequence
        q_fresh, _ = net.forward_sequence(x[2:, 1:2])
        torch.testing.assert_close(q_seq[2:, 1:2], q_fresh, atol=1e-5, rtol=1e-5)
        # ... and without it the carried state changes the Q-values
        assert not torch.allclose(net.forward_sequence(x, state0)[0][2:, 1:2], q_fresh, atol=1e-4)


def _hand_built_buffer() -> FrameReplayBuffer:
    """Capacity 10, 14 writes; frame value = write number. Game 1: writes 0-4 (4 terminal),
    game 2: writes 5-8 (cut by the time limit, 8 not terminal), game 3: writes 9-13.
    After wrap-around entries 4..9 hold writes 4..9 and entries 0..3 writes 10..13."""
    buffer = FrameReplayBuffer(10, frame_shape=(2, 2), frame_stack=1)
    for w in range(14):
        buffer.add(np.full((2, 2), w, np.uint8), action=w % 3, reward=float(w), terminal=w == 4,
                   first=w in (0, 5, 9))
    return buffer


def test_sequence_sampler_respects_write_pointer_and_games():
    buffer = _hand_built_buffer()
    assert buffer.ptr == 4 and len(buffer) == 10
    # windows of 4 entries: starting at writes 4..10 (entries 4..9, 0), never across ptr
    ok = valid_window_starts(buffer, np.arange(10), 4)
    assert ok.tolist() == [True, False, False, False, True, True, True, True, True, True]
    # not yet full: windows must lie inside the written entries
    partial = FrameReplayBuffer(10, frame_shape=(2, 2), frame_stack=1)
    for w in range(6):
        partial.add(np.full((2, 2), w, np.uint8), 0, 0.0, False, w == 0)
    assert valid_window_starts(partial, np.arange(10), 4).tolist() == [True] * 3 + [False] * 7

    batch = sample_sequences(buffer, 200, 4, np.random.default_rng(0))
    writes = batch.obs[:, :, 0, 0, 0].astype(int)  # (W, B) write numbers
    assert batch.obs.shape == (4, 200, 1, 2, 2) and batch.actions.shape == (3, 200)
    np.testing.assert_array_equal(np.diff(writes, axis=0), 1)  # consecutive writes only
    assert set(writes[0]) == set(range(4, 11))  # every valid start is drawn
    np.testing.assert_array_equal(batch.rewards, writes[:-1])
    np.testing.assert_array_equal(batch.resets, np.isin(writes, (5, 9)))
    np.testing.assert_array_equal(batch.terminals, writes[:-1] == 4)
    # masked: only the last transition of the truncated game 2 (write 8 -> 9, a new game);
    # the terminal 4 -> 5 stays in the loss (no bootstrap)
    np.testing.assert_array_equal(batch.valid, writes[:-1] != 8)


def test_sequence_update_is_masked_double_dqn_stepwise():
    """The loss of one update equals Double DQN targets computed step by step with forward()."""
    from rlinside.agents.drqn import _sequence_update

    config = dataclasses.replace(TINY, burn_in=2, sequence_length=3, gamma=0.9)
    rng = np.random.default_rng(0)
    buffer = FrameReplayBuffer(40, frame_stack=1)
    for w in range(30):  # games start at 0, 10 (9 game over), 20 (19 truncated); life lost at 5
        buffer.add(rng.integers(0, 256, (84, 84), dtype=np.uint8), int(rng.integers(5)),
                   float(rng.integers(-1, 2)), w in (5, 9), w in (0, 10, 20))
    batch = sample_sequences(buffer, 48, config.window, rng)
    assert batch.resets[1:].any() and not batch.valid[config.burn_in:].all()
    torch.manual_seed(1)
    q_net, target_net = (RecurrentAttentionQNetwork(5, lstm_size=32, attention_size=16, hidden=32)
                         for _ in range(2))
    frames = torch.from_numpy(batch.obs).flatten(0, 1)
    with torch.no_grad():  # large Q-values and greedy actions that differ between frames, so
        for model in (q_net, target_net):  # that an off-by-one in time shows in the loss
            advantage = model(frames, return_details=True)[2].advantage
            model.advantage_out.bias.sub_(advantage.mean(dim=0))
            for p in (model.advantage_out.weight, model.advantage_out.bias, model.value_out.weight):
                p.mul_(300.0)
    optimizer = torch.optim.SGD(q_net.parameters(), lr=0.0)
    loss = _sequence_update(q_net, target_net, optimizer, batch, config, torch.device("cpu"))

    obs, resets = torch.from_numpy(batch.obs), torch.from_numpy(batch.resets)
    with torch.no_grad():
        q = {}
        for name, model in (("online", q_net), ("target", target_net)):
            state, qs = None, []
            for t in range(config.window):
                if state is not None:
                    keep = (~resets[t]).float()[:, None]
                    state = (state[0] * keep, state[1] * keep)
                out, state = model(obs[t], state)
                qs.append(out)
            q[name] = torch.stack(qs)  # (W, B, A)
    losses, count = 0.0, 0
    for t in range(config.burn_in, config.window - 1):
        for b in range(obs.shape[1]):
            if not batch.valid[t, b]:
                continue
            best = int(q["online"][t + 1, b].argmax())
            bootstrap = 0.9 * (1 - batch.terminals[t, b]) * q["target"][t + 1, b, best]
            y = batch.rewards[t, b] + bootstrap
            q_taken = q["online"][t, b, batch.actions[t, b]]
            losses += torch.nn.functional.huber_loss(q_taken, y).item()
            count += 1
    assert loss == pytest.approx(losses / count, rel=1e-4)


def test_config_validation():
    with pytest.raises(ValueError, match="learning_starts"):
        DRQNConfig(learning_starts=10, burn_in=4, sequence_length=8)
    with pytest.raises(ValueError, match="burn_in"):
        DRQNConfig(burn_in=-1)
    with pytest.raises(ValueError, match="game"):
        DRQNConfig(game="Tetris")
    assert DRQNConfig().window == 13 and DRQNConfig().frame_stack == 1


# -------------------------------------------------------------------------- training

# Mostly random play (epsilon ~0.95) keeps the first Seaquest game short (~500 steps), so the
# run checkpoints at its end; the buffer wraps twice.
TINY = DRQNConfig(
    game="Seaquest", seed=2, total_steps=600, buffer_size=250, learning_starts=60, batch_size=4,
    sequence_length=4, burn_in=2, train_freq=4, target_update_every=50,
    epsilon_decay_steps=10_000, lstm_size=32, attention_size=16, hidden=32,
    checkpoint_every=100, snapshot_steps=(300,),
)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory) -> Path:
    """The uninterrupted tiny run (smoke test of train_drqn)."""
    run_dir = tmp_path_factory.mktemp("drqn") / "straight"
    assert train_drqn(TINY, run_dir, progress=False) == run_dir / "final.pt"
    return run_dir


def _metrics(run_dir: Path) -> list[list[str]]:
    with open(run_dir / "metrics.csv") as f:
        return [row[:-1] for row in csv.reader(f)]  # drop wall_time


def _final_state(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "final.pt", weights_only=True)["state_dict"]


def test_smoke_training_on_seaquest(straight_run):
    rows = _metrics(straight_run)
    assert rows[0] == ["step", "episode", "return", "length", "loss", "epsilon"]
    assert len(rows) >= 2 and all(np.isfinite(float(r[4])) for r in rows[1:])  # learned
    assert (straight_run / "weights_step000000300.pt").exists()
    assert (straight_run / "checkpoint.pt").exists() and list(straight_run.glob("replay_*.npz"))
    # a finished run returns at once
    assert train_drqn(TINY, straight_run, progress=False) == straight_run / "final.pt"


def test_killed_and_resumed_run_ends_bit_identical(straight_run, tmp_path):
    # "killed" a little after the first game's end (the first checkpoint): the steps after
    # it are lost and recomputed on resume
    first_game_end = int(_metrics(straight_run)[1][0])
    killed = tmp_path / "killed"
    assert train_drqn(TINY, killed, stop_after=first_game_end + 40, progress=False) is None
    ckpt = torch.load(killed / "checkpoint.pt", weights_only=False)
    assert ckpt["counters"]["step"] == first_game_end and (killed / ckpt["replay_file"]).exists()
    assert train_drqn(TINY, killed, progress=False) == killed / "final.pt"
    a, b = _final_state(straight_run), _final_state(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert _metrics(straight_run) == _metrics(killed)
    with pytest.raises(ValueError, match="different configuration"):
        train_drqn(DRQNConfig(**{**TINY.to_dict(), "gamma": 0.9}), killed, progress=False)


def test_export_load_and_evaluate(straight_run, tmp_path):
    out = export_drqn_weights(straight_run, tmp_path / "weights.pt")
    net, meta = load_drqn_weights(out, device=torch.device("cpu"))
    assert meta["step"] == 600 and meta["game"] == "Seaquest" and meta["lstm_size"] == 32
    assert next(net.parameters()).dtype == torch.float32 and not net.training
    final = _final_state(straight_run)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, final[k], atol=1e-3, rtol=1e-3)
    snapshot = straight_run / "weights_step000000300.pt"
    assert load_drqn_weights(snapshot, torch.device("cpu"))[1]["step"] == 300
    scores = evaluate_drqn(net, "Seaquest", episodes=1, seed=3)
    assert scores.shape == (1,) and scores[0] == round(scores[0])  # a Seaquest score: whole points
    assert evaluate_drqn(net, "Seaquest", episodes=1, seed=3)[0] == scores[0]  # seeded: the same game
    with pytest.raises(ValueError, match="actions"):
        evaluate_drqn(RecurrentAttentionQNetwork(4), "Seaquest", episodes=1, seed=0)


def test_eval_snapshots_script(straight_run, tmp_path):
    """scripts/eval_snapshots.py: one row per snapshot, the zoo's evaluation, attention peaks."""
    import shutil
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(straight_run / "weights_step000000300.pt", run)
    (run / "snapshot_eval.csv").write_text("step,game,mean\n100,Seaquest,5.0\n300,Seaquest,7.0\n")
    script = Path(__file__).resolve().parents[1] / "scripts" / "eval_snapshots.py"
    proc = subprocess.run([sys.executable, str(script), "--run-dir", str(run), "--agent", "drqn",
                           "--episodes", "1", "--seed", "3"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    import pandas as pd

    everything = pd.read_csv(run / "snapshot_eval.csv")  # earlier rows of other steps/seeds kept
    assert sorted(zip(everything["seed"], everything["step"])) == [(0, 100), (0, 300), (3, 300)]
    table = everything[everything["seed"] == 3].reset_index(drop=True)
    assert list(table["step"]) == [300] and table["distinct scores"].iloc[0] == 1
    net, _ = load_drqn_weights(run / "weights_step000000300.pt")
    assert table["mean"].iloc[0] == evaluate_drqn(net, "Seaquest", episodes=1, seed=3)[0]
    for part in ("lstm", "value", "advantage"):
        assert table[f"attention peak / uniform ({part})"].iloc[0] >= 1.0  # 49 * max of a softmax
    used, top = table["actions used"].iloc[0], table["top action share"].iloc[0]
    assert 1 <= used <= 18 and 1 / used <= top <= 1
    bad = subprocess.run([sys.executable, str(script), "--run-dir", str(run), "--agent", "drqn",
                          "--from-step", "1000"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "no weights_step<N>.pt at or after step 1000" in bad.stderr


def test_attention_summary_against_hand_values():
    from rlinside.explain.attention import attention_summary

    uniform = attention_summary(torch.full((7, 7), 1 / 49))
    assert uniform["locations"] == pytest.approx(49) and uniform["peak / uniform"] == pytest.approx(1)
    assert uniform["logit spread"] == pytest.approx(0, abs=1e-9)
    # two locations at 1/2: entropy log 2 -> 2 locations; 4 locations: peak 4 * 1/2
    two = attention_summary(torch.tensor([0.5, 0.5, 0.0, 0.0]))
    assert two["locations"] == pytest.approx(2) and two["peak / uniform"] == pytest.approx(2)
    assert two["logit spread"] == float("inf")
    # softmax of logits (0, 0, log 4): weights 1/6, 1/6, 4/6 -> logit spread log 4
    w = torch.softmax(torch.tensor([0.0, 0.0, np.log(4.0)]), 0)
    s = attention_summary(w)
    assert s["logit spread"] == pytest.approx(np.log(4)) and s["peak / uniform"] == pytest.approx(2)
    assert s["locations"] == pytest.approx(np.exp(-(2 / 6 * np.log(1 / 6) + 4 / 6 * np.log(4 / 6))))
    with pytest.raises(ValueError, match="sum to 1"):
        attention_summary(torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="non-negative"):
        attention_summary(torch.tensor([1.5, -0.5]))
