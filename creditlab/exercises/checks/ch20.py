"""Checks for Chapter 20 (a Bayesian search update, the discriminator's features)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from creditlab.exercises.check import Cases, call
from creditlab.models import TransitionDiscriminator
from creditlab.planning import bayes_search_update


def _features(x: np.ndarray) -> np.ndarray:
    # the library's phi with identity standardisation; x = (s, a, s' - s) with S = 1, A = d - 2
    d = x.shape[1]
    disc = TransitionDiscriminator(1, d - 2)
    with torch.no_grad():
        return disc.features(torch.as_tensor(x, dtype=torch.float32)).double().numpy()


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261220)
    out = Cases()
    put = out.put
    for i, C in enumerate([1, 4, 9, 30]):
        b = rng.uniform(0.0, 2.0, C)
        b[0] += 0.5
        lik = rng.uniform(0.05, 1.0, C)
        put("bayes_update", i, bayes_search_update(b, lik), belief=b, likelihood=lik)
        d = int(rng.integers(3, 6))
        x = rng.normal(size=(int(rng.integers(1, 5)), d)).astype(np.float32).astype(float)
        put("quadratic_features", i, _features(x), x=x)
    return out


def _inv_bayes(fn: Callable[..., Any]) -> None:
    r = call(fn, {"belief": np.array([1.0, 1.0, 2.0]), "likelihood": np.array([0.0, 1.0, 1.0])})
    assert np.allclose(r, [0.0, 1 / 3, 2 / 3]), (
        "a cell the search ruled out gets 0; the rest keep their ratios and sum to 1")


def _inv_features(fn: Callable[..., Any]) -> None:
    r = call(fn, {"x": np.array([[1.0, 2.0]])})
    assert np.allclose(r, [[1.0, 2.0, 1.0, 2.0, 4.0]]), (
        "x = (1, 2) gives (1, 2, 1*1, 1*2, 2*2): each product once, i <= j")


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "bayes_update": _inv_bayes,
    "quadratic_features": _inv_features,
}
