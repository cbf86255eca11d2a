"""Chapter 8 exercises: keeping the reward model honest. Replace each ``raise``.

All arrays are 1-D numpy arrays.
"""

from __future__ import annotations

import numpy as np


def sigma_filter(adv: np.ndarray, k: float) -> np.ndarray:
    """StableReinforce's advantage filter: with mu and sigma the mean and population
    standard deviation of ``adv``, keep A_i where |A_i - mu| <= k * sigma and set the
    others to 0 (sigma = 0: keep everything). Return a new array."""
    # YOUR CODE HERE
    raise NotImplementedError


def pre_clip_ratio(logp_new: np.ndarray, logp_old: np.ndarray, lo: float,
                   hi: float) -> np.ndarray:
    """Pre-CLIP: exp(clip(logp_new - logp_old, log(lo), log(hi))), the log-ratio clipped
    *before* the exponential, so that no log-ratio, however large, overflows (R1-Reward's
    code uses lo = 1e-3, hi = 1e3). Keep the dtype of the inputs."""
    # YOUR CODE HERE
    raise NotImplementedError


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The probability that a positive (``labels`` True) outscores a negative, ties
    counting one half."""
    # YOUR CODE HERE
    raise NotImplementedError
