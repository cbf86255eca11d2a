"""Chapter 11 exercises: entropy-modulated advantages and forward-looking detailed balance.
Replace each ``raise``.

All arrays are numpy arrays.
"""

from __future__ import annotations

import numpy as np


def entropy_modulated(advantages: np.ndarray, entropy: np.ndarray,
                      mask: np.ndarray) -> np.ndarray:
    """EMPG with k = k' = 1, zeta = 0.05. ``advantages``, ``entropy`` float [B, T], ``mask``
    bool [B, T] (each row's active steps come first). Over active steps: normalise
    H~ = (H - min H) / (max H - min H + 1e-8); g = exp(-H~) / mean(exp(-H~));
    A_mod[i, t] = g[i, t] * A[i, t] + 0.05 * exp(-H~[i, t + 1]), the bonus only where step
    t + 1 of the same row is active; then subtract the mean of A_mod over active steps.
    Padding gets 0. Returns float [B, T]."""
    # YOUR CODE HERE
    raise NotImplementedError


def fldb_residual(log_flow_tilde: np.ndarray, log_pf: np.ndarray,
                  log_flow_tilde_next: np.ndarray, log_pb: np.ndarray, energy: np.ndarray,
                  energy_next: np.ndarray, next_terminal: np.ndarray) -> np.ndarray:
    """Forward-looking detailed-balance residual per edge s -> s' (all float [N] except
    ``next_terminal`` bool [N]): log F~(s) + log P_F(s'|s) - log F~(s') - log P_B(s|s')
    + E(s') - E(s), with log F~(s') taken as 0 where s' is terminal. Returns float [N]."""
    # YOUR CODE HERE
    raise NotImplementedError
