"""Solutions to :mod:`creditlab.exercises.ch07`."""

from __future__ import annotations

import numpy as np


def renorm(process: np.ndarray, outcome: float) -> np.ndarray:
    return (np.asarray(process, float) - 0.5) + (outcome - 0.5)


def length_penalty(lengths: np.ndarray, correct: np.ndarray, p_max: float,
                   tau: float) -> np.ndarray:
    L = np.asarray(lengths, float)
    ok = np.asarray(correct, bool)
    if not ok.any():
        return np.zeros(len(L))
    ref = L[ok].mean()
    return -p_max * np.minimum(1.0, np.maximum(0.0, ref - L) / (tau * ref))


def flip_noise(rewards: np.ndarray, question: np.ndarray, coins: np.ndarray,
               p: float) -> np.ndarray:
    r = np.asarray(rewards, float)
    return np.where(np.asarray(coins)[question] < p, 1.0 - r, r)


def pattern_reward(steps: np.ndarray, pattern: int, r_per_hit: float,
                   cap: int | None = None) -> float:
    hits = int(np.sum(np.asarray(steps) == pattern))
    return r_per_hit * (hits if cap is None else min(hits, cap))
