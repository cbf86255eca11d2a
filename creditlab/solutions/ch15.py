"""Solutions to :mod:`creditlab.exercises.ch15`."""

from __future__ import annotations

import numpy as np


def info_gain(logp_with_thought: np.ndarray, logp_baseline: np.ndarray,
              mask: np.ndarray) -> np.ndarray:
    d = np.asarray(logp_with_thought, float) - np.asarray(logp_baseline, float)
    return np.where(mask, d, 0.0)


def followup_score(logp_pos: np.ndarray, mask_pos: np.ndarray, logp_neg: np.ndarray,
                   mask_neg: np.ndarray) -> np.ndarray:
    def mean_score(lp: np.ndarray, m: np.ndarray) -> np.ndarray:
        s = (np.asarray(lp) * m).sum(-1) / np.maximum(np.asarray(m).sum(-1), 1)
        return s.mean(-1)

    return mean_score(logp_pos, mask_pos) - mean_score(logp_neg, mask_neg)


def ema_update(phi: np.ndarray, theta: np.ndarray, tau: float) -> np.ndarray:
    return tau * np.asarray(phi, float) + (1.0 - tau) * np.asarray(theta, float)
