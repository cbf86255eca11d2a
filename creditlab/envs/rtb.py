"""Real-time bidding as a gymnasium environment (``creditlab/RealTimeBidding-v0``).

One episode is ``episode_length`` consecutive auctions of an auction log
(:mod:`creditlab.rtb.synth`) with budget B = int(CPM_train * c0 * T), the protocol of
Cai et al. (2017) and of :func:`creditlab.rtb.evaluate`, so an agent run through this env
and the batched evaluator give the same numbers on the same log.

Observation (``spaces.Dict``): ``t_left`` (auctions left, this one included),
``budget_left`` (int64 scalars) and ``pctr`` (float64 scalar, theta(x) of the current
request). Action: ``Discrete(max_bid + 1)`` integer bid, capped at the budget left. A bid
>= market price wins and pays the price (second price).

Reward modes (the reward-design knob): ``"click"`` (realised click on a win: sparse,
high variance), ``"pctr"`` (theta(x) on a win: the paper's expected reward), ``"true_ctr"``
(the oracle CTR, synthetic logs only), ``"profit"`` (click_value * click - v0 * price on
a win; click_value defaults to the train cost per click, so profit is in price units).

``terminated`` when t_left reaches 0 (never at b = 0: a zero bid still wins zero-price
auctions); ``truncated`` is always False. ``reset(options=...)`` takes ``budget_ratio``,
``episode_length``, ``budget`` (absolute, overrides the ratio) and ``episode_index``.
Episodes run through the log in order; ``reset(seed=...)`` restarts the sequence
(``episode_order="random"`` draws the episode from the seeded generator instead).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from creditlab.rtb.bidders import episode_budget
from creditlab.rtb.synth import AuctionLog, generate

__all__ = ["RTBEnv"]

REWARDS = ("click", "pctr", "true_ctr", "profit")


class RTBEnv(gym.Env):
    """Budget-constrained bidding over consecutive auctions of a log.

    Parameters
    ----------
    log : AuctionLog or (train, test) tuple, optional
        The auctions. Default: ``creditlab.rtb.generate(profile, n_train, n_test,
        seed=data_seed)``. CPM_train and theta_avg come from the train split (a single
        log serves as its own train split).
    profile, split : str
        Synthetic profile and which split the episodes come from (``"test"``/``"train"``).
    episode_length : int
        T (>= 1); also the largest T that ``reset`` accepts.
    budget_ratio : float
        c0 (> 0).
    max_bid : int
        Largest bid (action space ``Discrete(max_bid + 1)``).
    reward : {"click", "pctr", "true_ctr", "profit"}
    click_value, v0 : float
        Profit weights (see the module docstring).
    max_budget_ratio : float
        The largest c0 (sets the ``budget_left`` bound of the observation space).
    episode_order : {"sequential", "random"}
    """

    metadata = {"render_modes": []}

    def __init__(
        self, log: AuctionLog | tuple[AuctionLog, AuctionLog] | None = None, *,
        profile: str = "toy", split: str = "test", episode_length: int = 1000,
        budget_ratio: float = 1 / 32, max_bid: int = 300, reward: str = "click",
        click_value: float | None = None, v0: float = 1.0, max_budget_ratio: float = 1.0,
        episode_order: str = "sequential", n_train: int = 50_000, n_test: int = 50_000,
        data_seed: int = 0,
    ) -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if episode_order not in ("sequential", "random"):
            raise ValueError(f"episode_order must be 'sequential' or 'random', got "
                             f"{episode_order!r}")
        if int(max_bid) != max_bid or max_bid < 1:
            raise ValueError(f"max_bid must be a positive integer, got {max_bid}")
        if log is None:
            train, test = generate(profile, n_train, n_test, seed=data_seed)
        elif isinstance(log, AuctionLog):
            train = test = log
        elif isinstance(log, tuple) and len(log) == 2:
            train, test = log
        else:
            raise TypeError("log must be an AuctionLog, a (train, test) tuple or None")
        self.train, self.log = train, (test if split == "test" else train)
        if reward == "true_ctr" and self.log.true_ctr is None:
            raise ValueError("reward='true_ctr' needs a synthetic log with true_ctr")
        self.cpm_train = float(train.info["cpm"])
        self.theta_avg = float(train.info["ctr"])
        self.click_value = float(train.info["cpc"] if click_value is None else click_value)
        self.v0 = float(v0)
        self.reward_mode = reward
        self.max_bid = int(max_bid)
        self.max_T = self._check_T(episode_length, len(self.log))
        self.T = self.max_T
        self.c0 = self._check_c0(budget_ratio)
        self.episode_order = episode_order
        self.max_budget = episode_budget(self.cpm_train, float(max_budget_ratio), self.max_T)
        if episode_budget(self.cpm_train, self.c0, self.T) > self.max_budget:
            raise ValueError("budget_ratio must be <= max_budget_ratio")
        self.observation_space = spaces.Dict({
            "t_left": spaces.Box(0, self.max_T, (), np.int64),
            "budget_left": spaces.Box(0, self.max_budget, (), np.int64),
            "pctr": spaces.Box(0.0, 1.0, (), np.float64),
        })
        self.action_space = spaces.Discrete(self.max_bid + 1)
        self._next_index = 0
        self._start = 0
        self._i = 0
        self.budget = 0
        self._b = 0

    @staticmethod
    def _check_T(T: Any, n: int) -> int:
        if isinstance(T, bool) or int(T) != T or T < 1:
            raise ValueError(f"episode_length must be an integer >= 1, got {T}")
        if T > n:
            raise ValueError(f"episode_length {T} exceeds the log's {n} auctions")
        return int(T)

    @staticmethod
    def _check_c0(c0: Any) -> float:
        if isinstance(c0, bool) or not isinstance(c0, (int, float, np.integer, np.floating)) \
                or not np.isfinite(c0) or c0 < 0:
            raise ValueError(f"budget_ratio must be a finite number >= 0, got {c0}")
        return float(c0)

    @property
    def n_episodes(self) -> int:
        return len(self.log) // self.T

    def _obs(self) -> dict[str, Any]:
        t_left = self.T - self._i
        p = self.log.pctr[self._start + self._i] if t_left > 0 else 0.0
        return {"t_left": np.array(t_left, np.int64), "budget_left": np.array(self._b, np.int64),
                "pctr": np.array(p, np.float64)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):  # noqa: ANN201
        super().reset(seed=seed)
        opts = dict(options or {})
        unknown = set(opts) - {"budget_ratio", "episode_length", "budget", "episode_index"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}")
        if "episode_length" in opts:
            T = self._check_T(opts["episode_length"], len(self.log))
            if T > self.max_T:
                raise ValueError(f"episode_length must be <= {self.max_T} (the constructor's)")
            self.T = T
        if "budget_ratio" in opts:
            self.c0 = self._check_c0(opts["budget_ratio"])
        budget = opts.get("budget", episode_budget(self.cpm_train, self.c0, self.T))
        if isinstance(budget, bool) or int(budget) != budget or not 0 <= budget <= self.max_budget:
            raise ValueError(f"budget must be an integer in 0..{self.max_budget}, got {budget}")
        if seed is not None:
            self._next_index = 0
        if "episode_index" in opts:
            k = int(opts["episode_index"])
            if not 0 <= k < self.n_episodes:
                raise ValueError(f"episode_index must be in 0..{self.n_episodes - 1}, got {k}")
        elif self.episode_order == "random":
            k = int(self.np_random.integers(self.n_episodes))
        else:
            k = self._next_index % self.n_episodes
        self._next_index = k + 1
        self.episode_index = k
        self._start, self._i = k * self.T, 0
        self.budget = self._b = int(budget)
        self._clicks = self._imps = self._spend = 0
        return self._obs(), {"episode_index": k, "budget": self.budget, "t_left": self.T}

    def step(self, action: Any):  # noqa: ANN201
        if self._i >= self.T:
            raise RuntimeError("episode is over: call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer bid in 0..{self.max_bid}, got {action!r}")
        j = self._start + self._i
        bid = min(int(action), self._b)
        price = int(self.log.price[j])
        won = bid >= price
        click = int(self.log.click[j]) if won else 0
        pctr = float(self.log.pctr[j])
        cost = price if won else 0
        reward = 0.0
        if won:
            reward = {"click": float(click), "pctr": pctr, "profit":
                      self.click_value * click - self.v0 * price,
                      "true_ctr": float(self.log.true_ctr[j]) if self.log.true_ctr is not None
                      else 0.0}[self.reward_mode]
        self._b -= cost
        self._clicks += click
        self._imps += int(won)
        self._spend += cost
        self._i += 1
        terminated = self._i == self.T
        info: dict[str, Any] = {
            "won": won, "price": price if won else None, "cost": cost, "click": click,
            "pctr": pctr, "bid": bid, "t_left": self.T - self._i, "budget_left": self._b,
            "clicks": self._clicks, "impressions": self._imps, "spend": self._spend,
        }
        if terminated:
            info.update(
                win_rate=self._imps / self.T,
                cpm=self._spend / self._imps if self._imps else 0.0,
                ecpc=self._spend / 1000.0 / self._clicks if self._clicks else float("inf"),
                ctr=self._clicks / self._imps if self._imps else 0.0,
                budget_spent_frac=self._spend / self.budget if self.budget else 0.0,
                episode_index=self.episode_index,
            )
        return self._obs(), reward, terminated, False, info
