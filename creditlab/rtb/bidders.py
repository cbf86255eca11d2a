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
``last_episode="play"`` also plays the trailing partial episode as the authors' code
(han-cai/rlb-dp ``run``) does: full budget B, t_left counting down from T, ending with the
log. :func:`tune_lin` grid-searches Lin's b0 on a train log; ``selection="authors"``
repeats the authors' ``parameter_tune`` (grid 6, 12, ..., ties to the larger b0, stop after
5 steps without reaching the best), and ``theta_avg`` / ``cpm_train`` let b0 be tuned on
one log with another's CTR and CPM (e.g. the counts of the authors' ``info.json``,
:func:`creditlab.rtb.load_info`).
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
    ``n_auctions``: auctions played (None: ``episode_length * E``; set when the last
    episode is a partial one). Properties give the paper's metrics over all episodes.
    """

    clicks: np.ndarray
    impressions: np.ndarray
    cost: np.ndarray
    budget: np.ndarray
    expected_clicks: np.ndarray
    episode_length: int
    n_auctions: int | None = None

    @property
    def auctions(self) -> int:
        if self.n_auctions is not None:
            return int(self.n_auctions)
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
                    cpm_train: float | None, partial_ok: bool = False
                    ) -> tuple[int, float, float]:
    if not isinstance(log, AuctionLog):
        raise TypeError(f"log must be an AuctionLog, got {type(log).__name__}")
    if isinstance(episode_length, bool) or int(episode_length) != episode_length:
        raise TypeError(f"episode_length must be an integer, got {episode_length!r}")
    if episode_length < 1:
        raise ValueError(f"episode_length must be >= 1, got {episode_length}")
    c0 = _finite_nonneg(budget_ratio, "budget_ratio")
    cpm = float(log.info["cpm"]) if cpm_train is None else _finite_nonneg(cpm_train, "cpm_train")
    if len(log) < (1 if partial_ok else episode_length):
        raise ValueError(f"the log has {len(log)} auctions, fewer than one episode "
                         f"({episode_length})")
    return int(episode_length), c0, cpm


#: price of the padding auctions after a partial last episode: never won (bids <= max_price)
_NEVER_WON = np.iinfo(np.int64).max // 4


def _episodes(log: AuctionLog, T: int, n_episodes: int | None,
              play_last: bool = False):  # noqa: ANN202
    """price/pctr/click [E, T] and the number of real auctions in them.

    With ``play_last`` a trailing partial episode becomes the last row, padded with
    auctions nobody wins (price ``_NEVER_WON``, pCTR 0, no click).
    """
    full = len(log) // T
    rest = len(log) - full * T
    avail = full + (1 if play_last and rest else 0)
    E = avail if n_episodes is None else min(int(n_episodes), avail)
    if E < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    n = min(E * T, len(log))
    pad = E * T - n
    price, pctr, click = log.price[:n], log.pctr[:n], log.click[:n]
    if pad:
        price = np.concatenate([price, np.full(pad, _NEVER_WON, np.int64)])
        pctr = np.concatenate([pctr, np.zeros(pad)])
        click = np.concatenate([click, np.zeros(pad, click.dtype)])
    return price.reshape(E, T), pctr.reshape(E, T), click.reshape(E, T), n


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
    last_episode: str = "drop",
) -> EvalResult:
    """The paper's protocol: consecutive episodes of a test log, each with budget B.

    Parameters
    ----------
    policy : callable
        ``policy(t_left, budget_left, pctr) -> bids`` (see the module docstring).
    log : AuctionLog
        Usually the test split.
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
    last_episode : {"drop", "play"}
        What to do with a trailing partial episode (``len(log) % episode_length``
        auctions). ``"drop"``: ignore it. ``"play"``: play it as the authors' code does,
        with the full budget B and t_left = T, T-1, ... until the log ends (its row in the
        per-episode arrays is the last; ``auctions`` counts only real auctions). With
        ``"play"`` the authors' totals for a whole test file are reproduced.

    Returns
    -------
    EvalResult
    """
    if last_episode not in ("drop", "play"):
        raise ValueError(f"last_episode must be 'drop' or 'play', got {last_episode!r}")
    play = last_episode == "play"
    T, c0, cpm = _check_protocol(log, episode_length, budget_ratio, cpm_train, play)
    price, pctr, click, n = _episodes(log, T, n_episodes, play)
    max_price = check_int(max_price, "max_price", 1)
    B = episode_budget(cpm, c0, T)
    res = simulate(policy, price, pctr, click, np.full(len(price), B, np.int64), max_price)
    res.n_auctions = n
    return res


def _authors_pick(clicks: np.ndarray, patience: int = 5) -> tuple[int, bool]:
    """The authors' scan over an increasing grid: (index of b0, stopped early)."""
    best, pick, miss = -np.inf, 0, 0
    for k, c in enumerate(clicks):
        if c >= best:  # ties go to the later (larger) b0
            best, pick, miss = c, k, 0
        else:
            miss += 1
            if miss >= patience:
                return pick, True
    return pick, False


def tune_lin(
    train_log: AuctionLog, episode_length: int = 1000, budget_ratio: float = 1 / 32, *,
    grid: Any = None, cpm_train: float | None = None, theta_avg: float | None = None,
    selection: str = "argmax", n_episodes: int | None = None, max_price: int = 300,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Grid-search Lin's base bid b0 on a train log (paper Sec. 5.3).

    Every candidate is run on the same consecutive full episodes of ``train_log`` (a
    partial last episode is dropped, as in the authors' tuning) with budget
    B = int(cpm_train * c0 * T); all candidates x episodes advance in one vectorised
    simulation. The objective is total realised clicks.

    Parameters
    ----------
    train_log : AuctionLog
        The log b0 is tuned on.
    episode_length, budget_ratio : int, float
        T and c0, as in :func:`evaluate`.
    grid : 1-D array of b0 >= 0, optional
        Candidates, increasing for ``"authors"``. Default: 2, 5, ..., 299 (``"argmax"``);
        6, 12, ..., max_price (``"authors"``, the authors' step 6 up to the largest price).
    cpm_train : float, optional
        Budget unit (default: ``train_log``'s mean price).
    theta_avg : float > 0, optional
        Lin's average CTR in a = theta * b0 / theta_avg (default: ``train_log``'s CTR).
        Pass another log's (or :func:`creditlab.rtb.load_info`'s) CTR to tune b0 on one
        log for a Lin that is evaluated with another's CTR: b0 is only meaningful together
        with the theta_avg it was tuned for.
    selection : {"argmax", "authors"}
        ``"argmax"``: the b0 with the most clicks, ties to the smallest. ``"authors"``:
        the scan of the authors' ``Lin_Bid.parameter_tune``: walk the grid in order, keep
        the last b0 whose clicks reach the best so far (ties to the larger b0), stop after
        5 candidates in a row that fall short; if the best is the grid's last value, keep
        stepping by the grid's last step while clicks do not fall (and stop once b0 is so
        large that every bid is capped at ``max_price``, where the authors' loop would
        not end).
    n_episodes : int, optional
        Tune on the first n episodes only.
    max_price : int
        Bid cap.

    Returns
    -------
    (b0, grid, clicks) : float, float64 [K], int64 [K]
        The chosen b0, every candidate evaluated (with ``"authors"``, the extension steps
        appended), and its total clicks.
    """
    if selection not in ("argmax", "authors"):
        raise ValueError(f"selection must be 'argmax' or 'authors', got {selection!r}")
    T, c0, cpm = _check_protocol(train_log, episode_length, budget_ratio, cpm_train)
    max_price = check_int(max_price, "max_price", 1)
    if theta_avg is None:
        th = float(train_log.info["ctr"])
        if th <= 0:
            raise ValueError("train_log has no clicks (CTR 0): pass theta_avg=")
    else:
        th = _finite_nonneg(theta_avg, "theta_avg")
        if th == 0:
            raise ValueError("theta_avg must be > 0")
    if grid is None:
        grid = (np.arange(6.0, max_price + 1.0, 6.0) if selection == "authors"
                else np.arange(2.0, 302.0, 3.0))
    else:
        grid = number_array(grid, "grid").astype(np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all() or (grid < 0).any():
        raise ValueError("grid must be a non-empty 1-D array of finite b0 >= 0")
    if selection == "authors" and (np.diff(grid) <= 0).any():
        raise ValueError("grid must be increasing for selection='authors'")
    price, pctr, click, _ = _episodes(train_log, T, n_episodes)
    E = len(price)
    B = episode_budget(cpm, c0, T)

    def clicks_of(b0s: np.ndarray) -> np.ndarray:
        K = len(b0s)
        rep = lambda x: np.repeat(x, K, axis=0)  # noqa: E731  lanes: episode-major
        res = simulate(Lin(np.tile(b0s, E), th), rep(price), rep(pctr), rep(click),
                       np.full(E * K, B, np.int64), max_price)
        return res.clicks.reshape(E, K).sum(0)

    clicks = clicks_of(grid)
    if selection == "argmax":
        return float(grid[int(np.argmax(clicks))]), grid, clicks
    pick, stopped = _authors_pick(clicks)
    if not stopped and pick == len(grid) - 1:
        step = grid[-1] - grid[-2] if len(grid) > 1 else max(grid[0], 1.0)
        best, nxt = clicks[pick], grid[-1] + step
        ext_b, ext_c = [], []
        pos = pctr[pctr > 0]
        # past this b0 every bid is capped at max_price: clicks can no longer change
        b0_cap = (max_price + 1) * th / pos.min() if pos.size else 0.0
        while nxt <= b0_cap and len(ext_b) < 10_000:
            c = int(clicks_of(np.array([nxt]))[0])
            ext_b.append(nxt)
            ext_c.append(c)
            if c < best:
                break
            best, pick, nxt = c, len(grid) + len(ext_b) - 1, nxt + step
        grid = np.concatenate([grid, ext_b])
        clicks = np.concatenate([clicks, np.array(ext_c, dtype=clicks.dtype)])
    return float(grid[pick]), grid, clicks
