"""Solutions to :mod:`creditlab.exercises.ch01`."""

from __future__ import annotations

import numpy as np


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    G, out = 0.0, np.zeros(len(rewards))
    for t in reversed(range(len(rewards))):
        G = rewards[t] + gamma * G
        out[t] = G
    return out


def td_errors(rewards: np.ndarray, values: np.ndarray, gamma: float) -> np.ndarray:
    return rewards + gamma * values[1:] - values[:-1]


def gae(
    rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float, terminated: np.ndarray
) -> np.ndarray:
    A, out = 0.0, np.zeros(len(rewards))
    for t in reversed(range(len(rewards))):
        alive = 0.0 if terminated[t] else 1.0
        delta = rewards[t] + gamma * alive * values[t + 1] - values[t]
        A = delta + gamma * lam * alive * A
        out[t] = A
    return out


def min_form_returns(rewards: np.ndarray) -> np.ndarray:
    return np.minimum.accumulate(np.asarray(rewards)[::-1])[::-1].copy()
