"""Checks for Chapter 8 (3-sigma advantage filter, Pre-CLIP, AUROC)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from creditlab.advantages import sigma_filter
from creditlab.algos.pg_losses import pre_clip_ratio
from creditlab.exercises.check import Cases, call
from creditlab.metrics import auroc


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261208)
    out = Cases()
    put = out.put
    for i, (n, k) in enumerate([(12, 3.0), (30, 2.0), (8, 1.0)]):
        a = rng.normal(size=n)
        a[0] = 6.0
        put("sigma_filter", i, sigma_filter(a, k), adv=a, k=k)
    for i, (lo, hi) in enumerate([(1e-3, 1e3), (0.8, 1.2), (0.5, 4.0)]):
        new, old = 5 * rng.normal(size=7), 5 * rng.normal(size=7)
        put("pre_clip_ratio", i, pre_clip_ratio(torch.tensor(new), torch.tensor(old),
                                                (lo, hi)).numpy(), logp_new=new, logp_old=old,
            lo=lo, hi=hi)
    for i, n in enumerate([6, 15, 40]):
        s = rng.integers(0, 5, n).astype(float)  # ties
        y = np.arange(n) % 2 == 0
        put("auroc", i, np.asarray(auroc(s, y)), scores=s, labels=y)
    return out


def _inv_sigma(fn: Callable[..., Any]) -> None:
    a = np.r_[np.zeros(20), 10.0]
    f = np.asarray(call(fn, {"adv": a, "k": 3.0}))
    assert f[-1] == 0, "an advantage more than k standard deviations out is dropped"
    assert np.all(f[:-1] == 0) and len(f) == len(a), "the others are kept as they are"
    c = np.full(5, 2.0)
    assert np.allclose(call(fn, {"adv": c, "k": 3.0}), c), "sigma = 0: nothing is dropped"


def _inv_preclip(fn: Callable[..., Any]) -> None:
    # exp is monotone, so clipping after exp gives the same values where nothing
    # overflows: the test is a log-ratio whose exp overflows (float64 beyond ~709, float32
    # beyond ~88), with overflow turned into an error
    for dtype, big in ((np.float64, 1000.0), (np.float32, 100.0)):
        new = np.array([0.0, big, -big], dtype)
        try:
            with np.errstate(over="raise", invalid="raise"):
                r = np.asarray(call(fn, {"logp_new": new, "logp_old": np.zeros(3, dtype),
                                         "lo": 1e-3, "hi": 1e3}))
        except FloatingPointError:
            raise AssertionError(f"exp overflowed on a {np.dtype(dtype).name} log-ratio of "
                                 f"{big:g}: clip the log-ratio *before* the exponential, "
                                 f"not the ratio after it") from None
        assert np.all(np.isfinite(r)), "the log is clipped before the exponential: no overflow"
        assert np.allclose(r, [1.0, 1e3, 1e-3]), "ratios are bounded to [lo, hi]"


def _inv_auroc(fn: Callable[..., Any]) -> None:
    y = np.array([True, False, True, False])
    assert np.isclose(call(fn, {"scores": np.array([4.0, 1, 3, 2]), "labels": y}), 1.0)
    assert np.isclose(call(fn, {"scores": np.ones(4), "labels": y}), 0.5), "ties count half"
    assert np.isclose(call(fn, {"scores": np.array([1.0, 4, 2, 3]), "labels": y}), 0.0)


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "sigma_filter": _inv_sigma,
    "pre_clip_ratio": _inv_preclip,
    "auroc": _inv_auroc,
}
