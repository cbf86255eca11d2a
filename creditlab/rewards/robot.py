r"""Rewards for robot policies: progress, executability and world-model rewards (Chapter 23).

Progress labels (ProcVLM-style, Feng et al. 2026)
    :func:`time_progress_labels` spreads progress uniformly over a demonstration's time,
    :math:`y_t = t / L`; :func:`procedure_progress_labels` gives each stage (subtask) of
    the procedure a budget :math:`b_k` and spreads it inside the stage by the cumulative
    change of a feature vector (visual change):

    .. math:: y_t = \sum_{j<k} b_j + b_k\,\frac{C_t}{C_{end}(k)},\qquad
              C_t = \sum_{s=t_k}^{t-1} \lVert f_{s+1} - f_s\rVert

    for :math:`t` in stage :math:`k` (entered at :math:`t_k`).

Refinement rewards (SC-VLA-style, an "inspired-by" reconstruction)
    :func:`progress_delta` :math:`\hat p_{t+1} - \hat p_t` and :func:`direction_alignment`
    :math:`\cos(a_t, \hat s_{t+k} - s_t)`.

Executability (EVA-style)
    :func:`kinematic_smoothness`: :math:`-(w_1 \overline{\lVert\dot q\rVert}
    + w_2 \overline{\lVert\ddot q\rVert} + w_3 \overline{\lVert\dddot q\rVert})
    - \lambda\,1[\text{a joint limit is violated}]` per trajectory.

World-model and imitation rewards (NORA-1.5-style)
    :func:`wm_goal_reward` :math:`-\lVert \hat s_{t+H}[\text{pos}] - g\rVert` from rolling a
    world model over an action chunk, and :func:`action_deviation`
    :math:`\lVert a - a_{ref}\rVert` (used with a minus sign as a penalty).

All functions take numpy arrays (or anything :func:`numpy.asarray` accepts), never mutate
their inputs and return float64 numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab._backend import check_finite, check_nonnegative, check_positive, to_numpy

__all__ = [
    "time_progress_labels",
    "procedure_progress_labels",
    "progress_delta",
    "direction_alignment",
    "kinematic_smoothness",
    "wm_goal_reward",
    "action_deviation",
]


def _float(x: Any, name: str, ndim: int | None = None, min_ndim: int = 1) -> np.ndarray:
    a = to_numpy(x, name)
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise TypeError(f"{name} must be a real array, got dtype {a.dtype}")
    a = check_finite(a.astype(np.float64), name)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if a.ndim < min_ndim:
        raise ValueError(f"{name} must be at least {min_ndim}-D, got shape {a.shape}")
    return a


def _valid(valid: Any, shape: tuple[int, ...]) -> np.ndarray:
    v = to_numpy(valid, "valid")
    if v.dtype != np.bool_:
        raise TypeError(f"valid must be a boolean array, got dtype {v.dtype}")
    if v.shape != shape:
        raise ValueError(f"valid must have shape {shape}, got {v.shape}")
    if not v[:, 0].all():
        raise ValueError("valid must be True at t = 0 of every trajectory")
    if (np.diff(v.astype(np.int8), axis=1) > 0).any():
        raise ValueError("valid must be a prefix mask (True, ..., True, False, ...)")
    return v


def time_progress_labels(valid: Any) -> np.ndarray:
    r"""Time-interpolated progress labels :math:`y_t = t / L` (ProcVLM's baseline).

    Parameters
    ----------
    valid : bool [N, T+1]
        Prefix mask of each demonstration's frames (``Demos.valid``); :math:`L` is the
        number of actions (``valid.sum(1) - 1``).

    Returns
    -------
    float64 [N, T+1]
        :math:`t/L` inside the episode (1 at its last frame; 1 for a one-frame episode),
        held at 1 after it. Every demonstration is assumed to *finish* its task: time
        labels cannot tell a failed demonstration from a slow one.
    """
    v = to_numpy(valid, "valid")
    if v.ndim != 2:
        raise ValueError(f"valid must be 2-D [N, T+1], got shape {v.shape}")
    v = _valid(v, v.shape)
    L = v.sum(1) - 1
    t = np.arange(v.shape[1])[None, :]
    return np.where(v, t / np.maximum(L, 1)[:, None], 1.0).clip(0.0, 1.0)


def procedure_progress_labels(
    stage: Any, feats: Any, valid: Any, n_stages: int, budgets: Any = None
) -> np.ndarray:
    r"""Procedure-grounded progress labels (ProcVLM-style; the module docstring's formula).

    Parameters
    ----------
    stage : int [N, T+1]
        Stage index of every frame (``n_stages`` once the task is done), non-decreasing.
    feats : float [N, T+1, D]
        A feature vector per frame (e.g. flattened frames, or a frozen encoder's output);
        the visual change is the Euclidean norm of consecutive differences.
    valid : bool [N, T+1]
        Prefix mask of the episode's frames.
    n_stages : int >= 1
    budgets : float [n_stages], optional
        Progress budget of each stage (non-negative, normalised to sum 1); default equal.

    Returns
    -------
    float64 [N, T+1] in [0, 1]
        Within stage :math:`k` the label rises from :math:`\sum_{j<k} b_j` to
        :math:`\sum_{j\le k} b_j` in proportion to the feature change accumulated since the
        stage began, normalised by the stage's total change up to the frame that completes
        it. A stage that is never completed (the last one of a failed or stalled
        demonstration) is normalised by its own change so far, so its labels reach the
        stage's end: like time labels, procedure labels assume the demonstration finishes
        (the paper builds them from successful demonstrations). A stage without any change
        rises linearly in time. Frames after the episode hold its last label.

    Notes
    -----
    ProcVLM (Feng et al. 2026) assigns budgets from the procedure's structure and spreads
    them by intra-subtask visual change of real video; here the stage index is known and
    the features are what the caller passes.
    """
    st = to_numpy(stage, "stage")
    if st.ndim != 2 or st.dtype.kind not in "iu":
        raise ValueError(f"stage must be an int array [N, T+1], got {st.dtype} {st.shape}")
    N, T1 = st.shape
    f = _float(feats, "feats", ndim=3)
    if f.shape[:2] != (N, T1):
        raise ValueError(f"feats must have shape ({N}, {T1}, D), got {f.shape}")
    v = _valid(valid, (N, T1))
    if isinstance(n_stages, bool) or not isinstance(n_stages, (int, np.integer)) or n_stages < 1:
        raise ValueError(f"n_stages must be an int >= 1, got {n_stages!r}")
    K = int(n_stages)
    if (st < 0).any() or (st > K).any():
        raise ValueError(f"stage must be in 0..{K}")
    if (np.diff(np.where(v, st, K), axis=1) < 0).any():
        raise ValueError("stage must be non-decreasing inside each episode")
    if budgets is None:
        b = np.full(K, 1.0 / K)
    else:
        b = _float(budgets, "budgets", ndim=1)
        if b.shape != (K,) or (b < 0).any() or b.sum() <= 0:
            raise ValueError(f"budgets must be {K} non-negative numbers with a positive sum")
        b = b / b.sum()
    start = np.concatenate([[0.0], np.cumsum(b)])
    out = np.ones((N, T1))
    step = np.linalg.norm(np.diff(f, axis=1), axis=-1)  # [N, T]
    for i in range(N):
        last = int(v[i].sum()) - 1
        for k in range(K):
            idx = np.nonzero(st[i, : last + 1] == k)[0]
            if not len(idx):
                continue
            t0, t1 = idx[0], idx[-1]
            end = t1 + 1 if t1 < last else t1  # the frame that completes the stage
            c = np.concatenate([[0.0], np.cumsum(step[i, t0:end])])
            total = c[-1]
            frac = c / total if total > 0 else np.linspace(0.0, 1.0, len(c))
            if len(c) == 1:
                frac = np.zeros(1)
            out[i, t0 : t1 + 1] = start[k] + b[k] * frac[: t1 + 1 - t0]
        done = st[i, : last + 1] >= K
        out[i, : last + 1][done] = 1.0
        out[i, last + 1 :] = out[i, last]
    return out.clip(0.0, 1.0)


def progress_delta(p_hat: Any) -> np.ndarray:
    r"""Dense reward from a progress estimate: :math:`r_t = \hat p_{t+1} - \hat p_t`.

    Parameters
    ----------
    p_hat : float [..., T+1]
        Estimated progress of each frame (time last).

    Returns
    -------
    float64 [..., T]
        Its sum telescopes to :math:`\hat p_T - \hat p_0` (a potential-based reward with
        potential :math:`\hat p`, Chapter 2).
    """
    p = _float(p_hat, "p_hat")
    if p.shape[-1] < 2:
        raise ValueError(f"p_hat needs >= 2 entries along its last axis, got {p.shape}")
    return np.diff(p, axis=-1)


def direction_alignment(a: Any, s: Any, s_future_hat: Any, *, eps: float = 1e-8) -> np.ndarray:
    r"""SC-VLA-style alignment of an action with a predicted future:
    :math:`\cos(a_t,\ \hat s_{t+k} - s_t)`.

    Parameters
    ----------
    a : float [..., D]
        Actions (or commanded velocities).
    s, s_future_hat : float [..., D]
        Current position and the predicted future position (a waypoint head's output).
    eps : float > 0
        Vectors shorter than ``eps`` give 0 (no direction).

    Returns
    -------
    float64 [...] in [-1, 1]
    """
    av = _float(a, "a")
    sv = _float(s, "s")
    fv = _float(s_future_hat, "s_future_hat")
    if not (av.shape == sv.shape == fv.shape):
        raise ValueError(
            f"a, s and s_future_hat must have the same shape, got {av.shape}, "
            f"{sv.shape} and {fv.shape}"
        )
    eps = check_positive(eps, "eps")
    d = fv - sv
    na, nd = np.linalg.norm(av, axis=-1), np.linalg.norm(d, axis=-1)
    ok = (na > eps) & (nd > eps)
    cos = (av * d).sum(-1) / np.where(ok, na * nd, 1.0)
    return np.where(ok, cos, 0.0).clip(-1.0, 1.0)


def kinematic_smoothness(
    q: Any,
    dt: float = 1.0,
    *,
    w_vel: float = 0.0,
    w_acc: float = 0.0,
    w_jerk: float = 1.0,
    limits: Any = None,
    penalty: float = 1.0,
) -> np.ndarray:
    r"""EVA-style executability reward of joint trajectories (module docstring).

    Parameters
    ----------
    q : float [N, T, J]
        Joint positions (or commands) decoded from a generated video, ``T >= 4``.
    dt : float > 0
        Time step of the finite differences :math:`\dot q = \Delta q / dt`, etc.
    w_vel, w_acc, w_jerk : float >= 0
        Weights of the mean (over time) Euclidean norms of velocity, acceleration, jerk.
    limits : float [J, 2], optional
        Lower and upper bound of each joint; ``None``: no limit term.
    penalty : float >= 0
        :math:`\lambda`, subtracted once from a trajectory that leaves its limits at any
        step.

    Returns
    -------
    float64 [N]
        The reward (higher is smoother and executable).

    Notes
    -----
    EVA (2026) penalises velocity, acceleration and jerk of the actions an inverse dynamics
    model decodes from a generated video, and out-of-bound actions; the weights and the
    indicator form of the bound penalty here are our choices.
    """
    x = _float(q, "q", ndim=3)
    if x.shape[1] < 4:
        raise ValueError(f"q needs T >= 4 steps for the jerk, got shape {x.shape}")
    dt = check_positive(dt, "dt")
    w = [
        check_nonnegative(v, n) for v, n in ((w_vel, "w_vel"), (w_acc, "w_acc"), (w_jerk, "w_jerk"))
    ]
    lam = check_nonnegative(penalty, "penalty")
    r = np.zeros(len(x))
    d = x
    for wk in w:
        d = np.diff(d, axis=1) / dt
        r -= wk * np.linalg.norm(d, axis=-1).mean(1)
    if limits is not None:
        lim = _float(limits, "limits", ndim=2)
        if lim.shape != (x.shape[2], 2) or (lim[:, 0] > lim[:, 1]).any():
            raise ValueError(
                f"limits must be [J, 2] = [{x.shape[2]}, 2] with low <= high, got {lim.shape}"
            )
        bad = ((x < lim[:, 0]) | (x > lim[:, 1])).any((1, 2))
        r -= lam * bad
    return r


def wm_goal_reward(
    wm: Callable[[np.ndarray, np.ndarray], Any],
    s: Any,
    a_chunk: Any,
    goal: Any,
    *,
    pos: slice = slice(0, 2),
    distance: Callable[[np.ndarray, np.ndarray], Any] | None = None,
) -> np.ndarray:
    r"""NORA-1.5-style world-model reward :math:`-d(\hat s_{t+H}[\text{pos}], g)`.

    Parameters
    ----------
    wm : callable ``(states [B, S], actions [B, A]) -> next states [B, S]``
        A learned one-step model (e.g. a :class:`~creditlab.models.DynamicsEnsemble`'s
        mean, wrapped to return numpy); rolled over the chunk.
    s : float [B, S]
        Current states.
    a_chunk : float [B, H, A] (or [B, A] for H = 1)
        Action chunks.
    goal : float [B, P]
        Goal positions (``P`` = the length of ``pos``).
    pos : slice
        Which state entries are the position (default the first two).
    distance : callable ``(positions [B, P], goals [B, P]) -> [B]``, optional
        The distance :math:`d` (default Euclidean; e.g. a geodesic distance around walls,
        so that a perfect model gives a reward without local optima).

    Returns
    -------
    float64 [B]
        Minus the predicted distance to the goal after the chunk; the world model's
        errors become the reward's errors, which a policy optimised on it can exploit.
    """
    if not callable(wm):
        raise TypeError(f"wm must be callable, got {type(wm).__name__}")
    x = _float(s, "s", ndim=2)
    A = _float(a_chunk, "a_chunk")
    if A.ndim == 2:
        A = A[:, None]
    if A.ndim != 3 or len(A) != len(x):
        raise ValueError(f"a_chunk must be [B, H, A] with B = {len(x)}, got {A.shape}")
    g = _float(goal, "goal", ndim=2)
    if len(g) != len(x) or g.shape[1] != len(range(*pos.indices(x.shape[1]))):
        raise ValueError(f"goal must be [B, P] matching s[:, pos], got {g.shape}")
    for h in range(A.shape[1]):
        nx = to_numpy(wm(x, A[:, h]), "wm output").astype(np.float64)
        if nx.shape != x.shape:
            raise ValueError(f"wm must return states of shape {x.shape}, got {nx.shape}")
        x = nx
    if distance is None:
        return -np.linalg.norm(x[:, pos] - g, axis=-1)
    if not callable(distance):
        raise TypeError(f"distance must be callable, got {type(distance).__name__}")
    d = to_numpy(distance(x[:, pos], g), "distance output").astype(np.float64)
    if d.shape != (len(x),):
        raise ValueError(f"distance must return shape ({len(x)},), got {d.shape}")
    return -d


def action_deviation(a: Any, a_ref: Any) -> np.ndarray:
    r"""Deviation from demonstrated actions :math:`\lVert a - a_{ref}\rVert` (NORA-1.5-style).

    Parameters
    ----------
    a, a_ref : float [..., A]
        Sampled and demonstrated (ground-truth) actions, the same shape (flatten an action
        chunk into its last axis).

    Returns
    -------
    float64 [...]
        Non-negative; a reward uses :math:`-\lambda\lVert a - a_{ref}\rVert`.
    """
    x, y = _float(a, "a"), _float(a_ref, "a_ref")
    if x.shape != y.shape:
        raise ValueError(f"a and a_ref must have the same shape, got {x.shape} and {y.shape}")
    return np.linalg.norm(x - y, axis=-1)
