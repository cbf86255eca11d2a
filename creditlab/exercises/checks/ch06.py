"""Checks for Chapter 6 (Clip, Delta, gated accumulation): stored answers and invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab import reference
from creditlab.exercises.check import Cases, call


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261206)
    out = Cases()
    put = out.put

    for i, K in enumerate([1, 2, 5, 9]):
        r = rng.uniform(-1, 1, K)
        eta = float(rng.uniform(-0.5, 1.0))
        put("clip_process", i, reference.clip_process(r[None], eta)[0], rewards=r, eta=eta)
        put("delta_process", i, reference.delta_process(r[None])[0], rewards=r)
        o, thr = float(rng.choice([0.0, 1.0])), 0.5
        put("gated_accumulate", i, reference.gated_accumulate(r[None], np.array([o]), thr)[0],
            step_rewards=r, outcome_reward=o, threshold=thr)
    return out


def _inv_clip(fn: Callable[..., Any]) -> None:
    r = np.full(50, 0.9)
    c = call(fn, {"rewards": r, "eta": 0.5})
    assert np.all(c <= 0), "clipped rewards are never positive: extra steps cannot pay"
    c = call(fn, {"rewards": np.array([0.2, 0.9]), "eta": 0.5})
    assert np.allclose(c, [-0.3, 0.0]), "steps below eta are penalised by eta - r"


def _inv_delta(fn: Callable[..., Any]) -> None:
    r = np.array([0.3, 0.9, 0.5, 0.7])
    d = call(fn, {"rewards": r})
    G = np.cumsum(d[::-1])[::-1]
    assert np.allclose(G[:-1], r[:-1]), "the return from step k < K telescopes to r_k"
    assert np.isclose(d[-1], 0.0), "the last step's score is dropped: it gets 0"
    assert np.allclose(call(fn, {"rewards": np.array([0.4, -1.0])}), [0.4, 0.0]), (
        "two steps: the first keeps its own score, the last gets 0 (never r_1 - r_2)")
    assert call(fn, {"rewards": np.array([0.4])}).tolist() == [0.0], "one step: no delta"


def _inv_gated(fn: Callable[..., Any]) -> None:
    r = np.array([0.5, 0.5, 0.5])
    g = call(fn, {"step_rewards": r, "outcome_reward": 0.0, "threshold": 1.0})
    assert np.allclose(g, 0), "a failed outcome earns no step rewards"
    g = call(fn, {"step_rewards": r, "outcome_reward": 1.0, "threshold": 1.0})
    assert np.isclose(g.sum(), 2.5), "a passed outcome earns outcome + all step rewards"
    assert np.isclose(g[-1], 1.5), "the outcome is added on the last step"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "clip_process": _inv_clip,
    "delta_process": _inv_delta,
    "gated_accumulate": _inv_gated,
}
