"""Solutions to :mod:`creditlab.exercises.ch18`."""

from __future__ import annotations

import numpy as np


def visit_weighted_values(parent: np.ndarray, raw_value: np.ndarray, r: np.ndarray,
                          g: np.ndarray, visits: np.ndarray) -> np.ndarray:
    num = np.array(raw_value, dtype=np.float64)
    den = np.ones(len(parent))
    V = np.zeros(len(parent))
    for i in range(len(parent) - 1, -1, -1):  # every child before its parent
        V[i] = num[i] / den[i]
        p = parent[i]
        if p >= 0 and visits[i] > 0:
            num[p] += visits[i] * (r[i] + g[i] * V[i])
            den[p] += visits[i]
    return V


def max_lookahead_values(parent: np.ndarray, r: np.ndarray,
                         terminal_value: np.ndarray) -> np.ndarray:
    V = np.array(terminal_value, dtype=np.float64)
    best = np.full(len(parent), -np.inf)
    for i in range(len(parent) - 1, -1, -1):
        if best[i] > -np.inf:
            V[i] = best[i]
        p = parent[i]
        if p >= 0:
            best[p] = max(best[p], r[i] + V[i])
    return V


def rap_cum_rewards(path_rewards: np.ndarray, agg: str) -> np.ndarray:
    f = {"sum": np.sum, "mean": np.mean, "max": np.max}[str(agg)]
    x = np.asarray(path_rewards, dtype=np.float64)
    return np.array([f(x[k:]) for k in range(len(x))])
