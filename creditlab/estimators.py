r"""Exact and measured bias/variance of return and advantage estimators on tabular MDPs.

Used by book Part I, Chapter 1 to measure GAE's bias/variance trade-off. Two halves:

- :func:`lambda_return_moments` computes, from the tabular model ``P[s, a, s']``,
  ``R[s, a, s']`` and ``terminal[s]`` (as exposed by :mod:`creditlab.envs`), the exact
  mean and variance of the lambda-return :math:`G^\lambda_t` given
  :math:`(s_t, a_t)` when the critic is an arbitrary table :math:`\hat V`. With
  :math:`\hat A_t = G^\lambda_t - \hat V(s_t)` (what :func:`creditlab.gae` returns), this
  is the exact bias and variance of GAE up to the baseline term :math:`\hat V(s_t)`.
- :func:`bias_variance` measures the same quantities from samples, grouping the errors
  of an estimator by a key such as the state-action pair, and :func:`group_means`
  averages per-step quantities per state (a tabular Monte-Carlo / TD fit).

Episodes are taken to run until a terminal state, with no time limit: that is the process
whose values :func:`creditlab.tabular.policy_evaluation` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import check_finite, check_unit_interval, float_array, int_array
from creditlab.tabular import _initial, _policy, _terminal, check_mdp

__all__ = [
    "BiasVariance",
    "bias_variance",
    "group_means",
    "lambda_return_moments",
    "occupancy",
]


def lambda_return_moments(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    values: np.ndarray,
    gamma: float,
    lam: float,
    terminal: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact mean and variance of the lambda-return given the first state and action.

    The lambda-return with critic :math:`\hat V` (``values``) is

    .. math:: G^\lambda_t = r_t + \gamma\, m_{t+1}\,[(1-\lambda)\hat V(s_{t+1})
              + \lambda G^\lambda_{t+1}],

    with :math:`m_{t+1} = 0` when :math:`s_{t+1}` is terminal, else 1. Given
    :math:`s_{t+1}`, the future :math:`G^\lambda_{t+1}` is independent of the past
    (Markov property), so its first and second moments solve two linear Bellman
    equations with discount :math:`\gamma\lambda` and :math:`(\gamma\lambda)^2`.

    Parameters
    ----------
    P, R : ndarray [S, A, S]
        Transition probabilities and rewards ``R[s, a, s']``.
    policy : ndarray [S, A]
        Action probabilities of the policy that generates the data.
    values : ndarray [S]
        The critic :math:`\hat V`; entries of terminal states are never used.
    gamma, lam : float in [0, 1]
    terminal : bool ndarray [S], optional
        Terminal states (nothing is bootstrapped from them).

    Returns
    -------
    mean, var : ndarray [S, A]
        :math:`E[G^\lambda_t \mid s_t=s, a_t=a]` and its variance; 0 for terminal ``s``.
        With ``values`` equal to :math:`V^\pi`, ``mean`` equals :math:`Q^\pi` for every
        ``lam``; ``lam=1`` gives :math:`Q^\pi` for any ``values``.
    """
    gamma = check_unit_interval(gamma, "gamma")
    lam = check_unit_interval(lam, "lam")
    P, R, _ = check_mdp(P, R, gamma)
    S, A = P.shape[:2]
    policy = _policy(policy, S, A)
    values = check_finite(float_array(values, "values").astype(np.float64), "values")
    if values.shape != (S,):
        raise ValueError(f"values must have shape {(S,)}, got {values.shape}")
    term = _terminal(terminal, S)
    alive = (~term).astype(float)  # m(s'): 1 if we keep going from s'
    gl = gamma * lam
    # per transition (s, a, s'): the part of G that does not depend on the future
    c = R + gamma * (1.0 - lam) * (alive * np.where(term, 0.0, values))[None, None, :]
    Pm = P * alive[None, None, :]  # transitions that continue the episode
    P_pi = np.einsum("sa,sap->sp", policy, Pm)
    P_pi[term] = 0.0  # terminal states: no return
    eye = np.eye(S)
    # first moment: g(s) = E_pi[c + gl * g(s')]
    b1 = np.einsum("sa,sap,sap->s", policy, P, c)
    b1[term] = 0.0
    g = np.linalg.solve(eye - gl * P_pi, b1)
    # second moment: m2(s) = E_pi[c^2 + 2 c gl g(s') + gl^2 m2(s')]
    cross = c**2 + 2.0 * c * gl * (alive * g)[None, None, :]
    b2 = np.einsum("sa,sap,sap->s", policy, P, cross)
    b2[term] = 0.0
    m2 = np.linalg.solve(eye - gl**2 * P_pi, b2)
    mean = np.einsum("sap,sap->sa", P, c) + gl * np.einsum("sap,p->sa", Pm, g)
    second = np.einsum("sap,sap->sa", P, cross) + gl**2 * np.einsum("sap,p->sa", Pm, m2)
    var = np.maximum(second - mean**2, 0.0)
    mean[term], var[term] = 0.0, 0.0
    return mean, var


def occupancy(
    P: np.ndarray,
    policy: np.ndarray,
    start: int | np.ndarray,
    terminal: np.ndarray | None = None,
) -> np.ndarray:
    r"""How often each state-action pair is a step of an episode, as a distribution.

    Expected visits per episode solve :math:`n = \mu + P_\pi^\top n` over non-terminal
    states (:math:`\mu` the start distribution); the result is
    :math:`d(s, a) = n(s)\,\pi(a|s) / \sum_s n(s)`: the share of on-policy steps taken
    in :math:`(s, a)`, which is how samples from long rollouts are weighted.

    Parameters
    ----------
    P : ndarray [S, A, S]
    policy : ndarray [S, A]
    start : int or ndarray [S]
        Start state, or a start distribution.
    terminal : bool ndarray [S], optional

    Returns
    -------
    ndarray [S, A], summing to 1
    """
    P = float_array(P, "P")
    P, _, _ = check_mdp(P, np.zeros(P.shape), 0.0)
    S, A = P.shape[:2]
    policy = _policy(policy, S, A)
    term = _terminal(terminal, S)
    mu = np.zeros(S)
    if np.ndim(start) == 0:
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not (
                0 <= int(start) < S):
            raise ValueError(f"start must be a state index in [0, {S}) or a start "
                             f"distribution of shape ({S},), got {start!r}")
        mu[int(start)] = 1.0
    else:
        try:
            mu[:] = _initial(start, S)
        except (TypeError, ValueError) as err:
            raise type(err)(f"start: {err}") from None
    P_pi = np.einsum("sa,sap->sp", policy, P)
    P_pi[term] = 0.0
    P_pi[:, term] = 0.0
    try:
        n = np.linalg.solve(np.eye(S) - P_pi.T, np.where(term, 0.0, mu))
    except np.linalg.LinAlgError:
        n = np.full(S, np.inf)
    if not np.all(np.isfinite(n)) or np.any(n < -1e-9) or n.sum() <= 0:
        raise ValueError(
            "the expected visit counts are infinite: from start the policy reaches a set of "
            "states it never leaves and that holds no terminal state (pass terminal=, the "
            "states where episodes end)")
    d = n[:, None] * policy
    return d / d.sum()


@dataclass(frozen=True)
class BiasVariance:
    """Mean squared error of an estimator split as ``mse = bias2 + variance``.

    Attributes
    ----------
    bias2 : float
        Squared per-group mean error, averaged over samples (groups weighted by counts).
    variance : float
        Per-group variance of the estimates, averaged over samples.
    mse : float
        Mean squared error over all samples.
    """

    bias2: float
    variance: float
    mse: float


def bias_variance(
    estimates: np.ndarray, targets: np.ndarray, groups: np.ndarray
) -> BiasVariance:
    r"""Split an estimator's error into bias and variance, per group of samples.

    For samples :math:`i` with group :math:`k(i)` (e.g. the state-action pair) and error
    :math:`e_i = \hat x_i - x_i`, with :math:`\bar e_k` the mean error of group :math:`k`:

    .. math:: \frac1N\sum_i e_i^2 = \underbrace{\frac1N\sum_i \bar e_{k(i)}^2}_{\text{bias}^2}
              + \underbrace{\frac1N\sum_i (e_i - \bar e_{k(i)})^2}_{\text{variance}}

    an exact identity (targets are constant within a group, so the spread of the errors is
    the spread of the estimates).

    Parameters
    ----------
    estimates, targets : ndarray [N]
    groups : int ndarray [N]
        Non-negative group ids.

    Returns
    -------
    BiasVariance
    """
    est = float_array(estimates, "estimates").astype(np.float64)
    tgt = float_array(targets, "targets").astype(np.float64)
    if est.shape != tgt.shape:
        raise ValueError(f"targets must have the shape of estimates {est.shape}, got "
                         f"{tgt.shape}")
    err = est - tgt
    groups = _group_ids(groups)
    if err.ndim != 1 or groups.shape != err.shape:
        raise ValueError(
            f"estimates, targets and groups must be 1-D of one length, got {err.shape} "
            f"and {groups.shape}"
        )
    if err.size == 0:
        raise ValueError("need at least one sample")
    mean_err = group_means(err, groups)[groups]
    bias2 = float(np.mean(mean_err**2))
    variance = float(np.mean((err - mean_err) ** 2))
    return BiasVariance(bias2=bias2, variance=variance, mse=float(np.mean(err**2)))


_MAX_IMPLICIT_GROUPS = 2**24


def _group_ids(groups: Any) -> np.ndarray:
    g = int_array(groups, "groups")
    if g.size and g.min() < 0:
        raise ValueError("groups must be non-negative ids")
    return g


def group_means(x: np.ndarray, groups: np.ndarray, n_groups: int | None = None) -> np.ndarray:
    """Mean of ``x`` over the samples of each group (0 for a group with no sample).

    Parameters
    ----------
    x : ndarray [N]
    groups : int ndarray [N]
        Non-negative group ids, e.g. the state of each step.
    n_groups : int, optional
        Length of the result (default ``groups.max() + 1``).

    Returns
    -------
    ndarray [n_groups]
    """
    groups = _group_ids(groups).astype(np.intp, copy=False)
    x = float_array(x, "x").astype(np.float64)
    if groups.shape != x.shape or x.ndim != 1:
        raise ValueError(f"x and groups must be 1-D of one length, got {x.shape}, {groups.shape}")
    if groups.size and groups.min() < 0:
        raise ValueError("groups must be non-negative ids")
    if n_groups is None:
        n = int(groups.max()) + 1 if groups.size else 0
        if n > _MAX_IMPLICIT_GROUPS:
            raise ValueError(
                f"groups: the largest id is {n - 1}, so the result would have {n} entries; "
                "use dense ids 0..G-1, or pass n_groups= to ask for that many")
    else:
        if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)) or \
                n_groups < 0:
            raise ValueError(f"n_groups must be an int >= 0, got {n_groups!r}")
        n = int(n_groups)
        if groups.size and groups.max() >= n:
            raise ValueError(f"groups must be < n_groups ({n}), got {int(groups.max())}")
    counts = np.bincount(groups, minlength=n)
    return np.bincount(groups, weights=x, minlength=n) / np.maximum(counts, 1)
