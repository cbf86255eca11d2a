"""Exact methods for small tabular MDPs given as arrays ``P[s, a, s']``, ``R[s, a, s']``."""

from __future__ import annotations

import numpy as np

__all__ = ["policy_evaluation", "q_values"]


def _check(P: np.ndarray, R: np.ndarray, gamma: float) -> None:
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape [S, A, S], got {P.shape}")
    if R.shape != P.shape:
        raise ValueError(f"R must have the shape of P {P.shape}, got {R.shape}")
    if not np.allclose(P.sum(-1), 1.0, atol=1e-8) or (P < 0).any():
        raise ValueError("P must be row-stochastic: P[s, a, :] >= 0 and sums to 1")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")


def policy_evaluation(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    gamma: float,
    terminal: np.ndarray | None = None,
) -> np.ndarray:
    r"""V^pi by solving the Bellman equation :math:`(I - \gamma P_\pi) V = r_\pi` exactly.

    Parameters
    ----------
    P, R : arrays [S, A, S]
    policy : array [S, A]
        Action probabilities per state.
    gamma : float in [0, 1] (1 only if every state reaches a terminal state)
    terminal : bool array [S], optional
        States whose value is 0 (the episode is over).

    Returns
    -------
    ndarray [S]
    """
    _check(P, R, gamma)
    S = P.shape[0]
    if policy.shape != P.shape[:2]:
        raise ValueError(f"policy must have shape {P.shape[:2]}, got {policy.shape}")
    P_pi = np.einsum("sa,sap->sp", policy, P)
    r_pi = np.einsum("sa,sap,sap->s", policy, P, R)
    if terminal is not None:
        P_pi = np.where(terminal[:, None], 0.0, P_pi)
        r_pi = np.where(terminal, 0.0, r_pi)
    return np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)


def q_values(
    P: np.ndarray, R: np.ndarray, V: np.ndarray, gamma: float, terminal: np.ndarray | None = None
) -> np.ndarray:
    r""":math:`Q(s, a) = \sum_{s'} P(s'|s,a)[R(s,a,s') + \gamma V(s')]`, 0 at terminal states."""
    _check(P, R, gamma)
    Q = np.einsum("sap,sap->sa", P, R + gamma * V[None, None, :])
    if terminal is not None:
        Q = np.where(terminal[:, None], 0.0, Q)
    return Q
