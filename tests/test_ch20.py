"""Chapter 20: MOREC-style transition filter, Bayesian search on the hidden-target clutter
grid, the Cosmos-Policy-style joint model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.envs import HiddenTargetClutter
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch20
from creditlab.models import (
    DynamicsEnsemble,
    JointPolicyWorldValue,
    TransitionDiscriminator,
    filtered_step,
)
from creditlab.planning import bayes_search_update, best_of_n

torch.set_num_threads(1)

# ---------------------------------------------------------------- Bayesian search


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), C=st.integers(1, 20), rows=st.integers(1, 3))
def test_bayes_update_matches_the_formula(seed, C, rows):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.0, 1.0, (rows, C)) + 1e-3
    lik = rng.uniform(0.05, 1.0, (rows, C))
    b_copy = b.copy()
    post = bayes_search_update(b, lik)
    ref = b * lik / (b * lik).sum(-1, keepdims=True)
    np.testing.assert_allclose(post, ref, rtol=1e-12)
    np.testing.assert_allclose(post.sum(-1), 1.0)
    np.testing.assert_array_equal(b, b_copy)  # the input is not mutated


def test_bayes_update_rules_out_searched_cells_and_refuses_impossible_observations():
    post = bayes_search_update(np.array([0.5, 0.25, 0.25]), np.array([0.0, 1.0, 1.0]))
    np.testing.assert_allclose(post, [0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="probability 0"):
        bayes_search_update(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="likelihood"):
        bayes_search_update(np.ones(3), np.full(3, 1.5))


# ---------------------------------------------------------------- the clutter grid


def test_clutter_prior_push_and_grasp():
    env = HiddenTargetClutter(size=6, horizon=50, seed=3)
    prior = env.prior
    assert prior.shape == (36,) and prior.sum() == pytest.approx(1.0)
    assert np.all(prior[~env.covered.ravel()] == 0)  # the target is only under clutter
    tgt = env.target[0] * 6 + env.target[1]
    other = next(c for c in range(36) if c not in env.area(tgt) and
                 tgt not in env.area(c))
    seen, new = env.push(other)
    assert not seen and not env.covered.ravel()[env.area(other)].any()
    assert env.push(other) == (False, 0)  # a redundant push clears nothing
    assert env.grasp(tgt) == 0.0  # not seen yet
    seen, _ = env.push(tgt)
    assert seen and env.free_neighbours(tgt) == 4  # pushing at the target clears its neighbours
    assert env.grasp(tgt) == 1.0 and env.done


def test_clutter_horizon_and_bad_cells():
    env = HiddenTargetClutter(horizon=2, seed=0)
    env.push(0)
    env.push(1)
    assert env.done
    with pytest.raises(RuntimeError):
        env.push(2)
    with pytest.raises(ValueError, match="cell"):
        HiddenTargetClutter(seed=0).push(64)


def test_grasp_success_rate_is_free_neighbours_over_four():
    wins = []
    for sd in range(400):
        env = HiddenTargetClutter(size=5, p_clutter=1.0, seed=sd)
        env.target = (2, 2)
        env.seen = True
        env.covered[:] = True
        env.covered[1, 2] = env.covered[3, 2] = False  # two free neighbours
        wins.append(env.grasp(12))
    assert abs(np.mean(wins) - 0.5) < 0.1


# ---------------------------------------------------------------- MOREC-style filter


def _linear_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    s, a = rng.normal(size=(n, 2)), rng.normal(0, 0.3, (n, 1))
    return s, a, s + np.c_[0.1 * s[:, 1], 0.5 * a[:, 0]]


def test_filtered_step_with_one_candidate_is_a_plain_sample():
    s, a, s2 = _linear_data()
    ens = DynamicsEnsemble(2, 1, n_members=3, hidden=8, seed=0)
    ens.fit(s, a, s2, steps=30, seed=0)
    out = filtered_step(ens, lambda x, y, z: z.sum(-1), s[:7], a[:7], 1, seed=4)
    np.testing.assert_allclose(out, ens.sample(s[:7], a[:7], seed=4))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(1, 6))
def test_filtered_step_keeps_the_best_scoring_candidate(seed, n):
    s, a, s2 = _linear_data(50, seed)
    ens = DynamicsEnsemble(2, 1, n_members=2, hidden=4, seed=seed)
    target = torch.tensor([0.3, -0.2])

    def reward(x, y, z):
        return -((z - target) ** 2).sum(-1)

    out = filtered_step(ens, reward, s[:5], a[:5], n, seed=seed)
    cand = ens.sample(np.repeat(s[:5], n, 0), np.repeat(a[:5], n, 0), seed=seed).reshape(5, n, 2)
    ref = best_of_n(cand, reward(None, None, cand).numpy()).chosen
    np.testing.assert_allclose(out, ref)


def test_discriminator_features_and_it_prefers_real_transitions():
    s, a, s2 = _linear_data(600)
    disc = TransitionDiscriminator(2, 1, seed=0)
    x = torch.randn(3, 5)
    assert disc.features(x).shape == (3, 5 + 15)
    rng = np.random.default_rng(1)
    fake = np.stack([s2 + rng.normal(0, 0.2, s2.shape), s2 + rng.normal(0, 0.5, s2.shape)])
    loss = disc.fit(s, a, s2, fake, steps=400, lr=0.05)
    assert loss[-1] < loss[0]
    s_t, a_t, s2_t = _linear_data(300, seed=9)
    with torch.no_grad():
        real = disc(s_t, a_t, s2_t)
        off = disc(s_t, a_t, s2_t + rng.normal(0, 0.5, s2_t.shape))
    assert (real > off).float().mean() > 0.8
    with pytest.raises(ValueError, match="fake_next_states"):
        disc.fit(s, a, s2, fake[:, :5])


def test_filter_lowers_off_data_error_on_linear_dynamics():
    """The chapter's effect in small: a filtered ensemble step is closer to the truth.

    With the chapter's negatives: the model's next states for another action (another logged
    one, a uniform one), paired with the logged (s, a); no same-(s, a) model sample.
    """
    s, a, s2 = _linear_data(800, seed=2)
    ens = DynamicsEnsemble(2, 1, n_members=5, hidden=16, seed=0)
    ens.fit(s, a, s2, steps=300, seed=0)
    rng = np.random.default_rng(0)
    neg = np.stack([ens.sample(s, a[rng.permutation(len(s))], seed=2).numpy(),
                    ens.sample(s, rng.uniform(-2, 2, a.shape), seed=3).numpy()])
    disc = TransitionDiscriminator(2, 1, seed=0)
    disc.fit(s, a, s2, neg, steps=800, lr=0.05)
    so, ao = s[:500], rng.uniform(-2, 2, (500, 1))
    truth = so + np.c_[0.1 * so[:, 1], 0.5 * ao[:, 0]]
    err = [np.linalg.norm(filtered_step(ens, disc, so, ao, n, seed=5).numpy() - truth, axis=1).mean()
           for n in (1, 8)]
    assert err[1] < err[0]


# ---------------------------------------------------------------- Cosmos-Policy-style model


def test_joint_model_shapes_scores_and_fit():
    rng = np.random.default_rng(0)
    m = JointPolicyWorldValue(3, 2, chunk=4, hidden=16, seed=0)
    s = rng.normal(size=(200, 3)).astype(np.float32)
    c = rng.normal(size=(200, 8)).astype(np.float32)
    f = s + 0.1 * c[:, :3]
    vt = (s[:, 0] > 0).astype(np.float32)
    loss = m.fit(s, c, f, s, vt, steps=300, seed=0)
    assert loss[-20:].mean() < loss[:20].mean()
    chunks = m.sample_chunks(s[:5], 7, seed=1)
    assert chunks.shape == (5, 7, 8)
    sc = m.plan_scores(s[:5], chunks)
    with torch.no_grad():
        ref = m.value(m.predict(np.repeat(s[:5], 7, 0), chunks.reshape(35, 8))).reshape(5, 7)
    np.testing.assert_allclose(sc, ref, rtol=1e-6)
    assert ((sc >= 0) & (sc <= 1)).all()
    v = m.value(s).numpy()
    assert v[vt == 1].mean() > v[vt == 0].mean() + 0.3  # the value head learned the label
    with pytest.raises(ValueError, match="value_targets"):
        m.fit(s, c, f, s, vt + 2, steps=1)
    with pytest.raises(ValueError, match="chunks"):
        m.plan_scores(s[:5], chunks[:, :, :3])


# ---------------------------------------------------------------- exercises


def test_stored_answers_and_wrong_answers():
    fresh = ch20.make_cases()
    stored = check_mod._cases("ch20")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch20 as sol

    assert cl.check("ch20.bayes_update", sol.bayes_update)
    assert cl.check("ch20.quadratic_features", sol.quadratic_features)
    with pytest.raises(AssertionError):
        cl.check("ch20.bayes_update", lambda belief, likelihood: belief * likelihood)
    with pytest.raises(AssertionError):
        cl.check("ch20.quadratic_features",
                 lambda x: np.concatenate([x, (x[:, :, None] * x[:, None]).reshape(len(x), -1)], 1))
