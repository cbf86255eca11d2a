"""Chapter 21: proper scores, GP Bayesian optimisation, the reward-keyed experience memory,
synthetic competitions and the live forecasting world."""

from __future__ import annotations

from math import erf, sqrt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.bayesopt import bayes_opt, expected_improvement, gp_posterior, warm_start
from creditlab.envs.competitions import config_grid, make_competition
from creditlab.envs.forecasting import LiveForecastWorld
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch21
from creditlab.memory import ExperienceMemory
from creditlab.metrics import brier, log_score

# ---------------------------------------------------------------- scores


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 30))
def test_scores_match_the_formulas(seed, n):
    rng = np.random.default_rng(seed)
    p, y = rng.uniform(0.01, 0.99, n), rng.random(n) < 0.5
    assert brier(p, y) == pytest.approx(np.mean((p - y) ** 2))
    ls = np.mean([np.log(pi) if yi else np.log(1 - pi) for pi, yi in zip(p, y)])
    assert log_score(p, y) == pytest.approx(ls)
    per = brier(p, y, per_forecast=True)
    assert per.shape == (n,) and per.mean() == pytest.approx(brier(p, y))
    assert log_score(p, y, per_forecast=True).shape == (n,)


@pytest.mark.parametrize("score, sign", [(brier, 1.0), (log_score, -1.0)])
def test_scores_are_proper(score, sign):
    """The expected score over y ~ Bernoulli(q) is best when p = q."""
    q = 0.3
    grid = np.linspace(0.01, 0.99, 99)
    exp = [q * score(np.array([p]), np.array([True])) +
           (1 - q) * score(np.array([p]), np.array([False])) for p in grid]
    best = grid[np.argmin(sign * np.array(exp))]
    assert best == pytest.approx(q, abs=0.011)


def test_log_score_clips_a_confident_miss():
    assert log_score(np.array([1.0]), np.array([False])) == pytest.approx(np.log(1e-6))
    assert np.isfinite(log_score(np.array([0.0]), np.array([True]), eps=1e-3))


def test_scores_refuse_bad_input():
    with pytest.raises(ValueError, match="p"):
        brier(np.array([1.5]), np.array([True]))
    with pytest.raises(TypeError, match="y"):
        brier(np.array([0.5]), np.array([1.0]))
    with pytest.raises(ValueError, match="y"):
        log_score(np.array([0.5, 0.5]), np.array([True]))
    with pytest.raises(ValueError, match="eps"):
        log_score(np.array([0.5]), np.array([True]), eps=0.7)


# ---------------------------------------------------------------- GP and EI


def _gp_plain(X, y, Xq, ell, noise):
    k = lambda A, B: np.exp(-0.5 * ((A[:, None] - B[None]) ** 2).sum(-1) / ell**2)  # noqa: E731
    mu0, s = y.mean(), (y.std() if y.std() > 0 else 1.0)
    Kinv = np.linalg.inv(k(X, X) + (noise + 1e-8) * np.eye(len(X)))
    kq = k(X, Xq)
    mean = kq.T @ Kinv @ ((y - mu0) / s)
    var = 1 - np.einsum("iq,ij,jq->q", kq, Kinv, kq)
    return mu0 + s * mean, s * np.sqrt(np.clip(var, 1e-12, None))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 12), d=st.integers(1, 3),
       ell=st.floats(0.1, 1.0), noise=st.floats(1e-3, 1.0))
def test_gp_posterior_matches_the_plain_formula(seed, n, d, ell, noise):
    rng = np.random.default_rng(seed)
    X, y, Xq = rng.random((n, d)), rng.normal(size=n), rng.random((7, d))
    m, s = gp_posterior(X, y, Xq, length_scale=ell, noise=noise)
    m0, s0 = _gp_plain(X, y, Xq, ell, noise)
    np.testing.assert_allclose(m, m0, atol=1e-6)
    np.testing.assert_allclose(s, s0, atol=1e-5)


def test_gp_interpolates_and_forgets():
    X = np.array([[0.1, 0.1], [0.9, 0.9]])
    y = np.array([1.0, 3.0])
    m, s = gp_posterior(X, y, np.array([[0.1, 0.1], [10.0, 10.0]]), noise=1e-6)
    assert m[0] == pytest.approx(1.0, abs=1e-3) and s[0] < 1e-2
    assert m[1] == pytest.approx(2.0) and s[1] == pytest.approx(1.0)  # prior: mean, sd
    m, s = gp_posterior(np.zeros((0, 2)), np.zeros(0), np.ones((3, 2)))
    assert np.all(m == 0) and np.all(s == 1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), best=st.floats(-2, 2))
def test_expected_improvement_formula_and_shape(seed, best):
    rng = np.random.default_rng(seed)
    m, s = rng.normal(size=6), rng.uniform(0.05, 2.0, 6)
    z = (m - best) / s
    cdf = np.array([0.5 * (1 + erf(v / sqrt(2))) for v in z])
    ref = (m - best) * cdf + s * np.exp(-z**2 / 2) / sqrt(2 * np.pi)
    ei = expected_improvement(m, s, best)
    np.testing.assert_allclose(ei, ref, atol=1e-12)
    assert np.all(ei >= 0)
    assert np.all(np.diff(expected_improvement(np.linspace(-1, 1, 5), np.ones(5), best)) > 0)


def test_expected_improvement_with_zero_sd():
    ei = expected_improvement(np.array([2.0, -1.0]), np.zeros(2), 0.5)
    np.testing.assert_allclose(ei, [1.5, 0.0])


# ---------------------------------------------------------------- bayes_opt, warm_start


def test_bayes_opt_tries_each_candidate_once_and_tracks_the_best():
    C = config_grid(5)
    f = -((C - 0.6) ** 2).sum(1)
    r = bayes_opt(f.__getitem__, C, 25, seed=0)
    assert sorted(r.index.tolist()) == list(range(25))
    np.testing.assert_allclose(r.scores, f[r.index])
    np.testing.assert_allclose(r.best, np.maximum.accumulate(r.scores))
    assert r.best[-1] == f.max()


def test_bayes_opt_beats_random_search_on_a_smooth_bump():
    C = config_grid(12)
    f = np.exp(-((C - np.array([0.7, 0.3])) ** 2).sum(1) / 0.02)
    bo = np.mean([bayes_opt(f.__getitem__, C, 10, seed=s).best[-1] for s in range(5)])
    g = np.random.default_rng(0)
    rnd = np.mean([f[g.permutation(len(C))[:10]].max() for _ in range(200)])
    assert bo > rnd + 0.2


def test_warm_start_goes_where_past_rewards_point():
    C = config_grid(6)
    PX = np.array([[0.2, 0.8], [0.8, 0.2], [0.0, 0.0]])
    Py = np.array([2.0, -1.0, -1.0])
    top = warm_start(C, PX, Py, 1, noise=1e-3)
    np.testing.assert_allclose(C[top[0]], [0.2, 0.8])
    f = np.zeros(len(C))
    r = bayes_opt(f.__getitem__, C, 3, init=top)
    assert r.index[0] == top[0]
    with pytest.raises(ValueError, match="init"):
        bayes_opt(f.__getitem__, C, 3, init=np.array([1, 1]))


# ---------------------------------------------------------------- memory


def test_experience_memory_retrieves_nearest_then_best():
    mem = ExperienceMemory(2, 1)
    assert mem.retrieve(np.zeros(2))[0].shape == (0, 1)
    mem.add(np.array([0.0, 0.0]), np.array([[0.1], [0.2], [0.3]]), np.array([5.0, 7.0, 6.0]))
    mem.add(np.array([9.0, 9.0]), np.array([[0.9]]), np.array([100.0]))
    c, r = mem.retrieve(np.array([0.5, 0.0]), n_tasks=1, top=2)
    np.testing.assert_allclose(c[:, 0], [0.2, 0.3])
    np.testing.assert_allclose(r, [7.0, 6.0])
    c, r = mem.retrieve(np.array([0.5, 0.0]), n_tasks=2, top=1, standardize=True)
    np.testing.assert_allclose(c[:, 0], [0.2, 0.9])
    np.testing.assert_allclose(r, [np.sqrt(1.5), 0.0])  # z-score; a one-entry task -> 0
    assert len(mem) == 2


def test_experience_memory_copies_and_checks():
    mem = ExperienceMemory(1, 1)
    cfg, rew = np.array([[0.5]]), np.array([1.0])
    mem.add(np.array([0.0]), cfg, rew)
    cfg[0, 0], rew[0] = 9.0, 9.0
    c, r = mem.retrieve(np.array([0.0]))
    assert c[0, 0] == 0.5 and r[0] == 1.0
    with pytest.raises(ValueError, match="rewards"):
        mem.add(np.array([0.0]), np.array([[0.5], [0.6]]), np.array([1.0]))
    with pytest.raises(ValueError, match="key"):
        mem.retrieve(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="standardize"):
        mem.retrieve(np.array([0.0]), standardize=1)


# ---------------------------------------------------------------- competitions


def test_competition_shapes_scores_and_scale_free_key():
    C = config_grid(4)
    a = make_competition(1.0, seed=3)
    b = make_competition(10.0, seed=3)
    np.testing.assert_allclose(b.X_train, 10 * a.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    ka, kb = a.key(), b.key()
    assert ka.shape == (3,)
    np.testing.assert_allclose(ka[:2], kb[:2])  # accuracies do not see the units
    assert kb[2] - ka[2] == pytest.approx(1.0)  # the scale feature does
    v, t = a.scores(C)
    assert v.shape == t.shape == (16,) and np.all((v >= 0) & (v <= 1))
    assert v.max() > 0.75
    with pytest.raises(ValueError, match="configs"):
        a.scores(np.array([[1.5, 0.0]]))


def test_competitions_in_other_units_want_other_bandwidths():
    C = config_grid(12)
    best = {u: np.mean([C[np.argmax(make_competition(u, seed=s).scores(C)[0]), 0]
                        for s in range(4)]) for u in (1.0, 10.0)}
    assert best[10.0] - best[1.0] > 0.25  # log10(10) / 2.5 = 0.4 in config units


# ---------------------------------------------------------------- forecasting world


def test_forecasting_world_questions_respect_the_cutoff():
    w = LiveForecastWorld(n_series=5, length=120, cutoff=60, window=30, seed=1)
    s, v = w.questions("static"), w.questions("live")
    assert len(s) > 0 and len(v) > 0
    assert np.all(s.resolves <= w.cutoff) and np.all(s.asked >= w.cutoff - 30)
    assert np.all(v.asked >= w.cutoff) and np.all(v.resolves > w.cutoff)
    for q in (s, v):
        np.testing.assert_array_equal(q.resolves, q.asked + q.horizon)
        np.testing.assert_array_equal(q.outcome, w.values[q.series, q.resolves] > q.threshold)
    assert w.history(10).shape == (5, 11)
    np.testing.assert_array_equal(w.questions("live").threshold, v.threshold)  # seeded


def test_forecasting_world_regimes_shift():
    w = LiveForecastWorld(n_series=20, length=400, regime_rate=0.02, seed=0)
    shifts = (np.diff(w.regime_mean, axis=1) != 0).sum()
    assert 0.01 < shifts / (20 * 399) < 0.03
    still = LiveForecastWorld(n_series=5, length=100, cutoff=50, regime_rate=0.0, seed=0)
    assert np.all(np.diff(still.regime_mean, axis=1) == 0)
    with pytest.raises(ValueError, match="kind"):
        w.questions("past")
    with pytest.raises(ValueError, match="cutoff"):
        LiveForecastWorld(length=100, cutoff=90)


# ---------------------------------------------------------------- exercises


def test_stored_answers_and_wrong_answers():
    fresh = ch21.make_cases()
    stored = check_mod._cases("ch21")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch21 as sol

    assert cl.check("ch21.brier_score", sol.brier_score)
    assert cl.check("ch21.log_score", sol.log_score)
    assert cl.check("ch21.expected_improvement", sol.expected_improvement)
    with pytest.raises(AssertionError):
        cl.check("ch21.brier_score", lambda p, y: float(np.mean(np.abs(p - y))))
    with pytest.raises(AssertionError):
        cl.check("ch21.log_score", lambda p, y: float(np.mean(np.log(p))))
    with pytest.raises(AssertionError):
        cl.check("ch21.expected_improvement",
                 lambda mean, sd, best: np.maximum(mean - best, 0.0))
