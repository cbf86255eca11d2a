"""Chapter 7 exercises: mixing, normalising and corrupting rewards. Replace each ``raise``.

All arrays are 1-D numpy arrays: one trajectory's step scores, or one batch of responses.
"""

from __future__ import annotations

import numpy as np


def renorm(process: np.ndarray, outcome: float) -> np.ndarray:
    """ReNorm (Xu et al. 2025) for one trajectory: r^_t = (r_p,t - 1/2) + (r_o - 1/2).

    ``process`` holds the judge's step scores in [0, 1]; ``outcome`` is 0 or 1.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def length_penalty(lengths: np.ndarray, correct: np.ndarray, p_max: float,
                   tau: float) -> np.ndarray:
    """HARMO-style length penalty for ONE group of responses to the same prompt.

    If no response is correct, every penalty is 0 (the guard). Otherwise, with L_ref the
    mean length of the correct responses,
    R_i = -p_max * min(1, max(0, L_ref - L_i) / (tau * L_ref)).
    """
    # YOUR CODE HERE
    raise NotImplementedError


def flip_noise(rewards: np.ndarray, question: np.ndarray, coins: np.ndarray,
               p: float) -> np.ndarray:
    """Question-wise flips: response i belongs to question ``question[i]`` (ids 0..Q-1);
    question q is flipped iff ``coins[q] < p``, and a flipped question's rewards become
    1 - r. Return a new array (do not modify ``rewards``)."""
    # YOUR CODE HERE
    raise NotImplementedError


def pattern_reward(steps: np.ndarray, pattern: int, r_per_hit: float,
                   cap: int | None = None) -> float:
    """Reasoning-pattern reward (Lv et al. 2025) of one response: r_per_hit times the
    number of steps equal to ``pattern``, counting at most ``cap`` hits (None: no cap)."""
    # YOUR CODE HERE
    raise NotImplementedError
