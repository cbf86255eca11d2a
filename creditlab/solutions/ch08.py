"""Solutions to :mod:`creditlab.exercises.ch08`."""

from __future__ import annotations

import numpy as np


def sigma_filter(adv: np.ndarray, k: float) -> np.ndarray:
    a = np.asarray(adv, float)
    sd = a.std()
    if sd == 0:
        return a.copy()
    return np.where(np.abs(a - a.mean()) <= k * sd, a, 0.0)


def pre_clip_ratio(logp_new: np.ndarray, logp_old: np.ndarray, lo: float,
                   hi: float) -> np.ndarray:
    d = np.asarray(logp_new) - np.asarray(logp_old)
    return np.exp(np.clip(d, np.log(lo), np.log(hi)).astype(d.dtype))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    d = s[y][:, None] - s[~y][None, :]
    return float(np.mean((d > 0) + 0.5 * (d == 0)))
