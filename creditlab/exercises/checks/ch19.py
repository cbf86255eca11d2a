"""Checks for Chapter 19 (VAS logits, best-of-n KL, SVDD's soft value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.planning import best_of_n_kl, soft_value, value_augmented_logits


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261219)
    out = Cases()
    put = out.put
    for i, (V, k) in enumerate([(5, 2), (8, 8), (12, 5), (24, 20)]):
        z, v = rng.normal(size=V), rng.normal(size=V)
        beta = float(rng.uniform(0.2, 4.0))
        put("value_augmented_logits", i, value_augmented_logits(z, v, beta, k),
            base_logits=z, values=v, beta=beta, top_k=k)
    for i, (p, n) in enumerate([(0.25, 1), (0.25, 8), (0.05, 16), (0.6, 3)]):
        put("bon_binary_kl", i, best_of_n_kl(p, n), p=p, n=n)
    for i, (K, alpha) in enumerate([(4, 0.0), (6, 0.01), (10, 0.5), (3, 50.0)]):
        r = rng.normal(size=K)
        put("soft_value", i, soft_value(r, alpha), rewards=r, alpha=alpha)
    return out


def _inv_vas(fn: Callable[..., Any]) -> None:
    z = np.array([2.0, 1.0, 0.0, -1.0])
    r = call(fn, {"base_logits": z, "values": np.zeros(4), "beta": 3.0, "top_k": 4})
    assert np.allclose(r, z), "with equal values the base logits come back unchanged"
    r = call(fn, {"base_logits": z, "values": np.array([0.0, 1.0, 5.0, 5.0]), "beta": 1.0,
                  "top_k": 2})
    assert np.isneginf(r[2:]).all(), "tokens outside the base top-k get -inf, whatever their value"


def _inv_kl(fn: Callable[..., Any]) -> None:
    assert np.isclose(call(fn, {"p": 0.3, "n": 1}), 0.0), "best-of-1 is the base model"
    k = float(call(fn, {"p": 0.3, "n": 4}))
    assert 0 < k <= np.log(4) - 3 / 4 + 1e-12, "KL is positive and below log n - (n-1)/n"


def _inv_soft(fn: Callable[..., Any]) -> None:
    r = np.array([0.0, 1.0, 3.0])
    assert np.isclose(call(fn, {"rewards": r, "alpha": 0.0}), 3.0), "alpha = 0 is the max"
    assert np.isclose(call(fn, {"rewards": r, "alpha": 1e-3}), 3.0 + 1e-3 * np.log(1 / 3),
                      atol=1e-9), "small alpha must not overflow (subtract the max first)"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "value_augmented_logits": _inv_vas,
    "bon_binary_kl": _inv_kl,
    "soft_value": _inv_soft,
}
