"""Grade exercise functions: ``creditlab.check("ch01.gae", my_gae)``.

Each check runs a student function on stored, seeded inputs and compares with stored
answers (``data/chNN.npz``, written by :mod:`creditlab.exercises.make_data` from the
library's reference implementations), then tests invariants that any correct answer
satisfies (e.g. the last return equals the last reward). It never imports solutions.
The checks of chapter NN live in :mod:`creditlab.exercises.checks.chNN`.
"""

from __future__ import annotations

import importlib
import inspect
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


class Cases(dict):
    """Stored answers being built by a checks module's ``make_cases``.

    ``cases.put("gae", 0, expected, rewards=r, gamma=0.9)`` stores the arguments and the
    expected answer under the keys ``"gae/0/rewards"``, ``"gae/0/gamma"``,
    ``"gae/0/expected"`` that :func:`check` reads back.
    """

    def put(self, exercise: str, case: int, expected: Any, **arguments: Any) -> None:
        for name, value in arguments.items():
            self[f"{exercise}/{case}/{name}"] = np.asarray(value)
        self[f"{exercise}/{case}/expected"] = np.asarray(expected, dtype=np.float64)


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


def call(fn: Callable[..., Any], kwargs: dict[str, Any]) -> np.ndarray:
    frozen = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    _check_signature(fn, kwargs)
    result = fn(**frozen)
    if result is None:
        raise AssertionError("your function returned None: did you forget the `return` "
                             "statement?")
    for k, v in kwargs.items():
        if isinstance(v, np.ndarray) and not np.array_equal(frozen[k], v, equal_nan=True):
            raise AssertionError(f"your function modified its input {k!r}; work on a copy")
    try:
        return np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"expected an array, got {type(result).__name__}") from None


def _check_signature(fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """An AssertionError that says which names are expected, if ``fn`` cannot take the
    stored arguments by keyword (the checker calls ``fn(**arguments)``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: just call
        return
    try:
        sig.bind(**kwargs)
    except TypeError as err:
        raise AssertionError(
            f"your function cannot be called as fn({', '.join(f'{k}=...' for k in kwargs)}): "
            f"{err}. The checker passes arguments by keyword, so the parameters must be "
            f"named {', '.join(repr(k) for k in kwargs)} (as in the stub); yours are "
            f"{list(sig.parameters)}"
        ) from None


def _show(v: Any, i: int | None = None) -> Any:
    """An argument for a failure message: small arrays whole, long ones around index i."""
    if isinstance(v, np.generic):
        return v.item()
    if not isinstance(v, np.ndarray):
        return v
    r = np.round(v, 3) if v.dtype.kind == "f" else v
    if v.size <= 8:
        return r.tolist()
    if i is not None and v.ndim >= 1 and v.shape[-1] > 1:
        # the neighbourhood of the wrong entry, in the row that holds it
        row, col = np.unravel_index(min(i, v.size - 1), v.shape)[:-1], i % v.shape[-1]
        lo, hi = max(0, col - 3), min(v.shape[-1], col + 4)
        where = f"[{', '.join(map(str, row))}{', ' if row else ''}{lo}:{hi}]"
        return f"<array of shape {v.shape}; {where} = {r[row][lo:hi].tolist()}>"
    return f"<array of shape {v.shape}>"


def _compare(name: str, got: np.ndarray, expected: np.ndarray, kwargs: dict[str, Any]) -> None:
    if got.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, got {got.shape}")
    if not np.allclose(got, expected, rtol=1e-6, atol=1e-8, equal_nan=True):
        i = int(np.argmax(~np.isclose(got, expected, rtol=1e-6, atol=1e-8)))
        shown = {k: _show(v, i if getattr(v, "shape", None) == expected.shape else None)
                 for k, v in kwargs.items()}
        raise AssertionError(
            f"{name}: wrong value at index {i}: expected {expected.flat[i]:.6g}, "
            f"got {got.flat[i]:.6g} (inputs: {shown})"
        )


def chapters() -> list[str]:
    """Chapters that have exercise checks (modules in ``creditlab/exercises/checks``)."""
    here = Path(__file__).with_name("checks")
    return sorted(p.stem for p in here.glob("ch*.py"))


def checks_module(chapter: str) -> Any:
    return importlib.import_module(f"creditlab.exercises.checks.{chapter}")


def exercises() -> list[str]:
    """Names accepted by :func:`check`, e.g. ``"ch01.gae"``."""
    return sorted(f"{c}.{e}" for c in chapters() for e in checks_module(c).INVARIANTS)


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
    known = exercises()
    if name not in known:
        raise KeyError(f"unknown exercise {name!r}; known: {', '.join(known)}")
    chapter, exercise = name.split(".")
    if fn is None:
        fn = getattr(importlib.import_module(f"creditlab.exercises.{chapter}"), exercise)
    if not callable(fn):
        raise TypeError(f"fn must be your function (a callable), got {type(fn).__name__}")
    try:
        cases = _stored(chapter, exercise)
        for kwargs, expected in cases:
            _compare(name, call(fn, kwargs), expected, kwargs)
        checks_module(chapter).INVARIANTS[exercise](fn)
    except NotImplementedError:
        raise AssertionError(f"{name} is not implemented yet") from None
    if verbose:
        print(f"{name}: passed ({len(cases)} stored cases and the invariants)")
    return True
