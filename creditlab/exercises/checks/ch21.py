"""Checks for Chapter 21 (Brier score, log score, expected improvement)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.bayesopt import expected_improvement
from creditlab.exercises.check import Cases, call
from creditlab.metrics import brier, log_score


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261221)
    out = Cases()
    put = out.put
    for i, N in enumerate([1, 4, 9, 30]):
        p = rng.uniform(0.02, 0.98, N)
        y = rng.random(N) < p
        put("brier_score", i, brier(p, y), p=p, y=y)
        put("log_score", i, log_score(p, y), p=p, y=y)
        M = int(rng.integers(1, 8))
        mean, sd = rng.normal(size=M), rng.uniform(0.05, 2.0, M)
        best = float(rng.normal())
        put("expected_improvement", i, expected_improvement(mean, sd, best), mean=mean,
            sd=sd, best=best)
    return out


def _inv_brier(fn: Callable[..., Any]) -> None:
    r = call(fn, {"p": np.array([1.0, 0.0]), "y": np.array([True, False])})
    assert np.isclose(r, 0.0), "a certain forecast that comes true scores 0"
    r = call(fn, {"p": np.full(4, 0.5), "y": np.array([True, False, True, True])})
    assert np.isclose(r, 0.25), "the constant forecast 1/2 scores 0.25 whatever happens"


def _inv_log(fn: Callable[..., Any]) -> None:
    r = call(fn, {"p": np.full(3, 0.5), "y": np.array([True, False, True])})
    assert np.isclose(r, np.log(0.5)), "the constant forecast 1/2 scores log(1/2)"
    r = call(fn, {"p": np.array([0.9]), "y": np.array([False])})
    assert np.isclose(r, np.log(0.1)), "a miss at p = 0.9 scores log(1 - 0.9)"


def _inv_ei(fn: Callable[..., Any]) -> None:
    r = call(fn, {"mean": np.array([0.0]), "sd": np.array([1.0]), "best": 0.0})
    assert np.allclose(r, 1 / np.sqrt(2 * np.pi)), (
        "at mean = best the expected improvement is sd * phi(0) = sd / sqrt(2 pi)")
    r = call(fn, {"mean": np.array([5.0, -5.0]), "sd": np.array([0.01, 0.01]), "best": 1.0})
    assert np.allclose(r, [4.0, 0.0], atol=1e-6), (
        "a near-certain belief improves by max(mean - best, 0)")


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "brier_score": _inv_brier,
    "log_score": _inv_log,
    "expected_improvement": _inv_ei,
}
