"""Prompt search at a fixed evaluation budget: PromptAgent-style MCTS, greedy, random.

The search space is :class:`creditlab.envs.rule_task.RuleTask`'s rule masks (a toy
"prompt"); a prompt's *reward* is its dev-set accuracy, and every distinct prompt scored
costs one evaluation (scores are cached, so re-visiting a prompt is free). Every method
returns the best-scoring prompt it evaluated, so they differ only in *which* prompts they
spend the budget on.

- :func:`mcts_search`: PromptAgent (Wang et al., 2023, arXiv:2310.16427), following its
  released search loop: UCT selection ``Q + c sqrt(ln(N_parent + 1) / max(1, N))`` with
  ``c = 2.5``; expansion into ``width`` children, each one edit of the parent; a greedy
  simulation that keeps expanding the best child until the depth limit or until no child
  beats its parent; the llm-reasoners backup, where each node on the path appends the
  *sum of the rewards from itself to the leaf* and ``Q`` is the mean of those
  (:func:`creditlab.tree_reference.backup_returns`, agg ``"sum"``, PromptAgent's
  ``cal_cum_reward``; ``agg="mean"`` is our variant, named as such). An unvisited child's
  ``Q`` is its own reward, as in PromptAgent. PromptAgent-style departures: its early stop
  and min-threshold terminal rules are replaced by "stop when no child beats its parent",
  and the budget counts evaluations, not iterations.
- :func:`greedy_search`: hill climbing: ``width`` edits of the current prompt, move to the
  best if it is at least as good.
- :func:`random_search`: random single-rule flips of the best prompt so far.

Edits are *reflective* (:meth:`RuleTask.reflect`, error-driven) or, with
``reflective=False``, a uniformly random rule flip.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from creditlab import tree_reference as ref
from creditlab._backend import check_int, check_real, make_rng
from creditlab.envs.rule_task import RuleTask

__all__ = ["SearchResult", "greedy_search", "mcts_search", "random_search"]


class SearchResult(NamedTuple):
    """Outcome of one search.

    Attributes
    ----------
    mask : bool [R]            the best prompt by dev accuracy
    dev, test : float          its dev and test accuracy
    test_curve : float [budget]
        test accuracy of the best-so-far prompt after each evaluation (padded with the last
        value if the search stopped early).
    evaluations : int          distinct prompts scored
    """

    mask: np.ndarray
    dev: float
    test: float
    test_curve: np.ndarray
    evaluations: int


class _OutOfBudget(Exception):
    pass


class _Scorer:
    """Dev accuracy with a cache and a budget; tracks the best prompt so far."""

    def __init__(self, task: RuleTask, budget: int) -> None:
        budget = check_int(budget, "budget", 1)
        self.task, self.budget = task, int(budget)
        self.cache: dict[bytes, float] = {}
        self.best_mask = np.zeros(task.num_rules, bool)
        self.best_dev = -1.0
        self.best_test = 0.0
        self.curve: list[float] = []

    def __call__(self, mask: np.ndarray) -> float:
        key = np.packbits(mask).tobytes()
        if key in self.cache:
            return self.cache[key]
        if len(self.cache) >= self.budget:
            raise _OutOfBudget
        acc = self.task.accuracy(mask)
        self.cache[key] = acc
        if acc > self.best_dev:
            self.best_dev, self.best_mask = acc, mask.copy()
            self.best_test = self.task.accuracy(mask, "test")
        self.curve.append(self.best_test)
        return acc

    def result(self) -> SearchResult:
        curve = np.array(self.curve + [self.curve[-1]] * (self.budget - len(self.curve)))
        return SearchResult(self.best_mask, self.best_dev, self.best_test, curve,
                            len(self.cache))


def _edit(task: RuleTask, mask: np.ndarray, reflective: bool,
          rng: np.random.Generator) -> np.ndarray:
    r = task.reflect(mask, rng) if reflective else None
    if r is None:
        r = int(rng.integers(task.num_rules))
    child = mask.copy()
    child[r] = ~child[r]
    return child


def _start(task: RuleTask, init: np.ndarray | None) -> np.ndarray:
    if init is None:
        return np.zeros(task.num_rules, bool)
    return task._mask(init).copy()


def random_search(task: RuleTask, budget: int, seed: int = 0,
                  init: np.ndarray | None = None) -> SearchResult:
    """Random single-rule flips of the best prompt so far, for ``budget`` evaluations."""
    rng = make_rng(seed)
    score = _Scorer(task, budget)
    try:
        score(_start(task, init))
        for _ in range(50 * budget):
            score(_edit(task, score.best_mask, False, rng))
    except _OutOfBudget:
        pass
    return score.result()


def greedy_search(task: RuleTask, budget: int, width: int = 3, reflective: bool = True,
                  seed: int = 0, init: np.ndarray | None = None,
                  hill_climb: bool = True) -> SearchResult:
    """Greedy search: score ``width`` edits of the current prompt and move to the best
    child; with ``hill_climb`` (default) only when it is at least as good as the current
    prompt, without it always (PromptAgent's greedy depth-first baseline)."""
    width = check_int(width, "width", 1)
    rng = make_rng(seed)
    score = _Scorer(task, budget)
    try:
        cur = _start(task, init)
        cur_r = score(cur)
        for _ in range(50 * budget):
            kids = [_edit(task, cur, reflective, rng) for _ in range(int(width))]
            rs = [score(k) for k in kids]
            j = int(np.argmax(rs))
            if rs[j] >= cur_r or not hill_climb:
                cur, cur_r = kids[j], rs[j]
    except _OutOfBudget:
        pass
    return score.result()


def mcts_search(task: RuleTask, budget: int, width: int = 3, depth_limit: int = 8,
                c: float = 2.5, reflective: bool = True, seed: int = 0,
                init: np.ndarray | None = None, agg: str = "sum",
                q: str = "mean") -> SearchResult:
    """PromptAgent's MCTS over prompts (see the module docstring) for ``budget``
    evaluations.

    ``agg`` aggregates the rewards from a node to the leaf: ``"sum"``, the default, is
    PromptAgent's ``cal_cum_reward`` (``np.sum``); ``"mean"`` is a variant of ours that
    keeps a backed-up value on the scale of one reward, so that an unvisited child (whose
    ``Q`` is its own reward, as in PromptAgent) competes on the same scale as its visited
    siblings. ``q`` is ``"mean"`` (PromptAgent) or ``"max"`` of a node's backed-up
    values."""
    if agg not in ("sum", "mean") or q not in ("mean", "max"):
        raise ValueError(f"agg must be 'sum' or 'mean' and q 'mean' or 'max', got {agg!r}, "
                         f"{q!r}")
    width = check_int(width, "width", 1)
    depth_limit = check_int(depth_limit, "depth_limit", 1)
    if check_real(c, "c") < 0:
        raise ValueError(f"c (the exploration constant) must be >= 0, got {c}")
    rng = make_rng(seed)
    score = _Scorer(task, budget)
    cap = 4 * int(budget) * int(width) + 1
    parent = np.full(cap, -1, np.int64)
    reward = np.zeros(cap)
    depth = np.zeros(cap, np.int64)
    count, qsum = np.zeros(cap, np.int64), np.zeros(cap)
    qmax, qmin = np.zeros(cap), np.zeros(cap)
    ones = np.ones(cap)
    masks: list[np.ndarray] = [_start(task, init)]
    kids: list[list[int]] = [[]]

    def expand(n: int) -> None:
        for _ in range(int(width)):
            m = _edit(task, masks[n], reflective, rng)
            r = score(m)  # may raise _OutOfBudget
            i = len(masks)
            masks.append(m)
            kids.append([])
            parent[i], reward[i], depth[i] = n, r, depth[n] + 1
            kids[n].append(i)

    def uct(n: int) -> int:
        ln = math.log(count[n] + 1)
        qs = [(qsum[k] / count[k] if q == "mean" else qmax[k]) if count[k] else reward[k]
              for k in kids[n]]
        u = [qk + c * math.sqrt(ln / max(1, count[k])) for qk, k in zip(qs, kids[n])]
        return kids[n][int(np.argmax(u))]

    try:
        reward[0] = score(masks[0])
        for _ in range(50 * int(budget)):
            if len(masks) + (depth_limit + 1) * width >= cap:
                break
            node = 0
            while kids[node] and depth[node] < depth_limit:
                node = uct(node)
            if depth[node] < depth_limit:
                expand(node)
                node = max(kids[node], key=lambda k: reward[k])
                while depth[node] < depth_limit:  # simulation: follow the best child
                    expand(node)
                    best = max(kids[node], key=lambda k: reward[k])
                    if reward[best] < reward[node]:
                        break
                    node = best
            ref.backup_returns(parent, reward, ones, node, agg, count, qsum, qmax, qmin)
    except _OutOfBudget:
        pass
    return score.result()
