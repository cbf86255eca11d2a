"""Policy-gradient ratio guards (Chapter 8): StableReinforce's Pre-CLIP.

PPO-family losses exponentiate a log-ratio, :math:`\\rho = \\exp(\\log\\pi_\\theta -
\\log\\pi_{old})`. Where an action was unlikely under the old policy and the new policy
raised it, :math:`\\rho` is huge, and with a negative advantage PPO's ``min`` keeps the
unclipped term :math:`\\rho A`: the loss and its gradient grow with :math:`\\rho`. Pre-CLIP
clips the log-ratio *before* exponentiating, so neither can.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from creditlab._backend import check_real

__all__ = ["pre_clip_ratio"]


def _logp(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def pre_clip_ratio(logp_new: Any, logp_old: Any, eps: float = 0.2) -> torch.Tensor:
    r"""The importance ratio with its log clipped first: StableReinforce-style Pre-CLIP.

    .. math::
        \rho = \exp\big(\mathrm{clip}(\log\pi_\theta - \log\pi_{old},\;
        \log(1-\epsilon),\; \log(1+\epsilon))\big) \in [1-\epsilon, 1+\epsilon].

    R1-Reward (Zhang et al. 2025, arXiv:2505.02835) clips the log-ratio before the
    exponential; *StableReinforce-style*: we use PPO's own bounds
    :math:`[\log(1-\epsilon), \log(1+\epsilon)]`, which our notes do not pin as the
    paper's thresholds. A ratio outside the bounds carries no gradient (``clamp``).

    Parameters
    ----------
    logp_new : torch.Tensor [...], float
        Log-probabilities of the taken actions under the current policy (with gradient).
    logp_old : torch.Tensor [...], float, same shape
        The same under the policy that sampled them (no gradient needed).
    eps : float in (0, 1)

    Returns
    -------
    torch.Tensor, the shape of ``logp_new``.
    """
    new, old = _logp(logp_new, "logp_new"), _logp(logp_old, "logp_old")
    if new.shape != old.shape:
        raise ValueError(f"logp_new and logp_old must have the same shape, got "
                         f"{tuple(new.shape)} and {tuple(old.shape)}")
    eps = check_real(eps, "eps")
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    d = (new - old.detach()).clamp(math.log(1 - eps), math.log(1 + eps))
    return torch.exp(d)
