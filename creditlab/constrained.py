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

:func:`lagrangian_npg` uses the exact model (policy values solved, not sampled);
:func:`lagrangian_q_learning` is the sample-based counterpart: tabular Q-learning with a
reward critic and a cost critic, and the multiplier moved by the sampled discounted cost of
each finished episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_nonnegative,
    check_real,
    check_unit_interval,
    float_array,
    make_rng,
    number_array,
)
from creditlab.tabular import _initial, _terminal, check_mdp, policy_evaluation, q_values

__all__ = [
    "ConstrainedResult",
    "LagrangianQResult",
    "lagrangian_npg",
    "lagrangian_q_learning",
    "lagrangian_update",
]


def _check_cost(C: Any, P: np.ndarray) -> np.ndarray:
    """The cost table ``C [S, A, S']``: float64, the shape of ``P``, finite and >= 0."""
    C = float_array(C, "C").astype(np.float64, copy=False)
    if C.shape != P.shape:
        raise ValueError(f"C must have the shape of P {P.shape}, got {C.shape}")
    if not np.isfinite(C).all() or (C < 0).any():
        raise ValueError("C must be finite and >= 0 (a cost)")
    return C


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
    lr = check_nonnegative(lr, "lr")
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
    C = _check_cost(C, P)
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


# --------------------------------------------------------------------------------------
# Sample-based: Lagrangian Q-learning


@dataclass
class LagrangianQResult:
    """What :func:`lagrangian_q_learning` returns.

    Attributes
    ----------
    Q_R, Q_C : ndarray [n_runs, S, A]
        Final reward and cost critics of each run.
    lmbda : ndarray [n_runs]
        Final multiplier of each run.
    snapshots_R, snapshots_C : ndarray [n_evals, n_runs, S, A]
        The critics after ``eval_steps[i]`` steps.
    snapshot_lmbdas : ndarray [n_evals, n_runs]
        The multipliers at the same steps.
    eval_steps : ndarray [n_evals]
    episode_returns, episode_costs : list of ndarray
        Per run, the discounted sums of R and of C over each finished episode (sampled).
    episode_lmbdas : list of ndarray
        Per run, the multiplier each episode was played with.
    epsilon : float
        The exploration rate (to rebuild the behaviour policy).
    """

    Q_R: np.ndarray
    Q_C: np.ndarray
    lmbda: np.ndarray
    snapshots_R: np.ndarray
    snapshots_C: np.ndarray
    snapshot_lmbdas: np.ndarray
    eval_steps: np.ndarray
    episode_returns: list[np.ndarray]
    episode_costs: list[np.ndarray]
    episode_lmbdas: list[np.ndarray]
    epsilon: float

    def behaviour_policy(self, i: int = -1) -> np.ndarray:
        r"""The epsilon-greedy policies [n_runs, S, A] of snapshot ``i``.

        Greedy in :math:`Q_R - \lambda Q_C` (ties to the lowest action), with probability
        ``epsilon`` a uniformly random action: the policy the learner was playing.
        """
        score = self.snapshots_R[i] - self.snapshot_lmbdas[i][:, None, None] * self.snapshots_C[i]
        K, S, A = score.shape
        pi = np.full((K, S, A), self.epsilon / A)
        best = score.argmax(axis=2)
        pi[np.arange(K)[:, None], np.arange(S)[None, :], best] += 1.0 - self.epsilon
        return pi


def lagrangian_q_learning(
    P: Any,
    R: Any,
    C: Any,
    gamma: float,
    threshold: float,
    *,
    n_steps: int,
    start: int = 0,
    terminal: Any = None,
    alpha: float = 0.1,
    epsilon: float = 0.1,
    lr_lambda: float = 0.01,
    lmbda0: float = 0.0,
    q_init: float = 0.0,
    n_runs: int = 1,
    max_episode_steps: int | None = None,
    n_evals: int = 20,
    seed: int | np.random.Generator | None = None,
) -> LagrangianQResult:
    r"""Lagrangian Q-learning: two tabular critics and a multiplier moved by sampled costs.

    Each of the ``n_runs`` learners samples transitions from ``P`` and keeps a reward
    critic :math:`Q_R` and a cost critic :math:`Q_C`. It acts epsilon-greedily in
    :math:`Q_R - \lambda Q_C`; with :math:`a^* = \arg\max_{a'} [Q_R(s',a') - \lambda
    Q_C(s',a')]` both critics move towards the same next action,

    .. math::
        Q_X(s,a) \mathrel{+}= \alpha\,[x + \gamma (1-\text{term}(s')) Q_X(s',a^*) - Q_X(s,a)],
        \qquad X \in \{R, C\},

    and at the end of every episode (terminal state or ``max_episode_steps``) the
    multiplier takes one projected dual step on the episode's *sampled* discounted cost
    :math:`\hat J_C = \sum_t \gamma^t c_t`:
    :math:`\lambda \leftarrow \max(0, \lambda + \eta_\lambda (\hat J_C - \tau))`
    (:func:`lagrangian_update`). Nothing uses the model except to sample ``s'``.

    A tabular stand-in for the Lagrangian deep RL agents of constrained-RL practice
    (e.g. SAC-Lagrangian with separate reward and cost critics, as in Roy et al. 2022,
    arXiv:2112.12228): same primal-dual structure, no function approximation, no
    multiplier normalisation. The greedy policy for a fixed :math:`\lambda` is
    deterministic, so when the constrained optimum is stochastic the multiplier keeps
    moving and the *behaviour over many episodes* is what meets the budget (the sampled
    ``episode_costs`` average to about ``threshold``), not any single snapshot.

    Parameters
    ----------
    P, R, C : arrays [S, A, S]
        Transitions, reward and cost (cost >= 0).
    gamma : float in [0, 1)
    threshold : float
        :math:`\tau`, the most expected discounted cost per episode the user accepts.
    n_steps : int >= 1
        Environment steps per run.
    start : int
        Start state of every episode.
    terminal : bool array [S], optional
    alpha, epsilon : float in [0, 1]
    lr_lambda : float >= 0
        Multiplier step size :math:`\eta_\lambda` (per episode).
    lmbda0 : float >= 0
    q_init : float
        Initial reward critic (every entry; an upper bound on the return is *optimistic*
        and makes every run try every route); the cost critic starts at 0, also optimistic.
    n_runs : int >= 1
    max_episode_steps : int, optional
        Truncation (the critics still bootstrap; the episode's cost so far is used).
    n_evals : int >= 1
        Number of evenly spaced snapshots (the last one is the final state).
    seed : int or numpy Generator

    Returns
    -------
    LagrangianQResult
    """
    P, R, g = check_mdp(P, R, gamma, strict_gamma=True)
    C = _check_cost(C, P)
    tau = check_real(threshold, "threshold")
    alpha = check_unit_interval(alpha, "alpha")
    epsilon = check_unit_interval(epsilon, "epsilon")
    lr_lambda = check_real(lr_lambda, "lr_lambda")
    if lr_lambda < 0:
        raise ValueError(f"lr_lambda must be a finite number >= 0, got {lr_lambda}")
    lam0 = check_real(lmbda0, "lmbda0")
    if lam0 < 0:
        raise ValueError(f"lmbda0 must be >= 0, got {lmbda0}")
    for name, v in (("n_steps", n_steps), ("n_runs", n_runs), ("n_evals", n_evals)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    S, A = P.shape[:2]
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < S:
        raise ValueError(f"start must be a state index in 0..{S - 1}, got {start!r}")
    if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, (int, np.integer)) or max_episode_steps < 1):
        raise ValueError(f"max_episode_steps must be a positive integer, got {max_episode_steps!r}")
    q0 = check_real(q_init, "q_init")
    term = _terminal(terminal, S)
    rng = make_rng(seed)
    K = int(n_runs)
    cdf = np.cumsum(P, axis=-1)
    cdf[..., -1] = 1.0
    QR = np.full((K, S, A), q0)
    QR[:, term] = 0.0
    QC = np.zeros((K, S, A))
    lam = np.full(K, lam0)
    runs = np.arange(K)
    s = np.full(K, int(start))
    t_ep = np.zeros(K, dtype=np.int64)
    ret, cost, disc = np.zeros(K), np.zeros(K), np.ones(K)
    eval_at = np.unique(np.linspace(0, int(n_steps), int(n_evals) + 1).astype(int)[1:])
    snap_R = np.empty((len(eval_at), K, S, A))
    snap_C = np.empty((len(eval_at), K, S, A))
    snap_l = np.empty((len(eval_at), K))
    rets: list[list[float]] = [[] for _ in range(K)]
    costs: list[list[float]] = [[] for _ in range(K)]
    lams: list[list[float]] = [[] for _ in range(K)]
    e = 0
    for step in range(1, int(n_steps) + 1):
        score = QR[runs, s] - lam[:, None] * QC[runs, s]
        greedy = np.argmax(score + rng.random((K, A)) * 1e-9, axis=1)  # random tie-breaking
        a = np.where(rng.random(K) < epsilon, rng.integers(0, A, K), greedy)
        s2 = (cdf[s, a] < rng.random(K)[:, None]).sum(axis=1)
        r, c = R[s, a, s2], C[s, a, s2]
        done = term[s2]
        nxt = np.argmax(QR[runs, s2] - lam[:, None] * QC[runs, s2], axis=1)
        keep = np.where(done, 0.0, g)
        QR[runs, s, a] += alpha * (r + keep * QR[runs, s2, nxt] - QR[runs, s, a])
        QC[runs, s, a] += alpha * (c + keep * QC[runs, s2, nxt] - QC[runs, s, a])
        ret += disc * r
        cost += disc * c
        disc *= g
        t_ep += 1
        end = done | ((t_ep >= max_episode_steps) if max_episode_steps else False)
        if end.any():
            for k in np.flatnonzero(end):
                rets[k].append(ret[k])
                costs[k].append(cost[k])
                lams[k].append(lam[k])
            lam[end] = lagrangian_update(lam[end], cost[end], tau, lr_lambda)
            s = np.where(end, int(start), s2)
            ret[end] = cost[end] = 0.0
            disc[end] = 1.0
            t_ep[end] = 0
        else:
            s = s2
        if e < len(eval_at) and step == eval_at[e]:
            snap_R[e], snap_C[e], snap_l[e] = QR, QC, lam
            e += 1
    return LagrangianQResult(
        Q_R=QR, Q_C=QC, lmbda=lam, snapshots_R=snap_R, snapshots_C=snap_C,
        snapshot_lmbdas=snap_l, eval_steps=eval_at,
        episode_returns=[np.asarray(x) for x in rets],
        episode_costs=[np.asarray(x) for x in costs],
        episode_lmbdas=[np.asarray(x) for x in lams],
        epsilon=epsilon,
    )
