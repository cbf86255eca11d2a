"""Chapter 18 exercises: backups up a tree. Replace each ``raise`` with your code.

Trees are arrays with nodes in topological order: ``parent[i] < i``, ``parent[0] == -1``
(the root), and the data of the edge ``parent[i] -> i`` stored on the child ``i``
(reward ``r[i]``, discount ``g[i]``; the root's entries are ignored).
"""

from __future__ import annotations

import numpy as np


def visit_weighted_values(parent: np.ndarray, raw_value: np.ndarray, r: np.ndarray,
                          g: np.ndarray, visits: np.ndarray) -> np.ndarray:
    """The value MCTS backs up, as one bottom-up pass (float64 [N]).

    ``V(n) = (raw_value[n] + sum_c visits[c] (r[c] + g[c] V(c))) / (1 + sum_c visits[c])``
    over the children c of n with ``visits[c] > 0``; a node without such children has
    ``V(n) = raw_value[n]``.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def max_lookahead_values(parent: np.ndarray, r: np.ndarray,
                         terminal_value: np.ndarray) -> np.ndarray:
    """A deterministic planner's backup (float64 [N]): ``V(n) = max_c r[c] + V(c)`` over the
    children of n, and ``V(n) = terminal_value[n]`` for a node without children."""
    # YOUR CODE HERE
    raise NotImplementedError


def rap_cum_rewards(path_rewards: np.ndarray, agg: str) -> np.ndarray:
    """The llm-reasoners (RAP) backup of one path (float64 [L], root first).

    ``path_rewards[k]`` is the reward of the edge into the k-th node of the path
    (root first). Entry k of the result is the value appended to node k's history:
    the aggregate ``agg`` ("sum", "mean" or "max") of ``path_rewards[k:]``, the rewards
    from that node down to the leaf.
    """
    # YOUR CODE HERE
    raise NotImplementedError
