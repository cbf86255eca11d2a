"""Checks for Chapter 3 (reward distances): stored answers and invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab import metrics
from creditlab.exercises.check import Cases, call


def _mdp(rng: np.random.Generator, S: int, A: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.dirichlet(np.ones(S), size=(S, A)), rng.normal(size=(S, A, S))


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261203)
    out = Cases()
    put = out.put

    for i, (S, A, gamma) in enumerate([(1, 1, 0.9), (3, 2, 0.5), (5, 3, 0.9), (6, 2, 0.0)]):
        P, R = _mdp(rng, S, A)
        R2 = rng.normal(size=R.shape)
        put("epic_canonicalise", i, metrics.epic_canonicalise(R, gamma), R=R, gamma=gamma)
        put("val_canonicalise", i, metrics.starc_canonicalise(R, P, gamma), R=R, P=P,
            gamma=gamma)
        put("starc_distance", i, metrics.starc_distance(R, R2, P, gamma), R1=R, R2=R2, P=P,
            gamma=gamma)
    return out


def _shaped(rng: np.random.Generator, R: np.ndarray, gamma: float) -> np.ndarray:
    phi = rng.normal(scale=3.0, size=R.shape[0])
    return R + gamma * phi[None, None, :] - phi[:, None, None]


def _inv_epic(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(5)
    _, R = _mdp(rng, 4, 2)
    a = call(fn, {"R": R, "gamma": 0.8})
    b = call(fn, {"R": _shaped(rng, R, 0.8), "gamma": 0.8})
    assert np.allclose(a, b), "potential shaping must not change the canonical reward"


def _inv_val(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(6)
    P, R = _mdp(rng, 4, 2)
    X = rng.normal(size=R.shape)
    X -= (P * X).sum(-1, keepdims=True)
    a = call(fn, {"R": R, "P": P, "gamma": 0.8})
    b = call(fn, {"R": _shaped(rng, R, 0.8) + X, "P": P, "gamma": 0.8})
    assert np.allclose(a, b), "shaping and S'-redistribution must not change c(R)"
    assert np.allclose(a, a[:, :, :1]), "c(R) must be constant in s'"


def _inv_starc(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(7)
    P, R = _mdp(rng, 4, 2)
    d = call(fn, {"R1": R, "R2": 7.0 * _shaped(rng, R, 0.8), "P": P, "gamma": 0.8})
    assert abs(d) < 1e-8, "a shaped and rescaled reward must be at distance 0"
    d = call(fn, {"R1": R, "R2": -R, "P": P, "gamma": 0.8})
    assert np.isclose(d, 2.0), "R and -R are at distance 2"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "epic_canonicalise": _inv_epic,
    "val_canonicalise": _inv_val,
    "starc_distance": _inv_starc,
}
