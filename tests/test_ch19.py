"""Chapter 19: value-augmented decoding (VAS-style), best-of-N, TD(lambda) token values,
and soft value-based decoding (SVDD) of a 2-D diffusion model."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab import planning
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch19

torch = pytest.importorskip("torch")

from creditlab.algos import token_values  # noqa: E402
from creditlab.models import TinyTextLM, Toy2DDiffusion  # noqa: E402

torch.set_num_threads(1)


def _vas_plain(z, v, beta, k):
    keep = z >= np.sort(z)[-min(k, len(z))]
    out = np.full_like(z, -np.inf)
    out[keep] = z[keep] + beta * (v[keep] - v[keep].mean())
    return out


@settings(max_examples=40, deadline=None)
@given(V=st.integers(1, 30), k=st.integers(1, 35), beta=st.floats(-5, 5), seed=st.integers(0, 99),
       ties=st.booleans())
def test_value_augmented_logits_matches_plain(V, k, beta, seed, ties):
    rng = np.random.default_rng(seed)
    z, v = rng.normal(size=(3, V)), rng.normal(size=(3, V))
    if ties:
        z = np.round(z)  # ties at the k-th logit are kept
    z0, v0 = z.copy(), v.copy()
    got = planning.value_augmented_logits(z, v, beta, k)
    want = np.stack([_vas_plain(z[i], v[i], beta, k) for i in range(3)])
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_array_equal(z, z0)  # inputs not modified
    np.testing.assert_array_equal(v, v0)
    # the softmax is pi0 * exp(beta v) renormalised over the top-k
    keep = np.isfinite(got)
    p = np.exp(got - got.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    w = np.where(keep, np.exp(z + beta * v - (z + beta * v).max(-1, keepdims=True)), 0.0)
    np.testing.assert_allclose(p, w / w.sum(-1, keepdims=True), atol=1e-10)


def test_value_augmented_logits_composes_torch_and_none():
    rng = np.random.default_rng(0)
    z, v1, v2 = (rng.normal(size=(4, 9)) for _ in range(3))
    both = planning.value_augmented_logits(z, [v1, v2], [1.0, 2.0], None)
    np.testing.assert_allclose(both, planning.value_augmented_logits(z, v1 + 2 * v2, 1.0, None))
    np.testing.assert_allclose(planning.value_augmented_logits(z, v1, 0.0, None), z)
    t = planning.value_augmented_logits(torch.tensor(z, dtype=torch.float32),
                                        torch.tensor(v1, dtype=torch.float32), 1.0, 5)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), planning.value_augmented_logits(z, v1, 1.0, 5),
                               rtol=1e-5, atol=1e-5)
    vn = v1.copy()
    vn[0, np.argmin(z[0])] = np.nan  # outside the top-5 of row 0: never read
    np.testing.assert_array_equal(planning.value_augmented_logits(z, vn, 1.0, 5),
                                  planning.value_augmented_logits(z, v1, 1.0, 5))
    vn[0, np.argmax(z[0])] = np.nan  # inside: refused
    with pytest.raises(ValueError, match="values"):
        planning.value_augmented_logits(z, vn, 1.0, 5)
    with pytest.raises(ValueError, match="beta"):
        planning.value_augmented_logits(z, [v1, v2], 1.0)
    with pytest.raises(ValueError, match="values"):
        planning.value_augmented_logits(z, v1[:, :3], 1.0)


def test_best_of_n_kinds_and_ties():
    s = np.array([[0.0, 2.0, 2.0], [5.0, 1.0, 0.0]])
    c = np.arange(12.0).reshape(2, 3, 2)
    out = planning.best_of_n(c, s)
    np.testing.assert_array_equal(out.index, [1, 0])  # ties: the lowest index
    np.testing.assert_array_equal(out.chosen, [[2.0, 3.0], [6.0, 7.0]])
    np.testing.assert_array_equal(out.score, [2.0, 5.0])
    t = planning.best_of_n(torch.tensor(c), s)
    assert isinstance(t.chosen, torch.Tensor)
    np.testing.assert_array_equal(t.chosen.numpy(), out.chosen)
    lists = planning.best_of_n([["a", "b", "c"], ["d", "e", "f"]], s)
    assert lists.chosen == ["b", "d"]
    with pytest.raises(ValueError, match="candidates"):
        planning.best_of_n([["a", "b"], ["d", "e", "f"]], s)
    with pytest.raises(ValueError, match="scores"):
        planning.best_of_n(c, s[0])


@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.01, 0.99), n=st.integers(1, 64))
def test_best_of_n_kl_exact_and_bounded(p, n):
    k = planning.best_of_n_kl(p, n)
    assert 0.0 <= k <= np.log(n) - (n - 1) / n + 1e-9
    # against the two-outcome distributions written out
    q = 1 - (1 - p) ** n
    pi, pi0 = np.array([q, 1 - q]), np.array([p, 1 - p])
    nz = pi > 0
    np.testing.assert_allclose(k, (pi[nz] * np.log(pi[nz] / pi0[nz])).sum(), atol=1e-12)


def test_best_of_n_kl_monte_carlo():
    # best_of_n on draws of a 3-outcome base (reward 1 on outcome 2 only): the empirical KL
    # of the chosen outcome to the base equals best_of_n_kl(p, n) within Monte Carlo error
    rng = np.random.default_rng(0)
    probs, n, K = np.array([0.5, 0.2, 0.3]), 4, 200_000
    draws = rng.choice(3, size=(K, n), p=probs)
    chosen = planning.best_of_n(draws, (draws == 2).astype(float)).chosen
    q = np.bincount(np.asarray(chosen), minlength=3) / K
    kl = float(np.sum(q * np.log(q / probs)))
    assert abs(kl - planning.best_of_n_kl(probs[2], n)) < 0.005
    assert abs(kl - planning.best_of_n_kl(probs[2], n + 1)) > 0.02  # the check can fail


@settings(max_examples=30, deadline=None)
@given(K=st.integers(1, 20), alpha=st.floats(1e-3, 100.0), seed=st.integers(0, 99))
def test_soft_value_between_mean_and_max(K, alpha, seed):
    r = np.random.default_rng(seed).normal(size=K) * 3
    v = planning.soft_value(r, alpha)
    assert r.mean() - 1e-9 <= v <= r.max() + 1e-9
    np.testing.assert_allclose(planning.soft_value(r, 0.0), r.max())
    np.testing.assert_allclose(planning.soft_value(r, 1e6), r.mean(), atol=1e-4)
    big = planning.soft_value(r * 1000, 1e-3)  # no overflow
    assert np.isfinite(big)


def _targets_plain(R, q, lam, gamma):
    G = np.zeros(len(q))
    G[-1] = R
    for t in range(len(q) - 2, -1, -1):
        G[t] = gamma * ((1 - lam) * q[t + 1] + lam * G[t + 1])
    return G


@settings(max_examples=40, deadline=None)
@given(lens=st.lists(st.integers(1, 6), min_size=1, max_size=5), lam=st.floats(0, 1),
       gamma=st.floats(0, 1), seed=st.integers(0, 99))
def test_token_q_targets_match_backward_loop(lens, lam, gamma, seed):
    rng = np.random.default_rng(seed)
    T = max(lens)
    q = rng.normal(size=(len(lens), T))
    R = rng.normal(size=len(lens))
    mask = np.arange(T)[None, :] < np.array(lens)[:, None]
    got = token_values.token_q_targets(R, q, mask, gamma=gamma, lam=lam)
    for b, L in enumerate(lens):
        np.testing.assert_allclose(got[b, :L], _targets_plain(R[b], q[b, :L], lam, gamma),
                                   atol=1e-10)
        assert (got[b, L:] == 0).all()
    # lam = 1, gamma = 1: every token's target is the final reward (Monte Carlo)
    mc = token_values.token_q_targets(R, q, mask, gamma=1.0, lam=1.0)
    np.testing.assert_allclose(mc, np.where(mask, R[:, None], 0.0), atol=1e-12)


def test_fit_token_q_learns_the_base_values():
    # base model: uniform over 5 tokens, 2 tokens then anything; reward 1 iff token 3 first
    base = TinyTextLM(6, embed=4, hidden=8, seed=0)
    with torch.no_grad():
        base.head.weight.zero_()
        base.head.bias.zero_()
    base.requires_grad_(False)
    q = token_values.q_model(base, seed=1)
    w0 = base.head.weight.clone()

    def reward(prompts, resp, mask):
        return (resp[:, 0] == 3).numpy().astype(float)

    losses = token_values.fit_token_q(q, base, [[4]], reward, iterations=60, batch_size=64,
                                      max_len=2, lr=1e-2, seed=0)
    assert losses[-10:].mean() < losses[:10].mean()
    assert torch.equal(base.head.weight, w0)  # the base model is not touched
    with torch.no_grad():
        q0 = q.logits([[4]], [[0]])[0, 0]  # Q(s_0, .) after the prompt
    assert q0[3] > 0.8 and q0[[0, 1, 2, 4, 5]].abs().max() < 0.2


def test_value_augmented_sample_matches_its_logits():
    base = TinyTextLM(8, embed=4, hidden=8, seed=0).requires_grad_(False)
    q = TinyTextLM(8, embed=4, hidden=8, seed=1).requires_grad_(False)
    prompts = [[3, 4], [5], [6, 7, 3]]
    out = planning.value_augmented_sample(base, q, prompts, beta=1.5, max_len=5, top_k=4,
                                          seed=0)
    with torch.no_grad():
        z = base.logits(prompts, out.responses)
        v = q.logits(prompts, out.responses)
    pol = torch.log_softmax(planning.value_augmented_logits(z, v, 1.5, 4), -1)
    ref = pol.gather(-1, out.responses.unsqueeze(-1)).squeeze(-1).masked_fill(~out.mask, 0.0)
    torch.testing.assert_close(out.logp, ref, rtol=1e-4, atol=1e-4)
    lb, _ = base.logprobs(prompts, out.responses, out.mask)
    torch.testing.assert_close(out.base_logp, lb, rtol=1e-4, atol=1e-4)
    # beta = 0 and no top-k: the decoding policy is the base model
    o0 = planning.value_augmented_sample(base, [q], prompts, beta=[0.0], max_len=5, top_k=None,
                                         seed=3)
    torch.testing.assert_close(o0.logp, o0.base_logp, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="q_models"):
        planning.value_augmented_sample(base, TinyTextLM(9, embed=4, hidden=8), prompts,
                                        beta=1.0, max_len=3)


def test_sample_logits_processor_hook():
    # the hook TinyTextLM.sample offers (VAS decodes through it): an identity processor
    # changes nothing, it sees the previous step's tokens, and start/advance match logits()
    lm = TinyTextLM(8, embed=4, hidden=8, seed=0).requires_grad_(False)
    prompts = [[3, 4], [5], [6, 7, 3]]
    seen = []

    def ident(z, prev, t):
        seen.append(prev)
        return z

    a = lm.sample(prompts, 6, top_k=4, seed=2)
    b = lm.sample(prompts, 6, top_k=4, seed=2, logits_processor=ident)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert seen[0] is None and all(torch.equal(seen[t], b[0][:, t - 1])
                                   for t in range(1, len(seen)))
    h, z = lm.start(prompts)
    zs = [z]
    for t in range(b[0].shape[1] - 1):
        h, z = lm.advance(h, b[0][:, t])
        zs.append(z)
    torch.testing.assert_close(torch.stack(zs, 1), lm.logits(prompts, b[0]), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(TypeError, match="logits_processor"):
        lm.sample(prompts, 3, logits_processor=5)


def test_value_augmented_sample_raises_the_value():
    base = TinyTextLM(6, embed=4, hidden=8, seed=0)
    with torch.no_grad():
        base.head.weight.zero_()
        base.head.bias.zero_()
    q = token_values.q_model(base)
    with torch.no_grad():
        q.head.bias[3] = 1.0  # token 3 is worth 1, the others 0
    out = planning.value_augmented_sample(base, q, [[4]] * 2000, beta=3.0, max_len=1,
                                          top_k=None, seed=0)
    share = (out.responses[:, 0] == 3).float().mean().item()
    want = np.exp(3.0) / (np.exp(3.0) + 5)  # pi0 exp(beta Q), uniform pi0 over 6 tokens
    assert abs(share - want) < 0.03


def _svdd_plain(model, value_fn, n, M, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 2), generator=gen)
    for t in range(model.steps, 0, -1):
        cand = model.step(x, t, M=M, seed=gen).x_prev
        v = value_fn(cand.reshape(n * M, 2), t - 1).reshape(n, M)
        x = cand[torch.arange(n), v.argmax(1)]
    return x


def _sector(x):
    x = np.asarray(x)
    return (np.abs(np.arctan2(x[:, 1], x[:, 0])) < np.pi / 8).astype(float)


def test_svdd_sample_matches_plain_loop_and_counts():
    dm = Toy2DDiffusion(steps=4, hidden=8, layers=1, seed=0).requires_grad_(False)
    pm = planning.posterior_mean_value(dm, _sector)
    out = planning.svdd_sample(dm, pm, 32, M=5, seed=2)
    torch.testing.assert_close(out.samples, _svdd_plain(dm, pm, 32, 5, seed=2))
    assert out.x.shape == (32, 5, 2) and out.values.shape == (32, 4) and out.calls == 20
    torch.testing.assert_close(out.x[:, -1], out.samples)
    # the last kept value is the reward of the sample itself (x0_hat at t = 0 is x)
    np.testing.assert_allclose(out.values[:, -1].numpy(), _sector(out.samples.numpy()))
    # M = 1 keeps the only candidate: ancestral sampling, whatever the value
    one = planning.svdd_sample(dm, pm, 8, M=1, seed=5)
    ref = _svdd_plain(dm, lambda x, t: torch.zeros(len(x)), 8, 1, seed=5)
    torch.testing.assert_close(one.samples, ref)
    with pytest.raises(ValueError, match="value_fn"):
        planning.svdd_sample(dm, lambda x, t: torch.zeros(3), 4, M=2)
    with pytest.raises(ValueError, match="alpha"):
        planning.svdd_sample(dm, pm, 4, alpha=-1.0)


def test_svdd_soft_selection_follows_exp_v_over_alpha():
    # one step, values 0 / 1 by the sign of the first coordinate: the kept candidate is
    # positive with the probability of the softmax rule (averaged over candidate draws)
    dm = Toy2DDiffusion(steps=2, hidden=8, layers=1, seed=0).requires_grad_(False)
    alpha, M, n = 0.5, 4, 4000
    base = planning.svdd_sample(dm, lambda x, t: torch.zeros(len(x)), n, M=1, seed=0)
    thr = float(base.x[:, 1, 0].median())  # half of the base model's first steps are above

    def vf(x, t):
        return (x[:, 0] > thr).float()

    out = planning.svdd_sample(dm, vf, n, M=M, alpha=alpha, seed=1)
    hard = planning.svdd_sample(dm, vf, n, M=M, alpha=0.0, seed=1)
    frac = [float((o.x[:, 1, 0] > thr).float().mean()) for o in (base, out, hard)]
    assert frac[0] + 0.1 < frac[1] < frac[2] - 0.02  # soft lies between base and argmax


    # the rule itself: values drawn 0 / 1 with probability 1/2, independently of x, so k of
    # the M candidates have v = 1 with a binomial law and the kept one has v = 1 with
    # probability sum_k C(M, k) 2^-M k e^{1/alpha} / (k e^{1/alpha} + M - k)
    def closed(a, p=0.5):
        return sum(comb(M, k) * p**k * (1 - p) ** (M - k) * k * np.exp(1 / a)
                   / (k * np.exp(1 / a) + M - k) for k in range(1, M + 1))

    g = torch.Generator().manual_seed(5)

    def coin(x, t):
        return (torch.rand(len(x), generator=g) < 0.5).float()

    kept = float(planning.svdd_sample(dm, coin, n, M=M, alpha=alpha, seed=2).values.mean())
    assert abs(kept - closed(alpha)) < 0.02  # 2n draws: SE about 0.005
    for wrong in (alpha / 2, alpha / 1.25, alpha * 1.25, alpha * 2):  # a wrong temperature fails
        assert abs(kept - closed(wrong)) > 0.03


def test_stored_answers_and_wrong_answers():
    fresh = ch19.make_cases()
    stored = check_mod._cases("ch19")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch19 as sol

    assert cl.check("ch19.value_augmented_logits", sol.value_augmented_logits)
    assert cl.check("ch19.bon_binary_kl", sol.bon_binary_kl)
    assert cl.check("ch19.soft_value", sol.soft_value)
    with pytest.raises(AssertionError):  # no top-k
        cl.check("ch19.value_augmented_logits",
                 lambda base_logits, values, beta, top_k: base_logits + beta * values)
    with pytest.raises(AssertionError):  # the general bound, not the exact KL
        cl.check("ch19.bon_binary_kl", lambda p, n: np.log(n) - (n - 1) / n)
    with pytest.raises(AssertionError):  # the mean, whatever alpha
        cl.check("ch19.soft_value", lambda rewards, alpha: float(np.mean(rewards)))
