"""Plain-Python reference implementations: the loops the book shows first.

Every compiled kernel in ``csrc/`` is tested against the function of the same name here
(property tests in ``tests/test_returns.py``). They take numpy arrays laid out
batch-major, ``[B, T]`` with time last, loop over time in reverse, and do vector
operations over the batch, as verl, TRL and CleanRL do. They favour clarity over speed:
the public functions in :mod:`creditlab.returns` validate their inputs, handle other
layouts and torch tensors, and call these when the compiled module is unavailable.

Conventions (shared with the kernels)
-------------------------------------
- ``terminated[b, t]``: step t ended the episode in a terminal state; nothing is
  bootstrapped from after it.
- ``truncated[b, t]``: step t ended the episode by a time limit; the return bootstraps
  from ``next_values[b, t]`` = V(s_{t+1}), the value of the final observation.
- the end of the array is not an episode end: the return bootstraps from ``bootstrap``
  (one value per row, default 0), or from ``next_values[:, T-1]`` when given.
- ``response_mask[b, t] == False`` marks a step to skip (padding, tool-output tokens):
  it carries the recurrence through unchanged and its reward and flags are ignored
  (verl's semantics).
"""

from __future__ import annotations

import numpy as np


def _flags(x: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape, dtype=bool) if x is None else np.asarray(x, dtype=bool)


def discounted_returns(
    rewards: np.ndarray,
    gamma: float,
    *,
    terminated: np.ndarray | None = None,
    truncated: np.ndarray | None = None,
    next_values: np.ndarray | None = None,
    bootstrap: np.ndarray | None = None,
    response_mask: np.ndarray | None = None,
) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1}, cut at terminated steps, bootstrapped at truncated ones.

    Shapes: ``rewards``, flags, ``next_values`` [B, T]; ``bootstrap`` [B]. Returns [B, T].
    """
    B, T = rewards.shape
    term, trunc = _flags(terminated, (B, T)), _flags(truncated, (B, T))
    mask = np.ones((B, T), bool) if response_mask is None else response_mask
    out = np.zeros_like(rewards)
    if T == 0:
        return out
    G = np.zeros(B, rewards.dtype) if bootstrap is None else bootstrap.astype(rewards.dtype)
    if next_values is not None:
        G = next_values[:, T - 1].copy()
    for t in reversed(range(T)):
        nxt = G
        if next_values is not None:
            nxt = np.where(trunc[:, t], next_values[:, t], nxt)
        nxt = np.where(term[:, t], 0, nxt)
        G = np.where(mask[:, t], rewards[:, t] + gamma * nxt, G).astype(rewards.dtype)
        out[:, t] = G
    return out


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    gamma: float,
    lam: float,
    *,
    terminated: np.ndarray | None = None,
    truncated: np.ndarray | None = None,
    next_values: np.ndarray | None = None,
    bootstrap: np.ndarray | None = None,
    response_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation (Schulman et al., 2016).

    delta_t = r_t + gamma * (1 - term_t) * V+_t - V_t
    A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1},   done_t = term_t or trunc_t

    where V+_t is ``next_values[:, t]`` if given, else the value of the next unmasked step
    (``values[:, T]`` or ``bootstrap`` after the last one). ``values`` is [B, T] or
    [B, T+1]. Returns ``(advantages, returns)`` with ``returns = advantages + values``.
    """
    B, T = rewards.shape
    term, trunc = _flags(terminated, (B, T)), _flags(truncated, (B, T))
    done = term | trunc
    mask = np.ones((B, T), bool) if response_mask is None else response_mask
    v = values[:, :T]
    if values.shape[1] == T + 1:
        v_next = values[:, T].copy()
    elif bootstrap is not None:
        v_next = bootstrap.astype(rewards.dtype)
    else:
        v_next = np.zeros(B, rewards.dtype)
    adv = np.zeros_like(rewards)
    A = np.zeros(B, rewards.dtype)
    for t in reversed(range(T)):
        vplus = next_values[:, t] if next_values is not None else v_next
        delta = rewards[:, t] + gamma * np.where(term[:, t], 0, vplus) - v[:, t]
        A_new = delta + gamma * lam * np.where(done[:, t], 0, A)
        A = np.where(mask[:, t], A_new, A).astype(rewards.dtype)
        v_next = np.where(mask[:, t], v[:, t], v_next)
        adv[:, t] = A
    return adv, adv + v


def lambda_returns(
    rewards: np.ndarray,
    values: np.ndarray,
    gamma: float,
    lam: float,
    **kwargs: np.ndarray | None,
) -> np.ndarray:
    """TD(lambda) returns G^lambda_t = A^GAE_t + V_t (same arguments as :func:`gae`).

    Unrolled: G_t = r_t + gamma * [(1 - lam) V+_t + lam G_{t+1}] within an episode.
    """
    return gae(rewards, values, gamma, lam, **kwargs)[1]


def min_form_returns(
    rewards: np.ndarray,
    *,
    terminated: np.ndarray | None = None,
    response_mask: np.ndarray | None = None,
) -> np.ndarray:
    """m_t = min(r_t, m_{t+1}): the smallest reward from t to the end of the episode.

    The (min, +) counterpart of the sum-form return (PURE, Cheng et al. 2025). Restarts
    after terminated steps; NaN propagates; masked steps carry m through, and positions
    with no unmasked step at or after them in the episode get 0.
    """
    B, T = rewards.shape
    term = _flags(terminated, (B, T))
    mask = np.ones((B, T), bool) if response_mask is None else response_mask
    out = np.zeros_like(rewards)
    m = np.full(B, np.inf, rewards.dtype)
    seen = np.zeros(B, bool)  # has the current episode an unmasked step after t?
    for t in reversed(range(T)):
        restart = term[:, t] | ~seen
        m_new = np.where(restart, rewards[:, t], np.minimum(rewards[:, t], m))
        m = np.where(mask[:, t], m_new, m)
        seen = seen | mask[:, t]
        out[:, t] = np.where(seen, m, 0)
    return out


def softmin_transform(
    rewards: np.ndarray, temperature: float = 0.1, *, response_mask: np.ndarray | None = None
) -> np.ndarray:
    """PURE's transform r*_k = softmax(-r / T)_k * r_k over each row's unmasked steps.

    Summing r* over the sequence gives a soft minimum of the rewards: T -> 0 gives the
    minimum, T -> inf the mean. Masked steps get 0.
    """
    mask = np.ones(rewards.shape, bool) if response_mask is None else response_mask
    z = np.where(mask, -rewards / temperature, -np.inf)
    zmax = z.max(axis=-1, keepdims=True, initial=-np.inf)
    zmax = np.where(np.isfinite(zmax), zmax, 0)
    w = np.exp(z - zmax)
    w = w / np.maximum(w.sum(axis=-1, keepdims=True), np.finfo(rewards.dtype).tiny)
    return np.where(mask, w * rewards, 0).astype(rewards.dtype)


# --------------------------------------------------------------------------------------
# Bounding accumulated process reward (book Part II, Chapter 6): the loops that
# creditlab.process_rewards vectorises.


def clip_process(
    rewards: np.ndarray, eta: float, *, response_mask: np.ndarray | None = None
) -> np.ndarray:
    """Gao et al. (2024) Clip: r~_k = min(r_k - eta, 0) at unmasked steps, 0 elsewhere."""
    B, T = rewards.shape
    mask = np.ones((B, T), bool) if response_mask is None else response_mask
    out = np.zeros_like(rewards)
    for b in range(B):
        for t in range(T):
            if mask[b, t]:
                out[b, t] = min(rewards[b, t] - eta, 0.0) if not np.isnan(rewards[b, t]) \
                    else np.nan
    return out


def delta_process(
    rewards: np.ndarray, *, response_mask: np.ndarray | None = None, final_step: str = "drop"
) -> np.ndarray:
    """Gao et al. (2024) Delta over each row's unmasked steps 1..K, case by case.

    ``"drop"`` (the paper): r_k - r_{k+1} for k < K-1, r_{K-1} at K-1, 0 at K.
    ``"zero"``: r_k - r_{k+1} for k < K, 0 at K.  ``"keep"``: r_k - r_{k+1} for k < K, r_K at K.
    """
    B, T = rewards.shape
    mask = np.ones((B, T), bool) if response_mask is None else response_mask
    out = np.zeros_like(rewards)
    for b in range(B):
        steps = [t for t in range(T) if mask[b, t]]  # positions of steps 1..K
        K = len(steps)
        for k, t in enumerate(steps, start=1):
            if k == K:
                out[b, t] = rewards[b, t] if final_step == "keep" else 0.0
            elif k == K - 1 and final_step == "drop":
                out[b, t] = rewards[b, t]
            else:
                out[b, t] = rewards[b, t] - rewards[b, steps[k]]  # steps[k] is step k+1
    return out


def gated_accumulate(
    step_rewards: np.ndarray,
    outcome_reward: np.ndarray,
    threshold: float,
    *,
    response_mask: np.ndarray | None = None,
    include_outcome: bool = True,
) -> np.ndarray:
    """G-RA (Sun et al. 2025): step rewards count only if the outcome reaches the threshold.

    r~_t = 1[o >= threshold] r_t at unmasked steps, plus o on each row's last unmasked
    step when ``include_outcome``; the row sums to o + 1[o >= threshold] sum_t r_t.
    """
    B, T = step_rewards.shape
    mask = np.ones((B, T), bool) if response_mask is None else response_mask
    out = np.zeros_like(step_rewards)
    for b in range(B):
        gate = 1.0 if outcome_reward[b] >= threshold else 0.0
        last = -1
        for t in range(T):
            if mask[b, t]:
                out[b, t] = gate * step_rewards[b, t]
                last = t
        if include_outcome and last >= 0:
            out[b, last] += outcome_reward[b]
    return out
