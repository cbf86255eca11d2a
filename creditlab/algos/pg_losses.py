"""Policy-gradient ratio guards (Chapter 8): StableReinforce's Pre-CLIP and a PPO loss.

PPO-family losses exponentiate a log-ratio, :math:`\\rho = \\exp(\\log\\pi_\\theta -
\\log\\pi_{old})`. Where an action was unlikely under the old policy and the new policy
raised it, :math:`\\rho` is huge (in float32 ``exp`` overflows to inf beyond a log-ratio of
about 88), and with a negative advantage PPO's ``min`` keeps the unclipped term
:math:`\\rho A`: the loss and its gradient grow with :math:`\\rho`. Pre-CLIP clamps the
log-ratio *before* exponentiating, to wide bounds (R1-Reward's code: :math:`[10^{-3},
10^3]` on the ratio), and PPO's usual clipped ``min`` follows unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from creditlab._backend import check_real

__all__ = ["PRE_CLIP_BOUNDS", "ppo_clip_loss", "pre_clip_ratio"]

PRE_CLIP_BOUNDS = (1e-3, 1e3)
"""R1-Reward's Pre-CLIP bounds on the ratio (its released ``PolicyLoss`` clamps the
log-ratio to :math:`[\\log 10^{-3}, \\log 10^{3}]`)."""


def _logp(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def _pair(logp_new: Any, logp_old: Any) -> tuple[torch.Tensor, torch.Tensor]:
    new, old = _logp(logp_new, "logp_new"), _logp(logp_old, "logp_old")
    if new.shape != old.shape:
        raise ValueError(f"logp_new and logp_old must have the same shape, got "
                         f"{tuple(new.shape)} and {tuple(old.shape)}")
    if new.dtype != old.dtype:
        raise TypeError(f"logp_new and logp_old must have the same dtype, got {new.dtype} "
                        f"and {old.dtype} (cast one: mixed dtypes would silently promote)")
    return new, old


def _bounds(clip: Any) -> tuple[float, float]:
    try:
        lo, hi = clip
    except (TypeError, ValueError):
        raise TypeError(f"clip must be a pair (low, high) of ratios, got {clip!r}") from None
    lo, hi = check_real(lo, "clip low"), check_real(hi, "clip high")
    if not 0 < lo <= 1:
        raise ValueError(f"clip low must be in (0, 1], got {lo!r}")
    if not 1 <= hi < math.inf:
        raise ValueError(f"clip high must be in [1, inf), got {hi!r}")
    return lo, hi


def pre_clip_ratio(logp_new: Any, logp_old: Any, clip: Any = PRE_CLIP_BOUNDS) -> torch.Tensor:
    r"""The importance ratio with its log clamped first: R1-Reward's Pre-CLIP.

    .. math::
        \rho = \exp\big(\mathrm{clip}(\log\pi_\theta - \log\pi_{old},\;
        \log c_{lo},\; \log c_{hi})\big) \in [c_{lo}, c_{hi}],

    with R1-Reward's bounds :math:`(c_{lo}, c_{hi}) = (10^{-3}, 10^{3})` by default
    (Zhang et al. 2025, arXiv:2505.02835; its released ``PolicyLoss``). The bounds are an
    overflow guard, far outside PPO's :math:`[1-\epsilon, 1+\epsilon]`: PPO's clipped
    ``min`` is applied afterwards as usual (:func:`ppo_clip_loss`). Do *not* pass PPO's own
    bounds here: with them the ratio equals its PPO clip, the ``min`` collapses to
    :math:`\mathrm{clip}(\rho) A` and every sample outside :math:`[1-\epsilon, 1+\epsilon]`
    gets zero gradient (a hard two-sided clip, not the paper's guard). A ratio outside
    the bounds carries no gradient (``clamp``).

    Parameters
    ----------
    logp_new : torch.Tensor [...], float32 or float64
        Log-probabilities of the taken actions under the current policy (with gradient).
    logp_old : torch.Tensor [...], the same shape and dtype
        The same under the policy that sampled them (detached here).
    clip : (float, float), 0 < low <= 1 <= high
        Bounds on the ratio.

    Returns
    -------
    torch.Tensor, the shape and dtype of ``logp_new``.
    """
    new, old = _pair(logp_new, logp_old)
    lo, hi = _bounds(clip)
    return torch.exp((new - old.detach()).clamp(math.log(lo), math.log(hi)))


def ppo_clip_loss(logp_new: Any, logp_old: Any, adv: Any, eps: float = 0.2,
                  pre_clip: bool = False, clip: Any = PRE_CLIP_BOUNDS) -> torch.Tensor:
    r"""PPO's clipped surrogate, optionally with Pre-CLIP (StableReinforce-style).

    .. math::
        L = -\frac1N\sum_i \min\big(\rho_i A_i,\;
        \mathrm{clip}(\rho_i, 1-\epsilon, 1+\epsilon) A_i\big),

    with :math:`\rho_i = \exp(\log\pi_\theta - \log\pi_{old})`, or with ``pre_clip``
    :math:`\rho_i` from :func:`pre_clip_ratio` (bounds ``clip``). This is the loss
    R1-Reward's code computes (its REINFORCE++ advantages go in ``adv``).

    Parameters
    ----------
    logp_new, logp_old : torch.Tensor [N], float32 or float64, the same shape and dtype
    adv : torch.Tensor [N], finite (detached here)
    eps : float in (0, 1)
    pre_clip : bool
    clip : (float, float), used only with ``pre_clip``

    Returns
    -------
    torch.Tensor, a scalar of ``logp_new``'s dtype.
    """
    new, old = _pair(logp_new, logp_old)
    a = _logp(adv, "adv")
    if a.shape != new.shape:
        raise ValueError(f"adv must have the shape of logp_new {tuple(new.shape)}, got "
                         f"{tuple(a.shape)}")
    eps = check_real(eps, "eps")
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    if not isinstance(pre_clip, bool):
        raise TypeError(f"pre_clip must be a bool, got {type(pre_clip).__name__}")
    ratio = pre_clip_ratio(new, old, clip) if pre_clip else torch.exp(new - old.detach())
    a = a.detach().to(new.dtype)
    return -torch.minimum(ratio * a, ratio.clamp(1 - eps, 1 + eps) * a).mean()
