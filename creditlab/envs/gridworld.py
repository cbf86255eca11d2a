"""A family of small gridworlds with an exact tabular model.

Layouts are drawn with one character per cell::

    .  floor            #  wall              S  start
    G  goal (+goal_reward, terminates)       K  key (picked up on entry)
    D  door (passable only with the key)     L  lava (cost 1 on entry, does not terminate)
    C  checkpoint (pays nothing itself; naive "milestone" bonuses reward entering it)

Named variants (``layout=``), each registered as a gymnasium id:

``"sparse"`` (``creditlab/GridWorld-v0``)
    An open ``size x size`` room, start top-left, goal bottom-right. The only reward is
    the goal (plus the per-step ``step_reward``): the sparse-reward baseline.
``"key_door"`` (``creditlab/GridWorldKeyDoor-v0``)
    Two rooms split by a wall with a locked door. The agent must fetch the key, pass the
    door, then reach the goal: three milestones. The state is (cell, has_key).
``"lava"`` (``creditlab/GridWorldLava-v0``)
    The straight path from start to goal crosses a lava strip. Entering lava costs 1 in
    ``info["cost"]`` (and in the tabular cost model ``C``) and does not end the episode,
    so "reach the goal fast" and "avoid lava" trade off: a constrained problem.
``"cycle"`` (``creditlab/GridWorldCycle-v0``)
    A start room with a checkpoint cell ``C`` next to a wall block the agent can circle,
    and the goal far down a corridor. The true reward is the sparse goal; a naive bonus
    for entering the checkpoint (or for getting closer to the goal) is a reachable
    positive cycle that an agent can farm forever instead of finishing.
``"key_door_decoy"`` (``creditlab/GridWorldKeyDoorDecoy-v0``)
    ``"key_door"`` with a checkpoint ``C`` in the top-right corner of the first room:
    straight across the wall from the goal, far from the key and the door. It pays
    nothing itself; Chapter 10 uses it as a deliberately wrong ("fake") milestone.

Dynamics: actions 0 up, 1 right, 2 down, 3 left. With probability ``slip`` the action is
replaced by one drawn uniformly from all four. Moving into a wall, a locked door or off
the grid leaves the agent in place. Every step pays ``step_reward``; entering the goal
pays ``goal_reward`` instead and terminates. Terminal states are absorbing with zero
reward in the tabular model, so exact methods need no special casing.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces

from creditlab._backend import check_real
from creditlab.envs.tabular_mdp import TabularMDPEnv

__all__ = ["GridWorldEnv", "LAYOUTS", "make_layout"]

MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])  # up, right, down, left
LAYOUTS = ("sparse", "key_door", "lava", "cycle", "key_door_decoy")


def make_layout(name: str, size: int = 6) -> list[str]:
    """The character grid of a named variant (see the module docstring)."""
    if name not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS} or a list of strings, got {name!r}")
    if int(size) != size or size < 4:
        raise ValueError(f"size must be an integer >= 4, got {size}")
    n = int(size)
    grid = [["."] * n for _ in range(n)]
    if name == "sparse":
        grid[0][0], grid[n - 1][n - 1] = "S", "G"
    elif name in ("key_door", "key_door_decoy"):
        wall = n // 2
        for r in range(n):
            grid[r][wall] = "#"
        grid[n // 2][wall] = "D"
        grid[0][0], grid[n - 1][0], grid[0][n - 1] = "S", "K", "G"
        if name == "key_door_decoy":
            grid[0][wall - 1] = "C"  # beside the goal as the crow flies, behind the wall
    elif name == "lava":
        mid = n // 2
        grid[mid][0], grid[mid][n - 1] = "S", "G"
        for c in range(1, n - 1):
            grid[mid][c] = "L"
        grid[mid][1] = "."  # a step of floor before the strip
    elif name == "cycle":
        grid[0][0] = "S"
        grid[1][1] = grid[1][2] = "#"  # a block to circle around
        grid[2][1] = "C"
        grid[n - 1][n - 1] = "G"
        for r in range(3, n - 1):  # a wall that makes the goal a long way round
            grid[r][n - 2] = "#"
    return ["".join(row) for row in grid]


class GridWorldEnv(TabularMDPEnv):
    """Gridworld with keys, doors, lava and checkpoints, and its exact tabular model.

    Parameters
    ----------
    layout : str or list of str
        A named variant (``"sparse"``, ``"key_door"``, ``"lava"``, ``"cycle"``) or rows
        of characters (exactly one ``S``, at least one ``G``, at most one ``K``).
    size : int >= 4
        Side of the named layouts (ignored for a custom layout).
    slip : float in [0, 1)
        Probability that the action is replaced by a uniformly random one.
    step_reward : float
        Reward of every step that does not enter the goal (e.g. -0.01 for a step cost).
    goal_reward : float
    render_mode : None or "ansi"

    Attributes
    ----------
    P : ndarray [S, A, S]
        Transition probabilities ``P[s, a, s']``.
    R : ndarray [S, A, S]
        Reward ``R[s, a, s']``.
    C : ndarray [S, A, S]
        Cost ``C[s, a, s']`` (1 for entering lava, else 0).
    terminal : ndarray [S] of bool
    start_state : int
    cells : ndarray [S, 2] of int
        (row, col) of each state; with a key, states ``S/2..`` are the same cells holding it.
    has_key : ndarray [S] of bool
    goal_distance : ndarray [S] of float
        Shortest number of moves to a goal ignoring slip (inf if unreachable): a natural
        potential for shaping.
    checkpoints : ndarray [S] of bool
        States on a checkpoint cell ``C``.
    """

    metadata = {"render_modes": ["ansi"]}
    ACTIONS = "an integer in 0..3"

    def __init__(
        self,
        layout: str | list[str] = "sparse",
        size: int = 6,
        slip: float = 0.0,
        step_reward: float = 0.0,
        goal_reward: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        if not isinstance(layout, (str, list, tuple)):
            raise TypeError(f"layout must be a preset name or a list of row strings, got "
                            f"{type(layout).__name__}")
        rows = make_layout(layout, size) if isinstance(layout, str) else list(layout)
        if not rows or any(not isinstance(r, str) or len(r) != len(rows[0]) for r in rows):
            raise ValueError("layout rows must be strings of equal, non-zero length")
        chars = np.array([list(r) for r in rows])
        bad = set(np.unique(chars)) - set(".#SGKDLC")
        if bad:
            raise ValueError(f"layout has unknown characters {sorted(bad)}; use .#SGKDLC")
        if (chars == "S").sum() != 1 or (chars == "G").sum() < 1 or (chars == "K").sum() > 1:
            raise ValueError("layout needs exactly one 'S', at least one 'G', at most one 'K'")
        if not 0.0 <= check_real(slip, "slip") < 1.0:
            raise ValueError(f"slip must be in [0, 1), got {slip}")
        check_real(step_reward, "step_reward")
        check_real(goal_reward, "goal_reward")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.layout = rows
        self.slip = float(slip)
        self.step_reward = float(step_reward)
        self.goal_reward = float(goal_reward)
        self.render_mode = render_mode
        self._chars = chars
        open_cells = [tuple(rc) for rc in np.argwhere(chars != "#")]
        keyed = (chars == "K").any()
        n_keys = 2 if keyed else 1
        self.cells = np.array([rc for _ in range(n_keys) for rc in open_cells], dtype=np.int64)
        self.has_key = np.repeat(np.arange(n_keys) == 1, len(open_cells))
        self._index = {(tuple(rc), bool(k)): i for i, (rc, k) in
                       enumerate(zip(map(tuple, self.cells), self.has_key))}
        S, A = len(self.cells), 4
        at = chars[self.cells[:, 0], self.cells[:, 1]]
        self.terminal = at == "G"
        self.checkpoints = at == "C"
        self.start_state = self._index[(tuple(np.argwhere(chars == "S")[0]), False)]
        self.observation_space = spaces.Discrete(S)
        self.action_space = spaces.Discrete(A)
        # deterministic move table, then mix in the slip
        nxt = np.empty((S, A), dtype=np.int64)
        for s in range(S):
            for a in range(A):
                nxt[s, a] = self._move(s, a)
        self.P = np.zeros((S, A, S))
        for s in range(S):
            if self.terminal[s]:
                self.P[s, :, s] = 1.0
                continue
            for a in range(A):
                self.P[s, a, nxt[s, a]] += 1.0 - self.slip
                for b in range(A):
                    self.P[s, a, nxt[s, b]] += self.slip / A
        enters_goal = ~self.terminal[:, None] & self.terminal[None, :]
        self.R = np.where(enters_goal, self.goal_reward, self.step_reward)[:, None, :]
        self.R = np.broadcast_to(self.R, (S, A, S)).copy()
        self.R[self.terminal] = 0.0
        lava = at == "L"
        self.C = np.broadcast_to((~self.terminal[:, None] & lava[None, :])[:, None, :],
                                 (S, A, S)).astype(np.float64)
        self.goal_distance = self._distances(nxt)
        self._state = self.start_state

    # ----------------------------------------------------------------------------------
    def _move(self, s: int, a: int) -> int:
        (r, c), key = self.cells[s], bool(self.has_key[s])
        r2, c2 = r + MOVES[a, 0], c + MOVES[a, 1]
        H, W = self._chars.shape
        if not (0 <= r2 < H and 0 <= c2 < W):
            return s
        ch = self._chars[r2, c2]
        if ch == "#" or (ch == "D" and not key):
            return s
        return self._index[((int(r2), int(c2)), key or ch == "K")]

    def _distances(self, nxt: np.ndarray) -> np.ndarray:
        """Breadth-first search backwards from the goal states over deterministic moves."""
        S = len(nxt)
        dist = np.full(S, np.inf)
        preds: list[list[int]] = [[] for _ in range(S)]
        for s in range(S):
            for s2 in set(nxt[s].tolist()):
                preds[s2].append(s)
        queue = deque(np.flatnonzero(self.terminal).tolist())
        dist[self.terminal] = 0.0
        while queue:
            s2 = queue.popleft()
            for s in preds[s2]:
                if dist[s] == np.inf:
                    dist[s] = dist[s2] + 1.0
                    queue.append(s)
        return dist

    def state_of(self, row: int, col: int, has_key: bool = False) -> int:
        """The state index of a cell (and key possession)."""
        key = ((int(row), int(col)), bool(has_key))
        if key not in self._index:
            raise ValueError(f"({row}, {col}, has_key={has_key}) is not an open cell")
        return self._index[key]

    # ----------------------------------------------------------------------------------
    def _info(self, s: int, a: int, s_next: int) -> dict[str, Any]:
        return {"cost": float(self.C[s, a, s_next])}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        grid = self._chars.copy()
        r, c = self.cells[self._state]
        grid[r, c] = "@"
        return "\n".join("".join(row) for row in grid)
