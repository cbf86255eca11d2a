"""Checks for Chapter 12 (near-terminal weights, the weighted expectile, BPPO's
asymmetric clipped objective)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from creditlab.algos.offline import bppo_loss, expectile, near_terminal_weights
from creditlab.exercises.check import Cases, call


def _bppo_per_sample(ratio: np.ndarray, adv: np.ndarray, lo: float, hi: float) -> np.ndarray:
    lr = torch.tensor(np.log(ratio))
    zero = torch.zeros(1, dtype=torch.float64)
    return np.array([-bppo_loss(lr[i:i + 1], zero, torch.tensor(adv[i:i + 1]), lo, hi).item()
                     for i in range(len(ratio))])


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261212)
    out = Cases()
    put = out.put
    for i, (N, T) in enumerate([(3, 5), (4, 7), (1, 3)]):
        lengths = rng.integers(1, T + 1, N)
        m = np.arange(T)[None, :] < lengths[:, None]
        d = rng.random(N) < 0.5
        put("near_terminal_weights", i, near_terminal_weights(m, d), mask=m, success=d)
    for i, (n, tau) in enumerate([(4, 0.7), (6, 0.9), (5, 0.5), (1, 0.8)]):
        q = rng.normal(size=n)
        w = rng.uniform(0.5, 1.5, n)
        put("expectile_value", i, np.float64(expectile(q, tau, w)), q=q, weights=w,
            tau=np.float64(tau))
    for i, (N, lo, hi) in enumerate([(8, 0.3, 0.1), (6, 0.2, 0.2), (10, 0.4, 0.05)]):
        r = np.exp(rng.normal(0, 0.4, N))
        a = rng.normal(size=N)
        put("bppo_objective", i, _bppo_per_sample(r, a, lo, hi), ratio=r, adv=a,
            eps_low=np.float64(lo), eps_high=np.float64(hi))
    return out


def _inv_weights(fn: Callable[..., Any]) -> None:
    m = np.array([[True, True, False], [True, True, True]])
    w = np.asarray(call(fn, {"mask": m, "success": np.array([True, False])}))
    assert np.isclose(w[0, 1], 1.5), "the last step of a successful trajectory weighs 3/2"
    assert w[0, 2] == 0, "padding gets weight 0"
    assert np.isclose(w[1, 2], 1.0), "the last step of a failed trajectory weighs 1"


def _inv_expectile(fn: Callable[..., Any]) -> None:
    q, w = np.array([0.0, 1.0, 3.0]), np.array([1.0, 1.0, 2.0])
    v = float(call(fn, {"q": q, "weights": w, "tau": 0.5}))
    assert np.isclose(v, 7 / 4), "tau = 1/2 gives the weighted mean"
    v9 = float(call(fn, {"q": q, "weights": w, "tau": 0.9}))
    assert v < v9 < 3.0, "a higher tau moves towards the largest value, never past it"


def _inv_bppo(fn: Callable[..., Any]) -> None:
    r = np.array([1.3, 0.75, 0.6])
    a = np.array([1.0, -1.0, -1.0])
    o = np.asarray(call(fn, {"ratio": r, "adv": a, "eps_low": 0.3, "eps_high": 0.1}))
    assert np.isclose(o[0], 1.1), "a good action's ratio is capped at 1 + eps_high"
    assert np.isclose(o[1], -0.75), "a bad action's ratio may fall to 1 - eps_low unclipped"
    assert np.isclose(o[2], -0.7), "below 1 - eps_low the bad action's term is clipped"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "near_terminal_weights": _inv_weights,
    "expectile_value": _inv_expectile,
    "bppo_objective": _inv_bppo,
}
