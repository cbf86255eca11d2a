"""Checks for Chapter 24 (PRDP's pair loss, leave-one-out contributions, Diffusion-DPO)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.exercises.check import Cases, call
from creditlab.metrics import frechet_distance
from creditlab.prefs import diffusion_dpo_loss, leave_one_out_split, rdp_loss


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261224)
    out = Cases()
    put = out.put
    for i, (T, eps) in enumerate([(1, 0.5), (5, 0.01), (10, 0.1), (20, 1e-3)]):
        la, lb, oa, ob = rng.normal(0, 0.3, (4, T))
        ra, rb = (float(v) for v in rng.normal(size=2))
        beta = float(rng.uniform(0.1, 2.0))
        exp = rdp_loss(la[None], lb[None], [ra], [rb], beta=beta, old_logratio_a=oa[None],
                       old_logratio_b=ob[None], clip=eps)
        put("rdp_pair_loss", i, exp, la=la, lb=lb, ra=ra, rb=rb, beta=beta, oa=oa, ob=ob,
            eps=eps)
    for i, n in enumerate([4, 9, 16]):
        X = rng.normal(size=(n, 2))
        E = rng.normal(1.0, 0.5, size=(12, 2))
        delta = leave_one_out_split(X, lambda Z, E=E: -frechet_distance(Z, E))[2]
        put("loo_contributions", i, delta, X=X, E=E)
    for i in range(4):
        ew, rw, el, rl = (float(v) for v in rng.uniform(0, 2, 4))
        beta = float(rng.uniform(0.5, 5.0))
        put("diffusion_dpo", i, diffusion_dpo_loss([ew], [rw], [el], [rl], beta=beta),
            ew=ew, rw=rw, el=el, rl=rl, beta=beta)
    return out


def _inv_rdp(fn: Callable[..., Any]) -> None:
    z = np.zeros(4)
    r = call(fn, {"la": z, "lb": z, "ra": 1.0, "rb": 0.0, "beta": 0.5, "oa": z, "ob": z,
                  "eps": 0.1})
    assert np.isclose(r, 4.0), "with zero log-ratios the loss is (Δr / β)^2"
    la = np.array([1.0, 1.0, 1.0, 1.0])
    r = call(fn, {"la": la, "lb": z, "ra": 1.0, "rb": 0.0, "beta": 1.0, "oa": z, "ob": z,
                  "eps": 0.1})
    assert np.isclose(r, 0.81), ("a log-ratio outside the clip window: the clipped loss "
                                 "(0.1 - 1)^2 is the larger one, and it is the one returned")


def _inv_loo(fn: Callable[..., Any]) -> None:
    E = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    X = np.vstack([E, [[30.0, 30.0]]])
    d = call(fn, {"X": X, "E": E})
    assert d[-1] == np.min(d) and d[-1] < 0, "an outlier far from the exemplars hurts the set"


def _inv_dpo(fn: Callable[..., Any]) -> None:
    assert np.isclose(call(fn, {"ew": 1.0, "rw": 1.0, "el": 1.0, "rl": 1.0, "beta": 3.0}),
                      np.log(2)), "equal errors give log 2"
    lo = call(fn, {"ew": 0.5, "rw": 1.0, "el": 1.0, "rl": 1.0, "beta": 3.0})
    assert lo < np.log(2), "a lower error on the chosen sample than the reference lowers the loss"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "rdp_pair_loss": _inv_rdp,
    "loo_contributions": _inv_loo,
    "diffusion_dpo": _inv_dpo,
}
