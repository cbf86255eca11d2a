"""GridSoccer: an agent pushes a ball into a goal on a small grid (book Chapter 10).

A ``width x height`` pitch; the goal mouth is the right-most column's middle
``goal_width`` cells. The state is (agent cell, ball cell). Actions 0 up, 1 right, 2 down,
3 left (with probability ``slip`` replaced by a uniform one, as in
:class:`~creditlab.envs.GridWorldEnv`). Moving into the ball's cell pushes the ball one
cell the same way; a push into the edge of the pitch moves neither. The episode
terminates when the ball enters the goal mouth, paying ``goal_reward``; that is the
task's only reward (the environment's ``R``).

It is the 2-D "soccer" point mass of Lucy-SKG's reward study (Rocket League) shrunk to a
grid, so the exact solvers of :mod:`creditlab.tabular` give each combined reward's
optimal policy. Two reward components, in Lucy-SKG's spirit, are exposed as tables:

``ball_closeness[s]``
    :func:`creditlab.shaping.distance_shape` of the agent-ball (Euclidean) distance in
    state ``s``: Lucy-SKG's player-to-ball utility (its exponent is ``1 / density``;
    the same at the default ``density = 1``), in (0, 1].
``ball_to_goal[s, s']``
    cosine between the ball's move from ``s`` to ``s'`` and the direction from the ball
    to the goal mouth's centre; 0 when the ball does not move (rlgym's velocity-ball-to-
    goal idea, with the move in place of a velocity), in [-1, 1]. This is *not* Lucy-SKG's
    alignment component (rlgym's ``AlignBallGoal``, a positional cosine between
    player->ball and ball->goal, which pays for standing behind the ball without pushing
    it); Chapter 10 shows what KRC does with that one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from creditlab._backend import check_int, check_real
from creditlab.envs.tabular_mdp import TabularMDPEnv

__all__ = ["GridSoccerEnv"]

MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])  # up, right, down, left (row, col)


class GridSoccerEnv(TabularMDPEnv):
    """Push a ball into the goal; exact tabular model and reward components.

    Parameters
    ----------
    width, height : int
        Pitch size (``width >= 3``, ``height >= 3``).
    goal_width : int
        Cells of the goal mouth (odd, <= height), centred on the right-most column.
    slip : float in [0, 1)
    goal_reward : float
    dispersion, density : float > 0
        Of :func:`creditlab.shaping.distance_shape` for ``ball_closeness`` (distance in
        cells).
    kickoff : ((row, col), (row, col))
        Start cells of the agent and the ball.

    Attributes
    ----------
    P, R : ndarray [S, A, S]
    terminal : ndarray [S] bool (ball in the goal mouth)
    start_state : int
    agent, ball : ndarray [S, 2] int
        (row, col) of the agent and the ball in each state.
    ball_closeness : ndarray [S]
    ball_to_goal : ndarray [S, S]
    """

    ACTIONS = "an integer in 0..3"

    def __init__(self, width: int = 6, height: int = 5, goal_width: int = 3,
                 slip: float = 0.1, goal_reward: float = 1.0, dispersion: float = 1.0,
                 density: float = 1.0, kickoff: Any = ((2, 1), (2, 2))) -> None:
        from creditlab.shaping import distance_shape

        W, H = check_int(width, "width", 3), check_int(height, "height", 3)
        gw = check_int(goal_width, "goal_width", 1)
        if gw > H or gw % 2 == 0:
            raise ValueError(f"goal_width must be odd and <= height={H}, got {gw}")
        if not 0.0 <= check_real(slip, "slip") < 1.0:
            raise ValueError(f"slip must be in [0, 1), got {slip}")
        self.slip, self.goal_reward = float(slip), check_real(goal_reward, "goal_reward")
        self.width, self.height = W, H
        mouth = {(r, W - 1) for r in range((H - gw) // 2, (H + gw) // 2)}
        self.goal_centre = np.array([(H - 1) / 2.0, W - 1.0])
        cells = [(r, c) for r in range(H) for c in range(W)]
        pairs = [(a, b) for a in cells for b in cells if a != b]
        index = {p: i for i, p in enumerate(pairs)}
        S = len(pairs)
        self.agent = np.array([p[0] for p in pairs])
        self.ball = np.array([p[1] for p in pairs])
        self.terminal = np.array([p[1] in mouth for p in pairs])
        try:
            ko = (tuple(int(x) for x in kickoff[0]), tuple(int(x) for x in kickoff[1]))
            self.start_state = index[ko]
        except (KeyError, TypeError, IndexError, ValueError):
            raise ValueError(f"kickoff must be two distinct cells ((row, col), (row, col)) "
                             f"on the pitch, got {kickoff!r}") from None
        if self.terminal[self.start_state]:
            raise ValueError("kickoff must not put the ball in the goal")

        def inside(rc: tuple) -> bool:
            return 0 <= rc[0] < H and 0 <= rc[1] < W

        nxt = np.empty((S, 4), np.int64)
        for i, (ag, bl) in enumerate(pairs):
            for a, (dr, dc) in enumerate(MOVES):
                ag2 = (ag[0] + dr, ag[1] + dc)
                if not inside(ag2):
                    nxt[i, a] = i
                elif ag2 == bl:
                    bl2 = (bl[0] + dr, bl[1] + dc)
                    nxt[i, a] = index[(ag2, bl2)] if inside(bl2) else i
                else:
                    nxt[i, a] = index[(ag2, bl)]
        self.P = np.zeros((S, 4, S))
        for i in range(S):
            if self.terminal[i]:
                self.P[i, :, i] = 1.0
                continue
            for a in range(4):
                self.P[i, a, nxt[i, a]] += 1.0 - self.slip
                for b in range(4):
                    self.P[i, a, nxt[i, b]] += self.slip / 4
        enters = ~self.terminal[:, None] & self.terminal[None, :]
        self.R = np.broadcast_to((self.goal_reward * enters)[:, None, :], (S, 4, S)).copy()
        d = np.linalg.norm(self.agent - self.ball, axis=1)
        self.ball_closeness = distance_shape(d, dispersion, density)
        move = (self.ball[None, :, :] - self.ball[:, None, :]).astype(np.float64)  # [S, S, 2]
        to_goal = self.goal_centre[None, :] - self.ball  # [S, 2]
        norm = np.linalg.norm(move, axis=-1) * np.linalg.norm(to_goal, axis=-1)[:, None]
        cos = (move * to_goal[:, None, :]).sum(-1) / np.where(norm > 0, norm, 1.0)
        self.ball_to_goal = np.where(norm > 0, cos, 0.0)
        self.observation_space = spaces.Discrete(S)
        self.action_space = spaces.Discrete(4)
        self._state = self.start_state

    def components(self) -> np.ndarray:
        """The two components of every transition, float64 ``[S, 1, S, 2]``:
        ``[..., 0]`` ball-to-goal alignment, ``[..., 1]`` closeness of the agent to the
        ball after the step (broadcasts against ``P``)."""
        S = len(self.terminal)
        c = np.empty((S, 1, S, 2))
        c[:, 0, :, 0] = self.ball_to_goal
        c[:, 0, :, 1] = self.ball_closeness[None, :]
        c[self.terminal] = 0.0  # nothing is collected after the goal
        return c
