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
    hierarchical_reward,
    p2s_gold_chain,
    p2s_pfr,
    p2s_step_weights,
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
        seen.extend(r[k].tolist() for r, k in zip(resp, mask))
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
    assert any(row and row[-1] == 5 for row in seen)
    for row in seen:
        assert 5 not in row[:-1]  # nothing is sampled after the stop token
    with pytest.raises(ValueError, match="stop_id"):
        train_seq_rl(m, [[3]], reward, cfg.replace(iterations=1, stop_id=10**6))
    for bad in (lambda *a: np.zeros(2), lambda *a: torch.zeros(3, requires_grad=True),
                lambda *a: torch.zeros(2)):
        with pytest.raises(TypeError, match="direct_fn must return"):
            train_seq_rl(m, [[3]], reward, cfg.replace(iterations=1), direct_fn=bad)
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

    def pf_all_steps(suffix_logp, suffix_mask, n_steps):  # ignores n_steps
        r = np.where(suffix_mask, suffix_logp, 0).sum(2) / np.maximum(suffix_mask.sum(2), 1)
        return r.mean(1)

    with pytest.raises(AssertionError):
        cl.check("ch14.path_faithfulness_from_logps", pf_all_steps)


def plain_chunks(z, m):
    sizes = [len(z) // m + (1 if i < len(z) % m else 0) for i in range(m)]
    return [z[sum(sizes[:i]):sum(sizes[:i + 1])] for i in range(m)]


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.sampled_from(["mean", "sum"]),
       st.integers(0, 2**16))
def test_p2s_pfr_matches_a_plain_loop(B, m, normalize, seed):
    rng = np.random.default_rng(seed)
    P, Z, ans = ragged(rng, B, 1, 3), ragged(rng, B, 0, 7), ragged(rng, B, 1, 2)
    gold = [ragged(rng, int(rng.integers(1, 4)), 1, 2) for _ in range(B)]
    with torch.no_grad():
        got = p2s_pfr(MODEL, P, Z, gold, ans, m=m, normalize=normalize).numpy()

    def score(prefix, target):
        tok = plain_ref_logps(MODEL, prefix, [], target)
        return tok.mean() if normalize == "mean" else tok.sum()

    w = 1 / (1 + np.exp(-(np.arange(1, m + 1) - (m + 1) / 2)))
    w = w / w.sum()
    for b in range(B):
        ch = plain_chunks(Z[b], m)
        r = []
        for i in range(1, m):
            pre = sum(ch[:i], [])
            r.append(max(score(P[b] + pre, sum(gold[b][t:], []))
                         - score(P[b] + [0] * len(pre), sum(gold[b][t:], []))
                         for t in range(len(gold[b]))))
        r.append(score(P[b] + Z[b], ans[b]))
        np.testing.assert_allclose(got[b], np.dot(w, r), rtol=1e-4, atol=1e-5)
    assert np.all(np.diff(p2s_step_weights(m)) >= 0)


def test_p2s_gold_chain_and_hierarchical_reward():
    P, ans = [[3], [4]], [[8, 2], [9, 2]]
    cands = [[[5, 6], [7], []], [[6]]]
    got = p2s_gold_chain(MODEL, P, cands, ans)
    for b in range(2):
        s = [plain_ref_logps(MODEL, P[b], c, ans[b]).sum() for c in cands[b]]
        assert got[b] == int(np.argmax(s))
    outcome = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    pfr = np.array([0.3, 0.5, -0.2, 0.7, 0.1, 0.2])
    idx = np.array([0, 0, 0, 1, 1, 1])
    bad = np.array([False, False, True, False, True, False])
    out = hierarchical_reward(outcome, pfr, idx, bad)
    # group 0 has a correct rollout: outcome; group 1 has none: PFR; malformed: -1
    np.testing.assert_array_equal(out, [0.0, 1.0, -1.0, 0.7, -1.0, 0.2])
    np.testing.assert_array_equal(hierarchical_reward(outcome, pfr, idx),
                                  [0.0, 1.0, 0.0, 0.7, 0.1, 0.2])
    with pytest.raises(ValueError, match="pfr"):
        hierarchical_reward(outcome, pfr[:3], idx)
    with pytest.raises(TypeError, match="malformed"):
        hierarchical_reward(outcome, pfr, idx, np.zeros(6))
    with pytest.raises(ValueError, match="gold_steps"):
        p2s_pfr(MODEL, [[3]], [[4]], [[]], [[6]])
    with pytest.raises(ValueError, match="mask_id"):
        p2s_pfr(MODEL, [[3]], [[4]], [[[5]]], [[6]], mask_id=VOCAB)
    with pytest.raises(ValueError, match="^m must"):
        p2s_pfr(MODEL, [[3]], [[4]], [[[5]]], [[6]], m=0)
    with pytest.raises(ValueError, match="candidate"):
        p2s_gold_chain(MODEL, [[3]], [[]], [[6]])
