"""Solutions to :mod:`creditlab.exercises.ch24`."""

from __future__ import annotations

import numpy as np

from creditlab.metrics import frechet_distance


def rdp_pair_loss(la: np.ndarray, lb: np.ndarray, ra: float, rb: float, beta: float,
                  oa: np.ndarray, ob: np.ndarray, eps: float) -> float:
    target = (ra - rb) / beta
    loss = (np.mean(la) - np.mean(lb) - target) ** 2
    ca, cb = np.clip(la, oa - eps, oa + eps), np.clip(lb, ob - eps, ob + eps)
    return float(max(loss, (np.mean(ca) - np.mean(cb) - target) ** 2))


def loo_contributions(X: np.ndarray, E: np.ndarray) -> np.ndarray:
    full = -frechet_distance(X, E)
    return np.array([full + frechet_distance(np.delete(X, i, axis=0), E)
                     for i in range(len(X))])


def diffusion_dpo(ew: float, rw: float, el: float, rl: float, beta: float) -> float:
    z = -beta * ((ew - rw) - (el - rl))
    return float(np.logaddexp(0.0, -z))
