"""Policies for tabular environments, in the form :func:`creditlab.envs.rollout` calls."""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab._backend import check_seed, float_array

__all__ = ["TabularPolicy"]


class TabularPolicy:
    """Sample action ``a`` in state ``s`` with probability ``probs[s, a]``.

    Call it as ``policy(obs, rng)``, the signature :func:`creditlab.envs.rollout` uses.

    The action draws come from the policy's own generator, seeded by ``seed`` through a
    separate :class:`numpy.random.SeedSequence` stream, and the ``rng`` argument is
    ignored. Reason: ``rollout(env, policy, n, seed=k)`` seeds the environment and the
    generator it passes to the policy with the same ``k``; both are then identical
    PCG64 streams, so a policy drawing one uniform per step from ``rng`` would reuse the
    very number the environment draws for its transition, correlating action and
    outcome (in ``creditlab/Chain-v0`` this changes the slip probability).

    Parameters
    ----------
    probs : ndarray [S, A]
        Rows are probability distributions over actions.
    seed : int or None
        Seed of the action draws.
    """

    def __init__(self, probs: np.ndarray, seed: int | None = None) -> None:
        p = float_array(probs, "probs").astype(np.float64)
        if p.ndim != 2 or (p < 0).any() or not np.allclose(p.sum(1), 1.0):
            raise ValueError("probs must be [S, A] with rows that are probability vectors")
        self.probs = p
        self._cdf = np.cumsum(p, axis=1)
        self._rng = np.random.default_rng(
            np.random.SeedSequence(check_seed(seed)).spawn(1)[0])

    def __call__(self, obs: Any, rng: np.random.Generator | None = None) -> int:
        cdf = self._cdf[int(obs)]
        a = int(np.searchsorted(cdf, self._rng.random() * cdf[-1], side="right"))
        return min(a, cdf.size - 1)
