"""Chapters 5, 6 and 7: stored exercise answers are current; wrong answers fail with a message."""

from __future__ import annotations

import numpy as np
import pytest

import creditlab as cl
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch05, ch06, ch07, ch08


@pytest.mark.parametrize(("chapter", "module"), [("ch05", ch05), ("ch06", ch06), ("ch07", ch07),
                                                   ("ch08", ch08)])
def test_stored_answers_match_the_library(chapter, module):
    fresh = module.make_cases()
    stored = check_mod._cases(chapter)
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)


def test_plain_softmax_weights_fail():
    def softmax_not_softmin(rewards, temperature):
        w = np.exp(rewards / temperature)
        return w / w.sum() * rewards

    with pytest.raises(AssertionError):
        cl.check("ch05.softmin_transform", softmax_not_softmin)


def test_delta_with_wrong_sign_fails():
    def backwards(rewards):
        out = np.zeros_like(rewards)
        out[:-1] = rewards[1:] - rewards[:-1]
        return out

    with pytest.raises(AssertionError, match="wrong value|telescopes"):
        cl.check("ch06.delta_process", backwards)


def test_delta_that_subtracts_the_last_score_fails():
    """The "zero" reading (r_{K-1} - r_K at step K-1) is not the paper's Delta."""
    def subtracts_last(rewards):
        out = np.zeros_like(rewards)
        out[:-1] = rewards[:-1] - rewards[1:]
        return out

    with pytest.raises(AssertionError, match="wrong value|telescopes|dropped|never"):
        cl.check("ch06.delta_process", subtracts_last)


def test_length_penalty_without_the_guard_fails():
    def unguarded(lengths, correct, p_max, tau):
        ref = lengths[correct].mean() if correct.any() else lengths.mean()
        return -p_max * np.minimum(1.0, np.maximum(0.0, ref - lengths) / (tau * ref))

    with pytest.raises(AssertionError, match="wrong value|guard"):
        cl.check("ch07.length_penalty", unguarded)


def test_renorm_without_centring_the_outcome_fails():
    def half_centred(process, outcome):
        return (process - 0.5) + outcome

    with pytest.raises(AssertionError, match="wrong value|failed|success"):
        cl.check("ch07.renorm", half_centred)
