"""Chapter 20 exercises: model-based credit. Replace each ``raise``."""

from __future__ import annotations

import numpy as np


def bayes_update(belief: np.ndarray, likelihood: np.ndarray) -> np.ndarray:
    """One Bayesian update of a belief over cells: b'(c) = b(c) L(c) / sum_c' b(c') L(c').
    belief: float [C], nonnegative (not necessarily normalised); likelihood: float [C] in
    [0, 1], the probability of what was observed if the target were in each cell. Returns
    float [C] summing to 1."""
    # YOUR CODE HERE
    raise NotImplementedError


def quadratic_features(x: np.ndarray) -> np.ndarray:
    """The discriminator's features phi(x) = (x, x_i x_j for i <= j) of each row: x float
    [B, d] -> float [B, d + d (d + 1) / 2], the products in row-major order of the upper
    triangle (x0 x0, x0 x1, ..., x0 x_{d-1}, x1 x1, ...)."""
    # YOUR CODE HERE
    raise NotImplementedError
