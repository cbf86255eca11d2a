"""Chapter 23 exercises: progress labels, DPO for a Gaussian policy, a refinement reward.
Replace each ``raise``."""

from __future__ import annotations

import numpy as np


def procedure_labels(stage: np.ndarray, feats: np.ndarray, n_stages: int) -> np.ndarray:
    """ProcVLM-style procedure-grounded progress labels of ONE complete demonstration.

    stage: int [T+1], the stage index of each frame (n_stages once the task is done, and the
    task is done by the last frame); feats: float [T+1, D]. Each stage gets the budget
    1 / n_stages; inside stage k (frames t_k .. t_{k+1} - 1, frame t_{k+1} completes it) the
    label is (k + C_t / C_end) / n_stages with C_t the summed norm of the feature changes from
    frame t_k to frame t, and C_end that sum up to the completing frame. Frames of the done
    task get 1. Returns float [T+1]."""
    # YOUR CODE HERE
    raise NotImplementedError


def gaussian_dpo(mu: np.ndarray, log_std: np.ndarray, ref_mu: np.ndarray,
                 ref_log_std: np.ndarray, a_w: np.ndarray, a_l: np.ndarray,
                 beta: float) -> float:
    """DPO loss of one (state, chosen a_w, rejected a_l) triple for diagonal Gaussian policies:
    the policy N(mu, exp(log_std)^2) and the reference N(ref_mu, exp(ref_log_std)^2), all
    float [A]. With log pi(a) summed over the A dimensions,
    -log sigmoid(beta * ((log pi(a_w) - log ref(a_w)) - (log pi(a_l) - log ref(a_l))))."""
    # YOUR CODE HERE
    raise NotImplementedError


def refinement_reward(p_hat: np.ndarray, a: np.ndarray, s: np.ndarray, s_future: np.ndarray,
                      beta: float) -> np.ndarray:
    """SC-VLA-style refinement reward r_t = (p_hat[t+1] - p_hat[t]) + beta * cos(a_t,
    s_future_t - s_t). p_hat: float [T+1] predicted progress; a, s, s_future: float [T, 2]
    (actions, positions, predicted future positions). A zero-length vector has cosine 0.
    Returns float [T]."""
    # YOUR CODE HERE
    raise NotImplementedError
