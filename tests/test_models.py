"""TinyTextLM: log-probs by hand, sampling (greedy limit, EOS masks, determinism), KL,
EMA, save/load; the corpora's checkers; the light import of creditlab."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from creditlab.models import (
    EOS,
    ArithmeticCorpus,
    DialogueCorpus,
    InstructionCorpus,
    SceneCorpus,
    TinyTextLM,
    Vocab,
    ema_copy,
    ema_update,
    kl,
    kl_penalty,
    pad_sequences,
    response_mask,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> TinyTextLM:
    return TinyTextLM(12, embed=8, hidden=16, seed=3)


PROMPTS = [[3, 4, 5], [6]]
RESPONSES = [[7, 8, EOS], [9, 10, 11, EOS]]


def test_size_and_params_formula():
    m = TinyTextLM(40)
    V, e, h = 40, 32, 96
    assert m.n_params == V * e + 3 * (e * h + h * h + 2 * h) + h * V + V
    assert m.n_params <= 100_000


def test_logprobs_equal_log_softmax_picks_by_hand(model):
    lp, mask = model.logprobs(PROMPTS, RESPONSES)
    assert lp.shape == (2, 4) and mask.dtype == torch.bool
    np.testing.assert_array_equal(mask.numpy(), [[1, 1, 1, 0], [1, 1, 1, 1]])
    with torch.no_grad():
        for b, (p, r) in enumerate(zip(PROMPTS, RESPONSES)):
            ids = torch.tensor([[1, *p, *r]])  # BOS + prompt + response, no padding
            logits, _ = model(ids)
            logsm = torch.log_softmax(logits[0], -1)
            for t, tok in enumerate(r):
                want = logsm[len(p) + t, tok]  # predicted from the position before it
                assert float(lp[b, t]) == pytest.approx(float(want), abs=1e-5)
        assert float(lp[0, 3]) == 0.0  # masked
    # the sequence log-prob is the sum
    np.testing.assert_allclose(model.sequence_logprob(PROMPTS, RESPONSES).detach(),
                               lp.detach().sum(1), rtol=1e-6)


def test_temperature_to_zero_equals_greedy(model):
    prompts = [[3, 4], [5, 6, 7], [8]]
    greedy, glp, gm = model.sample(prompts, 6, temperature=0.0)
    for seed in range(3):
        cold, clp, cm = model.sample(prompts, 6, temperature=1e-4, seed=seed)
        torch.testing.assert_close(cold, greedy)
        torch.testing.assert_close(clp, glp)
    # greedy is the argmax step by step (checked with logprobs of prefixes)
    for b, p in enumerate(prompts):
        row = greedy[b][gm[b]].tolist()
        for t in range(len(row)):
            logits = model.logits([p], [row[: t + 1]])[0, t]
            assert int(logits.argmax()) == row[t]


def test_sample_logprobs_and_masks_like_verl():
    m = TinyTextLM(8, embed=8, hidden=16, seed=0)
    with torch.no_grad():  # make EOS likely so that rows end at different times
        m.head.bias[EOS] += 2.0
    r, lp, mask = m.sample([[3], [4, 5], [6]] * 4, 10, seed=1)
    assert r.dtype == torch.int64 and lp.dtype == torch.float32 and mask.dtype == torch.bool
    np.testing.assert_array_equal(mask, response_mask(r))
    for row, mk in zip(r.tolist(), mask.tolist()):
        if EOS in row:
            k = row.index(EOS)
            assert mk[: k + 1] == [True] * (k + 1) and not any(mk[k + 1 :])  # EOS kept
            assert all(v == 0 for v in row[k + 1 :])  # PAD after
    assert (~mask).any(), "some row should end before the longest"
    # the returned log-probs are the model's own (what logprobs() gives)
    lp2, _ = m.logprobs([[3], [4, 5], [6]] * 4, r, mask)
    torch.testing.assert_close(lp, lp2.detach(), atol=1e-5, rtol=0)


def test_response_mask_formula():
    r = torch.tensor([[5, EOS, 0, 0], [5, 6, 7, 8], [EOS, 5, EOS, 0]])
    np.testing.assert_array_equal(response_mask(r).numpy(),
                                  [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]])


def test_sampling_is_deterministic_given_a_seed(model):
    a = model.sample(PROMPTS, 5, seed=7, top_k=3)
    b = model.sample(PROMPTS, 5, seed=7, top_k=3)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    # same construction seed -> same weights
    assert TinyTextLM(12, embed=8, hidden=16, seed=3).to_bytes() == model.to_bytes()


def test_top_k_one_is_greedy(model):
    g = model.sample(PROMPTS, 5, temperature=0.0)[0]
    k1 = model.sample(PROMPTS, 5, temperature=2.0, top_k=1, seed=4)[0]
    torch.testing.assert_close(g, k1)


def test_kl_kinds(model):
    other = TinyTextLM(12, embed=8, hidden=16, seed=4)
    full = kl(model, model, PROMPTS, RESPONSES)
    assert float(full.detach().abs().max()) < 1e-6
    full = kl(model, other, PROMPTS, RESPONSES)
    _, mask = model.logprobs(PROMPTS, RESPONSES)
    assert (full[mask] > 0).all() and (full[~mask] == 0).all()
    # the exact KL by hand at one position
    with torch.no_grad():
        lg = model.logits(PROMPTS, RESPONSES)[0, 1]
        rg = other.logits(PROMPTS, RESPONSES)[0, 1]
        p, q = torch.log_softmax(lg, -1), torch.log_softmax(rg, -1)
        assert float(full[0, 1]) == pytest.approx(float((p.exp() * (p - q)).sum()), abs=1e-6)
    d = torch.tensor([[0.5, -0.2]])
    zero = torch.zeros_like(d)
    torch.testing.assert_close(kl_penalty(d, zero, "k1"), d)
    torch.testing.assert_close(kl_penalty(d, zero, "k2"), 0.5 * d * d)
    torch.testing.assert_close(kl_penalty(d, zero, "k3"), torch.exp(-d) + d - 1)
    torch.testing.assert_close(kl_penalty(d, zero, "abs"), d.abs())
    k3 = kl(model, other, PROMPTS, RESPONSES, kind="k3")
    assert (k3[mask] >= 0).all() and (k3[~mask] == 0).all()


def test_ema(model):
    a = TinyTextLM(12, embed=8, hidden=16, seed=0)
    b = TinyTextLM(12, embed=8, hidden=16, seed=1)
    t = ema_copy(a)
    assert not any(p.requires_grad for p in t.parameters())
    ema_update(t, b, 0.75)
    for pt, pa, pb in zip(t.parameters(), a.parameters(), b.parameters()):
        torch.testing.assert_close(pt, 0.75 * pa + 0.25 * pb)
    t2 = ema_copy(a).ema_update(b, 0.75)
    for p1, p2 in zip(t.parameters(), t2.parameters()):
        torch.testing.assert_close(p1, p2)
    ema_update(t, b, 0.0)
    for pt, pb in zip(t.parameters(), b.parameters()):
        torch.testing.assert_close(pt, pb)
    with pytest.raises(ValueError, match="tau"):
        ema_update(t, b, 1.5)
    with pytest.raises(ValueError, match="architecture"):
        ema_update(t, TinyTextLM(12, embed=8, hidden=8), 0.5)


def test_save_load_bytes(model):
    data = model.to_bytes()
    assert isinstance(data, bytes)
    back = TinyTextLM.from_bytes(data)
    assert back.config == model.config
    torch.testing.assert_close(back.logprobs(PROMPTS, RESPONSES)[0],
                               model.logprobs(PROMPTS, RESPONSES)[0])
    v = TinyTextLM(12, embed=8, hidden=16, value_head=True)
    torch.testing.assert_close(TinyTextLM.from_bytes(v.to_bytes()).values(PROMPTS, RESPONSES)[0],
                               v.values(PROMPTS, RESPONSES)[0])
    with pytest.raises(TypeError, match="data"):
        TinyTextLM.from_bytes("not bytes")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m.logprobs([[1]], [[3], [4]]), "batch size"),
        (lambda m: m.logprobs([[1]], [[99]]), "responses"),
        (lambda m: m.logprobs([[1]], [[3]], response_mask=[[1]]), "response_mask"),
        (lambda m: m.logprobs("abc", [[3]]), "prompts"),
        (lambda m: m.sample([[3]], 0), "max_len"),
        (lambda m: m.sample([[3]], 4, temperature=-1.0), "temperature"),
        (lambda m: m.sample([[3]], 4, top_k=0), "top_k"),
        (lambda m: kl(m, "ref", [[3]], [[4]]), "reference"),
        (lambda m: kl(m, m, [[3]], [[4]], kind="k9"), "kind"),
        (lambda m: TinyTextLM(2), "vocab_size"),
        (lambda m: m.values([[3]], [[4]]), "value_head"),
        (lambda m: TinyTextLM(12, value_head=1), "value_head"),
        (lambda m: pad_sequences([[1.5]], "xs"), "xs"),
    ],
)
def test_bad_input_names_the_argument(model, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(model)


# --------------------------------------------------------------------------------------
# corpora


def test_vocab_round_trip():
    v = Vocab(("a", "b", "a"))
    assert v.tokens == ("<pad>", "<bos>", "<eos>", "a", "b")
    assert v.encode("a b") == [3, 4]
    assert v.decode([1, 3, 4, 2, 3]) == ["a", "b"]
    with pytest.raises(ValueError, match="vocabulary"):
        v.encode("c")


@pytest.mark.parametrize("thoughts", [False, True])
@pytest.mark.parametrize("answer", ["short", "long"])
def test_arithmetic_references_pass_the_checker(thoughts, answer):
    c = ArithmeticCorpus(2, thoughts=thoughts, answer=answer)
    ex = c.examples(200, seed=0)
    assert ex == c.examples(200, seed=0)
    P, R = c.encode(ex)
    for e, p, r in zip(ex, P, R):
        assert c.check(e.prompt, e.response) and c.check(p, r)
        assert c.exact_match(p, r)
        assert e.info["a"] + e.info["b"] == e.info["sum"]
        wrong = list(e.response)
        j = len(wrong) - 1 if answer == "short" else wrong.index(":") - 1
        wrong[j] = str((int(wrong[j]) + 1) % 10)
        assert not c.check(e.prompt, wrong)
    if answer == "long":
        lengths = [len(e.response) for e in ex if not thoughts]
        if lengths:
            assert 10 <= np.median(lengths) <= 20
    assert ArithmeticCorpus(1).examples(1, seed=0)[0].response  # 1-2 tokens
    assert max(len(e.response) for e in ArithmeticCorpus(1).examples(300)) <= 2


def test_arithmetic_thoughts_are_column_sums():
    c = ArithmeticCorpus(2, thoughts=True)
    assert c.reference(47, 38) == ("<think>", "5", "c1", "8", "c0", "</think>", "8", "5")
    assert ArithmeticCorpus(2, answer="long").reference(47, 38) == tuple(
        "answer 8 5 : 7 + 8 = 1 5 ; 4 + 3 + 1 = 8".split())


def test_dialogue_rule_and_followups():
    c = DialogueCorpus()
    ex = c.examples(300, seed=0)
    sat = np.array([e.info["satisfied"] for e in ex])
    assert 0.4 < sat.mean() < 0.6
    for e in ex:
        assert c.check(e.prompt, e.response) == e.info["satisfied"]
        pool = c.positive_followups if e.info["satisfied"] else c.negative_followups
        assert e.info["followup"] in pool
    P, R = c.followup_data(ex[:3])
    assert c.vocab.decode(P[0])[-1] == "user" and R[0][-1] == EOS


def test_scene_segment_truth():
    c = SceneCorpus(p_error=0.5)
    for e in c.examples(300, seed=0):
        truth = c.segment_truth(e.prompt, e.response)
        assert len(truth) == 3
        for (kind, ok), err in zip(truth, e.info["errors"]):
            assert ok == (err is None)
            if err is not None:
                assert kind == err
        assert c.check(e.prompt, e.response) == all(x is None for x in e.info["errors"])
    p = ("scene", "circle", "red", "left-of", "square", "blue")
    assert c.check(p, "red circle . blue square . square right-of circle .".split())
    assert c.segment_truth(p, "red star . green square .".split()) == [
        ("object", False), ("attribute", False)]


def test_instruction_judgments_name_the_wrong_tokens():
    c = InstructionCorpus(p_error=0.5)
    for e in c.examples(300, seed=0):
        w = c.wrong_tokens(e.prompt, e.response)
        assert w == e.info["wrong"]
        j = e.info["judgment"]
        if any(w):
            assert j[0] == "wrong" and set(j[1:]) == {t for t, x in zip(e.response, w) if x}
        else:
            assert j == ("good",) and c.check(e.prompt, e.response)
    p = ("sort", "c", "a", "b", "->")
    assert c.judgment(p, ["a", "b", "d"]) == ("wrong", "d")
    assert c.with_judgment(p, ("wrong", "d"))[:4] == ("judgment", "wrong", "d", "|")
    c.vocab.encode(c.with_judgment(p, ("wrong", "d")))  # in the vocabulary


def test_import_creditlab_stays_free_of_torch():
    code = "import sys, creditlab, creditlab.prefs; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
