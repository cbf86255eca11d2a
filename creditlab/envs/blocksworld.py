"""Blocksworld with an exact transition model and an imperfect "world model".

``n_blocks`` blocks (3-5) sit on a table or on each other. A state is the tuple ``on``
with ``on[i] = -1`` (block i on the table) or ``j`` (block i on block j). Action
``a = x * (n + 1) + y`` moves block x onto block y (``y == n``: onto the table); it is
valid when x is clear, y is clear (or the table) and ``y != x``, and the move changes
something. An invalid action leaves the state unchanged and pays 0. Reaching the goal
pays 1 and terminates the episode. Registered as ``creditlab/Blocksworld-v0`` with a
50-step time limit.

For planning (RAP-style): :meth:`BlocksworldEnv.transition` is the exact model,
:meth:`BlocksworldEnv.world_model` a model that predicts a wrong next state with
probability ``error``, :meth:`BlocksworldEnv.goal_overlap` the fraction of goal facts that
hold (a heuristic reward term).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

State = tuple[int, ...]


def _clear(on: State, i: int) -> bool:
    return i not in on


def random_state(n: int, rng: np.random.Generator) -> State:
    """A uniformly shuffled set of stacks (random order, random stack breaks)."""
    order = rng.permutation(n)
    on = [-1] * n
    below = -1
    for b in order:
        on[b] = below if (below >= 0 and rng.random() < 0.6) else -1
        below = int(b)
    return tuple(on)


class BlocksworldEnv(gym.Env):
    """Blocksworld; see the module docstring.

    Parameters
    ----------
    n_blocks : int in [3, 5]
    start, goal : optional fixed states (tuples); random (and different) on reset otherwise.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, n_blocks: int = 4, start: State | None = None,
                 goal: State | None = None, render_mode: str | None = None) -> None:
        if int(n_blocks) != n_blocks or not 3 <= n_blocks <= 5:
            raise ValueError(f"n_blocks must be an integer in [3, 5], got {n_blocks}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.n = int(n_blocks)
        for name, s in (("start", start), ("goal", goal)):
            if s is not None:
                self.check_state(s, name)
        self._fixed_start, self._fixed_goal = start, goal
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.n * (self.n + 1))
        self.observation_space = spaces.MultiDiscrete([self.n + 1] * self.n)
        self.state: State = tuple([-1] * self.n)
        self.goal: State = tuple([-1] * self.n)

    # -- model ---------------------------------------------------------------------
    def check_state(self, s: Any, name: str = "state") -> State:
        s = tuple(int(v) for v in s)
        if len(s) != self.n or any(not -1 <= v < self.n or v == i for i, v in enumerate(s)):
            raise ValueError(f"{name} must be {self.n} entries in [-1, {self.n}) with "
                             f"on[i] != i, got {s}")
        if len(set(v for v in s if v >= 0)) != sum(v >= 0 for v in s):
            raise ValueError(f"{name}: two blocks on the same block: {s}")
        for i in range(self.n):  # no cycles
            seen, j = set(), i
            while j >= 0:
                if j in seen:
                    raise ValueError(f"{name} has a cycle of blocks: {s}")
                seen.add(j)
                j = s[j]
        return s

    def decode(self, action: int) -> tuple[int, int]:
        a = int(action)
        if not 0 <= a < self.n * (self.n + 1):
            raise ValueError(f"action must be in [0, {self.n * (self.n + 1)}), got {action}")
        return a // (self.n + 1), a % (self.n + 1)

    def is_valid(self, s: State, action: int) -> bool:
        x, y = self.decode(action)
        if not _clear(s, x) or y == x:
            return False
        if y == self.n:
            return s[x] != -1
        return _clear(s, y) and s[x] != y

    def valid_actions(self, s: State) -> list[int]:
        return [a for a in range(self.n * (self.n + 1)) if self.is_valid(s, a)]

    def transition(self, s: State, action: int) -> State:
        """Exact model: the next state (``s`` itself for an invalid action)."""
        if not self.is_valid(s, action):
            return s
        x, y = self.decode(action)
        on = list(s)
        on[x] = -1 if y == self.n else y
        return tuple(on)

    def goal_overlap(self, s: State, goal: State | None = None) -> float:
        """Fraction of goal facts ``on[i] == goal[i]`` that hold in ``s``."""
        g = self.goal if goal is None else goal
        return float(np.mean([a == b for a, b in zip(s, g)]))

    def world_model(self, error: float, seed: int | None = None) -> Callable[[State, int], State]:
        """A learned-model stand-in: the exact transition, except that with probability
        ``error`` it predicts the result of a different valid move from the same state."""
        if not 0.0 <= error <= 1.0:
            raise ValueError(f"error must be in [0, 1], got {error}")
        rng = np.random.default_rng(seed)

        def predict(s: State, action: int) -> State:
            nxt = self.transition(s, action)
            if error > 0 and rng.random() < error:
                others = [a for a in self.valid_actions(s) if a != action]
                if others:
                    nxt = self.transition(s, int(rng.choice(others)))
            return nxt

        return predict

    # -- gymnasium ------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.goal = self._fixed_goal or random_state(self.n, self.np_random)
        self.state = self._fixed_start or random_state(self.n, self.np_random)
        while self._fixed_start is None and self.state == self.goal:
            self.state = random_state(self.n, self.np_random)
        return self._obs(), {"goal": self.goal}

    def _obs(self) -> np.ndarray:
        return np.array(self.state, dtype=np.int64) + 1

    def step(self, action: int):
        valid = self.is_valid(self.state, int(action))
        self.state = self.transition(self.state, int(action))
        done = self.state == self.goal
        return self._obs(), float(done), bool(done), False, {"valid": valid, "goal": self.goal}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        stacks = []
        for b in range(self.n):
            if self.state[b] == -1:
                st, top = [b], b
                while top in self.state:
                    top = self.state.index(top)
                    st.append(top)
                stacks.append("".join("ABCDE"[i] for i in st))
        return " | ".join(stacks)


class BlocksworldTables(NamedTuple):
    """Every state of an n-block world, indexed, with its exact transition table.

    Attributes
    ----------
    n : int
    states : list of State
        all valid states (``len(states)`` = 13, 73, 501 for n = 3, 4, 5).
    index : dict State -> int
    next_state : int64 [S, A]
        ``next_state[s, a]``: index of the exact successor (``s`` itself for an invalid move).
    valid : bool [S, A]
    """

    n: int
    states: list
    index: dict
    next_state: np.ndarray
    valid: np.ndarray

    @property
    def num_states(self) -> int:
        return len(self.states)

    @property
    def num_actions(self) -> int:
        return self.n * (self.n + 1)

    def distance_to(self, goal: int) -> np.ndarray:
        """int64 [S]: fewest moves from each state to state ``goal`` (breadth first on the
        reversed transition graph; every state can reach every other)."""
        S = self.num_states
        if not 0 <= int(goal) < S:
            raise ValueError(f"goal must be a state index in [0, {S}), got {goal}")
        dist = np.full(S, -1, np.int64)
        dist[goal] = 0
        frontier = [int(goal)]
        preds: list[list[int]] = [[] for _ in range(S)]
        for s in range(S):
            for s2 in self.next_state[s][self.valid[s]]:
                preds[int(s2)].append(s)
        d = 0
        while frontier:
            d += 1
            nxt = []
            for s2 in frontier:
                for s in preds[s2]:
                    if dist[s] < 0:
                        dist[s] = d
                        nxt.append(s)
            frontier = nxt
        return dist

    def goal_overlap(self, goal: int) -> np.ndarray:
        """float64 [S]: fraction of the goal's facts ``on[i] == goal[i]`` holding in each state."""
        g = np.array(self.states[int(goal)])
        return (np.array(self.states) == g).mean(axis=1)


def blocksworld_tables(n_blocks: int) -> BlocksworldTables:
    """Enumerate the states of an ``n_blocks`` world (3-5) and tabulate the exact model."""
    env = BlocksworldEnv(n_blocks)
    n = env.n
    states = []
    for on in itertools.product(range(-1, n), repeat=n):
        try:
            states.append(env.check_state(on))
        except ValueError:
            continue
    index = {s: i for i, s in enumerate(states)}
    A = n * (n + 1)
    nxt = np.empty((len(states), A), np.int64)
    valid = np.zeros((len(states), A), bool)
    for i, s in enumerate(states):
        for a in range(A):
            valid[i, a] = env.is_valid(s, a)
            nxt[i, a] = index[env.transition(s, a)]
    return BlocksworldTables(n, states, index, nxt, valid)
