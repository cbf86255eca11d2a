r"""An exploration agent driven by any intrinsic bonus (Chapter 16).

:func:`explore` runs tabular Q-learning whose only reward is an intrinsic bonus
(pure curiosity, no task reward), with epsilon-greedy actions, episodes of fixed length
that restart at the start state (or end early at a terminal state), and records where the
agent spent its time. The bonus is any callable ``bonus(s, a, obs_next, info) -> float``
that may learn from each call, e.g. a :class:`creditlab.exploration.TabularCuriosity`
wrapped as ``lambda s, a, o, info: icm(s, a, o)`` (prediction error) or
``lambda s, a, o, info: hs(s, a, o, info["noise"])`` (hindsight-conditioned).

The Q-learning target is the usual one-step backup
:math:`Q(s,a) \leftarrow Q(s,a) + \alpha\,(r^{\mathrm{int}} + \gamma \max_{a'} Q(s', a') - Q(s,a))`
(no bootstrap from a terminal state). Works on any environment with the
:class:`~creditlab.envs.noisy_tv.NoisyTVGridEnv` interface (``info["cell_state"]``,
``next_state``, ``start_state``, ``tv_states``). Import the module:
``from creditlab.algos.curiosity import explore``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import check_int, check_seed, check_unit_interval

__all__ = ["ExplorationResult", "explore", "reachable_states"]


@dataclass
class ExplorationResult:
    """What :func:`explore` records.

    Attributes
    ----------
    visits : ndarray int64 [S]
        Steps that ended in each gridworld state.
    tv_fraction : float
        Fraction of all steps that ended on the TV cell.
    coverage : float
        Fraction of the states reachable from the start that were visited at least once.
    coverage_curve : ndarray float64 [n_checkpoints]
        Coverage after each of ``checkpoints`` steps.
    tv_curve : ndarray float64 [n_checkpoints]
        TV fraction within each window between checkpoints.
    checkpoints : ndarray int64 [n_checkpoints]
    bonus_tv, bonus_other : float
        Mean bonus of steps that ended on / off the TV cell.
    Q : ndarray float64 [S, A]
    """

    visits: np.ndarray
    tv_fraction: float
    coverage: float
    coverage_curve: np.ndarray
    tv_curve: np.ndarray
    checkpoints: np.ndarray
    bonus_tv: float
    bonus_other: float
    Q: np.ndarray


def reachable_states(env: Any) -> np.ndarray:
    """Bool ``[S]``: the states reachable from ``env.start_state`` by deterministic moves
    (through terminal states, which a resetting agent can enter but not leave)."""
    nxt = env.next_state
    seen = np.zeros(len(nxt), dtype=bool)
    stack = [int(env.start_state)]
    seen[stack[0]] = True
    while stack:
        s = stack.pop()
        if env.terminal[s]:
            continue
        for s2 in nxt[s]:
            if not seen[s2]:
                seen[s2] = True
                stack.append(int(s2))
    return seen


def explore(env: Any, bonus: Callable[[int, int, int, dict], float], steps: int, *,
            episode_len: int = 100, gamma: float = 0.95, lr: float = 0.5,
            epsilon: float = 0.1, n_checkpoints: int = 20, seed: int = 0) -> ExplorationResult:
    """Q-learning on an intrinsic bonus; returns where the agent spent its time.

    Parameters
    ----------
    env : NoisyTVGridEnv
        Reset with ``seed`` (its TV noise), stepped ``steps`` times.
    bonus : callable (s, a, obs_next, info) -> float
        The intrinsic reward of a transition (may update itself).
    steps : int >= 1
        Environment steps in all.
    episode_len : int >= 1
        Steps before the agent is put back at the start.
    gamma, lr, epsilon : float in [0, 1]
        Discount, Q-learning step size, exploration rate (ties between equal Q-values are
        broken at random).
    n_checkpoints : int >= 1
        Points at which the coverage and TV curves are recorded.
    seed : int >= 0
        Seeds the agent's choices and the environment.

    Returns
    -------
    ExplorationResult
    """
    if not callable(bonus):
        raise TypeError(f"bonus must be a callable (s, a, obs_next, info) -> float, got "
                        f"{type(bonus).__name__}")
    for attr in ("next_state", "tv_states", "start_state", "terminal"):
        if not hasattr(env, attr):
            raise TypeError(f"env must be a NoisyTVGridEnv-like environment (no .{attr})")
    steps = check_int(steps, "steps", lo=1)
    episode_len = check_int(episode_len, "episode_len", lo=1)
    n_checkpoints = check_int(n_checkpoints, "n_checkpoints", lo=1)
    gamma = check_unit_interval(gamma, "gamma")
    lr = check_unit_interval(lr, "lr")
    epsilon = check_unit_interval(epsilon, "epsilon")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    S, A = env.next_state.shape
    Q = np.zeros((S, A))
    visits = np.zeros(S, dtype=np.int64)
    on_tv = np.zeros(S, dtype=bool)
    on_tv[env.tv_states] = True
    reach = reachable_states(env)
    marks = np.unique(np.linspace(steps / n_checkpoints, steps, n_checkpoints).astype(np.int64))
    cov_curve, tv_curve = np.zeros(len(marks)), np.zeros(len(marks))
    b_tv = b_other = 0.0
    n_tv = 0
    tv_window, window_start, mark = 0, 0, 0
    _, info = env.reset(seed=seed)
    s, t_ep = info["cell_state"], 0
    visits[s] += 1
    for t in range(1, steps + 1):
        if rng.random() < epsilon:
            a = int(rng.integers(A))
        else:
            q = Q[s]
            a = int(rng.choice(np.flatnonzero(q == q.max())))
        obs, _, term, _, info = env.step(a)
        s2 = info["cell_state"]
        r = float(bonus(s, a, obs, info))
        target = r if term else r + gamma * Q[s2].max()
        Q[s, a] += lr * (target - Q[s, a])
        visits[s2] += 1
        if on_tv[s2]:
            b_tv += r
            n_tv += 1
            tv_window += 1
        else:
            b_other += r
        t_ep += 1
        if term or t_ep >= episode_len:
            _, info = env.reset()
            s2, t_ep = info["cell_state"], 0
            visits[s2] += 1
        s = s2
        if mark < len(marks) and t == marks[mark]:
            cov_curve[mark] = (visits[reach] > 0).mean()
            tv_curve[mark] = tv_window / max(t - window_start, 1)
            tv_window, window_start = 0, t
            mark += 1
    return ExplorationResult(
        visits=visits, tv_fraction=n_tv / steps, coverage=float((visits[reach] > 0).mean()),
        coverage_curve=cov_curve, tv_curve=tv_curve, checkpoints=marks,
        bonus_tv=b_tv / max(n_tv, 1), bonus_other=b_other / max(steps - n_tv, 1), Q=Q)
