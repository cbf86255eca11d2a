"""Chapter 14: likelihood-of-reference rewards (log-probability, probability, average
probability), P2S-style path faithfulness, the trainer's stop token and direct term, and
the exercise answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.algos import SeqRLConfig, train_seq_rl
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch14
from creditlab.models import TinyTextLM
from creditlab.rewards import (
    average_reference_prob,
    path_faithfulness,
    reference_logprob,
    reference_prob,
)

torch = pytest.importorskip("torch")
VOCAB = 12
MODEL = TinyTextLM(VOCAB, embed=8, hidden=16, seed=3)


def ragged(draw_rng: np.random.Generator, B: int, lo: int, hi: int) -> list[list[int]]:
    return [draw_rng.integers(3, VOCAB, size=int(draw_rng.integers(lo, hi + 1))).tolist()
            for _ in range(B)]


def plain_ref_logps(model, p, z, a):
    """One example at a time: log_softmax of the logits that predict each a*_t."""
    with torch.no_grad():
        lg = model.logits([p + z], [a])[0]
        return torch.log_softmax(lg, -1)[torch.arange(len(a)), torch.tensor(a)].numpy()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2**16))
def test_reference_rewards_match_a_plain_forward_pass(B, seed):
    rng = np.random.default_rng(seed)
    P, Z, A = ragged(rng, B, 1, 4), ragged(rng, B, 0, 5), ragged(rng, B, 1, 6)
    with torch.no_grad():
        lp = reference_logprob(MODEL, P, Z, A).numpy()
        lpm = reference_logprob(MODEL, P, Z, A, reduction="mean").numpy()
        pr = reference_prob(MODEL, P, Z, A).numpy()
        avg = average_reference_prob(MODEL, P, Z, A).numpy()
    for b in range(B):
        tok = plain_ref_logps(MODEL, P[b], Z[b], A[b])
        np.testing.assert_allclose(lp[b], tok.sum(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lpm[b], tok.mean(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pr[b], np.exp(tok.sum()), rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(avg[b], np.exp(tok).mean(), rtol=1e-5)
    assert np.all((avg > 0) & (avg <= 1)) and np.all(pr <= avg + 1e-7)


def test_log_prob_direct_term_is_the_sft_gradient_and_prob_scales_it():
    P, Z, A = [[3, 4]], [[5, 6, 7]], [[8, 9, 2]]
    g = {}
    for name, f in (("log", reference_logprob), ("prob", reference_prob)):
        MODEL.zero_grad()
        f(MODEL, P, Z, A).sum().backward()
        g[name] = [q.grad.clone() for q in MODEL.parameters()]
    MODEL.zero_grad()
    lp, _ = MODEL.logprobs([P[0] + Z[0]], A)
    lp.sum().backward()  # SFT on the reference after the thought
    p = float(reference_prob(MODEL, P, Z, A).detach())
    for a, b, c in zip(g["log"], [q.grad for q in MODEL.parameters()], g["prob"]):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(c, p * a, rtol=1e-4, atol=1e-9)
    MODEL.zero_grad()


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.sampled_from(["mean", "sum"]),
       st.sampled_from(["uniform", "increasing"]), st.integers(0, 2**16))
def test_path_faithfulness_matches_its_definition(B, normalize, weights, seed):
    rng = np.random.default_rng(seed)
    P = ragged(rng, B, 1, 3)
    steps = [ragged(rng, int(rng.integers(0, 4)), 1, 2) for _ in range(B)]
    gold = [ragged(rng, 3, 1, 2) for _ in range(B)]
    ans = ragged(rng, B, 1, 2)
    with torch.no_grad():
        got = path_faithfulness(MODEL, P, steps, gold, ans, normalize=normalize,
                                weights=weights).numpy()
    for b in range(B):
        m = len(steps[b])
        idx = range(1, m + 1) if m else [0]
        r, w = [], []
        for i in idx:
            tok = plain_ref_logps(MODEL, P[b], sum(steps[b][:i], []), sum(gold[b][i:], []) + ans[b])
            r.append(tok.mean() if normalize == "mean" else tok.sum())
            w.append(i if (weights == "increasing" and m) else 1)
        np.testing.assert_allclose(got[b], np.dot(r, w) / np.sum(w), rtol=1e-5, atol=1e-6)


def test_trainer_stop_id_and_direct_term():
    m = TinyTextLM(VOCAB, embed=8, hidden=16, seed=1)
    seen = []

    def reward(P, resp, mask):
        seen.append(resp[mask].tolist())
        return np.zeros(len(P))

    refs = [[8, 9, 2]]

    def direct(model, P, resp, mask):
        Z = [[int(v) for v, k in zip(r, mk) if k] for r, mk in zip(resp.tolist(), mask.tolist())]
        return reference_logprob(model, P, Z, refs * len(P))

    cfg = SeqRLConfig(advantage="rloo", n_prompts=2, group_size=2, iterations=40, lr=1e-2,
                      max_len=4, clip_eps=None, stop_id=5, eval_every=40)
    before = float(reference_logprob(m, [[3]], [[]], refs).detach())
    train_seq_rl(m, [[3], [4]], reward, cfg, direct_fn=direct)
    # rewards are all 0: only the direct term moves the model, toward the reference
    after = float(reference_logprob(m, [[3]], [[]], refs).detach())
    assert after > before + 0.5
    # every sampled response stops at the stop token (or at max_len)
    flat = [t for s in seen for t in s]
    assert 5 in flat
    with pytest.raises(ValueError, match="stop_id"):
        SeqRLConfig(stop_id=-1)
    with pytest.raises(TypeError, match="direct_fn"):
        train_seq_rl(m, [[3]], reward, cfg.replace(iterations=1), direct_fn=3)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="same length"):
        reference_logprob(MODEL, [[3]], [[4], [5]], [[6]])
    with pytest.raises(ValueError, match="refs"):
        reference_logprob(MODEL, [[3]], [[4]], [[]])
    with pytest.raises(ValueError, match="cots"):
        reference_logprob(MODEL, [[3]], [[VOCAB]], [[6]])
    with pytest.raises(ValueError, match="reduction"):
        reference_logprob(MODEL, [[3]], [[4]], [[6]], reduction="max")
    with pytest.raises(TypeError, match="model"):
        reference_prob(object(), [[3]], [[4]], [[6]])
    with pytest.raises(TypeError, match="steps"):
        path_faithfulness(MODEL, [[3]], None, [[[4]]], [[6]])
    with pytest.raises(ValueError, match="normalize"):
        path_faithfulness(MODEL, [[3]], [[[4]]], [[[4]]], [[6]], normalize="max")
    P, Z = [[3, 4]], [[5]]
    Pc, Zc = [list(p) for p in P], [list(z) for z in Z]
    reference_logprob(MODEL, P, Z, [[6]])
    assert P == Pc and Z == Zc  # inputs untouched


def test_exercise_answers_are_current_and_wrong_answers_fail():
    fresh, stored = ch14.make_cases(), check_mod._cases("ch14")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        if fresh[k].dtype.kind in "fc":
            np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)
        else:
            np.testing.assert_array_equal(stored[k], fresh[k], err_msg=k)
    from creditlab.solutions import ch14 as sol

    for name in ("reference_rewards", "direct_weight", "path_faithfulness_from_logps"):
        assert cl.check(f"ch14.{name}", getattr(sol, name))

    def padding_counts(logp, mask):
        s = logp.sum(1)
        return np.stack([s, np.exp(s), np.exp(logp).mean(1)], 1)

    with pytest.raises(AssertionError):
        cl.check("ch14.reference_rewards", padding_counts)

    def prob_like_sft(logp, mask, form):
        return np.where(mask, 1.0, 0.0)

    with pytest.raises(AssertionError):
        cl.check("ch14.direct_weight", prob_like_sft)
