"""Chapter 8's library pieces: sigma_filter, pre_clip_ratio, ppo_clip_loss,
consistency_reward, auroc, linear probes, contrastive_update and probe_confidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from creditlab.advantages import sigma_filter
from creditlab.algos import PRE_CLIP_BOUNDS, ppo_clip_loss, pre_clip_ratio
from creditlab.metrics import auroc, linear_probe, probe_accuracy
from creditlab.models import MLP, contrastive_update, probe_confidence
from creditlab.rewards import consistency_reward

finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 40), elements=finite),
       st.floats(0.5, 5.0))
def test_sigma_filter_keeps_inliers_and_zeroes_outliers(a, k):
    f = sigma_filter(a, k)
    keep = np.abs(a - a.mean()) <= k * a.std() if a.std() > 0 else np.ones(len(a), bool)
    np.testing.assert_array_equal(f, np.where(keep, a, 0.0))
    assert f.dtype == a.dtype


def test_sigma_filter_torch_in_torch_out_and_no_mutation():
    a = torch.tensor([0.0] * 20 + [10.0])
    before = a.clone()
    f = sigma_filter(a)
    assert isinstance(f, torch.Tensor) and f[-1] == 0
    assert torch.equal(a, before)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-50, 50)),
       st.floats(0.01, 1.0), st.floats(1.0, 1e4))
def test_pre_clip_ratio_is_bounded_and_exact_inside(d, lo, hi):
    new = torch.tensor(d, requires_grad=True)
    r = pre_clip_ratio(new, torch.zeros(len(d), dtype=torch.float64), (lo, hi))
    assert torch.all(r >= lo * (1 - 1e-12)) and torch.all(r <= hi * (1 + 1e-12))
    inside = (d > np.log(lo)) & (d < np.log(hi))
    np.testing.assert_allclose(r.detach().numpy()[inside], np.exp(d[inside]))
    r.sum().backward()
    outside = (d < np.log(lo) - 1e-9) | (d > np.log(hi) + 1e-9)
    assert torch.all(new.grad[torch.as_tensor(outside)] == 0)


def test_pre_clip_default_bounds_are_r1_rewards_and_stop_float32_overflow():
    assert PRE_CLIP_BOUNDS == (1e-3, 1e3)
    new = torch.tensor([0.0, 100.0, -100.0], requires_grad=True)  # exp(100) = inf in float32
    r = pre_clip_ratio(new, torch.zeros(3))
    np.testing.assert_allclose(r.detach().numpy(), [1.0, 1e3, 1e-3], rtol=1e-5)
    r.sum().backward()
    assert torch.all(torch.isfinite(new.grad)) and new.grad[0] == 1 and new.grad[1] == 0
    plain = torch.tensor([100.0], requires_grad=True)
    torch.exp(plain - 0).sum().backward()  # what Pre-CLIP prevents
    assert not torch.isfinite(plain.grad).all()


def test_ppo_clip_loss_matches_ppo_and_pre_clip_only_bounds_the_extreme():
    g = torch.Generator().manual_seed(0)
    new, old = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(
        50, generator=g, dtype=torch.float64)
    adv = torch.randn(50, generator=g, dtype=torch.float64)
    rho = torch.exp(new - old)
    want = -torch.minimum(rho * adv, rho.clamp(0.8, 1.2) * adv).mean()
    torch.testing.assert_close(ppo_clip_loss(new, old, adv, 0.2), want)
    # log-ratios within +-log(1e3): Pre-CLIP changes nothing
    torch.testing.assert_close(ppo_clip_loss(new, old, adv, 0.2, pre_clip=True), want)
    # a huge ratio with a negative advantage: plain PPO's loss explodes, Pre-CLIP's is bounded
    big, zero, neg = torch.tensor([50.0]), torch.zeros(1), -torch.ones(1)
    assert ppo_clip_loss(big, zero, neg) > 1e20
    assert float(ppo_clip_loss(big, zero, neg, pre_clip=True)) == pytest.approx(1e3)


def test_pre_clip_ratio_requires_matching_dtypes():
    with pytest.raises(TypeError, match="same dtype"):
        pre_clip_ratio(torch.zeros(2), torch.zeros(2, dtype=torch.float64))


def test_consistency_reward_zeroes_disagreeing_reasoning():
    r = np.array([1.0, 1.0, 0.0, 0.5])
    out = consistency_reward(r, np.array([0, 1, 1, 0]), np.array([0, 0, 1, 0]))
    np.testing.assert_array_equal(out, [1.0, 0.0, 0.0, 0.5])
    assert r[1] == 1.0  # not mutated
    with pytest.raises(ValueError, match="final_choice"):
        consistency_reward(r, np.zeros(4, int), np.full(4, 2))


def test_pre_clip_ratio_rejects_nonfinite_and_shape_mismatch():
    with pytest.raises(ValueError, match="logp_new"):
        pre_clip_ratio(torch.tensor([float("nan")]), torch.zeros(1))
    with pytest.raises(ValueError, match="same shape"):
        pre_clip_ratio(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="logp_old"):
        pre_clip_ratio(torch.zeros(2), np.zeros(2))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 30), elements=st.integers(-3, 3).map(float)),
       st.data())
def test_auroc_matches_the_pairwise_definition(s, data):
    y = data.draw(hnp.arrays(np.bool_, len(s)))
    if y.all() or not y.any():
        with pytest.raises(ValueError, match="labels"):
            auroc(s, y)
        return
    d = s[y][:, None] - s[~y][None, :]
    assert np.isclose(auroc(s, y), np.mean((d > 0) + 0.5 * (d == 0)))
    assert np.isclose(auroc(-s, y), 1 - auroc(s, y))


def test_probe_accuracy_reads_a_linear_attribute_and_not_noise():
    rng = np.random.default_rng(0)
    H = rng.normal(size=(400, 5))
    assert probe_accuracy(H, H[:, 2] > 0) > 0.95
    assert abs(probe_accuracy(H, rng.random(400) < 0.5) - 0.5) < 0.1
    w = linear_probe(H, H[:, 2] > 0)
    assert w.shape == (6,) and np.argmax(np.abs(w[:5])) == 2


def test_contrastive_update_lowers_the_loss_and_orders_pairs():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(64, 3)).astype(np.float32) + np.float32([1, 0, 0])
    neg = pos - np.float32([1, 0, 0])
    rm = MLP(3, 1, hidden=8, layers=1, seed=0)
    opt = torch.optim.Adam(rm.parameters(), lr=0.05)
    first = contrastive_update(rm, opt, pos, neg, steps=1)
    last = contrastive_update(rm, opt, pos, neg, steps=100)
    assert last < first
    with torch.no_grad():
        assert (rm(pos) > rm(neg)).float().mean() > 0.95
    with pytest.raises(ValueError, match="pos"):
        contrastive_update(rm, opt, pos * np.nan, neg)


def test_contrastive_update_rejects_a_non_finite_reward_model():
    rm = MLP(3, 1, hidden=4, layers=1, seed=0)
    with torch.no_grad():
        rm.net[0].weight.fill_(float("inf"))
    opt = torch.optim.SGD(rm.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="rm"):
        contrastive_update(rm, opt, np.ones((2, 3)), np.zeros((2, 3)))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 20), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**31))
def test_probe_confidence_is_symmetric_bounded_and_zero_on_equal(n, d, k, seed):
    rng = np.random.default_rng(seed)
    a, b, P = rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=(d + 1, k))
    c = probe_confidence(a, b, P)
    assert c.shape == (n,) and np.all((c >= 0) & (c <= 2))
    np.testing.assert_allclose(c, probe_confidence(b, a, P))
    np.testing.assert_allclose(probe_confidence(a, a, P), 0.0)
