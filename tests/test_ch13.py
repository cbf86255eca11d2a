"""Chapter 13: DPO's implicit token reward, T-REG-style regulariser, CUT's flags and loss,
segment rewards consumed by GAE, and the exercise answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import creditlab as cl
from creditlab import prefs
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch13
from creditlab.returns import gae
from creditlab.rewards import implicit_process_reward, segment_rewards

torch = pytest.importorskip("torch")

logps = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
               elements=st.floats(-8, 0, allow_nan=False, width=64))


@settings(max_examples=50, deadline=None)
@given(logps, st.floats(0.01, 2.0), st.integers(0, 2**16))
def test_token_implicit_reward_sums_to_the_dpo_logratio(lp, beta, seed):
    rng = np.random.default_rng(seed)
    ref = lp - rng.random(lp.shape)
    m = rng.random(lp.shape) < 0.7
    r = prefs.token_implicit_reward(lp, ref, m, beta=beta)
    np.testing.assert_allclose(r.sum(1), beta * prefs.sequence_logratio(lp, ref, m))
    np.testing.assert_allclose(r, implicit_process_reward(lp, ref, beta, response_mask=m))
    assert np.all(r[~m] == 0)


@settings(max_examples=50, deadline=None)
@given(logps, st.integers(0, 2**16))
def test_contrastive_token_reward_bounds_and_antisymmetry(lp, seed):
    other = lp - np.random.default_rng(seed).normal(size=lp.shape)
    r = prefs.contrastive_token_reward(lp, other)
    assert np.all(np.abs(r) < 0.5)
    np.testing.assert_allclose(r, -prefs.contrastive_token_reward(other, lp), atol=1e-12)
    np.testing.assert_allclose(r, 1 / (1 + np.exp(other - lp)) - 0.5)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.floats(0.05, 1.0), st.integers(0, 2**16))
def test_t_reg_with_alpha_zero_is_dpo_and_matches_a_plain_reference(B, T, beta, seed):
    rng = np.random.default_rng(seed)
    a, b, c, d = (-rng.random((B, T)) * 3 for _ in range(4))
    hw, hl = rng.random((B, T)) - 0.5, rng.random((B, T)) - 0.5
    mw, ml = rng.random((B, T)) < 0.8, rng.random((B, T)) < 0.8
    kw = dict(beta=beta, mask_chosen=mw, mask_rejected=ml, reduction="none")
    np.testing.assert_allclose(prefs.t_reg_loss(a, b, c, d, hw, hl, alpha=0.0, **kw),
                               prefs.dpo_loss(a, b, c, d, **kw))
    # plain reference of the T-REG-style loss
    h = ((a - b) * mw).sum(1) - ((c - d) * ml).sum(1)
    dpo = np.log1p(np.exp(-beta * h))
    w = 1 / (1 + np.exp(beta * h))
    reg = -beta * ((hw * a * mw).sum(1) + (hl * c * ml).sum(1))
    got = prefs.t_reg_loss(a, b, c, d, hw, hl, alpha=0.5, **kw)
    np.testing.assert_allclose(got, dpo + 0.5 * w * reg, rtol=1e-10)
    mean = prefs.t_reg_loss(a, b, c, d, hw, hl, alpha=0.5, token_sum=False, **kw)
    regm = -beta * ((hw * a * mw).sum(1) / np.maximum(mw.sum(1), 1)
                    + (hl * c * ml).sum(1) / np.maximum(ml.sum(1), 1))
    np.testing.assert_allclose(mean, dpo + 0.5 * w * regm, rtol=1e-10)


def test_t_reg_gradient_raises_tokens_with_positive_self_reward():
    lp = torch.zeros(1, 2, requires_grad=True)
    z = torch.zeros(1, 2)
    rhat = torch.tensor([[0.4, -0.4]])
    loss = prefs.t_reg_loss(lp, z, z, z, rhat, torch.zeros(1, 2), alpha=1.0, beta=1.0)
    loss.backward()
    g = lp.grad[0]
    # DPO pushes both chosen tokens up equally; the regulariser adds +0.4 / -0.4
    assert g[0] < g[1]
    assert torch.isclose(g[1] - g[0], torch.tensor(0.5 * 0.8))


@settings(max_examples=50, deadline=None)
@given(logps, st.floats(1.01, 3.0), st.integers(0, 2**16))
def test_cut_mask_and_loss_match_the_reference(lp, lam, seed):
    rng = np.random.default_rng(seed)
    lpj = np.minimum(lp + rng.normal(0, 0.5, lp.shape), -1e-3)
    m = rng.random(lp.shape) < 0.8
    f = prefs.cut_token_mask(lpj, lp, m, threshold=lam)
    np.testing.assert_array_equal(f, (np.exp(lpj) / np.exp(lp) > lam) & m)
    got = prefs.cut_loss(lpj, lp, m, threshold=lam, weight=0.7, reduction="none")
    n = np.maximum(m.sum(1), 1)
    align_n = -(lpj * m).sum(1) / n
    per = np.where(f, 0.7 * np.log(np.maximum(1 - np.exp(lp), 1e-5)), lp) * m
    np.testing.assert_allclose(got, 0.5 * (align_n - per.sum(1) / n), rtol=1e-10)


def test_cut_flags_are_detached_and_torch_in_torch_out():
    lpj = torch.log(torch.tensor([[0.5, 0.5]])).requires_grad_(True)
    lp = torch.log(torch.tensor([[0.5, 0.4]])).requires_grad_(True)
    f = prefs.cut_token_mask(lpj, lp)
    assert f.dtype == torch.bool and f.tolist() == [[False, True]]
    loss = prefs.cut_loss(lpj, lp)
    loss.backward()
    # the flagged token's probability is pushed down (gradient of -log(1-p) > 0 in logp)
    assert lp.grad[0, 1] > 0 > lp.grad[0, 0]
    assert torch.all(lpj.grad < 0)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 8), st.integers(0, 2**16))
def test_segment_rewards_place_scores_and_feed_gae(B, S, T, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, B)
    mask = np.arange(T)[None, :] < lengths[:, None]
    ends = np.stack([rng.integers(-1, n, S) for n in lengths])
    sc = rng.normal(size=(B, S, 3))
    w = rng.random(3)
    r = segment_rewards(sc, ends, mask, w)
    np.testing.assert_allclose(r.sum(1), ((sc @ w) * (ends >= 0)).sum(1))
    assert np.all(r[~mask] == 0)
    # with lambda = gamma = 1 and zero values, GAE gives the rewards-to-go of the segments
    adv, _ = gae(r, np.zeros((B, T)), 1.0, 1.0, response_mask=mask)
    np.testing.assert_allclose(np.asarray(adv)[:, 0], r.sum(1), atol=1e-9)


def test_segment_rewards_refuse_ends_outside_the_response():
    with pytest.raises(ValueError, match="ends"):
        segment_rewards([[1.0]], [[3]], np.array([[True, True, True, False]]))
    with pytest.raises(ValueError, match="weights"):
        segment_rewards([[1.0]], [[0]], np.ones((1, 2), bool), [1.0])


def test_exercise_answers_are_current_and_wrong_answers_fail():
    fresh, stored = ch13.make_cases(), check_mod._cases("ch13")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)

    def backwards_ratio(logp_with_judgment, logp_without, mask, threshold):
        return (np.exp(logp_without - logp_with_judgment) > threshold) & mask

    with pytest.raises(AssertionError):
        cl.check("ch13.cut_token_mask", backwards_ratio)

    def at_segment_start(scores, ends, T):
        out = np.zeros((len(scores), T))
        for b in range(len(scores)):
            for j, e in enumerate(ends[b]):
                if e >= 0:
                    out[b, 0 if j == 0 else ends[b, j - 1] + 1] += scores[b, j]
        return out

    with pytest.raises(AssertionError):
        cl.check("ch13.segment_rewards", at_segment_start)
