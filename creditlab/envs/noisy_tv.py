"""A gridworld with a noisy TV: the "noisy-TV problem" of curiosity-driven exploration.

:class:`NoisyTVGridEnv` is a :class:`~creditlab.envs.GridWorldEnv` (any of its layouts,
``"key_door"`` by default: two rooms, a key and a locked door) with one cell that holds a
television. Every step the TV tunes to a channel drawn uniformly from ``channels``; the
agent sees the screen only while it stands on the TV cell. The observation is the pair
(state, screen) flattened to one index::

    obs = state * channels + screen        screen = channel if state is the TV cell, else 0

so the outcome of a step is predictable from (state, action) everywhere except at the TV,
where the screen is pure noise: an agent rewarded for what it cannot predict is paid there
forever (Burda et al. 2019; Chapter 16). ``channels=1`` is the deterministic control: the
TV is off (a blank screen), and the grid is the plain gridworld.

``info["noise"]`` is the realised noise index of the step (the screen's channel while the
TV is watched, 0 otherwise): the exact hindsight variable of Chapter 16, which carries the
unpredictable part of the outcome and nothing predictable. ``info["cell_state"]`` is the
gridworld state (what a tabular agent's policy reads).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from creditlab._backend import check_int
from creditlab.envs.gridworld import GridWorldEnv

__all__ = ["NoisyTVGridEnv"]


class NoisyTVGridEnv(GridWorldEnv):
    """A gridworld whose TV cell shows a uniformly random channel each step.

    Parameters
    ----------
    layout : str or list of str
        A :class:`GridWorldEnv` layout (default ``"key_door"``).
    size : int >= 4
        Side of a named layout.
    tv : tuple (row, col) or None
        The TV cell; must be an open, non-goal cell. ``None``: ``(rows - 1, 1)``, the
        bottom-left corner of the first room, beside the key of the ``"key_door"`` layout.
    channels : int >= 1
        Number of TV channels ``K``; 1 turns the TV off (the deterministic control).
    slip, step_reward, goal_reward, render_mode
        As in :class:`GridWorldEnv` (Chapter 16 uses ``slip=0``).

    Attributes
    ----------
    tv_state : int
        The gridworld state index of the TV cell (without the key; with a key layout the
        same cell holding the key is ``tv_states[1]``).
    tv_states : ndarray [n] of int
        Every state on the TV cell (with and without the key).
    n_obs : int
        ``S * channels`` observations.
    next_state : ndarray [S, A] of int
        The deterministic move table (valid when ``slip == 0``).
    """

    def __init__(self, layout: str | list[str] = "key_door", size: int = 8,
                 tv: tuple[int, int] | None = None, channels: int = 4, slip: float = 0.0,
                 step_reward: float = 0.0, goal_reward: float = 1.0,
                 render_mode: str | None = None) -> None:
        super().__init__(layout=layout, size=size, slip=slip, step_reward=step_reward,
                         goal_reward=goal_reward, render_mode=render_mode)
        self.channels = check_int(channels, "channels", lo=1)
        H, W = self._chars.shape
        if tv is None:
            tv = (H - 1, 1)
        if (not isinstance(tv, (tuple, list)) or len(tv) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                           for v in tv)):
            raise TypeError(f"tv must be a (row, col) pair of ints or None, got {tv!r}")
        r, c = int(tv[0]), int(tv[1])
        if not (0 <= r < H and 0 <= c < W) or self._chars[r, c] in "#G":
            raise ValueError(f"tv must be an open, non-goal cell of the layout, got {tv}")
        self.tv_cell = (r, c)
        self.tv_states = np.flatnonzero((self.cells[:, 0] == r) & (self.cells[:, 1] == c))
        self.tv_state = int(self.tv_states[0])
        self._on_tv = np.zeros(len(self.cells), dtype=bool)
        self._on_tv[self.tv_states] = True
        S = len(self.cells)
        self.n_obs = S * self.channels
        self.next_state = self.P.argmax(axis=2)
        self.observation_space = spaces.Discrete(self.n_obs)
        self._screen = 0

    def observe(self, state: int, screen: int) -> int:
        """The observation index of (state, screen)."""
        return int(state) * self.channels + int(screen)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        s, _ = super().reset(seed=seed, options=options)
        self._screen = 0
        return self.observe(s, 0), {"cell_state": s, "noise": 0}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        s_next, r, term, trunc, info = super().step(action)
        channel = int(self.np_random.integers(self.channels))  # the TV always plays
        self._screen = channel if self._on_tv[s_next] else 0
        info = {**info, "cell_state": int(s_next), "noise": self._screen}
        return self.observe(s_next, self._screen), r, term, trunc, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        grid = self._chars.copy()
        grid[self.tv_cell] = "T"
        r, c = self.cells[self._state]
        grid[r, c] = "@"
        return "\n".join("".join(row) for row in grid)
