"""Chapter 16 exercises: curiosity that ignores noise. Replace each ``raise``."""

from __future__ import annotations

import numpy as np


def prediction_error(pred: np.ndarray, obs_next: int) -> float:
    """The curiosity bonus of one transition: ||pred - e_{obs_next}||^2, where ``pred`` is
    the forward model's predicted distribution over next observations (float [D]) and
    ``e_{obs_next}`` the one-hot vector of the observation that happened."""
    # YOUR CODE HERE
    raise NotImplementedError


def independence_penalty(q_z: np.ndarray, group: np.ndarray) -> float:
    """The batch mutual information I(z; group) of a discrete code:
    sum over groups g of p(g) * KL( mean of q_z over rows in g  ||  mean of q_z over all
    rows ), with p(g) the share of rows in g. q_z: float [N, Z] rows of probabilities;
    group: int [N]. Terms with a zero probability contribute 0."""
    # YOUR CODE HERE
    raise NotImplementedError
