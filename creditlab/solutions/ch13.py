"""Solutions to :mod:`creditlab.exercises.ch13`."""

from __future__ import annotations

import numpy as np


def cut_token_mask(logp_with_judgment: np.ndarray, logp_without: np.ndarray,
                   mask: np.ndarray, threshold: float) -> np.ndarray:
    ratio = np.exp(np.asarray(logp_with_judgment) - np.asarray(logp_without))
    return (ratio > threshold) & np.asarray(mask, bool)


def contrastive_token_reward(logp_better: np.ndarray, logp_worse: np.ndarray,
                             mask: np.ndarray) -> np.ndarray:
    r = 1.0 / (1.0 + np.exp(-(np.asarray(logp_better) - np.asarray(logp_worse)))) - 0.5
    return np.where(mask, r, 0.0)


def segment_rewards(scores: np.ndarray, ends: np.ndarray, T: int) -> np.ndarray:
    s, e = np.asarray(scores, float), np.asarray(ends)
    out = np.zeros((len(s), int(T)))
    for b in range(len(s)):
        for j in range(s.shape[1]):
            if e[b, j] >= 0:
                out[b, e[b, j]] += s[b, j]
    return out
