"""Checks for Chapter 16 (prediction-error bonus, independence penalty)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.exploration import independence_penalty, prediction_error_bonus


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261216)
    out = Cases()
    put = out.put
    for i, D in enumerate([1, 3, 5, 12]):
        pred = rng.dirichlet(np.ones(D))
        o = int(rng.integers(D))
        put("prediction_error", i,
            prediction_error_bonus(pred[None, None], [0], [0], [o])[0], pred=pred, obs_next=o)
        N, Z, G = int(rng.integers(4, 12)), int(rng.integers(2, 5)), int(rng.integers(1, 4))
        q = rng.dirichlet(np.ones(Z) * 0.5, size=N)
        g = rng.integers(0, G, N)
        put("independence_penalty", i, independence_penalty(q, g), q_z=q, group=g)
    return out


def _inv_error(fn: Callable[..., Any]) -> None:
    r = call(fn, {"pred": np.array([0.0, 1.0, 0.0]), "obs_next": 1})
    assert np.isclose(r, 0.0), "a perfect prediction earns no bonus"
    r = call(fn, {"pred": np.full(4, 0.25), "obs_next": 2})
    assert np.isclose(r, 0.75), "a uniform prediction over K = 4 outcomes earns 1 - 1/K"


def _inv_indep(fn: Callable[..., Any]) -> None:
    q = np.array([[0.5, 0.5], [0.2, 0.8], [0.5, 0.5], [0.2, 0.8]])
    r = call(fn, {"q_z": q, "group": np.array([0, 0, 1, 1])})
    assert np.isclose(r, 0.0, atol=1e-12), (
        "a code distribution shared by every group is independent")
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    r = call(fn, {"q_z": q, "group": np.array([0, 1])})
    assert np.isclose(r, np.log(2)), "a code that names the group carries log 2 nats of it"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "prediction_error": _inv_error,
    "independence_penalty": _inv_indep,
}
