"""Chapter 3 exercises: reward distances. Replace each ``raise`` with your code.

Rewards and transitions are float64 arrays of shape [S, A, S].
"""

from __future__ import annotations

import numpy as np


def epic_canonicalise(R: np.ndarray, gamma: float) -> np.ndarray:
    """EPIC's canonical reward with uniform state and action distributions.

    C(R)(s,a,s') = R(s,a,s') + E[gamma R(s',A,S') - R(s,A,S') - gamma R(S,A,S')].
    """
    # YOUR CODE HERE
    raise NotImplementedError


def val_canonicalise(R: np.ndarray, P: np.ndarray, gamma: float) -> np.ndarray:
    """STARC's value-adjusted levelling with the uniform policy pi:

    c(R)(s,a,s') = E_{S'~P(s,a)}[R(s,a,S') - V(s) + gamma V(S')], V = V^pi under R.
    The result is constant in s' (shape [S, A, S]).
    """
    # YOUR CODE HERE
    raise NotImplementedError


def starc_distance(R1: np.ndarray, R2: np.ndarray, P: np.ndarray, gamma: float) -> float:
    """|| c(R1)/||c(R1)|| - c(R2)/||c(R2)|| ||_2 with c = VAL (a zero c stays zero)."""
    # YOUR CODE HERE
    raise NotImplementedError
