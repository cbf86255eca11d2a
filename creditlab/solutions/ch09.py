"""Solutions to :mod:`creditlab.exercises.ch09`."""

from __future__ import annotations

import numpy as np


def implicit_process_reward(logp_phi: np.ndarray, logp_ref: np.ndarray,
                            beta: float) -> np.ndarray:
    return beta * (np.asarray(logp_phi, float) - np.asarray(logp_ref, float))


def outcome_potential_rewards(p_hat: np.ndarray, q: float, lam: float) -> np.ndarray:
    lp = np.log(np.asarray(p_hat, float) + 1e-8)
    r = q * np.diff(lp)
    if len(r):
        r[-1] += (1.0 - lam) * q
    return r
