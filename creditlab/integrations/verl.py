r"""creditlab's estimators in verl's advantage-estimator registry.

Importing this module registers four estimators in
``verl.trainer.ppo.core_algos.ADV_ESTIMATOR_REGISTRY`` (through verl's own
``register_adv_est``), with verl's argument names and return conventions:

==================  ===================================================================
name                what it computes (verl's counterpart)
==================  ===================================================================
creditlab_gae       :func:`creditlab.gae` + :func:`creditlab.masked_whiten`
                    (``gae``: ``compute_gae_advantage_return``)
creditlab_grpo      :func:`creditlab.grpo`, Dr.GRPO with ``norm_adv_by_std_in_grpo=False``
                    (``grpo``: ``compute_grpo_outcome_advantage``)
creditlab_rloo      :func:`creditlab.rloo` (``rloo``: ``compute_rloo_outcome_advantage``)
creditlab_min_form  PURE's min-form credit (verl has none): :func:`creditlab.min_form_returns`
                    over the scored tokens, a leave-one-out group baseline, whitening
==================  ===================================================================

Every estimator returns ``(advantages, returns)``, both ``[B, T]`` like
``token_level_rewards``, on its device (torch CUDA tensors run creditlab's CUDA kernels),
computed without autograd. As in verl, the outcome estimators return the advantages
twice, multiplied by ``response_mask``; GAE's returns are the lambda-returns and its
advantages are whitened over the masked tokens (masked tokens are whitened too, not
zeroed: the loss masks them).

Switching a verl run to creditlab
---------------------------------
The estimators must be registered in the process that computes advantages (verl's
driver, the ``TaskRunner``). verl imports plugins by itself:

* ``pip install creditlab`` declares a ``verl.plugins`` entry point, and ``import verl``
  loads every such entry point (unless ``VERL_USE_EXTERNAL_PLUGINS=none``); or
* ``VERL_USE_EXTERNAL_MODULES=creditlab.integrations.verl`` (an environment variable
  that ``import verl`` reads, in every process).

then one config line::

    python -m verl.trainer.main_ppo algorithm.adv_estimator=creditlab_grpo ...

(``creditlab_rloo``, ``creditlab_min_form``). verl's ``compute_advantage`` calls a
registered estimator with ``token_level_rewards``, ``response_mask``, ``config``
(``algorithm``) and, when present, ``index`` (``uid``): the options below are read from
``config``. It passes ``values``, ``gamma`` and ``lam`` only to its built-in ``gae``, so
``creditlab_gae`` cannot run from the config line; instead :func:`patch_gae` (or
``CREDITLAB_VERL_PATCH_GAE=1`` in the environment of the import) makes verl's own ``gae``
path call creditlab, with ``algorithm.adv_estimator=gae`` left as it is.

Options read from ``algorithm`` (add them with ``+algorithm.NAME=...``):

``norm_adv_by_std_in_grpo`` (verl's own key; default True)
    creditlab_grpo divides by the group std (GRPO) or not (Dr.GRPO).
``creditlab_min_form_tokens`` ("scored", default, or "all")
    which tokens the minimum runs over: "scored" takes the tokens whose reward is
    nonzero (PURE writes each step's process reward on the step's last token, 0
    elsewhere; a step scored exactly 0 is then not told apart from an unscored token),
    "all" every response token, as PURE's verl code does (so it acts as min(0, ...)).
``creditlab_min_form_whiten`` (default True)
    whiten creditlab_min_form's advantages over the masked tokens, as PURE does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from verl.trainer.ppo import core_algos

import creditlab as cl

__all__ = [
    "ESTIMATORS",
    "creditlab_gae",
    "creditlab_grpo",
    "creditlab_min_form",
    "creditlab_rloo",
    "patch_gae",
]


def _option(config: Any, key: str, default: Any) -> Any:
    """``config[key]`` for a DictConfig, an AlgoConfig (verl's dataclass) or a dict."""
    if config is None:
        return default
    get = getattr(config, "get", None)
    if get is not None:
        try:
            return get(key, default)
        except (KeyError, AttributeError):
            return default
    return getattr(config, key, default)


def _bool_mask(response_mask: Any, like: torch.Tensor) -> torch.Tensor:
    if not isinstance(response_mask, torch.Tensor):
        raise TypeError(
            f"response_mask must be a torch tensor, got {type(response_mask).__name__}")
    if tuple(response_mask.shape) != tuple(like.shape):
        raise ValueError(
            f"response_mask must have the shape of token_level_rewards {tuple(like.shape)}, "
            f"got {tuple(response_mask.shape)}")
    return response_mask if response_mask.dtype == torch.bool else response_mask != 0


def _rewards(token_level_rewards: Any) -> torch.Tensor:
    if not isinstance(token_level_rewards, torch.Tensor):
        raise TypeError("token_level_rewards must be a torch tensor [B, T], got "
                        f"{type(token_level_rewards).__name__}")
    if token_level_rewards.ndim != 2:
        raise ValueError("token_level_rewards must be 2-D [B, T], got shape "
                         f"{tuple(token_level_rewards.shape)}")
    return token_level_rewards


def creditlab_gae(
    token_level_rewards: torch.Tensor,
    values: torch.Tensor | None = None,
    response_mask: torch.Tensor | None = None,
    gamma: float | torch.Tensor | None = None,
    lam: float | torch.Tensor | None = None,
    config: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""verl's ``compute_gae_advantage_return`` on creditlab's scan kernel.

    :math:`\delta_t = r_t + \gamma V_{t+1} - V_t`, :math:`A_t = \delta_t + \gamma\lambda
    A_{t+1}` with masked tokens skipped (they carry ``V`` and ``A`` through), returns
    :math:`A + V`, then :math:`A` whitened over the masked tokens.

    Parameters
    ----------
    token_level_rewards, values : torch.Tensor [B, T], float32/float64
    response_mask : torch.Tensor [B, T], bool or 0/1 of any dtype
    gamma, lam : float (or 0-d tensor); default ``config.gamma`` / ``config.lam`` (1.0)
    config : verl's ``algorithm`` config, optional

    Returns
    -------
    advantages, returns : torch.Tensor [B, T] like ``token_level_rewards``
    """
    r = _rewards(token_level_rewards)
    if values is None:
        raise ValueError(
            "creditlab_gae needs values (the critic's V [B, T]): verl's compute_advantage "
            "passes values only to its built-in 'gae' estimator. Keep "
            "algorithm.adv_estimator=gae and call creditlab.integrations.verl.patch_gae() "
            "(or set CREDITLAB_VERL_PATCH_GAE=1) to run it on creditlab.")
    if response_mask is None:
        raise ValueError("response_mask is required ([B, T], as verl passes it)")
    m = _bool_mask(response_mask, r)
    g = float(_option(config, "gamma", 1.0) if gamma is None else gamma)
    lmb = float(_option(config, "lam", 1.0) if lam is None else lam)
    with torch.no_grad():
        adv, ret = cl.gae(r, values, g, lmb, response_mask=m)
        adv = cl.masked_whiten(adv, m)
    return adv, ret


def _scores(r: torch.Tensor) -> torch.Tensor:
    return r.sum(dim=-1)


def creditlab_grpo(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any = None,
    epsilon: float = 1e-6,
    norm_adv_by_std_in_grpo: bool | None = None,
    config: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""verl's ``compute_grpo_outcome_advantage`` on :func:`creditlab.grpo`.

    Score :math:`s_i = \sum_t r_{i,t}`; :math:`A_i = (s_i - \mathrm{mean}_g) /
    (\mathrm{std}_g + \epsilon)` (``norm_adv_by_std_in_grpo=False``: no division,
    Dr.GRPO), a group of one gets mean 0 and std 1; broadcast as
    ``A[:, None] * response_mask``.

    Parameters
    ----------
    token_level_rewards : torch.Tensor [B, T], float32/float64
    response_mask : torch.Tensor [B, T]
    index : array-like [B]
        Group id of each response (verl passes ``non_tensor_batch["uid"]``).
    epsilon : float >= 0
    norm_adv_by_std_in_grpo : bool, optional
        Default: ``config.norm_adv_by_std_in_grpo`` (True).
    config : verl's ``algorithm`` config, optional

    Returns
    -------
    advantages, returns : the same torch.Tensor [B, T], twice
    """
    r = _rewards(token_level_rewards)
    m = _bool_mask(response_mask, r)
    if index is None:
        raise ValueError("index is required: the group (uid) of each response")
    norm = (_option(config, "norm_adv_by_std_in_grpo", True)
            if norm_adv_by_std_in_grpo is None else norm_adv_by_std_in_grpo)
    with torch.no_grad():
        a = cl.grpo(_scores(r), index, eps=float(epsilon), norm_by_std=bool(norm))
        adv = a.unsqueeze(-1) * m
    return adv, adv


def creditlab_rloo(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any = None,
    epsilon: float = 1e-6,
    config: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""verl's ``compute_rloo_outcome_advantage`` on :func:`creditlab.rloo`.

    :math:`A_i = \frac{n}{n-1}(s_i - \mathrm{mean}_g(s))` (the score minus the mean of the
    other responses to its prompt); a group of one keeps its score, as verl's loop does.
    Same arguments as :func:`creditlab_grpo` (``epsilon`` is unused, as in verl).
    """
    r = _rewards(token_level_rewards)
    m = _bool_mask(response_mask, r)
    if index is None:
        raise ValueError("index is required: the group (uid) of each response")
    with torch.no_grad():
        a = cl.rloo(_scores(r), index, singleton="keep")
        adv = a.unsqueeze(-1) * m
    return adv, adv


def _group_ids(index: Any, n: int, device: torch.device) -> torch.Tensor:
    if isinstance(index, torch.Tensor):
        idx = index.reshape(-1)
        if idx.numel() != n:
            raise ValueError(f"index must have one entry per response ({n}), got {idx.numel()}")
        return torch.unique(idx, return_inverse=True)[1].to(device)
    a = np.asarray(index)
    if a.ndim != 1 or len(a) != n:
        raise ValueError(f"index must have one entry per response ({n}), got shape {a.shape}")
    return torch.as_tensor(np.unique(a, return_inverse=True)[1].reshape(-1), device=device)


def creditlab_min_form(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any = None,
    config: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""PURE-style min-form credit (Cheng et al. 2025, arXiv:2504.15275) for verl.

    .. math::
        G_{i,t} = \min_{k \ge t,\ k \in S_i} r_{i,k}, \qquad
        b_i = \frac{\sum_{j \ne i, g(j) = g(i)} \sum_t G_{j,t}}{(n_g - 1)\,T}, \qquad
        A_{i,t} = \mathrm{whiten}(G_{i,t} - b_i)

    with :math:`S_i` the scored tokens of response i (``creditlab_min_form_tokens``,
    see the module docstring), :math:`G = 0` after the last scored token and on masked
    tokens, :math:`T` the padded response length, :math:`b_i = 0` for a group of one
    (or when ``index`` is None). This is PURE's verl estimator (the leave-one-out
    "token" baseline of its RLOO, over min-form returns) with the exact minimum in place
    of its softmin weights; PURE-style, not PURE: the KL penalty and the verifiable
    reward are whatever verl put into ``token_level_rewards`` (a verifiable reward on the
    last token then enters the minimum, which PURE instead adds after the transform).

    Parameters
    ----------
    token_level_rewards : torch.Tensor [B, T], float32/float64
        Process rewards on each step's last token, 0 elsewhere.
    response_mask : torch.Tensor [B, T]
    index : array-like [B], optional
        Group (uid) of each response.
    config : verl's ``algorithm`` config, optional

    Returns
    -------
    advantages : torch.Tensor [B, T], zero on masked tokens
    returns : torch.Tensor [B, T], the min-form returns G
    """
    r = _rewards(token_level_rewards)
    m = _bool_mask(response_mask, r)
    tokens = _option(config, "creditlab_min_form_tokens", "scored")
    if tokens not in ("scored", "all"):
        raise ValueError(
            f"creditlab_min_form_tokens must be 'scored' or 'all', got {tokens!r}")
    whiten = bool(_option(config, "creditlab_min_form_whiten", True))
    with torch.no_grad():
        scored = m & (r != 0) if tokens == "scored" else m
        G = cl.min_form_returns(r, response_mask=scored) * m
        B, T = r.shape
        A = G
        if index is not None:
            gid = _group_ids(index, B, r.device)
            tot = G.sum(dim=-1)
            ng = int(gid.max()) + 1 if B else 0
            gsum = torch.zeros(ng, dtype=G.dtype, device=G.device).index_add_(0, gid, tot)
            cnt = torch.zeros(ng, dtype=G.dtype, device=G.device).index_add_(
                0, gid, torch.ones_like(tot))
            n = cnt[gid]
            b = torch.where(n > 1, (gsum[gid] - tot) / ((n - 1).clamp(min=1) * T),
                            torch.zeros_like(tot))
            A = G - b.unsqueeze(-1)
        A = A * m
        if whiten and int(m.sum()) > 1:
            A = cl.masked_whiten(A.contiguous(), m) * m
    return A, G


ESTIMATORS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "creditlab_gae": creditlab_gae,
    "creditlab_grpo": creditlab_grpo,
    "creditlab_rloo": creditlab_rloo,
    "creditlab_min_form": creditlab_min_form,
}


def _register() -> None:
    reg = core_algos.ADV_ESTIMATOR_REGISTRY
    for name, fn in ESTIMATORS.items():
        old = reg.get(name)
        if old is not None and getattr(old, "__module__", None) == __name__:
            reg[name] = fn  # this module imported again (importlib.reload)
        else:
            core_algos.register_adv_est(name)(fn)  # raises if another fn holds the name


def patch_gae() -> Callable[[], None]:
    """Make verl's built-in ``gae`` estimator run :func:`creditlab_gae`.

    verl's ``compute_advantage`` calls ``core_algos.compute_gae_advantage_return`` for
    ``algorithm.adv_estimator=gae`` (the only estimator it gives the critic's values);
    this replaces that function and the registry's ``gae`` entry. Returns a function
    that restores verl's own.
    """
    orig_fn = core_algos.compute_gae_advantage_return
    orig_reg = core_algos.ADV_ESTIMATOR_REGISTRY.get("gae")
    core_algos.compute_gae_advantage_return = creditlab_gae
    core_algos.ADV_ESTIMATOR_REGISTRY["gae"] = creditlab_gae

    def restore() -> None:
        core_algos.compute_gae_advantage_return = orig_fn
        if orig_reg is not None:
            core_algos.ADV_ESTIMATOR_REGISTRY["gae"] = orig_reg

    return restore


_register()
if os.environ.get("CREDITLAB_VERL_PATCH_GAE", "").strip() in ("1", "true", "True"):
    patch_gae()
