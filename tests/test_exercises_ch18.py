"""Chapter 18 exercises: stored answers are current, and typical mistakes fail."""

from __future__ import annotations

import numpy as np
import pytest

import creditlab as cl
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch18


def test_stored_answers_match_the_library():
    fresh = ch18.make_cases()
    stored = check_mod._cases("ch18")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        if fresh[k].dtype.kind == "U":
            assert str(stored[k]) == str(fresh[k]), k
        else:
            np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)


def test_unweighted_mean_fails():
    def plain_mean(parent, raw_value, r, g, visits):  # forgets the visit weights
        V = np.array(raw_value, dtype=float)
        for i in range(len(parent) - 1, 0, -1):
            kids = [c for c in range(len(parent)) if parent[c] == i and visits[c] > 0]
            if kids:
                V[i] = (raw_value[i] + sum(r[c] + g[c] * V[c] for c in kids)) / (1 + len(kids))
        return V

    with pytest.raises(AssertionError):
        cl.check("ch18.visit_weighted_values", plain_mean)


def test_prefix_instead_of_suffix_fails():
    def prefix(path_rewards, agg):
        f = {"sum": np.sum, "mean": np.mean, "max": np.max}[str(agg)]
        return np.array([f(path_rewards[: k + 1]) for k in range(len(path_rewards))])

    with pytest.raises(AssertionError):
        cl.check("ch18.rap_cum_rewards", prefix)
