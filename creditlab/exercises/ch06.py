"""Chapter 6 exercises: bounding accumulated process reward. Replace each ``raise``.

All arrays are 1-D numpy float64 arrays: the PRM scores of one trajectory's steps.
"""

from __future__ import annotations

import numpy as np


def clip_process(rewards: np.ndarray, eta: float) -> np.ndarray:
    """Clip (Gao et al. 2024): r~_k = min(r_k - eta, 0)."""
    # YOUR CODE HERE
    raise NotImplementedError


def delta_process(rewards: np.ndarray) -> np.ndarray:
    """Delta (Gao et al. 2024), steps k = 1..K: r~_k = r_k - r_{k+1} for k < K - 1,
    r~_{K-1} = r_{K-1}, and r~_K = 0 (the last step's score is dropped)."""
    # YOUR CODE HERE
    raise NotImplementedError


def gated_accumulate(step_rewards: np.ndarray, outcome_reward: float,
                     threshold: float) -> np.ndarray:
    """G-RA: r~_t = 1[outcome >= threshold] * r_t, plus the outcome on the last step.

    The result sums to outcome + 1[outcome >= threshold] * sum(step_rewards). An empty
    trajectory gives an empty array.
    """
    # YOUR CODE HERE
    raise NotImplementedError
