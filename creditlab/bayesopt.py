"""Bayesian optimisation over a finite set of candidates, with a Gaussian process in numpy
(Chapter 21).

A Gaussian process (GP) with a squared-exponential kernel models the unknown score
:math:`f(x)` of a configuration :math:`x \\in [0, 1]^d` from the trials seen so far; the
next trial maximises the *expected improvement* over the best score so far. Past
experience picks the first trials (:func:`warm_start`): the warm start of
Agent K-style search (Grosnit et al., 2024), where configurations that earned rewards on
earlier tasks steer the first trials of a new one.

Everything is plain numpy (no scikit-learn): a Cholesky solve on at most a few hundred
points, which is all the toy chapters need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import erf, sqrt
from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    check_real,
    float_array,
    int_array,
    make_rng,
    number_array,
    to_numpy,
)

__all__ = ["BayesOptResult", "bayes_opt", "expected_improvement", "gp_posterior", "warm_start"]

_erf = np.vectorize(erf, otypes=[np.float64])


def _points(x: Any, name: str, d: int | None = None, min_n: int = 0) -> np.ndarray:
    a = check_finite(number_array(x, name), name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D [n, d], got shape {a.shape}")
    if a.shape[0] < min_n:
        raise ValueError(f"{name} must have at least {min_n} rows, got {a.shape[0]}")
    if a.shape[1] == 0:
        raise ValueError(f"{name} must have at least one column (d >= 1)")
    if d is not None and a.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns like the training points, got "
                         f"{a.shape[1]}")
    return a


def _kernel(A: np.ndarray, B: np.ndarray, ell: float) -> np.ndarray:
    d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    return np.exp(-0.5 * d2 / ell**2)


def gp_posterior(X: Any, y: Any, Xq: Any, *, length_scale: float = 0.2,
                 noise: Any = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    r"""Posterior mean and standard deviation of a zero-mean GP at query points.

    The targets are standardised first (:math:`\tilde y = (y - \bar y)/s_y`, :math:`s_y = 1`
    when all targets are equal), the kernel is
    :math:`k(x, x') = \exp(-\lVert x - x'\rVert^2 / 2\ell^2)` (unit signal variance), and

    .. math:: \mu(x_q) = k_q^\top (K + \Sigma)^{-1} \tilde y,\qquad
              \sigma^2(x_q) = 1 - k_q^\top (K + \Sigma)^{-1} k_q,

    with :math:`\Sigma = \mathrm{diag}(\sigma_n^2)`, then mapped back to the scale of ``y``.
    The hyperparameters (:math:`\ell`, unit signal variance, :math:`\sigma_n^2`) are fixed,
    not fit by maximum likelihood as in EGO (Jones et al., 1998).

    Parameters
    ----------
    X : array [n, d], finite numbers (n may be 0: the prior, mean 0 and sd 1)
    y : array [n], finite numbers
    Xq : array [m, d], finite numbers
    length_scale : float > 0
        :math:`\ell`, in the units of ``X`` (the chapter's configurations live in [0, 1]^d).
    noise : float >= 0 or array [n] of floats >= 0
        Observation noise variance :math:`\sigma_n^2` of each training point, in
        standardised units (a larger value for points borrowed from other tasks).

    Returns
    -------
    (mean [m], sd [m]) float64 arrays, in the units of ``y``.
    """
    Xa = _points(X, "X")
    Xb = _points(Xq, "Xq", Xa.shape[1])
    ya = check_finite(number_array(y, "y"), "y")
    if ya.shape != (len(Xa),):
        raise ValueError(f"y must have shape ({len(Xa)},) (one target per row of X), got "
                         f"{ya.shape}")
    ell = check_positive(length_scale, "length_scale")
    nz = _noise(noise, len(Xa))
    if len(Xa) == 0:
        return np.zeros(len(Xb)), np.ones(len(Xb))
    mu0 = ya.mean()
    s = ya.std()
    s = s if s > 0 else 1.0
    t = (ya - mu0) / s
    K = _kernel(Xa, Xa, ell) + np.diag(nz + 1e-8)
    L = np.linalg.cholesky(K)
    Kq = _kernel(Xa, Xb, ell)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, t))
    v = np.linalg.solve(L, Kq)
    mean = Kq.T @ alpha
    var = np.clip(1.0 - (v**2).sum(0), 1e-12, None)
    return mu0 + s * mean, s * np.sqrt(var)


def _noise(noise: Any, n: int) -> np.ndarray:
    if np.ndim(noise) == 0 and not isinstance(noise, np.ndarray):
        return np.full(n, check_nonnegative(noise, "noise"))
    a = check_finite(number_array(noise, "noise"), "noise")
    if a.ndim == 0:
        return np.full(n, check_nonnegative(float(a), "noise"))
    if a.shape != (n,):
        raise ValueError(f"noise must be a number or have shape ({n},), got {a.shape}")
    if (a < 0).any():
        raise ValueError("noise must be >= 0")
    return a


def expected_improvement(mean: Any, sd: Any, best: float, *, xi: float = 0.0) -> np.ndarray:
    r"""Expected improvement of a Gaussian belief over the best score so far (maximising).

    .. math:: \mathrm{EI} = (\mu - f^* - \xi)\,\Phi(z) + \sigma\,\varphi(z),\qquad
              z = (\mu - f^* - \xi)/\sigma .

    Parameters
    ----------
    mean, sd : float arrays of one shape (sd >= 0; where sd = 0, EI = max(mu - f* - xi, 0))
    best : float, the best score so far :math:`f^*`
    xi : float >= 0, an exploration margin

    Returns
    -------
    float64 array of the shape of ``mean``, >= 0.
    """
    mu = check_finite(to_numpy(float_array(mean, "mean"), "mean"), "mean").astype(np.float64)
    sg = check_finite(to_numpy(float_array(sd, "sd"), "sd"), "sd").astype(np.float64)
    if sg.shape != mu.shape:
        raise ValueError(f"sd must have the shape of mean {mu.shape}, got {sg.shape}")
    if (sg < 0).any():
        raise ValueError("sd must be >= 0")
    f = check_real(best, "best")
    x = check_nonnegative(xi, "xi")
    imp = mu - f - x
    safe = np.where(sg > 0, sg, 1.0)
    z = imp / safe
    cdf = 0.5 * (1.0 + _erf(z / sqrt(2.0)))
    pdf = np.exp(-0.5 * z**2) / sqrt(2.0 * np.pi)
    ei = np.where(sg > 0, imp * cdf + sg * pdf, np.maximum(imp, 0.0))
    return np.maximum(ei, 0.0)


@dataclass
class BayesOptResult:
    """What :func:`bayes_opt` tried.

    Attributes
    ----------
    index : int array [n_trials], the candidate tried at each trial
    scores : float64 array [n_trials], its score
    best : float64 array [n_trials], the best score after each trial (running max)
    """

    index: np.ndarray
    scores: np.ndarray
    best: np.ndarray


def warm_start(candidates: Any, prior_X: Any, prior_y: Any, n: int, *,
               length_scale: float = 0.2, noise: float = 0.3) -> np.ndarray:
    r"""The ``n`` candidates a memory of past rewards ranks highest: the largest posterior
    means of a GP fit to ``(prior_X, prior_y)`` (Agent K-style warm start).

    Pooling the rewarded configurations of several past tasks into one GP mean is a
    consensus: a configuration that scored well on many of them ranks high, one lucky score
    is smoothed away. Give ``prior_y`` on one scale across tasks (e.g. z-scored within each
    task, :meth:`creditlab.memory.ExperienceMemory.retrieve` with ``standardize=True``).

    Parameters
    ----------
    candidates : array [m, d], finite numbers
    prior_X : array [p, d], p >= 1, finite numbers
    prior_y : array [p], finite numbers
    n : int, 1 <= n <= m
    length_scale, noise : see :func:`gp_posterior` (``noise`` is the prior points' variance)

    Returns
    -------
    int64 array [n]: candidate indices, best first.
    """
    C = _points(candidates, "candidates", min_n=1)
    PX = _points(prior_X, "prior_X", C.shape[1], min_n=1)
    Py = check_finite(number_array(prior_y, "prior_y"), "prior_y")
    if Py.shape != (len(PX),):
        raise ValueError(f"prior_y must have shape ({len(PX)},) (one reward per row of "
                         f"prior_X), got {Py.shape}")
    k = check_int(n, "n", 1)
    if k > len(C):
        raise ValueError(f"n must be <= the number of candidates {len(C)}, got {k}")
    mu, _ = gp_posterior(PX, Py, C, length_scale=length_scale, noise=noise)
    return np.argsort(-mu, kind="stable")[:k].astype(np.int64)


def bayes_opt(f: Callable[[int], float], candidates: Any, n_trials: int, *,
              init: Any = None, n_init: int = 2, length_scale: float = 0.2,
              noise: float = 1e-3, xi: float = 0.0, seed: Any = None) -> BayesOptResult:
    r"""GP Bayesian optimisation with expected improvement over a finite candidate set.

    The first trials are an initial design: the candidates ``init`` if given (a warm start,
    e.g. :func:`warm_start` from a memory of past tasks), else ``n_init`` uniform random
    candidates. Every later trial fits :func:`gp_posterior` to this task's trials so far
    and tries the untried candidate with the largest :func:`expected_improvement` over the
    best score so far. (Agent K retrieves rewarded experience with an LLM and tunes with
    Bayesian optimisation; here the experience picks the initial design, Agent K-style.)

    Parameters
    ----------
    f : callable ``f(index) -> float``, the score of candidate ``index`` (to maximise)
    candidates : array [m, d], finite numbers (the configurations, e.g. in [0, 1]^d)
    n_trials : int, 1 <= n_trials <= m (each candidate is tried at most once)
    init : int array [q] of distinct candidate indices, or None
    n_init : int >= 1, random trials when ``init`` is None
    length_scale, noise : see :func:`gp_posterior`
    xi : float >= 0, see :func:`expected_improvement`
    seed : int >= 0, Generator or None (the random design and tie-breaking)

    Returns
    -------
    BayesOptResult
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    C = _points(candidates, "candidates", min_n=1)
    n = check_int(n_trials, "n_trials", 1)
    if n > len(C):
        raise ValueError(f"n_trials must be <= the number of candidates {len(C)}, got {n}")
    n0 = check_int(n_init, "n_init", 1)
    ell = check_positive(length_scale, "length_scale")
    nz = check_nonnegative(noise, "noise")
    x = check_nonnegative(xi, "xi")
    rng = make_rng(seed)
    if init is None:
        design = [int(i) for i in rng.choice(len(C), size=min(n0, len(C)), replace=False)]
    else:
        ia = int_array(init, "init")
        if ia.ndim != 1 or ia.size == 0:
            raise ValueError(f"init must be a non-empty 1-D index array, got shape {ia.shape}")
        if (ia < 0).any() or (ia >= len(C)).any():
            raise ValueError(f"init must hold candidate indices in [0, {len(C)})")
        if len(np.unique(ia)) != len(ia):
            raise ValueError("init must hold distinct candidate indices")
        design = [int(i) for i in ia]
    tried: list[int] = []
    scores: list[float] = []
    free = np.ones(len(C), bool)
    for t in range(n):
        if t < len(design):
            i = design[t]
        else:
            mu, sd = gp_posterior(C[tried], scores, C, length_scale=ell, noise=nz)
            ei = expected_improvement(mu, sd, max(scores), xi=x)
            ei = np.where(free, ei + 1e-12 * rng.random(len(C)), -np.inf)
            i = int(np.argmax(ei))
        s = float(f(i))
        if not np.isfinite(s):
            raise ValueError(f"f returned a non-finite score {s} for candidate {i}")
        tried.append(i)
        scores.append(s)
        free[i] = False
    sc = np.asarray(scores)
    return BayesOptResult(np.asarray(tried), sc, np.maximum.accumulate(sc))
