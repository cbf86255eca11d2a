"""creditlab.prefs: each loss against a hand-computed value, pair mining, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from creditlab import prefs


def test_bradley_terry_hand_value():
    # -log sigmoid(1 * (1 - 0)) = log(1 + e^-1)
    assert prefs.bradley_terry_loss(np.array([1.0]), np.array([0.0])) == pytest.approx(
        math.log(1 + math.exp(-1)), abs=1e-12)
    assert math.log(1 + math.exp(-1)) == pytest.approx(0.3133, abs=1e-4)
    # beta scales the margin; mean over pairs
    v = prefs.bradley_terry_loss([2.0, 0.0], [1.0, 0.0], beta=2.0)
    assert v == pytest.approx((math.log(1 + math.exp(-2)) + math.log(2)) / 2, abs=1e-12)


def test_dpo_hand_value_from_per_token_logprobs():
    # chosen: policy tokens (-1, -2), ref (-2, -2.5) -> rho_w = 1 + 0.5 = 1.5 ...
    lp_w = torch.tensor([[-1.0, -2.0, -9.0]])
    rf_w = torch.tensor([[-2.0, -2.5, 0.0]])
    m_w = torch.tensor([[True, True, False]])  # the third token is padding
    # rejected: policy (-3,), ref (-1.5,) -> rho_l = -1.5
    lp_l = torch.tensor([[-3.0, 0.0, 0.0]])
    rf_l = torch.tensor([[-1.5, 0.0, 0.0]])
    m_l = torch.tensor([[True, False, False]])
    beta = 0.5
    h = 1.5 - (-1.5)
    expected = math.log(1 + math.exp(-beta * h))
    got = prefs.dpo_loss(lp_w, rf_w, lp_l, rf_l, beta=beta, mask_chosen=m_w,
                         mask_rejected=m_l)
    assert isinstance(got, torch.Tensor)
    assert float(got) == pytest.approx(expected, abs=1e-6)
    # sequence-level input gives the same
    assert prefs.dpo_loss(np.array([-3.0]), np.array([-4.5]), np.array([-3.0]),
                          np.array([-1.5]), beta=beta) == pytest.approx(expected, abs=1e-12)
    # docstring example: rho_w = 2, rho_l = -1, beta = .5 -> log(1 + e^-1.5) = 0.2014
    assert prefs.dpo_loss([2.0], [0.0], [-1.0], [0.0], beta=0.5) == pytest.approx(
        0.2014, abs=1e-4)


def test_dpo_gradient_flows_through_the_policy_only():
    lp_w = torch.tensor([-1.0, -2.0], requires_grad=True)
    lp_l = torch.tensor([-1.0, -1.0], requires_grad=True)
    ref = torch.tensor([-1.0, -1.0])
    loss = prefs.dpo_loss(lp_w, ref, lp_l, ref, beta=1.0)
    loss.backward()
    assert (lp_w.grad < 0).all() and (lp_l.grad > 0).all()  # raise chosen, lower rejected


def test_ipo_hand_value():
    # margin 3, beta .25 -> (3 - 2)^2 = 1
    assert prefs.ipo_loss([3.0], [0.0], [0.0], [0.0], beta=0.25) == pytest.approx(1.0)
    got = prefs.ipo_loss([1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], beta=0.5,
                         reduction="none")
    np.testing.assert_allclose(got, [0.0, 1.0])


def test_unlikelihood_hand_value():
    logp = torch.log(torch.tensor([[0.5, 0.8, 0.3]]))
    neg = torch.tensor([[False, True, False]])
    mask = torch.tensor([[True, True, False]])
    # -(log .5 + log(1 - .8)) / 2
    got = prefs.unlikelihood_loss(logp, neg, mask)
    assert float(got) == pytest.approx(-(math.log(0.5) + math.log(0.2)) / 2, abs=1e-6)
    assert float(got) == pytest.approx(1.1513, abs=1e-4)
    # weight scales the flagged term only; the floor bounds it
    got_w = prefs.unlikelihood_loss(logp, neg, mask, weight=0.1)
    assert float(got_w) == pytest.approx(-(math.log(0.5) + 0.1 * math.log(0.2)) / 2,
                                         abs=1e-6)
    sure = torch.zeros((1, 1))  # p = 1 on a flagged token
    assert float(prefs.unlikelihood_loss(sure, torch.ones((1, 1), dtype=torch.bool))) == \
        pytest.approx(-math.log(1e-5), rel=1e-6)


def test_sequence_logratio():
    got = prefs.sequence_logratio(np.array([[-1.0, -2.0], [-1.0, 0.0]]),
                                  np.array([[-1.5, -1.0], [-3.0, 0.0]]),
                                  np.array([[True, True], [True, False]]))
    np.testing.assert_allclose(got, [-0.5, 2.0])


def test_mine_pairs():
    c, r = prefs.mine_pairs([0.1, 0.9, 0.5, 0.2, 0.2], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(c, [1])
    np.testing.assert_array_equal(r, [0])  # group 1 is a tie: no pair
    c, r = prefs.mine_pairs([1, 4, 3, 2, 7, 0], ["a", "a", "a", "a", "b", "b"], k=2)
    np.testing.assert_array_equal(c, [1, 2, 4])
    np.testing.assert_array_equal(r, [0, 3, 5])
    c, r = prefs.mine_pairs([1, 4, 3, 2], [0, 0, 0, 0], k=2, min_margin=2.0)
    np.testing.assert_array_equal(c, [1])
    np.testing.assert_array_equal(r, [0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: prefs.bradley_terry_loss([1.0], [1.0, 2.0]), "r_rejected"),
        (lambda: prefs.bradley_terry_loss([1.0], [0.0], beta=0), "beta"),
        (lambda: prefs.dpo_loss([1.0], [1.0], [1.0], [1.0], reduction="max"), "reduction"),
        (lambda: prefs.dpo_loss("a", [1.0], [1.0], [1.0]), "logp_chosen"),
        (lambda: prefs.unlikelihood_loss(np.zeros((1, 2)), np.zeros((1, 2))), "neg_mask"),
        (lambda: prefs.unlikelihood_loss(np.zeros(2), np.zeros(2, bool)), "logp"),
        (lambda: prefs.mine_pairs([1.0, 2.0], [0]), "index"),
        (lambda: prefs.mine_pairs([1.0, 2.0], [0, 0], k=0), "k"),
        (lambda: prefs.sequence_logratio(np.zeros((2, 2)), np.zeros((2, 3))), "ref_logp"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
