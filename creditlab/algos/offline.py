r"""Offline critics and policy updates on a fixed dataset (Chapter 12, Q-Evolve-style).

The loop of Q-Evolve (arXiv:2606.07367) in its smallest readable form:

1. a **weighted IQL critic** (:func:`iql_losses`): an expectile value :math:`V(s)` and a TD
   :math:`Q(s, a)` fitted on the data only, each transition weighted by
   :func:`near_terminal_weights`;
2. **process rewards** = GAE advantages from that :math:`V` on the environment reward
   (:func:`creditlab.gae`, Chapter 1);
3. a **BPPO** update on the same data (:func:`bppo_loss`, PPO's clipped surrogate with an
   asymmetric clip range), or the **AWR** update the paper tried and dropped
   (:func:`awr_loss`).

:func:`fit_tabular_iql` fits the critic as two tables (states and actions are integers).
Departures from the paper are named *Q-Evolve-style* in each docstring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from creditlab._backend import bool_array, check_int, check_real, float_array, int_array
from creditlab.algos.pg_losses import _logp, _pair

__all__ = [
    "awr_loss",
    "bppo_loss",
    "expectile",
    "expectile_loss",
    "fit_tabular_iql",
    "iql_losses",
    "near_terminal_weights",
]


def near_terminal_weights(mask: Any, success: Any) -> np.ndarray:
    r"""Q-Evolve's per-transition critic weights: late steps of successful trajectories count most.

    .. math::
        w_t = \tfrac12\left(\frac{t}{T} + d\right) + \tfrac12 ,
        \qquad t = 1, \dots, T ,

    with :math:`T` the trajectory's length and :math:`d = 1` if it ends with a non-zero
    return (``success``), else 0. Weights lie in :math:`(1/2, 1]` for a failed trajectory
    and :math:`(1, 3/2]` for a successful one; the last step of a success weighs 3/2.
    (Q-Evolve-style: the notes give the formula with :math:`t/T`; we number steps from 1
    so the final step gets :math:`t/T = 1`.)

    Parameters
    ----------
    mask : bool array [N, T_max]
        Valid steps of each trajectory, a prefix (``True`` then ``False``).
    success : bool array [N]
        :math:`d` of each trajectory.

    Returns
    -------
    ndarray [N, T_max] float64, 0 on padding.
    """
    m = bool_array(mask, "mask")
    d = bool_array(success, "success")
    if m.ndim != 2:
        raise ValueError(f"mask must have shape [N, T_max], got {m.shape}")
    if d.shape != (m.shape[0],):
        raise ValueError(f"success must have shape ({m.shape[0]},), got {d.shape}")
    if (np.diff(m.astype(np.int8), axis=1) > 0).any():
        raise ValueError("mask must be a prefix per row (True ... True False ... False)")
    T = m.sum(1, keepdims=True).astype(np.float64)
    t = np.arange(1, m.shape[1] + 1, dtype=np.float64)[None, :]
    w = 0.5 * (t / np.maximum(T, 1.0) + d[:, None]) + 0.5
    return np.where(m, w, 0.0)


def expectile_loss(diff: torch.Tensor, tau: float) -> torch.Tensor:
    r"""IQL's asymmetric square :math:`|\tau - \mathbb 1[u < 0]|\,u^2`, elementwise.

    ``diff`` is :math:`u = Q(s, a) - V(s)` (any shape, float); ``tau`` in (0, 1). With
    :math:`\tau > 1/2` the minimising :math:`V` is an upper expectile of :math:`Q` over the
    dataset's actions: close to the best action seen in the data, never one outside it.
    """
    u = _logp(diff, "diff")
    tau = check_real(tau, "tau")
    if not 0 < tau < 1:
        raise ValueError(f"tau must be in (0, 1), got {tau!r}")
    return torch.abs(tau - (u < 0).to(u.dtype)) * u**2


def expectile(values: Any, tau: float, weights: Any = None) -> float:
    r"""The weighted :math:`\tau`-expectile of a set of values: IQL's ``V`` step for one state.

    The minimiser of :math:`\sum_i w_i\,|\tau - \mathbb 1[q_i < v]|\,(q_i - v)^2`, found by
    reweighted means :math:`v \leftarrow \sum_i c_i q_i / \sum_i c_i`,
    :math:`c_i = w_i |\tau - \mathbb 1[q_i < v]|` (exact once the signs stop changing).
    :math:`\tau = 1/2` gives the weighted mean, :math:`\tau \to 1` the maximum.

    Parameters
    ----------
    values : float array [n], n >= 1
    tau : float in (0, 1)
    weights : float array [n] >= 0 with a positive sum, optional

    Returns
    -------
    float
    """
    q = float_array(values, "values").astype(np.float64)
    if q.ndim != 1 or q.size == 0 or not np.isfinite(q).all():
        raise ValueError(f"values must be a non-empty finite 1-D array, got shape {q.shape}")
    tau = check_real(tau, "tau")
    if not 0 < tau < 1:
        raise ValueError(f"tau must be in (0, 1), got {tau!r}")
    w = np.ones_like(q) if weights is None else float_array(weights, "weights").astype(
        np.float64)
    if w.shape != q.shape:
        raise ValueError(f"weights must have the shape of values {q.shape}, got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, >= 0, with a positive sum")
    v = float((w * q).sum() / w.sum())
    for _ in range(2 * q.size + 10):
        c = w * np.where(q < v, 1.0 - tau, tau)
        v_new = float((c * q).sum() / c.sum())
        if v_new == v:
            break
        v = v_new
    return v


def _wmean(x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    return x.mean() if w is None else (w * x).sum() / w.sum()


def iql_losses(q_sa: Any, v_s: Any, v_next: Any, rewards: Any, terminated: Any, gamma: float,
               tau: float = 0.7, weights: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The two IQL losses (Kostrikov et al. 2022), optionally weighted per transition.

    .. math::
        L_V = \frac{\sum_i w_i\, |\tau - \mathbb 1[u_i<0]|\, u_i^2}{\sum_i w_i},\quad
        u_i = \operatorname{sg}[Q(s_i,a_i)] - V(s_i),

        L_Q = \frac{\sum_i w_i\, \big(r_i + \gamma (1 - \mathrm{term}_i)\,
        \operatorname{sg}[V(s'_i)] - Q(s_i, a_i)\big)^2}{\sum_i w_i}

    (sg: stop-gradient). Both use only the dataset's actions, so no value is ever
    queried for an action outside the data.

    Parameters
    ----------
    q_sa, v_s, v_next : torch.Tensor [N], float
        :math:`Q(s_i, a_i)`, :math:`V(s_i)`, :math:`V(s'_i)` (``v_next`` is detached here).
    rewards : torch.Tensor [N]
    terminated : torch.Tensor [N] bool
        No bootstrap after a terminal transition.
    gamma : float in [0, 1]
    tau : float in (0, 1)
        The expectile.
    weights : torch.Tensor [N] >= 0, optional
        E.g. :func:`near_terminal_weights` (Q-Evolve's weighted IQL); ``None`` is plain IQL.

    Returns
    -------
    (loss_v, loss_q) : two scalar tensors.
    """
    q, v = _logp(q_sa, "q_sa"), _logp(v_s, "v_s")
    vn, r = _logp(v_next, "v_next"), _logp(rewards, "rewards")
    for name, x in (("v_s", v), ("v_next", vn), ("rewards", r)):
        if x.shape != q.shape:
            raise ValueError(f"{name} must have the shape of q_sa {tuple(q.shape)}, got "
                             f"{tuple(x.shape)}")
    if not isinstance(terminated, torch.Tensor) or terminated.dtype != torch.bool:
        raise TypeError("terminated must be a bool torch tensor")
    if terminated.shape != q.shape:
        raise ValueError(f"terminated must have the shape of q_sa {tuple(q.shape)}, got "
                         f"{tuple(terminated.shape)}")
    gamma = check_real(gamma, "gamma")
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    w = None
    if weights is not None:
        w = _logp(weights, "weights")
        if w.shape != q.shape:
            raise ValueError(f"weights must have the shape of q_sa {tuple(q.shape)}, got "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
    loss_v = _wmean(expectile_loss(q.detach() - v, tau), w)
    target = r + gamma * (~terminated).to(q.dtype) * vn.detach()
    loss_q = _wmean((target - q) ** 2, w)
    return loss_v, loss_q


def fit_tabular_iql(n_states: int, n_actions: int, states: Any, actions: Any, rewards: Any,
                    next_states: Any, terminated: Any, gamma: float, *, tau: float = 0.7,
                    weights: Any = None, backups: int = 200,
                    init: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    r"""Fit IQL's ``Q`` [S, A] and ``V`` [S] as tables by alternating exact minimisation.

    Each *backup* minimises :func:`iql_losses`' two losses exactly, one table at a time:

    .. math::
        Q(s, a) \leftarrow \frac{\sum_{i:(s_i,a_i)=(s,a)} w_i\,(r_i + \gamma(1-\mathrm{term}_i)
        V(s'_i))}{\sum_{i:(s_i,a_i)=(s,a)} w_i}, \qquad
        V(s) \leftarrow \operatorname{expectile}_\tau\{Q(s_i, a_i) : s_i = s\}_{w}

    (the weighted :math:`\tau`-expectile by iteratively reweighted means). A table is a
    one-hot "network", so the minimiser is exact; after enough backups (about the
    effective horizon :math:`1/(1-\gamma)` times a few) both gradients of
    :func:`iql_losses` vanish. Gradient steps on the same losses (Adam on the two tables)
    oscillate here, because :math:`L_Q` is a semi-gradient objective.

    Parameters
    ----------
    n_states, n_actions : int >= 1
    states, actions, next_states : int arrays [N]
    rewards : float array [N]
    terminated : bool array [N]
    gamma : float in [0, 1]
    tau : float in (0, 1): the expectile
    weights : float array [N] >= 0, optional: per-transition weights (None: all 1)
    backups : int >= 1
    init : (Q [S, A], V [S]), optional
        Start from these tables (not modified) instead of zeros.

    Returns
    -------
    (Q, V) : ndarray [S, A] and [S], float64. Pairs and states absent from the data keep
    their initial value.
    """
    S, A = check_int(n_states, "n_states", 1), check_int(n_actions, "n_actions", 1)
    s, a, s2 = int_array(states, "states"), int_array(actions, "actions"), int_array(
        next_states, "next_states")
    r = float_array(rewards, "rewards").astype(np.float64)
    term = bool_array(terminated, "terminated")
    n = s.shape
    if len(n) != 1 or n[0] == 0:
        raise ValueError(f"states must be a non-empty 1-D array, got shape {s.shape}")
    for name, x in (("actions", a), ("next_states", s2), ("rewards", r), ("terminated", term)):
        if x.shape != n:
            raise ValueError(f"{name} must have the shape of states {n}, got {x.shape}")
    if s.min() < 0 or s.max() >= S or s2.min() < 0 or s2.max() >= S:
        raise ValueError(f"states and next_states must be in [0, {S})")
    if a.min() < 0 or a.max() >= A:
        raise ValueError(f"actions must be in [0, {A})")
    if not np.isfinite(r).all():
        raise ValueError("rewards must be finite")
    gamma = check_real(gamma, "gamma")
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    tau = check_real(tau, "tau")
    if not 0 < tau < 1:
        raise ValueError(f"tau must be in (0, 1), got {tau!r}")
    backups = check_int(backups, "backups", 1)
    if weights is None:
        w = np.ones(n[0])
    else:
        w = float_array(weights, "weights").astype(np.float64)
        if w.shape != n:
            raise ValueError(f"weights must have the shape of states {n}, got {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be finite, >= 0, with a positive sum")
    if init is None:
        Q, V = np.zeros((S, A)), np.zeros(S)
    else:
        Q, V = (np.array(x, dtype=np.float64) for x in init)
        if Q.shape != (S, A) or V.shape != (S,):
            raise ValueError(f"init must be (Q [{S}, {A}], V [{S}]), got {Q.shape}, {V.shape}")
    sa = s * A + a
    w_sa = np.bincount(sa, w, S * A)
    seen_sa = w_sa > 0
    seen_s = np.bincount(s, w, S) > 0
    for _ in range(backups):
        y = r + gamma * np.where(term, 0.0, V[s2])
        q = np.bincount(sa, w * y, S * A)
        Q.ravel()[seen_sa] = q[seen_sa] / w_sa[seen_sa]
        qi = Q.ravel()[sa]
        v = V.copy()
        for _ in range(30):  # the weighted expectile: a fixed point of reweighted means
            c = w * np.where(qi < v[s], 1.0 - tau, tau)
            v_new = v.copy()
            v_new[seen_s] = (np.bincount(s, c * qi, S) / np.maximum(np.bincount(s, c, S),
                                                                       1e-300))[seen_s]
            if np.allclose(v_new, v, rtol=0, atol=1e-12):
                break
            v = v_new
        V = v_new
    return Q, V


def bppo_loss(logp_new: Any, logp_old: Any, adv: Any, eps_low: float = 0.3,
              eps_high: float = 0.1, weights: Any = None) -> torch.Tensor:
    r"""Behaviour-proximal PPO's clipped surrogate with an asymmetric clip range (Q-Evolve).

    .. math::
        L = -\frac{1}{N}\sum_i \min\big(\rho_i A_i,\;
        \mathrm{clip}(\rho_i, 1-\epsilon_{low}, 1+\epsilon_{high})\, A_i\big),
        \qquad \rho_i = \frac{\pi_\theta(a_i|s_i)}{\pi_{old}(a_i|s_i)} ,

    on the *fixed* dataset: :math:`\pi_{old}` is the policy at the start of the offline
    update (behaviour-proximal), and with :math:`\epsilon_{low} > \epsilon_{high}` the
    policy may push a bad action's probability down further than it raises a good one's.
    (Q-Evolve-style: the paper adds :math:`\alpha\,\mathrm{KL}(\pi\|\pi_{ref})`; here a
    caller adds any KL term itself.)

    Parameters
    ----------
    logp_new, logp_old : torch.Tensor [N], same shape and dtype (``logp_old`` detached)
    adv : torch.Tensor [N] (detached here): the process rewards
    eps_low, eps_high : float in (0, 1)
    weights : torch.Tensor [N] >= 0, optional: a weighted mean instead of the plain one

    Returns
    -------
    torch.Tensor, a scalar.
    """
    new, old = _pair(logp_new, logp_old)
    a = _logp(adv, "adv")
    if a.shape != new.shape:
        raise ValueError(f"adv must have the shape of logp_new {tuple(new.shape)}, got "
                         f"{tuple(a.shape)}")
    lo, hi = check_real(eps_low, "eps_low"), check_real(eps_high, "eps_high")
    for name, e in (("eps_low", lo), ("eps_high", hi)):
        if not 0 < e < 1:
            raise ValueError(f"{name} must be in (0, 1), got {e!r}")
    ratio = torch.exp(new - old.detach())
    a = a.detach().to(new.dtype)
    obj = torch.minimum(ratio * a, ratio.clamp(1 - lo, 1 + hi) * a)
    w = None
    if weights is not None:
        w = _logp(weights, "weights").to(new.dtype)
        if w.shape != new.shape:
            raise ValueError(f"weights must have the shape of logp_new {tuple(new.shape)}, got "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
    return -_wmean(obj, w)


def awr_loss(logp: Any, adv: Any, beta: float = 0.5, max_weight: float = 20.0) -> torch.Tensor:
    r"""Advantage-weighted regression (Peng et al. 2019): weighted behaviour cloning.

    .. math::
        L = -\frac1N \sum_i \min\big(e^{A_i/\beta},\, w_{max}\big) \log\pi_\theta(a_i|s_i)

    Every weight is positive, so AWR can only *imitate* the data more or less strongly; it
    never pushes an action's probability down except by raising others (the reason
    Q-Evolve gives for preferring BPPO).

    Parameters
    ----------
    logp : torch.Tensor [N]: :math:`\log\pi_\theta(a_i|s_i)`
    adv : torch.Tensor [N] (detached here)
    beta : float > 0: temperature
    max_weight : float > 0: clip on the exponentiated weight

    Returns
    -------
    torch.Tensor, a scalar.
    """
    lp, a = _logp(logp, "logp"), _logp(adv, "adv")
    if a.shape != lp.shape:
        raise ValueError(f"adv must have the shape of logp {tuple(lp.shape)}, got "
                         f"{tuple(a.shape)}")
    beta, mw = check_real(beta, "beta"), check_real(max_weight, "max_weight")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    if mw <= 0:
        raise ValueError(f"max_weight must be > 0, got {mw!r}")
    w = torch.exp(a.detach().to(lp.dtype) / beta).clamp(max=mw)
    return -(w * lp).mean()
