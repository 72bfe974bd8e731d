"""Projections between networks (Sec. 6, eqs. 5-9), input transformations (Fig. 5, 4a/4b) and
linear CKA, against independent solvers, planted solutions and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.stats import ortho_group

from rlinside.envs.planar_arm import (
    transform_joint_angles,
    transform_joint_observations,
)
from rlinside.explain.activations import record_activations
from rlinside.explain.projection import (
    Projection,
    cka_matrix,
    coverage,
    deduplicate_inputs,
    fit_projection,
    greedy_projection,
    layer_projection,
    layerwise_projection_errors,
    linear_cka,
    linear_projection,
    nonnegative_lasso,
    normalized_error,
    project_networks,
    saturation,
)
from rlinside.nets.mlp import MLP


def lasso_objective(B, a, lam):
    def f(p):
        r = B @ p - a
        return r @ r + lam * p.sum(), 2 * B.T @ r + lam
    return f


@pytest.mark.parametrize("lam", [0.0, 0.5, 5.0])
def test_nonnegative_lasso_matches_bounded_lbfgs(lam):
    rng = np.random.default_rng(0)
    B = np.abs(rng.normal(size=(60, 8)))
    B[:, 7] = 0.6 * B[:, 0] + 0.4 * B[:, 1]  # collinear source neurons
    A = B[:, :4] @ np.abs(rng.normal(size=(4, 3))) - 0.3 * B[:, 5:6] + 0.05 * rng.normal(size=(60, 3))
    P = nonnegative_lasso(B, A, lam)
    assert P.shape == (8, 3) and (P >= 0).all()
    for m in range(3):
        f = lasso_objective(B, A[:, m], lam)
        ref = minimize(f, np.full(8, 0.1), jac=True, method="L-BFGS-B", bounds=[(0, None)] * 8,
                       options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
        assert f(P[:, m])[0] <= ref.fun + 1e-7 * max(1.0, abs(ref.fun))
        assert f(P[:, m])[0] == pytest.approx(ref.fun, rel=1e-7, abs=1e-9)
        # KKT: zero gradient on the support, non-negative gradient where p = 0
        g = f(P[:, m])[1]
        tol = 1e-5 * max(1.0, np.abs(B.T @ A[:, m]).max())
        assert np.all(np.abs(g[P[:, m] > 1e-9]) < tol) and np.all(g[P[:, m] <= 1e-9] > -tol)


def test_nonnegative_lasso_equals_support_enumeration():
    """Exact solution by trying every support S: G_SS p_S = B_S^T a - lam / 2, p_S >= 0, and a
    non-negative gradient off the support (KKT of the strictly convex problem)."""
    rng = np.random.default_rng(8)
    B = np.abs(rng.normal(size=(30, 6)))
    a = B @ np.array([0.5, 0.0, 1.0, 0.0, 0.2, 0.0]) + 0.3 * rng.normal(size=30)
    lam = 2.0
    G, c = B.T @ B, B.T @ a
    exact = None
    for mask in range(64):
        S = [k for k in range(6) if mask >> k & 1]
        p = np.zeros(6)
        if S:
            p[S] = np.linalg.solve(G[np.ix_(S, S)], c[S] - lam / 2)
        g = 2 * (G @ p - c) + lam
        if (p >= 0).all() and (g[[k for k in range(6) if k not in S]] >= -1e-10).all():
            exact = p
            break
    assert exact is not None
    np.testing.assert_allclose(nonnegative_lasso(B, a[:, None], lam)[:, 0], exact, atol=1e-9)


def test_nonnegative_lasso_recovers_a_planted_solution():
    rng = np.random.default_rng(1)
    B = np.abs(rng.normal(size=(40, 6)))
    Ptrue = np.array([[0.0, 1.2], [0.7, 0.0], [0.0, 0.0], [2.0, 0.3], [0.0, 0.0], [0.1, 0.0]])
    np.testing.assert_allclose(nonnegative_lasso(B, B @ Ptrue, 0.0), Ptrue, atol=1e-8)
    # the lasso shrinks: a larger penalty never increases the L1 norm
    l1 = [nonnegative_lasso(B, B @ Ptrue, lam).sum() for lam in (0.0, 1.0, 10.0, 100.0)]
    assert all(a >= b - 1e-12 for a, b in zip(l1, l1[1:])) and l1[-1] < l1[0]


def test_greedy_mapping_recovers_a_planted_permutation():
    rng = np.random.default_rng(2)
    B = np.abs(rng.normal(size=(100, 7)))
    perm = rng.permutation(7)
    scale = rng.uniform(0.5, 3.0, size=7)
    A = B[:, perm] * scale  # target neuron m = scaled source neuron perm[m]
    proj = greedy_projection(B, A)
    assert (np.argmax(proj.weights, axis=0) == perm).all() and proj.weights.sum() == 7
    assert proj.normalized_error(B, A) < 1e-12
    np.testing.assert_allclose(proj.predict(B), A, rtol=1e-12)
    assert proj.saturation() == 0.0 and proj.coverage() == pytest.approx(1.0)


def activations_of(model, x):
    return record_activations(model, [x])[0]


def test_reflexive_linear_mapping_has_zero_error():
    torch.manual_seed(0)
    model = MLP(4, [12, 9], 2).double()
    with torch.no_grad():
        for lin in model.linears[:-1]:
            lin.bias.copy_(0.5 + torch.rand_like(lin.bias))
    x = np.random.default_rng(3).normal(size=(300, 4))
    acts = activations_of(model, x)
    assert all((a.max(0) > 0).all() for a in acts)
    proj = fit_projection(acts, acts, "linear", lam=1e-6)
    assert proj.normalized_error(acts, acts) < 1e-5
    assert proj.saturation() < 1e-3 and proj.coverage() == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(proj.layer_projection(), np.eye(2), atol=1e-3)
    # the paper's lambda = 50 only shrinks a little when N is in the thousands (their ~300
    # episodes x <= 60 steps), much more with N = 300: the penalty is not scale-free in N
    big = activations_of(model, np.random.default_rng(4).normal(size=(15_000, 4)))
    e_big = fit_projection(big, big, lam=50.0).normalized_error(big, big)
    e_small = fit_projection(acts, acts, lam=50.0).normalized_error(acts, acts)
    assert e_big < 0.05 < e_small
    # an untrained network of the same shape is a worse source
    torch.manual_seed(1)
    other = activations_of(MLP(4, [12, 9], 2).double(), x)
    assert fit_projection(other, acts, lam=1e-6).normalized_error(other, acts) > 10 * proj.normalized_error(acts, acts)


def test_metrics_hand_values():
    I = np.eye(4)
    assert saturation(I) == 0.0 and coverage(I) == pytest.approx(1.0)
    U = np.full((4, 3), 0.2)
    assert saturation(U) == pytest.approx(1.0) and coverage(U) == pytest.approx(1.0)
    one = np.zeros((4, 3))
    one[2] = 1.0
    assert saturation(one) == 0.0 and coverage(one) == 0.0
    # Q = [[1, .5], [0, .5]]: S = (0 + 1) / 2; kappa = (.75, .25)
    P = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # the zero column is left out
    assert saturation(P) == pytest.approx(0.5)
    assert coverage(P) == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    np.testing.assert_allclose(saturation(P, per_neuron=True), [0.0, 1.0, np.nan])
    assert math.isnan(coverage(np.zeros((3, 2))))


def test_layer_projection_hand_value():
    # source layers {0}, {1, 2}; target layers {0, 1}, {2}
    P = np.array([[1.0, 0.0, 1.0], [0.0, 3.0, 1.0], [0.0, 1.0, 2.0]])
    # Q columns: (1,0,0), (0,.75,.25), (.25,.25,.5)
    want = np.array([[(1 + 0) / 2, 0.25], [(0 + 1) / 2, 0.75]])
    np.testing.assert_allclose(layer_projection(P, [1, 2], [2, 1]), want)
    with pytest.raises(ValueError, match="shape"):
        layer_projection(P, [1, 1], [2, 1])


def test_normalized_error_hand_value_and_dead_target_invariance():
    # scaled b = (1, 1), a = (1, .5), P~ = .5: |1 - .5| + |.5 - .5| over |1| + |.5|
    proj = Projection(np.array([[0.5]]), np.ones(1), np.ones(1), (1,), (1,), "linear", 0.0)
    assert normalized_error(proj, np.ones((2, 1)), np.array([[1.0], [0.5]])) == pytest.approx(1 / 3)
    rng = np.random.default_rng(4)
    B = np.abs(rng.normal(size=(50, 5)))
    A = np.abs(rng.normal(size=(50, 3)))
    e1 = linear_projection(B, A, 1.0).normalized_error(B, A)
    A_dead = np.concatenate([A, np.zeros((50, 2))], 1)
    p2 = linear_projection(B, A_dead, 1.0)
    assert p2.normalized_error(B, A_dead) == pytest.approx(e1)
    assert (p2.weights[:, 3:] == 0).all()
    # weight scaling of the target network does not change it
    assert linear_projection(B, 7.0 * A, 1.0).normalized_error(B, 7.0 * A) == pytest.approx(e1)


def test_layerwise_errors_and_project_networks():
    torch.manual_seed(2)
    src = MLP(10, [8, 6], 12).double()  # a "4-joint" network: 4 x (sin, cos) + goal
    tgt = MLP(6, [7, 5], 6).double()  # a "2-joint" network
    rng = np.random.default_rng(5)
    th = rng.uniform(-math.pi, math.pi, size=(200, 2))
    obs = np.concatenate([np.sin(th[:, :1]), np.cos(th[:, :1]), np.sin(th[:, 1:]), np.cos(th[:, 1:]),
                          rng.uniform(-1, 1, size=(200, 2))], 1)
    x4 = transform_joint_observations(obs, 2, 4, "balanced")
    proj = project_networks(src, tgt, obs, source_inputs=x4, lam=0.1)
    assert proj.weights.shape == (14, 12) and proj.source_sizes == (8, 6) and proj.target_sizes == (7, 5)
    lp = proj.layer_projection()
    assert lp.shape == (2, 2)
    np.testing.assert_allclose(np.nansum(lp, axis=0)[~np.isnan(lp).all(0)], 1.0)
    acts = activations_of(tgt, obs)
    E = layerwise_projection_errors(acts, acts, lam=1e-6)
    assert E.shape == (2, 2) and np.diag(E).max() < 1e-5


def fingertip(rel_angles, length=1.0):
    """Planar forward kinematics: equal links of total length ``length``, relative joint angles."""
    phi = np.cumsum(rel_angles, axis=1)
    link = length / rel_angles.shape[1]
    return np.stack([link * np.cos(phi).sum(1), link * np.sin(phi).sum(1)], 1)


def test_input_transformations_naive_and_balanced():
    s1, c1, s2, c2 = 0.6, 0.8, -1.0, 0.0
    obs = np.array([[s1, c1, s2, c2, 0.3, -0.2]])
    naive = transform_joint_observations(obs, 2, 4, "naive")  # 4a: (th1, th2, 0, 0)
    np.testing.assert_allclose(naive, [[s1, c1, s2, c2, 0, 1, 0, 1, 0.3, -0.2]], atol=1e-15)
    bal = transform_joint_observations(obs, 2, 4, "balanced")  # 4b: (th1, 0, th2, 0)
    np.testing.assert_allclose(bal, [[s1, c1, 0, 1, s2, c2, 0, 1, 0.3, -0.2]], atol=1e-15)
    np.testing.assert_allclose(transform_joint_observations(bal, 4, 2, "balanced"), obs, atol=1e-15)
    np.testing.assert_allclose(transform_joint_observations(naive, 4, 2, "naive"), obs, atol=1e-15)
    angles = np.array([[0.1, 0.2, 0.3, 0.4, 9.0]])
    bal_angles = transform_joint_observations(angles, 4, 2, "balanced", encoding="angles")
    np.testing.assert_allclose(bal_angles, [[0.3, 0.7, 9.0]])  # sums of the relative angles per group
    naive_angles = transform_joint_observations(angles, 4, 3, "naive", encoding="angles")
    np.testing.assert_allclose(naive_angles, [[0.1, 0.2, 0.3, 9.0]])


@pytest.mark.parametrize("n_short,n_long", [(2, 4), (3, 6), (2, 6)])
def test_balanced_expansion_reaches_the_same_point(n_short, n_long):
    rng = np.random.default_rng(6)
    th = rng.uniform(-2, 2, size=(20, n_short))
    big = transform_joint_angles(th, n_long, "balanced")
    np.testing.assert_allclose(fingertip(big), fingertip(th), atol=1e-12)
    np.testing.assert_allclose(transform_joint_angles(big, n_short, "balanced"), th, atol=1e-12)
    # the absolute-angle variant ("duplicating joints") describes the same arm
    big_abs = transform_joint_angles(np.cumsum(th, 1), n_long, "balanced", angle_frame="absolute")
    np.testing.assert_allclose(big_abs, np.cumsum(big, 1), atol=1e-12)
    back = transform_joint_angles(big_abs, n_short, "balanced", angle_frame="absolute")
    np.testing.assert_allclose(back, np.cumsum(th, 1))
    # naive padding does not, in general
    assert np.abs(fingertip(transform_joint_angles(th, n_long, "naive")) - fingertip(th)).max() > 0.1


def test_linear_cka():
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([[0.0], [0.0], [1.0]])
    assert linear_cka(x, y) == pytest.approx(0.75)  # squared correlation for one feature each
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 6))
    Y = rng.normal(size=(40, 9))
    Q = ortho_group.rvs(6, random_state=1)
    assert linear_cka(X, X @ Q * 3.7 + 2.0) == pytest.approx(1.0)
    assert linear_cka(X, Y) == pytest.approx(linear_cka(X @ Q, 0.2 * Y))
    assert linear_cka(X, Y) == pytest.approx(linear_cka(Y, X))
    assert 0.0 < linear_cka(X, Y) < 1.0
    # the sample-space path (p + q >= N) agrees with the feature-space path
    Xw, Yw = rng.normal(size=(12, 10)), rng.normal(size=(12, 7))
    Kx, Ly = (Xw - Xw.mean(0)) @ (Xw - Xw.mean(0)).T, (Yw - Yw.mean(0)) @ (Yw - Yw.mean(0)).T
    assert linear_cka(Xw, Yw) == pytest.approx(np.sum(Kx * Ly) / (np.linalg.norm(Kx) * np.linalg.norm(Ly)))
    M = cka_matrix([X, Y], [X, Y, np.ones((40, 2))])
    assert M.shape == (2, 3) and M[0, 0] == pytest.approx(1.0) and M[1, 1] == pytest.approx(1.0)
    assert np.isnan(M[:, 2]).all()
    with pytest.raises(ValueError, match="constant"):
        linear_cka(X, np.ones((40, 2)))


def test_deduplicate_inputs_keeps_first_occurrence_order():
    x = np.array([[3.0, 1.0], [1.0, 2.0], [3.0, 1.0], [0.0, 0.0], [1.0, 2.0]])
    np.testing.assert_array_equal(deduplicate_inputs(x), [[3, 1], [1, 2], [0, 0]])
    np.testing.assert_array_equal(deduplicate_inputs([x[:2], x[2:]]), [[3, 1], [1, 2], [0, 0]])


def test_bad_inputs_give_clear_errors():
    B = np.ones((5, 2))
    with pytest.raises(ValueError, match="negative values"):
        fit_projection(-B, B)
    with pytest.raises(ValueError, match="same number of samples"):
        fit_projection(B, np.ones((4, 2)))
    with pytest.raises(ValueError, match="lam=-1"):
        fit_projection(B, B, lam=-1)
    with pytest.raises(ValueError, match="method="):
        fit_projection(B, B, "ridge")
    with pytest.raises(ValueError, match="same number of samples"):
        nonnegative_lasso(B, np.ones((4, 1)), 1.0)
    with pytest.raises(ValueError, match="every target activation is 0"):
        normalized_error(fit_projection(B, B), B, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="mode="):
        transform_joint_observations(np.zeros((1, 6)), 2, 4, "clever")
    with pytest.raises(ValueError, match="d >= 8"):
        transform_joint_observations(np.zeros((1, 6)), 4, 2)
    with pytest.raises(ValueError, match="n_joints_to=0"):
        transform_joint_observations(np.zeros((1, 6)), 2, 0)
    with pytest.raises(ValueError, match="same N samples"):
        linear_cka(np.ones((3, 1)), np.ones((4, 1)))
