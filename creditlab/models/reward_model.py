"""Keeping a learned reward model honest (Chapter 8): a contrastive online update and
probe-based confidence.

``contrastive_update``  Cooper-style: Bradley-Terry steps on (positive, negative) pairs,
                        positives a verifier accepted, negatives corrupted positives
``probe_confidence``    MRMBench-style: how far apart two responses lie on the
                        preference dimensions that linear probes read off a reward model's
                        representation

The reward model is any module mapping features ``[B, d]`` to scores ``[B, 1]`` or ``[B]``
(e.g. :class:`creditlab.models.MLP`); the Bradley-Terry loss is
:func:`creditlab.prefs.bradley_terry_loss` (one implementation in the library).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from creditlab._backend import check_int
from creditlab.metrics import _points
from creditlab.models.nets import as_tensor
from creditlab.prefs import bradley_terry_loss

__all__ = ["contrastive_update", "probe_confidence"]


def _scores(rm: Any, x: torch.Tensor) -> torch.Tensor:
    r = rm(x)
    if r.ndim == 2 and r.shape[1] == 1:
        r = r[:, 0]
    if r.shape != (len(x),):
        raise ValueError(f"rm must map [B, d] to [B] or [B, 1] scores, got {tuple(r.shape)}")
    if not torch.isfinite(r).all():
        raise ValueError("rm returned non-finite scores (NaN or inf)")
    return r


def contrastive_update(rm: Any, opt: Any, pos: Any, neg: Any, steps: int = 5) -> float:
    r"""Cooper-style contrastive update of a reward model; returns the last loss.

    ``steps`` optimiser steps on the Bradley-Terry loss of the paired rows,

    .. math:: \mathcal L = -\frac1B \sum_i \log\sigma\big(r(x^+_i) - r(x^-_i)\big),

    where :math:`x^+_i` is a response a high-precision verifier accepted and
    :math:`x^-_i` a corrupted copy of it (Cooper, Hong et al. 2025, arXiv:2508.05613).
    *Cooper-style*: Cooper's reward model is an LLM that reads the reference answer and
    is updated once per RL step; here any small torch module over response features.

    Parameters
    ----------
    rm : torch.nn.Module
        Features [B, d] -> scores [B] or [B, 1].
    opt : torch.optim.Optimizer
        Over ``rm``'s parameters.
    pos, neg : array [B, d], finite numbers (numpy or torch)
    steps : int >= 1

    Returns
    -------
    float: the loss at the last step (before that step's update).
    """
    if not callable(rm):
        raise TypeError(f"rm must be a callable module, got {type(rm).__name__}")
    if not hasattr(opt, "step") or not hasattr(opt, "zero_grad"):
        raise TypeError(f"opt must be a torch optimizer, got {type(opt).__name__}")
    p, n = as_tensor(pos, "pos"), as_tensor(neg, "neg")
    if p.ndim != 2 or p.shape != n.shape or len(p) == 0:
        raise ValueError(f"pos and neg must have the same shape [B, d] with B >= 1, got "
                         f"{tuple(p.shape)} and {tuple(n.shape)}")
    steps = check_int(steps, "steps", 1)
    loss = torch.zeros(())
    for _ in range(steps):
        loss = bradley_terry_loss(_scores(rm, p), _scores(rm, n))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def probe_confidence(h_a: Any, h_b: Any, probes: Any) -> np.ndarray:
    r"""MRMBench-style confidence of a pairwise judgement from linear probes.

    With probes :math:`w_k` (columns of ``probes``, each from
    :func:`creditlab.metrics.linear_probe`) and :math:`p_k(h) = \mathrm{clip}([h, 1]
    \cdot w_k, -1, 1)`,

    .. math:: c = \frac1K \sum_k \big|p_k(h_a) - p_k(h_b)\big| \in [0, 2]:

    how far apart the two responses lie on the probed preference dimensions. Our
    reconstruction: MRMBench reads a confidence off inference-time probes; its formula
    is not in our notes.

    Parameters
    ----------
    h_a, h_b : array [N, d], finite numbers
        Representations of the two responses of each pair.
    probes : array [d + 1, K], finite numbers

    Returns
    -------
    ndarray [N] float64.
    """
    a, b = _points(h_a, "h_a"), _points(h_b, "h_b")
    if a.shape != b.shape:
        raise ValueError(f"h_a and h_b must have the same shape, got {a.shape} and {b.shape}")
    P = _points(probes, "probes")
    if P.shape[0] != a.shape[1] + 1:
        raise ValueError(f"probes must have shape [d + 1, K] = [{a.shape[1] + 1}, K], got "
                         f"{P.shape}")

    def p(h: np.ndarray) -> np.ndarray:
        return np.clip(np.c_[h, np.ones(len(h))] @ P, -1.0, 1.0)

    return np.abs(p(a) - p(b)).mean(1)
