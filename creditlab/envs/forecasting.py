"""A forecasting world with a cutoff: questions that resolve before it (static) and after
it (live) (Chapter 21, FutureX in small).

``n_series`` autoregressive processes with regime shifts run for ``length`` steps:

.. math:: x_t = \\mu_{r_t} + \\phi_{r_t}(x_{t-1} - \\mu_{r_t}) + \\sigma \\varepsilon_t,

where the regime :math:`r_t` switches with probability ``regime_rate`` per step and a new
regime draws :math:`\\mu \\sim \\mathcal N(0, 1.5^2)` and :math:`\\phi \\sim U[0.3, 0.9]`.
A question asked at step :math:`a` about series :math:`i` with horizon :math:`h` is "will
:math:`x_{i, a+h}` exceed :math:`c`?", with :math:`c = x_{i,a} + \\delta`,
:math:`\\delta \\sim \\mathcal N(0, \\sigma^2 h)`; it *resolves* at step :math:`a + h`, and
only then is its outcome (and the forecast's score) known.

The *cutoff* is "now": a static benchmark asks questions that have already resolved by
the cutoff (a forecaster run now can have seen the answer), a live benchmark asks
questions that resolve after it (FutureX-style: no forecaster can have seen them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import check_int, check_positive, check_unit_interval, make_rng

__all__ = ["LiveForecastWorld", "Questions"]


@dataclass
class Questions:
    """A set of Q binary questions (built by :meth:`LiveForecastWorld.questions`).

    Attributes
    ----------
    series, asked, horizon, resolves : int64 arrays [Q] (resolves = asked + horizon)
    threshold : float64 array [Q], the level :math:`c`
    outcome : bool array [Q], :math:`x_{series, resolves} > c`
    """

    series: np.ndarray
    asked: np.ndarray
    horizon: np.ndarray
    resolves: np.ndarray
    threshold: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.series)


class LiveForecastWorld:
    """AR(1) series with regime shifts, and questions about them (see the module).

    Parameters
    ----------
    n_series : int >= 1
    length : int >= 20, steps per series
    cutoff : int, 10 <= cutoff < length - max(horizons), "now"
    horizons : tuple of int >= 1, the question horizons
    every : int >= 1, questions are asked every ``every`` steps
    window : int >= 1, a static benchmark asks in ``[cutoff - window, cutoff)``
    regime_rate : float in [0, 1], the per-step probability of a regime shift
    noise : float > 0, :math:`\\sigma`
    seed : int >= 0 or None

    Attributes
    ----------
    values : float64 array [n_series, length], every path (the future included)
    regime_mean, regime_phi : float64 arrays [n_series, length], the regime at each step
    """

    def __init__(self, n_series: int = 40, length: int = 400, cutoff: int = 250,
                 horizons: tuple[int, ...] = (1, 3, 10, 30), every: int = 5,
                 window: int = 150, regime_rate: float = 0.01, noise: float = 0.5,
                 seed: Any = None) -> None:
        self.n_series = check_int(n_series, "n_series", 1)
        self.length = check_int(length, "length", 20)
        if not isinstance(horizons, (tuple, list)) or not horizons:
            raise TypeError(f"horizons must be a non-empty tuple of ints, got {horizons!r}")
        self.horizons = tuple(check_int(h, "horizons", 1) for h in horizons)
        self.cutoff = check_int(cutoff, "cutoff", 10)
        if self.cutoff >= self.length - max(self.horizons):
            raise ValueError(f"cutoff must be < length - max(horizons) = "
                             f"{self.length - max(self.horizons)}, got {cutoff}")
        self.every = check_int(every, "every", 1)
        self.window = check_int(window, "window", 1)
        self.regime_rate = check_unit_interval(regime_rate, "regime_rate")
        self.noise = check_positive(noise, "noise")
        rng = make_rng(seed)
        S, T = self.n_series, self.length
        mu = np.empty((S, T))
        phi = np.empty((S, T))
        x = np.empty((S, T))
        m, f = rng.normal(0, 1.5, S), rng.uniform(0.3, 0.9, S)
        x_prev = m + rng.normal(0, self.noise, S) / np.sqrt(1 - f**2)
        for t in range(T):
            shift = rng.random(S) < self.regime_rate
            m = np.where(shift, rng.normal(0, 1.5, S), m)
            f = np.where(shift, rng.uniform(0.3, 0.9, S), f)
            x_prev = m + f * (x_prev - m) + self.noise * rng.normal(size=S)
            mu[:, t], phi[:, t], x[:, t] = m, f, x_prev
        self.values, self.regime_mean, self.regime_phi = x, mu, phi
        self._delta_seed = int(rng.integers(2**31))

    def history(self, t: int) -> np.ndarray:
        """What is known at step ``t``: ``values[:, : t + 1]``, float64 [n_series, t + 1]."""
        tt = check_int(t, "t", 0)
        if tt >= self.length:
            raise ValueError(f"t must be < length {self.length}, got {t}")
        return self.values[:, : tt + 1].copy()

    def questions(self, kind: str) -> Questions:
        """The ``"static"`` questions (asked in ``[cutoff - window, cutoff)``, resolved by
        the cutoff) or the ``"live"`` ones (asked from the cutoff on, resolved after it),
        one per series, ask step (every ``every`` steps) and horizon."""
        if kind == "static":
            lo, hi = max(self.cutoff - self.window, 1), self.cutoff
        elif kind == "live":
            lo, hi = self.cutoff, self.length
        else:
            raise ValueError(f"kind must be 'static' or 'live', got {kind!r}")
        rows = []
        for h in self.horizons:
            for a in range(lo, hi, self.every):
                if kind == "static" and a + h > self.cutoff:
                    continue
                if a + h >= self.length:
                    continue
                for i in range(self.n_series):
                    rows.append((i, a, h))
        r = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        rng = np.random.default_rng([self._delta_seed, 0 if kind == "static" else 1])
        s, a, h = r[:, 0], r[:, 1], r[:, 2]
        c = self.values[s, a] + self.noise * np.sqrt(h) * rng.normal(size=len(r))
        return Questions(s, a, h, a + h, c, self.values[s, a + h] > c)
