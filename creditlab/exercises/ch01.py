"""Chapter 1 exercises: returns and advantages. Replace each ``raise`` with your code.

All arrays are 1-D numpy float64 arrays over time (one episode or one segment).
"""

from __future__ import annotations

import numpy as np


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1}, with G_T = 0. Returns an array shaped like ``rewards``."""
    # YOUR CODE HERE
    raise NotImplementedError


def td_errors(rewards: np.ndarray, values: np.ndarray, gamma: float) -> np.ndarray:
    """delta_t = r_t + gamma * V_{t+1} - V_t, where ``values`` has T+1 entries."""
    # YOUR CODE HERE
    raise NotImplementedError


def gae(
    rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float, terminated: np.ndarray
) -> np.ndarray:
    """GAE advantages with episode ends.

    ``values`` has T+1 entries (the last is the bootstrap); ``terminated[t]`` means step t
    ended the episode: no bootstrap from V_{t+1} and no advantage carried across it.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def min_form_returns(rewards: np.ndarray) -> np.ndarray:
    """m_t = min(r_t, ..., r_{T-1}): the worst reward from t to the end."""
    # YOUR CODE HERE
    raise NotImplementedError
