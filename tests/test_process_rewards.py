"""Clip, Delta and gated accumulation: hand-computed cases, properties against the loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from creditlab import reference
from creditlab.shaping import clip_process, delta_process, gated_accumulate


def test_clip_hand_case():
    r = np.array([0.9, 0.5, 0.7, 0.95])
    np.testing.assert_allclose(clip_process(r, 0.8), [0.0, -0.3, -0.1, 0.0])
    m = np.array([True, False, True, True])
    np.testing.assert_allclose(clip_process(r, 0.8, response_mask=m), [0.0, 0.0, -0.1, 0.0])


def test_delta_hand_case_and_telescoping():
    r = np.array([0.9, 0.5, 0.7, 0.95])
    # Gao et al.'s rule (default): r_k - r_{k+1} for k < K-1, r_{K-1} at K-1, 0 at K
    dd = delta_process(r)
    np.testing.assert_allclose(dd, [0.4, -0.2, 0.7, 0.0])
    np.testing.assert_allclose(delta_process(r, final_step="drop"), dd)
    d0 = delta_process(r, final_step="zero")
    np.testing.assert_allclose(d0, [0.4, -0.2, -0.25, 0.0])
    dk = delta_process(r, final_step="keep")
    np.testing.assert_allclose(dk, [0.4, -0.2, -0.25, 0.95])
    # return-to-go telescopes: r_k then 0 ("drop"), r_k - r_K ("zero") or r_k ("keep")
    np.testing.assert_allclose(np.cumsum(dd[::-1])[::-1], [0.9, 0.5, 0.7, 0.0])
    np.testing.assert_allclose(np.cumsum(d0[::-1])[::-1], r - r[-1])
    np.testing.assert_allclose(np.cumsum(dk[::-1])[::-1], r)
    # the last step's score is never read under "drop": changing it changes nothing
    r2 = r.copy()
    r2[-1] = -5.0
    np.testing.assert_allclose(delta_process(r2), dd)
    # masked positions are skipped when finding the next (and the last) step
    m = np.array([True, False, True, False])
    np.testing.assert_allclose(delta_process(r, response_mask=m), [0.9, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(delta_process(r, response_mask=m, final_step="zero"),
                               [0.2, 0.0, 0.0, 0.0])


def test_gated_hand_case():
    r = np.array([[0.9, 0.5, 0.7], [0.2, 0.3, 0.4]])
    m = np.array([[True, True, True], [True, True, False]])
    out = gated_accumulate(r, np.array([1.0, 0.0]), 0.5, response_mask=m)
    np.testing.assert_allclose(out, [[0.9, 0.5, 1.7], [0.0, 0.0, 0.0]])
    out = gated_accumulate(r, np.array([1.0, -1.0]), 0.5, response_mask=m)
    np.testing.assert_allclose(out.sum(1), [1.0 + 2.1, -1.0])
    only = gated_accumulate(r, np.array([1.0, 0.0]), 0.5, include_outcome=False)
    np.testing.assert_allclose(only, [[0.9, 0.5, 0.7], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(gated_accumulate(r[0], 2.0, 1.0), [0.9, 0.5, 2.7])


def test_cumulative_reward_is_bounded_for_any_length():
    """The point of Clip and Delta: padding with high-scoring steps cannot pay."""
    for T in (1, 5, 50, 500):
        r = np.full(T, 0.9)  # e.g. T repeats of a step the PRM loves
        assert clip_process(r, 0.9).sum() <= 0
        assert delta_process(r).sum() <= 1.0
        assert abs(delta_process(r, final_step="zero").sum()) <= 2.0
        assert delta_process(r, final_step="keep").sum() <= 1.0
    assert np.full(500, 0.9).sum() > 400  # the raw sum is not


# --------------------------------------------------------------------------------------
# properties against the plain loops in creditlab.reference

shapes = st.tuples(st.integers(1, 4), st.integers(0, 9))


@st.composite
def batches(draw, nan=False):
    B, T = draw(shapes)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    elems = st.floats(-1.0, 1.0, width=32) if not nan else st.one_of(
        st.floats(-1.0, 1.0, width=32), st.just(np.nan))
    r = draw(arrays(dtype, (B, T), elements=elems))
    m = draw(arrays(np.bool_, (B, T)))
    return r, m


@given(batches(nan=True), st.floats(-1.0, 1.0), st.booleans())
def test_clip_equals_reference(rm, eta, use_mask):
    r, m = rm
    mask = m if use_mask else None
    before = r.copy()
    got = clip_process(r, eta, response_mask=mask)
    want = reference.clip_process(r, r.dtype.type(eta), response_mask=mask)
    assert got.dtype == r.dtype and got.shape == r.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(r, before)


@given(batches(), st.sampled_from(["drop", "zero", "keep"]), st.booleans())
def test_delta_equals_reference(rm, final, use_mask):
    r, m = rm
    mask = m if use_mask else None
    before = r.copy()
    got = delta_process(r, response_mask=mask, final_step=final)
    want = reference.delta_process(r, response_mask=mask, final_step=final)
    assert got.dtype == r.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(r, before)
    # telescoping on every row: sum of the transformed row
    mm = np.ones_like(m) if mask is None else m
    for b in range(r.shape[0]):
        steps = r[b][mm[b]]
        if len(steps) == 1 and final == "drop":
            assert got[b].sum() == 0  # the one step is the last: its score is dropped
        elif len(steps):
            last = {"drop": 0.0, "zero": 0.0, "keep": steps[-1]}[final]
            first_minus_last = steps[0] - (0.0 if final == "drop" else steps[-1])
            np.testing.assert_allclose(got[b].sum(), first_minus_last + last, atol=1e-5)


@given(batches(), st.floats(-1.0, 1.0), st.booleans(), st.booleans())
def test_gated_equals_reference(rm, thr, use_mask, include):
    r, m = rm
    mask = m if use_mask else None
    o = np.linspace(-1, 1, r.shape[0]).astype(r.dtype)
    before, o_before = r.copy(), o.copy()
    got = gated_accumulate(r, o, thr, response_mask=mask, include_outcome=include)
    want = reference.gated_accumulate(r, o, thr, response_mask=mask, include_outcome=include)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(r, before)
    np.testing.assert_array_equal(o, o_before)


def test_nan_propagates():
    r = np.array([0.5, np.nan, 0.2])
    assert np.isnan(clip_process(r, 0.3)[1])
    for final in ("drop", "zero", "keep"):
        d = delta_process(r, final_step=final)
        assert np.isnan(d[0]) and np.isnan(d[1]) and (d[2] == 0 or final == "keep")
    # under "drop" the last step's score is never read, NaN or not
    assert not np.isnan(delta_process(np.array([0.5, 0.2, np.nan]))).any()
    g = gated_accumulate(r, 0.0, 1.0)
    assert np.isnan(g[1])


def test_torch_in_torch_out():
    r = torch.tensor([[0.9, 0.5, 0.7]], requires_grad=True)
    m = torch.tensor([[True, True, False]])
    for out in (clip_process(r, 0.8, response_mask=m), delta_process(r, response_mask=m),
                gated_accumulate(r, torch.tensor([1.0]), 0.5, response_mask=m)):
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(delta_process(r, response_mask=m).numpy(), [[0.9, 0.0, 0.0]],
                               atol=1e-6)
    np.testing.assert_allclose(delta_process(r, response_mask=m, final_step="zero").numpy(),
                               [[0.4, 0.0, 0.0]], atol=1e-6)


def test_empty_and_size_one():
    assert clip_process(np.zeros((2, 0)), 0.5).shape == (2, 0)
    assert delta_process(np.zeros((2, 0))).shape == (2, 0)
    assert gated_accumulate(np.zeros((2, 0)), np.ones(2), 0.5).shape == (2, 0)
    np.testing.assert_allclose(delta_process(np.array([0.7])), [0.0])
    np.testing.assert_allclose(delta_process(np.array([0.7]), final_step="zero"), [0.0])
    np.testing.assert_allclose(delta_process(np.array([0.3, 0.7])), [0.3, 0.0])
    np.testing.assert_allclose(delta_process(np.array([0.7]), final_step="keep"), [0.7])


def test_validation():
    r = np.zeros((2, 3))
    with pytest.raises(TypeError, match="rewards"):
        clip_process(np.zeros(3, int), 0.5)
    with pytest.raises(ValueError, match="rewards"):
        clip_process(np.zeros((1, 2, 3)), 0.5)
    with pytest.raises(ValueError, match="eta"):
        clip_process(r, float("nan"))
    with pytest.raises(TypeError, match="eta"):
        clip_process(r, "high")
    with pytest.raises(ValueError, match="response_mask"):
        delta_process(r, response_mask=np.ones((2, 2), bool))
    with pytest.raises(TypeError, match="response_mask"):
        delta_process(r, response_mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match="final_step"):
        delta_process(r, final_step="last")
    with pytest.raises(ValueError, match="outcome_reward"):
        gated_accumulate(r, np.ones(3), 0.5)
    with pytest.raises(ValueError, match="outcome_reward"):
        gated_accumulate(r, 1.0, 0.5)
    with pytest.raises(ValueError, match="threshold"):
        gated_accumulate(r, np.ones(2), float("inf"))
    with pytest.raises(TypeError, match="step_rewards"):
        gated_accumulate(np.zeros((2, 3), int), np.ones(2), 0.5)
