"""Blocksworld-v0 and DeceptiveChain-v0: gymnasium API, exact models, and the planning
claims the chapter relies on (greedy falls into the trap; lookahead k >= depth does not)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import creditlab  # noqa: F401  (registers the environments)
from creditlab.envs import BlocksworldEnv, DeceptiveChainEnv
from creditlab.planning import greedy_step, receding_horizon


@pytest.mark.parametrize("env_id", ["creditlab/Blocksworld-v0", "creditlab/DeceptiveChain-v0"])
def test_gymnasium_api(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_blocksworld_model():
    env = BlocksworldEnv(3, start=(-1, -1, -1), goal=(1, 2, -1))  # A on B on C
    env.reset(seed=0)
    s = env.state
    a_bc = 1 * 4 + 2  # B onto C
    assert env.is_valid(s, a_bc)
    s2 = env.transition(s, a_bc)
    assert s2 == (-1, 2, -1)
    assert not env.is_valid(s2, 2 * 4 + 0)  # C is not clear
    assert env.transition(s2, 2 * 4 + 0) == s2
    assert env.goal_overlap(s2) == pytest.approx(2 / 3)
    _, r, term, _, _ = env.step(a_bc)
    assert r == 0 and not term
    _, r, term, _, _ = env.step(0 * 4 + 1)  # A onto B
    assert r == 1.0 and term
    with pytest.raises(ValueError, match="n_blocks"):
        BlocksworldEnv(6)
    with pytest.raises(ValueError, match="cycle"):
        BlocksworldEnv(3, start=(1, 0, -1))


def test_world_model_error_rate():
    env = BlocksworldEnv(4, start=(-1, -1, -1, -1))  # all on the table: 12 valid moves
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for err in (0.0, 0.3):
        wm = env.world_model(err, seed=2)
        wrong = 0
        for _ in range(400):
            s = tuple(env.state)
            a = int(rng.choice(env.valid_actions(s)))
            wrong += wm(s, a) != env.transition(s, a)
        assert (wrong == 0) if err == 0 else (0.2 < wrong / 400 < 0.4)
    with pytest.raises(ValueError, match="error"):
        env.world_model(1.5)


def _run(env, depth, commit):
    return receding_horizon(env.model, env.outcome, ("main", 0), depth=depth, commit=commit,
                            max_steps=50)


@pytest.mark.parametrize("trap_depth", [2, 3, 4])
def test_greedy_falls_in_and_lookahead_k_ge_depth_succeeds(trap_depth):
    env = DeceptiveChainEnv(depth=trap_depth, width=2, length=6, seed=3)
    s = ("main", 0)
    assert greedy_step(env.model, s) != env.honest[0]
    for k in range(1, 6):
        tr = _run(env, k, 1)
        reached_goal = tr.done and tr.states[-1] == ("main", env.length)
        assert reached_goal == (k >= trap_depth), (k, trap_depth)


def test_full_commitment_walks_into_the_trap():
    env = DeceptiveChainEnv(depth=3, width=2, length=6, seed=3)
    assert _run(env, 3, 1).total_reward == 1.0
    assert _run(env, 3, 3).total_reward < 0  # open-loop plans end myopically
