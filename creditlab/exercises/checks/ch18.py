"""Checks for Chapter 18 (backups up a tree): stored answers and invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from creditlab import tree_reference, trees
from creditlab.exercises.check import Cases, call

_AGG = {"sum": sum, "mean": lambda v: sum(v) / len(v), "max": max}


def _random_tree(rng: np.random.Generator, n: int) -> np.ndarray:
    parent = np.full(n, -1, np.int64)
    for i in range(1, n):
        parent[i] = rng.integers(0, i)
    return parent


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261207)
    out = Cases()
    put = out.put

    for i, n in enumerate([1, 2, 5, 12, 30]):
        parent = _random_tree(rng, n)
        raw, r = rng.normal(size=n), rng.normal(size=n)
        g = rng.uniform(0.5, 1.0, size=n)
        visits = rng.integers(0, 4, size=n)
        V = trees.reduce_up(parent, raw, r, g, w=visits.astype(np.float64), op="mean",
                            self_value=raw, self_weight=np.ones(n))
        put("visit_weighted_values", i, V, parent=parent, raw_value=raw, r=r, g=g,
            visits=visits)
        terminal = rng.normal(size=n)
        put("max_lookahead_values", i, trees.reduce_up(parent, terminal, r, op="max"),
            parent=parent, r=r, terminal_value=terminal)
    for i, (L, agg) in enumerate([(1, "sum"), (4, "sum"), (5, "mean"), (3, "max"),
                                  (6, "max"), (7, "mean")]):
        x = rng.normal(size=L)
        leaf_first = tree_reference.rap_back_propagate(list(x), _AGG[agg])
        put("rap_cum_rewards", i, leaf_first[::-1], path_rewards=x, agg=agg)
    return out


def _inv_visit_weighted(fn: Callable[..., Any]) -> None:
    from creditlab.planning import RecurrentOutput, mcts

    A, B = 3, 2

    def model(state: np.ndarray, action: np.ndarray):
        nxt = (state * 31 + action * 7 + 1) % 9973
        gens = [np.random.default_rng(int(s)) for s in nxt]
        return RecurrentOutput(np.array([q.normal() for q in gens]), np.full(B, 0.9),
                               np.stack([q.normal(size=A) for q in gens]),
                               np.array([q.normal() for q in gens])), nxt

    out = mcts(np.zeros((B, A)), np.zeros(B), model, 20, np.arange(B))
    t = out.search_tree
    parent, r, g = t.edge_arrays()
    for b in range(B):
        V = call(fn, {"parent": parent[b].astype(np.int64), "raw_value": t.raw_values[b],
                      "r": r[b], "g": g[b], "visits": t.node_visits[b].astype(np.int64)})
        used = t.node_visits[b] > 0
        assert np.allclose(V[used], t.node_values[b][used], atol=1e-9), (
            "on a real MCTS tree your values must equal the tree's node_values (the identity)")
    n = 6
    parent = np.array([-1, 0, 0, 1, 1, 2])
    raw = np.arange(n, dtype=np.float64)
    V = call(fn, {"parent": parent, "raw_value": raw, "r": np.ones(n), "g": np.ones(n),
                  "visits": np.zeros(n, np.int64)})
    assert np.allclose(V, raw), "with no visits every node keeps its own raw value"


def _inv_max(fn: Callable[..., Any]) -> None:
    n = 5
    chain = np.arange(-1, n - 1)
    r = np.array([0.0, 1.0, 2.0, -3.0, 0.5])
    V = call(fn, {"parent": chain, "r": r, "terminal_value": np.full(n, 10.0)})
    assert np.isclose(V[0], r[1:].sum() + 10.0), "on a chain V(root) is the path's return"
    rng = np.random.default_rng(8)
    parent = _random_tree(rng, 15)
    r, term = rng.normal(size=15), rng.normal(size=15)
    V = call(fn, {"parent": parent, "r": r, "terminal_value": term})
    V2 = call(fn, {"parent": parent, "r": r + 1.0, "terminal_value": term})
    depth = trees.scan_down(parent, np.ones(15))
    is_leaf = ~np.isin(np.arange(15), parent)
    lo, hi = depth[is_leaf].min(), depth[is_leaf].max()
    assert lo - 1e-9 <= V2[0] - V[0] <= hi + 1e-9, (
        "adding 1 to every reward raises V(root) by the length of some root-to-leaf path")


def _inv_rap(fn: Callable[..., Any]) -> None:
    x = np.array([0.5, -1.0, 2.0, 0.25])
    s = call(fn, {"path_rewards": x, "agg": "sum"})
    assert np.isclose(s[0], x.sum()) and np.isclose(s[-1], x[-1]), (
        "sum: the root gets every reward, the leaf only its own")
    m = call(fn, {"path_rewards": x, "agg": "mean"})
    assert np.allclose(m * np.arange(len(x), 0, -1), s), "mean = sum / (number of rewards)"
    mx = call(fn, {"path_rewards": x, "agg": "max"})
    assert np.all(np.diff(mx) <= 0), "a suffix max can only shrink towards the leaf"


INVARIANTS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "visit_weighted_values": _inv_visit_weighted,
    "max_lookahead_values": _inv_max,
    "rap_cum_rewards": _inv_rap,
}
