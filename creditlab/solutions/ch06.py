"""Solutions to :mod:`creditlab.exercises.ch06`."""

from __future__ import annotations

import numpy as np


def clip_process(rewards: np.ndarray, eta: float) -> np.ndarray:
    return np.minimum(np.asarray(rewards, float) - eta, 0.0)


def delta_process(rewards: np.ndarray) -> np.ndarray:
    r = np.asarray(rewards, float).copy()
    if len(r):
        r[-1] = 0.0  # drop the last step's score; then every step is r_k - r_{k+1}
    out = np.zeros_like(r)
    out[:-1] = r[:-1] - r[1:]
    return out


def gated_accumulate(step_rewards: np.ndarray, outcome_reward: float,
                     threshold: float) -> np.ndarray:
    r = np.asarray(step_rewards, float)
    out = r * (1.0 if outcome_reward >= threshold else 0.0)
    if len(out):
        out[-1] += outcome_reward
    return out
