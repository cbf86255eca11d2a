"""Solutions to :mod:`creditlab.exercises.ch22`."""

from __future__ import annotations

import numpy as np


def projection_reward(x: np.ndarray, g: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    d = (g - b) / np.linalg.norm(g - b)
    diff = x - g
    m = alpha * np.outer(diff @ d, d) + (1 - alpha) * diff
    return 1 - 0.5 * (m**2).sum(1)


def segment(feats: np.ndarray, n_steps: int) -> np.ndarray:
    T = len(feats)

    def cost(i: int, j: int) -> float:
        seg = feats[i:j]
        return float(((seg - seg.mean(0)) ** 2).sum())

    best = np.full((n_steps + 1, T + 1), np.inf)
    arg = np.zeros((n_steps + 1, T + 1), int)
    best[0, 0] = 0.0
    for k in range(1, n_steps + 1):
        for j in range(k, T + 1):
            for i in range(k - 1, j):
                c = best[k - 1, i] + cost(i, j)
                if c < best[k, j]:
                    best[k, j], arg[k, j] = c, i
    out, j = np.zeros(T, int), T
    for k in range(n_steps, 0, -1):
        out[arg[k, j]:j] = k - 1
        j = arg[k, j]
    return out


def expected_calibration_error(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    return float(sum((b == k).mean() * abs(p[b == k].mean() - y[b == k].mean())
                     for k in range(n_bins) if (b == k).any()))
