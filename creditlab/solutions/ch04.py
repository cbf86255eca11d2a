"""Solutions to :mod:`creditlab.exercises.ch04`."""

from __future__ import annotations

import numpy as np


def dp_step(V_prev: np.ndarray, m: np.ndarray, theta: float) -> np.ndarray:
    B = len(V_prev) - 1
    b = np.arange(B + 1)
    gain = np.zeros(B + 1)
    for d in range(min(B, len(m) - 1) + 1):
        ok = b >= d
        gain[ok] += m[d] * np.maximum(theta + V_prev[b[ok] - d] - V_prev[ok], 0.0)
    return V_prev + gain


def rlb_bid(D_prev: np.ndarray, b: int, theta: float, max_price: int) -> int:
    acc, bid = 0.0, 0
    for d in range(1, min(int(b), int(max_price)) + 1):
        acc += float(D_prev[b - d])
        if theta < acc:
            break
        bid = d
    return bid


def lin_bid(pctr: np.ndarray, b0: float, theta_avg: float, budget_left: np.ndarray,
            max_price: int) -> np.ndarray:
    a = np.minimum(np.minimum(b0 * np.asarray(pctr) / theta_avg, budget_left), max_price)
    return np.floor(a).astype(np.int64)
