"""Checks for Chapter 7 (ReNorm, HARMO-style length penalty, flips, pattern reward)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.rewards import length_penalty, pattern_reward
from creditlab.shaping import renorm


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261207)
    out = Cases()
    put = out.put
    for i, K in enumerate([1, 3, 6]):
        r = rng.uniform(0, 1, K)
        o = float(i % 2)
        put("renorm", i, renorm(r, o), process=r, outcome=o)
    groups = [([2, 3, 5, 1], [0, 1, 1, 0]), ([4, 4, 2], [0, 0, 0]), ([1, 6, 3, 3, 8],
                                                                      [1, 0, 0, 1, 1])]
    for i, (L, ok) in enumerate(groups):
        L, ok = np.array(L, float), np.array(ok, bool)
        p_max, tau = [(0.5, 0.5), (0.5, 0.5), (1.0, 0.25)][i]
        put("length_penalty", i, length_penalty(L, ok, np.zeros(len(L), int), p_max, tau),
            lengths=L, correct=ok, p_max=p_max, tau=tau)
    for i, (Q, n, p) in enumerate([(3, 2, 0.4), (4, 3, 0.5), (2, 4, 0.0)]):
        r = rng.integers(0, 2, Q * n).astype(float)
        q = np.repeat(np.arange(Q), n)
        coins = rng.random(Q)
        put("flip_noise", i, np.where(coins[q] < p, 1.0 - r, r), rewards=r, question=q,
            coins=coins, p=p)
    for i, (cap, hit) in enumerate([(5, 1.0), (1, 0.5), (2, 2.0)]):
        steps = rng.integers(0, 4, 8)
        put("pattern_reward", i, pattern_reward(steps, 2, hit, cap=cap), steps=steps,
            pattern=2, r_per_hit=hit, cap=cap)
    return out


def _inv_renorm(fn: Callable[..., Any]) -> None:
    r = np.array([0.0, 0.3, 1.0])
    assert np.all(call(fn, {"process": r, "outcome": 0.0}) <= 0), (
        "on a failed trajectory no step reward is positive")
    assert np.all(call(fn, {"process": r, "outcome": 1.0}) >= 0), (
        "on a successful trajectory no step reward is negative")
    assert np.allclose(call(fn, {"process": r, "outcome": 1.0}), r), (
        "on a success the step reward is the judge's score itself")


def _inv_length(fn: Callable[..., Any]) -> None:
    L = np.array([3.0, 1.0, 3.0])
    none = call(fn, {"lengths": L, "correct": np.zeros(3, bool), "p_max": 0.5, "tau": 0.5})
    assert np.allclose(none, 0), "no correct response in the group: no penalty (the guard)"
    pen = call(fn, {"lengths": np.array([3.0, 1.0, 9.0]),
                    "correct": np.array([True, False, False]), "p_max": 0.5, "tau": 0.5})
    assert np.isclose(pen[0], 0), "a response as long as the reference is not penalised"
    assert np.isclose(pen[2], 0), "longer than the reference is not penalised (one-sided)"
    assert np.isclose(pen[1], -0.5), "far shorter than the reference: the full -p_max"


def _inv_flip(fn: Callable[..., Any]) -> None:
    r = np.array([1.0, 0.0, 1.0, 1.0])
    q = np.array([0, 0, 1, 1])
    f = call(fn, {"rewards": r, "question": q, "coins": np.array([0.1, 0.9]), "p": 0.5})
    assert np.allclose(f, [0.0, 1.0, 1.0, 1.0]), (
        "every reward of a flipped question is flipped, the others are kept")
    assert np.allclose(call(fn, {"rewards": r, "question": q, "coins": np.array([0.1, 0.2]),
                                 "p": 0.0}), r), "p = 0 flips nothing"


def _inv_pattern(fn: Callable[..., Any]) -> None:
    steps = np.array([2, 2, 0, 2])
    assert np.isclose(call(fn, {"steps": steps, "pattern": 2, "r_per_hit": 0.5,
                                "cap": None}), 1.5), "cap=None counts every hit"
    assert np.isclose(call(fn, {"steps": steps, "pattern": 2, "r_per_hit": 0.5, "cap": 1}),
                      0.5), "cap=1 rewards the presence of the pattern once"
    assert np.isclose(call(fn, {"steps": steps, "pattern": 1, "r_per_hit": 0.5, "cap": 3}),
                      0.0), "no hit, no reward (the answer is never checked)"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "renorm": _inv_renorm,
    "length_penalty": _inv_length,
    "flip_noise": _inv_flip,
    "pattern_reward": _inv_pattern,
}
