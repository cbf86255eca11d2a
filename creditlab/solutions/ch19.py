"""Solutions to :mod:`creditlab.exercises.ch19`."""

from __future__ import annotations

import numpy as np


def value_augmented_logits(base_logits: np.ndarray, values: np.ndarray, beta: float,
                           top_k: int) -> np.ndarray:
    z, v = np.asarray(base_logits, float), np.asarray(values, float)
    keep = z >= np.sort(z)[-min(top_k, len(z))]
    out = np.full(len(z), -np.inf)
    out[keep] = z[keep] + beta * (v[keep] - v[keep].mean())
    return out


def bon_binary_kl(p: float, n: int) -> float:
    q = 1 - (1 - p) ** n
    if n == 1:
        return 0.0
    fail = (1 - q) * np.log((1 - q) / (1 - p)) if q < 1 else 0.0
    return float(q * np.log(q / p) + fail)


def soft_value(rewards: np.ndarray, alpha: float) -> float:
    r = np.asarray(rewards, float)
    m = r.max()
    if alpha == 0:
        return float(m)
    return float(m + alpha * np.log(np.mean(np.exp((r - m) / alpha))))
