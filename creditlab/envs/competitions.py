"""Synthetic tabular "competitions" with shared structure (Chapter 21, Agent K in small).

A competition is a binary classification task: latent inputs
:math:`z \\sim \\mathcal N(0, I_d)`, labels
:math:`y = [g(z) - m_g + \\sigma_y s_g \\varepsilon > 0]` with a random smooth function

.. math:: g(z) = \\sum_{j=1}^{J} a_j \\cos(w_j^\\top z / \\ell + b_j),\\quad
          w_j \\sim \\mathcal N(0, I_d),\\; a_j \\sim \\mathcal N(0, 1),\\;
          b_j \\sim U[0, 2\\pi),

:math:`m_g` the median of :math:`g` (balanced classes), :math:`s_g` its standard deviation,
:math:`\\sigma_y` the label noise, and the competitor sees the features
:math:`x = u\\,z` in *units* :math:`u`. Tasks in the same units share their best pipeline
configurations (each task jitters :math:`\\ell`); tasks in other units do not.
A *pipeline* is random Fourier features of bandwidth :math:`h` followed by a ridge
classifier with penalty :math:`\\lambda`; the configuration is
:math:`(\\log_{10} h, \\log_{10}\\lambda)` rescaled to :math:`[0, 1]^2`. Each task has a
public validation split (scored at once, the public leaderboard) and a private test split
(scored when the competition closes: the delayed outcome).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    make_rng,
    number_array,
)
from creditlab.metrics import linear_probe

__all__ = ["Competition", "config_grid", "make_competition"]

LOG_BANDWIDTH = (-1.0, 1.5)  # log10 h range mapped to [0, 1]
LOG_RIDGE = (-3.0, 3.0)  # log10 lambda range mapped to [0, 1]


def config_grid(n: int = 12) -> np.ndarray:
    """The ``n * n`` pipeline configurations on a regular grid of [0, 1]^2, float64
    ``[n * n, 2]`` (column 0: bandwidth, column 1: ridge; row ``i * n + j``)."""
    m = check_int(n, "n", 2)
    u = np.linspace(0.0, 1.0, m)
    return np.stack(np.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2)


@dataclass
class Competition:
    """One synthetic competition (built by :func:`make_competition`).

    Attributes
    ----------
    units : float, the scale of the features
    length_scale, label_noise : float, the task's :math:`\\ell` and :math:`\\sigma_y`
    X_train, X_val, X_test : float64 arrays [n_*, d]
    y_train, y_val, y_test : bool arrays [n_*]
    seed : int, the seed of the random features
    """

    units: float
    length_scale: float
    label_noise: float
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    seed: int

    def key(self) -> np.ndarray:
        """Meta-features a competitor can compute before any pipeline runs, float64 [3]:
        the validation accuracy of a linear least-squares classifier and of 1-nearest
        neighbour (both fit on the training split), and log10 of the features' standard
        deviation (their units)."""
        w = linear_probe(self.X_train, self.y_train, ridge=0.0)
        lin = np.mean((np.c_[self.X_val, np.ones(len(self.X_val))] @ w > 0) == self.y_val)
        d2 = ((self.X_val[:, None, :] - self.X_train[None]) ** 2).sum(-1)
        nn = np.mean(self.y_train[np.argmin(d2, 1)] == self.y_val)
        return np.array([lin, nn, np.log10(self.X_train.std())], dtype=np.float64)

    def scores(self, configs: Any, n_features: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Validation and test accuracy of the pipeline at each configuration.

        Parameters
        ----------
        configs : array [m, 2] in [0, 1]^2 (see :func:`config_grid`)
        n_features : int >= 1, random Fourier features (fixed per task by ``seed``)

        Returns
        -------
        (val [m], test [m]) float64 accuracies.
        """
        C = check_finite(number_array(configs, "configs"), "configs")
        if C.ndim != 2 or C.shape[1] != 2:
            raise ValueError(f"configs must be an [m, 2] array, got shape {C.shape}")
        if (C < 0).any() or (C > 1).any():
            raise ValueError("configs must lie in [0, 1]^2")
        D = check_int(n_features, "n_features", 1)
        rng = np.random.default_rng(self.seed)
        W = rng.normal(size=(self.X_train.shape[1], D))
        u = rng.uniform(0, 2 * np.pi, D)
        t = np.where(self.y_train, 1.0, -1.0)
        val = np.empty(len(C))
        test = np.empty(len(C))
        logh = LOG_BANDWIDTH[0] + C[:, 0] * (LOG_BANDWIDTH[1] - LOG_BANDWIDTH[0])
        loglam = LOG_RIDGE[0] + C[:, 1] * (LOG_RIDGE[1] - LOG_RIDGE[0])
        # Plain loops (einsum) and small batched solves only: a threaded BLAS/LAPACK call on
        # these tiny matrices (eigh, gemm) can be 100x slower on a busy machine.
        for h in np.unique(logh):
            rows = np.flatnonzero(logh == h)
            Z, Zv, Zt = (np.c_[np.sqrt(2.0 / D) * np.cos(np.einsum("nd,dk->nk", X, W) / 10**h
                                                          + u), np.ones(len(X))]
                         for X in (self.X_train, self.X_val, self.X_test))
            G = np.einsum("ni,nj->ij", Z, Z)
            lam = 10.0 ** loglam[rows]
            A = G[None] + lam[:, None, None] * np.eye(D + 1)[None]
            b = np.broadcast_to(np.einsum("ni,n->i", Z, t)[None, :, None], (len(rows), D + 1, 1))
            Wr = np.linalg.solve(A, b)[..., 0].T  # [D + 1, len(rows)]
            val[rows] = ((np.einsum("ni,ir->nr", Zv, Wr) > 0) == self.y_val[:, None]).mean(0)
            test[rows] = ((np.einsum("ni,ir->nr", Zt, Wr) > 0) == self.y_test[:, None]).mean(0)
        return val, test


def make_competition(units: float = 1.0, *, d: int = 2, length_scale: float = 1.0,
                     jitter: float = 0.3, label_noise: float = 0.3, n_train: int = 200,
                     n_val: int = 200, n_test: int = 1000, n_waves: int = 6,
                     seed: Any = None) -> Competition:
    """Draw one competition whose features are measured in ``units``.

    Tasks with the same ``units`` share their best pipelines (the bandwidth that suits
    :math:`g` scales with the units of :math:`x`); tasks in other units do not.

    Parameters
    ----------
    units : float > 0, the scale of the features (x = units * z, z ~ N(0, I_d))
    d : int >= 1, input dimension
    length_scale : float > 0, the median :math:`\\ell` (in units of z)
    jitter : float >= 0, the task's :math:`\\ell` is ``length_scale * exp(jitter * N(0, 1))``
    label_noise : float >= 0, :math:`\\sigma_y`
    n_train, n_val, n_test : int >= 2, split sizes
    n_waves : int >= 1, the number :math:`J` of cosines in :math:`g`
    seed : int >= 0 or None

    Returns
    -------
    Competition
    """
    sc = check_positive(units, "units")
    dd = check_int(d, "d", 1)
    med = check_positive(length_scale, "length_scale")
    jit = check_nonnegative(jitter, "jitter")
    noise = check_nonnegative(label_noise, "label_noise")
    ns = [check_int(v, name, 2) for v, name in
          ((n_train, "n_train"), (n_val, "n_val"), (n_test, "n_test"))]
    J = check_int(n_waves, "n_waves", 1)
    rng = make_rng(seed)
    ell = float(med * np.exp(jit * rng.normal()))
    Wg = rng.normal(size=(dd, J))
    a = rng.normal(size=J)
    b = rng.uniform(0, 2 * np.pi, J)
    Z = rng.normal(size=(sum(ns), dd))
    g = np.cos(Z @ Wg / ell + b) @ a
    g = g - np.median(g)
    y = g + noise * g.std() * rng.normal(size=len(g)) > 0
    X = sc * Z
    i1, i2 = ns[0], ns[0] + ns[1]
    return Competition(sc, ell, noise, X[:i1], y[:i1], X[i1:i2], y[i1:i2], X[i2:],
                       y[i2:], int(rng.integers(2**31)))
