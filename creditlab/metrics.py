"""When are two rewards the same? Reward distances (EPIC, STARC) and regret, for tabular MDPs.

Rewards are arrays ``R[s, a, s']`` of shape [S, A, S]; transitions ``P[s, a, s']``.
Three transformations of a reward leave the ordering of policies unchanged:

- potential shaping, :math:`R'(s,a,s') = R(s,a,s') + \\gamma \\Phi(s') - \\Phi(s)`;
- positive scaling, :math:`R' = \\alpha R` with :math:`\\alpha > 0`;
- S'-redistribution: any :math:`R'` with
  :math:`\\mathbb{E}_{S' \\sim P(s,a)}[R'(s,a,S')] = \\mathbb{E}_{S' \\sim P(s,a)}[R(s,a,S')]`.

A plain L2 distance ``||R1 - R2||`` sees all three as large differences. EPIC (Gleave et
al., 2021, arXiv 2006.13900) removes potential shaping and scale; STARC (Skalse et al.,
2024, arXiv 2309.15257) removes all three and bounds regret from above and below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_real,
    check_unit_interval,
    float_array,
    number_array,
    to_numpy,
)
from creditlab.tabular import (
    _initial,
    _policy,
    check_mdp,
    greedy_policy,
    occupancy,
    policy_evaluation,
    value_iteration,
)

__all__ = [
    "auroc",
    "brier",
    "ece",
    "epic_canonicalise",
    "epic_distance",
    "frechet_distance",
    "l2_distance",
    "linear_probe",
    "log_score",
    "mmd2",
    "optimal_return_range",
    "policy_eval_rank_corr",
    "probe_accuracy",
    "regret",
    "spearman",
    "starc_canonicalise",
    "starc_distance",
    "starc_regret_bound",
    "traj_discrimination",
    "vendi_score",
]

_NORMS = ("l1", "l2", "linf")
_CANONS = ("value", "epic", "none")


def _reward(R: Any, name: str) -> np.ndarray:
    a = float_array(R, name).astype(np.float64, copy=False)
    if a.ndim != 3 or a.shape[0] != a.shape[2]:
        raise ValueError(f"{name} must have shape [S, A, S], got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return a


def _unit_scale(R: np.ndarray) -> np.ndarray:
    """``R / max|R|`` (R itself if it is all zeros).

    EPIC and STARC are invariant to positive scaling, so the distances compute on
    rewards scaled to max |R| = 1: their zero-variance / zero-norm thresholds are then
    relative to the reward's own scale, and no product of two large sums can overflow.
    """
    m = float(np.abs(R).max(initial=0.0))
    return R / m if m > 0 else R


def _dist(x: Any, n: int, name: str) -> np.ndarray:
    if x is None:
        return np.full(n, 1.0 / n)
    d = float_array(x, name).astype(np.float64)
    if d.shape != (n,) or (d < 0).any() or not np.isclose(d.sum(), 1.0):
        raise ValueError(f"{name} must be a probability vector of shape ({n},)")
    return d


def _norm(x: np.ndarray, kind: str, name: str = "norm") -> float:
    if kind not in _NORMS:
        raise ValueError(f"{name} must be one of {_NORMS}, got {kind!r}")
    v = x.ravel()
    if kind == "l1":
        return float(np.abs(v).sum())
    if kind == "l2":
        return float(np.sqrt(v @ v))
    return float(np.abs(v).max(initial=0.0))


# --------------------------------------------------------------------------------------
# EPIC


def epic_canonicalise(
    R: Any, gamma: float, *, state_dist: Any = None, action_dist: Any = None
) -> np.ndarray:
    r"""EPIC's canonically shaped reward (Gleave et al. 2021, Definition 4.1).

    .. math::
        C(R)(s,a,s') = R(s,a,s') + \mathbb{E}\big[\gamma R(s',A,S') - R(s,A,S')
                       - \gamma R(S,A,S')\big],

    with :math:`S, S' \sim D_S` and :math:`A \sim D_A` independent (default: uniform).
    It is linear in R and :math:`C(R + \gamma\Phi(s') - \Phi(s)) = C(R)` for every
    potential :math:`\Phi`. It ignores the transition dynamics. Returns [S, A, S].
    """
    R = _reward(R, "R")
    g = check_unit_interval(gamma, "gamma")
    S, A = R.shape[:2]
    ds = _dist(state_dist, S, "state_dist")
    da = _dist(action_dist, A, "action_dist")
    mean_from = np.einsum("xap,a,p->x", R, da, ds)  # E[R(x, A, S')]
    mean_all = float(ds @ mean_from)  # E[R(S, A, S')]
    return R + g * mean_from[None, None, :] - mean_from[:, None, None] - g * mean_all


def epic_distance(
    R1: Any,
    R2: Any,
    gamma: float,
    *,
    state_dist: Any = None,
    action_dist: Any = None,
    coverage: Any = None,
) -> float:
    r"""EPIC pseudometric: Pearson distance between canonically shaped rewards.

    .. math::
        D_{\mathrm{EPIC}}(R_1, R_2) = \sqrt{\tfrac{1 - \rho(C(R_1), C(R_2))}{2}} \in [0, 1],

    with :math:`\rho` the Pearson correlation of the two arrays of
    :func:`epic_canonicalise` under the coverage distribution over transitions
    (``coverage`` [S, A, S]; default :math:`D_S \otimes D_A \otimes D_S`). Zero for
    rewards that differ by potential shaping and positive scaling; *not* invariant to
    S'-redistribution. When a canonical reward has zero variance (a reward that is
    potential shaping of a constant) :math:`\rho` is taken as 0, or the distance is 0 if
    both are such; this keeps the triangle inequality.
    """
    R1, R2 = _reward(R1, "R1"), _reward(R2, "R2")
    if R1.shape != R2.shape:
        raise ValueError(f"R2 must have the shape of R1 {R1.shape}, got {R2.shape}")
    S, A = R1.shape[:2]
    ds = _dist(state_dist, S, "state_dist")
    da = _dist(action_dist, A, "action_dist")
    if coverage is None:
        w = ds[:, None, None] * da[None, :, None] * ds[None, None, :]
    else:
        w = float_array(coverage, "coverage").astype(np.float64)
        if w.shape != R1.shape or (w < 0).any() or not np.isclose(w.sum(), 1.0):
            raise ValueError(f"coverage must be a probability array of shape {R1.shape}")
    c1 = epic_canonicalise(_unit_scale(R1), gamma, state_dist=ds, action_dist=da)
    c2 = epic_canonicalise(_unit_scale(R2), gamma, state_dist=ds, action_dist=da)
    x1, x2 = c1 - (w * c1).sum(), c2 - (w * c2).sum()
    v1, v2 = float((w * x1 * x1).sum()), float((w * x2 * x2).sum())
    # zero variance, relative to the reward's scale (each R has max |R| = 1 here, so the
    # threshold is scale-free); rounding leaves a variance of about 1e-30
    eps = 1e-24 * max(1.0, float((w * c1 * c1).sum()), float((w * c2 * c2).sum()))
    flat1, flat2 = v1 <= eps, v2 <= eps
    if flat1 and flat2:
        return 0.0
    rho = 0.0 if (flat1 or flat2) else (
        float((w * x1 * x2).sum()) / (np.sqrt(v1) * np.sqrt(v2)))
    return float(np.sqrt(max(0.0, (1.0 - min(rho, 1.0)) / 2.0)))


# --------------------------------------------------------------------------------------
# STARC


def starc_canonicalise(
    R: Any, P: Any, gamma: float, *, canonicalisation: str = "value", policy: Any = None
) -> np.ndarray:
    r"""The canonicalisation step of a STARC metric.

    ``"value"`` (default) is STARC's Value-Adjusted Levelling (VAL; Skalse et al. 2024,
    Proposition "VAL is a canonicalisation function"):

    .. math::
        c(R)(s,a,s') = \mathbb{E}_{S' \sim P(\cdot|s,a)}\big[R(s,a,S') - V^\pi_R(s)
                       + \gamma V^\pi_R(S')\big],

    where :math:`V^\pi_R` is the value of the policy :math:`\pi` (default: uniform) under
    R itself. The expectation over :math:`S'` makes the result constant in :math:`s'`,
    which removes S'-redistribution; subtracting the shaping by :math:`\Phi = V^\pi_R`
    removes potential shaping. :math:`c` is linear, and :math:`c(R_1) = c(R_2)` exactly
    when :math:`R_1, R_2` differ by potential shaping and S'-redistribution.

    ``"epic"`` uses :func:`epic_canonicalise` (uniform distributions; it does not remove
    S'-redistribution, so it is not a canonicalisation in STARC's sense) and ``"none"``
    returns R unchanged; both are here for comparison. Returns [S, A, S].
    """
    if canonicalisation not in _CANONS:
        raise ValueError(f"canonicalisation must be one of {_CANONS}, got {canonicalisation!r}")
    R = _reward(R, "R")
    P, R, g = check_mdp(P, R, gamma, strict_gamma=True)
    if canonicalisation == "none":
        return R.copy()
    if canonicalisation == "epic":
        return epic_canonicalise(R, g)
    S, A = P.shape[:2]
    pi = np.full((S, A), 1.0 / A) if policy is None else _policy(policy, S, A)
    V = policy_evaluation(P, R, pi, g)
    c_sa = np.einsum("sap,sap->sa", P, R + g * V[None, None, :]) - V[:, None]
    return np.broadcast_to(c_sa[:, :, None], P.shape).copy()


def _standardise(c: np.ndarray, norm: str) -> tuple[np.ndarray, float]:
    n = _norm(c, norm)
    scale = max(1.0, float(np.abs(c).max(initial=0.0)))
    if n <= 1e-12 * scale * np.sqrt(c.size):
        return np.zeros_like(c), 0.0
    return c / n, n


def starc_distance(
    R1: Any,
    R2: Any,
    P: Any,
    gamma: float,
    *,
    canonicalisation: str = "value",
    norm: str = "l2",
    metric: str = "l2",
    policy: Any = None,
) -> float:
    r"""STARC distance :math:`d(R_1, R_2) = m\big(s(R_1), s(R_2)\big)` (Skalse et al. 2024).

    The standardisation is :math:`s(R) = c(R) / n(c(R))`, or :math:`c(R)` itself when
    :math:`n(c(R)) = 0` (a reward under which all policies are equally good); ``c`` is
    :func:`starc_canonicalise`, ``n`` the ``norm`` and ``m`` the distance induced by the
    ``metric`` norm (``"l1"``, ``"l2"`` or ``"linf"``), all over the full [S, A, S]
    array. The default (VAL with the uniform policy, L2 norm, L2 metric) is the form the
    paper's experiments favour. With ``norm == metric`` the value lies in [0, 2].

    Properties (tested): symmetric; triangle inequality; zero when :math:`R_2` is
    :math:`\alpha R_1` (:math:`\alpha > 0`) plus potential shaping plus S'-redistribution;
    :math:`d(R, -R) = 2` for non-trivial R. Any STARC metric bounds worst-case regret from
    above and below; :func:`starc_regret_bound` gives an explicit upper bound for the
    default choice.

    Parameters
    ----------
    R1, R2, P : arrays [S, A, S]
    gamma : float in [0, 1)
    canonicalisation : {"value", "epic", "none"}
    norm, metric : {"l1", "l2", "linf"}
    policy : array [S, A], optional
        The policy of VAL (default uniform).

    Returns
    -------
    float
    """
    if metric not in _NORMS:
        raise ValueError(f"metric must be one of {_NORMS}, got {metric!r}")
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
    R1, R2 = _reward(R1, "R1"), _reward(R2, "R2")
    if R2.shape != R1.shape:
        raise ValueError(f"R2 must have the shape of R1 {R1.shape}, got {R2.shape}")
    kw = {"canonicalisation": canonicalisation, "policy": policy}
    # scaled to max |R| = 1 first (s(aR) = s(R) for a > 0): the zero-norm threshold of
    # _standardise is then relative to the reward's scale, and nothing overflows
    s1, _ = _standardise(starc_canonicalise(_unit_scale(R1), P, gamma, **kw), norm)
    s2, _ = _standardise(starc_canonicalise(_unit_scale(R2), P, gamma, **kw), norm)
    return _norm(s1 - s2, metric, "metric")


def l2_distance(R1: Any, R2: Any) -> float:
    """The naive distance ``||R1 - R2||_2`` over all entries (for comparison)."""
    R1, R2 = _reward(R1, "R1"), _reward(R2, "R2")
    if R2.shape != R1.shape:
        raise ValueError(f"R2 must have the shape of R1 {R1.shape}, got {R2.shape}")
    return float(np.linalg.norm((R1 - R2).ravel()))


# --------------------------------------------------------------------------------------
# regret


def _optimal_policy(P: np.ndarray, R: np.ndarray, g: float) -> np.ndarray:
    return greedy_policy(value_iteration(P, R, g)[1])


def optimal_return_range(P: Any, R: Any, gamma: float, *, initial: Any = None) -> float:
    r""":math:`\max_\pi J_R(\pi) - \min_\pi J_R(\pi)` with :math:`J_R(\pi) = \mu^\top V^\pi_R`."""
    P, R, g = check_mdp(P, R, gamma, strict_gamma=True)
    mu = _initial(initial, P.shape[0])
    best = mu @ value_iteration(P, R, g)[0]
    worst = -(mu @ value_iteration(P, -R, g)[0])
    return float(best - worst)


def regret(
    R_true: Any,
    R_proxy: Any,
    P: Any,
    gamma: float,
    *,
    initial: Any = None,
    normalise: bool = False,
) -> float:
    r"""Regret under ``R_true`` of the optimal policy of ``R_proxy``.

    .. math:: J_{\text{true}}(\pi^*_{\text{true}}) - J_{\text{true}}(\pi^*_{\text{proxy}}),
              \qquad J_R(\pi) = \sum_s \mu(s) V^\pi_R(s),

    with :math:`\mu` = ``initial`` (default uniform over states) and
    :math:`\pi^*_{\text{proxy}}` the greedy policy of exact value iteration on
    ``R_proxy`` (ties to the lowest action). ``normalise=True`` divides by
    :func:`optimal_return_range` of ``R_true`` (0 when every policy is equally good), as
    STARC's regret bounds are stated.
    """
    P, Rt, g = check_mdp(P, _reward(R_true, "R_true"), gamma, strict_gamma=True)
    Rp = _reward(R_proxy, "R_proxy")
    if Rp.shape != P.shape:
        raise ValueError(f"R_proxy must have the shape of P {P.shape}, got {Rp.shape}")
    mu = _initial(initial, P.shape[0])
    V_star = value_iteration(P, Rt, g)[0]
    V_proxy = policy_evaluation(P, Rt, _optimal_policy(P, Rp, g), g)
    r = max(0.0, float(mu @ (V_star - V_proxy)))
    if normalise:
        span = optimal_return_range(P, Rt, g, initial=mu)
        return r / span if span > 1e-12 else 0.0
    return r


def starc_regret_bound(
    R_true: Any,
    R_proxy: Any,
    P: Any,
    gamma: float,
    *,
    initial: Any = None,
    policy: Any = None,
) -> float:
    r"""An explicit upper bound on :func:`regret` from the default STARC distance.

    With :math:`c` = VAL, :math:`n_1 = \|c(R_1)\|_2`, :math:`d` = :func:`starc_distance`
    (VAL, L2, L2) and :math:`\eta^\pi` the discounted transition occupancy
    (:func:`creditlab.tabular.occupancy`), for :math:`\pi_1, \pi_2` optimal for
    :math:`R_1` = ``R_true`` and :math:`R_2` = ``R_proxy``:

    .. math::
        J_1(\pi_1) - J_1(\pi_2) \le n_1\, d\, \big(\|\eta^{\pi_1}\|_2 + \|\eta^{\pi_2}\|_2\big)
        \le \frac{2\, n_1\, d}{1 - \gamma}.

    Proof sketch (the soundness argument of Skalse et al. 2024, with the constant made
    explicit): :math:`J_R(\pi) = n\,\langle \eta^\pi, s(R)\rangle + \text{const}` because
    VAL only removes shaping (which shifts every J by :math:`-\mu^\top V^\pi_R`) and
    S'-redistribution (which leaves J unchanged); then split
    :math:`\langle \eta^{\pi_1}, s_1\rangle - \langle \eta^{\pi_2}, s_1\rangle` around
    :math:`s_2`, use :math:`\langle \eta^{\pi_1} - \eta^{\pi_2}, s_2\rangle \le 0`
    (:math:`\pi_2` is optimal for :math:`R_2`) and Cauchy-Schwarz. Divide by
    :func:`optimal_return_range` for the normalised form :math:`U \cdot d` of the paper.
    """
    P, R1, g = check_mdp(P, _reward(R_true, "R_true"), gamma, strict_gamma=True)
    R2 = _reward(R_proxy, "R_proxy")
    if R2.shape != P.shape:
        raise ValueError(f"R_proxy must have the shape of P {P.shape}, got {R2.shape}")
    mu = _initial(initial, P.shape[0])
    n1 = _norm(starc_canonicalise(R1, P, g, policy=policy), "l2")
    d = starc_distance(R1, R2, P, g, policy=policy)
    eta1 = occupancy(P, _optimal_policy(P, R1, g), g, mu)
    eta2 = occupancy(P, _optimal_policy(P, R2, g), g, mu)
    return float(n1 * d * (np.linalg.norm(eta1.ravel()) + np.linalg.norm(eta2.ravel())))


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation of two 1-D samples (average ranks for ties).

    ``x`` and ``y`` must be finite (a NaN has no rank; numpy would sort it last and give
    a number that means nothing)."""
    x = check_finite(number_array(x, "x"), "x")
    y = check_finite(number_array(y, "y"), "y")
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError("x and y must be 1-D arrays of the same length >= 2, got shapes "
                         f"{x.shape} and {y.shape}")

    def rank(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=np.float64)
        _, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=r)
        return sums[inv] / counts[inv]

    rx, ry = rank(x), rank(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / den) if den > 0 else 0.0


# --------------------------------------------------------------------------------------
# distances between sample sets (Toy2DDiffusion, Ch19 and Ch24)


def _points(x: Any, name: str, min_n: int = 1) -> np.ndarray:
    a = check_finite(float_array(x, name).astype(np.float64), name)
    if a.ndim != 2 or a.shape[0] < min_n or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape [n, d] with n >= {min_n} and d >= 1, got "
                         f"{a.shape}")
    return a


def _sqdist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.maximum(d, 0.0)


def _bandwidth(bandwidth: Any, x: np.ndarray, y: np.ndarray) -> float:
    if bandwidth is None:  # median heuristic on the pooled sample
        z = np.concatenate([x, y])
        d = np.sqrt(_sqdist(z, z)[np.triu_indices(len(z), 1)])
        h = float(np.median(d)) if d.size else 1.0
        return h if h > 0 else 1.0
    h = check_real(bandwidth, "bandwidth")
    if h <= 0:
        raise ValueError(f"bandwidth must be > 0, got {h}")
    return h


def _two_samples(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two point sets ``[n, d]``, ``[m, d]`` with n, m >= 2 and the same d."""
    x, y = _points(x, "x", 2), _points(y, "y", 2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and "
                         f"{y.shape[1]}")
    return x, y


def mmd2(x: Any, y: Any, *, bandwidth: float | None = None, unbiased: bool = True
         ) -> float:
    r"""Squared maximum mean discrepancy with an RBF kernel between two sample sets.

    .. math::
        \widehat{\mathrm{MMD}}^2_u = \frac{1}{n(n-1)}\sum_{i \ne j} k(x_i, x_j)
        + \frac{1}{m(m-1)}\sum_{i \ne j} k(y_i, y_j) - \frac{2}{nm}\sum_{i,j} k(x_i, y_j),
        \qquad k(a, b) = \exp\!\Big(-\frac{\lVert a - b\rVert^2}{2h^2}\Big)

    (Gretton et al. 2012). ``unbiased=True`` is this U-statistic (its mean is the
    population MMD^2; it can be slightly negative); ``unbiased=False`` keeps the diagonal
    terms (the V-statistic, >= 0, biased upward by about ``(1/n + 1/m)``).

    Parameters
    ----------
    x : float array [n, d]; y : float array [m, d]
        n, m >= 2.
    bandwidth : float > 0 or None
        :math:`h`; None uses the median pairwise distance of the pooled sample.
    unbiased : bool

    Returns
    -------
    float
    """
    x, y = _two_samples(x, y)
    if not isinstance(unbiased, bool):
        raise TypeError(f"unbiased must be a bool, got {type(unbiased).__name__}")
    h = _bandwidth(bandwidth, x, y)
    g = -0.5 / (h * h)
    kxx, kyy, kxy = (np.exp(g * _sqdist(a, b)) for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    if unbiased:
        sxx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        syy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    else:
        sxx, syy = kxx.mean(), kyy.mean()
    return float(sxx + syy - 2.0 * kxy.mean())


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(0.5 * (a + a.T))
    return (v * np.sqrt(np.maximum(w, 0.0))) @ v.T


def frechet_distance(x: Any, y: Any) -> float:
    r"""Fréchet distance between Gaussians fitted to two sample sets (the FID formula).

    .. math::
        d^2 = \lVert \mu_x - \mu_y\rVert^2 + \mathrm{Tr}\Big(\Sigma_x + \Sigma_y
        - 2\big(\Sigma_x^{1/2}\Sigma_y\Sigma_x^{1/2}\big)^{1/2}\Big)

    with sample means and covariances (``ddof=1``, as FID code uses ``np.cov``). The
    matrix square roots are taken by symmetric eigendecomposition (no scipy), so the
    result is >= 0 up to rounding. Returns :math:`d^2` (what "FID" reports).

    Parameters
    ----------
    x : float array [n, d]; y : float array [m, d]
        n, m >= 2 (features in raw or any embedding space).

    Returns
    -------
    float
    """
    x, y = _two_samples(x, y)
    mx, my = x.mean(0), y.mean(0)
    sx = np.atleast_2d(np.cov(x, rowvar=False))
    sy = np.atleast_2d(np.cov(y, rowvar=False))
    r = _psd_sqrt(sx)
    cross = _psd_sqrt(r @ sy @ r)
    d = float((mx - my) @ (mx - my) + np.trace(sx) + np.trace(sy) - 2.0 * np.trace(cross))
    return max(d, 0.0)


_VENDI_KERNELS = ("rbf", "cosine", "linear")


def vendi_score(x: Any, kernel: Any = "rbf", *, bandwidth: float | None = None) -> float:
    r"""Vendi score: the effective number of distinct samples (Friedman & Dieng 2023).

    .. math:: \mathrm{VS}(x) = \exp\Big(-\sum_i \lambda_i \log \lambda_i\Big),

    :math:`\lambda_i` the eigenvalues of :math:`K/n`, :math:`K_{ij} = k(x_i, x_j)` with
    :math:`k(x, x) = 1`. It is 1 when all samples are identical and ``n`` when they are
    mutually dissimilar (:math:`K = I`).

    Parameters
    ----------
    x : float array [n, d]
    kernel : {"rbf", "cosine", "linear"} or callable
        "rbf": :math:`\exp(-\lVert a - b\rVert^2 / 2h^2)`; "cosine": cosine similarity;
        "linear": :math:`a \cdot b` on rows scaled to unit norm (the same as "cosine").
        A callable gets ``x`` ``[n, d]`` (float64) and returns ``K`` ``[n, n]``
        (symmetric, PSD, unit diagonal; checked for shape and finiteness).
    bandwidth : float > 0 or None
        :math:`h` for "rbf"; None: the median pairwise distance.

    Returns
    -------
    float in [1, n]
    """
    x = _points(x, "x", 1)
    n = len(x)
    if callable(kernel):
        K = check_finite(float_array(np.asarray(kernel(x.copy())), "kernel(x)").astype(
            np.float64), "kernel(x)")
        if K.shape != (n, n):
            raise ValueError(f"kernel(x) must return an [n, n] = [{n}, {n}] matrix, got "
                             f"{K.shape}")
    elif kernel in _VENDI_KERNELS:
        if kernel == "rbf":
            h = _bandwidth(bandwidth, x, x[:0])
            K = np.exp(-0.5 * _sqdist(x, x) / (h * h))
        else:
            nrm = np.linalg.norm(x, axis=1, keepdims=True)
            if (nrm == 0).any():
                raise ValueError(f"x must have no all-zero rows for kernel={kernel!r}")
            u = x / nrm
            K = u @ u.T
    else:
        raise ValueError(f"kernel must be one of {_VENDI_KERNELS} or a callable, got "
                         f"{kernel!r}")
    w = np.linalg.eigvalsh(0.5 * (K + K.T) / n)
    w = w[w > 1e-12]
    return float(np.exp(-(w * np.log(w)).sum()))


# --------------------------------------------------------------------------------------
# probing representations and ranking errors (Chapter 8, MRMBench)


def _labels(y: Any, name: str, n: int) -> np.ndarray:
    a = to_numpy(y, name)
    if a.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array, got dtype {a.dtype}")
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
    return a


def auroc(scores: Any, labels: Any) -> float:
    r"""Area under the ROC curve: the probability that a positive outscores a negative.

    .. math:: \mathrm{AUROC} = P(s^+ > s^-) + \tfrac12 P(s^+ = s^-)

    (the Mann-Whitney U statistic over all positive-negative pairs, ties counting half).

    Parameters
    ----------
    scores : array [N], finite numbers
    labels : bool array [N], with at least one True and one False

    Returns
    -------
    float in [0, 1]; 0.5 is chance.
    """
    s = check_finite(number_array(scores, "scores"), "scores")
    if s.ndim != 1 or s.size < 2:
        raise ValueError(f"scores must be 1-D with >= 2 entries, got shape {s.shape}")
    y = _labels(labels, "labels", len(s))
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("labels must contain both True and False")
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = (first + (counts + 1) / 2.0)[inv]  # average ranks, 1-based
    return float((rank[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def linear_probe(H: Any, labels: Any, *, ridge: float = 1e-3) -> np.ndarray:
    r"""Fit a linear probe: ridge least squares of :math:`\pm 1` labels on ``[H, 1]``.

    .. math:: w = (X^\top X + \lambda I)^{-1} X^\top t,\quad X = [H, \mathbf 1],\;
              t_i = 2\,y_i - 1,

    and the probe predicts :math:`y = [X w > 0]` (a least-squares classifier: closed form
    and deterministic, where MRMBench trains logistic probes).

    Parameters
    ----------
    H : array [N, d], finite numbers
        Frozen representations, one row per response.
    labels : bool array [N]
    ridge : float >= 0

    Returns
    -------
    ndarray [d + 1] float64: the weights, then the bias.
    """
    X = _points(H, "H")
    y = _labels(labels, "labels", len(X))
    lam = check_real(ridge, "ridge")
    if lam < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    Xb = np.c_[X, np.ones(len(X))]
    t = np.where(y, 1.0, -1.0)
    return np.linalg.lstsq(Xb.T @ Xb + lam * np.eye(Xb.shape[1]), Xb.T @ t, rcond=None)[0]


def probe_accuracy(H: Any, labels: Any, *, train_fraction: float = 0.5,
                   ridge: float = 1e-3) -> float:
    """Held-out accuracy of a :func:`linear_probe` of ``labels`` on ``H``.

    The first ``train_fraction`` of the rows fit the probe; the rest measure it (shuffle
    the rows first if their order means something).

    Parameters
    ----------
    H : array [N, d], finite numbers (N >= 2)
    labels : bool array [N]
    train_fraction : float in (0, 1)
    ridge : float >= 0

    Returns
    -------
    float in [0, 1]: the fraction of held-out rows the probe classifies correctly.
    """
    X = _points(H, "H", 2)
    y = _labels(labels, "labels", len(X))
    f = check_real(train_fraction, "train_fraction")
    if not 0 < f < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    n = min(max(int(round(f * len(X))), 1), len(X) - 1)
    w = linear_probe(X[:n], y[:n], ridge=ridge)
    pred = np.c_[X[n:], np.ones(len(X) - n)] @ w > 0
    return float(np.mean(pred == y[n:]))


# --------------------------------------------------------------------------------------
# scoring probability forecasts (Chapter 21, FutureX)


def _forecasts(p: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    q = check_finite(to_numpy(float_array(p, "p"), "p"), "p").astype(np.float64)
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"p must be 1-D with >= 1 forecast, got shape {q.shape}")
    if (q < 0).any() or (q > 1).any():
        raise ValueError("p must hold probabilities in [0, 1]")
    return q, _labels(y, "y", len(q))


def _reduce(s: np.ndarray, per_forecast: Any) -> Any:
    if not isinstance(per_forecast, (bool, np.bool_)):
        raise TypeError(f"per_forecast must be a bool, got {type(per_forecast).__name__}")
    return s if per_forecast else float(s.mean())


def brier(p: Any, y: Any, *, per_forecast: bool = False) -> Any:
    r"""Brier score of binary probability forecasts (lower is better).

    .. math:: \mathrm{BS} = \frac1N \sum_{i=1}^N (p_i - y_i)^2

    0 is a perfect forecaster, 0.25 the constant forecast 1/2; a proper score (its expected
    value is minimised by reporting the true probability).

    Parameters
    ----------
    p : float array [N], probabilities in [0, 1] that each event happens
    y : bool array [N], whether it happened (known only at resolution)
    per_forecast : bool, return the N terms instead of their mean

    Returns
    -------
    float, or float64 array [N] with ``per_forecast``.
    """
    q, t = _forecasts(p, y)
    return _reduce((q - t) ** 2, per_forecast)


def log_score(p: Any, y: Any, *, eps: float = 1e-6, per_forecast: bool = False) -> Any:
    r"""Logarithmic score of binary probability forecasts (higher is better).

    .. math:: \mathrm{LS} = \frac1N \sum_{i=1}^N \big[y_i \log \tilde p_i
              + (1 - y_i) \log(1 - \tilde p_i)\big],\qquad
              \tilde p_i = \min(\max(p_i, \epsilon), 1 - \epsilon)

    0 is a perfect forecaster, :math:`\log \tfrac12 \approx -0.693` the constant 1/2. The
    clip keeps a confident miss finite (:math:`\log \epsilon`); a proper score.

    Parameters
    ----------
    p : float array [N], probabilities in [0, 1]
    y : bool array [N]
    eps : float in (0, 0.5), the clip
    per_forecast : bool, return the N terms instead of their mean

    Returns
    -------
    float (<= 0), or float64 array [N] with ``per_forecast``.
    """
    q, t = _forecasts(p, y)
    e = check_real(eps, "eps")
    if not 0 < e < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps!r}")
    q = np.clip(q, e, 1 - e)
    return _reduce(np.where(t, np.log(q), np.log1p(-q)), per_forecast)


def ece(p: Any, y: Any, *, n_bins: int = 10) -> float:
    r"""Expected calibration error of binary probability forecasts (lower is better).

    .. math:: \mathrm{ECE} = \sum_{b=1}^{B} \frac{|I_b|}{N}\,
              \Big|\frac{1}{|I_b|}\sum_{i \in I_b} p_i - \frac{1}{|I_b|}\sum_{i \in I_b} y_i\Big|

    with :math:`I_b` the forecasts in the ``b``-th of ``n_bins`` equal-width bins of
    [0, 1] (:math:`p = 1` falls in the last bin; empty bins add 0). 0 for a calibrated
    forecaster; not a proper score (a constant forecast of the base rate has ECE 0).

    Parameters
    ----------
    p : float array [N], probabilities in [0, 1]
    y : bool array [N]
    n_bins : int >= 1

    Returns
    -------
    float in [0, 1]
    """
    q, t = _forecasts(p, y)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    b = np.minimum((q * n_bins).astype(np.int64), n_bins - 1)
    sp = np.bincount(b, weights=q, minlength=n_bins)
    sy = np.bincount(b, weights=t.astype(np.float64), minlength=n_bins)
    return float(np.abs(sp - sy).sum() / len(q))


# ---------------------------------------------------------------------------------------
# judging trajectories and evaluators (Chapter 23: progress rewards, world models)


def traj_discrimination(pred: Any, valid: Any, success: Any, *, score: str = "final"
                        ) -> float:
    r"""How well a progress estimate separates successful from failed trajectories (AUROC).

    Each trajectory is scored by its predicted progress at its last valid frame
    (``score="final"``), its maximum (``"max"``) or its mean over valid frames (``"mean"``),
    and :func:`auroc` of those scores against ``success`` is returned.

    Parameters
    ----------
    pred : float [N, T+1]
        Predicted progress per frame.
    valid : bool [N, T+1]
        Frames inside each episode (at least the first).
    success : bool [N]
        Both classes present.
    score : {"final", "max", "mean"}

    Returns
    -------
    float in [0, 1]: 1 when every success outscores every failure, 0.5 chance.
    """
    p = check_finite(number_array(pred, "pred"), "pred").astype(np.float64)
    if p.ndim != 2:
        raise ValueError(f"pred must be 2-D [N, T+1], got shape {p.shape}")
    v = to_numpy(valid, "valid")
    if v.dtype != np.bool_ or v.shape != p.shape:
        raise ValueError(f"valid must be a boolean array of shape {p.shape}")
    if not v[:, 0].all():
        raise ValueError("valid must be True at the first frame of every trajectory")
    if score == "final":
        s = p[np.arange(len(p)), v.sum(1) - 1]
    elif score == "max":
        s = np.where(v, p, -np.inf).max(1)
    elif score == "mean":
        s = (p * v).sum(1) / v.sum(1)
    else:
        raise ValueError(f"score must be 'final', 'max' or 'mean', got {score!r}")
    return auroc(s, _labels(success, "success", len(p)))


def policy_eval_rank_corr(est: Any, true: Any) -> float:
    """Spearman rank correlation between estimated and true policy values.

    How well an evaluator (a learned world model rolled out with each policy, Chapter 23)
    orders a set of policies; :func:`spearman` with the arguments named for this use.

    Parameters
    ----------
    est, true : float [P], P >= 2
        Estimated and true value (return, success rate) of each policy.

    Returns
    -------
    float in [-1, 1]
    """
    e = check_finite(number_array(est, "est"), "est")
    t = check_finite(number_array(true, "true"), "true")
    if e.ndim != 1 or e.shape != t.shape or len(e) < 2:
        raise ValueError(f"est and true must be 1-D of the same length >= 2, got {e.shape} "
                         f"and {t.shape}")
    return spearman(e, t)
