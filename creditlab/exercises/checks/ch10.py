"""Checks for Chapter 10 (signed geometric mean, first-completion milestones, stage-wise
advantages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.advantages import stage_structured
from creditlab.exercises.check import Cases, call
from creditlab.shaping import krc_combine, milestone_rewards


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261210)
    out = Cases()
    put = out.put
    for i, shape in enumerate([(5, 2), (4, 3), (2, 3, 2)]):
        c = rng.uniform(-1, 1, shape)
        put("signed_geomean", i, krc_combine(c), components=c)
    for i, (T, M) in enumerate([(6, 2), (8, 3), (5, 1)]):
        e = rng.random((T, M)) < 0.4
        w = rng.random(M)
        put("milestone_rewards", i, milestone_rewards(e, w), events=e, weights=w)
    for i, (B, K, T) in enumerate([(4, 2, 5), (6, 3, 6), (5, 4, 8)]):
        s = rng.random((B, K))
        ids = rng.integers(-1, K, (B, T))
        idx = np.arange(B) % 2 if i < 2 else np.array([0, 0, 1, 1, 2])  # a group of one
        put("stage_advantages", i, stage_structured(s, ids, idx), stage_scores=s,
            stage_ids=ids, index=idx)
    return out


def _inv_geomean(fn: Callable[..., Any]) -> None:
    r = np.asarray(call(fn, {"components": np.array([[1.0, 0.0], [-0.5, -0.5], [-1.0, 0.25]])}))
    assert np.isclose(r[0], 0.0), "one component at 0 gives 0, whatever the others"
    # sign(product) is our N-component rule; Lucy's player_ball.py negates instead
    # when any signed component is negative (krc_combine's mode="any_negative")
    assert np.isclose(r[1], 0.5), "two negative components: sign(product) = +"
    assert np.isclose(r[2], -0.5), "one negative component: negative, sqrt(|-1 * 0.25|)"


def _inv_milestones(fn: Callable[..., Any]) -> None:
    e = np.array([[1], [0], [1], [1]], bool)
    r = np.asarray(call(fn, {"events": e, "weights": np.array([0.5])}))
    assert np.allclose(r, [0.5, 0, 0, 0]), "only the first completion of a milestone pays"


def _inv_stages(fn: Callable[..., Any]) -> None:
    s = np.array([[1.0, 0.0], [0.0, 0.0]])
    ids = np.array([[0, 1, -1], [0, 1, -1]])
    r = np.asarray(call(fn, {"stage_scores": s, "stage_ids": ids, "index": np.array([0, 0])}))
    assert np.allclose(r[:, 1], 0.0), "a stage every response scores alike gets advantage 0"
    assert np.allclose(r[:, 2], 0.0), "padding (stage id -1) gets 0"
    assert r[0, 0] > 0 > r[1, 0], "a stage's own score decides its steps' advantage"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "signed_geomean": _inv_geomean,
    "milestone_rewards": _inv_milestones,
    "stage_advantages": _inv_stages,
}
