"""Tests of the saliency chapter's measurements: recurrent unrolling, cascading randomization,
similarity measures, perturbation saliency, object masks and shares, videos, and the
features-before-reward measurement on a tiny training run."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage, stats
from torch import nn

from rlinside.envs.atari_objects import (
    BREAKOUT_RED,
    SEAQUEST_PLAYER,
    object_masks,
    to_observation_grid,
)
from rlinside.explain.saliency import (
    METHOD_NAMES,
    GradCAM,
    Gradient,
    Unrolled,
    critic_value,
    explain_all,
    make_method,
    newest_frame,
)
from rlinside.explain.sanity import (
    cascading_randomization,
    object_share,
    perturbation_saliency,
    randomization_order,
    rank_correlation,
    ssim,
    temporal_stability,
)
from rlinside.nets.atari import DuelingQNetwork
from rlinside.nets.recurrent import ActorCritic
from rlinside.plots.video import gif_bytes, gif_html, label_strip, side_by_side
from rlinside.studies.saliency import heads, saliency_model


def _lstm_net(seed=0):
    torch.manual_seed(seed)
    return ActorCritic(n_actions=5, in_channels=1, lstm_size=16).eval()


# ------------------------------------------------------------------ recurrent agents


def test_unrolled_matches_stepping_and_reaches_past_frames():
    net = _lstm_net()
    x = torch.rand(2, 3, 84, 84) * 255
    h0 = (torch.randn(2, 16) * 0.1, torch.randn(2, 16) * 0.1)
    state = h0
    for k in range(3):
        logits, value, state = net(x[:, k:k + 1], state)
    out = Unrolled(net, h0, steps=3)(x)
    assert torch.allclose(out[0], logits, atol=1e-6) and torch.allclose(out[1], value, atol=1e-6)
    # the decision at t depends on the frame at t-2 (through the LSTM), and the map says so
    grad = Gradient(Unrolled(net, h0, steps=3)).attribute(x, target=1)
    assert grad.shape == x.shape and (grad[:, 0].abs().sum(dim=(1, 2)) > 0).all()
    # the carried state matters: another state, another map
    other = Gradient(Unrolled(net, None, steps=3)).attribute(x, target=1)
    assert not torch.allclose(grad, other)


def test_unrolled_checks_its_inputs_and_gradcam_needs_one_step():
    net = _lstm_net()
    with pytest.raises(ValueError, match="takes inputs"):
        Unrolled(net, steps=2)(torch.rand(1, 3, 84, 84))
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        Unrolled(net, steps=0)
    with pytest.raises(ValueError, match="called exactly once"):
        GradCAM(Unrolled(net, steps=2), net.torso.conv1).attribute(torch.rand(1, 2, 84, 84), target=0)
    cam = GradCAM(Unrolled(net, steps=1), net.torso.conv1).attribute(torch.rand(1, 1, 84, 84), target=0)
    assert cam.shape == (1, 1, 84, 84)


def test_single_state_is_broadcast_over_the_batch():
    net = _lstm_net()
    h = (torch.randn(1, 16), torch.randn(1, 16))
    x = torch.rand(3, 1, 84, 84) * 255
    batched = Unrolled(net, h)(x)[0]
    one = torch.cat([Unrolled(net, h)(x[i:i + 1])[0] for i in range(3)])
    assert torch.allclose(batched, one, atol=1e-6)


def test_agent_helpers():
    net = _lstm_net()
    assert isinstance(saliency_model("a2c-lstm", net), Unrolled)
    dq = DuelingQNetwork(n_actions=4)
    assert saliency_model("dddqn", dq) is dq
    with pytest.raises(ValueError, match="feed-forward"):
        saliency_model("dddqn", dq, steps=2)
    assert list(heads("dddqn", 2))[1] == "value stream V(s)"
    assert len(heads("a2c", 0)) == 2
    with pytest.raises(ValueError, match="agent must be one of"):
        heads("ppo", 0)
    # the critic target explains V(s): its gradient matches autograd on the value output
    x = torch.rand(1, 1, 84, 84) * 255
    grad = Gradient(net).attribute(x, target=critic_value())
    xr = x.clone().requires_grad_(True)
    net(xr)[1].sum().backward()
    assert torch.allclose(grad, xr.grad, atol=1e-6)
    maps = explain_all(dq, torch.rand(2, 4, 84, 84) * 255, 1, dq.torso.conv1)
    assert list(maps) == list(METHOD_NAMES)
    assert newest_frame(maps["Gradient"]).shape == (2, 84, 84)
    with pytest.raises(ValueError, match="method must be one of"):
        make_method("SmoothGrad", dq)
    with pytest.raises(ValueError, match="needs a layer"):
        make_method("Grad-CAM", dq)


# ------------------------------------------------------------------ randomization


def test_cascading_randomization_is_cumulative_top_down_and_leaves_the_model_alone():
    torch.manual_seed(0)
    net = DuelingQNetwork(n_actions=4).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    order = randomization_order(net)
    assert order[0] == "advantage_out" and order[-1] == "torso.conv1"
    seen = []
    for k, (name, randomized) in enumerate(cascading_randomization(net, seed=3)):
        seen.append(name)
        new = dict(randomized.named_modules())
        old = dict(net.named_modules())
        for j, layer in enumerate(order):
            same = all(torch.equal(a, b) for a, b in zip(old[layer].parameters(recurse=False),
                                                          new[layer].parameters(recurse=False)))
            assert same == (j > k), (k, layer)
    assert seen == order
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    # seeded: the same randomized weights twice
    a = [r.state_dict()["torso.conv1.weight"].clone() for _, r in cascading_randomization(net, seed=3)][-1]
    b = [r.state_dict()["torso.conv1.weight"].clone() for _, r in cascading_randomization(net, seed=3)][-1]
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="unknown layer"):
        next(cascading_randomization(net, order=["nope"]))


def test_randomizing_a_layer_without_reset_parameters():
    net = _lstm_net()
    names = randomization_order(net)
    assert "lstm" in names
    for _name, randomized in cascading_randomization(net, order=["lstm"]):
        old = dict(net.named_modules())["lstm"]
        new = dict(randomized.named_modules())["lstm"]
        assert all(not torch.equal(a, b) for a, b in zip(old.parameters(recurse=False), new.parameters(recurse=False)))


# ------------------------------------------------------------------ similarity


def test_rank_correlation_against_scipy_and_edge_cases():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(10, 10)), rng.normal(size=(10, 10))
    assert rank_correlation(a, b) == pytest.approx(stats.spearmanr(a.ravel(), b.ravel()).statistic)
    assert rank_correlation(a, -a) == pytest.approx(-1)
    assert rank_correlation(a, -a, absolute=True) == pytest.approx(1)
    assert np.isnan(rank_correlation(np.zeros(5), np.arange(5)))
    with pytest.raises(ValueError, match="same number of values"):
        rank_correlation(np.arange(4), np.arange(5))
    with pytest.raises(ValueError, match="NaN"):
        rank_correlation([0, np.nan], [1, 2])


def test_ssim_properties():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(32, 32))
    assert ssim(a, a) == pytest.approx(1)
    assert ssim(a, 3 * a) == pytest.approx(1)  # scaled to [0, 1] first
    assert ssim(a, -a) == pytest.approx(1)  # absolute values
    assert ssim(a, rng.normal(size=(32, 32))) < 0.5
    with pytest.raises(ValueError, match="2-D map"):
        ssim(np.ones(10), np.ones(10))


def test_temporal_stability():
    maps = np.random.default_rng(2).normal(size=(4, 8, 8))
    maps[2] = maps[1]
    rho = temporal_stability(maps)
    assert rho.shape == (3,) and rho[1] == pytest.approx(1) and abs(rho[0]) < 0.5
    with pytest.raises(ValueError, match="T >= 2"):
        temporal_stability(maps[:1])


# ------------------------------------------------------------------ perturbation saliency


class _Region(nn.Module):
    """Output: the mean of the pixels in rows 10-14, cols 30-34 of every frame, and of a far
    region; a blur there changes it, a blur elsewhere does not."""

    def forward(self, x):
        return torch.stack([x[:, :, 10:15, 30:35].mean(dim=(1, 2, 3)), x[:, :, 60:65, 60:65].mean(dim=(1, 2, 3))], 1)


def test_perturbation_saliency_against_the_formula():
    rng = np.random.default_rng(3)
    obs = torch.from_numpy(rng.integers(0, 255, size=(1, 2, 84, 84)).astype(np.uint8))
    model = _Region()
    sal = perturbation_saliency(model, obs, stride=1, radius=5, blur_sigma=3)[0, 0]
    # independent computation at one centre
    i, j = 12, 40
    frames = obs[0].double().numpy()
    disc = np.zeros((84, 84))
    disc[i - 1:i + 2, j - 1:j + 2] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    mask = ndimage.gaussian_filter(disc, 5)
    mask /= mask.max()
    perturbed = frames * (1 - mask) + np.stack([ndimage.gaussian_filter(f, 3) for f in frames]) * mask
    f0 = model(torch.from_numpy(frames[None])).numpy()
    f1 = model(torch.from_numpy(perturbed[None])).numpy()
    assert sal[i, j].item() == pytest.approx(0.5 * ((f0 - f1) ** 2).sum(), rel=1e-3)
    # far from both regions nothing changes; near one it does
    assert sal[40, 5].item() < 1e-3 * sal[12, 32].item()
    coarse = perturbation_saliency(model, obs, stride=5)
    assert coarse.shape == (1, 1, 84, 84) and (coarse >= 0).all()
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        perturbation_saliency(model, obs[0])
    with pytest.raises(ValueError, match="stride"):
        perturbation_saliency(model, obs, stride=0)


# ------------------------------------------------------------------ objects


def test_object_share_hand_example():
    sal = np.zeros((4, 4))
    sal[0, 0], sal[3, 3] = 3.0, -1.0
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, :2] = True  # 2 of 16 pixels
    share, enrichment = object_share(sal, mask)
    assert share == pytest.approx(0.75) and enrichment == pytest.approx(0.75 / (2 / 16))
    assert all(np.isnan(object_share(np.zeros((4, 4)), mask)))
    with pytest.raises(ValueError, match="same shape"):
        object_share(sal, mask[:2])


def test_object_masks_on_synthetic_screens():
    frame = np.zeros((210, 160, 3), dtype=np.uint8)
    frame[57:63, 8:152] = BREAKOUT_RED  # the top brick row: not an object
    frame[120:122, 50:52] = BREAKOUT_RED  # the ball
    frame[189:193, 70:86] = BREAKOUT_RED  # the paddle
    m = object_masks("Breakout", frame)
    assert m["ball"].sum() == 4 and m["paddle"].sum() == 64
    grid = to_observation_grid(m["ball"], dilate=0)
    assert grid.sum() == 1 and grid[120 * 84 // 210, 50 * 84 // 160]
    assert to_observation_grid(m["ball"], dilate=1).sum() == 9
    sea = np.zeros((210, 160, 3), dtype=np.uint8)
    sea[46:153, 8:] = (0, 28, 136)
    sea[100:110, 60:76] = SEAQUEST_PLAYER
    sea[80:85, 20:28] = (92, 186, 92)  # a shark
    ms = object_masks("Seaquest", sea)
    assert ms["player"].sum() == 160 and ms["enemies"].sum() == 40 and ms["divers"].sum() == 0
    with pytest.raises(ValueError, match="game must be one of"):
        object_masks("Pong", frame)
    with pytest.raises(ValueError, match="uint8 RGB screen"):
        object_masks("Breakout", frame[:100])


def test_object_masks_find_the_paddle_on_a_real_screen():
    from rlinside.envs.atari import make_atari_env

    env = make_atari_env("Breakout", seed=0, frame_stack=4, training=False, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        env.step(1)
        frame = env.unwrapped.ale.getScreenRGB()
    finally:
        env.close()
    m = object_masks("Breakout", frame)
    assert 10 <= m["paddle"].sum() <= 200


# ------------------------------------------------------------------ videos


def test_gif_round_trip_and_panels():
    frames = [np.full((10, 12, 3), v, dtype=np.uint8) for v in (0, 120, 250)]
    data = gif_bytes(frames, fps=10)
    im = Image.open(io.BytesIO(data))
    assert im.n_frames == 3 and im.size == (12, 10)
    panel = side_by_side([frames[0], frames[1]], gap=2)
    assert panel.shape == (10, 26, 3) and (panel[:, 12:14] == 255).all()
    assert label_strip(["a", "b"], [12, 12]).shape[1] == 26
    html = gif_html(data, alt='a "quoted" alt')
    assert html.startswith('<img src="data:image/gif;base64,') and "&quot;quoted&quot;" in html
    with pytest.raises(ValueError, match="share one shape"):
        gif_bytes([frames[0], np.zeros((5, 5, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="alt text"):
        gif_html(data, alt="")
    with pytest.raises(ValueError, match="share their height"):
        side_by_side([frames[0], np.zeros((5, 5, 3), dtype=np.uint8)])


# ------------------------------------------------------------------ over training


def test_features_before_reward_measurement_on_a_tiny_run(tmp_path, monkeypatch):
    from rlinside.agents.a2c import A2CConfig, train_a2c
    from rlinside.studies.saliency import (
        label,
        load_measurement,
        measure_run,
        ship_measurement,
        snapshots,
        training_curves,
    )

    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    config = A2CConfig(game="Breakout", total_steps=320, n_envs=4, checkpoint_every=10**6,
                       snapshot_steps=(1, 160))
    run = tmp_path / "run"
    train_a2c(config, run, progress=False)
    snaps = snapshots(run)
    assert [s for s, _ in snaps][:2] == [1, 160] and snaps[-1][1].name == "final.pt"
    table = measure_run(run, "a2c", "Breakout", n_states=3, every=2)
    assert set(table.step) == {s for s, _ in snaps}
    assert set(table.method) == set(METHOD_NAMES)
    assert set(table.object) == {"ball", "paddle", "all"}
    finite = table.share.dropna()
    assert len(finite) and ((finite >= 0) & (finite <= 1 + 1e-9)).all()
    art = ship_measurement(table, {"agent": "a2c", "game": "Breakout", "run": "tiny"})
    loaded, art2 = load_measurement(agent="a2c", game="Breakout", run="tiny")
    assert art2.key == art.key and len(loaded) == len(table)
    (curves,) = [c for c in training_curves(agent="a2c", game="Breakout", n_boot=20) if c.art.key == art.key]
    assert curves.family == label("a2c") and curves.family in curves.name
    assert list(curves.enrichment.index) == sorted(set(table.step))
    with pytest.raises(ValueError, match="agent must be one of"):
        measure_run(run, "a2c-gru", "Breakout")


def test_recurrent_networks_replay_their_own_memory(tmp_path):
    """A recurrent network replayed over the game it played itself carries exactly the states it
    acted from; the over-training measurement takes recurrent runs (each snapshot explains the
    states from the memory it built over the same game)."""
    from rlinside.agents.a2c import A2CConfig, train_a2c
    from rlinside.agents.zoo import load_weights_file, play_states, replay_states
    from rlinside.studies.saliency import measure_run, snapshots

    config = A2CConfig(game="Breakout", total_steps=160, n_envs=4, checkpoint_every=10**6, frame_stack=1,
                       lstm_size=8, snapshot_steps=(1,))
    run = tmp_path / "run"
    train_a2c(config, run, progress=False)
    net, _ = load_weights_file("a2c-lstm", snapshots(run)[-1][1])
    obs, _, _, carried = play_states("a2c-lstm", net, "Breakout", steps=12, seed=0, return_states=True)
    replayed = replay_states("a2c-lstm", net, obs, [c is None for c in carried])
    assert carried[0] is None and replayed[0] is None and sum(c is None for c in carried) >= 1
    for mine, theirs in zip(replayed, carried):
        assert (mine is None) == (theirs is None)
        assert mine is None or all(torch.equal(a, b) for a, b in zip(mine, theirs))
    assert replay_states("a2c", net, obs, [False] * len(obs)) == [None] * len(obs)
    with pytest.raises(ValueError, match="one flag per observation"):
        replay_states("a2c-lstm", net, obs, [True])
    table = measure_run(run, "a2c-lstm", "Breakout", n_states=2, every=2)
    assert set(table.step) == {s for s, _ in snapshots(run)} and set(table.method) == set(METHOD_NAMES)


def test_receptive_field_of_the_nature_cnn_by_brute_force():
    """The receptive field computed from the conv stack equals the input pixels that actually
    move a conv3 cell (found by perturbing each pixel of a random network)."""
    from rlinside.explain.attention import receptive_field
    from rlinside.nets.atari import NatureCNN

    torch.manual_seed(0)
    torso = NatureCNN(1).double()
    rf = receptive_field(torso)
    assert (rf.size, rf.jump, rf.start) == (36, 8, 0)
    x = torch.rand(1, 1, 84, 84, dtype=torch.float64, requires_grad=True)
    conv3 = torso.conv3(torso.conv2(torso.conv1(x)))  # linear: the support is the whole field
    for i, j in ((0, 0), (3, 5), (6, 6)):
        (g,) = torch.autograd.grad(conv3[0, :, i, j].sum(), x, retain_graph=True)
        rows = torch.nonzero(g[0, 0].abs().sum(1) > 0).flatten()
        cols = torch.nonzero(g[0, 0].abs().sum(0) > 0).flatten()
        assert (int(rows.min()), int(rows.max()) + 1) == rf.span(i, 84)
        assert (int(cols.min()), int(cols.max()) + 1) == rf.span(j, 84)
        assert rf.centre(i) == pytest.approx(8 * i + 17.5)


def test_attention_is_placed_on_receptive_fields():
    from rlinside.explain.attention import ReceptiveField, attention_on_input, mean_over_fields

    rf = ReceptiveField(size=36, jump=8, start=0)
    a = torch.zeros(7, 7, dtype=torch.float64)
    a[0, 6] = 1.0  # all attention on the top-right cell
    m = attention_on_input(a, rf)
    assert m.sum() == pytest.approx(1.0)
    assert torch.nonzero(m > 0).min(0).values.tolist() == [0, 48]
    assert torch.nonzero(m > 0).max(0).values.tolist() == [35, 83]
    # a pixel map that is one inside that field and zero elsewhere averages to 1 on that cell
    pix = (m > 0).double()
    cells = mean_over_fields(pix, rf)
    assert cells[0, 6] == pytest.approx(1.0) and cells[6, 0] == 0
    # uniform attention: every pixel of the frame gets mass, the middle more than the corners
    u = attention_on_input(torch.full((7, 7), 1 / 49), rf)
    assert u.min() > 0 and u[42, 42] > u[0, 0]
    with pytest.raises(ValueError, match="does not fit"):
        attention_on_input(torch.ones(12, 12), rf)


def test_cascading_randomization_can_use_the_agents_own_initialization():
    """With ``fresh``, every layer gets the parameters a new network of the same family has
    there (seeded): the A2C policy head's small orthogonal weights, zero biases; without it,
    PyTorch's default, a different scale. The trained model is never touched."""
    from rlinside.nets.recurrent import ActorCritic
    from rlinside.studies.saliency import own_initialization

    torch.manual_seed(0)
    net = ActorCritic(4, in_channels=3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fresh = own_initialization(net)
    *_, (_, own) = list((n, {k: v.clone() for k, v in m.state_dict().items()})
                        for n, m in cascading_randomization(net, seed=1, fresh=fresh))
    *_, (_, default) = list((n, {k: v.clone() for k, v in m.state_dict().items()})
                            for n, m in cascading_randomization(net, seed=1))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert float(own["policy.weight"].norm()) == pytest.approx(0.01 * 2, rel=1e-4)  # 4 orthonormal rows x 0.01
    assert float(own["policy.bias"].abs().max()) == 0 and float(own["torso.conv1.bias"].abs().max()) == 0
    assert float(default["policy.weight"].norm()) > 10 * float(own["policy.weight"].norm())
    assert not torch.equal(own["torso.conv1.weight"], before["torso.conv1.weight"])
    from rlinside.nets.atari import DuelingQNetwork

    with pytest.raises(ValueError, match="same architecture"):
        list(cascading_randomization(net, fresh=lambda: DuelingQNetwork(4, in_channels=3), order=["policy"]))


def test_step_statistics_measure_the_oxygen_bar_and_divers_in_seaquest():
    from rlinside.envs.atari_objects import SEAQUEST_DIVER, SEAQUEST_OXYGEN, SEAQUEST_WATER, to_observation_grid
    from rlinside.studies.saliency import step_statistics

    frame = np.zeros((210, 160, 3), dtype=np.uint8)
    frame[46:153] = SEAQUEST_WATER
    frame[170:175, 40:80] = SEAQUEST_OXYGEN
    frame[100:104, 20:28] = SEAQUEST_DIVER
    frames = np.stack([frame, frame])
    target = to_observation_grid((frame == np.array(SEAQUEST_OXYGEN, np.uint8)).all(-1)
                                 | (frame == np.array(SEAQUEST_DIVER, np.uint8)).all(-1))
    on = torch.tensor(target, dtype=torch.float32)[None].repeat(2, 1, 1)  # all magnitude on them
    off = 1.0 - on  # none on them
    stats = step_statistics("Seaquest", frames, {"on": on, "off": off})
    np.testing.assert_allclose(stats["on"]["enrichment, oxygen and divers"], 1 / target.mean())
    np.testing.assert_allclose(stats["off"]["enrichment, oxygen and divers"], 0.0)
    blank = step_statistics("Seaquest", frames, {"blank": torch.zeros_like(on)})["blank"]  # an all-zero map
    np.testing.assert_array_equal(blank["enrichment, oxygen and divers"], 0.0)  # shows nothing: 0, not left out
    empty = np.zeros_like(frames)
    empty[:, 46:153] = SEAQUEST_WATER
    assert np.isnan(step_statistics("Seaquest", empty, {"on": on})["on"]["enrichment, oxygen and divers"]).all()
    assert "enrichment, oxygen and divers" not in step_statistics(
        "Breakout", np.zeros_like(frames), {"on": on})["on"]
