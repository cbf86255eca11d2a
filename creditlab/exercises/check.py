"""Grade exercise functions: ``creditlab.check("ch01.gae", my_gae)``.

Each check runs a student function on stored, seeded inputs and compares with stored
answers (``data/chNN.npz``, written by :mod:`creditlab.exercises.make_data` from the
library's reference implementations), then tests invariants that any correct answer
satisfies (e.g. the last return equals the last reward). It never imports solutions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).with_name("data")


@cache
def _cases(chapter: str) -> dict[str, np.ndarray]:
    with np.load(DATA / f"{chapter}.npz") as f:
        return {k: f[k] for k in f.files}


def _stored(chapter: str, exercise: str) -> list[tuple[dict[str, Any], np.ndarray]]:
    """[(kwargs, expected), ...] for one exercise, from keys ``<ex>/<case>/<arg>``."""
    data = _cases(chapter)
    cases: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        ex, case, arg = key.split("/")
        if ex == exercise:
            cases.setdefault(case, {})[arg] = value[()] if value.ndim == 0 else value
    out = []
    for case in sorted(cases, key=int):
        kw = cases[case]
        expected = kw.pop("expected")
        out.append((kw, expected))
    return out


def _call(fn: Callable[..., Any], kwargs: dict[str, Any]) -> np.ndarray:
    frozen = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    result = fn(**frozen)
    for k, v in kwargs.items():
        if isinstance(v, np.ndarray) and not np.array_equal(frozen[k], v, equal_nan=True):
            raise AssertionError(f"your function modified its input {k!r}; work on a copy")
    try:
        return np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"expected an array, got {type(result).__name__}") from None


def _compare(name: str, got: np.ndarray, expected: np.ndarray, kwargs: dict[str, Any]) -> None:
    if got.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, got {got.shape}")
    if not np.allclose(got, expected, rtol=1e-6, atol=1e-8, equal_nan=True):
        i = int(np.argmax(~np.isclose(got, expected, rtol=1e-6, atol=1e-8)))
        def show(v: Any) -> Any:
            if isinstance(v, np.ndarray) and v.size <= 8:
                return (np.round(v, 3) if v.dtype.kind == "f" else v).tolist()
            return f"<array of shape {v.shape}>" if isinstance(v, np.ndarray) else v

        shown = {k: show(v) for k, v in kwargs.items()}
        raise AssertionError(
            f"{name}: wrong value at index {i}: expected {expected.flat[i]:.6g}, "
            f"got {got.flat[i]:.6g} (inputs: {shown})"
        )


# --------------------------------------------------------------------------------------
# invariants per exercise: callables (fn) -> None that raise AssertionError


def _inv_discounted(fn: Callable[..., Any]) -> None:
    r = np.array([1.0, -2.0, 0.5])
    g = _call(fn, {"rewards": r, "gamma": 0.0})
    assert np.allclose(g, r), "with gamma=0 the return is the reward itself"
    g = _call(fn, {"rewards": r, "gamma": 1.0})
    assert np.allclose(g, [-0.5, -1.5, 0.5]), "with gamma=1 the return is the sum to the end"
    g = _call(fn, {"rewards": np.zeros(0), "gamma": 0.9})
    assert g.shape == (0,), "an empty episode has no returns"


def _inv_td(fn: Callable[..., Any]) -> None:
    r, v = np.array([0.0, 1.0]), np.array([0.5, 0.5, 0.5])
    d = _call(fn, {"rewards": r, "values": v, "gamma": 1.0})
    assert np.allclose(d, [0.0, 1.0]), "a constant value function makes delta = r when gamma=1"


def _inv_gae(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(7)
    r, v = rng.normal(size=6), rng.normal(size=7)
    none = np.zeros(6, bool)
    a0 = _call(fn, {"rewards": r, "values": v, "gamma": 0.9, "lam": 0.0, "terminated": none})
    assert np.allclose(a0, r + 0.9 * v[1:] - v[:-1]), "lam=0 must give the TD errors"
    a1 = _call(fn, {"rewards": r, "values": v, "gamma": 0.9, "lam": 1.0, "terminated": none})
    mc = np.array([sum(0.9**k * r[t + k] for k in range(6 - t)) + 0.9 ** (6 - t) * v[6]
                   for t in range(6)])
    assert np.allclose(a1, mc - v[:-1]), "lam=1 must give the bootstrapped return minus V"


def _inv_min(fn: Callable[..., Any]) -> None:
    m = _call(fn, {"rewards": np.full(4, 0.3)})
    assert np.allclose(m, 0.3), "the min-form return of a constant sequence is that constant"
    m = _call(fn, {"rewards": np.array([0.2, 0.9, 0.5])})
    assert np.allclose(m, [0.2, 0.5, 0.5]), "m_t is the minimum from t to the end"


_INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "ch01.discounted_returns": _inv_discounted,
    "ch01.td_errors": _inv_td,
    "ch01.gae": _inv_gae,
    "ch01.min_form_returns": _inv_min,
}


def exercises() -> list[str]:
    """Names accepted by :func:`check`."""
    return sorted(_INVARIANTS)


def check(name: str, fn: Callable[..., Any] | None = None, *, verbose: bool = True) -> bool:
    """Grade ``fn`` (default: the stub in ``creditlab.exercises.<chapter>``) for ``name``.

    Parameters
    ----------
    name : str
        ``"<chapter>.<exercise>"``, e.g. ``"ch01.gae"``; see :func:`exercises`.
    fn : callable, optional
    verbose : bool
        Print a one-line verdict on success.

    Returns
    -------
    True when every stored case and invariant passes.

    Raises
    ------
    AssertionError
        With a message saying what is wrong (including "not implemented yet").
    KeyError
        For an unknown exercise name.
    """
    if name not in _INVARIANTS:
        raise KeyError(f"unknown exercise {name!r}; known: {', '.join(exercises())}")
    chapter, exercise = name.split(".")
    if fn is None:
        fn = getattr(importlib.import_module(f"creditlab.exercises.{chapter}"), exercise)
    try:
        cases = _stored(chapter, exercise)
        for kwargs, expected in cases:
            _compare(name, _call(fn, kwargs), expected, kwargs)
        _INVARIANTS[name](fn)
    except NotImplementedError:
        raise AssertionError(f"{name} is not implemented yet") from None
    if verbose:
        print(f"{name}: passed ({len(cases)} stored cases and the invariants)")
    return True
