"""Chapter 13 exercises: token-level credit from sequence-level feedback. Replace each
``raise``.

All arrays are numpy arrays.
"""

from __future__ import annotations

import numpy as np


def cut_token_mask(logp_with_judgment: np.ndarray, logp_without: np.ndarray,
                   mask: np.ndarray, threshold: float) -> np.ndarray:
    """CUT's flags: token t of a response is flagged when the judgment makes it more
    likely, p(y_t | x, judgment) / p(y_t | x) > threshold, and it is a response token
    (``mask`` True). Log-probs float [B, T], ``mask`` bool [B, T]. Returns bool [B, T]."""
    # YOUR CODE HERE
    raise NotImplementedError


def contrastive_token_reward(logp_better: np.ndarray, logp_worse: np.ndarray,
                             mask: np.ndarray) -> np.ndarray:
    """T-REG's self-generated token reward: sigmoid(logp_better - logp_worse) - 0.5 on
    response tokens, 0 where ``mask`` is False. Float [B, T] in, float [B, T] out."""
    # YOUR CODE HERE
    raise NotImplementedError


def segment_rewards(scores: np.ndarray, ends: np.ndarray, T: int) -> np.ndarray:
    """FGAIF's dense reward: each segment's score at its last token. ``scores`` float
    [B, S], ``ends`` int [B, S] (the index of the segment's last token, -1 for no
    segment: ignore it). Two segments ending at the same token add up. Returns float
    [B, T], 0 elsewhere."""
    # YOUR CODE HERE
    raise NotImplementedError
