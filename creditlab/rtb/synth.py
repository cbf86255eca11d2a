"""Seeded synthetic auction logs for real-time bidding (RTB).

The project ships no iPinYou data. Instead each iPinYou campaign studied by Cai et al.
(2017) is summarised by a handful of published statistics (CTR, market-price log-normal
fit and its round-price "atoms", price-pCTR correlation, pCTR AUC, train-to-test drift),
and :func:`generate` draws a log with those statistics. A log is an :class:`AuctionLog`:
arrays ``click`` (int8 0/1), ``price`` (int64 market price, 0..max_price), ``pctr``
(float64 predicted CTR) and ``features`` (int16 category indices, one column per field),
plus an ``info`` dict of counts. :func:`load_log` reads a real ``click price pctr`` text
file into the same structure, so every bidder, the DP and :func:`creditlab.rtb.evaluate`
run unchanged on real data; :func:`load_info` reads the per-campaign ``info.json`` counts of
the RLB authors' repository (han-cai/rlb-dp) into the same ``info`` keys, for when the
training log itself is absent.

Generative model (one profile)
------------------------------
1. Features: 8 categorical fields, levels drawn with Zipf-like probabilities.
2. pCTR: ``log pctr = alpha + sum_f beta_f[x_f]`` with per-level effects scaled to total
   standard deviation ``pctr_sd``; a "hot" set of domains (``hot_frac`` of traffic) gets
   ``log(hot_mult)`` extra. ``alpha`` makes the mean pCTR equal ``ctr`` exactly.
   pCTR is calibrated: true CTR = pctr * exp(tau*u - tau^2/2), u ~ N(0, 1), so
   E[true CTR | x] = pctr and the pCTR AUC depends only on the pCTR distribution.
3. Market price: a Gaussian copula on the pCTR z-score, ``price = F^-1(Phi(rho z +
   sqrt(1 - rho^2) xi))``, with F a log-normal(mu_log, sigma_log) truncated to
   0..max_price and mixed with the profile's atoms.
4. Non-stationarity: per block of ``block_length`` auctions a price multiplier
   ``exp(sigma_price * zeta)`` and a CTR multiplier ``exp(sigma_ctr * zeta')`` (the CTR
   one on both pctr and true CTR). The test split also drifts: price x ``price_drift``,
   CTR x ``ctr_drift`` (per-profile values measured from the real campaigns).
5. Clicks ~ Bernoulli(true CTR), drawn after the multipliers.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_int,
    check_nonnegative,
    check_real,
    int_array,
    make_rng,
    number_array,
    to_numpy,
)

__all__ = [
    "FIELDS",
    "PROFILES",
    "AuctionLog",
    "Profile",
    "auc",
    "generate",
    "load_info",
    "load_log",
    "log_info",
    "market_price_pdf",
    "price_pmf",
]

MAX_PRICE = 300

#: categorical fields and their cardinalities (as in the iPinYou logs)
FIELDS: dict[str, int] = {
    "hour": 24,
    "weekday": 7,
    "region": 35,
    "adexchange": 3,
    "slotsize": 10,
    "domain": 200,
    "usertag": 40,
    "creative": 5,
}
# share of the log-pCTR variance carried by each field
_FIELD_WEIGHT = np.array([0.08, 0.04, 0.12, 0.04, 0.12, 0.35, 0.2, 0.05])


@dataclass(frozen=True)
class Profile:
    """Parameters of one synthetic campaign (see the module docstring for the model).

    Attributes
    ----------
    name : str
    ctr : float
        Mean pCTR (= expected CTR) of the train split.
    mu_log, sigma_log : float
        Log-normal market-price fit (price in fen CPM).
    atoms : tuple of (price, mass)
        Round prices with extra probability mass.
    pctr_sd : float
        Standard deviation of log pCTR before the hot segment.
    hot_frac, hot_mult : float
        Share of traffic in hot domains and their CTR multiplier (high-AUC campaigns).
    rho : float
        Gaussian-copula correlation between the pCTR z-score and the price.
    price_drift, ctr_drift : float
        Test-split multipliers on price and CTR.
    target_auc : float
        The real campaign's pCTR AUC (paper Table 3), which ``pctr_sd``/``hot_*`` match.
    mean_price : float or None
        Mean train market price; ``mu_log`` is shifted so the p.m.f. has this mean
        (None: use ``mu_log`` as is).
    """

    name: str
    ctr: float
    mu_log: float
    sigma_log: float
    atoms: tuple[tuple[int, float], ...]
    pctr_sd: float
    hot_frac: float = 0.0
    hot_mult: float = 1.0
    rho: float = 0.2
    price_drift: float = 1.07
    ctr_drift: float = 0.94
    target_auc: float = 0.5
    mean_price: float | None = None


def _p(name, ctr, mu, sd, atoms, pctr_sd, hot_frac, hot_mult, rho, pd, cd, auc, mp):  # noqa: ANN001, ANN202
    return Profile(name, ctr, mu, sd, atoms, pctr_sd, hot_frac, hot_mult, rho, pd, cd, auc, mp)


#: one profile per iPinYou campaign (statistics quoted in research/rtb.md) plus "toy"
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in [
        _p("1458", 8.0e-4, 3.93, 0.84, ((70, .137), (50, .093), (80, .064)),
           0.8, 0.04, 500.0, 0.15, 1.07, 1.05, 0.977, 68.9),
        _p("2259", 3.4e-4, 4.11, 1.04, ((20, .060), (70, .053), (160, .049)),
           0.70, 0.0, 1.0, 0.2, 1.12, 0.91, 0.679, 93.1),
        _p("2261", 3.0e-4, 3.98, 1.18, ((20, .102), (180, .044), (5, .043)),
           0.49, 0.0, 1.0, 0.2, 0.93, 0.93, 0.622, 89.6),
        _p("2821", 6.4e-4, 4.07, 1.04, ((31, .132), (20, .042), (70, .038)),
           0.51, 0.0, 1.0, 0.2, 1.15, 0.89, 0.630, 89.3),
        _p("2997", 4.44e-3, 3.64, 1.09, ((6, .116), (30, .045), (140, .015)),
           0.37, 0.0, 1.0, 0.2, 0.88, 0.77, 0.604, 63.0),
        _p("3358", 7.8e-4, 4.22, 0.88, ((77, .081), (55, .052), (89, .032)),
           0.8, 0.04, 500.0, 0.2, 1.23, 1.10, 0.976, 92.4),
        _p("3386", 7.3e-4, 4.02, 0.87, ((70, .114), (20, .106), (50, .104)),
           1.13, 0.0, 1.0, 0.35, 1.09, 1.12, 0.780, 76.9),
        _p("3427", 7.4e-4, 4.10, 0.85, ((77, .123), (55, .100), (88, .075)),
           0.8, 0.04, 450.0, 0.2, 1.07, 0.92, 0.974, 81.1),
        _p("3476", 5.2e-4, 4.07, 0.86, ((73, .110), (84, .083), (52, .082)),
           0.8, 0.04, 200.0, 0.2, 1.05, 1.06, 0.958, 79.2),
        _p("toy", 5.0e-3, 3.6, 0.8, ((30, .1),), 0.8, 0.0, 1.0, 0.2, 1.07, 0.94, 0.715, 50.0),
    ]
}


@dataclass
class AuctionLog:
    """A sequence of auctions, in order.

    Attributes
    ----------
    click : ndarray, int8 [N]
        1 if the impression was clicked (known only if won).
    price : ndarray, int64 [N]
        Market price (the highest competing bid), in integer price units.
    pctr : ndarray, float64 [N]
        Predicted click-through rate theta(x) in [0, 1].
    features : ndarray of int16 [N, F] or None
        Category index of each field (synthetic logs; see :data:`FIELDS`).
    true_ctr : ndarray of float64 [N] or None
        The CTR clicks were drawn from (synthetic logs only: an oracle).
    info : dict
        :func:`log_info` of the log plus ``profile`` / ``split`` when synthetic.
    """

    click: np.ndarray
    price: np.ndarray
    pctr: np.ndarray
    features: np.ndarray | None = None
    true_ctr: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        click = np.asarray(self.click)
        price = np.asarray(self.price)
        pctr = np.asarray(self.pctr)
        n = click.shape[0] if click.ndim == 1 else -1
        for name, a in (("click", click), ("price", price), ("pctr", pctr)):
            if a.ndim != 1:
                raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
        if not (len(click) == len(price) == len(pctr)):
            raise ValueError(
                "click, price and pctr must have the same length, got "
                f"{len(click)}, {len(price)}, {len(pctr)}"
            )
        if not np.isin(click, (0, 1)).all():
            raise ValueError("click must contain only 0 and 1")
        if price.dtype.kind not in "iu" and not np.array_equal(price, np.round(price)):
            raise ValueError("price must hold integer price units")
        if (price < 0).any():
            raise ValueError("price must be >= 0")
        if not np.isfinite(pctr).all() or (pctr < 0).any() or (pctr > 1).any():
            raise ValueError("pctr must lie in [0, 1] (and not be NaN)")
        self.click = click.astype(np.int8)
        self.price = price.astype(np.int64)
        self.pctr = pctr.astype(np.float64)
        for name in ("features", "true_ctr"):
            a = getattr(self, name)
            if a is not None and len(a) != n:
                raise ValueError(f"{name} must have length {n}, got {len(a)}")
        info = log_info(self.click, self.price)
        info.update(self.info)
        self.info = info

    def __len__(self) -> int:
        return len(self.click)

    def slice(self, start: int, stop: int) -> AuctionLog:
        """Auctions ``start:stop`` as a new log (info recomputed, metadata kept)."""
        meta = {k: v for k, v in self.info.items() if k in ("profile", "split")}
        return AuctionLog(
            self.click[start:stop], self.price[start:stop], self.pctr[start:stop],
            None if self.features is None else self.features[start:stop],
            None if self.true_ctr is None else self.true_ctr[start:stop], meta,
        )


def _clicks(click: Any) -> np.ndarray:
    """A 1-D bool array from bool or 0/1 integer click flags, or a named error."""
    c = to_numpy(click, "click")
    if c.dtype.kind in "iu" and np.isin(c, (0, 1)).all():
        c = c.astype(bool)
    if c.dtype != np.bool_:
        raise TypeError(f"click must hold bool (or 0/1 integer) flags, got dtype {c.dtype}")
    if c.ndim != 1:
        raise ValueError(f"click must be 1-D (one flag per auction), got shape {c.shape}")
    return c


def log_info(click: np.ndarray, price: np.ndarray, max_price: int | None = None) -> dict:
    """Counts of a log, with the keys the bidders and the DP need.

    Returns
    -------
    dict
        ``n`` auctions, ``clicks``, ``cost`` (sum of prices), ``ctr`` = clicks / n,
        ``cpm`` = cost / n (mean market price: the paper's CPM_train, budget unit),
        ``cpc`` = cost / clicks, ``max_price``, ``price_counts`` (int64 [max_price+1]).
    """
    click = _clicks(click)
    price = int_array(price, "price").astype(np.int64)
    if price.shape != click.shape:
        raise ValueError(f"price must have the shape of click {click.shape}, got {price.shape}")
    if price.size and price.min() < 0:
        raise ValueError("price must be >= 0 (market prices)")
    top = int(price.max(initial=0))
    if max_price is None and top > 10**6:
        raise ValueError(f"price holds {top}, more than 10**6 price units: a count table that "
                         "long is surely a unit mistake; pass max_price= to ask for it")
    mp = max(MAX_PRICE, top) if max_price is None else check_int(max_price, "max_price", 0)
    if top > mp:
        raise ValueError(f"price must be <= max_price ({mp}), got {top}")
    n = int(len(price))
    clicks, cost = int(click.sum()), int(price.sum())
    return {
        "n": n,
        "clicks": clicks,
        "cost": cost,
        "ctr": clicks / n if n else 0.0,
        "cpm": cost / n if n else 0.0,
        "cpc": cost / clicks if clicks else float("inf"),
        "max_price": mp,
        "price_counts": np.bincount(np.clip(price, 0, mp), minlength=mp + 1),
    }


def market_price_pdf(log: AuctionLog | Mapping[str, Any], laplace: float = 1.0) -> np.ndarray:
    """Laplace-smoothed market-price p.m.f. m(delta) of a log.

    m(delta) = (count(delta) + laplace) / (n + laplace * (max_price + 1)),
    float64 [max_price + 1], summing to 1 (the authors' ``calc_m_pdf``).

    Parameters
    ----------
    log : AuctionLog or dict
        A log, or an ``info`` dict holding ``price_counts`` (:func:`log_info`, or
        :func:`load_info` of the authors' ``info.json`` when the train log is absent).
    laplace : float >= 0
        Pseudo-count added to every price 0..max_price.
    """
    if check_real(laplace, "laplace") < 0:
        raise ValueError(f"laplace must be >= 0, got {laplace}")
    if isinstance(log, AuctionLog):
        counts = log.info["price_counts"]
    elif isinstance(log, Mapping):
        if log.get("price_counts") is None:
            raise ValueError("log (an info dict) has no 'price_counts': only the train "
                             "split of info.json carries the price histogram")
        counts = int_array(log["price_counts"], "price_counts")
        if counts.ndim != 1 or (counts < 0).any():
            raise ValueError("price_counts must be a 1-D array of counts >= 0")
    else:
        raise TypeError(f"log must be an AuctionLog or an info dict, got {type(log).__name__}")
    c = counts.astype(np.float64) + laplace
    if c.sum() <= 0:
        raise ValueError("the log is empty and laplace is 0: no market-price p.m.f.")
    return c / c.sum()


def price_pmf(profile: Profile | str, max_price: int = MAX_PRICE) -> np.ndarray:
    """The profile's market-price p.m.f. F on 0..max_price (before multipliers).

    A log-normal(mu_log, sigma_log) discretised to integers (bin k = [k-0.5, k+0.5)),
    truncated to 0..max_price, mixed with the profile's atoms.
    """
    p = _profile(profile)
    return _price_pmf(p, check_int(max_price, "max_price", 1)).copy()


@functools.lru_cache(maxsize=64)
def _price_pmf(p: Profile, max_price: int) -> np.ndarray:
    def pmf_at(mu: float) -> np.ndarray:
        nd = NormalDist(mu, p.sigma_log)
        edges = [0.0] + [nd.cdf(np.log(k + 0.5)) for k in range(max_price + 1)]
        ln = np.diff(np.array(edges))
        ln /= ln.sum()
        pmf = (1.0 - sum(m for _, m in p.atoms)) * ln
        for price, m in p.atoms:
            pmf[min(price, max_price)] += m
        return pmf

    if p.mean_price is None:
        return pmf_at(p.mu_log)
    grid = np.arange(max_price + 1)
    lo, hi = p.mu_log - 3.0, p.mu_log + 3.0  # bisection: the mean is increasing in mu
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if (pmf_at(mid) * grid).sum() < p.mean_price else (lo, mid)
    return pmf_at(0.5 * (lo + hi))


def _profile(profile: Profile | str) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)} or a Profile, got {profile!r}")
    return PROFILES[profile]


def auc(click: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for ``click`` (Mann-Whitney, ties = 1/2)."""
    click = _clicks(click)
    score = check_finite(number_array(score, "score"), "score")
    if score.shape != click.shape:
        raise ValueError(f"score must have the shape of click {click.shape}, got {score.shape}")
    n1 = int(click.sum())
    n0 = len(click) - n1
    if n1 == 0 or n0 == 0:
        raise ValueError("auc needs at least one positive and one negative")
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s))
    # average ranks over ties
    uniq, start, counts = np.unique(s, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[click].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _zipf_probs(rng: np.random.Generator, k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1) ** 0.8
    return rng.permutation(p / p.sum())


def _campaign_model(p: Profile, rng: np.random.Generator) -> dict[str, Any]:
    """Per-level probabilities and log-pCTR effects of every field, and alpha."""
    probs, betas = [], []
    for (name, k), w in zip(FIELDS.items(), _FIELD_WEIGHT):
        pr = _zipf_probs(rng, k)
        b = rng.normal(size=k)
        b -= (pr * b).sum()
        b *= np.sqrt(w) * p.pctr_sd / np.sqrt((pr * b**2).sum())
        if name == "domain" and p.hot_frac > 0:
            order = np.argsort(pr)  # rarest domains first
            hot = order[: int(np.searchsorted(np.cumsum(pr[order]), p.hot_frac)) + 1]
            b[hot] += np.log(p.hot_mult)
        probs.append(pr)
        betas.append(b)
    mean_s = sum((pr * b).sum() for pr, b in zip(probs, betas))
    var_s = sum((pr * (b - (pr * b).sum()) ** 2).sum() for pr, b in zip(probs, betas))
    log_mean = sum(np.log((pr * np.exp(b)).sum()) for pr, b in zip(probs, betas))
    return {"probs": probs, "betas": betas, "alpha": np.log(p.ctr) - log_mean,
            "mean_s": mean_s, "sd_s": np.sqrt(var_s)}


def _draw(
    p: Profile, model: dict[str, Any], n: int, rng: np.random.Generator, *, price_mult: float,
    ctr_mult: float, sigma_price: float, sigma_ctr: float, block_length: int, tau: float,
    max_price: int,
) -> AuctionLog:
    feats = np.empty((n, len(FIELDS)), dtype=np.int16)
    s = np.zeros(n)
    for j, (pr, b) in enumerate(zip(model["probs"], model["betas"])):
        x = rng.choice(len(pr), size=n, p=pr)
        feats[:, j] = x
        s += b[x]
    z = (s - model["mean_s"]) / model["sd_s"]
    pctr = np.exp(model["alpha"] + s)
    # market price: Gaussian copula on z; searchsorted against Phi^-1 of F's c.d.f.
    cdf = np.cumsum(price_pmf(p, max_price))[:-1]
    nd = NormalDist()
    thresholds = np.array([nd.inv_cdf(min(max(c, 1e-15), 1 - 1e-15)) for c in cdf])
    w = p.rho * z + np.sqrt(1.0 - p.rho**2) * rng.standard_normal(n)
    price = np.searchsorted(thresholds, w).astype(np.float64)
    # non-stationarity: one price and one CTR multiplier per block
    n_blocks = -(-n // block_length) if n else 0
    pm = np.exp(sigma_price * rng.standard_normal(n_blocks)) * price_mult
    cm = np.exp(sigma_ctr * rng.standard_normal(n_blocks)) * ctr_mult
    blk = np.arange(n) // block_length
    price = np.clip(np.round(price * pm[blk]), 0, max_price).astype(np.int64)
    pctr = np.minimum(pctr * cm[blk], 1.0)
    true_ctr = np.minimum(pctr * np.exp(tau * rng.standard_normal(n) - tau**2 / 2), 1.0)
    click = (rng.random(n) < true_ctr).astype(np.int8)
    return AuctionLog(click, price, pctr, feats, true_ctr)


def generate(
    profile: Profile | str = "toy",
    n_train: int = 100_000,
    n_test: int = 100_000,
    *,
    seed: int = 0,
    sigma_price: float = 0.15,
    sigma_ctr: float = 0.25,
    drift: bool = True,
    block_length: int = 1000,
    tau: float = 0.3,
    max_price: int = MAX_PRICE,
) -> tuple[AuctionLog, AuctionLog]:
    """Draw a train and a test auction log for one campaign profile.

    Parameters
    ----------
    profile : str or Profile
        A key of :data:`PROFILES` (the nine iPinYou campaign ids or ``"toy"``).
    n_train, n_test : int
        Number of auctions in each split (>= 0).
    seed : int
        Seeds everything: the campaign's feature effects and both splits.
    sigma_price, sigma_ctr : float
        Standard deviation of the per-block log price and log CTR multipliers
        (0 for i.i.d. auctions).
    drift : bool
        Apply the profile's test-split price and CTR drift.
    block_length : int
        Auctions per block sharing the non-stationarity multipliers.
    tau : float
        Log-normal noise of the true CTR around the (calibrated) pCTR.
    max_price : int
        Largest market price; prices are clipped to 0..max_price.

    Returns
    -------
    (train, test) : tuple of AuctionLog
    """
    p = _profile(profile)
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v}")
    for name, v in (("sigma_price", sigma_price), ("sigma_ctr", sigma_ctr), ("tau", tau)):
        check_nonnegative(v, name)
    if int(block_length) != block_length or block_length < 1:
        raise ValueError(f"block_length must be a positive integer, got {block_length}")
    if int(max_price) != max_price or max_price < 1:
        raise ValueError(f"max_price must be a positive integer, got {max_price}")
    rng = make_rng(seed)
    model = _campaign_model(p, rng)
    kw = dict(sigma_price=sigma_price, sigma_ctr=sigma_ctr, block_length=int(block_length),
              tau=tau, max_price=int(max_price))
    train = _draw(p, model, int(n_train), rng, price_mult=1.0, ctr_mult=1.0, **kw)
    test = _draw(p, model, int(n_test), rng, price_mult=p.price_drift if drift else 1.0,
                 ctr_mult=p.ctr_drift if drift else 1.0, **kw)
    for log, split in ((train, "train"), (test, "test")):
        log.info.update(profile=p.name, split=split)
    return train, test


_INFO_KEYS = ("imp", "clk", "cost")


def _count(d: Mapping[str, Any], key: str, path: str) -> int:
    if key not in d:
        raise ValueError(f"{path}: missing key {key!r} (an RLB info.json has "
                         "imp/clk/cost_train, imp/clk/cost_test, price_counter_train)")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) and not (
            isinstance(v, (float, np.floating)) and float(v).is_integer()):
        raise ValueError(f"{path}: {key} must be an integer count, got {v!r}")
    if v < 0:
        raise ValueError(f"{path}: {key} must be >= 0, got {v}")
    return int(v)


def load_info(path: str | Path | Mapping[str, Any], split: str = "train") -> dict:
    """A campaign's counts from the RLB authors' ``info.json``, as :func:`log_info` keys.

    The authors' repository (han-cai/rlb-dp, ``data/ipinyou-data/<camp>/info.json``) ships,
    per campaign, the counts ``imp_train``, ``clk_train``, ``cost_train``, the same three
    for ``_test``, and ``price_counter_train`` (the train market prices' histogram over
    0..300), but not the train log. These counts are all the DP and the baselines need:

    - ``ctr`` = clk / imp, the theta_avg of the DP and of Lin;
    - ``cpm`` = cost / imp, the mean market price per auction (CPM_train, budget unit:
      B = int(cpm * c0 * T));
    - ``cpc`` = cost / clk, Mcpc's value of a click (inf without clicks);
    - ``price_counts`` (train only), from which :func:`market_price_pdf` builds m(delta)
      with the authors' Laplace smoothing.

    Parameters
    ----------
    path : str, pathlib.Path or dict
        The ``info.json`` file, or its already-parsed dict.
    split : {"train", "test"}
        Which counts. ``"test"`` gives ``price_counts = None`` (no test histogram).

    Returns
    -------
    dict
        ``n``, ``clicks``, ``cost``, ``ctr``, ``cpm``, ``cpc``, ``max_price``,
        ``price_counts`` (int64 [max_price + 1] or None), ``split``, ``source``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if isinstance(path, Mapping):
        d, where = path, "info"
    elif isinstance(path, (str, Path)):
        where = str(path)
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: not valid JSON ({e})") from None
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected a JSON object, got {type(d).__name__}")
    else:
        raise TypeError(f"path must be a str, pathlib.Path or dict, got {type(path).__name__}")
    imp, clk, cost = (_count(d, f"{k}_{split}", where) for k in _INFO_KEYS)
    if imp == 0:
        raise ValueError(f"{where}: imp_{split} is 0, no CTR or CPM")
    if clk > imp:
        raise ValueError(f"{where}: clk_{split} ({clk}) exceeds imp_{split} ({imp})")
    counts = None
    max_price = MAX_PRICE
    if split == "train":
        if "price_counter_train" not in d:
            raise ValueError(f"{where}: missing key 'price_counter_train'")
        raw = d["price_counter_train"]
        counts = np.asarray(raw)
        if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind not in "iuf" or (
                counts.dtype.kind == "f" and not np.array_equal(counts, np.round(counts))):
            raise ValueError(f"{where}: price_counter_train must be a list of integer counts")
        counts = counts.astype(np.int64)
        if (counts < 0).any():
            raise ValueError(f"{where}: price_counter_train has a negative count")
        max_price = len(counts) - 1
    return {
        "n": imp, "clicks": clk, "cost": cost, "ctr": clk / imp, "cpm": cost / imp,
        "cpc": cost / clk if clk else float("inf"), "max_price": max_price,
        "price_counts": counts, "split": split, "source": where,
    }


def load_log(path: str | Path) -> AuctionLog:
    """Read a real auction log: a text file with one auction per line, ``click price pctr``.

    This is the format of the ``*.theta.txt`` files of the make-ipinyou-data pipeline;
    ``.npz`` files with arrays ``click``, ``price``, ``pctr`` are read too. Raises
    ValueError on a malformed file (wrong column count, pctr outside [0, 1], ...).
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            missing = {"click", "price", "pctr"} - set(f.files)
            if missing:
                raise ValueError(f"{path}: missing arrays {sorted(missing)}")
            return AuctionLog(f["click"], f["price"], f["pctr"], info={"source": str(path)})
    data = np.loadtxt(path, ndmin=2)
    if data.size == 0:
        data = data.reshape(0, 3)
    if data.shape[1] != 3:
        raise ValueError(f"{path}: expected 3 columns 'click price pctr', got {data.shape[1]}")
    return AuctionLog(data[:, 0].astype(np.int64), data[:, 1], data[:, 2],
                      info={"source": str(path)})


# keep dataclasses importable for users building custom profiles
replace = dataclasses.replace
