"""Solutions to :mod:`creditlab.exercises.ch16`."""

from __future__ import annotations

import numpy as np


def prediction_error(pred: np.ndarray, obs_next: int) -> float:
    e = np.zeros(len(pred))
    e[int(obs_next)] = 1.0
    return float(((np.asarray(pred, float) - e) ** 2).sum())


def independence_penalty(q_z: np.ndarray, group: np.ndarray) -> float:
    q, g = np.asarray(q_z, float), np.asarray(group)
    marg = q.mean(0)
    total = 0.0
    for u in np.unique(g):
        cond = q[g == u].mean(0)
        nz = cond > 0
        total += (g == u).mean() * float((cond[nz] * np.log(cond[nz] / marg[nz])).sum())
    return total
