r"""Bounding accumulated process reward: Clip, Delta and gated accumulation (Part II, Ch. 6).

A process reward model scores every step. Summed over a trajectory (sum-form credit),
those scores reward *length*: a policy can raise its return by adding steps the PRM
likes (repeating a correct step, filler). Three transforms keep the accumulated reward
in check:

- :func:`clip_process` (Gao et al. 2024): every step reward becomes <= 0, so extra steps
  can only lower the return;
- :func:`delta_process` (Gao et al. 2024): rewards become differences of consecutive PRM
  scores, so the return from any step but the last telescopes to that step's own score
  (the paper's rule drops the last step's score; two other last-step rules are offered);
- :func:`gated_accumulate` (G-RA, Sun et al. 2025): step rewards count only on
  trajectories whose outcome reward reaches a threshold.

Conventions follow :mod:`creditlab.returns`: ``[B, T]`` rows (or one ``[T]`` row),
float32/float64, ``response_mask`` bool (False = not a step: its output is 0 and it is
skipped when finding the next step), numpy in/out or torch CPU in/out, inputs never
modified. Each function is vectorised numpy (no per-token Python loop); the plain loops
they are tested against are in :mod:`creditlab.reference`. They are re-exported by
:mod:`creditlab.shaping`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab._backend import bool_array, check_real, float_array, like

__all__ = ["clip_process", "delta_process", "gated_accumulate"]


def _rows(
    rewards: Any, response_mask: Any, name: str = "rewards"
) -> tuple[np.ndarray, np.ndarray, bool]:
    r = float_array(rewards, name)
    if r.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D [T] or 2-D [B, T], got shape {tuple(r.shape)}")
    squeeze = r.ndim == 1
    r2 = r.reshape(1, -1) if squeeze else r
    if response_mask is None:
        m = np.ones(r2.shape, bool)
    else:
        m = bool_array(response_mask, "response_mask")
        if m.shape != r.shape:
            raise ValueError(
                f"response_mask must have the same shape as {name} {tuple(r.shape)}, "
                f"got {tuple(m.shape)}"
            )
        m = m.reshape(r2.shape)
    return r2, m, squeeze


def _out(res: np.ndarray, squeeze: bool, template: Any) -> Any:
    return like(np.ascontiguousarray(res.reshape(-1) if squeeze else res), template)


def clip_process(rewards: Any, eta: float, *, response_mask: Any = None) -> Any:
    r"""Gao et al. (2024) Clip mechanism: :math:`\tilde r_k = \min(r_k - \eta, 0)`.

    Implemented form (Gao, Xu, Ye, Liu, He, Fu, Mei, Wang, Wu, "On Designing Effective
    RL Reward at Training Time for LLM Reasoning", arXiv:2410.15115, Clip mechanism):
    subtract the threshold and clip from above at 0. Steps the PRM scores at or above
    ``eta`` get 0; steps below it get a penalty. Every transformed reward is <= 0, so the
    accumulated reward of any trajectory is at most 0 and adding steps can only lower it.

    Parameters
    ----------
    rewards : array [B, T] or [T], float32/float64
        Step rewards (PRM scores) on step positions.
    eta : float
        The threshold (finite).
    response_mask : bool array like ``rewards``, optional
        False marks positions that are not steps; they get 0.

    Returns
    -------
    array like ``rewards`` (same kind, shape and dtype). NaN rewards stay NaN.
    """
    eta = check_real(eta, "eta")
    r, m, squeeze = _rows(rewards, response_mask)
    res = np.where(m, np.minimum(r - r.dtype.type(eta), 0), 0).astype(r.dtype)
    return _out(res, squeeze, rewards)


_DELTA_FINAL = ("drop", "zero", "keep")


def delta_process(rewards: Any, *, response_mask: Any = None, final_step: str = "drop") -> Any:
    r"""Gao et al. (2024) Delta: :math:`\tilde r_k = r_k - r_{k+1}`, and a last-step rule.

    Over a row's K unmasked steps with PRM scores :math:`r_1, \dots, r_K`, each step's
    reward is its score minus the next step's. The rows differ only at the end:

    ``final_step="drop"`` (default; the paper's Delta, arXiv:2410.15115, as pinned from
    two secondary sources and the ICLR 2025 reviews)
        :math:`\tilde r_k = r_k - r_{k+1}` for :math:`k < K-1`,
        :math:`\tilde r_{K-1} = r_{K-1}`, :math:`\tilde r_K = 0`: the last step's score
        is dropped (the success reward covers the final step). Return-to-go
        :math:`\sum_{j \ge k} \tilde r_j = r_k` for :math:`k < K`, 0 at :math:`K`.
    ``final_step="zero"`` (a misreading this library used as its default before the
    paper's rule was pinned; kept because the book shows how it fails)
        :math:`\tilde r_k = r_k - r_{k+1}` for every :math:`k < K`, :math:`\tilde r_K = 0`.
        Return-to-go :math:`r_k - r_K`: the last step's score, negated, reaches every
        earlier step, so a *low* last score raises the return.
    ``final_step="keep"``
        :math:`\tilde r_k = r_k - r_{k+1}` for :math:`k < K`, :math:`\tilde r_K = r_K`.
        Return-to-go :math:`r_k` for every :math:`k`, the last step included.

    All three are bounded by the PRM's range however long the row is. ``"drop"`` and
    ``"keep"`` are potential-based shaping (book Chapter 2) with
    :math:`\Phi(p^{(k)}) = -r_k` and a zero potential after the last scored step
    (``"drop"`` ends the shaping at step K-1, ``"keep"`` at K); only the first step's own
    score :math:`r_1` remains as a plain reward. ``"zero"`` leaves the terminal potential
    at :math:`-r_K` instead of 0, which is what breaks it.

    Parameters
    ----------
    rewards : array [B, T] or [T], float32/float64
    response_mask : bool array like ``rewards``, optional
        False marks positions that are not steps: they get 0 and are skipped, so "the next
        step" is the next unmasked position and "the last step" the last unmasked one.
    final_step : {"drop", "zero", "keep"}
        The last-step rule above.

    Returns
    -------
    array like ``rewards``. A NaN reward propagates to its own and the previous step,
    except that under ``"drop"`` the last step's score is never read (a NaN there is
    dropped with it).
    """
    if final_step not in _DELTA_FINAL:
        raise ValueError(f"final_step must be 'drop', 'zero' or 'keep', got {final_step!r}")
    r, m, squeeze = _rows(rewards, response_mask)
    B, T = r.shape
    if T == 0:
        return _out(r.copy(), squeeze, rewards)
    idx = np.where(m, np.arange(T), T)
    after = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]  # first step at or after t
    nxt = np.concatenate([after[:, 1:], np.full((B, 1), T)], axis=1)  # first step after t
    has_next = nxt < T
    if final_step == "drop":  # "keep" on the scores with the last step's score set to 0
        r = np.where(m & ~has_next, r.dtype.type(0), r)
    r_next = np.take_along_axis(r, np.minimum(nxt, T - 1), axis=1)
    last = np.zeros_like(r) if final_step == "zero" else r
    res = np.where(m, np.where(has_next, r - r_next, last), 0).astype(r.dtype)
    return _out(res, squeeze, rewards)


def gated_accumulate(
    step_rewards: Any,
    outcome_reward: Any,
    threshold: float,
    *,
    response_mask: Any = None,
    include_outcome: bool = True,
) -> Any:
    r"""Gated reward accumulation (G-RA; Sun et al. 2025, arXiv:2508.10548).

    .. math:: \tilde r_t = \mathbb 1[o \ge \delta]\, r_t, \qquad
              R = o + \mathbb 1[o \ge \delta] \sum_t r_t

    Immediate (step) rewards are accumulated only when the long-term outcome reward ``o``
    of the trajectory reaches the threshold :math:`\delta`; a trajectory that fails the
    gate earns its outcome reward alone, however many step rewards it farmed. This is the
    two-level case of the paper's priority gating.

    Parameters
    ----------
    step_rewards : array [B, T] or [T], float32/float64
    outcome_reward : array [B] (a scalar or shape [1] for one [T] row)
        One outcome reward per row.
    threshold : float
        The gate :math:`\delta` (finite).
    response_mask : bool array like ``step_rewards``, optional
        False marks positions that are not steps (output 0).
    include_outcome : bool
        Add ``o`` on each row's last unmasked step, so that the row sums to :math:`R`
        and a reverse cumulative sum gives G-RA returns-to-go. A row with no unmasked
        step has nowhere to put it and stays all 0. ``False`` returns only the gated step
        rewards.

    Returns
    -------
    array like ``step_rewards``. A NaN step reward stays NaN even when gated off
    (0 * NaN), so upstream bugs are not hidden.
    """
    threshold = check_real(threshold, "threshold")
    r, m, squeeze = _rows(step_rewards, response_mask, "step_rewards")
    if isinstance(outcome_reward, (int, float, np.floating)) and not isinstance(
        outcome_reward, bool
    ):
        o = np.asarray([outcome_reward], r.dtype)
    else:
        o = float_array(outcome_reward, "outcome_reward")
    if squeeze and o.size == 1:
        o = o.reshape(1)
    if o.shape != (r.shape[0],):
        raise ValueError(
            f"outcome_reward must have shape ({r.shape[0]},) (one value per row of "
            f"step_rewards), got {tuple(o.shape)}"
        )
    gate = (o >= threshold).astype(r.dtype)
    res = np.where(m, r * gate[:, None], 0).astype(r.dtype)
    if include_outcome:
        T = r.shape[1]
        any_step = m.any(axis=1)
        last = T - 1 - np.argmax(m[:, ::-1], axis=1) if T else np.zeros(len(o), int)
        rows = np.nonzero(any_step)[0]
        res[rows, last[rows]] += o[rows].astype(r.dtype)
    return _out(res, squeeze, step_rewards)
