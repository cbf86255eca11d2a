"""Chapter 2 exercises: reward shaping and constraints. Replace each ``raise`` with your code."""

from __future__ import annotations

import numpy as np


def potential_shaping(
    rewards: np.ndarray,
    phi: np.ndarray,
    next_phi: np.ndarray,
    gamma: float,
    terminated: np.ndarray,
) -> np.ndarray:
    """r_t + gamma * Phi(s_{t+1}) - Phi(s_t) for one episode (1-D arrays of length T).

    Terminal convention: on a step with ``terminated[t]`` the next state's potential counts
    as 0, whatever ``next_phi[t]`` holds.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def shaping_table(phi: np.ndarray, gamma: float, terminal: np.ndarray) -> np.ndarray:
    """F[s, a, s'] = gamma * Phi(s') - Phi(s) as an [S, 1, S] array for exact methods.

    A terminal s' has potential 0, and rows s that are terminal are all 0.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def lagrangian_update(lmbda: float, cost: float, threshold: float, lr: float) -> float:
    """One projected dual-ascent step: max(0, lmbda + lr * (cost - threshold))."""
    # YOUR CODE HERE
    raise NotImplementedError
