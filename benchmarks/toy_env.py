"""The toy recurrent function shared by the tree benchmarks (research/trees.md §7).

``emb' = (31 emb + a + 1) mod 1000003``, ``reward = ((emb' mod 7) - 3) / 3``, uniform
prior logits, value 0, discount 0.99. Pure numpy (no creditlab, no jax) so every peer can
import it.
"""

from __future__ import annotations

import numpy as np

A = 8


def step(emb: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, ...]:
    new = (31 * emb + action + 1) % 1000003
    reward = ((new % 7) - 3) / 3.0
    B = len(action)
    return reward, np.full(B, 0.99), np.zeros((B, A)), np.zeros(B), new
