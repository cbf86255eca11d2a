"""Chapter 12 exercises: process rewards from a learned critic (Q-Evolve). Replace each
``raise``.

All arrays are numpy arrays.
"""

from __future__ import annotations

import numpy as np


def near_terminal_weights(mask: np.ndarray, success: np.ndarray) -> np.ndarray:
    """Q-Evolve's critic weights w_t = 0.5 * (t / T + d) + 0.5 for steps t = 1..T of each
    trajectory (T its length, d = 1 if ``success``), 0 on padding. ``mask`` bool [N, T_max]
    (a prefix of True per row), ``success`` bool [N]. Returns float [N, T_max]."""
    # YOUR CODE HERE
    raise NotImplementedError


def expectile_value(q: np.ndarray, weights: np.ndarray, tau: float) -> float:
    """The weighted tau-expectile of the values ``q`` (float [n]): the v minimising
    sum_i weights[i] * |tau - 1[q_i < v]| * (q_i - v) ** 2 (``weights`` float [n] >= 0).
    Returns a float."""
    # YOUR CODE HERE
    raise NotImplementedError


def bppo_objective(ratio: np.ndarray, adv: np.ndarray, eps_low: float,
                   eps_high: float) -> np.ndarray:
    """BPPO's per-sample objective (to maximise) with an asymmetric clip:
    min(ratio * adv, clip(ratio, 1 - eps_low, 1 + eps_high) * adv). ``ratio``, ``adv``
    float [N]. Returns float [N]."""
    # YOUR CODE HERE
    raise NotImplementedError
