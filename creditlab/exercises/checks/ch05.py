"""Checks for Chapter 5 (min-form credit assignment): stored answers and invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab import advantages, reference
from creditlab.exercises.check import Cases, call


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261205)
    out = Cases()
    put = out.put

    for i, (K, T) in enumerate(zip([1, 3, 6, 10, 4], [0.1, 0.01, 1.0, 0.1, 100.0])):
        r = rng.uniform(-1, 1, K)
        put("softmin_transform", i, reference.softmin_transform(r[None], T)[0],
            rewards=r, temperature=T)
    for i, (groups, n) in enumerate([(1, 2), (3, 4), (2, 8), (5, 3)]):
        s = rng.normal(size=groups * n)
        put("rloo_advantages", i, advantages.rloo(s, np.arange(groups * n) // n),
            scores=s, group_size=n)
    return out


def _inv_softmin(fn: Callable[..., Any]) -> None:
    r = np.array([0.8, 0.7, 0.9, -0.5])
    low = call(fn, {"rewards": r, "temperature": 1e-3})
    assert abs(low.sum() - r.min()) < 1e-6, "as the temperature -> 0, sum(r*) -> min(r)"
    high = call(fn, {"rewards": r, "temperature": 1e4})
    assert abs(high.sum() - r.mean()) < 1e-3, "as the temperature -> inf, sum(r*) -> mean(r)"
    tiny = call(fn, {"rewards": np.array([1.0, -1.0]), "temperature": 1e-4})
    assert np.all(np.isfinite(tiny)), "overflow: subtract the largest logit before exp"
    const = call(fn, {"rewards": np.full(5, 0.3), "temperature": 0.1})
    assert np.allclose(const, 0.3 / 5), "equal rewards get equal weights 1/K"


def _inv_rloo(fn: Callable[..., Any]) -> None:
    a = call(fn, {"scores": np.array([1.0, 0.0, 0.0, 0.0]), "group_size": 2})
    assert np.allclose(a, [1, -1, 0, 0]), "each group is baselined by its own other members"
    a = call(fn, {"scores": np.array([3.0, 1.0, 2.0]), "group_size": 3})
    assert np.allclose(a, [1.5, -1.5, 0.0]), "A_i = s_i - mean of the OTHER scores"
    a = call(fn, {"scores": np.full(6, 7.0), "group_size": 3})
    assert np.allclose(a, 0), "a group of equal scores has zero advantages"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "softmin_transform": _inv_softmin,
    "rloo_advantages": _inv_rloo,
}
