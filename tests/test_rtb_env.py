"""creditlab/RealTimeBidding-v0: env checker, bad input, and agreement with evaluate()."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import creditlab  # noqa: F401  (registers the environments)
from creditlab import rtb
from creditlab.envs import RTBEnv


@pytest.fixture(scope="module")
def logs():
    return rtb.generate("toy", 30_000, 30_000, seed=7)


def test_env_checker(logs):
    check_env(RTBEnv(logs, episode_length=200, reward="pctr"))
    env = gym.make("creditlab/RealTimeBidding-v0", episode_length=100, n_train=5000,
                   n_test=5000)
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"t_left", "budget_left", "pctr"} and obs["t_left"] == 100
    flat = gym.wrappers.FlattenObservation(env)
    assert flat.reset(seed=0)[0].shape == (3,)


@pytest.mark.parametrize("c0", [1 / 32, 1 / 4])
def test_env_and_batched_evaluation_agree(logs, c0):
    tr, te = logs
    T = 300
    val = rtb.value_dp(T, rtb.episode_budget(tr.info["cpm"], 1 / 4, T),
                       rtb.market_price_pdf(tr), tr.info["ctr"])
    pol = rtb.RLB(val)
    batched = rtb.evaluate(pol, te, T, c0, cpm_train=tr.info["cpm"], n_episodes=6)
    env = RTBEnv(logs, episode_length=T, budget_ratio=c0)
    env.reset(seed=0)
    rows = []
    for k in range(6):
        obs, _ = env.reset(options={"episode_index": k})
        done, total = False, 0.0
        while not done:
            a = int(pol(obs["t_left"][None], obs["budget_left"][None], obs["pctr"][None])[0])
            obs, r, done, trunc, info = env.step(min(a, env.max_bid))
            total += r
        assert total == info["clicks"]  # reward "click"
        rows.append((info["clicks"], info["impressions"], info["spend"]))
        assert info["episode_index"] == k and 0 <= info["budget_spent_frac"] <= 1
    np.testing.assert_array_equal(
        np.array(rows), np.c_[batched.clicks, batched.impressions, batched.cost])


def test_reward_modes_and_options(logs):
    env = RTBEnv(logs, episode_length=50, reward="profit")
    obs, info = env.reset(seed=1, options={"budget": 1000, "episode_index": 3})
    assert obs["budget_left"] == 1000 and info["episode_index"] == 3
    _, r, _, _, info = env.step(300)
    assert info["won"] and r == pytest.approx(env.click_value * info["click"] - info["cost"])
    # sequential order continues from the chosen episode
    assert env.reset()[1]["episode_index"] == 4
    # a zero budget still wins zero-price auctions and never terminates early
    env.reset(options={"budget": 0})
    for _ in range(49):
        assert not env.step(300)[2]
    assert env.step(0)[2]


def test_env_bad_input(logs):
    with pytest.raises(ValueError, match="reward"):
        RTBEnv(logs, reward="ctr")
    with pytest.raises(ValueError, match="episode_length"):
        RTBEnv(logs, episode_length=0)
    with pytest.raises(ValueError, match="budget_ratio"):
        RTBEnv(logs, budget_ratio=-1.0)
    env = RTBEnv(logs, episode_length=10)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(301)
    with pytest.raises(ValueError, match="budget"):
        env.reset(options={"budget": -5})
    with pytest.raises(ValueError, match="unknown"):
        env.reset(options={"c0": 0.1})
