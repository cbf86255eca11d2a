"""Checks for Chapter 23 (procedure-grounded labels, Gaussian DPO, refinement reward)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.prefs import dpo_loss
from creditlab.rewards import direction_alignment, procedure_progress_labels, progress_delta


def _gauss_logp(mu: np.ndarray, log_std: np.ndarray, a: np.ndarray) -> np.ndarray:
    z = (a - mu) / np.exp(log_std)
    return np.array([np.sum(-0.5 * z**2 - log_std - 0.5 * np.log(2 * np.pi))])


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261223)
    out = Cases()
    put = out.put
    for i, (lens, D) in enumerate([((3, 4), 2), ((2, 5, 3), 3), ((6,), 1), ((4, 1, 5), 2)]):
        K = len(lens)
        stage = np.concatenate([np.full(n, k) for k, n in enumerate(lens)] + [[K]])
        feats = np.cumsum(rng.normal(size=(len(stage), D)), axis=0)
        exp = procedure_progress_labels(stage[None], feats[None], np.ones((1, len(stage)), bool),
                                        K)[0]
        put("procedure_labels", i, exp, stage=stage, feats=feats, n_stages=K)
    for i, A in enumerate([1, 2, 3, 2]):
        mu, ref_mu, a_w, a_l = rng.normal(size=(4, A))
        log_std, ref_log_std = rng.uniform(-1.0, 0.5, (2, A))
        beta = float(rng.uniform(0.1, 2.0))
        exp = dpo_loss(_gauss_logp(mu, log_std, a_w), _gauss_logp(ref_mu, ref_log_std, a_w),
                       _gauss_logp(mu, log_std, a_l), _gauss_logp(ref_mu, ref_log_std, a_l),
                       beta=beta)
        put("gaussian_dpo", i, exp, mu=mu, log_std=log_std, ref_mu=ref_mu,
            ref_log_std=ref_log_std, a_w=a_w, a_l=a_l, beta=beta)
    for i, T in enumerate([1, 4, 9]):
        p_hat = np.cumsum(rng.uniform(-0.05, 0.2, T + 1))
        a, s, f = rng.normal(size=(3, T, 2))
        beta = float(rng.uniform(0.0, 1.0))
        exp = progress_delta(p_hat) + beta * direction_alignment(a, s, f)
        put("refinement_reward", i, exp, p_hat=p_hat, a=a, s=s, s_future=f, beta=beta)
    return out


def _inv_labels(fn: Callable[..., Any]) -> None:
    stage = np.array([0, 0, 0, 0, 1, 1, 2])
    feats = np.array([[0.0], [1.0], [1.0], [3.0], [4.0], [5.0], [5.0]])
    y = call(fn, {"stage": stage, "feats": feats, "n_stages": 2})
    assert np.isclose(y[0], 0.0) and np.isclose(y[-1], 1.0), "labels run from 0 to 1"
    assert np.isclose(y[1], y[2]), "a pause (no feature change) adds no progress"
    assert np.isclose(y[4], 0.5), "the frame that starts stage 2 of 2 is at half the task"


def _inv_dpo(fn: Callable[..., Any]) -> None:
    z = np.zeros(2)
    r = call(fn, {"mu": z, "log_std": z, "ref_mu": z, "ref_log_std": z, "a_w": z + 1.0,
                  "a_l": z - 1.0, "beta": 1.0})
    assert np.isclose(r, np.log(2)), "the policy equal to the reference gives log 2"
    r = call(fn, {"mu": z + 0.5, "log_std": z, "ref_mu": z, "ref_log_std": z, "a_w": z + 1.0,
                  "a_l": z - 1.0, "beta": 1.0})
    assert r < np.log(2), "moving the mean toward the chosen action lowers the loss"


def _inv_refine(fn: Callable[..., Any]) -> None:
    p = np.array([0.0, 0.1, 0.3])
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    s = np.zeros((2, 2))
    f = np.array([[2.0, 0.0], [0.0, -1.0]])
    r = call(fn, {"p_hat": p, "a": a, "s": s, "s_future": f, "beta": 0.5})
    assert np.allclose(r, [0.1 + 0.5, 0.2 - 0.5]), ("an action toward the predicted future "
                                                    "adds beta, one away from it subtracts beta")


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "procedure_labels": _inv_labels,
    "gaussian_dpo": _inv_dpo,
    "refinement_reward": _inv_refine,
}
