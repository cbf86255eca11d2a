"""The RLB dynamic program: budget as state, the value V(t, b) and the closed-form bid.

Notation (Cai et al. 2017, Sec. 3-4): ``t`` auctions left (the current one included),
``b`` integer budget left, market price ``delta ~ m`` (p.m.f. on 0..max_price),
``theta`` the pCTR. Bidding ``a`` wins when ``delta <= a`` and pays ``delta`` (second
price). The per-win reward is ``r(delta) = w + v1 * theta - v0 * delta``: ``"click"``
(v1 = 1: expected clicks), ``"profit"`` (v1 = click value, v0 = 1 by default) or
``"imp"`` (w = 1: impressions). With ``theta_avg`` in place of theta(x) (paper Eq. 8):

    V(t, b) = V(t-1, b) + sum_{delta=0..min(b, max_price)} m(delta) max(0, g_t(b, delta)),
    g_t(b, delta) = r(delta) + V(t-1, b - delta) - V(t-1, b),          V(0, .) = 0.

The optimal bid for a request with pCTR theta at state (t, b) is (paper Eq. 9-11)

    a(t, b, theta) = max{delta <= min(b, max_price) :
                         r(delta; theta) >= sum_{k=1..delta} D(t-1, b-k)},

with D(t, b) = V(t, b+1) - V(t, b), the marginal value of one more unit of budget: the
"shadow price" a win must beat. :func:`value_dp` runs the DP (C++ kernel, csrc/rtb.h)
and returns an :class:`RLBValue` that stores D as float32 and bids vectorised.
:func:`value_dp_reference` is the plain numpy version the tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab._backend import check_int, check_real, compiled, number_array, to_numpy

__all__ = [
    "RLBValue",
    "check_m_pdf",
    "reward_weights",
    "rlb_bid_reference",
    "value_dp",
    "value_dp_reference",
]

REWARDS = ("click", "profit", "imp")


def check_m_pdf(m_pdf: Any, name: str = "m_pdf") -> np.ndarray:
    """A float64 copy of a market-price p.m.f.: 1-D, finite, >= 0, summing to 1 (1e-6)."""
    m = to_numpy(m_pdf, name)
    if m.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {m.dtype}")
    m = np.array(m, dtype=np.float64)
    if m.ndim != 1 or m.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (index = price), got shape "
                         f"{m.shape}")
    if not np.isfinite(m).all():
        raise ValueError(f"{name} must be finite (no NaN/inf)")
    if (m < 0).any():
        raise ValueError(f"{name} has negative mass at price {int(np.argmin(m))}")
    if abs(m.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1, sums to {m.sum():.6g}")
    return m


def _nonneg_int(v: Any, name: str, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        else:
            raise TypeError(f"{name} must be an integer, got {v!r}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return int(v)


def reward_weights(
    reward: str, v0: float | None = None, click_value: float = 1.0
) -> tuple[float, float, float]:
    """(v1, w, v0) of the per-win reward w + v1*theta - v0*delta for a reward name."""
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
    if check_real(click_value, "click_value") < 0:
        raise ValueError(f"click_value must be a finite number >= 0, got {click_value}")
    if v0 is not None and check_real(v0, "v0") < 0:
        raise ValueError(f"v0 must be a finite number >= 0, got {v0}")
    if reward == "click":
        if v0:
            raise ValueError("v0 (cost weight) must be 0 for reward='click'; use 'profit'")
        return float(click_value), 0.0, 0.0
    if reward == "profit":
        return float(click_value), 0.0, 1.0 if v0 is None else float(v0)
    return 0.0, 1.0, 0.0 if v0 is None else float(v0)


def value_dp_reference(
    T: int, B: int, m_pdf: Any, theta_avg: float, *, reward: str = "click",
    v0: float | None = None, click_value: float = 1.0, early_stop: bool = True,
    sat_tol: float = 1e-10,
) -> np.ndarray:
    """The RLB DP in plain numpy (the form the book shows): V float64 [T+1, B+1].

    Vectorised over b, a Python loop over t and delta; sums max(0, g) over every
    delta <= min(b, max_price) (no bid bound). ``early_stop`` applies the same
    saturation rule as the kernel: in row t, every b past the first one with
    V(t, b) >= t * r_max - sat_tol is set to t * r_max (only when v0 = 0).
    """
    v1, w, c = reward_weights(reward, v0, click_value)
    m = check_m_pdf(m_pdf)
    T, B = _nonneg_int(T, "T"), _nonneg_int(B, "B")
    if not 0 <= check_real(theta_avg, "theta_avg") <= 1:
        raise ValueError(f"theta_avg must be a number in [0, 1], got {theta_avg}")
    r0 = w + v1 * float(theta_avg)
    V = np.zeros((T + 1, B + 1))
    b = np.arange(B + 1)
    for t in range(1, T + 1):
        prev = V[t - 1]
        acc = np.zeros(B + 1)
        for d in range(min(B, len(m) - 1) + 1):
            ok = b >= d
            g = r0 - c * d + prev[b[ok] - d] - prev[ok]
            acc[ok] += m[d] * np.maximum(g, 0.0)
        V[t] = prev + acc
        if early_stop and c == 0.0:
            sat = np.flatnonzero(V[t] >= t * r0 - sat_tol)
            if sat.size:
                V[t, sat[0] + 1:] = t * r0
    return V


def rlb_bid_reference(
    V: np.ndarray, m_pdf: Any, t: int, b: int, theta: float, *, reward: str = "click",
    v0: float | None = None, click_value: float = 1.0, max_price: int | None = None,
    tol: float = 1e-12,
) -> int:
    """Brute-force optimal bid: argmax over a of the one-step Bellman backup.

    Q(a) = sum_{delta<=a} m(delta) (r(delta) + V(t-1, b-delta))
           + sum_{delta>a} m(delta) V(t-1, b),        a = 0..min(b, max_price),

    from a full V table [T+1, B+1] (e.g. :func:`value_dp_reference`). Among bids within
    ``tol`` of the best Q the largest is returned (the closed form's tie rule).
    """
    v1, w, c = reward_weights(reward, v0, click_value)
    m = check_m_pdf(m_pdf)
    max_price = len(m) - 1 if max_price is None else int(max_price)
    V = number_array(V, "V")
    if V.ndim != 2:
        raise ValueError(f"V must be [T + 1, B + 1] (value_dp_reference), got {V.shape}")
    if not 1 <= check_int(t, "t", 1) < V.shape[0]:
        raise ValueError(f"t must be in [1, {V.shape[0] - 1}], got {t}")
    if not 0 <= check_int(b, "b", 0) < V.shape[1]:
        raise ValueError(f"b must be in [0, {V.shape[1] - 1}], got {b}")
    if not 0 <= check_real(theta, "theta") <= 1:
        raise ValueError(f"theta must be a number in [0, 1], got {theta}")
    prev = V[t - 1]
    q = np.empty(min(b, max_price) + 1)
    for a in range(len(q)):
        d = np.arange(len(m))
        win = d <= a
        r = w + v1 * theta - c * d[win]
        q[a] = (m[win] * (r + prev[b - d[win]])).sum() + m[~win].sum() * prev[b]
    return int(np.flatnonzero(q >= q.max() - tol)[-1])


@dataclass
class RLBValue:
    """The solved RLB DP: D(t, b) as float32 plus V(t, 0) and V(t, B).

    Attributes
    ----------
    D : ndarray, float32 [T+1, B]
        D(t, b) = V(t, b+1) - V(t, b); row 0 is zero. (T+1)*B*4 bytes: 0.4 GB at
        T = 1000, B = 1e5.
    V0, VB : ndarray, float64 [T+1]
        V(t, 0) and V(t, B).
    saturated_from : ndarray, int64 [T+1]
        First b with V(t, b) = t * r_max in each row (B + 1 if none).
    theta_avg, m_pdf, reward, v1, w, v0, max_price
        The inputs.
    """

    D: np.ndarray
    V0: np.ndarray
    VB: np.ndarray
    saturated_from: np.ndarray
    theta_avg: float
    m_pdf: np.ndarray
    reward: str
    v1: float
    w: float
    v0: float
    max_price: int
    V_full: np.ndarray | None = None

    @property
    def T(self) -> int:
        return self.D.shape[0] - 1

    @property
    def B(self) -> int:
        return self.D.shape[1]

    def V(self, t: int) -> np.ndarray:
        """Row V(t, 0..B), float64 [B+1], rebuilt as V(t, 0) + cumsum of D(t, .)."""
        t = _nonneg_int(t, "t")
        if t > self.T:
            raise ValueError(f"t must be <= T = {self.T}, got {t}")
        if self.V_full is not None:
            return self.V_full[t].copy()
        return self.V0[t] + np.concatenate([[0.0], np.cumsum(self.D[t], dtype=np.float64)])

    def bid(self, t_left: Any, budget_left: Any, pctr: Any) -> np.ndarray:
        """Optimal bids a(t, b, theta), vectorised; int64 of the broadcast shape.

        Parameters
        ----------
        t_left : int array, values in 1..T (auctions left, this one included)
        budget_left : int array, values in 0..B
        pctr : float array, values in [0, 1]
        """
        t, b, th = _bid_inputs(t_left, budget_left, pctr, self.T, self.B)
        out = np.empty(t.shape, dtype=np.int64)
        C = compiled()
        if C is not None:
            C.rtb_bid(self.D, self.T, self.B, t.ravel(), b.ravel(), th.ravel(), self.v1,
                      self.w, self.v0, self.max_price, out.reshape(-1))
            return out
        return self.bid_numpy(t, b, th)

    __call__ = bid

    def bid_numpy(self, t_left: Any, budget_left: Any, pctr: Any) -> np.ndarray:
        """:meth:`bid` in numpy: cumulative sums of D(t-1, b-1), D(t-1, b-2), ..."""
        t, b, th = _bid_inputs(t_left, budget_left, pctr, self.T, self.B)
        shape = t.shape
        t, b, th = t.ravel(), b.ravel(), th.ravel()
        K = self.max_price
        if K == 0 or t.size == 0:
            return np.zeros(shape, dtype=np.int64)
        k = np.arange(1, K + 1)
        idx = b[:, None] - k[None, :]
        valid = k[None, :] <= b[:, None]
        if self.B:
            Dk = np.where(valid, self.D[(t - 1)[:, None], np.clip(idx, 0, None)], 0.0)
        else:
            Dk = np.zeros(valid.shape)
        Dk = Dk.astype(np.float64)
        acc = np.cumsum(Dk, axis=1)
        g = (self.w + self.v1 * th)[:, None] - self.v0 * k[None, :] - acc
        ok = (g >= 0) & valid
        # first failing delta: the bid is the count of leading successes
        first_bad = np.where((~ok).any(1), np.argmax(~ok, axis=1), K)
        return first_bad.astype(np.int64).reshape(shape)


def _bid_inputs(t_left: Any, budget_left: Any, pctr: Any, T: int, B: int):  # noqa: ANN202
    t = np.asarray(to_numpy(t_left, "t_left"))
    b = np.asarray(to_numpy(budget_left, "budget_left"))
    th = np.asarray(to_numpy(pctr, "pctr"), dtype=np.float64)
    for name, a in (("t_left", t), ("budget_left", b)):
        if a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(a == np.round(a))):
            raise TypeError(f"{name} must hold integers, got dtype {a.dtype}")
    t, b, th = np.broadcast_arrays(t.astype(np.int64), b.astype(np.int64), th)
    if t.size and (t.min() < 1 or t.max() > T):
        raise ValueError(f"t_left must lie in 1..T = {T}, got range {t.min()}..{t.max()}")
    if b.size and (b.min() < 0 or b.max() > B):
        raise ValueError(f"budget_left must lie in 0..B = {B}, got range {b.min()}..{b.max()}")
    if th.size and (not np.isfinite(th).all() or th.min() < 0 or th.max() > 1):
        raise ValueError("pctr must lie in [0, 1] (and not be NaN)")
    shape = t.shape  # np.ascontiguousarray would turn 0-d into 1-d
    return tuple(np.ascontiguousarray(x).reshape(shape) for x in (t, b, th))


def value_dp(
    T: int, B: int, m_pdf: Any, theta_avg: float, *, reward: str = "click",
    v0: float | None = None, click_value: float = 1.0, early_stop: bool = True,
    sat_tol: float = 1e-10, keep_v: bool = False,
) -> RLBValue:
    """Solve the RLB dynamic program for every t <= T and b <= B.

    One solve answers every episode length up to T and every budget up to B: V(t, b)
    does not depend on the initial budget.

    **V(t, 0).** The recursion runs at b = 0 too: a bid of 0 still wins the auctions whose
    price is 0 (m(0) > 0 after Laplace smoothing), so V(t, 0) = t * m(0) * r(0) here
    (``click``: t * m(0) * theta_avg). The authors' code (han-cai/rlb-dp,
    ``calc_optimal_value_function_with_approximation_i``) updates b >= 1 only and keeps
    V(t, 0) = 0. The choice changes D(t, 0) = V(t, 1) - V(t, 0), hence the bids of states
    whose budget is within one auction of running out. The effect is tiny: on the
    campaign-2997 test log that repository ships (T = 1000, c0 = 1/32, the last partial
    episode played), SS-MDP, Mcpc, Lin (the authors' b0) and RLB give the clicks,
    impressions and cost of the authors' README exactly, except SS-MDP's cost: 306,639
    here against 306,637; an independent run of the authors' code at c0 = 1/16 ... 1/2
    found the same (issue 14).

    Parameters
    ----------
    T : int >= 0
        Longest episode (auctions).
    B : int >= 0
        Largest budget (price units).
    m_pdf : array [max_price + 1]
        Market-price p.m.f. (>= 0, sums to 1), e.g. :func:`creditlab.rtb.market_price_pdf`.
    theta_avg : float in [0, 1]
        Average CTR (paper Eq. 8; the train CTR).
    reward : {"click", "profit", "imp"}
        Per-win reward ``w + v1*theta - v0*delta`` (see the module docstring).
    v0 : float, optional
        Cost weight (``"profit"``: default 1).
    click_value : float
        v1 (value of a click) for ``"click"`` and ``"profit"``.
    early_stop : bool
        Stop a row at saturation (V = t * r_max within ``sat_tol``).
    keep_v : bool
        Also keep the full float64 V table (small problems, tests).

    Returns
    -------
    RLBValue
    """
    v1, w, c = reward_weights(reward, v0, click_value)
    m = check_m_pdf(m_pdf)
    T, B = _nonneg_int(T, "T"), _nonneg_int(B, "B")
    if not 0 <= check_real(theta_avg, "theta_avg") <= 1:
        raise ValueError(f"theta_avg must be a number in [0, 1], got {theta_avg}")
    if (T + 1) * B * 4 > 2 * 1024**3:
        raise ValueError(f"a T={T}, B={B} table needs {(T + 1) * B * 4 / 1e9:.1f} GB "
                         "(limit 2 GB); shrink T or B, or use RLB-NN with MapD/MapA")
    C = compiled()
    if C is None:
        V = value_dp_reference(T, B, m, theta_avg, reward=reward, v0=v0,
                               click_value=click_value, early_stop=early_stop, sat_tol=sat_tol)
        r0 = w + v1 * theta_avg
        top = np.arange(T + 1) * r0
        sat = np.array([np.argmax(row >= tt - sat_tol) if (row >= tt - sat_tol).any()
                        and early_stop and c == 0 else B + 1 for row, tt in zip(V, top)])
        sat[0] = B + 1
        return RLBValue(np.diff(V, axis=1).astype(np.float32), V[:, 0].copy(),
                        V[:, B].copy(), sat.astype(np.int64), float(theta_avg), m, reward,
                        v1, w, c, len(m) - 1, V if keep_v else None)
    D = np.empty((T + 1, B), dtype=np.float32)
    V0, VB = np.empty(T + 1), np.empty(T + 1)
    sat = np.empty(T + 1, dtype=np.int64)
    Vf = np.empty((T + 1, B + 1)) if keep_v else None
    C.rtb_value_dp(m, float(theta_avg), v1, w, c, T, B, D.reshape(-1), V0, VB,
                   None if Vf is None else Vf.reshape(-1), sat, bool(early_stop), float(sat_tol))
    return RLBValue(D, V0, VB, sat, float(theta_avg), m, reward, v1, w, c, len(m) - 1, Vf)
