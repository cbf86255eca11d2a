"""Checks for Chapter 4 (real-time bidding): stored answers and invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab import rtb
from creditlab.exercises.check import Cases, call


def _pmf(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.random(n) + 0.05
    return m / m.sum()


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261204)
    out = Cases()
    put = out.put

    for i, (T, B, n) in enumerate([(1, 0, 1), (3, 5, 4), (6, 40, 12), (8, 30, 50)]):
        m = _pmf(rng, n)
        theta = float(rng.uniform(0.01, 0.3))
        V = rtb.value_dp_reference(T, B, m, theta, early_stop=False)
        put("dp_step", i, V[T], V_prev=V[T - 1], m=m, theta=theta)
        val = rtb.value_dp(T + 1, B, m, theta)
        b, th = int(rng.integers(0, B + 1)), float(rng.uniform(0, 0.5))
        put("rlb_bid", i, val.bid_numpy(T + 1, b, th), D_prev=val.D[T].astype(np.float64),
            b=b, theta=th, max_price=n - 1)
        pctr = rng.uniform(0, 0.02, size=7)
        budget = rng.integers(0, 400, size=7)
        b0 = float(rng.uniform(10, 200))
        put("lin_bid", i, np.floor(rtb.Lin(b0, 0.005)(None, None, pctr).clip(None, np.minimum(
            budget, 300))), pctr=pctr, b0=b0, theta_avg=0.005, budget_left=budget, max_price=300)
    return out


def _inv_dp(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(1)
    m = _pmf(rng, 10)
    V = rtb.value_dp_reference(4, 30, m, 0.1, early_stop=False)
    got = call(fn, {"V_prev": V[3], "m": m, "theta": 0.1})
    assert (np.diff(got) >= -1e-12).all(), "V(t, .) must be non-decreasing in the budget"
    assert (got >= V[3] - 1e-12).all(), "one more auction can never lower the value"
    z = call(fn, {"V_prev": np.zeros(5), "m": m, "theta": 0.2})
    assert np.allclose(z, 0.2 * np.cumsum(m)[np.minimum(np.arange(5), 9)]), (
        "with one auction left, V(1, b) = theta * P(price <= b)")


def _inv_bid(fn: Callable[..., Any]) -> None:
    D = np.full(50, 0.01)
    assert call(fn, {"D_prev": D, "b": 40, "theta": 0.105, "max_price": 300}) == 10, (
        "with constant shadow price 0.01 and theta 0.105 the bid is 10")
    assert call(fn, {"D_prev": np.zeros(50), "b": 40, "theta": 0.0, "max_price": 25}) == 25, (
        "free budget: bid the cap min(b, max_price)")
    assert call(fn, {"D_prev": D, "b": 0, "theta": 1.0, "max_price": 300}) == 0, (
        "no budget: bid 0")


def _inv_lin(fn: Callable[..., Any]) -> None:
    got = call(fn, {"pctr": np.array([0.0, 0.01, 1.0]), "b0": 50.0, "theta_avg": 0.01,
                    "budget_left": np.array([100, 100, 20]), "max_price": 300})
    assert np.array_equal(got, [0, 50, 20]), "bid b0 at theta_avg, capped by the budget"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "dp_step": _inv_dp,
    "rlb_bid": _inv_bid,
    "lin_bid": _inv_lin,
}
