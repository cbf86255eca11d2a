"""EPIC, STARC, regret: invariances, pseudometric axioms, regret bound, bad inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditlab.metrics import (
    epic_canonicalise,
    epic_distance,
    l2_distance,
    optimal_return_range,
    regret,
    spearman,
    starc_canonicalise,
    starc_distance,
    starc_regret_bound,
)
from creditlab.tabular import greedy_policy, policy_evaluation, value_iteration


def raises(exc, *words):
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(w)})" for w in words))


def mdp(seed, S=5, A=3):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    R = rng.normal(size=(S, A, S))
    return rng, P, R


def shaped(rng, R, gamma, scale=5.0):
    phi = rng.normal(scale=scale, size=R.shape[0])
    return R + gamma * phi[None, None, :] - phi[:, None, None]


def redistributed(rng, R, P, scale=5.0):
    """Add X with E_{S'~P(s,a)} X(s,a,S') = 0: an S'-redistribution."""
    X = rng.normal(scale=scale, size=R.shape)
    X -= (P * X).sum(-1, keepdims=True)
    return R + X


seeds = st.integers(0, 100_000)
gammas = st.floats(0.0, 0.95)


@given(seed=seeds, gamma=gammas, alpha=st.floats(0.01, 100.0))
def test_starc_zero_for_equivalent_rewards(seed, gamma, alpha):
    rng, P, R = mdp(seed)
    R2 = alpha * redistributed(rng, shaped(rng, R, gamma), P)
    assert starc_distance(R, R2, P, gamma) < 1e-7
    assert l2_distance(R, R2) > 1.0  # the naive distance sees a big difference
    for norm in ("l1", "linf"):
        assert starc_distance(R, R2, P, gamma, norm=norm, metric=norm) < 1e-7


@given(seed=seeds, gamma=gammas, alpha=st.floats(0.01, 100.0))
def test_epic_zero_for_shaping_and_scale_but_not_redistribution(seed, gamma, alpha):
    rng, P, R = mdp(seed)
    assert epic_distance(R, alpha * shaped(rng, R, gamma), gamma) < 1e-6
    assert epic_distance(R, redistributed(rng, R, P), gamma) > 0.05


@given(seed=seeds, gamma=gammas)
def test_symmetry_range_and_negation(seed, gamma):
    rng, P, R1 = mdp(seed)
    R2 = rng.normal(size=R1.shape)
    d12, d21 = starc_distance(R1, R2, P, gamma), starc_distance(R2, R1, P, gamma)
    assert d12 == pytest.approx(d21, abs=1e-12) and 0.0 <= d12 <= 2.0
    assert starc_distance(R1, -R1, P, gamma) == pytest.approx(2.0)
    e12 = epic_distance(R1, R2, gamma)
    assert e12 == pytest.approx(epic_distance(R2, R1, gamma), abs=1e-12) and 0 <= e12 <= 1
    assert epic_distance(R1, -R1, gamma) == pytest.approx(1.0)


@settings(max_examples=40)
@given(seed=seeds, gamma=gammas, canon=st.sampled_from(["value", "epic", "none"]),
       norm=st.sampled_from(["l1", "l2", "linf"]))
def test_triangle_inequality(seed, gamma, canon, norm):
    rng, P, R1 = mdp(seed)
    R2 = R1 + rng.normal(scale=rng.uniform(0.1, 3), size=R1.shape)
    R3 = rng.normal(size=R1.shape) if rng.random() < 0.5 else np.zeros_like(R1)
    kw = {"canonicalisation": canon, "norm": norm, "metric": norm}
    d = {k: starc_distance(*pair, P, gamma, **kw)
         for k, pair in {"12": (R1, R2), "23": (R2, R3), "13": (R1, R3)}.items()}
    assert d["13"] <= d["12"] + d["23"] + 1e-9
    e = {k: epic_distance(*pair, gamma)
         for k, pair in {"12": (R1, R2), "23": (R2, R3), "13": (R1, R3)}.items()}
    assert e["13"] <= e["12"] + e["23"] + 1e-9


def test_val_canonicalisation_is_the_papers_form():
    """c(R)(s,a,s') = E_{S'}[R(s,a,S') - V^pi(s) + gamma V^pi(S')], pi uniform, by loops."""
    rng, P, R = mdp(3, S=4, A=2)
    g = 0.8
    pi = np.full((4, 2), 0.5)
    V = policy_evaluation(P, R, pi, g)
    c = starc_canonicalise(R, P, g)
    for s in range(4):
        for a in range(2):
            want = sum(P[s, a, x] * (R[s, a, x] - V[s] + g * V[x]) for x in range(4))
            np.testing.assert_allclose(c[s, a], want)  # the same for every s'
    # linear, and the potential it removes is V^pi itself: c(c(R)) == c(R)
    np.testing.assert_allclose(starc_canonicalise(c, P, g), c, atol=1e-10)


def test_epic_canonicalisation_formula_by_loops():
    rng, _, R = mdp(5, S=3, A=2)
    g = 0.7
    c = epic_canonicalise(R, g)
    S, A = 3, 2
    m = lambda x: np.mean([R[x, a, y] for a in range(A) for y in range(S)])  # noqa: E731
    mall = np.mean(R)
    for s in range(S):
        for a in range(A):
            for y in range(S):
                np.testing.assert_allclose(c[s, a, y], R[s, a, y] + g * m(y) - m(s) - g * mall)


def test_trivial_rewards():
    rng, P, R = mdp(1)
    g = 0.9
    const = shaped(rng, np.full(R.shape, 2.0), g)  # every policy equally good
    assert starc_distance(const, np.zeros_like(R), P, g) == 0.0
    assert starc_distance(R, const, P, g) == pytest.approx(1.0)  # ||s(R) - 0||
    assert epic_distance(const, np.zeros_like(R), g) == 0.0
    assert regret(const, R, P, g) == pytest.approx(0.0, abs=1e-9)
    assert regret(R, R, P, g) == 0.0


@settings(max_examples=40)
@given(seed=seeds, gamma=st.floats(0.1, 0.95), noise=st.floats(0.01, 3.0))
def test_regret_within_the_starc_bound(seed, gamma, noise):
    rng, P, R1 = mdp(seed)
    R2 = 3.0 * shaped(rng, R1, gamma) + rng.normal(scale=noise, size=R1.shape)
    r = regret(R1, R2, P, gamma)
    assert 0.0 <= r <= starc_regret_bound(R1, R2, P, gamma) + 1e-9
    rn = regret(R1, R2, P, gamma, normalise=True)
    assert 0.0 <= rn <= 1.0 + 1e-9


def test_regret_matches_definition():
    rng, P, R1 = mdp(11)
    R2 = rng.normal(size=R1.shape)
    g = 0.9
    mu = np.full(5, 0.2)
    V1, _ = value_iteration(P, R1, g)
    pi2 = greedy_policy(value_iteration(P, R2, g)[1])
    want = mu @ (V1 - policy_evaluation(P, R1, pi2, g))
    assert regret(R1, R2, P, g) == pytest.approx(want)
    span = optimal_return_range(P, R1, g)
    assert regret(R1, R2, P, g, normalise=True) == pytest.approx(want / span)
    assert regret(R1, -R1, P, g, normalise=True) == pytest.approx(1.0)


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [1, 1, 2]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        spearman([1], [1])


def test_bad_inputs_raise_clear_errors():
    rng, P, R = mdp(0)
    with raises(ValueError, "R must have the shape of P"):
        starc_distance(R, R, P[:, :2], 0.9)
    with raises(ValueError, "R2", "shape"):
        starc_distance(R, R[:, :2], P, 0.9)
    for g in (1.0, -0.1, 1.5, float("nan")):
        with raises(ValueError, "gamma"):
            starc_distance(R, R, P, g)
        with raises(ValueError, "gamma"):
            regret(R, R, P, g)
    with raises(ValueError, "row-stochastic"):
        starc_distance(R, R, P * 2, 0.9)
    bad = P.copy()
    bad[0, 0, 0] = -0.1
    bad[0, 0, 1] += 0.1
    with raises(ValueError, "row-stochastic"):
        regret(R, R, bad, 0.9)
    with raises(ValueError, "P must have shape"):
        regret(R, R, P[0], 0.9)
    with raises(ValueError, "canonicalisation"):
        starc_distance(R, R, P, 0.9, canonicalisation="minimal")
    with raises(ValueError, "norm"):
        starc_distance(R, R, P, 0.9, norm="l3")
    with raises(ValueError, "metric"):
        starc_distance(R, R, P, 0.9, metric="cos")
    with raises(TypeError, "R1", "float"):
        starc_distance(R.astype(int), R, P, 0.9)
    with raises(ValueError, "R1", "finite"):
        starc_distance(np.full(R.shape, np.nan), R, P, 0.9)
    with raises(ValueError, "state_dist"):
        epic_distance(R, R, 0.9, state_dist=np.ones(5))
    with raises(ValueError, "gamma"):
        epic_distance(R, R, 1.5)
    Rc = R.copy()
    starc_distance(Rc, Rc * 2, P, 0.9)
    np.testing.assert_array_equal(Rc, R)  # inputs not mutated
