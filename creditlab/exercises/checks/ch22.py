"""Checks for Chapter 22 (VLM-RM's projection reward, demonstration segmentation, ECE)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.metrics import ece
from creditlab.rewards.perceptual import goal_baseline_reward, segment_demos


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261222)
    out = Cases()
    put = out.put
    for i, (N, D, alpha) in enumerate([(3, 4, 0.0), (6, 8, 0.5), (5, 16, 1.0), (8, 6, 0.8)]):
        x = rng.normal(size=(N, D))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        g, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, D)))
        put("projection_reward", i, goal_baseline_reward(x, g, b, alpha), x=x, g=g, b=b,
            alpha=alpha)
    for i, (sizes, F) in enumerate([((3, 4), 2), ((4, 2, 5), 3), ((2, 6, 3, 4), 2)]):
        feats = np.concatenate([rng.normal(3 * k, 1.0, (n, F)) for k, n in enumerate(sizes)])
        put("segment", i, segment_demos(feats, len(sizes)), feats=feats,
            n_steps=len(sizes))
    for i, (N, bins) in enumerate([(20, 10), (50, 5), (200, 10), (30, 1)]):
        p = rng.uniform(size=N)
        y = rng.uniform(size=N) < p**2
        put("expected_calibration_error", i, ece(p, y, n_bins=bins), p=p, y=y, n_bins=bins)
    return out


def _inv_projection(fn: Callable[..., Any]) -> None:
    g, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    x = np.array([[0.0, 0.0, 1.0]])
    r = call(fn, {"x": x, "g": g, "b": b, "alpha": 0.0})
    assert np.allclose(r, x @ g), "alpha = 0 is the cosine similarity x . g for unit vectors"
    r = call(fn, {"x": x, "g": g, "b": b, "alpha": 1.0})
    assert np.allclose(r, 0.75), ("alpha = 1 keeps only the distance along g - b: here "
                                  "(x - g) . d = -1/sqrt(2), so R = 1 - 1/4")


def _inv_segment(fn: Callable[..., Any]) -> None:
    f = np.array([[0.0], [0.0], [5.0], [5.0], [5.0]])
    got = call(fn, {"feats": f, "n_steps": 2})
    assert np.array_equal(got, [0, 0, 1, 1, 1]), "two constant runs are two steps"


def _inv_ece(fn: Callable[..., Any]) -> None:
    p = np.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    y = np.array([True, True, True] + [False] * 7)
    assert np.isclose(call(fn, {"p": p, "y": y, "n_bins": 10}), 0.0), (
        "forecasting the observed frequency gives ECE 0")


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "projection_reward": _inv_projection,
    "segment": _inv_segment,
    "expected_calibration_error": _inv_ece,
}
