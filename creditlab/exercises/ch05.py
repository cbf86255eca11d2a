"""Chapter 5 exercises: min-form credit assignment. Replace each ``raise`` with your code.

All arrays are 1-D numpy float64 arrays.
"""

from __future__ import annotations

import numpy as np


def softmin_transform(rewards: np.ndarray, temperature: float) -> np.ndarray:
    """PURE's transform of one response's step rewards.

    r*_k = w_k r_k with w = softmax(-r / temperature) over the steps. ``sum(r*)`` is a soft
    minimum of ``rewards``. Subtract the largest logit before exponentiating so that small
    temperatures do not overflow. Returns an array shaped like ``rewards``.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def rloo_advantages(scores: np.ndarray, group_size: int) -> np.ndarray:
    """Leave-one-out advantages: A_i = s_i - mean of the other scores in i's group.

    ``scores`` holds consecutive groups of ``group_size`` responses to the same prompt
    (len(scores) is a multiple of group_size >= 2). Returns an array shaped like ``scores``.
    """
    # YOUR CODE HERE
    raise NotImplementedError
