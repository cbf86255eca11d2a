"""Chapter 8's library pieces: sigma_filter, pre_clip_ratio, auroc, linear probes,
contrastive_update and probe_confidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from creditlab.advantages import sigma_filter
from creditlab.algos import pre_clip_ratio
from creditlab.metrics import auroc, linear_probe, probe_accuracy
from creditlab.models import MLP, contrastive_update, probe_confidence

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
       st.floats(0.01, 0.9))
def test_pre_clip_ratio_is_bounded_and_exact_inside(d, eps):
    new = torch.tensor(d, requires_grad=True)
    r = pre_clip_ratio(new, torch.zeros(len(d), dtype=torch.float64), eps)
    assert torch.all(r >= 1 - eps - 1e-12) and torch.all(r <= 1 + eps + 1e-12)
    inside = (d > np.log(1 - eps)) & (d < np.log(1 + eps))
    np.testing.assert_allclose(r.detach().numpy()[inside], np.exp(d[inside]))
    r.sum().backward()
    assert torch.all(new.grad[torch.as_tensor(~inside & (np.abs(d) > 1))] == 0)


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
