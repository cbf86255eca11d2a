"""A one-dimensional chain ("random walk") with exits at both ends.

States ``0 .. n_states-1``; the episode starts in the middle. Action 0 moves left,
action 1 moves right; with probability ``slip`` the move goes the other way. Entering
state 0 pays ``left_reward`` and entering the last state pays ``right_reward``; both
end the episode (terminated). Every other step pays ``step_reward``. Registered as
``creditlab/Chain-v0`` with a 100-step time limit (truncated).

It is the classic testbed for n-step and lambda-returns (Sutton & Barto, ch. 7 and 12),
small enough that every value is known exactly from the tabular model.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from creditlab._backend import check_real
from creditlab.envs.tabular_mdp import TabularMDPEnv


class ChainEnv(TabularMDPEnv):
    """Chain of ``n_states`` states with terminal exits at both ends.

    Parameters
    ----------
    n_states : int >= 3
    slip : float in [0, 1)
        Probability that the move goes the opposite way.
    left_reward, right_reward, step_reward : float

    Attributes
    ----------
    P : ndarray [S, A, S]
        Transition probabilities; terminal states loop to themselves.
    R : ndarray [S, A, S]
        Reward for each transition.
    terminal : ndarray [S] of bool
    start_state : int
    """

    metadata = {"render_modes": ["ansi"]}
    ACTIONS = "0 (left) or 1 (right)"

    def __init__(
        self,
        n_states: int = 7,
        slip: float = 0.0,
        left_reward: float = -1.0,
        right_reward: float = 1.0,
        step_reward: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        if int(n_states) != n_states or n_states < 3:
            raise ValueError(f"n_states must be an integer >= 3, got {n_states}")
        if not 0.0 <= check_real(slip, "slip") < 1.0:
            raise ValueError(f"slip must be in [0, 1), got {slip}")
        for k, v in (("left_reward", left_reward), ("right_reward", right_reward),
                     ("step_reward", step_reward)):
            check_real(v, k)
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.n_states = int(n_states)
        self.slip = float(slip)
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(self.n_states)
        self.action_space = spaces.Discrete(2)
        self.start_state = self.n_states // 2
        S = self.n_states
        self.terminal = np.zeros(S, bool)
        self.terminal[[0, S - 1]] = True
        self.P = np.zeros((S, 2, S))
        self.R = np.zeros((S, 2, S))
        for s in range(S):
            if self.terminal[s]:
                self.P[s, :, s] = 1.0
                continue
            for a, step in ((0, -1), (1, 1)):
                self.P[s, a, s + step] += 1.0 - self.slip
                self.P[s, a, s - step] += self.slip
            self.R[s, :, :] = step_reward
            self.R[s, :, 0] = left_reward
            self.R[s, :, S - 1] = right_reward
        self._state = self.start_state

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        cells = ["." for _ in range(self.n_states)]
        cells[0], cells[-1] = "L", "R"
        cells[self._state] = "@"
        return "".join(cells)
