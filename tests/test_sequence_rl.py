"""Sequence RL and SFT for TinyTextLM: the quality bars of issue #16.

Bars (seed 0, torch.set_num_threads(1); measured values in brackets):

- SFT, 1-digit arithmetic with thoughts, hidden 96, 100 steps x 128, lr 1e-2 cosine:
  greedy exact match on all 100 problems >= 0.25 [0.39], perplexity <= 1.6 [1.37].
- GRPO from that start, 80 iterations of 32 prompts x 8, lr 3e-3: the policy's exact
  match (temperature 1, 5 samples per problem) rises by >= 0.10 [0.15 -> 0.40].
- SFT, 2-digit with thoughts, 600 steps x 256 (the benchmark's bar, ~17 s of CPU):
  exact match >= 0.75, perplexity <= 1.15 [seeds 1-4: 0.85-0.98, <= 1.09]; runs when
  CREDITLAB_SLOW=1 (benchmarks/bench_tinylm.py measures it on every run).
  (At 500 steps the exact match was 0.66-0.87 over seeds 0-3: too close to call.)
- The 1-digit bars above, on seeds 1-5: SFT greedy 0.34-0.75, perplexity 1.24-1.38;
  GRPO +0.21 to +0.44.
- DPO raises the chosen-over-rejected log-ratio.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from creditlab import prefs
from creditlab.advantages import grpo, rloo
from creditlab.algos import (
    SeqRLConfig,
    checker_accuracy,
    perplexity,
    seq_advantages,
    sft_train,
    train_seq_rl,
)
from creditlab.models import ArithmeticCorpus, TinyTextLM

torch.set_num_threads(1)

C1 = ArithmeticCorpus(1, thoughts=True)
ALL1 = [list(C1.vocab.encode(C1.prompt(a, b))) for a in range(10) for b in range(10)]
ALL1_R = [C1.vocab.encode(C1.reference(a, b)) + [2] for a in range(10) for b in range(10)]


def _reward(prompts, responses, mask):
    return C1.check_batch(prompts, [r[m] for r, m in zip(responses, mask)]).astype(float)


@pytest.fixture(scope="module")
def sft_start() -> tuple[bytes, float, float]:
    P, R = C1.encode(C1.examples(5000, seed=0))
    m = TinyTextLM(len(C1.vocab), hidden=96, seed=0)
    losses = sft_train(m, P, R, steps=100, batch_size=128, lr=1e-2, schedule="cosine", seed=0)
    assert losses[-10:].mean() < losses[:10].mean() / 2
    acc = checker_accuracy(m, C1, ALL1, max_len=8)
    ppl = perplexity(m, ALL1, ALL1_R)
    return m.to_bytes(), acc, ppl


def test_sft_reaches_the_bar(sft_start):
    _, acc, ppl = sft_start
    assert acc >= 0.25, acc
    assert ppl <= 1.6, ppl


def _sampled_acc(m: TinyTextLM) -> float:
    return float(np.mean([checker_accuracy(m, C1, ALL1, max_len=8, temperature=1.0, seed=s)
                          for s in range(5)]))


def test_grpo_raises_exact_match_over_the_sft_start(sft_start):
    m = TinyTextLM.from_bytes(sft_start[0])
    before = _sampled_acc(m)
    cfg = SeqRLConfig(advantage="grpo", iterations=80, lr=3e-3, max_len=8, n_prompts=32,
                      group_size=8, eval_every=80, seed=0)
    res = train_seq_rl(m, ALL1, _reward, cfg)
    after = _sampled_acc(m)
    print("sampled exact match", before, after)
    assert after >= before + 0.10, (before, after)
    assert res.history["iteration"].tolist() == [0.0, 80.0]


def test_dpo_raises_the_chosen_over_rejected_log_ratio(sft_start):
    m = TinyTextLM.from_bytes(sft_start[0])
    ref = m.ema_copy()
    rng = np.random.default_rng(0)
    P, W, L = [], [], []
    for a, b in rng.integers(0, 10, size=(64, 2)).tolist():
        good = list(C1.reference(a, b))
        bad = list(good)
        bad[-1] = str((int(bad[-1]) + 1 + int(rng.integers(8))) % 10)  # a wrong answer
        P.append(C1.vocab.encode(C1.prompt(a, b)))
        W.append(C1.vocab.encode(good) + [2])
        L.append(C1.vocab.encode(bad) + [2])

    def margin() -> float:
        with torch.no_grad():
            rw = prefs.sequence_logratio(*_pair(m, ref, P, W))
            rl = prefs.sequence_logratio(*_pair(m, ref, P, L))
        return float((rw - rl).mean())

    assert margin() == pytest.approx(0.0, abs=1e-6)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(20):
        lw, rw, mw = _pair(m, ref, P, W)
        ll, rl, ml = _pair(m, ref, P, L)
        loss = prefs.dpo_loss(lw, rw, ll, rl, beta=0.5, mask_chosen=mw, mask_rejected=ml)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert margin() > 2.0


def _pair(m, ref, P, Y):
    lp, mask = m.logprobs(P, Y)
    with torch.no_grad():
        rp, _ = ref.logprobs(P, Y)
    return lp, rp, mask


@pytest.mark.skipif(not os.environ.get("CREDITLAB_SLOW"), reason="set CREDITLAB_SLOW=1 "
                    "(~17 s of CPU); benchmarks/bench_tinylm.py checks this bar")
def test_two_digit_pretraining_bar():
    c = ArithmeticCorpus(2, thoughts=True)
    P, R = c.encode(c.examples(20000, seed=0))
    Pt, Rt = c.encode(c.examples(500, seed=1))
    m = TinyTextLM(len(c.vocab), hidden=96, seed=0)
    sft_train(m, P, R, steps=600, batch_size=256, lr=1e-2, schedule="cosine", seed=0)
    assert checker_accuracy(m, c, Pt, max_len=12) >= 0.75
    assert perplexity(m, Pt, Rt) <= 1.15


def test_seq_advantages_call_the_library():
    s = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    idx = np.array([0, 0, 0, 1, 1, 1])
    mask = np.array([[1, 1, 0]] * 6, dtype=bool)
    A = seq_advantages(s, mask, idx, advantage="grpo")
    np.testing.assert_allclose(A, np.asarray(grpo(s, idx))[:, None] * mask)
    A = seq_advantages(s, mask, idx, advantage="rloo")
    np.testing.assert_allclose(A, np.asarray(rloo(s, idx))[:, None] * mask)
    # token rewards: rewards-to-go minus the group's leave-one-out mean return, by hand
    r = np.array([[0.0, 1.0, 5.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    m = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 0]], dtype=bool)
    A = seq_advantages(r, m, [0, 0, 0, 1], advantage="rloo")
    G0 = np.array([1.0, 1.0, 0.0, 2.0])
    base = np.array([(1 + 0) / 2, (1 + 0) / 2, (1 + 1) / 2, 0.0])  # group 1 alone: none
    G = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [2, 0, 0]], dtype=float)
    np.testing.assert_allclose(A, (G - base[:, None]) * m)
    assert G0.tolist() == G[:, 0].tolist()
    with pytest.raises(ValueError, match="advantage"):
        seq_advantages(s, mask, idx, advantage="ppo")


def test_train_seq_rl_is_deterministic_and_kl_grows():
    def reward(p, r, mk):
        return (r[:, 0] == 5).float().numpy()

    runs = []
    for _ in range(2):
        m = TinyTextLM(12, hidden=32, seed=0)
        cfg = SeqRLConfig(iterations=20, lr=1e-2, max_len=4, eval_every=5, kl_coef=0.01,
                          kl_kind="full", clip_eps=0.2, epochs=2)
        runs.append(train_seq_rl(m, [[3], [4]], reward, cfg).history)
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
    assert runs[0]["reward"][-1] > 0.9
    assert runs[0]["kl"][-1] > 0.0


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"advantage": "ppo"}, "advantage"), ({"group_size": 1}, "group_size"),
     ({"kl_kind": "k7"}, "kl_kind"), ({"clip_eps": 0.0}, "clip_eps"),
     ({"gamma": 2.0}, "gamma"), ({"temperature": 0.0}, "temperature")],
)
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        SeqRLConfig(**kw)


def test_trainer_bad_input():
    m = TinyTextLM(12, hidden=8)
    with pytest.raises(TypeError, match="model"):
        sft_train("m", [[3]], [[4]], steps=1)
    with pytest.raises(ValueError, match="steps"):
        sft_train(m, [[3]], [[4]], steps=0)
    with pytest.raises(ValueError, match="schedule"):
        sft_train(m, [[3]], [[4]], steps=1, schedule="linear")
    with pytest.raises(TypeError, match="reward_fn"):
        train_seq_rl(m, [[3]], None)
    with pytest.raises(TypeError, match="config"):
        train_seq_rl(m, [[3]], lambda *a: 0, {"lr": 1})


def test_gae_advantages_call_creditlab_returns_gae():
    from creditlab.returns import gae

    m = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    v = np.array([[0.5, 0.2, 0.1, 0.0], [0.3, 0.4, 0.0, 0.0]])
    s = np.array([1.0, -1.0])
    A = seq_advantages(s, m, [0, 0], advantage="gae", values=v, gamma=0.9, lam=0.5)
    r = np.array([[0, 0, 1.0, 0], [0, -1.0, 0, 0]])  # the score on the last token
    np.testing.assert_allclose(A, np.asarray(gae(r, v, 0.9, 0.5, response_mask=m)[0]) * m)
    # by hand, row 1: delta_1 = -1 - .4, delta_0 = 0 + .9 * .4 - .3; A_0 = d0 + .45 d1
    assert A[1, 1] == pytest.approx(-1.4)
    assert A[1, 0] == pytest.approx(0.06 + 0.45 * -1.4)
    with pytest.raises(ValueError, match="values"):
        seq_advantages(s, m, [0, 0], advantage="gae")


def test_ppo_with_a_value_head_learns_and_fits_its_critic():
    def reward(p, r, mk):
        return (r[:, 0] == 5).float().numpy()

    m = TinyTextLM(12, hidden=32, seed=0, value_head=True)
    cfg = SeqRLConfig(advantage="gae", iterations=30, lr=1e-2, max_len=4, eval_every=10,
                      clip_eps=0.2, epochs=2, whiten=True)
    res = train_seq_rl(m, [[3], [4]], reward, cfg)
    assert res.history["reward"][-1] > 0.9
    resp, _, mask = m.sample([[3]] * 8, 4, seed=0)
    v, _ = m.values([[3]] * 8, resp, mask)
    assert float(v.detach()[:, 0].mean()) == pytest.approx(1.0, abs=0.25)  # V(prompt) -> E[reward]
    with pytest.raises(ValueError, match="value_head"):
        train_seq_rl(TinyTextLM(12, hidden=8), [[3]], reward, cfg)
