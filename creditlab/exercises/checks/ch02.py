"""Checks for Chapter 2 (reward shaping, constraints): stored answers and invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab import constrained, shaping
from creditlab.exercises.check import Cases, call


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261202)
    out = Cases()
    put = out.put

    for i, (T, gamma) in enumerate(zip([1, 3, 8, 20], [0.9, 1.0, 0.0, 0.99])):
        r, p, pn = rng.normal(size=T), rng.normal(size=T), rng.normal(size=T)
        term = rng.random(T) < 0.3
        put("potential_shaping", i,
            shaping.potential_shaping(r, p, pn, gamma, terminated=term),
            rewards=r, phi=p, next_phi=pn, gamma=gamma, terminated=term)
    for i, (S, gamma) in enumerate(zip([1, 4, 7], [0.9, 0.5, 1.0])):
        phi = rng.normal(size=S)
        term = rng.random(S) < 0.3
        put("shaping_table", i, shaping.potential_shaping_table(phi, gamma, term),
            phi=phi, gamma=gamma, terminal=term)
    for i, (lam, c, t, lr) in enumerate([(0.0, 2.0, 1.0, 0.1), (0.3, 0.0, 1.0, 0.5),
                                         (1.0, 1.5, 1.5, 2.0), (0.2, 0.1, 0.3, 0.5)]):
        put("lagrangian_update", i, constrained.lagrangian_update(lam, c, t, lr),
            lmbda=lam, cost=c, threshold=t, lr=lr)
    return out


def _inv_shaping(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(3)
    T = 6
    phis, r = rng.normal(size=T + 1), rng.normal(size=T)
    term = np.zeros(T, bool)
    term[-1] = True
    out = call(fn, {"rewards": r, "phi": phis[:-1], "next_phi": phis[1:], "gamma": 0.9,
                    "terminated": term})
    disc = 0.9 ** np.arange(T)
    assert np.isclose(disc @ out, disc @ r - phis[0]), (
        "the shaped discounted return of a terminating episode must be the true return "
        "minus Phi(s_0): check the terminal convention")


def _inv_table(fn: Callable[..., Any]) -> None:
    phi = np.array([1.0, 2.0, 5.0])
    term = np.array([False, False, True])
    F = call(fn, {"phi": phi, "gamma": 0.5, "terminal": term})
    assert F.shape == (3, 1, 3), "F must have shape [S, 1, S]"
    assert np.allclose(F[2], 0.0), "a terminal state's row must be 0"
    assert np.isclose(F[0, 0, 2], -1.0), "entering a terminal state: its potential counts as 0"
    assert np.isclose(F[0, 0, 1], 0.5 * 2.0 - 1.0)


def _inv_lagrange(fn: Callable[..., Any]) -> None:
    got = call(fn, {"lmbda": 0.1, "cost": 0.0, "threshold": 1.0, "lr": 1.0})
    assert np.isclose(got, 0.0), "the multiplier must stay >= 0 (project onto lambda >= 0)"
    got = call(fn, {"lmbda": 0.5, "cost": 2.0, "threshold": 1.0, "lr": 0.5})
    assert np.isclose(got, 1.0), "a violated constraint must raise lambda by lr * violation"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "potential_shaping": _inv_shaping,
    "shaping_table": _inv_table,
    "lagrangian_update": _inv_lagrange,
}
