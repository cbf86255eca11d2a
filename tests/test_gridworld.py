"""Gridworld family: env checker, tabular model == sampled dynamics, bad configs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import creditlab  # noqa: F401  (registers the environments)
from creditlab.envs import GridWorldEnv
from creditlab.envs.gridworld import LAYOUTS

IDS = ["creditlab/GridWorld-v0", "creditlab/GridWorldKeyDoor-v0",
       "creditlab/GridWorldLava-v0", "creditlab/GridWorldCycle-v0"]


@pytest.mark.parametrize("env_id", IDS)
def test_registered_variants_pass_env_checker(env_id):
    env = gym.make(env_id, slip=0.1, step_reward=-0.01)
    check_env(env.unwrapped)
    base = env.unwrapped
    assert base.P.shape == base.R.shape == base.C.shape
    np.testing.assert_allclose(base.P.sum(-1), 1.0)
    assert base.terminal.any() and not base.terminal[base.start_state]
    assert np.isfinite(base.goal_distance[base.start_state])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("slip", [0.0, 0.3])
def test_model_matches_sampled_dynamics(layout, slip):
    env = GridWorldEnv(layout, size=5, slip=slip, step_reward=-0.05)
    env.reset(seed=1)
    S = env.P.shape[0]
    rng = np.random.default_rng(0)
    states = rng.choice(np.flatnonzero(~env.terminal), size=min(6, S), replace=False)
    n = 600
    for s in states:
        for a in range(4):
            counts = np.zeros(S)
            for _ in range(n):
                env._state = int(s)
                s2, r, term, trunc, info = env.step(a)
                counts[s2] += 1
                assert r == env.R[s, a, s2] and info["cost"] == env.C[s, a, s2]
                assert term == env.terminal[s2] and not trunc
            # 5 standard errors of a binomial frequency
            se = np.sqrt(env.P[s, a] * (1 - env.P[s, a]) / n) + 1e-3
            assert (np.abs(counts / n - env.P[s, a]) < 5 * se + 0.01).all(), (layout, s, a)


def test_key_door_needs_the_key():
    env = GridWorldEnv("key_door", size=6)
    r, c = np.argwhere(np.array([list(row) for row in env.layout]) == "D")[0]
    left = env.state_of(r, c - 1, has_key=False)
    assert env.P[left, 1, left] == 1.0  # the locked door blocks
    with_key = env.state_of(r, c - 1, has_key=True)
    assert env.P[with_key, 1, env.state_of(r, c, has_key=True)] == 1.0
    # the shortest path visits the key first: longer than the key-less straight line
    assert env.goal_distance[env.start_state] > 6


def test_lava_costs_and_goal_reward():
    env = GridWorldEnv("lava", size=6)
    assert env.C.max() == 1.0 and env.C[env.terminal].sum() == 0.0
    assert env.R.max() == env.goal_reward
    assert (env.R[env.terminal] == 0).all()  # absorbing, nothing collected


def test_custom_layout_and_render():
    env = GridWorldEnv(["S.#", "..G"], render_mode="ansi")
    env.reset(seed=0)
    assert env.render().splitlines()[0].startswith("@")
    assert env.goal_distance[env.start_state] == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layout": "maze"}, "layout"),
        ({"size": 3}, "size"),
        ({"slip": 1.0}, "slip"),
        ({"layout": ["S..", ".."]}, "equal"),
        ({"layout": ["S.X", "..G"]}, "unknown"),
        ({"layout": ["...", "..G"]}, "exactly one 'S'"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GridWorldEnv(**kwargs)


def test_bad_action_and_step_after_end():
    env = GridWorldEnv(["SG"])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(4)
    env.step(1)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)
