"""Solutions to :mod:`creditlab.exercises.ch14`."""

from __future__ import annotations

import numpy as np


def reference_rewards(logp: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lp = np.where(mask, logp, 0.0)
    s = lp.sum(1)
    avg = np.where(mask, np.exp(lp), 0.0).sum(1) / mask.sum(1)
    return np.stack([s, np.exp(s), avg], 1)


def direct_weight(logp: np.ndarray, mask: np.ndarray, form: str) -> np.ndarray:
    lp = np.where(mask, logp, 0.0)
    if form == "log-prob":
        c = np.ones_like(lp)
    elif form == "prob":
        c = np.repeat(np.exp(lp.sum(1, keepdims=True)), lp.shape[1], 1)
    else:
        c = np.exp(lp) / mask.sum(1, keepdims=True)
    return np.where(mask, c, 0.0)


def path_faithfulness_from_logps(suffix_logp: np.ndarray, suffix_mask: np.ndarray,
                                 n_steps: np.ndarray) -> np.ndarray:
    r = np.where(suffix_mask, suffix_logp, 0.0).sum(2) / np.maximum(suffix_mask.sum(2), 1)
    use = np.arange(r.shape[1])[None, :] < np.asarray(n_steps)[:, None]
    return (r * use).sum(1) / use.sum(1)
