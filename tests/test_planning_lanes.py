"""The C++ Gumbel search chooses interior actions several trees at a time (lane groups of
16 or 8 trees, transposed rows, vector arithmetic) in its level-by-level descent (fewer
than 512 trees, or one OpenMP thread), and one tree at a time otherwise (512 trees or more
with several threads, and the last few trees of a level). Every path must give the same
trees, bit for bit, and a tree's search must not depend on which other trees share its
batch."""

from __future__ import annotations

import numpy as np
import pytest

from creditlab import planning as P
from creditlab._backend import compiled
from creditlab.planning import RecurrentOutput

pytestmark = pytest.mark.skipif(compiled() is None, reason="needs the compiled kernels")

FIELDS = ("node_visits", "raw_values", "node_values", "parents", "action_from_parent",
          "children_index", "children_prior_logits", "children_visits", "children_rewards",
          "children_discounts", "children_values")


def _model(A, dt):
    """Deterministic in (embedding, action) alone, vectorised: hashed pseudo-random
    rewards, discounts in [0.5, 1], logits and values, so trees differ from each other."""

    def rec(emb, a):
        new = (31 * emb + a + 1) % 1000003
        k = np.arange(1, A + 4, dtype=np.int64)
        u = (new[:, None] * k * 2654435761 % 4294967291) / 4294967291.0
        return RecurrentOutput((2 * u[:, 0] - 1).astype(dt), (0.5 + 0.5 * u[:, 1]).astype(dt),
                               (4 * u[:, 3:] - 2).astype(dt), (2 * u[:, 2] - 1).astype(dt)), new

    return rec


def _search(logits, value, emb, A, dt, **kw):
    return P.mcts(logits, value, _model(A, dt), 24, emb, algorithm="gumbel",
                  gumbel_scale=0.0, max_num_considered_actions=4, **kw).search_tree


@pytest.mark.parametrize("A", [2, 4, 5, 8, 16])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"max_depth": 3},
                                {"use_mixed_value": False, "rescale_values": False}])
def test_gumbel_trees_do_not_depend_on_the_batch_split(A, dt, kw):
    B = 520  # >= 512: the one-tree-at-a-time loop when OpenMP has several threads
    rng = np.random.default_rng(A)
    logits = rng.normal(size=(B, A)).astype(dt)
    value = rng.normal(size=B).astype(dt)
    emb = np.arange(B, dtype=np.int64) * 7 + 3
    whole = _search(logits, value, emb, A, dt, **kw)
    # batches of 1, 3, 13, 40, 463 trees: lane groups of 16 and 8, short groups, single trees
    bounds = np.cumsum([0, 1, 3, 13, 40, 463])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        part = _search(logits[lo:hi], value[lo:hi], emb[lo:hi], A, dt, **kw)
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[lo:hi],
                                          err_msg=f"{name}, trees {lo}:{hi}")
