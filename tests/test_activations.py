"""Neuron distances (eq. 2), densities and per-layer clustering (eq. 3) against hand-worked and
brute-force computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from rlinside.explain.activations import (
    cluster_linkage,
    dendrogram_data,
    distance_histogram,
    distance_kde,
    layer_linkages,
    layerwise_neuron_distances,
    max_activations,
    mean_cluster_distance,
    neuron_distances,
    normalized_activations,
    record_activations,
    upper_triangle,
)
from rlinside.nets.mlp import MLP

S2 = math.sqrt(2.0)


def hand_episodes():
    """Two episodes (T = 2 and 3) of three neurons, split into layers [n0] and [n1, n2].

    Maxima Z = (4, 8, 2); normalized series: episode 1 n0 = n1 = (.25, .5), n2 = (0, .5);
    episode 2 n0 = (1, 0, 0), n1 = (0, 0, 1), n2 = (0, 1, 0).
    """
    e1 = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 1.0]])
    e2 = np.array([[4.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 8.0, 0.0]])
    return [[e[:, :1], e[:, 1:]] for e in (e1, e2)]


def test_hand_worked_distances():
    eps = hand_episodes()
    assert [z.tolist() for z in max_activations(eps)] == [[4.0], [8.0, 2.0]]
    D = neuron_distances(eps)
    d01, d02 = S2 / 2, (0.25 + S2) / 2
    expected = np.array([[0, d01, d02], [d01, 0, d02], [d02, d02, 0]])
    np.testing.assert_allclose(D, expected, atol=1e-14)
    # layer-wise = the diagonal blocks
    DA, DB = layerwise_neuron_distances(eps)
    np.testing.assert_allclose(DA, [[0.0]])
    np.testing.assert_allclose(DB, [[0, d02], [d02, 0]], atol=1e-14)
    # dividing each episode's norm by sqrt(T) (beyond the paper)
    Dn = neuron_distances(eps, length_normalized=True)
    assert Dn[0, 1] == pytest.approx((0 + S2 / math.sqrt(3)) / 2, abs=1e-14)
    assert Dn[0, 2] == pytest.approx((0.25 / S2 + S2 / math.sqrt(3)) / 2, abs=1e-14)
    assert upper_triangle(D).tolist() == pytest.approx([d01, d02, d02])


def test_dead_neurons_are_all_zero_series():
    eps = [[ep[0], np.concatenate([ep[1], np.zeros((len(ep[1]), 2))], 1)] for ep in hand_episodes()]
    assert max_activations(eps)[1].tolist() == [8.0, 2.0, 0.0, 0.0]
    norm = normalized_activations(eps)
    assert all(np.all(ep[1][:, 2:] == 0) for ep in norm)
    D = neuron_distances(eps)
    assert D[3, 4] == 0.0  # two dead neurons coincide
    assert D[0, 3] == pytest.approx((math.hypot(0.25, 0.5) + 1.0) / 2)  # mean norm of n0's series


def brute_force_distances(eps, length_normalized=False):
    """Eq. 2 with explicit loops over neuron pairs and episodes."""
    series = [np.concatenate(ep, 1) for ep in eps]
    Z = np.max([s.max(0) for s in series], 0)
    Z = np.where(Z > 0, Z, 1.0)
    n = series[0].shape[1]
    D = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        div = [math.sqrt(len(s)) if length_normalized else 1.0 for s in series]
        vals = [np.linalg.norm(s[:, i] / Z[i] - s[:, j] / Z[j]) / dv for s, dv in zip(series, div)]
        D[i, j] = np.mean(vals)
    return D


@pytest.mark.parametrize("length_normalized", [False, True])
def test_distances_match_brute_force(length_normalized):
    rng = np.random.default_rng(3)
    eps = [[np.maximum(rng.normal(size=(t, 4)), 0), np.maximum(rng.normal(size=(t, 3)), 0)] for t in (5, 9, 2)]
    eps[1][1][:, 2] = 3.7 * eps[1][1][:, 0]  # a near-duplicate pair in one episode
    D = neuron_distances(eps, length_normalized=length_normalized)
    np.testing.assert_allclose(D, brute_force_distances(eps, length_normalized), atol=1e-12)


def test_proportional_neurons_are_at_distance_zero():
    rng = np.random.default_rng(0)
    base = np.abs(rng.normal(size=(50, 1))) * 1e3
    eps = [[np.concatenate([base, 7.3 * base, base + 1.0], 1)]]
    D = neuron_distances(eps)
    assert D[0, 1] < 1e-12  # exact recomputation where the Gram formula cancels
    assert D[0, 2] > 0.0


def test_record_activations_matches_forward():
    torch.manual_seed(0)
    model = MLP(3, [5, 4], 2)
    model.train()
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(t, 3)).astype(np.float32) for t in (4, 7)]
    acts = record_activations(model, inputs)
    assert [[a.shape for a in ep] for ep in acts] == [[(4, 5), (4, 4)], [(7, 5), (7, 4)]]
    with torch.no_grad():
        _, hs = model(torch.from_numpy(inputs[1]), return_activations=True)
    for a, h in zip(acts[1], hs):
        np.testing.assert_allclose(a, h.numpy(), rtol=1e-6)
    assert model.training  # training flag restored


def brute_force_upgma(D):
    """UPGMA from scratch: merge the two clusters with the smallest mean cross distance."""
    clusters = {i: [i] for i in range(len(D))}
    merges = []
    nxt = len(D)
    while len(clusters) > 1:
        h, p, q = min(
            (np.mean([D[a, b] for a in clusters[p] for b in clusters[q]]), p, q)
            for p, q in itertools.combinations(clusters, 2)
        )
        merges.append((frozenset(clusters[p] + clusters[q]), h))
        clusters[nxt] = clusters.pop(p) + clusters.pop(q)
        nxt += 1
    return merges


def brute_force_within(D):
    """Eq. 3 from scratch: merge the pair whose union has the smallest mean internal distance."""
    clusters = {i: [i] for i in range(len(D))}
    merges = []
    nxt = len(D)
    while len(clusters) > 1:
        def within(c):
            return np.mean([D[a, b] for a in c for b in c if a != b])
        h, p, q = min((within(clusters[p] + clusters[q]), p, q) for p, q in itertools.combinations(clusters, 2))
        merges.append((frozenset(clusters[p] + clusters[q]), h))
        clusters[nxt] = clusters.pop(p) + clusters.pop(q)
        nxt += 1
    return merges


def linkage_merges(Z):
    n = Z.shape[0] + 1
    members = {i: [i] for i in range(n)}
    out = []
    for s, (a, b, h, c) in enumerate(Z):
        members[n + s] = members[int(a)] + members[int(b)]
        assert len(members[n + s]) == c
        out.append((frozenset(members[n + s]), h))
    return out


# a, b, c, d with d(a,b)=1, d(a,c)=2, d(b,c)=10, d(c,d)=5, d(a,d)=d(b,d)=9
FOUR = np.array([[0, 1, 2, 9], [1, 0, 10, 9], [2, 10, 0, 5], [9, 9, 5, 0]], dtype=float)


def test_average_linkage_is_brute_force_upgma_on_four_points():
    got = linkage_merges(cluster_linkage(FOUR, "average"))
    want = brute_force_upgma(FOUR)
    assert [m for m, _ in got] == [m for m, _ in want]
    np.testing.assert_allclose([h for _, h in got], [h for _, h in want])
    # by hand: {a,b} at 1, {c,d} at 5, root at mean of the 4 cross distances (2+9+10+9)/4
    assert [h for _, h in got] == pytest.approx([1.0, 5.0, 7.5])


def test_eq3_within_linkage_differs_from_upgma():
    got = linkage_merges(cluster_linkage(FOUR, "within"))
    want = brute_force_within(FOUR)
    assert [m for m, _ in got] == [m for m, _ in want]
    np.testing.assert_allclose([h for _, h in got], [h for _, h in want])
    # by hand: {a,b} at 1, then {a,b,c} at (1+2+10)/3 (UPGMA merges {c,d} here), root = all 6 / 6
    assert [m for m, _ in got][1] == frozenset({0, 1, 2})
    assert [h for _, h in got] == pytest.approx([1.0, 13 / 3, 36 / 6])
    for members, h in got:
        assert mean_cluster_distance(FOUR, sorted(members)) == pytest.approx(h)


def test_within_linkage_matches_brute_force_on_random_points():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 3))
    D = np.linalg.norm(x[:, None] - x[None], axis=-1)
    got, want = linkage_merges(cluster_linkage(D, "within")), brute_force_within(D)
    assert [m for m, _ in got] == [m for m, _ in want]
    np.testing.assert_allclose([h for _, h in got], [h for _, h in want], atol=1e-12)
    got, want = linkage_merges(cluster_linkage(D, "average")), brute_force_upgma(D)
    assert [m for m, _ in got] == [m for m, _ in want]


def test_mean_cluster_distance_by_hand():
    assert mean_cluster_distance(FOUR, [0]) == 0.0
    assert mean_cluster_distance(FOUR, [0, 2, 3]) == pytest.approx((2 + 9 + 5) / 3)


def test_layer_linkages_and_dendrogram():
    rng = np.random.default_rng(2)
    eps = [[np.abs(rng.normal(size=(6, 5))), np.abs(rng.normal(size=(6, 1)))] for _ in range(3)]
    Zs = layer_linkages(eps)
    assert Zs[0].shape == (4, 4) and Zs[1].shape == (0, 4)
    data = dendrogram_data(Zs[0], labels=[f"n{i}" for i in range(5)])
    assert sorted(data["leaves"]) == list(range(5))
    assert data["ivl"] == [f"n{i}" for i in data["leaves"]]
    assert len(data["icoord"]) == len(data["dcoord"]) == 4
    np.testing.assert_allclose(sorted(max(d) for d in data["dcoord"]), np.sort(Zs[0][:, 2]))


def test_densities():
    rng = np.random.default_rng(4)
    v = rng.normal(1.0, 0.2, size=500)
    dens, edges = distance_histogram(v, bins=20)
    assert dens.shape == (20,) and edges.shape == (21,)
    assert np.sum(dens * np.diff(edges)) == pytest.approx(1.0)
    grid, k = distance_kde(v, n_points=400)
    assert grid.shape == k.shape == (400,)
    assert grid[0] == 0.0  # distances are non-negative: the estimate starts at 0
    assert np.trapezoid(k, grid) == pytest.approx(1.0, abs=1e-3)
    # reflection at 0: values piled up at 0 keep all their mass on [0, inf)
    near0 = np.abs(np.random.default_rng(1).normal(0.0, 0.05, 500))
    g0, k0 = distance_kde(near0, n_points=2000)
    assert np.trapezoid(k0, g0) == pytest.approx(1.0, abs=2e-3)
    assert k0[0] == k0.max()
    _, kneg = distance_kde(near0, np.array([-0.1, 0.0]))
    assert kneg[0] == 0.0 and kneg[1] > 0
    with pytest.raises(ValueError, match="two distinct values"):
        distance_kde(np.ones(5))


def test_bad_inputs_give_clear_errors():
    eps = hand_episodes()
    with pytest.raises(ValueError, match="negative values"):
        neuron_distances([[-np.ones((2, 2))]])
    with pytest.raises(ValueError, match="layer widths"):
        neuron_distances([eps[0], [eps[1][0], eps[1][1][:, :1]]])
    with pytest.raises(ValueError, match="NaN"):
        neuron_distances([[np.full((2, 2), np.nan)]])
    with pytest.raises(ValueError, match="empty"):
        neuron_distances([])
    with pytest.raises(TypeError, match="list over episodes"):
        neuron_distances(np.ones((3, 2)))
    with pytest.raises(ValueError, match="square"):
        cluster_linkage(np.ones((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        cluster_linkage(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="method="):
        cluster_linkage(FOUR, "ward")
    with pytest.raises(ValueError, match="n_in=3"):
        record_activations(MLP(3, [2], 1), [np.ones((4, 5))])
    with pytest.raises(TypeError, match="list of"):
        record_activations(MLP(3, [2], 1), np.ones((4, 3)))
    with pytest.raises(ValueError, match="distinct indices"):
        mean_cluster_distance(FOUR, [0, 0])
