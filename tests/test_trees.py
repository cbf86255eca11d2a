"""creditlab.trees: C++ kernels == plain-Python references (hypothesis), identities,
worked examples and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import creditlab as cl
from creditlab import tree_reference as ref
from creditlab import trees as T

DTYPES = [np.float32, np.float64]


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if dt == np.float32 else dict(rtol=1e-9, atol=1e-9)


@st.composite
def batched_trees(draw, max_b=4, max_n=24, unused=True):
    B = draw(st.integers(1, max_b))
    N = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    parent = np.full((B, N), -1, np.int32)
    for b in range(B):
        for i in range(1, N):
            if unused and rng.random() < 0.1:
                continue  # an unused slot / isolated node
            parent[b, i] = rng.integers(0, i)
    dt = draw(st.sampled_from(DTYPES))
    return parent, rng, dt


def _forest(rng, n_trees=3, max_n=15):
    ps = []
    for _ in range(n_trees):
        n = int(rng.integers(1, max_n))
        p = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)], np.int32)
        ps.append(p)
    return T.Forest.from_parents(ps)


def _both(fn):
    out = fn()
    with cl.use_backend("python"):
        expect = fn()
    return out, expect


# ------------------------------------------------------------------ K1 backup_path


@given(batched_trees(), st.sampled_from(["mean", "sum", "max", "min"]))
def test_backup_path_matches_reference(tree, op):
    parent, rng, dt = tree
    B, N = parent.shape
    r = rng.normal(size=(B, N)).astype(dt)
    g = rng.random((B, N)).astype(dt)
    V = rng.normal(size=(B, N)).astype(dt)
    n = rng.integers(0, 5, size=(B, N)).astype(np.int32)
    leaf = rng.integers(0, N, size=B)
    vl = rng.normal(size=B).astype(dt)
    copies = [x.copy() for x in (r, g, V, n)]
    Vo, No = T.backup_path(parent, r, g, V, n, leaf, vl, op)
    for a, c in zip((r, g, V, n), copies):
        np.testing.assert_array_equal(a, c)  # inputs untouched
    for b in range(B):
        Ve, Ne = V[b].astype(np.float64), n[b].copy()
        ref.backup_path(parent[b], r[b], g[b], Ve, Ne, leaf[b], vl[b], op)
        np.testing.assert_allclose(Vo[b], Ve, **_tol(dt))
        np.testing.assert_array_equal(No[b], Ne)
    assert Vo.dtype == dt


def test_backup_path_python_backend_and_nan():
    parent = np.array([-1, 0, 1, 1])
    r = np.array([0, 1.0, np.nan, 2.0])
    g = np.ones(4)
    V, N = np.zeros(4), np.zeros(4, np.int64)
    out, expect = _both(lambda: T.backup_path(parent, r, g, V, N, [2], [0.0], "max"))
    np.testing.assert_array_equal(out[0], expect[0])
    assert np.isnan(out[0][0]) and np.isnan(out[0][1])
    assert out[1].tolist() == [1, 1, 0, 0]


def test_backup_path_replay_equals_mcts_values():
    """Replaying mctx's backup (K1) in node-creation order rebuilds node_values."""
    from creditlab.planning import RecurrentOutput, mcts

    rng = np.random.default_rng(3)
    B, A, S = 3, 4, 40

    def rec(emb, a):
        return RecurrentOutput(rng.normal(size=B), np.full(B, 0.9), rng.normal(size=(B, A)),
                               rng.normal(size=B)), None

    out = mcts(rng.normal(size=(B, A)), rng.normal(size=B), rec, S)
    t = out.search_tree
    parent, r, g = t.edge_arrays()
    V = np.zeros_like(t.node_values)
    V[:, 0] = t.raw_values[:, 0]
    N = np.zeros_like(t.node_visits)
    N[:, 0] = 1
    for i in range(1, S + 1):
        V[:, i] = t.raw_values[:, i]
        N[:, i] = 1
        V, N = T.backup_path(parent, r, g, V, N, np.full(B, i), t.raw_values[:, i])
    np.testing.assert_allclose(V, t.node_values, atol=1e-12)
    np.testing.assert_array_equal(N, t.node_visits)


# ------------------------------------------------------------------ K1b backup_returns


@given(batched_trees(), st.sampled_from(["sum", "mean", "max", "min", "disc"]),
       st.integers(1, 4))
def test_backup_returns_matches_reference(tree, agg, n_paths):
    parent, rng, dt = tree
    B, N = parent.shape
    r = rng.normal(size=(B, N)).astype(dt)
    g = rng.random((B, N)).astype(dt)
    stats = None
    cnt = np.zeros((B, N), np.int32)
    qs, qx, qn = (np.zeros((B, N)) for _ in range(3))
    for _ in range(n_paths):
        leaf = rng.integers(0, N, size=B)
        stats, root = T.backup_returns(parent, r, leaf, agg, g=g, stats=stats)
        for b in range(B):
            rr = ref.backup_returns(parent[b], r[b], g[b], leaf[b], agg, cnt[b], qs[b], qx[b],
                                    qn[b])
            np.testing.assert_allclose(root[b], rr, **_tol(dt))
    np.testing.assert_array_equal(stats.count, cnt)
    for got, exp in zip(stats[1:], (qs, qx, qn)):
        np.testing.assert_allclose(got, exp, **_tol(dt))


@pytest.mark.parametrize("cum,name", [(sum, "sum"), (np.mean, "mean"), (max, "max")])
def test_backup_returns_equals_verbatim_rap(cum, name):
    """On a path, K1b appends exactly what llm-reasoners' _back_propagate appends."""
    rng = np.random.default_rng(1)
    rewards = rng.normal(size=6)
    parent = np.arange(-1, 5)
    stats, root = T.backup_returns(parent, rewards, [5], name)
    expect = ref.rap_back_propagate(list(rewards), cum)[::-1]  # root first
    np.testing.assert_allclose(stats.qsum, expect)
    assert root[0] == pytest.approx(expect[0])


# ------------------------------------------------------------------ K2 reduce_up


@given(batched_trees(), st.sampled_from(["mean", "sum", "max", "min", "lse"]),
       st.booleans(), st.booleans())
def test_reduce_up_matches_reference(tree, op, weighted, self_terms):
    parent, rng, dt = tree
    B, N = parent.shape
    lv, r = (rng.normal(size=(B, N)).astype(dt) for _ in range(2))
    g = rng.random((B, N)).astype(dt)
    w = (rng.integers(0, 4, (B, N)).astype(dt)) if weighted else None
    vs = rng.normal(size=(B, N)).astype(dt) if self_terms else None
    ws = rng.random((B, N)).astype(dt) if self_terms else None
    T_ = 0.7
    out = T.reduce_up(parent, lv, r, g, w, op, vs, ws, T_)
    for b in range(B):
        e = ref.reduce_up(parent[b], lv[b], r[b], g[b], None if w is None else w[b], op,
                          None if vs is None else vs[b], None if ws is None else ws[b], T_)
        np.testing.assert_allclose(out[b], e, **_tol(dt))
    with cl.use_backend("python"):
        np.testing.assert_allclose(T.reduce_up(parent, lv, r, g, w, op, vs, ws, T_), out,
                                   **_tol(dt))


def test_reduce_up_forest_and_nan():
    rng = np.random.default_rng(0)
    f = _forest(rng)
    lv = rng.normal(size=f.num_nodes)
    lv[-1] = np.nan
    for op in ("mean", "max", "min", "sum", "lse"):
        out = T.reduce_up(f, lv, op=op)
        e = np.concatenate([ref.reduce_up(p, x, np.zeros(len(p)), np.ones(len(p)), op=op)
                            for p, x in zip(f.split(f.parent), f.split(lv))])
        np.testing.assert_allclose(out, e, equal_nan=True)
    # NaN reaches the last tree's root through every op
    assert np.isnan(T.reduce_up(f, lv, op="max")[f.tree_ptr[-2]]) or f.tree_ptr[-1] - \
        f.tree_ptr[-2] == 1


def test_reduce_up_lse_tends_to_max():
    rng = np.random.default_rng(2)
    parent = np.array([-1, 0, 0, 1, 1, 2, 2, 2])
    lv, r = rng.normal(size=8), rng.normal(size=8)
    soft = T.reduce_up(parent, lv, r, op="lse", temperature=1e-3)
    np.testing.assert_allclose(soft, T.reduce_up(parent, lv, r, op="max"), atol=1e-2)


def test_mcts_values_equal_visit_weighted_tree_average():
    """mctx's incremental node_values == one visit-weighted bottom-up pass (K2 mean)."""
    from creditlab.planning import RecurrentOutput, mcts

    rng = np.random.default_rng(11)
    B, A = 8, 5
    for alg in ("muzero", "gumbel"):
        def rec(emb, a):
            return RecurrentOutput(rng.normal(size=B), rng.uniform(0.8, 1, B),
                                   rng.normal(size=(B, A)), rng.normal(size=B)), None

        t = mcts(rng.normal(size=(B, A)), rng.normal(size=B), rec, 64, algorithm=alg,
                 seed=1).search_tree
        assert t.value_identity_gap() < 1e-12
        t32 = mcts(rng.normal(size=(B, A)).astype(np.float32), np.zeros(B, np.float32),
                   lambda e, a: (RecurrentOutput(rng.normal(size=B), np.full(B, 0.95),
                                                 np.zeros((B, A)), rng.normal(size=B)), None),
                   64, algorithm=alg, seed=1).search_tree
        assert t32.value_identity_gap() < 1e-4


# ------------------------------------------------------------------ K3 scan_down


@given(batched_trees(), st.sampled_from(["sum", "prod", "max", "min"]))
def test_scan_down_matches_reference(tree, op):
    parent, rng, dt = tree
    x = rng.normal(size=parent.shape).astype(dt)
    out = T.scan_down(parent, x, op)
    for b in range(parent.shape[0]):
        np.testing.assert_allclose(out[b], ref.scan_down(parent[b], x[b], op), **_tol(dt))


def test_scan_down_depth_and_logprob():
    parent = np.array([-1, 0, 0, 1, 3])
    np.testing.assert_array_equal(T.scan_down(parent, np.ones(5)), [0, 1, 1, 2, 3])
    lp = np.log([1, 0.5, 0.5, 0.2, 0.1])
    np.testing.assert_allclose(np.exp(T.scan_down(parent, lp)), [1, .5, .5, .1, .01])


# ------------------------------------------------------------------ K4 leaf / sibling stats


@given(batched_trees(unused=False), st.booleans())
def test_leaf_stats_matches_definition(tree, mask):
    parent, rng, dt = tree
    x = rng.normal(size=parent.shape).astype(dt)
    il = rng.random(parent.shape) < 0.5 if mask else None
    out = T.leaf_stats(parent, x, il)
    for b in range(parent.shape[0]):
        e = ref.leaf_stats(parent[b], x[b], None if il is None else il[b])
        for got, exp in zip(out, e):
            np.testing.assert_allclose(got[b], exp, **_tol(dt))


@given(batched_trees())
def test_sibling_stats_matches_definition(tree):
    parent, rng, dt = tree
    x = rng.normal(size=parent.shape).astype(dt)
    out = T.sibling_stats(parent, x)
    for b in range(parent.shape[0]):
        for got, exp in zip(out, ref.sibling_stats(parent[b], x[b])):
            np.testing.assert_allclose(got[b], exp, **_tol(dt))


def test_treerl_and_fork_worked_example():
    parent = np.array([-1, 0, 0, 1, 1, 2])
    r = np.array([0, 0, 0, 1, 0, 1.0])
    V = T.leaf_stats(parent, r).mean
    np.testing.assert_allclose(V, [2 / 3, .5, 1, 1, 0, 1])
    adv = T.prefix_tree_advantages(parent, r, leave_one_out=False, sqrt_scale=False)
    np.testing.assert_allclose(adv, [0, -1 / 3, 2 / 3, 5 / 6, -7 / 6, 1 / 3])
    np.testing.assert_allclose(T.fork_relative(parent, V, eps=0), [0, -1, 1, 1, -1, 0])
    code = T.prefix_tree_advantages(parent, r, mode="treerl_code", leave_one_out=False,
                                    sqrt_scale=False)
    np.testing.assert_allclose(code, np.r_[0, V[1:] - V[parent[1:]]] + V)
    # sqrt scaling divides by the number of leaves below
    s = T.prefix_tree_advantages(parent, r, leave_one_out=False)
    np.testing.assert_allclose(s, adv / np.sqrt([3, 2, 1, 1, 1, 1]))


def test_prefix_advantages_loo_and_forest_from_paths():
    f, leaves = T.Forest.from_paths([[("a", "b"), ("a", "c"), ("d",)], [("x",), ("y",)]])
    assert f.num_trees == 2 and f.split(f.parent)[0].tolist() == [-1, 0, 1, 1, 0]
    r = np.zeros(f.num_nodes)
    r[leaves[0]] = [1, 0, 1]
    r[f.tree_ptr[1] + leaves[1]] = [1, 0]
    adv = T.prefix_tree_advantages(f, r)
    ref0 = T.prefix_tree_advantages(f.split(f.parent)[0], f.split(r)[0])
    np.testing.assert_allclose(f.split(adv)[0], ref0)
    # LOO: leaf rewards (1,0,1) -> (1-.5, 0-1, 1-.5); root mean 0
    V = T.leaf_stats(f.split(f.parent)[0], np.array([0, 0, .5, -1, .5])).mean
    assert V[0] == pytest.approx(0.0)
    fork, traj = T.portool_style_advantages(f, r)
    assert fork.shape == traj.shape == (f.num_nodes,)
    assert traj[f.tree_ptr[1] + leaves[1][0]] > 0 > traj[f.tree_ptr[1] + leaves[1][1]]


# ------------------------------------------------------------------ Q-transforms


@given(st.integers(1, 5), st.integers(1, 7), st.integers(0, 2**31 - 1),
       st.sampled_from(DTYPES))
def test_qtransforms_match_reference(R, A, seed, dt):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(R, A)).astype(dt)
    n = rng.integers(0, 3, (R, A)).astype(np.int32)
    lg = rng.normal(size=(R, A)).astype(dt)
    nv, rv = rng.normal(size=R).astype(dt), rng.normal(size=R).astype(dt)
    a = T.qtransform_by_parent_and_siblings(q, n, nv)
    b = T.qtransform_by_min_max(q, n, -3.0, 3.0)
    c = T.qtransform_completed_by_mix_value(q, n, lg, rv, nv)
    d = T.qtransform_completed_by_mix_value(q, n, lg, rv, nv, rescale_values=False,
                                            use_mixed_value=False)
    for i in range(R):
        np.testing.assert_allclose(a[i], ref.qtransform_by_parent_and_siblings(
            q[i], n[i], float(nv[i])), **_tol(dt))
        np.testing.assert_allclose(b[i], ref.qtransform_by_min_max(q[i], n[i], -3.0, 3.0),
                                   **_tol(dt))
        np.testing.assert_allclose(c[i], ref.qtransform_completed_by_mix_value(
            q[i], n[i], lg[i], float(rv[i]), float(nv[i])), **_tol(dt))
        np.testing.assert_allclose(d[i], ref.qtransform_completed_by_mix_value(
            q[i], n[i], lg[i], float(rv[i]), float(nv[i]), rescale_values=False,
            use_mixed_value=False), **_tol(dt))
    assert np.all((a >= 0) & (a <= 1 + 1e-6))


# ------------------------------------------------------------------ validation


def test_validation_errors():
    with pytest.raises(ValueError, match=r"parent\[2\] = 2 must be < 2"):
        T.scan_down(np.array([-1, 0, 2]), np.ones(3))
    with pytest.raises(ValueError, match="cycle"):
        T.reduce_up(np.array([-1, 2, 1]), np.ones(3))
    with pytest.raises(ValueError, match="node 0 is the root"):
        T.scan_down(np.array([0, 0]), np.ones(2))
    with pytest.raises(ValueError, match=r"-1 \(root"):
        T.scan_down(np.array([-1, -5]), np.ones(2))
    with pytest.raises(TypeError, match="integer array"):
        T.scan_down(np.array([-1.0, 0.0]), np.ones(2))
    with pytest.raises(ValueError, match="x has shape"):
        T.scan_down(np.array([-1, 0]), np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        T.backup_path(np.array([-1, 0]), np.ones(2), np.ones(2), np.ones(2),
                      np.array([1, -1]), [1], [0.0])
    with pytest.raises(ValueError, match="non-negative"):
        T.reduce_up(np.array([-1, 0]), np.ones(2), w=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"discounts\) must lie in \[0, 1\]"):
        T.backup_path(np.array([-1, 0]), np.ones(2), np.array([1, 1.5]), np.ones(2),
                      np.ones(2, np.int32), [1], [0.0])
    with pytest.raises(ValueError, match="out of range"):
        T.backup_path(np.array([-1, 0]), np.ones(2), np.ones(2), np.ones(2),
                      np.ones(2, np.int32), [2], [0.0])
    with pytest.raises(ValueError, match="one node index per tree"):
        T.backup_returns(np.array([[-1, 0], [-1, 0]]), np.ones((2, 2)), [1])
    with pytest.raises(ValueError, match="op must be one of"):
        T.reduce_up(np.array([-1, 0]), np.ones(2), op="median")
    with pytest.raises(ValueError, match="temperature"):
        T.reduce_up(np.array([-1, 0]), np.ones(2), op="lse", temperature=0)
    with pytest.raises(ValueError, match="must be in"):
        T.Forest(np.array([-1, 1], np.int32), np.array([0, 2]))
    with pytest.raises(ValueError, match="tree_ptr"):
        T.Forest(np.array([-1, 0], np.int32), np.array([0, 3]))
    with pytest.raises(ValueError, match="visits has shape"):
        T.qtransform_by_min_max(np.ones((2, 3)), np.ones((2, 2), np.int32), 0, 1)


def test_empty_and_single_node():
    p = np.array([-1])
    assert T.reduce_up(p, [3.0]).tolist() == [3.0]
    assert T.scan_down(p, [3.0]).tolist() == [0.0]
    assert T.leaf_stats(p, [2.0]).count.tolist() == [1.0]
    assert T.scan_down(np.zeros(0, np.int32), np.zeros(0)).shape == (0,)
    assert T.reduce_up(np.zeros((2, 0), np.int32), np.zeros((2, 0))).shape == (2, 0)
