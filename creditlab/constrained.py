"""Constraints instead of penalties: Lagrangian methods where the user sets the cost budget.

The constrained problem is

.. math:: \\max_\\pi J_R(\\pi) \\quad \\text{s.t.} \\quad J_C(\\pi) \\le \\tau,

with :math:`J_X(\\pi) = \\mathbb{E}_{s_0 \\sim \\mu}[\\sum_t \\gamma^t X(s_t, a_t, s_{t+1})]`
and :math:`\\tau` the ``threshold`` a user states directly ("at most 0.1 expected lava
entries"). A penalty method optimises :math:`R - \\lambda C` for a fixed, hand-tuned
:math:`\\lambda`; the Lagrangian method treats :math:`\\lambda \\ge 0` as a variable and
moves it by projected gradient ascent on the constraint violation,

.. math:: \\lambda \\leftarrow \\max\\big(0, \\lambda + \\eta_\\lambda (J_C(\\pi) - \\tau)\\big),

while the policy ascends :math:`J_R - \\lambda J_C` (Altman 1999; primal-dual natural
policy gradient: Ding et al. 2020, arXiv 2006.11985). The optimum of a constrained MDP
may need a stochastic policy, which no fixed penalty produces in general.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import check_finite, check_real, float_array, number_array
from creditlab.tabular import _initial, _terminal, check_mdp, policy_evaluation, q_values

__all__ = ["ConstrainedResult", "lagrangian_npg", "lagrangian_update"]


def lagrangian_update(lmbda: Any, cost: Any, threshold: Any, lr: float) -> Any:
    r"""One projected dual-ascent step :math:`\max(0, \lambda + \eta(J_C - \tau))`.

    Elementwise over arrays (one multiplier per constraint or per run); returns a float
    for scalar inputs, else a new float64 array. ``lr`` must be >= 0.
    """
    lam = check_finite(number_array(lmbda, "lmbda"), "lmbda")
    c = check_finite(number_array(cost, "cost"), "cost")
    t = check_finite(number_array(threshold, "threshold"), "threshold")
    shapes = {a.shape for a in (lam, c, t) if a.ndim}
    if len(shapes) > 1:  # no silent broadcasting of [K] against [K, 1]
        raise ValueError("lmbda, cost and threshold must be scalars or arrays of one shape, "
                         f"got shapes {lam.shape}, {c.shape} and {t.shape}")
    lr = check_real(lr, "lr")
    if lr < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr}")
    if (lam < 0).any():
        raise ValueError("lmbda must be >= 0 (a Lagrange multiplier of an inequality)")
    out = np.maximum(0.0, lam + float(lr) * (c - t))
    return float(out) if out.ndim == 0 else out


@dataclass
class ConstrainedResult:
    """What :func:`lagrangian_npg` returns.

    Attributes
    ----------
    policy : ndarray [S, A]
        The final (stochastic) policy.
    lmbda : float
        The final multiplier.
    reward_return, cost_return, lmbdas : ndarray [n_iters]
        :math:`J_R`, :math:`J_C` and :math:`\\lambda` at every iteration (exact).
    average_policy : ndarray [S, A]
        The stationary policy whose discounted occupancy is the average of the iterates'
        occupancies from ``average_from`` on; its returns are the averages of theirs.
    average_reward_return, average_cost_return : float
        :math:`J_R` and :math:`J_C` of ``average_policy`` (exact).
    """

    policy: np.ndarray
    lmbda: float
    reward_return: np.ndarray
    cost_return: np.ndarray
    lmbdas: np.ndarray
    average_policy: np.ndarray
    average_reward_return: float
    average_cost_return: float


def lagrangian_npg(
    P: Any,
    R: Any,
    C: Any,
    gamma: float,
    threshold: float | None,
    *,
    n_iters: int = 500,
    lr: float = 1.0,
    lr_lambda: float = 1.0,
    lmbda0: float = 0.0,
    penalty: float | None = None,
    initial: Any = None,
    terminal: Any = None,
    average_from: float = 0.5,
) -> ConstrainedResult:
    r"""Primal-dual natural policy gradient on a softmax tabular policy, with exact values.

    Each iteration evaluates the current policy exactly under R and C, then

    .. math::
        \pi(a|s) \propto \pi(a|s) \exp\!\Big(\frac{\eta}{1-\gamma}
            \big[A_R^\pi(s,a) - \lambda A_C^\pi(s,a)\big]\Big), \qquad
        \lambda \leftarrow \max\big(0, \lambda + \eta_\lambda (J_C(\pi) - \tau)\big).

    (the natural-gradient step of a softmax policy is this multiplicative update). With
    ``penalty`` set, :math:`\lambda` stays fixed at that value and ``threshold`` is
    ignored: the penalty method, for comparison.

    The last iterate of a primal-dual method can keep oscillating around the constraint
    boundary; the guarantees (Ding et al. 2020) are for the average of the iterates. The
    result therefore also holds ``average_policy``: the stationary policy
    :math:`\\bar\\pi(a|s) \\propto \\sum_i d^{\\pi_i}(s)\\pi_i(a|s)` whose occupancy is the
    average occupancy of the iterates from ``average_from * n_iters`` on, so its returns
    are exactly the averages of their returns (occupancy measures form a convex set).

    Parameters
    ----------
    P, R, C : arrays [S, A, S]
        Transitions, reward and cost (cost >= 0).
    gamma : float in [0, 1)
    threshold : float or None
        :math:`\tau`, the most expected discounted cost the user accepts (needed unless
        ``penalty`` is given).
    n_iters : int
    lr, lr_lambda : float > 0
        Policy and multiplier step sizes.
    lmbda0 : float >= 0
    penalty : float >= 0, optional
    initial : array [S], optional
        Start distribution :math:`\mu` (default uniform).
    terminal : bool array [S], optional
    average_from : float in [0, 1)
        Fraction of the iterations skipped before averaging.

    Returns
    -------
    ConstrainedResult
    """
    P, R, g = check_mdp(P, R, gamma, strict_gamma=True)
    C = float_array(C, "C").astype(np.float64, copy=False)
    if C.shape != P.shape:
        raise ValueError(f"C must have the shape of P {P.shape}, got {C.shape}")
    if not np.isfinite(C).all() or (C < 0).any():
        raise ValueError("C must be finite and >= 0 (a cost)")
    if penalty is None:
        if threshold is None:
            raise ValueError("threshold must be a finite number (or pass penalty=)")
        threshold = check_real(threshold, "threshold")
        lam = check_real(lmbda0, "lmbda0")
    else:
        penalty = check_real(penalty, "penalty")
        if penalty < 0:
            raise ValueError(f"penalty must be a finite number >= 0, got {penalty}")
        lam = penalty
    if lam < 0:
        raise ValueError(f"lmbda0 must be >= 0, got {lmbda0}")
    for name, v in (("lr", lr), ("lr_lambda", lr_lambda)):
        if check_real(v, name) <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {v}")
    if isinstance(n_iters, bool) or not isinstance(n_iters, (int, np.integer)) or n_iters < 1:
        raise ValueError(f"n_iters must be a positive integer, got {n_iters!r}")
    if not 0.0 <= check_real(average_from, "average_from") < 1.0:
        raise ValueError(f"average_from must be in [0, 1), got {average_from}")
    S, A = P.shape[:2]
    mu = _initial(initial, S)
    term = _terminal(terminal, S)
    logits = np.zeros((S, A))
    J_r, J_c, lams = (np.empty(int(n_iters)) for _ in range(3))
    pi = np.full((S, A), 1.0 / A)
    first = int(average_from * int(n_iters))
    occ = np.zeros((S, A))
    for i in range(int(n_iters)):
        z = logits - logits.max(axis=1, keepdims=True)
        pi = np.exp(z)
        pi /= pi.sum(axis=1, keepdims=True)
        V_r = policy_evaluation(P, R, pi, g, term)
        V_c = policy_evaluation(P, C, pi, g, term)
        J_r[i], J_c[i], lams[i] = mu @ V_r, mu @ V_c, lam
        if i >= first:
            P_pi = np.where(term[:, None], 0.0, np.einsum("sa,sap->sp", pi, P))
            d = np.where(term, 0.0, np.linalg.solve((np.eye(S) - g * P_pi).T, mu))
            occ += d[:, None] * pi
        A_r = q_values(P, R, V_r, g, term) - V_r[:, None]
        A_c = q_values(P, C, V_c, g, term) - V_c[:, None]
        logits = logits + lr / (1.0 - g) * (A_r - lam * A_c)
        if penalty is None:
            lam = lagrangian_update(lam, J_c[i], threshold, lr_lambda)
    mass = occ.sum(axis=1, keepdims=True)
    avg = np.where(mass > 0, occ / np.where(mass > 0, mass, 1.0), 1.0 / A)
    return ConstrainedResult(
        policy=pi, lmbda=lam, reward_return=J_r, cost_return=J_c, lmbdas=lams,
        average_policy=avg,
        average_reward_return=float(mu @ policy_evaluation(P, R, avg, g, term)),
        average_cost_return=float(mu @ policy_evaluation(P, C, avg, g, term)),
    )
