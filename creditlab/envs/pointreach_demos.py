"""Scripted PointReach demonstrations: successful, stalled and failed episodes.

A scripted controller follows the geodesic distance field of the current goal (steepest
descent, around walls; a straight line once close) at a desired speed, and picks the
action that gives that velocity next step (:func:`scripted_action`). The three kinds of
demonstration (:func:`demonstrations`) differ after a *switch point*, a random fraction
``u ~ U[0.25, 0.75]`` of the task:

``"success"``
    the controller throughout; every episode completes the task.
``"stall"``
    the controller until progress reaches ``u``, then the agent brakes and hovers in
    place (small random actions): progress stays flat, the task is never completed.
``"fail"``
    the controller until progress reaches ``u``, then it heads for the goal farthest (by
    geodesic distance) from the current one and parks there: progress falls back (to the
    stage's floor ``k / n_stages`` at least), the task is never completed.

Every episode is checked against its label; an episode whose outcome disagrees (a failed
one that brushes its goal on the way) is drawn again with another sub-seed, so the labels
hold exactly. What chapters use: states, actions, frames, the exact progress and the
stage of every step (ProcVLM-style procedure labels, RoboReward-style relabelling, BC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import check_int, check_seed
from creditlab.envs.pointreach import (
    ACCEL,
    ARM_ACCEL,
    ARM_DAMPING,
    DAMPING,
    PointReachBatch,
    arm_jacobian,
    geodesic_distance,
)
from creditlab.envs.pointreach_render import hash_uniform

__all__ = ["Demos", "demonstrations", "scripted_action"]

KINDS = ("success", "stall", "fail")


@dataclass
class Demos:
    """A batch of demonstrations of one kind, padded to ``horizon`` steps.

    Attributes
    ----------
    kind : str
    states : float32 [n, T+1, 7] (11 for the arm)
        State observations (:class:`~creditlab.envs.PointReachBatch`); after an episode
        ends, its last state is repeated.
    actions : float32 [n, T, 2]
    rewards : float64 [n, T]
        Sparse rewards (1 per stage completed).
    progress : float64 [n, T+1]
        Exact fraction of the task done.
    stage : int64 [n, T+1]
        Stage index (``n_stages`` once done).
    valid : bool [n, T+1]
        Steps inside the episode (up to and including its last observation).
    length : int64 [n]
        Actions taken (``valid.sum(1) - 1``).
    success : bool [n]
    task : int64 [n, n_stages]
    frames : uint8 [n, T+1, size, size, 3] or None
    """

    kind: str
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    progress: np.ndarray
    stage: np.ndarray
    valid: np.ndarray
    length: np.ndarray
    success: np.ndarray
    task: np.ndarray
    frames: np.ndarray | None


def _velocity_action(batch: PointReachBatch, v_star: np.ndarray) -> np.ndarray:
    r"""The action giving next (end-effector) velocity ``v_star`` (clipped to [-1, 1]).

    For the arm, the joint velocity is the damped least-squares solution
    :math:`\dot q^* = J^\top (J J^\top + \lambda I)^{-1} v^*` (:math:`\lambda = 10^{-3}`).
    """
    if batch.body == "arm":
        J = arm_jacobian(batch.q)
        JJ = J @ J.transpose(0, 2, 1) + 1e-3 * np.eye(2)
        dq = (J.transpose(0, 2, 1) @ np.linalg.solve(JJ, v_star[..., None]))[..., 0]
        return np.clip((dq - (1.0 - ARM_DAMPING) * batch.dq) / ARM_ACCEL, -1.0, 1.0)
    return np.clip((v_star - (1.0 - DAMPING) * batch.vel) / ACCEL, -1.0, 1.0)


def scripted_action(batch: PointReachBatch, goal: np.ndarray | None = None,
                    speed: float = 0.05) -> np.ndarray:
    """Controller actions toward ``goal`` (default: each env's current goal), ``[n, 2]``.

    Parameters
    ----------
    batch : PointReachBatch
    goal : int array [n], optional
        Goal index per environment.
    speed : float > 0
        Desired speed (per step) far from the goal; it falls linearly to 0 at the goal.

    Returns
    -------
    float64 [n, 2] in [-1, 1]
        The action whose next velocity is ``speed`` along minus the gradient of the
        geodesic field (a straight line within 0.15 of the goal).
    """
    if not isinstance(batch, PointReachBatch):
        raise TypeError(f"batch must be a PointReachBatch, got {type(batch).__name__}")
    if goal is None:
        goal = batch.target()
    goal = np.asarray(goal)
    if goal.shape != (batch.n,) or goal.dtype.kind not in "iu" or \
            ((goal < 0) | (goal >= len(batch.goals))).any():
        raise ValueError(f"goal must be an int array of shape ({batch.n},) with values in "
                         f"0..{len(batch.goals) - 1}")
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or \
            not 0 < speed < np.inf:
        raise ValueError(f"speed must be a positive finite number, got {speed!r}")
    p = batch.pos
    eps = 0.5 / 48
    gx = (geodesic_distance(batch.fields, goal, p + [eps, 0])
          - geodesic_distance(batch.fields, goal, p - [eps, 0]))
    gy = (geodesic_distance(batch.fields, goal, p + [0, eps])
          - geodesic_distance(batch.fields, goal, p - [0, eps]))
    grad = -np.stack([gx, gy], 1)
    to_goal = batch.goals[goal] - p
    dist = np.linalg.norm(to_goal, axis=1)
    d_geo = geodesic_distance(batch.fields, goal, p)
    direction = np.where((d_geo < 0.15)[:, None], to_goal, grad)
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-9)
    v = np.minimum(speed, 0.5 * dist)[:, None] * direction
    return _velocity_action(batch, v)


def _rollout(kind: str, n: int, seeds: np.ndarray, horizon: int, frames: bool,
             env_kwargs: dict) -> Demos:
    b = PointReachBatch(n, horizon=horizon, autoreset=False, seed=0, **env_kwargs)
    b.seeds = seeds.astype(np.uint64)
    b.reset(mask=np.ones(n, bool))  # episode 1 of each seed
    switch = 0.25 + 0.5 * hash_uniform(b.seeds, 3)
    K = len(b.goals)
    # between[k, j]: geodesic distance from goal j to goal k; a failure heads for the goal
    # farthest from its current one
    between = np.stack([geodesic_distance(b.fields, np.full(K, k), b.goals) for k in range(K)])
    farthest = np.argmax(between, axis=1)
    wrong = farthest[b.target()]
    switched = np.zeros(n, bool)
    T = horizon
    st = np.zeros((n, T + 1, b.state_dim), np.float32)
    act = np.zeros((n, T, 2), np.float32)
    rew = np.zeros((n, T))
    prog = np.zeros((n, T + 1))
    stage = np.zeros((n, T + 1), np.int64)
    valid = np.zeros((n, T + 1), bool)
    fr = np.zeros((n, T + 1, b.size, b.size, 3), np.uint8) if frames else None
    st[:, 0], prog[:, 0], stage[:, 0], valid[:, 0] = b.state_obs(), b.progress(), b.stage, True
    if frames:
        fr[:, 0] = b.render_frames()
    for t in range(T):
        live = ~b.done
        if kind != "success":
            newly = ~switched & (b.progress() >= switch)
            # the wrong goal: one that is not the current target
            wrong = np.where(newly, farthest[b.target()], wrong)
            switched |= newly
        a = scripted_action(b)
        if kind == "stall":
            jitter = 0.15 * (2 * hash_uniform(b.seeds, 6, t, np.arange(2)[:, None]).T - 1)
            a = np.where(switched[:, None], _velocity_action(b, np.zeros((n, 2))) + jitter,
                         a)
        elif kind == "fail":
            a = np.where(switched[:, None], scripted_action(b, wrong), a)
        a = np.clip(a, -1, 1)
        act[:, t] = np.where(live[:, None], a, 0.0)
        _, r, _, _, _ = b.step(act[:, t].astype(np.float64))
        rew[:, t] = r
        st[:, t + 1], prog[:, t + 1], stage[:, t + 1] = b.state_obs(), b.progress(), b.stage
        valid[:, t + 1] = live
        if frames:
            fr[:, t + 1] = b.render_frames()
    length = valid.sum(1) - 1
    return Demos(kind, st, act, rew, prog, stage, valid, length, b.success.copy(),
                 b.task.copy(), fr)


def demonstrations(n: int, kind: str = "success", *, horizon: int = 60,
                   frames: bool = False, seed: int = 0, **env_kwargs: Any) -> Demos:
    """``n`` scripted demonstrations of one kind (module docstring).

    Parameters
    ----------
    n : int >= 1
    kind : {"success", "stall", "fail"}
    horizon : int >= 1
        Steps per episode (successes end earlier; the arrays are padded).
    frames : bool
        Also render every step's frame.
    seed : int >= 0
        Demonstration ``i`` uses environment seed ``seed + i`` (its start, task and
        nuisances), redrawn with a sub-seed if its outcome disagrees with ``kind``.
    **env_kwargs
        :class:`~creditlab.envs.PointReachBatch` arguments (layout, n_stages, task, size,
        distractors, colour_noise, obs); ``reward`` is always sparse.

    Returns
    -------
    Demos
    """
    n = check_int(n, "n", 1)
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    horizon = check_int(horizon, "horizon", 1)
    if not isinstance(frames, (bool, np.bool_)):
        raise TypeError(f"frames must be a bool, got {type(frames).__name__}")
    seed = check_seed(seed)
    for bad in ("n", "horizon", "autoreset", "seed", "reward"):
        if bad in env_kwargs:
            raise TypeError(f"env_kwargs must not set {bad!r}")
    seeds = seed + np.arange(n, dtype=np.uint64)
    demos = _rollout(kind, n, seeds, horizon, frames, env_kwargs)
    for attempt in range(1, 20):
        bad = demos.success != (kind == "success")
        if not bad.any():
            return demos
        # redraw the mislabelled ones with fresh seeds (far from the others)
        idx = np.nonzero(bad)[0]
        new = _rollout(kind, len(idx), seeds[idx] + np.uint64(1_000_003 * attempt), horizon,
                       frames, env_kwargs)
        for f in ("states", "actions", "rewards", "progress", "stage", "valid", "length",
                  "success", "task") + (("frames",) if frames else ()):
            getattr(demos, f)[idx] = getattr(new, f)
    if (demos.success != (kind == "success")).any():
        raise RuntimeError(f"could not draw {n} {kind!r} demonstrations within {horizon} "
                           "steps (for successes: raise horizon)")
    return demos


