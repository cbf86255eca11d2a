"""A deterministic chain with lures: greedy step scoring walks into a trap.

The main chain has states ``("main", t)``, t = 0..length. In each main state one action
(its index drawn per state from ``seed``) is *honest*: it pays 0 and moves to t + 1; the
last honest step pays ``goal_reward`` and terminates. The other ``width`` actions are
*lures*: they pay ``lure_reward`` and enter a trap ``("trap", t, k)``. Every action in the
trap pays ``lure_reward`` again, until the ``depth``-th step after the decision, which pays
``trap_penalty`` and terminates. So the trap's cost shows up exactly ``depth`` steps after
the choice: a k-step lookahead sees it iff ``k >= depth``, and greedy step scoring (k = 1)
falls in whenever ``depth >= 2``. Registered as ``creditlab/DeceptiveChain-v0``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from creditlab._backend import check_real, make_rng

State = tuple


class DeceptiveChainEnv(gym.Env):
    """See the module docstring.

    Parameters
    ----------
    depth : int >= 1   steps from the decision to the trap's penalty
    width : int >= 1   lure actions per main state (actions = width + 1)
    length : int >= 1  honest steps to the goal
    lure_reward, trap_penalty, goal_reward : float
    seed : int         which action is honest in each main state
    """

    metadata = {"render_modes": []}

    def __init__(self, depth: int = 3, width: int = 2, length: int = 6,
                 lure_reward: float = 0.1, trap_penalty: float = -1.0,
                 goal_reward: float = 1.0, seed: int = 0) -> None:
        for name, v in (("depth", depth), ("width", width), ("length", length)):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v}")
        self.depth, self.width, self.length = int(depth), int(width), int(length)
        self.lure_reward = check_real(lure_reward, "lure_reward")
        self.trap_penalty = check_real(trap_penalty, "trap_penalty")
        self.goal_reward = check_real(goal_reward, "goal_reward")
        self.honest = make_rng(seed).integers(0, self.width + 1, size=self.length)
        self.action_space = spaces.Discrete(self.width + 1)
        # observation: (in_trap, t, k)
        self.observation_space = spaces.MultiDiscrete([2, self.length + 1, self.depth + 1])
        self.state: State = ("main", 0)

    def outcome(self, s: State, action: int) -> tuple[State, float, bool]:
        """Exact model: ``(next_state, reward, terminated)``."""
        a = int(action)
        if not 0 <= a <= self.width:
            raise ValueError(f"action must be in [0, {self.width}], got {action}")
        if s[0] == "main":
            t = s[1]
            if a == self.honest[t]:
                done = t + 1 >= self.length
                return ("main", t + 1), (self.goal_reward if done else 0.0), done
            k = 1
        else:
            t, k = s[1], s[2] + 1
        if k >= self.depth:
            return ("trap", t, k), self.trap_penalty, True
        return ("trap", t, k), self.lure_reward, False

    def model(self, s: State) -> list[tuple[int, State, float, bool]]:
        """All ``(action, next_state, reward, done)`` from ``s`` (for lookahead planning)."""
        return [(a, *self.outcome(s, a)) for a in range(self.width + 1)]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = ("main", 0)
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        s = self.state
        return np.array([0, s[1], 0] if s[0] == "main" else [1, s[1], s[2]], dtype=np.int64)

    def step(self, action: Any):
        self.state, r, done = self.outcome(self.state, int(action))
        return self._obs(), r, done, False, {"state": self.state}
