"""Collect rollouts from a gymnasium environment into time-major arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from creditlab._backend import check_seed


@dataclass
class Rollout:
    """``num_steps`` consecutive transitions, episodes back to back (auto-reset).

    All arrays are [T] (time-major for one environment). ``next_obs[t]`` is the
    observation after step t: the final observation of the episode when step t ended
    it, so V(next_obs) is the value to bootstrap from at a truncation.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray

    @property
    def dones(self) -> np.ndarray:
        return self.terminated | self.truncated


def rollout(
    env: gym.Env,
    policy: Callable[[Any, np.random.Generator], int],
    num_steps: int,
    *,
    seed: int | None = None,
) -> Rollout:
    """Run ``policy(obs, rng) -> action`` for ``num_steps`` steps, resetting at episode ends.

    Parameters
    ----------
    env : gymnasium.Env
    policy : callable
        Gets the observation and a ``numpy.random.Generator``; returns an action.
    num_steps : int >= 0
    seed : int, optional
        Seeds the environment's first reset and, independently, the policy's generator.
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or \
            num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative integer, got {num_steps!r}")
    seed = check_seed(seed)
    # The policy's generator is a child of the seed, not the seed itself: gymnasium seeds
    # env.np_random with the same PCG64 stream as default_rng(seed), and sharing it would
    # correlate the policy's choices with the environment's transitions.
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    obs, _ = env.reset(seed=seed)
    cols: dict[str, list[Any]] = {k: [] for k in Rollout.__dataclass_fields__}
    for _ in range(int(num_steps)):
        action = policy(obs, rng)
        nxt, reward, term, trunc, _ = env.step(action)
        for k, v in (
            ("obs", obs), ("actions", action), ("rewards", reward),
            ("terminated", term), ("truncated", trunc), ("next_obs", nxt),
        ):
            cols[k].append(v)
        obs = env.reset()[0] if (term or trunc) else nxt
    return Rollout(
        obs=np.asarray(cols["obs"]),
        actions=np.asarray(cols["actions"]),
        rewards=np.asarray(cols["rewards"], dtype=np.float64),
        terminated=np.asarray(cols["terminated"], dtype=bool),
        truncated=np.asarray(cols["truncated"], dtype=bool),
        next_obs=np.asarray(cols["next_obs"]),
    )
