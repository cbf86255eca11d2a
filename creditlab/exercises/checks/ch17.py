"""Checks for Chapter 17 (improvement bonus, off-policy gradient weight, temporal pairs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from creditlab.algos.guided import improvement_bonus, offpolicy_token_loss
from creditlab.exercises.check import Cases, call
from creditlab.prefs import build_pairs


def _grad_weight(rho: np.ndarray, adv: np.ndarray, gamma: float) -> np.ndarray:
    """The weight of grad log pi, by autograd through the library's loss (summed)."""
    logp = torch.tensor(np.log(rho), requires_grad=True)
    loss = offpolicy_token_loss(logp, torch.zeros_like(logp), torch.tensor(adv),
                                gamma=gamma) * len(rho)
    loss.backward()
    return -logp.grad.numpy()


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261217)
    out = Cases()
    put = out.put
    for i, N in enumerate([1, 4, 7, 12]):
        r = rng.random(N)
        g = np.where(rng.random(N) < 0.5, np.nan, rng.random(N))
        alpha = float(rng.choice([0.05, 0.5, 1.0]))
        put("improvement_bonus", i, improvement_bonus(r, g, alpha), r=r, r_guided=g,
            alpha=alpha)
        rho = np.exp(rng.normal(size=N))
        adv = rng.normal(size=N)
        gamma = float(rng.choice([0.5, 1.0, 2.0]))
        put("offpolicy_grad_weight", i, _grad_weight(rho, adv, gamma), rho=rho, adv=adv,
            gamma=gamma)
        G = i + 1
        a_idx = rng.integers(0, G, 3 * G)
        a_idx[:G] = np.arange(G)
        f_idx = rng.permutation(a_idx)
        a_s, f_s = rng.normal(size=3 * G), rng.normal(size=3 * G)
        groups = np.arange(G)
        c, rj = build_pairs(np.zeros(G), groups, mode="temporal", anchor_scores=a_s,
                            anchor_index=a_idx, future_scores=f_s, future_index=f_idx)
        put("temporal_pairs", i, np.stack([c, rj], 1), anchor_scores=a_s,
            anchor_index=a_idx, future_scores=f_s, future_index=f_idx, groups=groups)
    return out


def _inv_bonus(fn: Callable[..., Any]) -> None:
    r = call(fn, {"r": np.array([0.25, 0.5]), "r_guided": np.array([np.nan, 1.0]),
                  "alpha": 0.05})
    assert np.isclose(r[0], 0.25), "a response that was not revised keeps its reward"
    assert np.isclose(r[1], 0.525), "the bonus is alpha * (r_guided - r): 0.5 + 0.05 * 0.5"


def _inv_weight(fn: Callable[..., Any]) -> None:
    rho = np.array([0.5, 1.0, 2.0])
    w = call(fn, {"rho": rho, "adv": np.ones(3), "gamma": 1.0})
    assert np.isclose(w[1], 0.25), "at rho = gamma = 1 the weight is A / 4"
    assert np.isclose(w[0], w[2]), "with gamma = 1 the weight is the same at rho and 1/rho"


def _inv_pairs(fn: Callable[..., Any]) -> None:
    r = call(fn, {"anchor_scores": np.array([0.1, 0.9]), "anchor_index": np.array([0, 0]),
                  "future_scores": np.array([0.2, 0.8]), "future_index": np.array([0, 0]),
                  "groups": np.array([0])})
    assert r.shape == (1, 2), "one (chosen, rejected) row per group"
    assert tuple(r[0]) == (1, 0), "chosen: the best future sample; rejected: the worst anchor"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "improvement_bonus": _inv_bonus,
    "offpolicy_grad_weight": _inv_weight,
    "temporal_pairs": _inv_pairs,
}
