"""Checks for Chapter 11 (EMPG's entropy-modulated advantages, the FL-DB residual)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab.advantages import entropy_modulated
from creditlab.algos.gflownet import fldb_residual
from creditlab.exercises.check import Cases, call


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261211)
    out = Cases()
    put = out.put
    for i, (B, T) in enumerate([(4, 5), (6, 3), (3, 8)]):
        L = rng.integers(1, T + 1, B)
        m = np.arange(T)[None] < L[:, None]
        A = np.where(m, rng.normal(size=(B, T)), 0.0)
        H = np.where(m, rng.uniform(0, 1.1, (B, T)), 0.0)
        put("entropy_modulated", i, entropy_modulated(A, H, m), advantages=A, entropy=H,
            mask=m)
    for i, N in enumerate([5, 9, 1]):
        a = [rng.normal(size=N) for _ in range(6)]
        term = rng.random(N) < 0.3
        r = fldb_residual(*a, term).numpy()
        put("fldb_residual", i, r, log_flow_tilde=a[0], log_pf=a[1], log_flow_tilde_next=a[2],
            log_pb=a[3], energy=a[4], energy_next=a[5], next_terminal=term)
    return out


def _inv_empg(fn: Callable[..., Any]) -> None:
    m = np.array([[True, True, True], [True, True, False]])
    A = np.array([[-1.0, -1.0, -1.0], [-1.0, -1.0, 0.0]])
    H = np.array([[0.1, 0.5, 0.9], [0.9, 0.1, 0.0]])
    r = np.asarray(call(fn, {"advantages": A, "entropy": H, "mask": m}))
    assert np.isclose(r[m].mean(), 0.0), "the batch mean over active steps is subtracted"
    assert r[1, 2] == 0.0, "padding gets 0"
    assert r[0, 0] < r[0, 2], "a confident error (low entropy) is penalised more"


def _inv_fldb(fn: Callable[..., Any]) -> None:
    z = np.zeros(2)
    r = np.asarray(call(fn, {"log_flow_tilde": z, "log_pf": z,
                             "log_flow_tilde_next": np.array([5.0, 5.0]), "log_pb": z,
                             "energy": z, "energy_next": np.array([1.0, 1.0]),
                             "next_terminal": np.array([False, True])}))
    assert np.isclose(r[0], -4.0), "E(s') - E(s) enters with a plus sign, log F~(s') with minus"
    assert np.isclose(r[1], 1.0), "log F~ of a terminal state is 0"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "entropy_modulated": _inv_empg,
    "fldb_residual": _inv_fldb,
}
