"""Chapter 15 exercises: information gain and follow-up likelihood as reward. Replace each
``raise``.

All arrays are numpy arrays.
"""

from __future__ import annotations

import numpy as np


def info_gain(logp_with_thought: np.ndarray, logp_baseline: np.ndarray,
              mask: np.ndarray) -> np.ndarray:
    """RLP's reward of a thought: log p(x_t | context, thought) - log p_baseline(x_t |
    context) where ``mask`` is True, 0 elsewhere. Float [B, T] in (and bool [B, T]),
    float [B, T] out."""
    # YOUR CODE HERE
    raise NotImplementedError


def followup_score(logp_pos: np.ndarray, mask_pos: np.ndarray, logp_neg: np.ndarray,
                   mask_neg: np.ndarray) -> np.ndarray:
    """FLR-style score of B dialogues. ``logp_pos`` float [B, F+, T]: per-token log-probs
    of each positive follow-up after the dialogue, ``mask_pos`` bool [B, F+, T] its real
    tokens (likewise ``logp_neg`` / ``mask_neg`` for the negative follow-ups). Score each
    follow-up by its token-MEAN log-prob; return the mean over positives minus the mean
    over negatives, float [B]."""
    # YOUR CODE HERE
    raise NotImplementedError


def ema_update(phi: np.ndarray, theta: np.ndarray, tau: float) -> np.ndarray:
    """One step of an exponential moving average (RLP's no-thought teacher): the new
    ``phi`` from the old ``phi`` and the current weights ``theta`` (float arrays of the
    same shape), keeping the fraction ``tau`` of the old. Return a new array."""
    # YOUR CODE HERE
    raise NotImplementedError
