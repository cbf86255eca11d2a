"""Solutions to :mod:`creditlab.exercises.ch21`."""

from __future__ import annotations

from math import erf, sqrt

import numpy as np


def brier_score(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def log_score(p: np.ndarray, y: np.ndarray) -> float:
    q = np.asarray(p, float)
    return float(np.mean(np.where(np.asarray(y, bool), np.log(q), np.log(1 - q))))


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    m, s = np.asarray(mean, float), np.asarray(sd, float)
    z = (m - best) / s
    cdf = 0.5 * (1 + np.array([erf(v / sqrt(2)) for v in z.ravel()]).reshape(z.shape))
    return (m - best) * cdf + s * np.exp(-0.5 * z**2) / sqrt(2 * np.pi)
