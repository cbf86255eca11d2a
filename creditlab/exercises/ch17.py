"""Chapter 17 exercises: past and future selves as teachers. Replace each ``raise``."""

from __future__ import annotations

import numpy as np


def improvement_bonus(r: np.ndarray, r_guided: np.ndarray, alpha: float) -> np.ndarray:
    """HeRL's bonus: r_i + alpha * (r_guided_i - r_i) where a revision was attempted, and
    r_i unchanged where ``r_guided`` is NaN (no revision). r, r_guided: float [N]."""
    # YOUR CODE HERE
    raise NotImplementedError


def offpolicy_grad_weight(rho: np.ndarray, adv: np.ndarray, gamma: float) -> np.ndarray:
    """The weight w of grad log pi in the gradient of the off-policy token loss
    L = -A * rho / (rho + gamma), with rho = pi_theta / pi_behaviour:
    grad L = -w * grad log pi_theta. rho (> 0), adv: float [N]; returns float [N]."""
    # YOUR CODE HERE
    raise NotImplementedError


def temporal_pairs(anchor_scores: np.ndarray, anchor_index: np.ndarray,
                   future_scores: np.ndarray, future_index: np.ndarray,
                   groups: np.ndarray) -> np.ndarray:
    """Temporal self-rewarding pairs, one per group label in ``groups`` (in that order):
    the chosen response is the best-scored future sample of the group (the first one on a
    tie), the rejected one the worst-scored anchor sample (the first one on a tie).
    Returns int [G, 2]: (index into the future pool, index into the anchor pool)."""
    # YOUR CODE HERE
    raise NotImplementedError
