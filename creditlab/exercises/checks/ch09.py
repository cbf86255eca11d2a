"""Checks for Chapter 9 (implicit process rewards, SIOP turn rewards)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.rewards import implicit_process_reward
from creditlab.shaping import outcome_potential_rewards


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261209)
    out = Cases()
    put = out.put
    for i, T in enumerate([1, 3, 6, 10]):
        a, b = np.log(rng.uniform(0.05, 1, T)), np.log(rng.uniform(0.05, 1, T))
        beta = float(rng.choice([0.05, 0.5, 1.0]))
        put("implicit_process_reward", i,
            implicit_process_reward(a[None], b[None], beta)[0], logp_phi=a, logp_ref=b,
            beta=beta)
        p = rng.uniform(0.01, 1, T + 1)
        q, lam = float(rng.uniform(0, 1)), float(rng.choice([0.0, 0.5, 1.0]))
        put("outcome_potential_rewards", i,
            outcome_potential_rewards(p[None], np.array([q]), lam=lam)[0], p_hat=p, q=q,
            lam=lam)
    return out


def _inv_implicit(fn: Callable[..., Any]) -> None:
    a, b = np.log([0.5, 0.25, 0.9]), np.log([0.25, 0.25, 0.3])
    r = call(fn, {"logp_phi": a, "logp_ref": b, "beta": 0.5})
    assert np.isclose(r.sum(), 0.5 * (a.sum() - b.sum())), (
        "the step rewards telescope to beta * log pi_phi(tau) / pi_ref(tau)")
    assert np.isclose(r[1], 0.0), "a step the two models agree on gets 0"


def _inv_siop(fn: Callable[..., Any]) -> None:
    p = np.array([0.25, 0.4, 0.4, 0.9])
    r = call(fn, {"p_hat": p, "q": 0.5, "lam": 0.5})
    assert np.isclose(r.sum(), 0.5 * np.log((0.9 + 1e-8) / (0.25 + 1e-8)) + 0.25), (
        "the turn rewards telescope to q log(p_T / p_0) + (1 - lam) q")
    assert np.isclose(r[1], 0.0), "a turn that does not move the reader earns nothing"
    r = call(fn, {"p_hat": np.array([0.3, 0.3]), "q": 1.0, "lam": 0.0})
    assert np.isclose(r[-1], 1.0), "the last turn adds (1 - lam) * q"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "implicit_process_reward": _inv_implicit,
    "outcome_potential_rewards": _inv_siop,
}
