"""Chapter 24 exercises: rewarding generators (PRDP, DRAGON). Replace each ``raise``."""

from __future__ import annotations

import numpy as np


def rdp_pair_loss(la: np.ndarray, lb: np.ndarray, ra: float, rb: float, beta: float,
                  oa: np.ndarray, ob: np.ndarray, eps: float) -> float:
    """PRDP's proximal loss for one pair of chains. la, lb: per-step log-ratios
    log pi_theta - log pi_ref, float [T]; oa, ob: the same under theta_old; ra, rb: rewards.
    With rhat = the MEAN over steps, l = (rhat(a) - rhat(b) - (ra - rb) / beta)^2; the clipped
    loss uses every step's log-ratio clipped to [old - eps, old + eps]; return the larger."""
    # YOUR CODE HERE
    raise NotImplementedError


def loo_contributions(X: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Each sample's leave-one-out contribution to the set reward R(X) = -FD(X, E)
    (creditlab.metrics.frechet_distance): delta_i = R(X) - R(X without row i), float [n].
    Positive: the set is closer to the exemplars with x_i in it."""
    # YOUR CODE HERE
    raise NotImplementedError


def diffusion_dpo(ew: float, rw: float, el: float, rl: float, beta: float) -> float:
    """The Diffusion-DPO loss of one pair from denoising errors of the policy (ew, el) and
    the reference (rw, rl) on the chosen (w) and rejected (l) sample:
    -log sigmoid(-beta * ((ew - rw) - (el - rl)))."""
    # YOUR CODE HERE
    raise NotImplementedError
