"""Cluster-based pruning (Sec. 5, eq. 4): exactness on proportional neurons, thresholds, the
breadth-first segmentation and the prune-retrain driver."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.cluster.hierarchy import fcluster

from rlinside.explain.activations import cluster_linkage, record_activations
from rlinside.explain.pruning import (
    PruneStep,
    bfs_segmentation,
    cluster_scaling_factors,
    iterative_prune,
    prune_mlp,
)
from rlinside.nets.mlp import MLP


def make_net(seed=0, sizes=(10, 8, 6), n_in=5, n_out=3):
    torch.manual_seed(seed)
    model = MLP(n_in, list(sizes), n_out).double()
    with torch.no_grad():  # positive biases: no neuron is dead on standard normal inputs
        for lin in model.linears[:-1]:
            lin.bias.copy_(0.5 + torch.rand_like(lin.bias))
    return model


def episodes(seed=1, n=6, t=15, n_in=5):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(t, n_in)) for _ in range(n)]


def outputs(model, x):
    with torch.no_grad():
        return model(torch.as_tensor(np.concatenate(x), dtype=torch.float64)).numpy()


def make_proportional(model):
    """Plant exactly proportional neurons: in layer 0 n1 = 2.5 n0, n2 = 0.3 n0, n5 = 4 n4; in
    layer 1 n3 = 1.7 n7; in layer 2 n0 = 0.5 n1 (scaled incoming rows and biases)."""
    plan = {0: [(0, 1, 2.5), (0, 2, 0.3), (4, 5, 4.0)], 1: [(7, 3, 1.7)], 2: [(1, 0, 0.5)]}
    with torch.no_grad():
        for l, pairs in plan.items():
            lin = model.linears[l]
            for src, dst, c in pairs:
                lin.weight[dst] = c * lin.weight[src]
                lin.bias[dst] = c * lin.bias[src]
    return model


@pytest.mark.parametrize("method", ["average", "within"])
def test_merging_proportional_neurons_keeps_the_function(method):
    model = make_proportional(make_net(seed=1))
    eps = episodes()
    acts = record_activations(model, eps)
    assert all((np.concatenate([ep[l] for ep in acts]).max(0) > 0).all() for l in range(3))
    new, reports = prune_mlp(model, acts, tau=1e-6, method=method)
    assert new.hidden_sizes == [7, 7, 5]
    assert reports[0].clusters[0] == (0, 1, 2) and (4, 5) in reports[0].clusters
    assert (3, 7) in reports[1].clusters and reports[2].clusters[0] == (0, 1)
    # gamma_n = Z_n / sum_C Z: the planted factors 1 : 2.5 : 0.3
    np.testing.assert_allclose(reports[0].gamma[:3], np.array([1, 2.5, 0.3]) / 3.8, rtol=1e-10)
    fresh = episodes(seed=9, n=20)  # inputs never seen while pruning
    diff = np.abs(outputs(new, fresh) - outputs(model, fresh)).max()
    assert diff < 1e-6
    assert sum(p.numel() for p in new.parameters()) < sum(p.numel() for p in model.parameters())
    assert new.linears[0].weight.dtype == torch.float64


def test_eq4_weights_by_hand():
    """1 -> [2] -> 1 with z0 = ReLU(x), z1 = ReLU(2x), out = 3 z0 - z1 + 0.5.

    gamma = (1/3, 2/3); merged incoming weight = 1 + 2 = 3, bias 0; outgoing = 3/3 - 2/3 = 1/3.
    """
    model = MLP(1, [2], 1).double()
    with torch.no_grad():
        model.linears[0].weight.copy_(torch.tensor([[1.0], [2.0]]))
        model.linears[0].bias.zero_()
        model.linears[1].weight.copy_(torch.tensor([[3.0, -1.0]]))
        model.linears[1].bias.fill_(0.5)
    x = [np.linspace(-1, 2, 13)[:, None]]
    new, rep = prune_mlp(model, record_activations(model, x), tau=0.0)
    assert new.hidden_sizes == [1]
    assert new.linears[0].weight.item() == pytest.approx(3.0)
    assert new.linears[0].bias.item() == pytest.approx(0.0)
    assert new.linears[1].weight.item() == pytest.approx(1 / 3)
    assert new.linears[1].bias.item() == pytest.approx(0.5)
    np.testing.assert_allclose(outputs(new, x), outputs(model, x), atol=1e-12)


def test_tau_zero_prunes_nothing_without_dead_or_duplicate_neurons():
    model = make_net(seed=3)
    acts = record_activations(model, episodes(seed=2))
    new, reports = prune_mlp(model, acts, tau=0.0)
    assert new.hidden_sizes == model.hidden_sizes
    assert all(r.dead == () and r.threshold == 0.0 for r in reports)
    for a, b in zip(model.parameters(), new.parameters()):
        assert torch.equal(a, b)


def test_tau_zero_removes_dead_neurons_exactly_on_recorded_inputs():
    model = make_net(seed=4)
    with torch.no_grad():
        model.linears[0].bias[[2, 6]] = -100.0  # dead for every recorded input
        model.linears[1].bias[5] = -100.0
    eps = episodes(seed=3)
    new, reports = prune_mlp(model, record_activations(model, eps), tau=0.0)
    assert new.hidden_sizes == [8, 7, 6]
    assert reports[0].dead == (2, 6) and reports[1].dead == (5,)
    assert reports[0].gamma[2] == 0.0
    assert np.abs(outputs(new, eps) - outputs(model, eps)).max() < 1e-10


def test_dead_layer_keeps_one_silent_neuron():
    model = make_net(seed=5)
    with torch.no_grad():
        model.linears[1].bias.fill_(-1e3)
    eps = episodes(seed=4)
    new, reports = prune_mlp(model, record_activations(model, eps), tau=0.2)
    assert new.hidden_sizes[1] == 1 and reports[1].clusters == () and len(reports[1].dead) == 8
    assert np.abs(outputs(new, eps) - outputs(model, eps)).max() < 1e-10


def test_size_shrinks_with_tau_and_tau_one_leaves_one_neuron():
    model = make_net(seed=6, sizes=(16, 12))
    acts = record_activations(model, episodes(seed=5))
    sizes = [sum(prune_mlp(model, acts, tau)[0].hidden_sizes) for tau in (0.0, 0.2, 0.5, 0.8, 1.0)]
    assert sizes[0] == 28 and sizes[-1] == 2
    assert all(a >= b for a, b in zip(sizes, sizes[1:])) and sizes[2] < sizes[0]


@pytest.mark.parametrize("frac", [0.0, 0.1, 0.3, 0.6, 1.0])
def test_bfs_equals_fcluster_for_average_linkage(frac):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(12, 2))
    Z = cluster_linkage(np.linalg.norm(x[:, None] - x[None], axis=-1), "average")
    thr = frac * Z[:, 2].max()
    seg = bfs_segmentation(Z, thr)
    labels = fcluster(Z, thr, criterion="distance")
    want = sorted((sorted(np.flatnonzero(labels == k).tolist()) for k in np.unique(labels)), key=lambda c: c[0])
    assert seg == want
    assert sorted(i for c in seg for i in c) == list(range(12))


def test_bfs_stops_at_first_node_below_threshold_in_non_monotone_tree():
    # leaves 0..3; node 4 = (0, 1) at 1.0, node 5 = (2, 4) at 0.5 (inversion), root 6 = (3, 5) at 2.0
    Z = np.array([[0, 1, 1.0, 2], [2, 4, 0.5, 3], [3, 5, 2.0, 4]])
    assert bfs_segmentation(Z, 0.6) == [[0, 1, 2], [3]]  # node 5 is taken whole
    assert bfs_segmentation(Z, 0.1) == [[0], [1], [2], [3]]


def test_scaling_factors():
    g = cluster_scaling_factors(np.array([2.0, 6.0, 0.0, 0.0, 5.0]), [[0, 1, 2], [3], [4]])
    np.testing.assert_allclose(g, [0.25, 0.75, 0.0, 0.0, 1.0])


def test_iterative_prune_records_each_step():
    model = make_net(seed=7, sizes=(12, 10))
    eps = episodes(seed=6)
    calls = {"retrain": 0}

    def get_activations(m):
        return record_activations(m, eps)

    def retrain(m):
        calls["retrain"] += 1
        return m, 10 * calls["retrain"]

    final, history = iterative_prune(model, get_activations, retrain, tau=0.3, steps=3,
                                     evaluate=lambda m: float(sum(m.hidden_sizes)))
    assert len(history) == 3 and all(isinstance(h, PruneStep) for h in history)
    assert history[0].sizes_before == (12, 10)
    for a, b in zip(history, history[1:]):
        assert b.sizes_before == a.sizes_after
    assert [h.retrain_episodes for h in history] == [10, 20, 30]
    assert [h.accuracy_before_retraining for h in history] == [float(h.neurons_after) for h in history]
    assert history[0].neurons_after < history[0].neurons_before
    assert final.hidden_sizes == list(history[-1].sizes_after)


def test_bad_inputs_give_clear_errors():
    model = make_net()
    acts = record_activations(model, episodes(n=2))
    with pytest.raises(ValueError, match=r"tau=1.5: must be in \[0, 1\]"):
        prune_mlp(model, acts, 1.5)
    with pytest.raises(TypeError, match="tau must be a real number"):
        prune_mlp(model, acts, "0.2")
    with pytest.raises(ValueError, match="hidden sizes"):
        prune_mlp(model, [[ep[0], ep[1]] for ep in acts], 0.2)
    with pytest.raises(TypeError, match="rlinside.nets.mlp.MLP"):
        prune_mlp(torch.nn.Linear(2, 2), acts, 0.2)
    with pytest.raises(ValueError, match="steps=0"):
        iterative_prune(model, lambda m: acts, lambda m: (m, 1), 0.2, steps=0)
    with pytest.raises(TypeError, match="retrain"):
        iterative_prune(model, lambda m: record_activations(m, episodes(n=2)), lambda m: m, 0.2, steps=1)


def test_keep_neurons_drops_neurons_and_mean_replacement_keeps_a_constant_neuron_exact():
    from rlinside.explain.pruning import keep_neurons

    torch.manual_seed(0)
    net = MLP(4, [5, 3], 2)
    with torch.no_grad():  # neuron 1 of layer 1 ignores its input: it is the constant ReLU(0.7) = 0.7
        net.linears[0].weight[1].zero_()
        net.linears[0].bias[1] = 0.7
    x = torch.randn(50, 4)
    keep = [[0, 2, 3, 4], [0, 1, 2]]
    plain = keep_neurons(net, keep)
    assert plain.hidden_sizes == [4, 3]
    fill = [np.array([9.0, 0.7, 9.0, 9.0, 9.0]), np.zeros(3)]  # only the dropped neuron's value is read
    replaced = keep_neurons(net, keep, fill=fill)
    assert torch.allclose(replaced(x), net(x), atol=1e-6)  # exact: the dropped neuron was constant
    assert not torch.allclose(plain(x), net(x), atol=1e-3)  # dropping it outright changes the output
    with pytest.raises(ValueError, match="fill"):
        keep_neurons(net, keep, fill=[np.zeros(5)])
