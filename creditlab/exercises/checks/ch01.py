"""Checks for Chapter 1 (returns and advantages): stored answers and invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab import reference
from creditlab.exercises.check import Cases, call


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261126)
    out = Cases()
    put = out.put

    lengths = [1, 2, 5, 10, 33]
    for i, (T, gamma) in enumerate(zip(lengths, [0.9, 0.0, 1.0, 0.99, 0.5])):
        r = rng.normal(size=T)
        put("discounted_returns", i, reference.discounted_returns(r[None], gamma)[0],
            rewards=r, gamma=gamma)
        v = rng.normal(size=T + 1)
        put("td_errors", i, r + gamma * v[1:] - v[:-1], rewards=r, values=v, gamma=gamma)
        lam = [0.95, 0.0, 1.0, 0.5, 0.8][i]
        term = rng.random(T) < 0.25
        adv, _ = reference.gae(r[None], v[None], gamma, lam, terminated=term[None])
        put("gae", i, adv[0], rewards=r, values=v, gamma=gamma, lam=lam, terminated=term)
        put("min_form_returns", i, reference.min_form_returns(r[None])[0], rewards=r)
    return out


def _inv_discounted(fn: Callable[..., Any]) -> None:
    r = np.array([1.0, -2.0, 0.5])
    g = call(fn, {"rewards": r, "gamma": 0.0})
    assert np.allclose(g, r), "with gamma=0 the return is the reward itself"
    g = call(fn, {"rewards": r, "gamma": 1.0})
    assert np.allclose(g, [-0.5, -1.5, 0.5]), "with gamma=1 the return is the sum to the end"
    g = call(fn, {"rewards": np.zeros(0), "gamma": 0.9})
    assert g.shape == (0,), "an empty episode has no returns"


def _inv_td(fn: Callable[..., Any]) -> None:
    r, v = np.array([0.0, 1.0]), np.array([0.5, 0.5, 0.5])
    d = call(fn, {"rewards": r, "values": v, "gamma": 1.0})
    assert np.allclose(d, [0.0, 1.0]), "a constant value function makes delta = r when gamma=1"


def _inv_gae(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(7)
    r, v = rng.normal(size=6), rng.normal(size=7)
    none = np.zeros(6, bool)
    a0 = call(fn, {"rewards": r, "values": v, "gamma": 0.9, "lam": 0.0, "terminated": none})
    assert np.allclose(a0, r + 0.9 * v[1:] - v[:-1]), "lam=0 must give the TD errors"
    a1 = call(fn, {"rewards": r, "values": v, "gamma": 0.9, "lam": 1.0, "terminated": none})
    mc = np.array([sum(0.9**k * r[t + k] for k in range(6 - t)) + 0.9 ** (6 - t) * v[6]
                   for t in range(6)])
    assert np.allclose(a1, mc - v[:-1]), "lam=1 must give the bootstrapped return minus V"


def _inv_min(fn: Callable[..., Any]) -> None:
    m = call(fn, {"rewards": np.full(4, 0.3)})
    assert np.allclose(m, 0.3), "the min-form return of a constant sequence is that constant"
    m = call(fn, {"rewards": np.array([0.2, 0.9, 0.5])})
    assert np.allclose(m, [0.2, 0.5, 0.5]), "m_t is the minimum from t to the end"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "discounted_returns": _inv_discounted,
    "td_errors": _inv_td,
    "gae": _inv_gae,
    "min_form_returns": _inv_min,
}
