"""Fixed-capacity ``[B, N]`` trees with unused slots (parent -1 past node 0, as in mctx-style
SearchTree arrays) and nodes stored under such slots.

prefix_tree_advantages and portool_style_advantages see only the nodes connected to node 0.
Property: the result on the ``[B, N]`` arrays equals the result on the compacted tree (the
connected nodes alone, in index order, as a Forest) scattered back, with 0 at every other
node, whatever the rewards and is_leaf flags stored at the others (NaN here); the compiled
kernels and the python backend agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab import tree_reference as ref
from creditlab import trees as T

MODES = ["treerl", "treerl_code", "fork"]


@st.composite
def slotted_trees(draw, max_b=4, max_n=40):
    """[B, N] parents where a share of the slots past node 0 is unused; a later node may
    pick an unused slot as its parent, so whole subtrees hang off unused slots."""
    B = draw(st.integers(1, max_b))
    N = draw(st.integers(1, max_n))
    unused = draw(st.sampled_from([0.0, 0.1, 0.3, 0.7, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    parent = np.full((B, N), -1, np.int32)
    for b in range(B):
        for i in range(1, N):
            if rng.random() >= unused:
                parent[b, i] = rng.integers(0, i)
    return parent, rng


def connected(parent: np.ndarray) -> np.ndarray:
    """bool [B, N], from the definition: node 0, and every node whose parent is connected."""
    conn = np.zeros(parent.shape, bool)
    for b in range(parent.shape[0]):
        for i in range(parent.shape[1]):
            p = parent[b, i]
            conn[b, i] = i == 0 or (p >= 0 and conn[b, p])
    return conn


def compact(parent: np.ndarray) -> tuple[T.Forest, np.ndarray, np.ndarray]:
    """The connected nodes of each tree as a Forest; their flat indices into [B, N]; conn."""
    B, N = parent.shape
    conn = connected(parent)
    parents, flat = [], []
    for b in range(B):
        keep = np.nonzero(conn[b])[0]
        new = np.full(N, -1)
        new[keep] = np.arange(len(keep))
        pk = parent[b, keep]
        parents.append(np.where(pk >= 0, new[np.maximum(pk, 0)], -1).astype(np.int32))
        flat.append(b * N + keep)
    return T.Forest.from_parents(parents), np.concatenate(flat), conn


def scatter(values: np.ndarray, flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(int(np.prod(shape)))
    out[flat] = values
    return out.reshape(shape)


@settings(max_examples=150, deadline=None)
@given(slotted_trees(), st.sampled_from(MODES), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from([np.float32, np.float64]))
def test_prefix_advantages_on_slots_equal_the_compacted_tree(tree, mode, loo, sqrt_scale,
                                                             masked, dt):
    parent, rng = tree
    forest, flat, conn = compact(parent)
    x = rng.normal(size=parent.shape).astype(dt)
    x[~conn] = np.nan  # never read: unused slots and their subtrees are no leaves
    il = rng.random(parent.shape) < 0.5 if masked else None
    if il is not None:
        il[~conn] = True  # flags there are ignored
    x0, p0 = x.copy(), parent.copy()
    got = T.prefix_tree_advantages(parent, x, mode, loo, sqrt_scale, il)
    assert got.dtype == np.float64 and got.shape == parent.shape
    want = T.prefix_tree_advantages(forest, x.reshape(-1)[flat], mode, loo, sqrt_scale,
                                    None if il is None else il.reshape(-1)[flat])
    np.testing.assert_allclose(got, scatter(want, flat, parent.shape), rtol=1e-12, atol=1e-12)
    assert np.all(got[~conn] == 0)
    np.testing.assert_array_equal(x, x0)  # inputs untouched
    np.testing.assert_array_equal(parent, p0)
    with cl.use_backend("python"):
        py = T.prefix_tree_advantages(parent, x, mode, loo, sqrt_scale, il)
    np.testing.assert_allclose(got, py, rtol=1e-9, atol=1e-9)
    for b in range(parent.shape[0]):  # the definition, one tree at a time
        e = ref.prefix_tree_advantages(parent[b], x[b], mode, loo, sqrt_scale,
                                       None if il is None else il[b])
        np.testing.assert_allclose(got[b], e, rtol=1e-9, atol=1e-9)
    # one tree at a time ([N] parent) gives the same rows
    b = int(rng.integers(parent.shape[0]))
    one = T.prefix_tree_advantages(parent[b], x[b], mode, loo, sqrt_scale,
                                   None if il is None else il[b])
    np.testing.assert_allclose(one, got[b], rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(slotted_trees(), st.sampled_from([0.0, 1e-6]))
def test_portool_on_slots_equals_the_compacted_tree(tree, eps):
    parent, rng = tree
    forest, flat, conn = compact(parent)
    x = rng.normal(size=parent.shape)
    x[~conn] = np.nan
    fork, traj = T.portool_style_advantages(parent, x, lam=0.5, eps=eps)
    wf, wt = T.portool_style_advantages(forest, x.reshape(-1)[flat], lam=0.5, eps=eps)
    np.testing.assert_allclose(fork, scatter(wf, flat, parent.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(traj, scatter(wt, flat, parent.shape), rtol=1e-12, atol=1e-12)
    with cl.use_backend("python"):
        pf, pt = T.portool_style_advantages(parent, x, lam=0.5, eps=eps)
    np.testing.assert_allclose(fork, pf, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(traj, pt, rtol=1e-9, atol=1e-9)


def test_prefix_advantages_worked_example_with_slots():
    # node 2 is an unused slot and node 3 is stored under it; the tree is 0 -> {1 -> 4, 5}
    parent = np.array([[-1, 0, -1, 2, 1, 0]])
    x = np.array([[0.0, 0, 7, 9, 4, 5]])
    # leaves 4 and 5; leave-one-out: 4 - 5 = -1, 5 - 4 = 1; V = (0, -1, 0, 0, -1, 1)
    np.testing.assert_allclose(T.prefix_tree_advantages(parent, x), [[0, -2, 0, 0, -1, 2]])
    # without centring or scaling: V = (4.5, 4, ., ., 4, 5); treerl = V - V0 + L
    np.testing.assert_allclose(
        T.prefix_tree_advantages(parent, x, leave_one_out=False, sqrt_scale=False),
        [[0, -1, 0, 0, -0.5, 1]])
    np.testing.assert_allclose(T.prefix_tree_advantages(parent, x, "fork"),
                               [[0, -1, 0, 0, 0, 1]], atol=1e-5)
    # a fixed-capacity tree that is only its root, next to a full one
    p2 = np.array([[-1, -1, -1], [-1, 0, 0]])
    out = T.prefix_tree_advantages(p2, np.array([[3.0, 1, 2], [0, 1, 2]]))
    np.testing.assert_allclose(out[0], 0)
    np.testing.assert_allclose(out[1], T.prefix_tree_advantages(p2[1], [0.0, 1, 2]))


def test_prefix_advantages_empty_and_is_leaf_shape():
    assert T.prefix_tree_advantages(np.zeros((2, 0), np.int32), np.zeros((2, 0))).shape == (2, 0)
    assert T.prefix_tree_advantages(np.zeros(0, np.int32), np.zeros(0)).shape == (0,)
    parent = np.array([[-1, 0, 0, 1], [-1, 0, -1, 2]])
    with pytest.raises(ValueError, match=r"is_leaf has shape \(4, 2\), expected \(2, 4\)"):
        T.prefix_tree_advantages(parent, np.ones((2, 4)), is_leaf=np.ones((4, 2), bool))
