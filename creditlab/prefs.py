"""Learning from preferences: Bradley-Terry, DPO, IPO, unlikelihood, pair mining, and
token-level credit from sequence-level feedback (book Chapter 13: DPO's implicit token
reward, T-REG-style token regularisation, CUT's judgment-flagged unlikelihood).

The losses take per-sequence scores or per-token log-probabilities (``[B, T]`` with a
response mask, e.g. from :meth:`creditlab.models.TinyTextLM.logprobs`) and return the
mean loss over pairs (``reduction="none"`` gives one value per pair). They are written
in torch so that gradients flow; numpy input gives numpy output (no gradient). torch is
imported when a loss is called, so ``import creditlab.prefs`` stays light.

Inputs are arrays or tensors of numbers (integers are cast to float64). NaN / inf in
scores or log-probabilities are not checked: they propagate into the loss, as in torch
(so that no call synchronises with a GPU); ``mine_pairs`` refuses them.

Notation: :math:`\\sigma` is the logistic function; a sequence log-ratio is
:math:`\\rho(y) = \\sum_t m_t[\\log\\pi_\\theta(y_t \\mid x, y_{<t}) -
\\log\\pi_{ref}(y_t \\mid x, y_{<t})]`; subscripts :math:`w` / :math:`l` are the chosen
(winner) and rejected (loser) response.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab._backend import check_finite, check_real, number_array

__all__ = [
    "bradley_terry_loss",
    "contrastive_token_reward",
    "cut_loss",
    "cut_token_mask",
    "dpo_loss",
    "ipo_loss",
    "mine_pairs",
    "sequence_logratio",
    "t_reg_loss",
    "token_implicit_reward",
    "unlikelihood_loss",
    "traj_dpo_loss",
    "build_pairs",
    "diffusion_dpo_loss",
    "rdp_loss",
    "leave_one_out_split",
    "dpo_loss_gaussian",
]

_REDUCTIONS = ("mean", "sum", "none")


def _torch() -> Any:
    import torch

    return torch


def _is_torch(*xs: Any) -> bool:
    return any(type(x).__module__.startswith("torch") for x in xs if x is not None)


def _t(x: Any, name: str, ndim: tuple[int, ...] | None = None) -> Any:
    torch = _torch()
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array or tensor of numbers, got "
                        f"{type(x).__name__}")
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name} is a numpy masked array (its mask would be ignored); pass "
                        "the data and the mask argument")
    try:
        if not isinstance(x, torch.Tensor):
            a = np.asarray(x)
            if not a.dtype.isnative:
                a = a.astype(a.dtype.newbyteorder("="))
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(a)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be an array or tensor of numbers") from e
    if t.dtype == torch.bool or not (t.dtype.is_floating_point or t.dtype in (
            torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise TypeError(f"{name} must hold real numbers, got {t.dtype}")
    if not t.dtype.is_floating_point:
        t = t.to(torch.float64)
    if ndim is not None and t.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got "
                         f"shape {tuple(t.shape)}")
    return t


def _mask(m: Any, name: str, shape: tuple[int, ...]) -> Any:
    torch = _torch()
    if m is None:
        return None
    t = m if isinstance(m, torch.Tensor) else torch.as_tensor(np.asarray(m))
    if t.dtype != torch.bool:
        raise TypeError(f"{name} must be a bool mask, got {t.dtype}")
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    return t


def _out(x: Any, as_torch: bool) -> Any:
    if as_torch:
        return x
    x = x.detach().cpu().numpy()
    return x if x.ndim else float(x)


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _beta(beta: Any) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.floating, np.integer)) \
            or not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    return float(beta)


def sequence_logratio(logp: Any, ref_logp: Any, mask: Any | None = None) -> Any:
    r"""Sequence log-ratio :math:`\rho = \sum_t m_t(\log\pi_t - \log\pi_{ref,t})`.

    Parameters
    ----------
    logp, ref_logp : array or tensor [B, T] (per-token) or [B] (already summed)
    mask : bool [B, T], optional
        Tokens that count (default all). Ignored for 1-D input.

    Returns
    -------
    [B], the input's kind (torch keeps the gradient through ``logp``)
    """
    return _out(_logratio(logp, ref_logp, mask, ("logp", "ref_logp", "mask")),
                _is_torch(logp, ref_logp))


def _logratio(logp: Any, ref_logp: Any, mask: Any, names: tuple[str, str, str]) -> Any:
    """:func:`sequence_logratio` as a tensor; errors name the caller's arguments."""
    a = _t(logp, names[0], (1, 2))
    b = _t(ref_logp, names[1], (1, 2))
    if a.shape != b.shape:
        raise ValueError(f"{names[1]} must have the shape of {names[0]} {tuple(a.shape)}, "
                         f"got {tuple(b.shape)}")
    d = a - b.to(a.dtype)
    if d.ndim == 2:
        m = _mask(mask, names[2], tuple(d.shape))
        if m is not None:
            d = d.masked_fill(~m, 0.0)
        d = d.sum(-1)
    return d


def bradley_terry_loss(r_chosen: Any, r_rejected: Any, *, beta: float = 1.0,
                       reduction: str = "mean") -> Any:
    r"""Bradley-Terry (reward-model) loss of scalar scores.

    .. math:: L = -\log\sigma\big(\beta\,(r_w - r_l)\big)

    The negative log-likelihood of "w preferred to l" when
    :math:`P(w \succ l) = \sigma(\beta(r_w - r_l))`. Example: :math:`r_w = 1, r_l = 0,
    \beta = 1` gives :math:`\log(1 + e^{-1}) = 0.3133`.

    Parameters
    ----------
    r_chosen, r_rejected : array or tensor [N]
    beta : float > 0
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    scalar, or [N] for ``reduction="none"``; the input's kind
    """
    torch = _torch()
    a, b = _t(r_chosen, "r_chosen", (1,)), _t(r_rejected, "r_rejected", (1,))
    if a.shape != b.shape:
        raise ValueError(f"r_rejected must have the shape of r_chosen {tuple(a.shape)}, "
                         f"got {tuple(b.shape)}")
    loss = -torch.nn.functional.logsigmoid(_beta(beta) * (a - b.to(a.dtype)))
    return _out(_reduce(loss, reduction), _is_torch(r_chosen, r_rejected))


def _margin(logp_chosen: Any, ref_chosen: Any, logp_rejected: Any, ref_rejected: Any,
            mask_chosen: Any, mask_rejected: Any) -> Any:
    torch = _torch()
    w = _logratio(logp_chosen, ref_chosen, mask_chosen,
                  ("logp_chosen", "ref_chosen", "mask_chosen"))
    lo = _logratio(logp_rejected, ref_rejected, mask_rejected,
                   ("logp_rejected", "ref_rejected", "mask_rejected"))
    if w.shape != lo.shape:
        raise ValueError(f"chosen and rejected must have the same batch size, got "
                         f"{len(w)} (logp_chosen) and {len(lo)} (logp_rejected)")
    return w - lo.to(w.dtype) if isinstance(w, torch.Tensor) else w - lo


def dpo_loss(logp_chosen: Any, ref_chosen: Any, logp_rejected: Any, ref_rejected: Any, *,
             beta: float = 0.1, mask_chosen: Any | None = None,
             mask_rejected: Any | None = None, reduction: str = "mean") -> Any:
    r"""Direct Preference Optimization loss (Rafailov et al. 2023, arXiv:2305.18290).

    .. math:: L = -\log\sigma\big(\beta\,[\rho(y_w) - \rho(y_l)]\big),\qquad
              \rho(y) = \sum_t m_t\,[\log\pi_\theta(y_t) - \log\pi_{ref}(y_t)]

    Bradley-Terry on the implicit reward :math:`\beta\rho`. Example: :math:`\rho_w = 2,
    \rho_l = -1, \beta = 0.5` gives :math:`\log(1 + e^{-1.5}) = 0.2014`.

    Parameters
    ----------
    logp_chosen, ref_chosen, logp_rejected, ref_rejected : [B, T] per-token log-probs
        (policy and reference) or [B] sequence log-probs. Gradient flows through the
        policy's log-probs.
    beta : float > 0
    mask_chosen, mask_rejected : bool [B, T], optional
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    scalar, or [B] for ``reduction="none"``; the input's kind
    """
    torch = _torch()
    h = _margin(logp_chosen, ref_chosen, logp_rejected, ref_rejected, mask_chosen,
                mask_rejected)
    loss = -torch.nn.functional.logsigmoid(_beta(beta) * h)
    as_torch = _is_torch(logp_chosen, ref_chosen, logp_rejected, ref_rejected)
    return _out(_reduce(loss, reduction), as_torch)


def ipo_loss(logp_chosen: Any, ref_chosen: Any, logp_rejected: Any, ref_rejected: Any, *,
             beta: float = 0.1, mask_chosen: Any | None = None,
             mask_rejected: Any | None = None, reduction: str = "mean") -> Any:
    r"""Identity Preference Optimisation loss (Azar et al. 2023, arXiv:2310.12036).

    .. math:: L = \Big(\rho(y_w) - \rho(y_l) - \frac{1}{2\beta}\Big)^2

    (TRL's ``ipo``, with :math:`\beta` in the role of the paper's :math:`\tau`): the
    log-ratio margin is regressed to :math:`1/(2\beta)` instead of pushed to infinity.
    Example: margin 3, :math:`\beta = 0.25` gives :math:`(3 - 2)^2 = 1`. Arguments as in
    :func:`dpo_loss`.
    """
    torch = _torch()
    h = _margin(logp_chosen, ref_chosen, logp_rejected, ref_rejected, mask_chosen,
                mask_rejected)
    if not isinstance(h, torch.Tensor):
        h = torch.as_tensor(h)
    loss = (h - 1.0 / (2.0 * _beta(beta))) ** 2
    as_torch = _is_torch(logp_chosen, ref_chosen, logp_rejected, ref_rejected)
    return _out(_reduce(loss, reduction), as_torch)


def unlikelihood_loss(logp: Any, neg_mask: Any, mask: Any | None = None, *,
                      weight: float = 1.0, floor: float = 1e-5,
                      reduction: str = "mean") -> Any:
    r"""Likelihood on good tokens, unlikelihood on flagged ones (Welleck et al. 2019;
    CUT, Xu et al. 2023, arXiv:2312.14591).

    .. math:: L_b = -\frac{1}{|y_b|}\sum_t m_t\Big[(1 - n_t)\log p_t
              + n_t\,w\,\log\max(1 - p_t,\ \epsilon)\Big],\qquad p_t = e^{\ell_t}

    with :math:`\ell_t` the log-probability of the response token at t, :math:`n_t` the
    flag (``neg_mask``), :math:`|y_b| = \sum_t m_t` and :math:`\epsilon` = ``floor``
    (CUT floors at 1e-5). Example: two tokens with p = 0.5 (good) and p = 0.8 (flagged),
    w = 1: :math:`-(\log 0.5 + \log 0.2)/2 = 1.1513`.

    Parameters
    ----------
    logp : [B, T] log-probs of the response tokens (e.g. ``TinyTextLM.logprobs``)
    neg_mask : bool [B, T]
        True on tokens to push down.
    mask : bool [B, T], optional
        Response mask (default all True).
    weight : float >= 0
        CUT's ``weight_unlike``.
    floor : float in (0, 1)
    reduction : {"mean", "sum", "none"}
        Over sequences; ``"none"`` gives [B].
    """
    torch = _torch()
    lp = _t(logp, "logp", (2,))
    if neg_mask is None:
        raise TypeError("neg_mask must be a bool mask [B, T], got None")
    n = _mask(neg_mask, "neg_mask", tuple(lp.shape))
    m = _mask(mask, "mask", tuple(lp.shape))
    if m is None:
        m = torch.ones_like(n)
    check_real(weight, "weight")
    check_real(floor, "floor")
    if not np.isfinite(weight) or weight < 0:
        raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
    if not 0.0 < floor < 1.0:
        raise ValueError(f"floor must be in (0, 1), got {floor!r}")
    unlike = torch.log((1.0 - lp.exp()).clamp_min(floor))
    per_tok = torch.where(n, float(weight) * unlike, lp).masked_fill(~m, 0.0)
    loss = -per_tok.sum(-1) / m.sum(-1).clamp_min(1)
    return _out(_reduce(loss, reduction), _is_torch(logp))


def mine_pairs(scores: Any, index: Any, *, k: int = 1, min_margin: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray]:
    r"""Preference pairs from scored samples, within each group (prompt).

    In each group, sort by score; pair the i-th best with the i-th worst for
    :math:`i < k` (never a sample with itself), and keep a pair when
    :math:`s_{best} - s_{worst} > \text{min\_margin}`. Ties are broken by position (the
    earlier sample ranks higher), so the result is deterministic.

    Parameters
    ----------
    scores : array [N] float
    index : array-like [N]
        Group id per sample: integers or strings (floats are refused).
    k : int >= 1
        Pairs per group at most.
    min_margin : float >= 0

    Returns
    -------
    chosen, rejected : int64 arrays [P]
        Indices into ``scores``; groups in order of first appearance.

    Examples
    --------
    >>> mine_pairs([0.1, 0.9, 0.5, 0.2, 0.2], [0, 0, 0, 1, 1])
    (array([1]), array([0]))
    """
    if isinstance(scores, np.ma.MaskedArray):
        raise TypeError("scores is a numpy masked array (its mask would be ignored)")
    s = np.asarray(scores.detach().cpu() if hasattr(scores, "detach") else scores)
    if s.dtype == bool or not np.issubdtype(s.dtype, np.number) or s.ndim != 1:
        raise ValueError(f"scores must be a 1-D array of numbers, got {s.dtype} "
                         f"shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    idx = np.asarray(index.cpu() if hasattr(index, "cpu") else index)
    if idx.dtype.kind in "fc":
        raise TypeError(f"index must hold group labels (integers or strings), got {idx.dtype}")
    if idx.ndim != 1 or len(idx) != len(s):
        raise ValueError(f"index must be 1-D with one group id per score ({len(s)}), got "
                         f"shape {idx.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    check_real(min_margin, "min_margin")
    if not np.isfinite(min_margin) or min_margin < 0:
        raise ValueError(f"min_margin must be a finite number >= 0, got {min_margin!r}")
    _, first, inv = np.unique(idx, return_index=True, return_inverse=True)
    chosen, rejected = [], []
    for g in np.argsort(first):
        members = np.flatnonzero(inv.reshape(-1) == g)
        order = members[np.lexsort((members, -s[members]))]  # best first, stable
        for i in range(min(int(k), len(order) // 2)):
            a, b = order[i], order[len(order) - 1 - i]
            if s[a] - s[b] > min_margin:
                chosen.append(a)
                rejected.append(b)
    return np.asarray(chosen, dtype=np.int64), np.asarray(rejected, dtype=np.int64)


def traj_dpo_loss(lp_phi_pos: Any, lp_old_pos: Any, lp_phi_neg: Any, lp_old_neg: Any, *,
                  beta: float = 0.5, mask_pos: Any | None = None, mask_neg: Any | None = None,
                  reduction: str = "mean") -> Any:
    r"""Trajectory-level DPO that trains OPRL's implicit step reward (book Chapter 9).

    .. math:: J = -\log\sigma\Big(\beta\log\frac{\pi_\phi(\tau^+)}{\pi_{old}(\tau^+)}
              - \beta\log\frac{\pi_\phi(\tau^-)}{\pi_{old}(\tau^-)}\Big)

    :func:`dpo_loss` on whole trajectories, with the policy that sampled them
    (:math:`\pi_{\theta_{old}}`) as the reference and pairs ranked by outcome
    (:math:`\tau^+` succeeded, :math:`\tau^-` failed). The model's per-step log-ratios
    :math:`\beta\log\pi_\phi(a_t)/\pi_{old}(a_t)` are then step rewards that sum to the
    DPO margin's half for each trajectory
    (:func:`creditlab.rewards.implicit_process_reward`).

    Parameters
    ----------
    lp_phi_pos, lp_old_pos, lp_phi_neg, lp_old_neg : [P, T] per-step log-probs or [P]
    beta : float > 0
    mask_pos, mask_neg : bool [P, T], optional
    reduction : {"mean", "sum", "none"}
    """
    return dpo_loss(lp_phi_pos, lp_old_pos, lp_phi_neg, lp_old_neg, beta=beta,
                    mask_chosen=mask_pos, mask_rejected=mask_neg, reduction=reduction)


# --------------------------------------------------------------------------------------
# Chapter 13: token-level credit from sequence-level feedback


def _pair2(a: Any, b: Any, names: tuple[str, str]) -> tuple[Any, Any]:
    """Two same-shape [B, T] tensors (the second cast to the first's dtype)."""
    x = _t(a, names[0], (2,))
    y = _t(b, names[1], (2,))
    if x.shape != y.shape:
        raise ValueError(f"{names[1]} must have the shape of {names[0]} {tuple(x.shape)}, "
                         f"got {tuple(y.shape)}")
    return x, y.to(x.dtype)


def _token_logratio(a: Any, b: Any, mask: Any, beta: float,
                    names: tuple[str, str, str]) -> Any:
    """``beta * (a - b)`` per token, 0 where ``mask`` is False (tensors in, tensor out)."""
    x, y = _pair2(a, b, names[:2])
    r = _beta(beta) * (x - y)
    m = _mask(mask, names[2], tuple(r.shape))
    return r if m is None else r.masked_fill(~m.to(r.device), 0.0)


def token_implicit_reward(logp: Any, ref_logp: Any, mask: Any | None = None, *,
                          beta: float = 0.1) -> Any:
    r"""DPO's implicit reward of each token (Rafailov et al. 2024, "From r to Q*").

    .. math:: r_t = \beta\,\big[\log\pi_\theta(y_t \mid x, y_{<t})
              - \log\pi_{ref}(y_t \mid x, y_{<t})\big]

    The tokens' rewards sum to the sequence's implicit reward :math:`\beta\rho(y)` that
    :func:`dpo_loss` compares, so DPO trained on whole-sequence preferences hands out
    credit per token. The same quantity as Chapter 9's implicit process reward
    (:func:`creditlab.rewards.implicit_process_reward`), with DPO's default
    :math:`\beta = 0.1`. Example: log-probs ``[-1, -2]`` against ``[-1.5, -1]`` with
    :math:`\beta = 0.5` give ``[0.25, -0.5]``.

    Parameters
    ----------
    logp, ref_logp : float array or tensor [B, T]
        Per-token log-probs of the response under the policy and the reference.
    mask : bool [B, T], optional
        Response mask; reward 0 where False.
    beta : float > 0

    Returns
    -------
    [B, T], the input's kind (torch keeps the gradient through ``logp``)
    """
    r = _token_logratio(logp, ref_logp, mask, beta, ("logp", "ref_logp", "mask"))
    return _out(r, _is_torch(logp, ref_logp))


def contrastive_token_reward(logp_better: Any, logp_worse: Any,
                             mask: Any | None = None) -> Any:
    r"""T-REG's self-generated token reward from two contrastive prompts (Zhou et al. 2024).

    .. math:: \hat r_t = \sigma\big(\log\pi(y_t \mid x_{better}, y_{<t})
              - \log\pi(y_t \mid x_{worse}, y_{<t})\big) - \tfrac12
              \ \in (-\tfrac12, \tfrac12)

    where :math:`x_{better}` / :math:`x_{worse}` ask the same model for a better / worse
    response to :math:`x`. A token the "worse" prompt makes more likely gets a negative
    reward. Example: log-probs ``-1`` (better) and ``-3`` (worse) give
    :math:`\sigma(2) - 0.5 = 0.3808`.

    Parameters
    ----------
    logp_better, logp_worse : float array or tensor [B, T]
        Log-probs of the same response tokens after the two prompts.
    mask : bool [B, T], optional
        0 where False.

    Returns
    -------
    [B, T] in (-0.5, 0.5), the input's kind (no gradient: a fixed target)
    """
    torch = _torch()
    a, b = _pair2(logp_better, logp_worse, ("logp_better", "logp_worse"))
    r = (torch.sigmoid(a - b) - 0.5).detach()
    m = _mask(mask, "mask", tuple(r.shape))
    if m is not None:
        r = r.masked_fill(~m.to(r.device), 0.0)
    return _out(r, _is_torch(logp_better, logp_worse))


def t_reg_loss(logp_chosen: Any, ref_chosen: Any, logp_rejected: Any, ref_rejected: Any,
               token_reward_chosen: Any, token_reward_rejected: Any, *, beta: float = 0.1,
               alpha: float = 0.25, mask_chosen: Any | None = None,
               mask_rejected: Any | None = None, token_sum: bool = True,
               reduction: str = "mean") -> Any:
    r"""T-REG-style loss: DPO plus a token-level reward regulariser (Zhou et al. 2024,
    arXiv:2412.02685).

    .. math::
        L = L_{DPO} + \alpha\,w\,\big[L_{REG}(y_w) + L_{REG}(y_l)\big],\qquad
        L_{REG}(y) = -\sum_t m_t\,\beta\,\hat r_t\,\log\pi_\theta(y_t \mid x, y_{<t}),

    with :math:`w = \mathrm{sg}\,\sigma\big(\beta\rho(y_l) - \beta\rho(y_w)\big)` (the
    DPO gradient's own weight, stop-gradient) and :math:`\hat r_t` the self-generated
    token rewards (:func:`contrastive_token_reward`). Minimising :math:`L_{REG}` raises
    :math:`\sum_t \hat r_t\,r_t` for the implicit token rewards
    :math:`r_t = \beta\log\pi_\theta/\pi_{ref}` (:func:`token_implicit_reward`; the
    reference term is constant), pulling DPO's token credit toward :math:`\hat r`.
    *T-REG-style*: the regulariser is reconstructed from a secondary summary of the
    paper (the authors' code was not read); whether :math:`L_{REG}` sums or averages over
    tokens is not confirmed (``token_sum``). Example: with all log-ratios 0 and
    :math:`\hat r = 0` the loss is :math:`\log 2 = 0.6931`.

    Parameters
    ----------
    logp_chosen, ref_chosen, logp_rejected, ref_rejected : [B, T] per-token log-probs
        Policy (gradient flows) and reference.
    token_reward_chosen, token_reward_rejected : [B, T]
        :math:`\hat r` of each token (treated as constants).
    beta : float > 0
    alpha : float >= 0
        Weight of the regulariser (the paper tries 0.1, 0.25, 0.5); 0 gives DPO.
    mask_chosen, mask_rejected : bool [B, T], optional
    token_sum : bool
        Sum :math:`L_{REG}` over tokens (True, as derived) or average it.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    scalar, or [B] for ``reduction="none"``; the input's kind
    """
    torch = _torch()
    b = _beta(beta)
    check_real(alpha, "alpha")
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if not isinstance(token_sum, bool):
        raise TypeError(f"token_sum must be a bool, got {type(token_sum).__name__}")
    h = _margin(logp_chosen, ref_chosen, logp_rejected, ref_rejected, mask_chosen,
                mask_rejected)
    dpo = -torch.nn.functional.logsigmoid(b * h)
    w = torch.sigmoid(-b * h).detach()

    def reg(lp: Any, rhat: Any, mask: Any, names: tuple[str, str, str]) -> Any:
        x, r = _pair2(lp, rhat, names[:2])
        m = _mask(mask, names[2], tuple(x.shape))
        m = torch.ones_like(x, dtype=torch.bool) if m is None else m.to(x.device)
        per = (-b * r.detach() * x).masked_fill(~m, 0.0).sum(-1)
        return per if token_sum else per / m.sum(-1).clamp_min(1)

    reg_w = reg(logp_chosen, token_reward_chosen, mask_chosen,
                ("logp_chosen", "token_reward_chosen", "mask_chosen"))
    reg_l = reg(logp_rejected, token_reward_rejected, mask_rejected,
                ("logp_rejected", "token_reward_rejected", "mask_rejected"))
    if reg_w.shape != dpo.shape:
        raise ValueError("token rewards must have the batch size of the log-probs")
    loss = dpo + float(alpha) * w * (reg_w.to(dpo.dtype) + reg_l.to(dpo.dtype))
    as_torch = _is_torch(logp_chosen, ref_chosen, logp_rejected, ref_rejected)
    return _out(_reduce(loss, reduction), as_torch)


def _lambda(threshold: Any) -> float:
    check_real(threshold, "threshold")
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a finite number > 0, got {threshold!r}")
    return float(threshold)


def cut_token_mask(logp_with_judgment: Any, logp_without: Any, mask: Any | None = None, *,
                   threshold: float = 1.1) -> Any:
    r"""CUT's flags: the tokens a negative judgment makes more likely (Xu et al. 2023,
    arXiv:2312.14591, pinned from the authors' code).

    .. math:: n_t = 1\Big[\frac{p_\theta(y_t \mid x_j, y_{<t})}
              {p_\theta(y_t \mid x, y_{<t})} > \lambda\Big],\qquad \lambda = 1.1

    with :math:`x_j` the instruction with the judgment and :math:`x` without it. A
    judgment that criticises a token raises that token's probability in the judgment
    context, so the ratio flags it. Computed on detached values (a mask, no gradient).
    Example: log-probs ``[-1, -1]`` with the judgment and ``[-1, -2]`` without give
    ratios ``[1, e]``: flags ``[False, True]``.

    Parameters
    ----------
    logp_with_judgment, logp_without : float array or tensor [B, T]
    mask : bool [B, T], optional
        Response mask; never flagged where False.
    threshold : float > 0
        :math:`\lambda`.

    Returns
    -------
    bool [B, T], the input's kind (numpy bool array or torch bool tensor)
    """
    a, b = _pair2(logp_with_judgment, logp_without, ("logp_with_judgment", "logp_without"))
    flags = (a.detach() - b.detach()) > float(np.log(_lambda(threshold)))
    m = _mask(mask, "mask", tuple(flags.shape))
    if m is not None:
        flags = flags & m.to(flags.device)
    if _is_torch(logp_with_judgment, logp_without):
        return flags
    return flags.cpu().numpy()


def cut_loss(logp_with_judgment: Any, logp_without: Any, mask: Any | None = None, *,
             threshold: float = 1.1, weight: float = 1.0, floor: float = 1e-5,
             reduction: str = "mean") -> Any:
    r"""CUT's loss for negative (instruction, response, judgment) triplets (Xu et al. 2023).

    .. math::
        L = \tfrac12\Big[-\tfrac{1}{|y|}\sum_t \log p_\theta(y_t \mid x_j, y_{<t})\Big]
          + \tfrac12\,L_{UL}\big(\log p_\theta(y \mid x),\ n\big)

    The first term (Align-N) is maximum likelihood of the response *with* its judgment:
    the model learns what the judgment says about it. The second (Misalign) is
    :func:`unlikelihood_loss` without the judgment: unlikelihood
    :math:`-w\log(1 - p_t)` on the tokens flagged by :func:`cut_token_mask`, MLE on the
    rest. Positive examples (Align-P) are plain MLE and are not this function's job.
    Example: one token, log-probs ``log 0.5`` with and ``log 0.4`` without the judgment
    (ratio 1.25 > 1.1, flagged), w = 1: :math:`\tfrac12(\log 2 - \log 0.6) = 0.6020`.

    Parameters
    ----------
    logp_with_judgment, logp_without : [B, T] log-probs of the response tokens after
        :math:`x_j` and after :math:`x` (both with gradient).
    mask : bool [B, T], optional
    threshold : float > 0
        :math:`\lambda` (1.1 in CUT's code).
    weight : float >= 0
        ``weight_unlike`` (1 in CUT's script).
    floor : float in (0, 1)
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    scalar, or [B] for ``reduction="none"``; the input's kind
    """
    torch = _torch()
    a, b = _pair2(logp_with_judgment, logp_without, ("logp_with_judgment", "logp_without"))
    flags = cut_token_mask(a, b, mask, threshold=threshold)
    m = _mask(mask, "mask", tuple(a.shape))
    m = torch.ones_like(flags) if m is None else m.to(a.device)
    align_n = -a.masked_fill(~m, 0.0).sum(-1) / m.sum(-1).clamp_min(1)
    misalign = unlikelihood_loss(b, flags, m, weight=weight, floor=floor, reduction="none")
    loss = 0.5 * (align_n + misalign.to(align_n.dtype))
    return _out(_reduce(loss, reduction), _is_torch(logp_with_judgment, logp_without))


PAIR_MODES = ("self", "temporal")


def _group_extremes(scores: Any, index: Any, name: str) -> tuple[np.ndarray, dict, dict]:
    """Per group label: index of the best and of the worst score (ties: first)."""
    from creditlab._backend import number_array, to_numpy

    s = number_array(scores, f"{name}scores")
    if s.ndim != 1:
        raise ValueError(f"{name}scores must be a 1-D array of numbers, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name}scores must be finite")
    idx = to_numpy(index, f"{name}index")
    if idx.dtype.kind in "fc":
        raise TypeError(f"{name}index must hold group labels (integers or strings), got "
                        f"{idx.dtype}")
    if idx.ndim != 1 or len(idx) != len(s):
        raise ValueError(f"{name}index must be 1-D with one group id per score ({len(s)}), "
                         f"got shape {idx.shape}")
    best: dict = {}
    worst: dict = {}
    for i, (g, v) in enumerate(zip(idx.tolist(), s.tolist())):
        if g not in best or v > s[best[g]]:
            best[g] = i
        if g not in worst or v < s[worst[g]]:
            worst[g] = i
    return idx, best, worst


def build_pairs(scores: Any, index: Any, *, mode: str = "self",
                anchor_scores: Any | None = None, anchor_index: Any | None = None,
                future_scores: Any | None = None, future_index: Any | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
    r"""Self-rewarding preference pairs, one per group (prompt).

    ``mode="self"`` (Self-Rewarding LMs, Yuan et al. 2024): from the current model's
    judged samples, chosen = the best-scored, rejected = the worst-scored sample of each
    group (a group whose best and worst score are equal gives no pair).

    ``mode="temporal"`` (Temporal Self-Rewarding LMs, 2025): *anchored rejection*, the
    rejected response is the worst-scored sample of the group from the anchor pool
    (the initial model :math:`M_0`'s samples); *future-guided chosen*, the chosen one is
    the best-scored sample of the group from the future pool (a model one iteration
    ahead). ``scores`` / ``index`` (the current pool) only fix which groups are asked
    for; every group must appear in both pools.

    Parameters
    ----------
    scores : float array [N]
        Judge scores of the current model's samples.
    index : array-like [N]
        Group label (prompt id) of each sample: integers or strings.
    mode : {"self", "temporal"}
    anchor_scores, anchor_index : [N_a], needed for ``"temporal"``
    future_scores, future_index : [N_f], needed for ``"temporal"``

    Returns
    -------
    chosen, rejected : int64 arrays [P]
        Indices of the pairs, groups in order of first appearance in ``index``. For
        ``"self"`` both index the current pool; for ``"temporal"`` ``chosen`` indexes the
        future pool and ``rejected`` the anchor pool.

    Examples
    --------
    >>> build_pairs([0.1, 0.9, 0.5, 0.2, 0.2], [0, 0, 0, 1, 1])
    (array([1]), array([0]))
    >>> build_pairs([0.5, 0.6], [0, 0], mode="temporal", anchor_scores=[0.3, 0.1],
    ...             anchor_index=[0, 0], future_scores=[0.7, 0.9], future_index=[0, 0])
    (array([1]), array([1]))
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"mode must be one of {PAIR_MODES}, got {mode!r}")
    idx, best, worst = _group_extremes(scores, index, "")
    order = list(dict.fromkeys(idx.tolist()))
    if mode == "self":
        from creditlab._backend import number_array

        s = number_array(scores, "scores")
        pairs = [(best[g], worst[g]) for g in order if s[best[g]] > s[worst[g]]]
    else:
        if anchor_scores is None or anchor_index is None or future_scores is None \
                or future_index is None:
            raise ValueError("mode='temporal' needs anchor_scores, anchor_index, "
                             "future_scores and future_index")
        _, _, a_worst = _group_extremes(anchor_scores, anchor_index, "anchor_")
        _, f_best, _ = _group_extremes(future_scores, future_index, "future_")
        missing = [g for g in order if g not in a_worst or g not in f_best]
        if missing:
            raise ValueError(f"index groups {missing[:5]} are missing from anchor_index or "
                             "future_index")
        pairs = [(f_best[g], a_worst[g]) for g in order]
    c = np.asarray([p[0] for p in pairs], np.int64)
    r = np.asarray([p[1] for p in pairs], np.int64)
    return c, r


# --------------------------------------------------------------------------------------
# rewarding generators (Chapter 24): Diffusion-DPO and PRDP's reward-difference regression


def diffusion_dpo_loss(err_chosen: Any, ref_err_chosen: Any, err_rejected: Any,
                       ref_err_rejected: Any, *, beta: float = 1.0,
                       reduction: str = "mean") -> Any:
    r"""Diffusion-DPO loss on per-sample denoising errors (Wallace et al. 2023,
    arXiv:2311.12908, Eq. 14), the loss DRAGON trains its positive/negative sets with.

    .. math:: L = -\log\sigma\Big(-\beta\,\big[(e_\theta(x_w) - e_{ref}(x_w))
              - (e_\theta(x_l) - e_{ref}(x_l))\big]\Big)

    with :math:`e(x) = \lVert \text{target} - \text{prediction}(x_t, t)\rVert^2` the
    denoising error of the policy (:math:`\theta`) and of the frozen reference on the
    same noised sample (the same :math:`t` and noise for both models). Lowering the
    policy's error on the chosen sample relative to the reference, and raising it on the
    rejected one, lowers the loss. The paper's factor :math:`T\,\omega(\lambda_t)` is
    folded into ``beta``. Example: errors ``(0.5, 1.0, 1.0, 1.0)`` and ``beta = 2`` give
    :math:`\log(1 + e^{-1}) = 0.3133`.

    Parameters
    ----------
    err_chosen, ref_err_chosen, err_rejected, ref_err_rejected : array or tensor [N]
        Gradient flows through the policy's errors.
    beta : float > 0
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    scalar, or [N] for ``reduction="none"``; the input's kind
    """
    torch = _torch()
    names = ("err_chosen", "ref_err_chosen", "err_rejected", "ref_err_rejected")
    xs = [_t(x, n, (1,)) for x, n in zip(
        (err_chosen, ref_err_chosen, err_rejected, ref_err_rejected), names)]
    for x, n in zip(xs[1:], names[1:]):
        if x.shape != xs[0].shape:
            raise ValueError(f"{n} must have the shape of err_chosen {tuple(xs[0].shape)}, "
                             f"got {tuple(x.shape)}")
    dt = xs[0].dtype
    w, rw, lo, rl = (x.to(dt) for x in xs)
    h = (w - rw.detach()) - (lo - rl.detach())
    loss = -torch.nn.functional.logsigmoid(-_beta(beta) * h)
    as_torch = _is_torch(err_chosen, ref_err_chosen, err_rejected, ref_err_rejected)
    return _out(_reduce(loss, reduction), as_torch)


def rdp_loss(logratio_a: Any, logratio_b: Any, r_a: Any, r_b: Any, *, beta: float,
             old_logratio_a: Any | None = None, old_logratio_b: Any | None = None,
             clip: float | None = None, reduction: str = "mean") -> Any:
    r"""PRDP's reward-difference-prediction loss (Deng et al. 2024, arXiv:2402.08714,
    Eqs. 9-12 and the authors' JAX code, App. G).

    For a pair of denoising trajectories :math:`a, b` with per-step log-ratios
    :math:`\hat r_t = \log\pi_\theta(x_{t-1} \mid x_t, c) - \log\pi_{ref}(x_{t-1}
    \mid x_t, c)`:

    .. math::
        \hat r = \frac1T\sum_t \hat r_t, \qquad
        l = \Big(\hat r(a) - \hat r(b) - \frac{r(a) - r(b)}{\beta}\Big)^2

    (the step *mean*, as the code; the paper's Eq. 9 sums, which rescales
    :math:`\beta` by :math:`T`). Its minimiser over all pairs is
    :math:`\pi_\theta \propto \pi_{ref}\exp(r / \beta)`, the KL-regularised RL optimum.
    With ``clip`` :math:`= \epsilon` and the log-ratios of the sampling policy
    :math:`\theta_{old}`, the proximal version clips every step,
    :math:`\hat r^{clip}_t = \mathrm{clip}(\hat r_t, \hat r^{old}_t - \epsilon,
    \hat r^{old}_t + \epsilon)`, and takes the pessimistic
    :math:`\max(l, l^{clip})` (PPO-style).

    The loss is symmetric in :math:`a \leftrightarrow b`; the code keeps the ordered
    pairs with :math:`r(a) > r(b)`, i.e. each unordered pair once (pass each pair once).

    Parameters
    ----------
    logratio_a, logratio_b : array or tensor [N, T] (per step) or [N] (already averaged)
        :math:`\log\pi_\theta - \log\pi_{ref}`; gradient flows through them. With [N]
        inputs the "per-step" clip is a clip of the step mean.
    r_a, r_b : array or tensor [N]
        Rewards of the final samples.
    beta : float > 0
    old_logratio_a, old_logratio_b : like ``logratio_a``, optional
        The same log-ratios under :math:`\theta_{old}` (needed with ``clip``).
    clip : float > 0 or None
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    scalar, or [N] for ``reduction="none"``; the input's kind

    Examples
    --------
    ``logratio_a = [0.3], logratio_b = [0.1], r_a = [1.0], r_b = [0.0], beta = 10`` gives
    :math:`(0.2 - 0.1)^2 = 0.01`.
    """
    torch = _torch()
    b = _beta(beta)
    la, lb = _t(logratio_a, "logratio_a", (1, 2)), _t(logratio_b, "logratio_b", (1, 2))
    if la.shape != lb.shape:
        raise ValueError(f"logratio_b must have the shape of logratio_a {tuple(la.shape)}, "
                         f"got {tuple(lb.shape)}")
    ra, rb = _t(r_a, "r_a", (1,)), _t(r_b, "r_b", (1,))
    for x, n in ((ra, "r_a"), (rb, "r_b")):
        if x.shape != la.shape[:1]:
            raise ValueError(f"{n} must have shape [{la.shape[0]}], got {tuple(x.shape)}")
    dt = la.dtype
    target = (ra.to(dt) - rb.to(dt)) / b

    def _pred(a: Any, c: Any) -> Any:
        return (a.mean(-1) if a.ndim == 2 else a) - (c.mean(-1) if c.ndim == 2 else c)

    loss = (_pred(la, lb.to(dt)) - target) ** 2
    if clip is not None:
        eps = check_real(clip, "clip")
        if not np.isfinite(eps) or eps <= 0:
            raise ValueError(f"clip must be a finite number > 0, got {clip!r}")
        if old_logratio_a is None or old_logratio_b is None:
            raise ValueError("clip needs old_logratio_a and old_logratio_b")
        oa = _t(old_logratio_a, "old_logratio_a", (1, 2))
        ob = _t(old_logratio_b, "old_logratio_b", (1, 2))
        for x, n in ((oa, "old_logratio_a"), (ob, "old_logratio_b")):
            if x.shape != la.shape:
                raise ValueError(f"{n} must have the shape of logratio_a "
                                 f"{tuple(la.shape)}, got {tuple(x.shape)}")
        oa, ob = oa.detach().to(dt), ob.detach().to(dt)
        ca = torch.minimum(torch.maximum(la, oa - eps), oa + eps)
        cb = torch.minimum(torch.maximum(lb.to(dt), ob - eps), ob + eps)
        loss = torch.maximum(loss, (_pred(ca, cb) - target) ** 2)
    elif old_logratio_a is not None or old_logratio_b is not None:
        raise ValueError("old_logratio_a / old_logratio_b need clip")
    as_torch = _is_torch(logratio_a, logratio_b, r_a, r_b)
    return _out(_reduce(loss, reduction), as_torch)


def leave_one_out_split(samples: Any, set_reward: Any, *, frac: float = 0.25
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Split a batch of generations into a positive and a negative set by each sample's
    leave-one-out contribution to a distribution-level reward (DRAGON-style, Bai et al.
    2025, arXiv:2504.15217; the paper does not pin the split rule).

    .. math:: \Delta_i = R(X) - R(X \setminus \{x_i\})

    :math:`\Delta_i > 0`: the set is better with :math:`x_i` (e.g. ``set_reward`` =
    minus the Fréchet distance to an exemplar set). The ``k = max(1, round(frac * n))``
    samples with the largest :math:`\Delta` form :math:`D^+`, the ``k`` smallest
    :math:`D^-`.

    Parameters
    ----------
    samples : float array [n, d], n >= 4 (not modified)
    set_reward : callable ([m, d] ndarray) -> float
        Higher is better; called ``n + 1`` times, on ``samples`` and on every
        leave-one-out subset.
    frac : float in (0, 0.5]

    Returns
    -------
    pos : np.ndarray [k] int64, neg : np.ndarray [k] int64
        Indices into ``samples`` (disjoint), best first / worst first.
    delta : np.ndarray [n] float64
        :math:`\Delta_i`.
    """
    x = np.array(number_array(samples, "samples"), dtype=np.float64)
    if x.ndim != 2 or len(x) < 4:
        raise ValueError(f"samples must have shape [n >= 4, d], got {x.shape}")
    check_finite(x, "samples")
    if not callable(set_reward):
        raise TypeError("set_reward must be callable ([m, d] ndarray) -> float")
    frac = check_real(frac, "frac")
    if not 0 < frac <= 0.5:
        raise ValueError(f"frac must be in (0, 0.5], got {frac!r}")
    n = len(x)
    full = float(set_reward(x.copy()))
    keep = ~np.eye(n, dtype=bool)
    delta = np.array([full - float(set_reward(x[keep[i]])) for i in range(n)])
    if not np.isfinite(delta).all():
        raise ValueError("set_reward must return finite values")
    k = max(1, min(int(round(frac * n)), n // 2))
    order = np.argsort(-delta, kind="stable")
    return order[:k].astype(np.int64), order[::-1][:k].astype(np.int64), delta


def dpo_loss_gaussian(policy: Any, ref_policy: Any, obs: Any, a_chosen: Any, a_rejected: Any,
                      *, beta: float = 0.1, reduction: str = "mean") -> Any:
    r"""DPO for a Gaussian (continuous-action) policy on (state, chosen, rejected) triples.

    .. math:: L = -\log\sigma\Big(\beta\big[\log\tfrac{\pi_\theta(a_w\mid s)}
              {\pi_{ref}(a_w\mid s)} - \log\tfrac{\pi_\theta(a_l\mid s)}
              {\pi_{ref}(a_l\mid s)}\big]\Big)

    :func:`dpo_loss` with :math:`\log\pi(a\mid s)` the diagonal Gaussian's log-density
    summed over action dimensions (NORA-1.5 trains its action expert with DPO on pairs
    ranked by world-model and deviation rewards; here the policy is a Gaussian MLP).

    Parameters
    ----------
    policy, ref_policy : :class:`~creditlab.models.GaussianPolicy` (anything with
        ``log_prob(obs, actions) -> [B]``); the reference is evaluated without gradient.
    obs : float [B, obs_dim]
    a_chosen, a_rejected : float [B, act_dim]
    beta : float > 0
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    torch scalar (or [B] for ``reduction="none"``), differentiable in ``policy``.
    """
    torch = _torch()
    for name, p in (("policy", policy), ("ref_policy", ref_policy)):
        if not callable(getattr(p, "log_prob", None)):
            raise TypeError(f"{name} must have a log_prob(obs, actions) method, got "
                            f"{type(p).__name__}")
    shapes = {}
    for name, x in (("obs", obs), ("a_chosen", a_chosen), ("a_rejected", a_rejected)):
        shapes[name] = check_finite(number_array(x, name), name).shape
    if len(shapes["a_chosen"]) != 2 or shapes["a_chosen"] != shapes["a_rejected"]:
        raise ValueError(f"a_chosen and a_rejected must be [B, act_dim] of the same shape, got "
                         f"{shapes['a_chosen']} and {shapes['a_rejected']}")
    if len(shapes["obs"]) < 2 or shapes["obs"][0] != shapes["a_chosen"][0]:
        raise ValueError(f"obs must have one row per action pair ({shapes['a_chosen'][0]}), "
                         f"got shape {shapes['obs']}")
    lw = policy.log_prob(obs, a_chosen)
    ll = policy.log_prob(obs, a_rejected)
    with torch.no_grad():
        rw = ref_policy.log_prob(obs, a_chosen)
        rl = ref_policy.log_prob(obs, a_rejected)
    return dpo_loss(lw, rw, ll, rl, beta=beta, reduction=reduction)
