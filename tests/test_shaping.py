"""Potential-based shaping: formula, terminal convention, policy invariance, wrapper."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import creditlab  # noqa: F401
from creditlab.envs import GridWorldEnv
from creditlab.shaping import (
    ShapedReward,
    checkpoint_bonus_table,
    potential_shaping,
    potential_shaping_fn,
    potential_shaping_table,
    progress_bonus_table,
)
from creditlab.tabular import greedy_policy, policy_evaluation, value_iteration

torch = pytest.importorskip("torch")


def random_mdp(rng, S, A, terminal_frac=0.0):
    P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    R = rng.normal(size=(S, A, S))
    term = rng.random(S) < terminal_frac
    P[term] = np.eye(S)[term][:, None, :]
    R[term] = 0.0
    return P, R, term


def test_formula_and_terminal_convention():
    r = np.array([[1.0, 0.0, 2.0]])
    phi = np.array([[0.5, 1.0, 3.0]])
    nphi = np.array([[1.0, 3.0, 9.0]])
    term = np.array([[False, False, True]])
    out = potential_shaping(r, phi, nphi, 0.9, terminated=term)
    np.testing.assert_allclose(out, [[1 + 0.9 - 0.5, 0 + 2.7 - 1.0, 2.0 - 3.0]])
    # without terminated the last step keeps gamma * next_phi
    np.testing.assert_allclose(potential_shaping(r, phi, nphi, 0.9)[0, 2], 2 + 8.1 - 3)


@given(T=st.integers(1, 12), gamma=st.floats(0.0, 1.0), seed=st.integers(0, 10_000))
def test_shaped_episode_return_telescopes(T, gamma, seed):
    """sum_t gamma^t F_t = -Phi(s_0) for every episode that terminates."""
    rng = np.random.default_rng(seed)
    phis = rng.normal(size=T + 1)
    r = rng.normal(size=T)
    term = np.zeros(T, bool)
    term[-1] = True
    shaped = potential_shaping(r, phis[:-1], phis[1:], gamma, terminated=term)
    disc = gamma ** np.arange(T)
    np.testing.assert_allclose(disc @ shaped, disc @ r - phis[0], atol=1e-9)


def test_torch_in_torch_out_and_no_mutation():
    r = torch.zeros(2, 3, dtype=torch.float32)
    p = torch.ones(2, 3, dtype=torch.float32)
    out = potential_shaping(r, p, p, 0.5)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), -0.5)
    a = np.ones(3)
    before = a.copy()
    potential_shaping(a, a, a, 0.9, terminated=np.array([True, False, True]))
    np.testing.assert_array_equal(a, before)


def test_bad_inputs():
    r = np.zeros(3)
    with pytest.raises(ValueError, match="phi must have the shape"):
        potential_shaping(r, np.zeros(4), r, 0.9)
    with pytest.raises(ValueError, match="next_phi"):
        potential_shaping(r, r, np.zeros((1, 3)), 0.9)
    with pytest.raises(ValueError, match="gamma"):
        potential_shaping(r, r, r, 1.5)
    with pytest.raises(TypeError, match="terminated"):
        potential_shaping(r, r, r, 0.9, terminated=np.zeros(3))
    with pytest.raises(ValueError, match="terminated must have"):
        potential_shaping(r, r, r, 0.9, terminated=np.zeros(2, bool))
    with pytest.raises(TypeError, match="rewards"):
        potential_shaping(np.zeros(3, int), r, r, 0.9)


@given(S=st.integers(2, 8), A=st.integers(1, 4), seed=st.integers(0, 10_000),
       gamma=st.floats(0.0, 0.95), frac=st.sampled_from([0.0, 0.3]))
def test_optimal_policy_invariant_on_random_mdps(S, A, seed, gamma, frac):
    """Ng et al. 1999: Q*_shaped(s, a) = Q*(s, a) - Phi(s), so argmax is unchanged."""
    rng = np.random.default_rng(seed)
    P, R, term = random_mdp(rng, S, A, frac)
    phi = rng.normal(scale=5.0, size=S)
    F = potential_shaping_table(phi, gamma, term)
    V, Q = value_iteration(P, R, gamma, term)
    Vs, Qs = value_iteration(P, R + F, gamma, term)
    live = ~term
    np.testing.assert_allclose(Qs[live], Q[live] - phi[live, None], atol=1e-7)
    # the same greedy actions wherever the optimum is unique
    gap = np.sort(Q, axis=1)
    unique = live & ((gap[:, -1] - gap[:, -2]) > 1e-6 if A > 1 else live)
    np.testing.assert_array_equal(greedy_policy(Q)[unique], greedy_policy(Qs)[unique])


def test_keeping_terminal_potential_breaks_invariance():
    """The convention matters: Phi(goal) != 0 changes which terminal state is preferred."""
    env = GridWorldEnv(["G..S..G"])  # two goals, left one farther
    g = 0.9
    phi = np.zeros(env.P.shape[0])
    left = env.state_of(0, 0)
    phi[left] = 10.0  # a big potential on the far goal
    _, Q = value_iteration(env.P, env.R, g, env.terminal)
    _, Qok = value_iteration(env.P, env.R + potential_shaping_table(phi, g, env.terminal),
                             g, env.terminal)
    wrong = g * phi[None, None, :] - phi[:, None, None]
    _, Qbad = value_iteration(env.P, env.R + wrong, g, env.terminal)
    s = env.start_state
    assert Q[s].argmax() == Qok[s].argmax() == 1  # go right, the near goal
    assert Qbad[s].argmax() == 3  # the stored potential lures it left


def test_naive_bonuses_create_a_farmable_cycle():
    env = GridWorldEnv("sparse", size=6, slip=0.0)
    g = 0.95
    F = progress_bonus_table(env.goal_distance, 0.2, env.terminal)
    _, Q = value_iteration(env.P, env.R + F, g, env.terminal)
    pi = greedy_policy(Q)
    true = policy_evaluation(env.P, env.R, pi, g, env.terminal)[env.start_state]
    assert true < 0.05  # never finishes: it oscillates for the bonus
    cyc = GridWorldEnv("cycle", size=6)
    Fc = checkpoint_bonus_table(cyc.checkpoints, 0.2, cyc.terminal)
    assert Fc.max() == 0.2 and Fc[cyc.checkpoints][:, :, cyc.checkpoints].max() == 0.0


def test_shaped_reward_wrapper_matches_function():
    env = gym.make("creditlab/GridWorld-v0", size=5, slip=0.2)
    phi = -env.unwrapped.goal_distance
    wrapped = ShapedReward(env, potential_shaping_fn(phi, 0.9))
    obs, _ = wrapped.reset(seed=3)
    rng = np.random.default_rng(0)
    total_true, total_shaped, disc = 0.0, 0.0, 1.0
    for _ in range(200):
        a = int(rng.integers(4))
        nxt, r, term, trunc, info = wrapped.step(a)
        expect = potential_shaping(np.array([info["true_reward"]]), np.array([phi[obs]]),
                                   np.array([phi[nxt]]), 0.9, terminated=np.array([term]))
        assert r == pytest.approx(float(expect[0]))
        total_true += disc * info["true_reward"]
        total_shaped += disc * r
        disc *= 0.9
        obs = nxt
        if term or trunc:
            break
    if term:
        assert total_shaped == pytest.approx(total_true - phi[env.unwrapped.start_state])
    with pytest.raises(TypeError, match="shaping"):
        ShapedReward(env, 3)
