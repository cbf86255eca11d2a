"""Chapter 14 exercises: the likelihood of a reference as reward. Replace each ``raise``.

All arrays are numpy arrays. ``logp`` holds per-token log-probabilities
``log pi(a*_t | p, z, a*_<t)`` of a reference answer after a chain of thought, ``[B, T]``,
and ``mask`` (bool ``[B, T]``) marks the reference's real tokens (True) and padding.
"""

from __future__ import annotations

import numpy as np


def reference_rewards(logp: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The three likelihood rewards of each row, float [B, 3]: column 0 the
    log-probability of the whole reference (sum over its tokens), column 1 its probability,
    column 2 the average per-token probability (RLPR). Padding never counts."""
    # YOUR CODE HERE
    raise NotImplementedError


def direct_weight(logp: np.ndarray, mask: np.ndarray, form: str) -> np.ndarray:
    """The direct gradient term of a likelihood reward, written per token:
    grad R = sum_t c_t grad log pi(a*_t | ...). Return c, float [B, T], 0 on padding, for
    ``form`` in {"log-prob", "prob", "avg-prob"}."""
    # YOUR CODE HERE
    raise NotImplementedError


def path_faithfulness_from_logps(suffix_logp: np.ndarray, suffix_mask: np.ndarray,
                                 n_steps: np.ndarray) -> np.ndarray:
    """P2S-style path faithfulness from precomputed log-probs. ``suffix_logp[b, i, t]`` is
    the log-probability of token t of the gold suffix s_{i+1} after the policy's prefix of
    i + 1 steps, ``suffix_mask`` its mask (both [B, M, T]); chain b has ``n_steps[b]`` >= 1
    steps (int [B]), and only i < n_steps[b] count. Return float [B]: the mean over those
    steps of the token-mean suffix log-probability."""
    # YOUR CODE HERE
    raise NotImplementedError
