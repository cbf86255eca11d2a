"""Solutions to :mod:`creditlab.exercises.ch17`."""

from __future__ import annotations

import numpy as np


def improvement_bonus(r: np.ndarray, r_guided: np.ndarray, alpha: float) -> np.ndarray:
    r = np.asarray(r, float)
    g = np.asarray(r_guided, float)
    return np.where(np.isnan(g), r, r + alpha * (np.nan_to_num(g) - r))


def offpolicy_grad_weight(rho: np.ndarray, adv: np.ndarray, gamma: float) -> np.ndarray:
    rho = np.asarray(rho, float)
    # d/dtheta [rho / (rho + gamma)] = gamma * rho / (rho + gamma)^2 * d log pi
    return np.asarray(adv, float) * gamma * rho / (rho + gamma) ** 2


def temporal_pairs(anchor_scores: np.ndarray, anchor_index: np.ndarray,
                   future_scores: np.ndarray, future_index: np.ndarray,
                   groups: np.ndarray) -> np.ndarray:
    out = []
    for g in groups:
        f = np.flatnonzero(future_index == g)
        a = np.flatnonzero(anchor_index == g)
        out.append((f[np.argmax(future_scores[f])], a[np.argmin(anchor_scores[a])]))
    return np.array(out, dtype=np.int64).reshape(-1, 2)
