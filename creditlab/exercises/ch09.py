"""Chapter 9 exercises: potentials from outcomes. Replace each ``raise``.

All arrays are 1-D numpy float64 arrays for one trajectory.
"""

from __future__ import annotations

import numpy as np


def implicit_process_reward(logp_phi: np.ndarray, logp_ref: np.ndarray,
                            beta: float) -> np.ndarray:
    """Implicit step rewards r_t = beta * (log pi_phi(a_t) - log pi_ref(a_t)), shape [T]."""
    # YOUR CODE HERE
    raise NotImplementedError


def outcome_potential_rewards(p_hat: np.ndarray, q: float, lam: float) -> np.ndarray:
    """SIOP turn rewards for one rollout, shape [T] from p_hat of shape [T + 1]:
    r_t = q * (log p_hat[t] - log p_hat[t - 1]) for t = 1..T (p_hat[0] before any turn),
    and the last turn adds (1 - lam) * q. Use eps = 1e-8 inside the logs."""
    # YOUR CODE HERE
    raise NotImplementedError
