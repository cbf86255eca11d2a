"""Chapter 21 exercises: agents scored by delayed outcomes. Replace each ``raise``."""

from __future__ import annotations

import numpy as np


def brier_score(p: np.ndarray, y: np.ndarray) -> float:
    """The Brier score of binary forecasts: the mean of (p_i - y_i)^2. p: float [N]
    probabilities in [0, 1]; y: bool [N], whether each event happened."""
    # YOUR CODE HERE
    raise NotImplementedError


def log_score(p: np.ndarray, y: np.ndarray) -> float:
    """The logarithmic score of binary forecasts: the mean of y_i log p_i +
    (1 - y_i) log(1 - p_i) (higher is better). p: float [N] in (0, 1); y: bool [N]."""
    # YOUR CODE HERE
    raise NotImplementedError


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement over ``best`` of Gaussian beliefs N(mean, sd^2), maximising:
    (mean - best) Phi(z) + sd phi(z) with z = (mean - best) / sd, where Phi and phi are the
    standard normal CDF and density. mean, sd: float [M] (sd > 0). Returns float [M]."""
    # YOUR CODE HERE
    raise NotImplementedError
