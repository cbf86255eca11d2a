"""Chapter 4 exercises: real-time bidding as an MDP. Replace each ``raise`` with your code.

Prices are integers 0..max_price; ``m`` is the market-price p.m.f. (float64 [max_price+1]).
"""

from __future__ import annotations

import numpy as np


def dp_step(V_prev: np.ndarray, m: np.ndarray, theta: float) -> np.ndarray:
    """One RLB Bellman backup: V(t, .) from V(t-1, .), both float64 [B+1].

    V(t, b) = V(t-1, b) + sum_{delta=0..min(b, len(m)-1)}
              m[delta] * max(0, theta + V(t-1, b-delta) - V(t-1, b)).
    """
    # YOUR CODE HERE
    raise NotImplementedError


def rlb_bid(D_prev: np.ndarray, b: int, theta: float, max_price: int) -> int:
    """The closed-form RLB bid from the shadow prices D(t-1, .) (float [B]):

    the largest delta <= min(b, max_price) with theta >= sum_{k=1..delta} D(t-1, b-k).
    """
    # YOUR CODE HERE
    raise NotImplementedError


def lin_bid(pctr: np.ndarray, b0: float, theta_avg: float, budget_left: np.ndarray,
            max_price: int) -> np.ndarray:
    """Linear bidding, capped: floor(min(b0 * pctr / theta_avg, budget_left, max_price)).

    Returns int64 of the broadcast shape of pctr and budget_left.
    """
    # YOUR CODE HERE
    raise NotImplementedError
