"""creditlab.planning: the C++ MCTS loop == its numpy reference; lookahead planning."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import creditlab as cl
from creditlab import planning as P
from creditlab.planning import RecurrentOutput


def _model(A, seed, dt):
    """A random deterministic model keyed on (embedding, action), batched."""

    def rec(emb, a):
        key = (emb * 7919 + a * 104729 + seed) % 2**31
        rs = [np.random.default_rng(int(k)) for k in key]
        r = np.array([g.normal() for g in rs], dt)
        d = np.array([g.uniform(0.5, 1) for g in rs], dt)
        lg = np.stack([g.normal(size=A) for g in rs]).astype(dt)
        v = np.array([g.normal() for g in rs], dt)
        return RecurrentOutput(r, d, lg, v), key

    return rec


@given(st.integers(1, 5), st.sampled_from([1, 2, 3, 5, 6, 8, 9, 17]), st.integers(1, 40),
       st.sampled_from(["muzero", "gumbel"]), st.sampled_from([None, 1, 3]),
       st.booleans(), st.sampled_from([np.float32, np.float64]), st.integers(0, 10**6))
def test_cpp_mcts_equals_numpy_reference(B, A, S, alg, max_depth, mask, dt, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(B, A)).astype(dt)
    value = rng.normal(size=B).astype(dt)
    invalid = None
    if mask and A > 1:
        invalid = rng.random((B, A)) < 0.3
        invalid[:, 0] = False
    kw = dict(algorithm=alg, invalid_actions=invalid, max_depth=max_depth, seed=seed,
              max_num_considered_actions=4)
    emb = np.arange(B, dtype=np.int64) + seed
    a = P.mcts(logits, value, _model(A, seed, dt), S, emb, **kw)
    b = P.mcts_numpy(logits, value, _model(A, seed, dt), S, emb, **kw)
    ta, tb = a.search_tree, b.search_tree
    for name in ("node_visits", "parents", "action_from_parent", "children_index",
                 "children_visits"):
        np.testing.assert_array_equal(getattr(ta, name), getattr(tb, name), err_msg=name)
    tol = 1e-4 if dt == np.float32 else 1e-10
    np.testing.assert_allclose(ta.node_values, tb.node_values, atol=tol)
    np.testing.assert_array_equal(a.action, b.action)
    np.testing.assert_allclose(a.action_weights, b.action_weights, atol=tol)
    assert ta.node_values.dtype == dt
    assert np.all(ta.children_visits[:, 0].sum(-1) == S)
    if invalid is not None:
        assert not np.any(ta.children_visits[:, 0][invalid])
        assert not np.any(invalid[np.arange(B), a.action])
    if max_depth is None:
        assert ta.value_identity_gap() < (1e-3 if dt == np.float32 else 1e-9)


def test_python_backend_falls_back_to_numpy():
    rec = _model(3, 0, np.float64)
    a = P.mcts(np.zeros((2, 3)), np.zeros(2), rec, 10, np.arange(2))
    with cl.use_backend("python"):
        b = P.mcts(np.zeros((2, 3)), np.zeros(2), rec, 10, np.arange(2))
    np.testing.assert_array_equal(a.search_tree.children_visits, b.search_tree.children_visits)


def test_one_callback_per_simulation_with_the_whole_batch():
    calls = []
    B, A = 5, 3

    def rec(emb, a):
        calls.append(a.shape)
        return RecurrentOutput(np.zeros(B), np.ones(B), np.zeros((B, A)), np.zeros(B)), emb

    P.mcts(np.zeros((B, A)), np.zeros(B), rec, 12, np.zeros(B))
    assert calls == [(B,)] * 12


def test_mcts_finds_the_rewarding_action():
    B, A = 4, 4

    def rec(emb, a):
        # only the root's action 2 pays; the embedding counts depth
        return RecurrentOutput(((a == 2) & (emb == 0)).astype(float), np.full(B, 0.9),
                               np.zeros((B, A)), np.zeros(B)), emb + 1

    for alg in ("muzero", "gumbel"):
        out = P.mcts(np.zeros((B, A)), np.zeros(B), rec, 32, np.zeros(B), algorithm=alg,
                     seed=0)
        # Gumbel's action is perturbed by its Gumbel noise (few simulations trust it);
        # its improved policy softmax(logits + completed q) is not.
        assert np.argmax(out.action_weights, -1).tolist() == [2] * B
        if alg == "muzero":
            assert out.action.tolist() == [2] * B


def test_mcts_errors():
    ok = np.zeros((2, 3))

    def bad_shape(emb, a):
        return RecurrentOutput(np.zeros(3), np.ones(2), np.zeros((2, 3)), np.zeros(2)), emb

    with pytest.raises(ValueError, match="reward of shape"):
        P.mcts(ok, np.zeros(2), bad_shape, 4)

    def boom(emb, a):
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        P.mcts(ok, np.zeros(2), boom, 4)

    def bad_discount(emb, a):
        return RecurrentOutput(np.zeros(2), np.full(2, 1.5), np.zeros((2, 3)), np.zeros(2)), emb

    with pytest.raises(ValueError, match="discount outside"):
        P.mcts(ok, np.zeros(2), bad_discount, 4)
    with pytest.raises(ValueError, match="num_simulations"):
        P.mcts(ok, np.zeros(2), boom, 0)
    with pytest.raises(ValueError, match="root_value"):
        P.mcts(ok, np.zeros(3), boom, 2)
    with pytest.raises(ValueError, match="algorithm"):
        P.mcts(ok, np.zeros(2), boom, 2, algorithm="alphago")
    with pytest.raises(ValueError, match="at least one valid"):
        P.mcts(ok, np.zeros(2), boom, 2, invalid_actions=np.ones((2, 3), bool))


def _chain_model(depth_reward):
    """Two actions; action 1 pays 1 now and -10 after; action 0 pays 0 then +5."""

    def model(s):
        t, path = s
        if t >= 3:
            return []
        out = []
        for a in (0, 1):
            r = depth_reward(path + (a,))
            out.append((a, (t + 1, path + (a,)), r, t + 1 >= 3))
        return out

    return model


def test_lookahead_backs_up_max_and_greedy_is_myopic():
    def rew(path):
        if path == (1,):
            return 1.0
        if path[:1] == (1,) and len(path) == 2:
            return -10.0
        if path == (0, 0, 0):
            return 5.0
        return 0.0

    model = _chain_model(rew)
    plan, v = P.lookahead(model, (0, ()), 3)
    assert plan == [0, 0, 0] and v == 5.0
    assert P.greedy_step(model, (0, ())) == 1
    assert P.lookahead(model, (0, ()), 1)[0] == [1]

    def step(s, a):
        (t, path) = s
        nxt = [x for x in model(s) if x[0] == a][0]
        return nxt[1], nxt[2], nxt[3]

    tr = P.receding_horizon(model, step, (0, ()), depth=3, commit=1)
    assert tr.actions == [0, 0, 0] and tr.total_reward == 5.0
    with pytest.raises(ValueError, match="depth"):
        P.lookahead(model, (0, ()), 0)


def test_reward_mix():
    out = P.reward_mix({"a": np.array([1.0, 2.0]), "b": np.array([0.5, 0.5])},
                       {"a": 1.0, "b": 2.0})
    np.testing.assert_allclose(out, [2.0, 3.0])
    with pytest.raises(ValueError, match="unknown terms"):
        P.reward_mix({"a": 1.0}, {"c": 1.0})
