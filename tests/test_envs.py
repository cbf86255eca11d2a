"""Environments: gymnasium's checker, and the tabular model equals the sampled dynamics."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import creditlab  # noqa: F401  (registers the environments)
from creditlab.envs import ChainEnv, rollout
from creditlab.tabular import policy_evaluation, q_values


def test_chain_passes_env_checker():
    check_env(gym.make("creditlab/Chain-v0").unwrapped)
    check_env(ChainEnv(n_states=5, slip=0.2))


def test_chain_model_matches_sampled_dynamics():
    env = ChainEnv(n_states=6, slip=0.3, step_reward=-0.1)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    counts = np.zeros_like(env.P)
    rewards = np.zeros_like(env.R)
    for s in range(1, 5):
        for a in (0, 1):
            for _ in range(400):
                env._state = s
                s2, r, term, trunc, _ = env.step(a)
                counts[s, a, s2] += 1
                rewards[s, a, s2] = r
                assert term == env.terminal[s2] and not trunc
    freq = counts[1:5] / counts[1:5].sum(-1, keepdims=True)
    np.testing.assert_allclose(freq, env.P[1:5], atol=0.08)
    seen = counts > 0
    np.testing.assert_allclose(rewards[seen], env.R[seen])
    del rng


def test_chain_rejects_bad_config_and_actions():
    with pytest.raises(ValueError, match="n_states"):
        ChainEnv(n_states=2)
    with pytest.raises(ValueError, match="slip"):
        ChainEnv(slip=1.0)
    env = ChainEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(2)


def test_policy_evaluation_matches_monte_carlo():
    env = gym.make("creditlab/Chain-v0", n_states=5, slip=0.1)
    base = env.unwrapped
    pi = np.tile([0.4, 0.6], (5, 1))
    V = policy_evaluation(base.P, base.R, pi, 0.9, base.terminal)
    Q = q_values(base.P, base.R, V, 0.9, base.terminal)
    np.testing.assert_allclose((pi * Q).sum(1), V, atol=1e-12)
    ro = rollout(env, lambda obs, rng: int(rng.random() < 0.6), 20_000, seed=1)
    G = creditlab.discounted_returns(ro.rewards, 0.9, dones=ro.dones)
    starts = np.r_[True, ro.dones[:-1]]  # first step of each episode
    est = G[starts].mean()
    sem = G[starts].std() / np.sqrt(starts.sum())
    assert abs(est - V[base.start_state]) < 4 * sem


def test_rollout_policy_noise_is_independent_of_the_environment():
    env = gym.make("creditlab/Chain-v0", n_states=5, slip=0.1)
    ro = rollout(env, lambda obs, rng: int(rng.random() < 0.6), 20_000, seed=1)
    for s in (1, 2, 3):
        for a in (0, 1):
            sel = (ro.obs == s) & (ro.actions == a)
            went = np.mean(ro.next_obs[sel] == s + (1 if a else -1))
            assert abs(went - 0.9) < 0.03, (s, a, went)


def test_rollout_records_truncation_and_final_observation():
    env = gym.make("creditlab/Chain-v0", n_states=41, max_episode_steps=5)
    ro = rollout(env, lambda obs, rng: int(rng.integers(2)), 50, seed=0)
    assert ro.truncated.sum() == 10 and not ro.terminated.any()
    # after a truncation the next step starts a new episode from the start state
    idx = np.flatnonzero(ro.truncated)[:-1] + 1
    assert (ro.obs[idx] == env.unwrapped.start_state).all()
    with pytest.raises(ValueError, match="num_steps"):
        rollout(env, lambda o, r: 0, -1)


def test_tabular_validation():
    P = np.full((2, 1, 2), 0.5)
    with pytest.raises(ValueError, match="P must have shape"):
        policy_evaluation(P[0], P[0], np.ones((2, 1)), 0.9)
    with pytest.raises(ValueError, match="R must have"):
        policy_evaluation(P, np.zeros((2, 2, 2)), np.ones((2, 1)), 0.9)
    with pytest.raises(ValueError, match="row-stochastic"):
        policy_evaluation(P * 2, P, np.ones((2, 1)), 0.9)
    with pytest.raises(ValueError, match="gamma"):
        policy_evaluation(P, P, np.ones((2, 1)), 1.5)
    with pytest.raises(ValueError, match="policy"):
        policy_evaluation(P, P, np.ones((3, 1)), 0.9)
