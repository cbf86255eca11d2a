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
    for i, eps in enumerate([0.2, 0.1, 0.5]):
        new, old = rng.normal(size=7), rng.normal(size=7)
        put("pre_clip_ratio", i, pre_clip_ratio(torch.tensor(new), torch.tensor(old),
                                                eps).numpy(), logp_new=new, logp_old=old,
            eps=eps)
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
    r = np.asarray(call(fn, {"logp_new": np.array([0.0, 30.0, -30.0]),
                             "logp_old": np.zeros(3), "eps": 0.2}))
    assert np.all(np.isfinite(r)), "the log is clipped before the exponential: no overflow"
    assert np.allclose(r, [1.0, 1.2, 0.8]), "ratios are bounded to [1 - eps, 1 + eps]"


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
