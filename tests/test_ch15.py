"""Chapter 15: RLP's information-gain reward, the FLR-style follow-up likelihood, and the
exercise answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import creditlab as cl
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch15
from creditlab.rewards import FOLLOWUP_COMBINE, followup_likelihood, info_gain

torch = pytest.importorskip("torch")
from creditlab.models import TinyTextLM  # noqa: E402
from creditlab.models.corpora import DialogueCorpus  # noqa: E402

logps = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
               elements=st.floats(-8, 0, allow_nan=False, width=64))


@settings(max_examples=50, deadline=None)
@given(logps, st.integers(0, 2**16))
def test_info_gain_is_the_masked_difference(lp, seed):
    rng = np.random.default_rng(seed)
    base = lp - rng.normal(size=lp.shape)
    m = rng.random(lp.shape) < 0.6
    before = lp.copy()
    r = info_gain(lp, base, mask=m)
    np.testing.assert_allclose(r, np.where(m, lp - base, 0.0))
    np.testing.assert_allclose(info_gain(lp[0], base[0]), lp[0] - base[0])
    np.testing.assert_array_equal(lp, before)  # inputs are not changed


def test_info_gain_torch_in_torch_out_with_gradient():
    a = torch.tensor([[-0.1, -2.0]], requires_grad=True)
    r = info_gain(a, torch.tensor([[-0.7, -1.0]]))
    assert isinstance(r, torch.Tensor)
    r.sum().backward()
    assert torch.allclose(a.grad, torch.ones(1, 2))
    with pytest.raises(ValueError, match="logp_baseline"):
        info_gain(np.zeros((2, 3)), np.zeros((3, 2)))


def _plain_flr(lm, P, Y, Fp, Fn, sep):
    def s(p, y, f):
        with torch.no_grad():
            lp = torch.log_softmax(lm.logits([p + y + sep], [f])[0], -1)
        return float(lp[torch.arange(len(f)), torch.tensor(f)].mean())

    sp = np.array([[s(p, y, f) for f in Fp] for p, y in zip(P, Y)])
    sn = np.array([[s(p, y, f) for f in Fn] for p, y in zip(P, Y)])
    return sp, sn


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))
def test_followup_likelihood_matches_a_plain_reference(B, n_pos, n_neg, seed):
    rng = np.random.default_rng(seed)
    lm = TinyTextLM(9, embed=4, hidden=8, seed=seed % 100)

    def ids(lo, hi):
        return [int(v) for v in rng.integers(3, 9, int(rng.integers(lo, hi + 1)))]

    P, Y = [ids(0, 3) for _ in range(B)], [ids(0, 3) for _ in range(B)]
    Fp, Fn = [ids(1, 3) for _ in range(n_pos)], [ids(1, 3) for _ in range(n_neg)]
    sep = ids(0, 1)
    sp, sn = _plain_flr(lm, P, Y, Fp, Fn, sep)
    r, gp, gn = followup_likelihood(lm, P, Y, Fp, Fn, sep=sep, return_parts=True)
    np.testing.assert_allclose(gp, sp, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gn, sn, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r, sp.mean(1) - sn.mean(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(followup_likelihood(lm, P, Y, Fp, Fn, sep=sep,
                                                   combine="pos_only"), sp.mean(1), rtol=1e-5)
    np.testing.assert_allclose(followup_likelihood(lm, P, Y, Fp, Fn, sep=sep,
                                                   combine="neg_only"), -sn.mean(1), rtol=1e-5)
    # the exercise's formula (checks.ch15) on padded per-token log-probs is the same score
    assert "diff" in FOLLOWUP_COMBINE

    def padded(F):
        with torch.no_grad():
            lp, m = lm.logprobs([p + y + sep for p, y in zip(P, Y) for _ in F],
                                [f for _ in P for f in F])
        return lp.double().numpy().reshape(B, len(F), -1), m.numpy().reshape(B, len(F), -1)

    np.testing.assert_allclose(ch15._followup_reference(*padded(Fp), *padded(Fn)), r,
                               rtol=1e-5, atol=1e-6)


def test_followup_likelihood_ranks_after_training_on_follow_ups():
    torch.set_num_threads(1)
    from creditlab.algos import sft_train

    C = DialogueCorpus(0.5)
    enc = C.vocab.encode
    lm = TinyTextLM(len(C.vocab), embed=16, hidden=32, seed=0)
    sft_train(lm, *C.followup_data(C.examples(200, seed=1)), steps=200, batch_size=64,
              lr=1e-2, seed=0)
    P = [enc("user want red bot")] * 2
    Y = [enc("give apple"), enc("give lime")]
    r = followup_likelihood(lm, P, Y, [enc(f) + [2] for f in C.positive_followups],
                            [enc(f) + [2] for f in C.negative_followups], sep=enc("user"))
    assert r[0] > r[1] + 1.0


def test_followup_likelihood_refuses_bad_input():
    lm = TinyTextLM(9, embed=4, hidden=8, seed=0)
    with pytest.raises(TypeError, match="lm"):
        followup_likelihood(object(), [[3]], [[4]], [[5]], [[6]])
    with pytest.raises(ValueError, match="combine"):
        followup_likelihood(lm, [[3]], [[4]], [[5]], [[6]], combine="sum")
    with pytest.raises(ValueError, match="pos_followups"):
        followup_likelihood(lm, [[3]], [[4]], [[]], [[6]])
    with pytest.raises(ValueError, match="responses"):
        followup_likelihood(lm, [[3]], [[4], [5]], [[5]], [[6]])
    with pytest.raises(ValueError, match="neg_followups"):
        followup_likelihood(lm, [[3]], [[4]], [[5]], [[60]])


def test_exercise_answers_are_current_and_wrong_answers_fail():
    fresh, stored = ch15.make_cases(), check_mod._cases("ch15")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)

    def summed(logp_pos, mask_pos, logp_neg, mask_neg):
        return (logp_pos * mask_pos).sum(-1).mean(-1) - (logp_neg * mask_neg).sum(-1).mean(-1)

    with pytest.raises(AssertionError):
        cl.check("ch15.followup_score", summed)

    def swapped(phi, theta, tau):
        return tau * theta + (1 - tau) * phi

    with pytest.raises(AssertionError):
        cl.check("ch15.ema_update", swapped)

    def unmasked(logp_with_thought, logp_baseline, mask):
        return logp_with_thought - logp_baseline

    with pytest.raises(AssertionError):
        cl.check("ch15.info_gain", unmasked)
