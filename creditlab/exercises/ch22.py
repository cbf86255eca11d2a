"""Chapter 22 exercises: perceptual rewards (VLM-RM, demonstration steps, ECE). Replace each
``raise``."""

from __future__ import annotations

import numpy as np


def projection_reward(x: np.ndarray, g: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """VLM-RM's goal-baseline reward of embeddings x [N, D] for a goal g [D] and a baseline
    b [D]: R = 1 - 1/2 ||(alpha P + (1 - alpha) I)(x - g)||^2 with P the projection onto
    the line through b and g (the direction g - b). Returns float [N]."""
    # YOUR CODE HERE
    raise NotImplementedError


def segment(feats: np.ndarray, n_steps: int) -> np.ndarray:
    """Split the frames feats [T, F] into n_steps contiguous steps that minimise the summed
    within-step squared deviation sum_s sum_{t in s} ||f_t - mean_s||^2. Returns the step
    of every frame, int [T], 0 .. n_steps-1 and non-decreasing."""
    # YOUR CODE HERE
    raise NotImplementedError


def expected_calibration_error(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """ECE of probabilities p [N] for outcomes y [N] (bool): with n_bins equal-width bins of
    [0, 1] (p = 1 in the last), sum over bins of (share of forecasts in the bin) times
    |mean p - mean y| in the bin."""
    # YOUR CODE HERE
    raise NotImplementedError
