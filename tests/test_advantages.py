"""Group advantages and whitening against verl-style torch implementations."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import creditlab as cl

torch = pytest.importorskip("torch")


def verl_style_grpo(scores, index, eps=1e-6, norm_by_std=True):
    """GRPO as verl's loop writes it (group mean/std, singleton -> mean 0, std 1)."""
    id2score = defaultdict(list)
    for i in range(len(scores)):
        id2score[index[i]].append(scores[i])
    id2mean, id2std = {}, {}
    for idx, vals in id2score.items():
        if len(vals) == 1:
            id2mean[idx], id2std[idx] = torch.tensor(0.0), torch.tensor(1.0)
        else:
            t = torch.stack(vals)
            id2mean[idx], id2std[idx] = torch.mean(t), torch.std(t)
    out = scores.clone()
    for i in range(len(scores)):
        if norm_by_std:
            out[i] = (scores[i] - id2mean[index[i]]) / (id2std[index[i]] + eps)
        else:
            out[i] = scores[i] - id2mean[index[i]]
    return out


def verl_style_rloo(scores, index):
    id2score = defaultdict(list)
    for i in range(len(scores)):
        id2score[index[i]].append(scores[i])
    id2mean = {k: (torch.mean(torch.stack(v)) if len(v) > 1 else torch.tensor(0.0))
               for k, v in id2score.items()}
    out = scores.clone()
    for i in range(len(scores)):
        n = len(id2score[index[i]])
        if n > 1:
            out[i] = scores[i] * n / (n - 1) - id2mean[index[i]] * n / (n - 1)
    return out


groups = st.lists(st.integers(0, 5), min_size=1, max_size=30)


@given(index=groups, seed=st.integers(0, 1000))
def test_grpo_matches_verl(index, seed):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(len(index), generator=g, dtype=torch.float64)
    idx = np.array(index)
    torch.testing.assert_close(cl.grpo(s, idx), verl_style_grpo(s, index))
    torch.testing.assert_close(cl.dr_grpo(s, idx), verl_style_grpo(s, index, norm_by_std=False))
    torch.testing.assert_close(cl.rloo(s, idx), verl_style_rloo(s, index))


def test_group_ids_may_be_strings_and_numpy_in_numpy_out():
    s = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
    uid = np.array(["a", "a", "b", "b"], dtype=object)
    adv = cl.grpo(s, uid)
    assert isinstance(adv, np.ndarray) and adv.dtype == np.float32
    np.testing.assert_allclose(adv[:2], [0.7071063, -0.7071063], rtol=1e-5)
    np.testing.assert_allclose(adv[2:], [0.0, 0.0])
    np.testing.assert_allclose(cl.rloo(s, uid), [1.0, -1.0, 0.0, 0.0])


def test_rloo_is_leave_one_out_mean():
    rng = np.random.default_rng(0)
    s = rng.normal(size=6)
    idx = np.zeros(6, int)
    want = [s[i] - np.delete(s, i).mean() for i in range(6)]
    np.testing.assert_allclose(cl.rloo(s, idx), want)


def test_group_helpers_validate():
    with pytest.raises(ValueError, match="scores.*1-D"):
        cl.grpo(np.ones((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="index"):
        cl.rloo(np.ones(3), np.zeros(4))
    with pytest.raises(TypeError, match="scores"):
        cl.grpo(np.ones(3, int), np.zeros(3))


def verl_style_masked_whiten(values, mask, shift_mean=True):
    mean = (values * mask).sum() / mask.sum()
    centered = values - mean
    var = (centered**2 * mask).sum() / mask.sum()
    var = var * mask.sum() / (mask.sum() - 1)  # Bessel
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened += mean
    return whitened


@given(seed=st.integers(0, 1000), shift=st.booleans())
def test_masked_whiten_matches_verl(seed, shift):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 9, generator=g, dtype=torch.float64) * 3 + 1
    m = torch.rand(4, 9, generator=g) < 0.7
    m[0, :2] = True
    got = cl.masked_whiten(x, m, shift_mean=shift)
    torch.testing.assert_close(got, verl_style_masked_whiten(x, m.double(), shift))


def test_masked_whiten_biased_and_errors():
    x = np.array([1.0, 2.0, 3.0, 100.0])
    m = np.array([True, True, True, False])
    w = cl.masked_whiten(x, m, unbiased=False, eps=0.0)
    np.testing.assert_allclose(w[:3].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(w[:3].std(), 1, atol=1e-12)
    with pytest.raises(ValueError, match="no entry"):
        cl.masked_whiten(x, np.zeros(4, bool))
    with pytest.raises(ValueError, match="one entry"):
        cl.masked_whiten(x, np.eye(1, 4, dtype=bool)[0])
    with pytest.raises(ValueError, match="mask.*shape"):
        cl.masked_whiten(x, np.ones(3, bool))
    with pytest.raises(TypeError, match="mask.*bool"):
        cl.masked_whiten(x, np.ones(4))
