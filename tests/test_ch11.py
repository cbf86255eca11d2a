"""Chapter 11: EMPG's entropy modulation, ToolTree and its tree rollouts, the tabular tree
PG trainer, HyperGrid, the GFlowNet residuals and trainer, and the exercise answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.advantages import entropy_modulated
from creditlab.algos.gflownet import db_residual, fldb_residual, tb_residual, train_gflownet
from creditlab.algos.tooltree_pg import pair_weights, train_tooltree, tree_advantages
from creditlab.envs.hypergrid import HyperGrid
from creditlab.envs.tooltree import ToolTreeConfig, sample_chains, tasks, tree_rollout
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch11
from creditlab.solutions import ch11 as sol
from creditlab.trees import portool_style_advantages


def _empg_loop(A, H, m, k=1.0, kn=1.0, zeta=0.05, use_g=True, use_f=True):
    """EMPG written step by step (the paper's appendix, S21-S23)."""
    B, T = A.shape
    act = [(i, t) for i in range(B) for t in range(T) if m[i, t]]
    lo, hi = min(H[i, t] for i, t in act), max(H[i, t] for i, t in act)
    hn = {(i, t): (H[i, t] - lo) / (hi - lo + 1e-8) for i, t in act}
    mean_e = np.mean([np.exp(-k * hn[a]) for a in act])
    out = np.zeros((B, T))
    for i, t in act:
        v = A[i, t] * (np.exp(-k * hn[i, t]) / mean_e if use_g else 1.0)
        if use_f and (i, t + 1) in hn:
            v += zeta * np.exp(-kn * hn[i, t + 1])
        out[i, t] = v
    mu = np.mean([out[a] for a in act])
    for a in act:
        out[a] -= mu
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**16), st.booleans(),
       st.booleans())
def test_entropy_modulated_matches_the_loop(B, T, seed, use_g, use_f):
    rng = np.random.default_rng(seed)
    L = rng.integers(1, T + 1, B)
    m = np.arange(T)[None] < L[:, None]
    A = rng.normal(size=(B, T))
    H = rng.uniform(0, 2, (B, T))
    A0, H0 = A.copy(), H.copy()
    out = entropy_modulated(A, H, m, use_g=use_g, use_f=use_f)
    np.testing.assert_allclose(out, _empg_loop(A, H, m, use_g=use_g, use_f=use_f), atol=1e-12)
    assert np.all(out[~m] == 0)
    np.testing.assert_allclose(out[m].mean(), 0.0, atol=1e-12)
    np.testing.assert_array_equal(A, A0)  # inputs not modified
    np.testing.assert_array_equal(H, H0)


def test_entropy_modulated_constant_entropy_is_grpo_plus_a_constant():
    A = np.array([[1.0, 1.0], [-1.0, -1.0]])
    m = np.ones((2, 2), bool)
    out = entropy_modulated(A, np.full((2, 2), 0.3), m, use_f=False)
    np.testing.assert_allclose(out, A - A.mean())


def test_confident_error_is_penalised_more():
    A = -np.ones((1, 3))
    out = entropy_modulated(A, np.array([[0.0, 1.0, 2.0]]), np.ones((1, 3), bool),
                            use_f=False, center=False)
    assert out[0, 0] < out[0, 1] < out[0, 2] < 0


def test_entropy_modulated_bad_input():
    m = np.ones((2, 2), bool)
    with pytest.raises(ValueError, match="entropy"):
        entropy_modulated(np.zeros((2, 2)), -np.ones((2, 2)), m)
    with pytest.raises(TypeError, match="use_g"):
        entropy_modulated(np.zeros((2, 2)), np.ones((2, 2)), m, use_g=1)
    with pytest.raises(ValueError, match="response_mask"):  # active steps not a prefix
        entropy_modulated(np.zeros((2, 2)), np.ones((2, 2)), np.array([[False, True]] * 2))


# ---------------------------------------------------------------- ToolTree


def test_tasks_and_chains():
    c = ToolTreeConfig()
    assert len(tasks(c)) == 15 + 20 + 15
    rng = np.random.default_rng(0)
    # an oracle: call the lowest needed tool not yet done, answer when all done
    pi = np.zeros((c.n_states, c.n_actions))
    for s in range(c.n_states):
        need, done = s >> c.n_tools, s & 63
        todo = need & ~done
        pi[s, (todo & -todo).bit_length() - 1 if todo else c.answer] = 1.0
    ch = sample_chains(pi, c, 500, rng)
    assert np.all(ch.wasted == 0)
    assert set(np.unique(ch.outcome)) <= {0.0, 1.0}  # never wrong; cut off when unlucky
    assert np.all(ch.calls[ch.outcome == 1] >= 2)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**16), st.integers(1, 8), st.integers(1, 3))
def test_tree_rollout_shapes(seed, n, f):
    c = ToolTreeConfig()
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(c.n_actions), c.n_states)
    ro = tree_rollout(pi, c, rng.choice(tasks(c), 3), rng, n=n, f=f)
    assert ro.leaves.shape == (3, n)
    _, kids = ro.forest.children()
    counts = np.bincount(ro.forest.global_parent()[ro.forest.global_parent() >= 0],
                         minlength=ro.forest.num_nodes)
    not_root = ro.forest.global_parent() >= 0
    assert np.all(counts[not_root] <= f)  # only the query may have more than f children
    assert np.all(counts[ro.leaves.reshape(-1)] == 0)
    assert set(np.unique(ro.outcome)) <= {-1.0, 0.0, 1.0}
    assert np.all(ro.forest.depth()[ro.leaves.reshape(-1)] <= c.t_max)


def test_pair_weights_match_a_loop():
    c = ToolTreeConfig()
    rng = np.random.default_rng(3)
    pi = rng.dirichlet(np.ones(c.n_actions), c.n_states)
    ro = tree_rollout(pi, c, rng.choice(tasks(c), 4), rng)
    fork, traj = tree_advantages(ro, "portool")
    w, pairs = pair_weights(ro, fork, traj)
    gp = ro.forest.global_parent()
    ref = np.zeros_like(w)
    n_pairs = 0
    for leaf in ro.leaves.reshape(-1):
        s = leaf
        while gp[s] >= 0:
            ref[s] += traj[leaf] + fork[s]
            n_pairs += 1
            s = gp[s]
    np.testing.assert_allclose(w, ref, atol=1e-12)
    assert pairs == n_pairs
    f2, t2 = portool_style_advantages(ro.forest, ro.leaf_reward, lam=1.0, gamma=0.95,
                                      format_score=ro.format_score, t_max=c.t_max)
    np.testing.assert_allclose(fork, f2)
    np.testing.assert_allclose(traj, t2)
    g_fork, _ = tree_advantages(ro, "grpo")
    assert np.all(g_fork == 0)


def test_train_tooltree_is_deterministic_and_learns():
    a = train_tooltree("portool", 0, iterations=30, lr=20.0, eval_episodes=500)
    b = train_tooltree("portool", 0, iterations=30, lr=20.0, eval_episodes=500)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.history["accuracy"][-1] > a.history["accuracy"][0] + 0.05
    with pytest.raises(ValueError, match="arm"):
        train_tooltree("bogus", 0)


@pytest.mark.parametrize("kw, name", [({"eval_every": 0}, "eval_every"),
                                      ({"eval_episodes": 0}, "eval_episodes"),
                                      ({"n_tasks": 0}, "n_tasks")])
def test_train_tooltree_bad_input(kw, name):
    with pytest.raises(ValueError, match=name):
        train_tooltree("grpo", 0, iterations=1, **kw)


# ---------------------------------------------------------------- HyperGrid, GFlowNets


def test_hypergrid_exact_distributions():
    env = HyperGrid(5, 3)
    assert env.n_states == 125
    np.testing.assert_allclose(env.target.sum(), 1.0)
    rng = np.random.default_rng(0)
    pf = rng.dirichlet(np.ones(4), 125) * env.action_mask()
    pf /= pf.sum(1, keepdims=True)
    p = env.terminal_distribution(pf)
    np.testing.assert_allclose(p.sum(), 1.0)
    tr = env.sample(pf, 20000, rng)
    emp = np.bincount(tr["last"], minlength=125) / 20000
    assert np.abs(emp - p).sum() < 0.1
    # additive energy: E(x) = sum_d e(x_d)
    c = env.coords
    e1 = -np.log(np.asarray(env.r))
    np.testing.assert_allclose(env.energy, e1[c].sum(1))


def test_residuals():
    r = fldb_residual(torch.tensor([0.5, 0.5]), 0.0, torch.tensor([2.0, 2.0]), 0.0,
                      torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0]),
                      torch.tensor([False, True]))
    np.testing.assert_allclose(r.numpy(), [0.5 - 2 + 2, 0.5 + 2])
    np.testing.assert_allclose(db_residual(1.0, -0.5, 0.2, -0.1).numpy(), 0.4)
    np.testing.assert_allclose(tb_residual(2.0, -3.0, -1.0, -0.5).numpy(), 0.5)
    with pytest.raises(TypeError, match="next_terminal"):
        fldb_residual(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.array([1.0]))
    with pytest.raises(TypeError, match="log_pf"):
        db_residual(0.0, "x", 0.0, 0.0)


def test_fldb_is_db_with_a_shifted_flow():
    env = HyperGrid(4, 2)
    a = train_gflownet("fldb", 1, env, steps=30, lr=0.1, optimizer="sgd")
    b = train_gflownet("db", 1, env, steps=30, lr=0.1, optimizer="sgd", flow_init=-env.energy)
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-12)
    np.testing.assert_allclose(a.log_flow - env.energy, b.log_flow, atol=1e-12)


def test_tb_learns_and_incomplete_rules():
    env = HyperGrid(4, 2)
    r = train_gflownet("tb", 0, env, steps=150, lr=0.1, explore=0.2)
    assert r.history["l1"][-1] < 0.5 * r.history["l1"][0]
    with pytest.raises(ValueError, match="complete"):
        train_gflownet("tb", 0, env, max_len=2)
    with pytest.raises(ValueError, match="max_len"):
        train_gflownet("db", 0, env, max_len=6)
    inc = train_gflownet("fldb", 0, env, steps=100, lr=0.1, explore=0.5, max_len=4)
    assert inc.history["l1"][-1] < inc.history["l1"][0]


# ---------------------------------------------------------------- exercises


def test_stored_answers_match_the_library():
    fresh, stored = ch11.make_cases(), check_mod._cases("ch11")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)


def test_wrong_answers_fail():
    def no_centre(advantages, entropy, mask):
        out = sol.entropy_modulated(advantages, entropy, mask)
        return np.where(mask, out + 0.1, 0.0)

    with pytest.raises(AssertionError):
        cl.check("ch11.entropy_modulated", no_centre, verbose=False)

    def wrong_sign(log_flow_tilde, log_pf, log_flow_tilde_next, log_pb, energy, energy_next,
                   next_terminal):
        nxt = np.where(next_terminal, 0.0, log_flow_tilde_next)
        return log_flow_tilde + log_pf - nxt - log_pb - energy_next + energy

    with pytest.raises(AssertionError):
        cl.check("ch11.fldb_residual", wrong_sign, verbose=False)
