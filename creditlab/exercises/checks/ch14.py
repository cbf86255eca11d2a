"""Checks for Chapter 14 (likelihood rewards, their direct gradient terms, P2S-style path
faithfulness). Expected answers: the rewards and the path faithfulness by their formulas
(the formulas :mod:`creditlab.rewards` applies to a model's log-probabilities; tests/test_ch14
checks the library against them), the direct weights by torch autograd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call


def _rewards(logp: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lp = np.where(mask, logp, 0.0)
    s = lp.sum(1)
    return np.stack([s, np.exp(s), (np.exp(lp) * mask).sum(1) / mask.sum(1)], 1)


def _direct(logp: np.ndarray, mask: np.ndarray, form: str) -> np.ndarray:
    """By autograd: c_t = dR / d log pi(a*_t), the chain rule through each form."""
    import torch

    lp = torch.tensor(np.where(mask, logp, 0.0), requires_grad=True)
    m = torch.as_tensor(mask)
    s = (lp * m).sum(1)
    R = {"log-prob": s, "prob": s.exp(),
         "avg-prob": (lp.exp() * m).sum(1) / m.sum(1)}[form]
    R.sum().backward()
    return np.where(mask, lp.grad.numpy(), 0.0)


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261214)
    out = Cases()
    put = out.put
    for i, (B, T) in enumerate([(3, 4), (2, 12), (4, 6)]):
        lp = np.log(rng.uniform(0.05, 1, (B, T)))
        m = np.arange(T)[None, :] < rng.integers(1, T + 1, (B, 1))
        put("reference_rewards", i, _rewards(lp, m), logp=lp, mask=m)
        for j, form in enumerate(("log-prob", "prob", "avg-prob")):
            put("direct_weight", 3 * i + j, _direct(lp, m, form), logp=lp, mask=m, form=form)
    for i, (B, M, T) in enumerate([(2, 3, 4), (3, 2, 5), (1, 4, 3)]):
        lp = np.log(rng.uniform(0.05, 1, (B, M, T)))
        m = np.arange(T)[None, None, :] < rng.integers(1, T + 1, (B, M, 1))
        n = rng.integers(1, M + 1, B)
        r = (lp * m).sum(2) / m.sum(2)
        exp = np.array([r[b, : n[b]].mean() for b in range(B)])
        put("path_faithfulness_from_logps", i, exp, suffix_logp=lp, suffix_mask=m, n_steps=n)
    return out


def _inv_rewards(fn: Callable[..., Any]) -> None:
    lp = np.log(np.array([[0.5, 0.5, 0.9]]))
    r = np.asarray(call(fn, {"logp": lp, "mask": np.array([[True, True, False]])}))
    assert np.allclose(r[0], [np.log(0.25), 0.25, 0.5]), \
        "padding (the third token) must not count in any of the three rewards"


def _inv_direct(fn: Callable[..., Any]) -> None:
    lp = np.log(np.full((1, 20), 0.5))
    m = np.ones((1, 20), bool)
    c = np.asarray(call(fn, {"logp": lp, "mask": m, "form": "prob"}))
    assert np.all(c < 1e-5), "the probability's direct term is scaled by pi(a*) = 0.5**20"
    c = np.asarray(call(fn, {"logp": lp, "mask": m, "form": "log-prob"}))
    assert np.allclose(c, 1.0), "the log-probability's direct term is plain SFT: weight 1"


def _inv_pf(fn: Callable[..., Any]) -> None:
    lp = np.log(np.array([[[0.5, 0.5], [0.1, 0.9]]]))
    m = np.array([[[True, True], [True, False]]])
    r = np.asarray(call(fn, {"suffix_logp": lp, "suffix_mask": m, "n_steps": np.array([1])}))
    assert np.allclose(r, [np.log(0.5)]), "steps past n_steps do not count"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "reference_rewards": _inv_rewards,
    "direct_weight": _inv_direct,
    "path_faithfulness_from_logps": _inv_pf,
}
