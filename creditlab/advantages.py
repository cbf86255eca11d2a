"""Advantages from outcome scores and normalisation: GRPO, RLOO, Dr.GRPO, masked whitening.

The group helpers take one scalar score per sequence and an ``index`` naming each
sequence's group (the prompt it answers), and return one advantage per sequence; they
are segment reductions (``np.bincount``), not Python loops. Broadcast a result over a
sequence's tokens with ``adv[:, None] * response_mask``. They follow verl's
``core_algos`` conventions (checked in ``tests/test_advantages.py``).

torch CUDA tensors run the CUDA kernels of ``csrc/cuda/groups.cu`` (float64 per-group
sums by atomics, so the last bits of a float64 result may vary from run to run) and come
back as CUDA tensors; an ``index`` that is not a CUDA tensor (e.g. strings) is mapped to
group ids on the host and copied over. ``masked_whiten`` reads the mask's count back to
the host to check it (one synchronisation), as verl does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab import _cuda
from creditlab._backend import (
    bool_array,
    check_real,
    compiled,
    dtype_of,
    float_array,
    like,
    to_numpy,
)

__all__ = ["dr_grpo", "grpo", "masked_whiten", "rloo", "sigma_filter",
           "oprl_advantages", "prime_advantages", "stage_structured",
           "entropy_modulated"]


def _scores(scores: Any, cuda: bool) -> Any:
    s = float_array(scores, "scores", allow_cuda=cuda)
    if s.ndim != 1:
        raise ValueError(
            f"scores must be 1-D [N] (one score per sequence), got shape {tuple(s.shape)}; "
            "sum token-level rewards first, e.g. rewards.sum(-1)"
        )
    return s


def _group_ids(idx: np.ndarray) -> np.ndarray:
    """Group number (0..G-1) of each entry of a 1-D ``index`` of ids, or a clear error."""
    if isinstance(idx, np.ma.MaskedArray):
        raise TypeError("index is a numpy masked array; pass plain group ids")
    if idx.dtype.kind == "f" and not np.isfinite(idx).all():
        raise ValueError("index (group ids) must not hold NaN or inf")
    try:
        _, group = np.unique(idx, return_inverse=True)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in idx.tolist()})
        raise TypeError(
            f"index (group ids) must hold ids of one sortable type (ints or strings), got a "
            f"mix of {kinds}; convert them, e.g. index=np.asarray(index, dtype=str)"
        ) from None
    return group.reshape(-1)


def _check_index(idx: Any, n: int) -> None:
    if idx.ndim != 1 or len(idx) != n:
        raise ValueError(
            f"index must be 1-D with one group id per score ({n}), got shape "
            f"{tuple(idx.shape)}"
        )


def _groups(scores: Any, index: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = _scores(scores, False)
    idx = np.asarray(index.cpu() if hasattr(index, "cpu") else index)
    _check_index(idx, len(s))
    group = _group_ids(idx)
    counts = np.bincount(group)
    return s, group, counts


# Modes of the CUDA launcher (csrc/cuda/groups.h: GroupMode).
_GRPO, _DR_GRPO, _RLOO = 0, 1, 2


def _cuda_groups(scores: Any, index: Any, mode: int, eps: float) -> Any:
    """GRPO / Dr.GRPO / RLOO on CUDA ``scores`` (None when ``scores`` is not CUDA)."""
    device = _cuda.cuda_device({"scores": scores})
    if device is None:
        return None
    import torch

    s = _scores(scores, True).contiguous()
    if _cuda.is_cuda(index):
        _cuda.common_device({"scores": scores, "index": index})
        _check_index(index, len(s))
        with _cuda.on_device(device):
            _, group = torch.unique(index, return_inverse=True)  # sorts on the device
        group = group.reshape(-1).to(torch.int64).contiguous()
        n_groups = int(group.max()) + 1 if len(s) else 0
    else:
        idx = np.asarray(index.cpu() if hasattr(index, "cpu") else index)
        _check_index(idx, len(s))
        g = _group_ids(idx).astype(np.int64)
        n_groups = int(g.max()) + 1 if len(g) else 0
        group = _cuda.to_device(g, device)
    out = _cuda.empty(tuple(s.shape), dtype_of(s), device)
    if len(s):
        fn = getattr(compiled(), f"cuda_group_advantages_{_suffix(s)}")
        with _cuda.on_device(device):
            ws = _cuda.empty((3 * n_groups,), np.float64, device)
            fn(_cuda.ptr(s), _cuda.ptr(group), len(s), n_groups, mode, eps, _cuda.ptr(out),
               _cuda.ptr(ws), _cuda.stream(device))
    return out


def _suffix(a: Any) -> str:
    return "f32" if dtype_of(a) == np.float32 else "f64"


def _group_mean(s: np.ndarray, group: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.bincount(group, weights=s.astype(np.float64)) / np.maximum(counts, 1)


def grpo(scores: Any, index: Any, *, eps: float = 1e-6, norm_by_std: bool = True,
         std_floor: float = 0.0) -> Any:
    r"""GRPO outcome advantages (Shao et al. 2024, arXiv:2402.03300).

    .. math:: A_i = \frac{s_i - \mathrm{mean}_{g(i)}(s)}{\mathrm{std}_{g(i)}(s) + \epsilon}

    with the unbiased (n-1) standard deviation of the group. A group of one sequence
    has mean 0 and std 1 (verl's convention). ``norm_by_std=False`` gives Dr.GRPO.

    Peer conventions: the default follows verl's loop ``compute_grpo_outcome_advantage``,
    which does not floor the standard deviation, so a group whose scores are all equal
    but for rounding gets advantages of up to ``1 / eps`` times that rounding. verl's
    ``grpo_vectorized`` floors it; ``std_floor > 0`` does the same here: the divisor
    is ``max(std, std_floor) + eps``.

    Parameters
    ----------
    scores : array [N], float32/float64
    index : array-like [N]
        Group id of each sequence (ints or strings of one type).
    eps : float >= 0
        Added to the std (a negative eps could flip the sign of an advantage).
    norm_by_std : bool
    std_floor : float >= 0
        Lower bound of each group's std (0: none, the default). CPU only.

    Returns
    -------
    array [N] like ``scores``
    """
    eps = check_real(eps, "eps")
    if eps < 0:
        raise ValueError(f"eps must be a finite number >= 0 (added to the group std; a "
                         f"negative eps can flip the sign of advantages), got {eps}")
    std_floor = check_real(std_floor, "std_floor")
    if std_floor < 0:
        raise ValueError(f"std_floor must be a finite number >= 0, got {std_floor}")
    if std_floor > 0 and _cuda.cuda_device({"scores": scores}) is not None:
        raise ValueError("std_floor is not available for CUDA scores; move them with .cpu()")
    cuda = _cuda_groups(scores, index, _GRPO if norm_by_std else _DR_GRPO, eps)
    if cuda is not None:
        return cuda
    s, group, counts = _groups(scores, index)
    mean = _group_mean(s, group, counts)
    n = counts[group]
    mu = np.where(n > 1, mean[group], 0.0)
    adv = s - mu
    if norm_by_std:
        sq = np.bincount(group, weights=(s - mean[group]) ** 2)
        std = np.maximum(np.sqrt(sq / np.maximum(counts - 1, 1)), std_floor)
        sd = np.where(n > 1, std[group], 1.0)
        adv = adv / (sd + eps)
    return like(adv.astype(s.dtype), scores)


def dr_grpo(scores: Any, index: Any) -> Any:
    r"""Dr.GRPO advantages (Liu et al. 2025, arXiv:2503.20783).

    :math:`A_i = s_i - \mathrm{mean}_{g(i)}(s)`.

    GRPO without the division by the group's standard deviation. Same arguments as
    :func:`grpo`.
    """
    return grpo(scores, index, norm_by_std=False)


def rloo(scores: Any, index: Any, *, singleton: str = "keep") -> Any:
    r"""REINFORCE leave-one-out advantages (Ahmadian et al. 2024, arXiv:2402.14740).

    .. math:: A_i = s_i - \frac{1}{n-1}\sum_{j \ne i, g(j) = g(i)} s_j
              = \frac{n}{n-1}(s_i - \mathrm{mean}_{g(i)}(s))

    A group of one sequence has no other sample to form a baseline from. Peers differ:
    ``singleton="keep"`` (default) keeps its score, as verl's loop
    ``compute_rloo_outcome_advantage`` does; ``singleton="zero"`` gives it 0, as verl's
    ``rloo_vectorized`` and TRL's RLOO do (no learning signal without a baseline).

    Parameters
    ----------
    scores : array [N], float32/float64
    index : array-like [N]
        Group id of each sequence.
    singleton : {"keep", "zero"}
    """
    if singleton not in ("keep", "zero"):
        raise ValueError(f"singleton must be 'keep' or 'zero', got {singleton!r}")
    cuda = _cuda_groups(scores, index, _RLOO, 0.0)
    if cuda is not None:
        if singleton == "zero":
            import torch

            idx = index if _cuda.is_cuda(index) else _cuda.to_device(
                _group_ids(np.asarray(index.cpu() if hasattr(index, "cpu") else index)),
                cuda.device)
            _, inv, cnt = torch.unique(idx, return_inverse=True, return_counts=True)
            cuda = torch.where(cnt[inv] > 1, cuda, torch.zeros_like(cuda))
        return cuda
    s, group, counts = _groups(scores, index)
    mean = _group_mean(s, group, counts)
    n = counts[group].astype(np.float64)
    alone = s if singleton == "keep" else np.zeros_like(s)
    adv = np.where(n > 1, (s - mean[group]) * n / np.maximum(n - 1, 1), alone)
    return like(adv.astype(s.dtype), scores)


def masked_whiten(
    x: Any, mask: Any, *, unbiased: bool = True, eps: float = 1e-8, shift_mean: bool = True
) -> Any:
    r"""Whiten ``x`` with the mean and variance of its unmasked entries (verl/TRL).

    .. math:: \hat x = (x - \mu)\,/\sqrt{\sigma^2 + \epsilon}

    with :math:`\mu, \sigma^2` over entries where ``mask`` is True (variance with Bessel's
    correction when ``unbiased``). ``shift_mean=False`` adds :math:`\mu` back. Masked
    entries are transformed too, not zeroed, as in verl; the loss masks them later.

    Parameters
    ----------
    x : array, float32/float64
    mask : bool array, same shape as ``x``
    unbiased : bool
    eps : float >= 0
    shift_mean : bool

    Returns
    -------
    array like ``x``

    Raises
    ------
    ValueError
        If the mask selects no entry, or only one with ``unbiased=True``.
    """
    device = _cuda.cuda_device({"x": x, "mask": mask})
    cuda = device is not None
    a = float_array(x, "x", allow_cuda=cuda)
    m = bool_array(mask, "mask", allow_cuda=cuda)
    if tuple(m.shape) != tuple(a.shape):
        raise ValueError(
            f"mask must have the same shape as x {tuple(a.shape)}, got {tuple(m.shape)}"
        )
    eps = check_real(eps, "eps")
    if eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    n = int(m.sum())
    if n == 0:
        raise ValueError("mask selects no entry: cannot whiten")
    if unbiased and n == 1:
        raise ValueError("mask selects one entry: the unbiased variance is undefined")
    if cuda:
        a, m = a.contiguous(), m.contiguous()
        out = _cuda.empty(tuple(a.shape), dtype_of(a), device)
        with _cuda.on_device(device):
            ws = _cuda.empty((3,), np.float64, device)
            getattr(compiled(), f"cuda_masked_whiten_{_suffix(a)}")(
                _cuda.ptr(a), _cuda.ptr(m), a.numel(), bool(unbiased), float(eps),
                bool(shift_mean), _cuda.ptr(out), _cuda.ptr(ws), _cuda.stream(device),
            )
        return out
    mean = a.sum(where=m, dtype=np.float64) / n
    var = ((a - mean) ** 2).sum(where=m, dtype=np.float64) / (n - 1 if unbiased else n)
    out = (a - mean) / np.sqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return like(out.astype(a.dtype), x)


def sigma_filter(adv: Any, k: float = 3.0) -> Any:
    r"""Zero outlying advantages: StableReinforce-style advantage filter (Zhang et al.
    2025, R1-Reward, arXiv:2505.02835; Chapter 8).

    With :math:`\mu, \sigma` the mean and (population) standard deviation of the batch,

    .. math:: \tilde A_i = A_i \, \mathbb 1\left[|A_i - \mu| \le k \sigma\right].

    *StableReinforce-style*: the paper drops the samples; we set their advantages to 0, so
    they contribute no gradient but still count in a mean-over-samples divisor. With
    :math:`\sigma = 0` nothing is dropped. Note the bound on what can be dropped: in a
    batch of :math:`N`, one value can lie at most :math:`\sqrt{N-1}\,\sigma` from the
    mean, so with ``k = 3`` a batch of :math:`N \le 10` never loses anything.

    Parameters
    ----------
    adv : array [N], float32 or float64 (numpy or torch)
        Finite advantages of one batch (NaN / inf raise a ValueError).
    k : float > 0
        The threshold in standard deviations (the paper's 3).

    Returns
    -------
    array [N], same dtype and kind as ``adv``: a new array (``adv`` is not modified); for
    a torch input a new CPU tensor with no autograd history (advantages are constants).
    """
    a = float_array(adv, "adv")
    if a.ndim != 1:
        raise ValueError(f"adv must be 1-D [N], got shape {tuple(a.shape)}")
    if not np.isfinite(a).all():
        raise ValueError("adv must be finite (no NaN or inf)")
    k = check_real(k, "k")
    if not k > 0:
        raise ValueError(f"k must be a finite number > 0, got {k!r}")
    if a.size == 0:
        return like(a.copy(), adv)
    x = a.astype(np.float64)
    sd = x.std()
    keep = np.abs(x - x.mean()) <= k * sd if sd > 0 else np.ones(len(x), bool)
    return like(np.where(keep, a, 0).astype(a.dtype), adv)


# --------------------------------------------------------------------------------------
# Chapter 9: outcome advantages blended with learned step rewards


def _steps_and_mask(step_rewards: Any, response_mask: Any, name: str) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    from creditlab._backend import check_finite, to_numpy

    r = to_numpy(step_rewards, name)
    if r.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {r.dtype}")
    if r.ndim != 2:
        raise ValueError(f"{name} must be 2-D [B, T], got shape {tuple(r.shape)}")
    m = bool_array(response_mask, "response_mask")
    if m.shape != r.shape:
        raise ValueError(f"response_mask must have the shape of {name} {tuple(r.shape)}, got "
                         f"{tuple(m.shape)}")
    r = r.astype(np.float64)
    if not np.isfinite(r[m]).all():
        raise ValueError(f"{name} must be finite on active steps")
    check_finite(np.where(m, r, 0.0), name)
    return np.where(m, r, 0.0), m


def _outcome(outcome: Any) -> np.ndarray:
    from creditlab._backend import to_numpy

    o = to_numpy(outcome, "outcome")
    if o.dtype.kind not in "biuf":
        raise TypeError(f"outcome must be a numeric array, got dtype {o.dtype}")
    if o.ndim != 1:
        raise ValueError(f"outcome must be 1-D [B], got shape {o.shape}")
    return o.astype(np.float64)


def oprl_advantages(outcome: Any, step_rewards: Any, index: Any, response_mask: Any, *,
                    alpha: float = 1.0, eps: float = 1e-6) -> np.ndarray:
    r"""OPRL's (iStar's) advantage: episode-level plus step-level, A = A^E + alpha A^S.

    .. math:: A^E_i = \frac{r_o(\tau_i) - \mathrm{mean}_g r_o}{\mathrm{std}_g r_o + \epsilon},
              \qquad A^S_{i,t} = \frac{r_{i,t} - \mathrm{mean}(R_s)}{\mathrm{std}(R_s) + \epsilon}

    where :math:`A^E` is GRPO on the outcomes (:func:`grpo`) broadcast to every step and
    :math:`R_s` pools *all* active step rewards of the group's rollouts. The paper uses
    :math:`\alpha = 1` and implicit step rewards
    :math:`r_{i,t} = \beta\log\pi_\phi/\pi_{\theta_{old}}`
    (:func:`creditlab.rewards.implicit_process_reward`).

    Parameters
    ----------
    outcome : float array [B]
    step_rewards : float array [B, T]
    index : array-like [B]
        Group id (prompt) of each rollout.
    response_mask : bool [B, T]
    alpha : float
    eps : float > 0

    Returns
    -------
    float64 array [B, T] (0 on padding)
    """
    r, m = _steps_and_mask(step_rewards, response_mask, "step_rewards")
    alpha = check_real(alpha, "alpha")
    a_e = np.asarray(grpo(_outcome(outcome), index, eps=eps), np.float64)
    if a_e.shape != (r.shape[0],):
        raise ValueError(f"outcome must have shape ({r.shape[0]},), got {a_e.shape}")
    group = _group_ids(np.asarray(index))
    G = group.max() + 1
    row_g = np.broadcast_to(group[:, None], r.shape)[m]
    cnt = np.bincount(row_g, minlength=G).astype(np.float64)
    mean = np.bincount(row_g, r[m], minlength=G) / np.maximum(cnt, 1)
    var = np.bincount(row_g, (r[m] - mean[row_g]) ** 2, minlength=G) / np.maximum(cnt - 1, 1)
    a_s = (r - mean[group][:, None]) / (np.sqrt(var)[group][:, None] + eps)
    return np.where(m, a_e[:, None] + alpha * a_s, 0.0)


def prime_advantages(token_rewards: Any, outcome: Any, index: Any, response_mask: Any, *,
                     gamma: float = 1.0, whiten: bool = True) -> np.ndarray:
    r"""PRIME's advantage: RLOO on dense and outcome rewards separately, summed, whitened.

    As in PRIME's ``compute_rloo_returns`` (Cui et al. 2025), for a group of :math:`K`
    rollouts and each reward source: the dense (implicit PRM) rewards get
    :math:`r'_{i,t} = r_{i,t}\frac{K}{K-1} - \frac{1}{K-1}\sum_j \bar r_j` with
    :math:`\bar r_j` rollout :math:`j`'s mean dense reward (:func:`rloo` on the means,
    plus :math:`\frac{K}{K-1}(r_{i,t} - \bar r_i)`), returns
    :math:`\sum_{s \ge t}\gamma^{s-t} r'_{i,s}`; the outcome gets :func:`rloo`, on every
    step; the two are added and whitened over the batch (:func:`masked_whiten`).

    Parameters
    ----------
    token_rewards : float array [B, T]
        Dense rewards. PRIME's code passes :math:`r_t = \beta q_t =
        \beta\log\pi_\phi(y_t)/\pi_{ref}(y_t)` with :math:`\beta = 0.05`
        (``prime_dp_rm.py``: ``r = q * beta``), not the raw log-ratio: the whitening of the
        summed advantage does not undo the relative scale of the two sources. PRIME also
        divides the dense rewards by the batch's largest absolute return-to-go
        (``prime_norm``) first; this function does not.
    outcome : float array [B]
    index : array-like [B]
    response_mask : bool [B, T]
    gamma : float in [0, 1]
    whiten : bool

    Returns
    -------
    float64 array [B, T] (0 on padding)
    """
    from creditlab.returns import discounted_returns

    r, m = _steps_and_mask(token_rewards, response_mask, "token_rewards")
    gamma = check_real(gamma, "gamma")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    B = r.shape[0]
    n = np.maximum(m.sum(1), 1)
    mean = r.sum(1) / n
    a_o = np.asarray(rloo(_outcome(outcome), index), np.float64)
    if a_o.shape != (B,):
        raise ValueError(f"outcome must have shape ({B},), got {a_o.shape}")
    group = _group_ids(np.asarray(index))
    K = np.bincount(group)[group].astype(np.float64)
    scale = np.where(K > 1, K / np.maximum(K - 1, 1), 1.0)
    a_mean = np.asarray(rloo(mean, index), np.float64)
    dense = a_mean[:, None] + scale[:, None] * (r - mean[:, None])
    G = discounted_returns(np.where(m, dense, 0.0), gamma, response_mask=m)
    A = np.where(m, G + a_o[:, None], 0.0)
    if whiten and m.sum() > 1:
        A = masked_whiten(np.ascontiguousarray(A), m)
    return np.where(m, A, 0.0)
def stage_structured(stage_scores: Any, stage_ids: Any, index: Any, *, outcome: Any = None,
                     w_outcome: float = 0.5, eps: float = 1e-6,
                     norm_by_std: bool = True) -> np.ndarray:
    r"""Stage-structured group advantages, RubricEM-style SS-GRPO (book Chapter 10).

    Each stage :math:`k` of a response gets its own group-normalised score, and a step
    is credited with the score of the stage it belongs to:

    .. math:: A_{i,t} = \mathrm{GRPO}_g\big(s_{\cdot,k(i,t)}\big)_i
              + w_o\, \mathrm{GRPO}_g(o)_i,

    where :math:`\mathrm{GRPO}_g(x)_i = (x_i - \mathrm{mean}_{g(i)} x) /
    (\mathrm{std}_{g(i)} x + \epsilon)` (:func:`grpo`, per stage, within each prompt's
    group), :math:`k(i,t)` is step :math:`t`'s stage and :math:`o` an optional outcome
    score broadcast to every step. Broadcast GRPO is the special case of one stage.

    RubricEM-style: RubricEM (2026) scores each stage with stage-specific rubric
    judgments instead of broadcasting one terminal reward; its exact weighting of stage
    and outcome terms is not pinned in the sources we read. This reconstruction
    normalises each stage separately and adds ``w_outcome`` times the outcome's GRPO
    advantage.

    Parameters
    ----------
    stage_scores : float array [B, K]
        Score of each response's stages (e.g. the fraction of rubric items met).
    stage_ids : int array [B, T]
        Stage of each step, in ``0..K-1``; -1 marks padding (advantage 0).
    index : array-like [B]
        Group id (prompt) of each response.
    outcome : float array [B], optional
    w_outcome : float
        Weight of the outcome term (ignored without ``outcome``).
    eps : float >= 0
    norm_by_std : bool
        False: Dr.GRPO-style centring only.

    Returns
    -------
    float64 numpy array [B, T]. Inputs are not modified.
    """
    sc = to_numpy(float_array(stage_scores, "stage_scores"), "stage_scores").astype(np.float64)
    if sc.ndim != 2 or sc.shape[1] == 0:
        raise ValueError(f"stage_scores must be a float array [B, K] with K >= 1, got shape "
                         f"{sc.shape}")
    if not np.isfinite(sc).all():
        raise ValueError("stage_scores must be finite (no NaN or inf)")
    B, K = sc.shape
    ids = to_numpy(stage_ids, "stage_ids")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"stage_ids must be an integer array, got dtype {ids.dtype}")
    if ids.ndim != 2 or ids.shape[0] != B:
        raise ValueError(f"stage_ids must have shape [B={B}, T], got {ids.shape}")
    if ((ids < -1) | (ids >= K)).any():
        raise ValueError(f"stage_ids must be in -1..{K - 1} (-1: padding), got values in "
                         f"[{ids.min()}, {ids.max()}]")
    w = check_real(w_outcome, "w_outcome")
    per_stage = np.stack([to_numpy(grpo(sc[:, k], index, eps=eps, norm_by_std=norm_by_std),
                                   "adv") for k in range(K)], 1)  # [B, K]
    A = np.take_along_axis(per_stage, np.maximum(ids, 0), 1)
    if outcome is not None:
        o = to_numpy(float_array(outcome, "outcome"), "outcome").astype(np.float64)
        if o.shape != (B,) or not np.isfinite(o).all():
            raise ValueError(f"outcome must be a finite float array of shape ({B},), got "
                             f"{o.shape}")
        A = A + w * np.asarray(grpo(o, index, eps=eps, norm_by_std=norm_by_std))[:, None]
    return np.where(ids >= 0, A, 0.0)


def entropy_modulated(advantages: Any, entropy: Any, response_mask: Any, *, k: float = 1.0,
                      k_next: float = 1.0, zeta: float = 0.05, use_g: bool = True,
                      use_f: bool = True, center: bool = True) -> np.ndarray:
    r"""EMPG: Entropy-Modulated Policy Gradients (Wang et al. 2025, arXiv 2509.09265).

    Re-weights each step's advantage by the policy's confidence at that step and adds a
    bonus for reaching a confident next step. With :math:`H_{i,t}` the (mean token)
    entropy of step t of trajectory i and the batch min-max normalisation
    :math:`\tilde H = (H - \min H) / (\max H - \min H + 10^{-8})` over active steps:

    .. math::

        g(H_{i,t}) = \frac{e^{-k \tilde H_{i,t}}}{\frac{1}{\sum_j T_j}\sum_{j,t'}
        e^{-k \tilde H_{j,t'}}}, \qquad f(H_{i,t+1}) = e^{-k' \tilde H_{i,t+1}},

        A^{mod}_{i,t} = g(H_{i,t})\, A_{i,t} + \zeta\, f(H_{i,t+1}),

    then the batch mean of :math:`A^{mod}` over active steps is subtracted. g has mean 1
    over the batch's steps: confident steps (low entropy) get larger updates in either
    direction (a confident error is penalised more), uncertain ones smaller. The last
    active step of a trajectory has no t+1 and gets no bonus (as in the ARLArena
    implementation the project checked; paper App. A, Eqs. S21-S23; the project's
    ``research/formulas.md`` [46]). Defaults k = k' = 1, zeta = 0.05.

    Parameters
    ----------
    advantages : float [B, T]
        The base advantage of each step (e.g. a GRPO advantage broadcast over steps).
    entropy : float [B, T]
        Entropy of the policy at each step (>= 0, finite on active steps).
    response_mask : bool [B, T]
        Active steps; a row's active steps must be a prefix (steps 0..T_i-1).
    k, k_next : float
        Temperatures of g and f (finite).
    zeta : float
        Weight of the future-clarity bonus (finite).
    use_g, use_f : bool
        Ablations: ``use_g=False`` keeps :math:`A` unscaled, ``use_f=False`` drops the bonus.
    center : bool
        Subtract the batch mean of the result over active steps (the paper's last step).

    Returns
    -------
    float64 [B, T]
        :math:`A^{mod}`, 0 on padding. Inputs are not modified.
    """
    A, m = _steps_and_mask(advantages, response_mask, "advantages")
    H, _ = _steps_and_mask(entropy, response_mask, "entropy")
    if (np.diff(m.astype(np.int8), axis=1) > 0).any():
        raise ValueError("response_mask: a row's active steps must be a prefix (steps 0..T_i-1)")
    if np.any(H[m] < 0):
        raise ValueError("entropy must be >= 0 on active steps")
    k = check_real(k, "k")
    k_next = check_real(k_next, "k_next")
    zeta = check_real(zeta, "zeta")
    for name, v in (("use_g", use_g), ("use_f", use_f), ("center", center)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {type(v).__name__}")
    if not m.any():
        return np.zeros_like(A)
    lo, hi = H[m].min(), H[m].max()
    Hn = np.where(m, (H - lo) / (hi - lo + 1e-8), 0.0)
    out = A.copy()
    if use_g:
        e = np.exp(-k * Hn)
        out = out * e / e[m].mean()
    if use_f:
        nxt = np.zeros_like(m)
        nxt[:, :-1] = m[:, 1:] & m[:, :-1]  # step t has an active t+1
        bonus = np.zeros_like(A)
        bonus[:, :-1] = np.exp(-k_next * Hn[:, 1:])
        out = out + zeta * np.where(nxt, bonus, 0.0)
    out = np.where(m, out, 0.0)
    if center:
        out = np.where(m, out - out[m].mean(), 0.0)
    return out
