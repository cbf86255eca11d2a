"""Bidding policies with one vectorised protocol, and the paper's evaluation protocol.

A policy is any callable ``policy(t_left, budget_left, pctr) -> bids`` on equal-length
arrays (int64, int64, float64; one entry per episode running in parallel), returning
bids (any real dtype; the evaluator floors them and caps them at min(budget, max_price)).
``t_left`` counts the current auction (1 at the last one).

Baselines of Cai et al. (2017), Sec. 5.3:

- :class:`Constant`, :class:`RandomBid`: fixed and uniform-random bids.
- :class:`Mcpc`: a = theta * CPC_train (bid the expected value of the impression).
- :class:`Lin`: a = theta * b0 / theta_avg, b0 from :func:`tune_lin` on the train split.
- :class:`SSMDP`: the RLB value function but bidding with theta_avg for every request
  (an MDP that ignores the request features).
- :class:`RLB`: the closed-form optimal bid a(t, b, theta(x)) of :func:`value_dp`.

:func:`evaluate` runs a policy on consecutive episodes of a log (paper Sec. 5.2): each
episode of ``episode_length`` auctions starts with budget B = int(CPM_train * c0 * T).
It is vectorised numpy: a Python loop over the T auction slots, every episode advancing
in parallel (episodes are independent), so a 100-episode evaluation costs T numpy steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from creditlab._backend import check_int, make_rng, number_array, to_numpy
from creditlab.rtb.dp import RLBValue
from creditlab.rtb.synth import AuctionLog

__all__ = [
    "RLB",
    "SSMDP",
    "Constant",
    "EvalResult",
    "Lin",
    "Mcpc",
    "Policy",
    "RandomBid",
    "evaluate",
    "episode_budget",
    "simulate",
    "tune_lin",
]

Policy = Callable[[np.ndarray, np.ndarray, np.ndarray], Any]


def _check_value(value: Any) -> None:
    if not isinstance(value, RLBValue):
        raise TypeError(f"value must be an RLBValue (from creditlab.rtb.value_dp), got "
                        f"{type(value).__name__}")


def _finite_nonneg(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return float(v)


@dataclass
class Constant:
    """Bid the same amount on every request."""

    bid: float

    def __post_init__(self) -> None:
        self.bid = _finite_nonneg(self.bid, "bid")

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        return np.full(np.shape(pctr), self.bid)


@dataclass
class RandomBid:
    """Bid uniformly at random in [low, high] (own seeded generator)."""

    low: float = 0.0
    high: float = 300.0
    seed: int = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.low, self.high = _finite_nonneg(self.low, "low"), _finite_nonneg(self.high, "high")
        if self.high < self.low:
            raise ValueError(f"high must be >= low, got low={self.low}, high={self.high}")
        self.rng = make_rng(self.seed)

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        return self.rng.uniform(self.low, self.high + 1.0, size=np.shape(pctr))


@dataclass
class Mcpc:
    """a = theta * cpc: bid the impression's expected value at the train cost per click."""

    cpc: float

    def __post_init__(self) -> None:
        self.cpc = _finite_nonneg(self.cpc, "cpc")

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        return np.asarray(pctr) * self.cpc


@dataclass
class Lin:
    """Linear bidding, a = theta * b0 / theta_avg (Perlich et al. 2012).

    ``b0`` may be an array with one entry per parallel episode (used by :func:`tune_lin`).
    """

    b0: Any
    theta_avg: float

    def __post_init__(self) -> None:
        b0 = number_array(self.b0, "b0")
        if not np.isfinite(b0).all() or (b0 < 0).any():
            raise ValueError("b0 must be finite and >= 0")
        self.b0 = b0 if b0.ndim else float(b0)
        if _finite_nonneg(self.theta_avg, "theta_avg") == 0:
            raise ValueError("theta_avg must be > 0")

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        return np.asarray(pctr) * (self.b0 / self.theta_avg)


@dataclass
class RLB:
    """The RLB optimal bid a(t, b, theta(x)) from a solved :class:`RLBValue`."""

    value: RLBValue

    def __post_init__(self) -> None:
        _check_value(self.value)

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        return self.value.bid(t_left, budget_left, pctr)


@dataclass
class SSMDP:
    """Same value function as RLB, but every request is bid as if theta = theta_avg."""

    value: RLBValue

    def __post_init__(self) -> None:
        _check_value(self.value)

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        return self.value.bid(t_left, budget_left, np.full(np.shape(pctr), self.value.theta_avg))


@dataclass
class EvalResult:
    """Per-episode counts and totals of one evaluation.

    Per-episode arrays (length E): ``clicks``, ``impressions``, ``cost``, ``budget``,
    ``expected_clicks`` (sum of pCTR over won auctions). ``episode_length``.
    Properties give the paper's metrics over all episodes.
    """

    clicks: np.ndarray
    impressions: np.ndarray
    cost: np.ndarray
    budget: np.ndarray
    expected_clicks: np.ndarray
    episode_length: int

    @property
    def auctions(self) -> int:
        return self.episode_length * len(self.clicks)

    @property
    def win_rate(self) -> float:
        return float(self.impressions.sum() / max(self.auctions, 1))

    @property
    def cpm(self) -> float:
        """Cost per impression (the paper's CPM, in price units, i.e. fen CPM)."""
        return float(self.cost.sum() / max(self.impressions.sum(), 1))

    @property
    def ecpc(self) -> float:
        """Cost per click in CNY, (cost / 1000) / clicks as in the paper (inf if none)."""
        c = self.clicks.sum()
        return float(self.cost.sum() / 1000.0 / c) if c else float("inf")

    @property
    def ctr(self) -> float:
        return float(self.clicks.sum() / max(self.impressions.sum(), 1))

    @property
    def spent_frac(self) -> float:
        """Total cost / total budget."""
        return float(self.cost.sum() / max(self.budget.sum(), 1))

    def totals(self) -> dict[str, float]:
        """clicks, impressions, cost, win_rate, cpm, ecpc, ctr, spent_frac (one dict)."""
        return {
            "clicks": int(self.clicks.sum()),
            "impressions": int(self.impressions.sum()),
            "cost": int(self.cost.sum()),
            "win_rate": self.win_rate,
            "cpm": self.cpm,
            "ecpc": self.ecpc,
            "ctr": self.ctr,
            "spent_frac": self.spent_frac,
            "expected_clicks": float(self.expected_clicks.sum()),
        }


def episode_budget(cpm_train: float, budget_ratio: float, episode_length: int) -> int:
    """B = int(CPM_train * c0 * T), the paper's budget for one episode."""
    cpm = _finite_nonneg(cpm_train, "cpm_train")
    c0 = _finite_nonneg(budget_ratio, "budget_ratio")
    T = check_int(episode_length, "episode_length", 1)
    return int(cpm * c0 * T)


def _check_protocol(log: AuctionLog, episode_length: int, budget_ratio: float,
                    cpm_train: float | None) -> tuple[int, float, float]:
    if not isinstance(log, AuctionLog):
        raise TypeError(f"log must be an AuctionLog, got {type(log).__name__}")
    if isinstance(episode_length, bool) or int(episode_length) != episode_length:
        raise TypeError(f"episode_length must be an integer, got {episode_length!r}")
    if episode_length < 1:
        raise ValueError(f"episode_length must be >= 1, got {episode_length}")
    c0 = _finite_nonneg(budget_ratio, "budget_ratio")
    cpm = float(log.info["cpm"]) if cpm_train is None else _finite_nonneg(cpm_train, "cpm_train")
    if len(log) < episode_length:
        raise ValueError(f"the log has {len(log)} auctions, fewer than one episode "
                         f"({episode_length})")
    return int(episode_length), c0, cpm


def _episodes(log: AuctionLog, T: int, n_episodes: int | None):  # noqa: ANN202
    E = len(log) // T if n_episodes is None else min(int(n_episodes), len(log) // T)
    if E < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    n = E * T
    return (log.price[:n].reshape(E, T), log.pctr[:n].reshape(E, T),
            log.click[:n].reshape(E, T))


def simulate(policy: Policy, price: np.ndarray, pctr: np.ndarray, click: np.ndarray,
             budget: np.ndarray, max_price: int = 300) -> EvalResult:
    """Run ``policy`` on E episodes in parallel: price/pctr/click [E, T], budget [E].

    Slot i of every episode is bid with t_left = T - i; the bid is floored and capped
    at min(budget_left, max_price); a bid >= price wins and pays the price.
    """
    price, pctr, click, budget = (to_numpy(x, n) for x, n in (
        (price, "price"), (pctr, "pctr"), (click, "click"), (budget, "budget")))
    E, T = price.shape
    b = budget.astype(np.int64).copy()
    clicks = np.zeros(E, np.int64)
    imps = np.zeros(E, np.int64)
    exp_clicks = np.zeros(E)
    for i in range(T):
        t_left = np.full(E, T - i, dtype=np.int64)
        th = pctr[:, i]
        raw = np.asarray(policy(t_left, b.copy(), th.copy()), dtype=np.float64)
        if raw.shape != (E,):
            raise ValueError(f"policy returned shape {raw.shape}, expected ({E},)")
        if np.isnan(raw).any():
            raise ValueError("policy returned NaN bids")
        a = np.minimum(np.floor(np.maximum(raw, 0.0)), np.minimum(b, max_price)).astype(np.int64)
        win = a >= price[:, i]
        b -= np.where(win, price[:, i], 0)
        imps += win
        clicks += win & (click[:, i] == 1)
        exp_clicks += np.where(win, th, 0.0)
    return EvalResult(clicks, imps, budget - b, budget.astype(np.int64), exp_clicks, T)


def evaluate(
    policy: Policy, log: AuctionLog, episode_length: int = 1000, budget_ratio: float = 1 / 32,
    *, cpm_train: float | None = None, n_episodes: int | None = None, max_price: int = 300,
) -> EvalResult:
    """The paper's protocol: consecutive episodes of a test log, each with budget B.

    Parameters
    ----------
    policy : callable
        ``policy(t_left, budget_left, pctr) -> bids`` (see the module docstring).
    log : AuctionLog
        Usually the test split. The last partial episode is dropped.
    episode_length : int >= 1
        T, auctions per episode.
    budget_ratio : float >= 0
        c0; each episode gets B = int(cpm_train * c0 * T).
    cpm_train : float, optional
        Mean market price of the train split (default: this log's, which leaks the test
        prices into the budget; pass the train split's for the paper's protocol).
    n_episodes : int, optional
        Use only the first n episodes.
    max_price : int
        Bid cap.

    Returns
    -------
    EvalResult
    """
    T, c0, cpm = _check_protocol(log, episode_length, budget_ratio, cpm_train)
    price, pctr, click = _episodes(log, T, n_episodes)
    max_price = check_int(max_price, "max_price", 1)
    B = episode_budget(cpm, c0, T)
    return simulate(policy, price, pctr, click, np.full(len(price), B, np.int64), max_price)


def tune_lin(
    train_log: AuctionLog, episode_length: int = 1000, budget_ratio: float = 1 / 32, *,
    grid: Any = None, cpm_train: float | None = None, n_episodes: int | None = None,
    max_price: int = 300,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Grid-search Lin's base bid b0 on the train split (paper Sec. 5.3).

    Every candidate is run on the same consecutive train episodes with the paper's
    budget; all candidates x episodes advance in one vectorised simulation. The best b0
    maximises total clicks (ties: the smallest b0).

    Returns
    -------
    (b0, grid, clicks) : float, float64 [K], int64 [K]
    """
    T, c0, cpm = _check_protocol(train_log, episode_length, budget_ratio, cpm_train)
    grid = np.arange(2.0, 302.0, 3.0) if grid is None else np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all() or (grid < 0).any():
        raise ValueError("grid must be a non-empty 1-D array of finite b0 >= 0")
    price, pctr, click = _episodes(train_log, T, n_episodes)
    E, K = len(price), len(grid)
    rep = lambda x: np.repeat(x, K, axis=0)  # noqa: E731  lanes: episode-major
    lin = Lin(np.tile(grid, E), float(train_log.info["ctr"]))
    B = episode_budget(cpm, c0, T)
    res = simulate(lin, rep(price), rep(pctr), rep(click), np.full(E * K, B, np.int64),
                   max_price)
    clicks = res.clicks.reshape(E, K).sum(0)
    return float(grid[int(np.argmax(clicks))]), grid, clicks
