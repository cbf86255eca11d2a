"""Solutions to :mod:`creditlab.exercises.ch03`."""

from __future__ import annotations

import numpy as np


def epic_canonicalise(R: np.ndarray, gamma: float) -> np.ndarray:
    m = R.mean(axis=(1, 2))  # E[R(x, A, S')]
    return R + gamma * m[None, None, :] - m[:, None, None] - gamma * R.mean()


def val_canonicalise(R: np.ndarray, P: np.ndarray, gamma: float) -> np.ndarray:
    S, A, _ = R.shape
    P_pi = P.mean(axis=1)
    r_pi = (P * R).sum(-1).mean(axis=1)
    V = np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)
    c = (P * (R + gamma * V[None, None, :])).sum(-1) - V[:, None]
    return np.repeat(c[:, :, None], S, axis=2)


def starc_distance(R1: np.ndarray, R2: np.ndarray, P: np.ndarray, gamma: float) -> float:
    def s(R: np.ndarray) -> np.ndarray:
        c = val_canonicalise(R, P, gamma)
        n = np.linalg.norm(c)
        return c / n if n > 1e-12 else c

    return float(np.linalg.norm(s(R1) - s(R2)))
