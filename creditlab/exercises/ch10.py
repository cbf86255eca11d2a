"""Chapter 10 exercises: milestones, stages and composite rewards. Replace each ``raise``.

All arrays are numpy arrays.
"""

from __future__ import annotations

import numpy as np


def signed_geomean(components: np.ndarray) -> np.ndarray:
    """Lucy-SKG's kinesthetic reward combination over the last axis of ``components``
    (float [..., N]): sign(prod_i r_i) * (prod_i |r_i|) ** (1 / N). Returns float [...]."""
    # YOUR CODE HERE
    raise NotImplementedError


def milestone_rewards(events: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """MiRA's milestone rewards for one trajectory: ``events`` bool [T, M] (milestone m
    completed at step t), ``weights`` float [M]. Step t gets weights[m] for every
    milestone whose *first* completion is at t; later completions pay nothing.
    Returns float [T]."""
    # YOUR CODE HERE
    raise NotImplementedError


def stage_advantages(stage_scores: np.ndarray, stage_ids: np.ndarray,
                     index: np.ndarray) -> np.ndarray:
    """Stage-wise group advantages: for each stage k, GRPO over each group (responses
    with the same ``index``) of ``stage_scores[:, k]``: (s - group mean) / (group std
    with ddof=1 + 1e-6); a group of one response gets s itself (mean 0, std 1). Step t of
    response i gets the advantage of its stage ``stage_ids[i, t]`` (-1: padding, 0).
    ``stage_scores`` float [B, K], ``stage_ids`` int [B, T], ``index`` int [B].
    Returns float [B, T]."""
    # YOUR CODE HERE
    raise NotImplementedError
