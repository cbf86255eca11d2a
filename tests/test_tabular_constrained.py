"""Value iteration, occupancy, Q-learning, and the Lagrangian constrained solver."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditlab.constrained import lagrangian_npg, lagrangian_q_learning, lagrangian_update
from creditlab.envs import GridWorldEnv
from creditlab.tabular import (
    greedy_policy,
    occupancy,
    policy_evaluation,
    q_learning,
    q_values,
    value_iteration,
)


@given(seed=st.integers(0, 10_000), S=st.integers(1, 7), A=st.integers(1, 4),
       gamma=st.floats(0.0, 0.95))
def test_value_iteration_is_optimal(seed, S, A, gamma):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.normal(size=(S, A, S))
    V, Q = value_iteration(P, R, gamma)
    np.testing.assert_allclose(V, Q.max(1), atol=1e-8)  # Bellman optimality
    np.testing.assert_allclose(q_values(P, R, V, gamma), Q, atol=1e-8)
    for _ in range(5):  # no random deterministic policy does better
        pi = np.eye(A)[rng.integers(0, A, S)]
        assert (policy_evaluation(P, R, pi, gamma) <= V + 1e-8).all()


@given(seed=st.integers(0, 10_000), gamma=st.floats(0.0, 0.95))
def test_occupancy_gives_returns(seed, gamma):
    rng = np.random.default_rng(seed)
    S, A = 5, 3
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.normal(size=(S, A, S))
    pi = rng.dirichlet(np.ones(A), size=S)
    mu = rng.dirichlet(np.ones(S))
    eta = occupancy(P, pi, gamma, mu)
    assert (eta * R).sum() == pytest.approx(mu @ policy_evaluation(P, R, pi, gamma))
    assert eta.sum() == pytest.approx(1 / (1 - gamma))


def test_q_learning_finds_the_optimal_policy():
    env = GridWorldEnv("sparse", size=4, slip=0.0)
    g = 0.9
    res = q_learning(env.P, env.R, g, n_steps=4000, start=env.start_state,
                     terminal=env.terminal, alpha=0.5, epsilon=0.2, n_runs=4,
                     max_episode_steps=50, seed=0, true_reward=env.R)
    V, _ = value_iteration(env.P, env.R, g, env.terminal)
    s0 = env.start_state
    for q in res.Q:
        v = policy_evaluation(env.P, env.R, greedy_policy(q), g, env.terminal)[s0]
        assert v == pytest.approx(V[s0])
    assert res.snapshots.shape == (20, 4, env.P.shape[0], 4)
    for lr, tr in zip(res.episode_returns, res.episode_true_returns):
        assert len(lr) == len(tr) > 10
    # runs are reproducible from the seed
    again = q_learning(env.P, env.R, g, n_steps=4000, start=s0, terminal=env.terminal,
                       alpha=0.5, epsilon=0.2, n_runs=4, max_episode_steps=50, seed=0)
    np.testing.assert_array_equal(again.Q, res.Q)


def test_q_learning_bad_inputs():
    env = GridWorldEnv("sparse", size=4)
    with pytest.raises(ValueError, match="n_steps"):
        q_learning(env.P, env.R, 0.9, n_steps=0)
    with pytest.raises(ValueError, match="start"):
        q_learning(env.P, env.R, 0.9, n_steps=10, start=99)
    with pytest.raises(ValueError, match="epsilon"):
        q_learning(env.P, env.R, 0.9, n_steps=10, epsilon=2.0)
    with pytest.raises(ValueError, match="q_init"):
        q_learning(env.P, env.R, 0.9, n_steps=10, q_init=np.zeros(3))
    with pytest.raises(ValueError, match="gamma"):
        value_iteration(env.P, env.R, 1.0)
    with pytest.raises(ValueError, match="terminal"):
        value_iteration(env.P, env.R, 0.9, np.zeros(3, bool))


def test_lagrangian_update():
    assert lagrangian_update(0.5, 2.0, 1.0, 0.1) == pytest.approx(0.6)
    assert lagrangian_update(0.05, 0.0, 1.0, 0.1) == 0.0  # projected onto lambda >= 0
    np.testing.assert_allclose(lagrangian_update(np.array([0.0, 1.0]), np.array([2.0, 0.0]),
                                                 1.0, 0.5), [0.5, 0.5])
    with pytest.raises(ValueError, match="lr"):
        lagrangian_update(0.0, 1.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="lmbda"):
        lagrangian_update(-1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize("slip, tau", [(0.1, 0.5), (0.05, 1.0), (0.2, 0.5)])
def test_lagrangian_meets_threshold_and_beats_feasible_penalties(slip, tau):
    env = GridWorldEnv("lava", size=6, slip=slip, step_reward=-0.01)
    g = 0.95
    mu = np.eye(env.P.shape[0])[env.start_state]
    res = lagrangian_npg(env.P, env.R, env.C, g, tau, n_iters=1500, lr=0.1, lr_lambda=0.02,
                         initial=mu, terminal=env.terminal)
    assert res.average_cost_return <= tau + 0.02
    assert res.average_cost_return >= tau - 0.1  # it uses the budget, not far below
    np.testing.assert_allclose(res.average_policy.sum(1), 1.0)
    best_feasible = -np.inf
    for pen in np.geomspace(0.001, 10, 25):
        _, Q = value_iteration(env.P, env.R - pen * env.C, g, env.terminal)
        pi = greedy_policy(Q)
        J_c = mu @ policy_evaluation(env.P, env.C, pi, g, env.terminal)
        if J_c <= tau:
            best_feasible = max(best_feasible,
                                mu @ policy_evaluation(env.P, env.R, pi, g, env.terminal))
    assert res.average_reward_return > best_feasible


def test_lagrangian_bad_inputs():
    env = GridWorldEnv("lava", size=5)
    with pytest.raises(ValueError, match="C must have"):
        lagrangian_npg(env.P, env.R, env.C[:, :2], 0.9, 0.5)
    with pytest.raises(ValueError, match="C must be finite and >= 0"):
        lagrangian_npg(env.P, env.R, -env.C, 0.9, 0.5)
    with pytest.raises(ValueError, match="threshold"):
        lagrangian_npg(env.P, env.R, env.C, 0.9, None)
    with pytest.raises(ValueError, match="gamma"):
        lagrangian_npg(env.P, env.R, env.C, 1.0, 0.5)


@given(seed=st.integers(0, 10_000), q_init=st.sampled_from([0.0, 1.0]))
def test_lagrangian_q_learning_without_cost_is_q_learning(seed, q_init):
    # C = 0 and tau >= 0 keep lambda at 0: the reward critic is exactly q_learning's Q
    env = GridWorldEnv("sparse", size=4, slip=0.1)
    kw = dict(n_steps=300, start=env.start_state, terminal=env.terminal, alpha=0.3,
              epsilon=0.2, n_runs=3, max_episode_steps=30, q_init=q_init, seed=seed)
    res = lagrangian_q_learning(env.P, env.R, np.zeros_like(env.R), 0.9, 0.0,
                                lr_lambda=1.0, **kw)
    ref = q_learning(env.P, env.R, 0.9, true_reward=env.R, **kw)
    np.testing.assert_allclose(res.Q_R, ref.Q, atol=1e-12)
    assert (res.Q_C == 0).all() and (res.lmbda == 0).all()
    for mine, theirs in zip(res.episode_returns, ref.episode_true_returns):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
    pi = res.behaviour_policy()
    assert pi.shape == (3, env.P.shape[0], 4)
    np.testing.assert_allclose(pi.sum(-1), 1.0)
    assert np.isclose(pi.max(-1), 1 - 0.2 + 0.2 / 4).all()


def test_lagrangian_q_learning_meets_the_budget_from_samples():
    env = GridWorldEnv("lava", size=6, slip=0.1, step_reward=-0.01)
    tau = 0.5
    res = lagrangian_q_learning(env.P, env.R, env.C, 0.95, tau, n_steps=15_000,
                                start=env.start_state, terminal=env.terminal, alpha=0.2,
                                epsilon=0.1, lr_lambda=0.01, q_init=1.0, n_runs=4,
                                max_episode_steps=200, n_evals=3, seed=1)
    late_cost = [c[len(c) // 2:].mean() for c in res.episode_costs]
    assert np.abs(np.array(late_cost) - tau).max() < 0.05
    assert (res.lmbda > 0).all()  # the constraint is active: the multiplier stays positive
    assert res.snapshots_R.shape == (3, 4, env.P.shape[0], 4)
    assert res.snapshot_lmbdas.shape == (3, 4)
    for c, lam in zip(res.episode_costs, res.episode_lmbdas):
        assert len(c) == len(lam) > 100


def test_lagrangian_q_learning_bad_inputs():
    env = GridWorldEnv("lava", size=4)
    kw = dict(n_steps=10, start=env.start_state)
    with pytest.raises(ValueError, match="C must"):
        lagrangian_q_learning(env.P, env.R, -env.C, 0.9, 0.5, **kw)
    with pytest.raises(ValueError, match="C must"):
        lagrangian_q_learning(env.P, env.R, env.C[:-1], 0.9, 0.5, **kw)
    with pytest.raises(ValueError, match="lr_lambda"):
        lagrangian_q_learning(env.P, env.R, env.C, 0.9, 0.5, lr_lambda=-1.0, **kw)
    with pytest.raises(ValueError, match="gamma"):
        lagrangian_q_learning(env.P, env.R, env.C, 1.0, 0.5, **kw)
    with pytest.raises(ValueError, match="start"):
        lagrangian_q_learning(env.P, env.R, env.C, 0.9, 0.5, n_steps=10, start=99)
    with pytest.raises(ValueError, match="n_steps"):
        lagrangian_q_learning(env.P, env.R, env.C, 0.9, 0.5, n_steps=0)
    with pytest.raises(ValueError, match="threshold"):
        lagrangian_q_learning(env.P, env.R, env.C, 0.9, float("nan"), **kw)
