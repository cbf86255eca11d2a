"""The gymnasium side of an environment given by its exact tabular model.

Subclasses set ``P [S, A, S]`` (transition probabilities), ``R [S, A, S]`` (rewards),
``terminal [S]``, ``start_state`` and the spaces, and say in ``ACTIONS`` which actions
exist (for the error message); :meth:`step` samples from ``P`` with the env's seeded
generator, so rollouts agree with the model the tabular solvers read.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["TabularMDPEnv"]


class TabularMDPEnv(gym.Env):
    """Base class: ``reset`` to ``start_state``, ``step`` by sampling ``P[s, a]``."""

    ACTIONS = "a valid action"
    P: np.ndarray
    R: np.ndarray
    terminal: np.ndarray
    start_state: int
    _state: int

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self._state = self.start_state
        return self._state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be {self.ACTIONS}, got {action!r}")
        if self.terminal[self._state]:
            raise RuntimeError("step() called after the episode terminated; call reset()")
        s = self._state
        s_next = int(self.np_random.choice(self.P.shape[0], p=self.P[s, action]))
        self._state = s_next
        info = self._info(s, int(action), s_next)
        return s_next, float(self.R[s, action, s_next]), bool(self.terminal[s_next]), False, info

    def _info(self, s: int, a: int, s_next: int) -> dict[str, Any]:
        """The ``info`` dict of a transition (subclasses add e.g. a cost)."""
        return {}
