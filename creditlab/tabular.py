"""Exact and sample-based methods for small tabular MDPs ``P[s, a, s']``, ``R[s, a, s']``.

Conventions
-----------
- ``P`` is row-stochastic: ``P[s, a, :] >= 0`` sums to 1. ``R`` has the shape of ``P``.
- ``terminal[s]`` marks states whose value is 0: nothing is collected from them (the
  gridworlds make them absorbing with zero reward, so the flag is optional there).
- Values are expected discounted sums :math:`\\sum_t \\gamma^t R(s_t, a_t, s_{t+1})`.
- Everything is vectorised numpy; :func:`q_learning` runs ``n_runs`` independent learners
  in lock-step (one array operation per step for all of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import (
    bool_array,
    check_finite,
    check_int,
    check_unit_interval,
    float_array,
    make_rng,
)

__all__ = [
    "QLearningResult",
    "check_mdp",
    "greedy_policy",
    "occupancy",
    "policy_evaluation",
    "q_learning",
    "q_values",
    "value_iteration",
    "milestone_product",
    "EpisodeBatch",
    "sample_episodes",
    "success_probability",
]


def check_mdp(
    P: Any, R: Any, gamma: Any, *, strict_gamma: bool = False
) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate an MDP and return ``(P, R, gamma)`` as float64 arrays and a float.

    Raises ValueError/TypeError naming the argument: ``P`` not [S, A, S] or not
    row-stochastic, ``R`` not shaped like ``P``, ``gamma`` outside [0, 1] (or [0, 1) when
    ``strict_gamma``, for infinite-horizon quantities that need a contraction).
    """
    P = float_array(P, "P").astype(np.float64, copy=False)
    R = float_array(R, "R").astype(np.float64, copy=False)
    if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] == 0 or P.shape[1] == 0:
        raise ValueError(f"P must have shape [S, A, S] with S, A >= 1, got {P.shape}")
    if R.shape != P.shape:
        raise ValueError(f"R must have the shape of P {P.shape}, got {R.shape}")
    if not (np.isfinite(P).all() and (P >= 0).all() and np.allclose(P.sum(-1), 1.0, atol=1e-8)):
        raise ValueError("P must be row-stochastic: P[s, a, :] >= 0 and sums to 1")
    if not np.isfinite(R).all():
        raise ValueError("R must be finite (no NaN or inf)")
    g = check_unit_interval(gamma, "gamma")
    if strict_gamma and g >= 1.0:
        raise ValueError(f"gamma must be in [0, 1) here (an infinite-horizon sum), got {g}")
    return P, R, g


def _terminal(terminal: Any, S: int) -> np.ndarray:
    if terminal is None:
        return np.zeros(S, dtype=bool)
    t = bool_array(terminal, "terminal")
    if t.shape != (S,):
        raise ValueError(f"terminal must have shape ({S},), got {t.shape}")
    return t


def _policy(policy: Any, S: int, A: int) -> np.ndarray:
    pi = float_array(policy, "policy").astype(np.float64, copy=False)
    if pi.shape != (S, A):
        raise ValueError(f"policy must have shape {(S, A)}, got {pi.shape}")
    if (pi < 0).any() or not np.allclose(pi.sum(-1), 1.0, atol=1e-8):
        raise ValueError("policy rows must be probability vectors (>= 0, summing to 1)")
    return pi


def policy_evaluation(
    P: Any,
    R: Any,
    policy: Any,
    gamma: float,
    terminal: Any = None,
) -> np.ndarray:
    r"""V^pi by solving the Bellman equation :math:`(I - \gamma P_\pi) V = r_\pi` exactly.

    Parameters
    ----------
    P, R : arrays [S, A, S]
    policy : array [S, A]
        Action probabilities per state.
    gamma : float in [0, 1] (1 only if every state reaches a terminal state)
    terminal : bool array [S], optional
        States whose value is 0 (the episode is over).

    Returns
    -------
    ndarray [S] float64
    """
    P, R, gamma = check_mdp(P, R, gamma)
    S, A = P.shape[:2]
    pi = _policy(policy, S, A)
    term = _terminal(terminal, S)
    P_pi = np.einsum("sa,sap->sp", pi, P)
    r_pi = np.einsum("sa,sap,sap->s", pi, P, R)
    P_pi = np.where(term[:, None], 0.0, P_pi)
    r_pi = np.where(term, 0.0, r_pi)
    return np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)


def q_values(
    P: Any, R: Any, V: Any, gamma: float, terminal: Any = None
) -> np.ndarray:
    r""":math:`Q(s, a) = \sum_{s'} P(s'|s,a)[R(s,a,s') + \gamma V(s')]`, 0 at terminal states."""
    P, R, gamma = check_mdp(P, R, gamma)
    V = check_finite(float_array(V, "V"), "V")
    if V.shape != (P.shape[0],):
        raise ValueError(f"V must have shape ({P.shape[0]},), got {V.shape}")
    Q = np.einsum("sap,sap->sa", P, R + gamma * V[None, None, :])
    return np.where(_terminal(terminal, P.shape[0])[:, None], 0.0, Q)


def greedy_policy(Q: Any, tol: float = 1e-9) -> np.ndarray:
    """Deterministic greedy policy [S, A] (one-hot); ties (within ``tol``) go to the lowest action.
    """
    Q = check_finite(float_array(Q, "Q"), "Q")
    if Q.ndim != 2:
        raise ValueError(f"Q must have shape [S, A], got {Q.shape}")
    best = Q >= Q.max(axis=1, keepdims=True) - tol
    pi = np.zeros(Q.shape)
    pi[np.arange(Q.shape[0]), best.argmax(axis=1)] = 1.0
    return pi


def value_iteration(
    P: Any,
    R: Any,
    gamma: float,
    terminal: Any = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Optimal values by value iteration, finished by one exact policy-evaluation step.

    :math:`Q_{k+1}(s,a) = \sum_{s'} P(s'|s,a)[R(s,a,s') + \gamma \max_{a'} Q_k(s',a')]`
    until the sup-norm change is below ``tol``; then the greedy policy is evaluated exactly
    (a policy-iteration step), which makes ``V`` exact once the greedy policy is optimal.

    Parameters
    ----------
    P, R : arrays [S, A, S]
    gamma : float in [0, 1)
    terminal : bool array [S], optional
    tol : float
    max_iter : int

    Returns
    -------
    V : ndarray [S]
    Q : ndarray [S, A]
    """
    P, R, gamma = check_mdp(P, R, gamma, strict_gamma=True)
    S = P.shape[0]
    term = _terminal(terminal, S)
    r_sa = np.einsum("sap,sap->sa", P, R)
    Q = np.zeros(P.shape[:2])
    for _ in range(int(max_iter)):
        V = np.where(term, 0.0, Q.max(axis=1))
        Q_new = np.where(term[:, None], 0.0, r_sa + gamma * P @ V)
        done = np.abs(Q_new - Q).max() < tol
        Q = Q_new
        if done:
            break
    V = policy_evaluation(P, R, greedy_policy(Q), gamma, term)
    Q = q_values(P, R, V, gamma, term)
    return V, Q


def occupancy(
    P: Any, policy: Any, gamma: float, initial: Any = None, terminal: Any = None
) -> np.ndarray:
    r"""Discounted transition occupancy [S, A, S] of a policy.

    :math:`\eta(s,a,s') = \sum_t \gamma^t \Pr(s_t=s, a_t=a, s_{t+1}=s')`. With
    :math:`d = \mu^\top (I - \gamma P_\pi)^{-1}`,
    :math:`\eta(s,a,s') = d(s)\pi(a|s)P(s'|s,a)`,
    so that :math:`J_R(\pi) = \sum \eta \cdot R` for any reward ``R``. ``initial`` is the
    start distribution :math:`\mu` [S] (default uniform). Returns [S, A, S].
    """
    P, _, gamma = check_mdp(P, np.zeros_like(P, dtype=np.float64), gamma, strict_gamma=True)
    S, A = P.shape[:2]
    pi = _policy(policy, S, A)
    mu = _initial(initial, S)
    term = _terminal(terminal, S)
    P_pi = np.where(term[:, None], 0.0, np.einsum("sa,sap->sp", pi, P))
    d = np.linalg.solve((np.eye(S) - gamma * P_pi).T, mu)
    d = np.where(term, 0.0, d)
    return d[:, None, None] * pi[:, :, None] * P


def _initial(initial: Any, S: int) -> np.ndarray:
    if initial is None:
        return np.full(S, 1.0 / S)
    mu = float_array(initial, "initial").astype(np.float64)
    if mu.shape != (S,) or (mu < 0).any() or not np.isclose(mu.sum(), 1.0):
        raise ValueError(f"initial must be a probability vector of shape ({S},)")
    return mu


# --------------------------------------------------------------------------------------
# Q-learning, many independent runs at once


@dataclass
class QLearningResult:
    """What :func:`q_learning` returns.

    Attributes
    ----------
    Q : ndarray [n_runs, S, A]
        Final action values of each run.
    snapshots : ndarray [n_evals, n_runs, S, A]
        Q after ``eval_steps[i]`` steps (for learning curves evaluated exactly).
    eval_steps : ndarray [n_evals]
    episode_returns : list of ndarray
        Per run, the undiscounted sum of the *learning* reward of each finished episode.
    episode_lengths : list of ndarray
    episode_true_returns : list of ndarray
        Per run, the discounted sum of ``true_reward`` over each finished episode
        (empty arrays when ``true_reward`` was not given).
    """

    Q: np.ndarray
    snapshots: np.ndarray
    eval_steps: np.ndarray
    episode_returns: list[np.ndarray]
    episode_lengths: list[np.ndarray]
    episode_true_returns: list[np.ndarray]


def q_learning(
    P: Any,
    R: Any,
    gamma: float,
    *,
    n_steps: int,
    start: int = 0,
    terminal: Any = None,
    alpha: float = 0.1,
    epsilon: float = 0.1,
    n_runs: int = 1,
    max_episode_steps: int | None = None,
    n_evals: int = 20,
    q_init: Any = 0.0,
    true_reward: Any = None,
    seed: int | np.random.Generator | None = None,
) -> QLearningResult:
    r"""Tabular epsilon-greedy Q-learning on the model ``P`` with learning reward ``R``.

    Each of the ``n_runs`` learners samples its own transitions
    :math:`s' \sim P(\cdot|s,a)`, receives ``R[s, a, s']`` and updates
    :math:`Q(s,a) \mathrel{+}= \alpha\,[r + \gamma (1-\text{term}(s'))
    \max_{a'} Q(s',a') - Q(s,a)]`.
    An episode ends on a terminal state (no bootstrap) or after ``max_episode_steps``
    (a truncation: the update still bootstraps), and the learner restarts at ``start``.
    Greedy ties are broken at random so an all-zero table explores.

    Pass a shaped table (``R + F``) to learn from a shaped reward; evaluate the greedy
    policies of ``snapshots`` exactly under the true reward with :func:`policy_evaluation`.

    Parameters
    ----------
    P, R : arrays [S, A, S]
    gamma : float in [0, 1]
    n_steps : int
        Environment steps per run.
    start : int
    terminal : bool array [S], optional
    alpha, epsilon : float in [0, 1]
    n_runs : int >= 1
    max_episode_steps : int, optional
    n_evals : int
        Number of evenly spaced snapshots of Q (the last one is the final Q).
    q_init : float or array [S, A]
        Initial action values (a float: every entry; large = optimistic). An array starts
        every run from that table, e.g. a policy already trained on another reward.
    true_reward : array [S, A, S], optional
        A second reward (e.g. the task's, when learning from a shaped one) whose
        discounted episode sums are logged in ``episode_true_returns``.
    seed : int or numpy Generator

    Returns
    -------
    QLearningResult
    """
    P, R, gamma = check_mdp(P, R, gamma)
    S, A = P.shape[:2]
    term = _terminal(terminal, S)
    alpha = check_unit_interval(alpha, "alpha")
    epsilon = check_unit_interval(epsilon, "epsilon")
    for name, v, lo in (("n_steps", n_steps, 1), ("n_runs", n_runs, 1), ("n_evals", n_evals, 1)):
        if int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v}")
    if int(start) != start or not 0 <= start < S:
        raise ValueError(f"start must be a state index in 0..{S - 1}, got {start}")
    if max_episode_steps is not None and (int(max_episode_steps) != max_episode_steps
                                          or max_episode_steps < 1):
        raise ValueError(f"max_episode_steps must be a positive integer, got {max_episode_steps}")
    if true_reward is not None:
        R_true = float_array(true_reward, "true_reward").astype(np.float64, copy=False)
        if R_true.shape != P.shape:
            raise ValueError(f"true_reward must have the shape of P {P.shape}, got {R_true.shape}")
    else:
        R_true = np.zeros_like(R)
    rng = make_rng(seed)
    K = int(n_runs)
    cdf = np.cumsum(P, axis=-1)
    cdf[..., -1] = 1.0
    q0 = float_array(np.asarray(q_init, dtype=np.float64), "q_init")
    if q0.ndim != 0 and q0.shape != (S, A):
        raise ValueError(f"q_init must be a float or an array of shape {(S, A)}, got {q0.shape}")
    Q = np.broadcast_to(q0, (K, S, A)).copy()
    Q[:, term] = 0.0
    s = np.full(K, int(start))
    t_ep = np.zeros(K, dtype=np.int64)
    ret = np.zeros(K)
    true_ret = np.zeros(K)
    disc = np.ones(K)
    runs = np.arange(K)
    eval_at = np.unique(np.linspace(0, int(n_steps), int(n_evals) + 1).astype(int)[1:])
    snaps = np.empty((len(eval_at), K, S, A))
    rets: list[list[float]] = [[] for _ in range(K)]
    lens: list[list[int]] = [[] for _ in range(K)]
    trues: list[list[float]] = [[] for _ in range(K)]
    e = 0
    for step in range(1, int(n_steps) + 1):
        q_s = Q[runs, s]
        noise = rng.random((K, A)) * 1e-9  # random tie-breaking
        greedy = np.argmax(q_s + noise, axis=1)
        explore = rng.random(K) < epsilon
        a = np.where(explore, rng.integers(0, A, K), greedy)
        u = rng.random(K)
        s2 = (cdf[s, a] < u[:, None]).sum(axis=1)
        r = R[s, a, s2]
        done = term[s2]
        target = r + gamma * np.where(done, 0.0, Q[runs, s2].max(axis=1))
        Q[runs, s, a] += alpha * (target - Q[runs, s, a])
        ret += r
        true_ret += disc * R_true[s, a, s2]
        disc *= gamma
        t_ep += 1
        end = done | ((t_ep >= max_episode_steps) if max_episode_steps else False)
        for k in np.flatnonzero(end):
            rets[k].append(ret[k])
            lens[k].append(int(t_ep[k]))
            trues[k].append(true_ret[k])
        s = np.where(end, int(start), s2)
        ret[end] = 0.0
        true_ret[end] = 0.0
        disc[end] = 1.0
        t_ep[end] = 0
        if e < len(eval_at) and step == eval_at[e]:
            snaps[e] = Q
            e += 1
    return QLearningResult(
        Q=Q,
        snapshots=snaps,
        eval_steps=eval_at,
        episode_returns=[np.asarray(x) for x in rets],
        episode_lengths=[np.asarray(x, dtype=np.int64) for x in lens],
        episode_true_returns=[np.asarray(x) if true_reward is not None else np.zeros(0)
                              for x in trues],
    )


# --------------------------------------------------------------------------------------
# Milestone flags in the state (book Chapter 10)


def milestone_product(P: Any, reached: Any, *, max_states: int = 2048,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The MDP whose state also records which milestones were completed.

    A reward for the *first* completion of a milestone (MiRA,
    :func:`creditlab.shaping.milestone_rewards` with ``once=True``) depends on the past, so
    it is not a function of the grid state. Adding one flag per milestone makes it one:
    product state :math:`(s, f)` with :math:`f \in \{0,1\}^M`, and

    .. math:: P((s', f \lor \text{reached}(s')) \mid (s, f), a) = P(s' \mid s, a),

    so a flag turns on when its milestone's state is entered and never turns off (the
    "reward machine" product). Product state ``i`` is grid state ``base[i] = i % S`` with
    flags ``code = i // S`` (bit ``m`` of ``code`` is milestone ``m``).

    Parameters
    ----------
    P : array [S, A, S]
        Row-stochastic transition probabilities.
    reached : bool array [M, S]
        ``reached[m, s]``: entering (or starting in) state ``s`` completes milestone ``m``.
    max_states : int
        Refuse products with more than this many states (the result is dense).

    Returns
    -------
    P2 : float64 array [S * 2**M, A, S * 2**M]
    base : int64 array [S * 2**M]
        The grid state of each product state (index rewards with ``R[base][:, :, base]``).
    flags : bool array [S * 2**M, M]

    Start the product at ``start + S * code`` where ``code`` has the bits of the
    milestones that ``start`` itself completes (usually 0).
    """
    P, _, _ = check_mdp(P, np.zeros(np.shape(P)), 0.0)
    r = bool_array(reached, "reached")
    S, A = P.shape[:2]
    if r.ndim != 2 or r.shape[1] != S or r.shape[0] < 1:
        raise ValueError(f"reached must be a bool array [M, S] with M >= 1 and S = {S}, got "
                         f"shape {r.shape}")
    M = r.shape[0]
    n = S * 2 ** M
    if n > check_int(max_states, "max_states", 1):
        raise ValueError(f"the product has S * 2**M = {n} states, more than max_states="
                         f"{max_states}; use fewer milestones or raise max_states")
    codes = np.arange(2 ** M)
    bits = (r.astype(np.int64) << np.arange(M)[:, None]).sum(0)  # [S] code of s' itself
    P2 = np.zeros((n, A, n))
    for c in codes:
        src = slice(c * S, (c + 1) * S)
        dst = (c | bits) * S + np.arange(S)  # [S'] product index of each s'
        for a in range(A):
            np.add.at(P2[src, a], (slice(None), dst), P[:, a, :])
    base = np.tile(np.arange(S), 2 ** M)
    flags = ((np.repeat(codes, S)[:, None] >> np.arange(M)) & 1).astype(bool)
    return P2, base, flags


@dataclass
class EpisodeBatch:
    """``N`` episodes of a tabular policy, padded to ``T_max`` steps.

    All arrays are [N, T_max]; step ``t`` of episode ``i`` is valid where ``mask[i, t]``
    (a prefix of each row). ``terminated[i, t]`` marks the step that entered a terminal
    state; an episode cut at the horizon has no terminated step.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_states: np.ndarray
    terminated: np.ndarray
    mask: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        """int [N]: valid steps per episode."""
        return self.mask.sum(1)

    @property
    def returns(self) -> np.ndarray:
        """float [N]: undiscounted return of each episode."""
        return np.where(self.mask, self.rewards, 0.0).sum(1)

    @property
    def success(self) -> np.ndarray:
        """bool [N]: the episode ends with a non-zero return (Q-Evolve's ``d``)."""
        return self.returns != 0

    def flat(self) -> tuple[np.ndarray, ...]:
        """The valid transitions as 1-D arrays: (states, actions, rewards, next_states,
        terminated), in episode order."""
        m = self.mask
        return (self.states[m], self.actions[m], self.rewards[m], self.next_states[m],
                self.terminated[m])

    def concat(self, other: EpisodeBatch) -> EpisodeBatch:
        """Both batches' episodes, padded to the longer ``T_max``."""
        T = max(self.mask.shape[1], other.mask.shape[1])

        def pad(x: np.ndarray) -> np.ndarray:
            return np.pad(x, ((0, 0), (0, T - x.shape[1])))

        return EpisodeBatch(*(np.concatenate([pad(getattr(self, f)), pad(getattr(other, f))])
                              for f in ("states", "actions", "rewards", "next_states",
                                        "terminated", "mask")))


def sample_episodes(P: Any, R: Any, policy: Any, start: int, n: int, horizon: int, *,
                    terminal: Any = None, seed: Any = None) -> EpisodeBatch:
    """Roll out ``n`` episodes of a tabular policy, all in lock-step.

    Parameters
    ----------
    P, R : arrays [S, A, S]
    policy : array [S, A]
        Action probabilities per state.
    start : int
        The start state of every episode.
    n, horizon : int >= 1
        Episodes, and the most steps per episode (cut there, not terminated).
    terminal : bool array [S], optional
        Entering one ends the episode (default: no terminal states).
    seed : int, Generator or None

    Returns
    -------
    EpisodeBatch with arrays [n, horizon]. The number of environment steps taken is
    ``batch.mask.sum()``.
    """
    P, R, _ = check_mdp(P, R, 0.0)
    S, A = P.shape[:2]
    pi = _policy(policy, S, A)
    term = _terminal(terminal, S)
    s0 = check_int(start, "start")
    if s0 >= S:
        raise ValueError(f"start must be a state in [0, {S}), got {s0}")
    n, H = check_int(n, "n", 1), check_int(horizon, "horizon", 1)
    rng = make_rng(seed)
    cpi, cP = np.cumsum(pi, 1), np.cumsum(P, 2)
    out = {k: np.zeros((n, H), int) for k in ("states", "actions", "next_states")}
    rew = np.zeros((n, H))
    done_at = np.zeros((n, H), bool)
    mask = np.zeros((n, H), bool)
    s = np.full(n, s0)
    alive = ~np.full(n, term[s0])
    for t in range(H):
        a = np.minimum((rng.random(n)[:, None] > cpi[s]).sum(1), A - 1)
        s2 = np.minimum((rng.random(n)[:, None] > cP[s, a]).sum(1), S - 1)
        out["states"][:, t], out["actions"][:, t], out["next_states"][:, t] = s, a, s2
        rew[:, t] = R[s, a, s2]
        mask[:, t] = alive
        done_at[:, t] = alive & term[s2]
        alive = alive & ~term[s2]
        s = s2
    return EpisodeBatch(out["states"], out["actions"], np.where(mask, rew, 0.0),
                        out["next_states"], done_at, mask)


def success_probability(P: Any, policy: Any, start: int, goal: Any, horizon: int) -> float:
    """Exact probability that the policy enters a ``goal`` state within ``horizon`` steps.

    Parameters
    ----------
    P : array [S, A, S]
    policy : array [S, A]
    start : int
    goal : bool array [S]
        Absorbing success states (e.g. a gridworld's ``terminal``).
    horizon : int >= 1

    Returns
    -------
    float in [0, 1].
    """
    P = float_array(P, "P").astype(np.float64, copy=False)
    P, _, _ = check_mdp(P, np.zeros_like(P), 0.0)
    S, A = P.shape[:2]
    pi = _policy(policy, S, A)
    if goal is None:
        raise TypeError("goal must be a bool array [S], got None")
    g = bool_array(goal, "goal")
    if g.shape != (S,):
        raise ValueError(f"goal must have shape ({S},), got {g.shape}")
    H = check_int(horizon, "horizon", 1)
    s0 = check_int(start, "start")
    if s0 >= S:
        raise ValueError(f"start must be a state in [0, {S}), got {s0}")
    P_pi = np.einsum("sa,sap->sp", pi, P)
    P_pi[g] = 0.0
    P_pi[g, g] = 1.0  # goals absorb
    d = np.zeros(S)
    d[s0] = 1.0
    for _ in range(H):
        d = d @ P_pi
    return float(d[g].sum())
