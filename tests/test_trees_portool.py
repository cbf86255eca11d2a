"""PORTool-style advantages: the vectorised library function against hand-computed trees
and against the trajectory-by-trajectory loop in creditlab.tree_reference.

The step reward R(s) is PORTool's pinned formula (decayed outcome, aggregated over m(s) by
G = max or mean, plus a formatting term in a band of half-width gamma^T_max / 2); the rest
is a labelled reconstruction (see the docstring): A_fork = z-score of R among the children
of a fork, A_traj = z-score of the trajectory reward among the tree's trajectories,
A(s, j) = A_traj(j) + lam * A_fork(s). The older hand cases use gamma = 1, G = mean (``OLD``),
under which R(s) is the mean outcome over m(s).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import creditlab as cl
from creditlab import tree_reference as ref
from creditlab import trees as T

SQ2, SQ3 = math.sqrt(2), math.sqrt(3)
OLD = dict(gamma=1.0, agg="mean")  # the outcome-only mean reward: R(s) = mean_{m(s)} r


def _combined(parent, fork, traj):
    """A(s, j) = traj[j] + fork[s] for every step s != root on trajectory j (leaf j)."""
    n = len(parent)
    in_tree = np.zeros(n, bool)  # connected to node 0
    has_child = np.zeros(n, bool)
    for i in range(n):
        in_tree[i] = i == 0 or (parent[i] >= 0 and in_tree[parent[i]])
        if i > 0 and parent[i] >= 0:
            has_child[parent[i]] = True
    out = {}
    for j in range(n):
        if in_tree[j] and not has_child[j]:
            s = j
            while s > 0:
                out[(j, s)] = traj[j] + fork[s]
                s = int(parent[s])
    return out


# ------------------------------------------------------------- hand-computed trees


def test_two_forks_by_hand():
    # 0 -> {1, 2}, 1 -> {3, 4}, 2 -> {5}; trajectories end at 3, 4, 5 with outcomes 1, 0, 1.
    # R = (2/3, 1/2, 1, 1, 0, 1). Fork at 0: R(1), R(2) = 1/2, 1 (mean 3/4, std 1/4) -> -1, +1.
    # Fork at 1: R(3), R(4) = 1, 0 -> +1, -1. Node 5 is an only child -> 0.
    # Outcomes 1, 0, 1: mean 2/3, std sqrt(2)/3 -> A_traj = 1/sqrt(2), -sqrt(2), 1/sqrt(2).
    parent = np.array([-1, 0, 0, 1, 1, 2])
    r = np.array([0, 0, 0, 1, 0, 1.0])
    lam = 0.5
    fork, traj = T.portool_style_advantages(parent, r, lam=lam, eps=0.0, **OLD)
    np.testing.assert_allclose(fork, lam * np.array([0, -1, 1, 1, -1, 0]), atol=1e-12)
    np.testing.assert_allclose(traj, [0, 0, 0, 1 / SQ2, -SQ2, 1 / SQ2], atol=1e-12)
    expect = {(3, 1): 1 / SQ2 - .5, (3, 3): 1 / SQ2 + .5, (4, 1): -SQ2 - .5,
              (4, 4): -SQ2 - .5, (5, 2): 1 / SQ2 + .5, (5, 5): 1 / SQ2}
    got = _combined(parent, fork, traj)
    f_ref, t_ref, A_ref = ref.portool_style_advantages(parent, r, lam=lam, eps=0.0, **OLD)
    assert got.keys() == expect.keys() == A_ref.keys()
    for k, v in expect.items():
        assert got[k] == pytest.approx(v, abs=1e-12)
        assert A_ref[k] == pytest.approx(v, abs=1e-12)
    np.testing.assert_allclose(f_ref, fork, atol=1e-12)
    np.testing.assert_allclose(t_ref, traj, atol=1e-12)


def test_shared_step_and_three_way_fork_by_hand():
    # 0 -> 1 (a step every trajectory shares), 1 -> {2, 3, 4}, 2 -> {5, 6}.
    # Outcomes: r3 = 0, r4 = 1, r5 = 1, r6 = 1.
    # R(1) = 3/4 (shared by all four). Fork at 1: R = 1, 0, 1 (mean 2/3, std sqrt(2)/3)
    # -> 1/sqrt(2), -sqrt(2), 1/sqrt(2). Fork at 2: R(5) = R(6) = 1, std 0 -> 0 (eps = 0).
    # Outcomes 0, 1, 1, 1: mean 3/4, std sqrt(3)/4 -> A_traj = -sqrt(3) (r = 0), 1/sqrt(3).
    parent = np.array([-1, 0, 1, 1, 1, 2, 2])
    r = np.array([9, 9, 9, 0, 1, 1, 1.0])  # values at inner nodes must be ignored
    fork, traj = T.portool_style_advantages(parent, r, lam=1.0, eps=0.0, **OLD)
    np.testing.assert_allclose(fork, [0, 0, 1 / SQ2, -SQ2, 1 / SQ2, 0, 0], atol=1e-12)
    np.testing.assert_allclose(traj, [0, 0, 0, -SQ3, 1 / SQ3, 1 / SQ3, 1 / SQ3], atol=1e-12)
    got = _combined(parent, fork, traj)
    # the shared step 1 carries each trajectory's own A_traj (its fork term is 0) ...
    assert got[(3, 1)] == pytest.approx(-SQ3) and got[(5, 1)] == pytest.approx(1 / SQ3)
    # ... while the steps under the fork at 1 are told apart
    assert got[(3, 3)] == pytest.approx(-SQ3 - SQ2)
    assert got[(5, 2)] == pytest.approx(1 / SQ3 + 1 / SQ2)
    _, _, A_ref = ref.portool_style_advantages(parent, r, lam=1.0, eps=0.0, **OLD)
    assert A_ref.keys() == got.keys()
    for k in got:
        assert A_ref[k] == pytest.approx(got[k], abs=1e-12)


def test_eps_shrinks_the_z_scores():
    parent = np.array([-1, 0, 0])
    r = np.array([0, 1.0, 0.0])  # siblings with std 1/2
    fork, traj = T.portool_style_advantages(parent, r, eps=0.5)
    np.testing.assert_allclose(fork, [0, .5, -.5])
    np.testing.assert_allclose(traj, [0, .5, -.5])


# ------------------------------------------------------------- library == loop


@st.composite
def rollout_trees(draw, max_b=4, max_n=20):
    B = draw(st.integers(1, max_b))
    N = draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    parent = np.full((B, N), -1, np.int32)
    for b in range(B):
        for i in range(1, N):
            if rng.random() < 0.1:
                continue  # an unused slot
            # favour recent nodes so that trees get deep as well as wide
            parent[b, i] = int(rng.integers(max(0, i - 4), i))
    binary = draw(st.booleans())  # 0/1 outcomes, as with a correctness judge: many ties
    r = (rng.random((B, N)) < 0.5).astype(float) if binary else rng.normal(size=(B, N))
    dt = draw(st.sampled_from([np.float32, np.float64]))
    lam = draw(st.floats(-3, 3, allow_nan=False))
    eps = draw(st.sampled_from([0.0, 1e-6, 0.1]))
    return parent, r.astype(dt), lam, eps


@st.composite
def step_reward_args(draw):
    """gamma, agg, format_score and t_max for a [B, N] tree (t_max = N >= every depth)."""
    parent, r, lam, eps = draw(rollout_trees())
    gamma = draw(st.sampled_from([0.0, 0.5, 0.95, 1.0]))
    agg = draw(st.sampled_from(["max", "mean"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    fs = rng.random(parent.shape) if draw(st.booleans()) else None
    return parent, r, lam, eps, dict(gamma=gamma, agg=agg, format_score=fs,
                                     t_max=parent.shape[1])


def _tol(r):
    return dict(rtol=1e-4, atol=1e-4) if r.dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)


@given(rollout_trees())
def test_matches_trajectory_loop(case):
    parent, r, lam, eps = case
    p0, r0 = parent.copy(), r.copy()
    fork, traj = T.portool_style_advantages(parent, r, lam=lam, eps=eps)
    np.testing.assert_array_equal(parent, p0)  # inputs untouched
    np.testing.assert_array_equal(r, r0)
    assert fork.shape == traj.shape == parent.shape and fork.dtype == np.float64
    with cl.use_backend("python"):
        fork_py, traj_py = T.portool_style_advantages(parent, r, lam=lam, eps=eps)
    np.testing.assert_allclose(fork, fork_py, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(traj, traj_py, rtol=1e-12, atol=1e-12)
    for b in range(parent.shape[0]):
        f_ref, t_ref, A_ref = ref.portool_style_advantages(parent[b], r[b].astype(float),
                                                           lam=lam, eps=eps)
        # the z-scores divide by std + eps, which is ~1e-8 for float32 near-ties
        tol = _tol(r) if eps > 0 or r.dtype == np.float64 else dict(rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(fork[b], f_ref, **tol)
        np.testing.assert_allclose(traj[b], t_ref, **tol)
        got = _combined(parent[b], fork[b], traj[b])
        assert got.keys() == A_ref.keys()
        for k in got:
            assert got[k] == pytest.approx(A_ref[k], rel=tol["rtol"], abs=tol["atol"])


def test_forest_equals_tree_by_tree():
    rng = np.random.default_rng(3)
    parents = [np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)], np.int32)
               for n in (1, 2, 7, 12)]
    f = T.Forest.from_parents(parents)
    r = rng.normal(size=f.num_nodes)
    fork, traj = T.portool_style_advantages(f, r, lam=0.7)
    for p, rb, fb, tb in zip(parents, f.split(r), f.split(fork), f.split(traj)):
        f_ref, t_ref, _ = ref.portool_style_advantages(p, rb, lam=0.7)
        np.testing.assert_allclose(fb, f_ref, atol=1e-12)
        np.testing.assert_allclose(tb, t_ref, atol=1e-12)


# ------------------------------------------------------------- properties


@given(rollout_trees())
def test_zero_sum_shift_invariance_and_lam_scaling(case):
    parent, r, lam, _ = case
    r = r.astype(np.float64)
    # gamma = 1: with gamma < 1 the decayed outcome term is not shift-invariant
    fork, traj = T.portool_style_advantages(parent, r, lam=1.0, eps=1e-9, gamma=1.0)
    fork2, traj2 = T.portool_style_advantages(parent, r + 3.0, lam=1.0, eps=1e-9, gamma=1.0)
    np.testing.assert_allclose(fork2, fork, atol=1e-6)  # only differences of outcomes count
    np.testing.assert_allclose(traj2, traj, atol=1e-6)
    fork3, traj3 = T.portool_style_advantages(parent, r, lam=lam, eps=1e-9, gamma=1.0)
    np.testing.assert_allclose(fork3, lam * fork, atol=1e-9)
    np.testing.assert_array_equal(traj3, traj)
    for b in range(parent.shape[0]):
        p = parent[b]
        for q in range(len(p)):  # the advantages of one fork's children sum to zero
            kids = np.nonzero(p == q)[0]
            kids = kids[kids > 0]
            assert abs(fork[b, kids].sum()) < 1e-6
        assert abs(traj[b].sum()) < 1e-6  # so do the trajectory advantages of one tree


def test_degenerate_trees_and_nan():
    empty = T.portool_style_advantages(np.zeros(0, np.int64), np.zeros(0))
    assert empty[0].shape == empty[1].shape == (0,)
    fork, traj = T.portool_style_advantages(np.array([-1]), np.array([5.0]), eps=0.0)
    np.testing.assert_array_equal(fork, [0.0])  # one node: no fork, no contrast
    np.testing.assert_array_equal(traj, [0.0])
    # a NaN outcome poisons its own tree's trajectory term and the forks above it only
    f = T.Forest.from_parents([np.array([-1, 0, 0, 1, 1]), np.array([-1, 0, 0])])
    r = np.array([0, 0, 1.0, np.nan, 0, 0, 1, 0])
    fork, traj = T.portool_style_advantages(f, r)
    assert np.isnan(traj[[2, 3, 4]]).all() and np.isnan(fork[[1, 2, 3, 4]]).all()
    np.testing.assert_allclose(fork[5:], [0, 1, -1], atol=1e-5)
    np.testing.assert_allclose(traj[5:], [0, 1, -1], atol=1e-5)
    f_ref, t_ref, _ = ref.portool_style_advantages(np.array([-1, 0, 0, 1, 1]), r[:5])
    np.testing.assert_array_equal(np.isnan(fork[:5]), np.isnan(f_ref))
    np.testing.assert_array_equal(np.isnan(traj[:5]), np.isnan(t_ref))


# ------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    parent, r = np.array([-1, 0, 0]), np.zeros(3)
    with pytest.raises(ValueError, match="leaf_reward has shape"):
        T.portool_style_advantages(parent, np.zeros(4))
    with pytest.raises(TypeError, match="leaf_reward"):
        T.portool_style_advantages(parent, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="lam must be a finite number"):
        T.portool_style_advantages(parent, r, lam=float("nan"))
    with pytest.raises(TypeError, match="lam must be a real number"):
        T.portool_style_advantages(parent, r, lam="1")
    with pytest.raises(TypeError, match="lam must be a real number"):
        T.portool_style_advantages(parent, r, lam=True)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        T.portool_style_advantages(parent, r, eps=-1e-3)
    with pytest.raises(ValueError, match="eps must be a finite number"):
        T.portool_style_advantages(parent, r, eps=float("inf"))
    with pytest.raises(ValueError, match=r"parent\[2\] = 2 must be < 2"):
        T.portool_style_advantages(np.array([-1, 0, 2]), r)
    with pytest.raises(TypeError, match="parent must be an integer array"):
        T.portool_style_advantages(np.array([-1.0, 0, 0]), r)


@given(step_reward_args())
def test_pinned_step_reward_and_advantages_match_the_loops(case):
    parent, r, lam, eps, kw = case
    R = T.portool_step_reward(parent, r, **kw)
    fork, traj = T.portool_style_advantages(parent, r, lam=lam, eps=eps, **kw)
    with cl.use_backend("python"):
        R_py = T.portool_step_reward(parent, r, **kw)
    np.testing.assert_allclose(R, R_py, rtol=1e-12, atol=1e-12)
    for b in range(parent.shape[0]):
        fb = None if kw["format_score"] is None else kw["format_score"][b]
        kb = {**kw, "format_score": fb}
        np.testing.assert_allclose(R[b], ref.portool_step_reward(parent[b], r[b].astype(float),
                                                                 **kb), rtol=1e-9, atol=1e-9)
        f_ref, t_ref, _ = ref.portool_style_advantages(parent[b], r[b].astype(float), lam=lam,
                                                       eps=eps, **kb)
        tol = dict(rtol=1e-6, atol=1e-6) if eps > 0 else dict(rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(fork[b], f_ref, **tol)
        np.testing.assert_allclose(traj[b], t_ref, **tol)


def test_pinned_reward_prefers_the_shorter_correct_path():
    # 0 -> 1 -> 3 (correct after 2 steps); 0 -> 2 -> 4 -> 5 (correct after 3 steps).
    # R_fm = 0, G = max: R(s) = gamma^(steps left to the best correct leaf).
    parent = np.array([-1, 0, 0, 1, 2, 4])
    r = np.array([0, 0, 0, 1, 0, 1.0])
    g = 0.95
    R = T.portool_step_reward(parent, r, gamma=g)
    np.testing.assert_allclose(R, [0, g, g**2, 1, g, 1], atol=1e-12)
    fork, traj = T.portool_style_advantages(parent, r, eps=0.0, gamma=g)
    assert fork[1] == pytest.approx(1.0) and fork[2] == pytest.approx(-1.0)  # shorter wins
    np.testing.assert_array_equal(traj, 0.0)  # both trajectories are correct
    # gamma = 1 cannot tell them apart
    fork1, _ = T.portool_style_advantages(parent, r, eps=0.0, gamma=1.0)
    np.testing.assert_array_equal(fork1, 0.0)


def test_max_and_mean_aggregation_by_hand():
    # 0 -> 1 -> {2: correct (+1), 3: wrong (-1)}
    parent, r = np.array([-1, 0, 1, 1]), np.array([0, 0, 1, -1.0])
    np.testing.assert_allclose(T.portool_step_reward(parent, r, gamma=0.9, agg="max"),
                               [0, 0.9, 1, -1])
    np.testing.assert_allclose(T.portool_step_reward(parent, r, gamma=0.9, agg="mean"),
                               [0, 0.0, 1, -1], atol=1e-12)


def test_formatting_band_never_outranks_correctness():
    # 0 -> {1: correct, worst format; 2: unanswerable (0), best format}; T_max = 3
    parent, r = np.array([-1, 0, 0]), np.array([0, 1, 0.0])
    g = 0.9
    R = T.portool_step_reward(parent, r, gamma=g, format_score=np.array([0, 0, 1.0]),
                              t_max=3)
    band = g**3 / 2  # half-width gamma^T_max / 2
    np.testing.assert_allclose(R, [0, 1 - band, band])
    assert R[1] > R[2]
    # the trajectory reward adds the mean formatting term over the trajectory's steps:
    # 0 -> 1 -> 2 (correct, formats 1 and 0: mean term 0); 0 -> 3 (correct, format 1)
    parent, r = np.array([-1, 0, 1, 0]), np.array([0, 0, 1, 1.0])
    fs = np.array([0.5, 1.0, 0.0, 1.0])
    _, traj = T.portool_style_advantages(parent, r, eps=0.0, gamma=g, format_score=fs)
    np.testing.assert_allclose(traj, [0, 0, -1, 1], atol=1e-12)
    f_ref, t_ref, _ = ref.portool_style_advantages(parent, r, eps=0.0, gamma=g,
                                                   format_score=fs)
    np.testing.assert_allclose(t_ref, traj, atol=1e-12)


def test_old_reconstruction_is_the_gamma_one_mean_case():
    parent = np.array([-1, 0, 0, 1, 1, 2, 2, 2])
    r = np.array([0, 0, 0, 1, 0, 1, -1, 0.5])
    R = T.portool_step_reward(parent, r, gamma=1.0, agg="mean")
    V = T.leaf_stats(parent, r).mean
    np.testing.assert_allclose(R[1:], V[1:], atol=1e-12)


def test_step_reward_bad_input_names_the_argument():
    parent, r = np.array([-1, 0, 1]), np.zeros(3)
    with pytest.raises(ValueError, match="gamma"):
        T.portool_step_reward(parent, r, gamma=1.5)
    with pytest.raises(ValueError, match="agg"):
        T.portool_style_advantages(parent, r, agg="min")
    with pytest.raises(ValueError, match="format_score"):
        T.portool_step_reward(parent, r, format_score=np.array([0, 2.0, 0]))
    with pytest.raises(ValueError, match="format_score"):
        T.portool_step_reward(parent, r, format_score=np.array([0, np.nan, 0]))
    with pytest.raises(ValueError, match="format_score has shape"):
        T.portool_step_reward(parent, r, format_score=np.zeros(4))
    with pytest.raises(ValueError, match="t_max"):
        T.portool_step_reward(parent, r, t_max=1)  # the tree is 2 steps deep
    with pytest.raises(ValueError, match="t_max"):
        T.portool_step_reward(parent, r, t_max=0)
    with pytest.raises(TypeError, match="t_max"):
        T.portool_step_reward(parent, r, t_max=2.5)
