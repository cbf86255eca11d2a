"""Checks for Chapter 13 (CUT flags, T-REG's contrastive token reward, segment rewards)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.prefs import contrastive_token_reward, cut_token_mask
from creditlab.rewards import segment_rewards


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261213)
    out = Cases()
    put = out.put
    for i, (B, T, lam) in enumerate([(3, 5, 1.1), (4, 6, 1.5), (2, 7, 1.1)]):
        a, b = np.log(rng.uniform(0.05, 1, (B, T))), np.log(rng.uniform(0.05, 1, (B, T)))
        m = np.arange(T)[None, :] < rng.integers(1, T + 1, (B, 1))
        put("cut_token_mask", i, cut_token_mask(a, b, m, threshold=lam).astype(float),
            logp_with_judgment=a, logp_without=b, mask=m, threshold=lam)
        put("contrastive_token_reward", i, contrastive_token_reward(a, b, m),
            logp_better=a, logp_worse=b, mask=m)
    for i, (B, S, T) in enumerate([(2, 3, 9), (3, 2, 6), (4, 3, 10)]):
        ends = np.sort(rng.integers(0, T, (B, S)), 1)
        ends[rng.random((B, S)) < 0.2] = -1
        sc = rng.normal(size=(B, S))
        put("segment_rewards", i, segment_rewards(sc, ends, np.ones((B, T), bool)),
            scores=sc, ends=ends, T=T)
    return out


def _inv_cut(fn: Callable[..., Any]) -> None:
    a = np.log(np.array([[0.5, 0.5, 0.5]]))
    b = np.log(np.array([[0.5, 0.4, 0.1]]))
    r = np.asarray(call(fn, {"logp_with_judgment": a, "logp_without": b,
                             "mask": np.array([[True, True, False]]), "threshold": 1.1}))
    assert not r[0, 0], "ratio 1 is not above the threshold"
    assert r[0, 1], "ratio 1.25 > 1.1: flagged (the judgment makes the token more likely)"
    assert not r[0, 2], "padding is never flagged"


def _inv_contrast(fn: Callable[..., Any]) -> None:
    a = np.array([[-1.0, -3.0, 0.0]])
    b = np.array([[-3.0, -1.0, 0.0]])
    r = np.asarray(call(fn, {"logp_better": a, "logp_worse": b,
                             "mask": np.array([[True, True, False]])}))
    assert r[0, 0] > 0 > r[0, 1], "tokens the 'worse' prompt prefers get a negative reward"
    assert np.isclose(r[0, 0], -r[0, 1]), "the reward is antisymmetric around 0"
    assert r[0, 2] == 0, "padding gets 0"


def _inv_segments(fn: Callable[..., Any]) -> None:
    r = np.asarray(call(fn, {"scores": np.array([[1.0, 2.0, 5.0]]),
                             "ends": np.array([[1, 1, -1]]), "T": 3}))
    assert np.allclose(r, [[0.0, 3.0, 0.0]]), \
        "segments ending at the same token add up; end -1 means no segment"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "cut_token_mask": _inv_cut,
    "contrastive_token_reward": _inv_contrast,
    "segment_rewards": _inv_segments,
}
