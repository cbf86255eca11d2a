"""Checks for Chapter 15 (RLP's information gain, the FLR-style score, an EMA step)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.rewards import info_gain


def _followup_reference(lp_pos: np.ndarray, m_pos: np.ndarray, lp_neg: np.ndarray,
                        m_neg: np.ndarray) -> np.ndarray:
    # the library's followup_likelihood needs a model; this is its formula on given
    # per-token log-probs (tests/test_ch15.py checks the two agree)
    sp = (lp_pos * m_pos).sum(-1) / m_pos.sum(-1)
    sn = (lp_neg * m_neg).sum(-1) / m_neg.sum(-1)
    return sp.mean(-1) - sn.mean(-1)


def _followups(rng: np.random.Generator, B: int, F: int, T: int
               ) -> tuple[np.ndarray, np.ndarray]:
    lp = np.log(rng.uniform(0.05, 1, (B, F, T)))
    m = np.arange(T)[None, None, :] < rng.integers(1, T + 1, (B, F, 1))
    return np.where(m, lp, 0.0), m


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261215)
    out = Cases()
    put = out.put
    for i, (B, T) in enumerate([(3, 5), (4, 1), (2, 7)]):
        a, b = np.log(rng.uniform(0.05, 1, (B, T))), np.log(rng.uniform(0.05, 1, (B, T)))
        m = rng.random((B, T)) < 0.7
        put("info_gain", i, info_gain(a, b, mask=m), logp_with_thought=a, logp_baseline=b,
            mask=m)
    for i, (B, Fp, Fn, T) in enumerate([(3, 3, 3, 4), (2, 2, 4, 5), (4, 1, 2, 3)]):
        lp, mp = _followups(rng, B, Fp, T)
        ln, mn = _followups(rng, B, Fn, T)
        put("followup_score", i, _followup_reference(lp, mp, ln, mn), logp_pos=lp,
            mask_pos=mp, logp_neg=ln, mask_neg=mn)
    for i, (shape, tau) in enumerate([((5,), 0.999), ((2, 3), 0.5), ((4,), 0.0)]):
        phi, theta = rng.normal(size=shape), rng.normal(size=shape)
        put("ema_update", i, tau * phi + (1 - tau) * theta, phi=phi, theta=theta, tau=tau)
    return out


def _inv_gain(fn: Callable[..., Any]) -> None:
    r = np.asarray(call(fn, {"logp_with_thought": np.array([[-0.1, -2.0, -1.0]]),
                             "logp_baseline": np.array([[-0.7, -1.0, -5.0]]),
                             "mask": np.array([[True, True, False]])}))
    assert np.allclose(r, [[0.6, -1.0, 0.0]]), \
        "the thought's log-prob minus the baseline's; 0 where there is no thought"


def _inv_followup(fn: Callable[..., Any]) -> None:
    # one long positive follow-up of mean log-prob -1, one short negative of -1: score 0
    lp = np.array([[[-1.0, -1.0, -1.0, -1.0]]])
    mp = np.ones((1, 1, 4), bool)
    ln = np.array([[[-1.0, 0.0, 0.0, 0.0]]])
    mn = np.array([[[True, False, False, False]]])
    r = np.asarray(call(fn, {"logp_pos": lp, "mask_pos": mp, "logp_neg": ln,
                             "mask_neg": mn}))
    assert np.allclose(r, [0.0]), \
        "each follow-up is scored by its token-mean log-prob, not the sum"


def _inv_ema(fn: Callable[..., Any]) -> None:
    phi, theta = np.array([1.0, 2.0]), np.array([3.0, 6.0])
    r = np.asarray(call(fn, {"phi": phi, "theta": theta, "tau": 0.75}))
    assert np.allclose(r, [1.5, 3.0]), "tau weighs the old average phi, not theta"
    assert np.allclose(phi, [1.0, 2.0]), "the input phi is not changed"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "info_gain": _inv_gain,
    "followup_score": _inv_followup,
    "ema_update": _inv_ema,
}
