"""Chapter 9: implicit process rewards, SIOP turn rewards, OPRL / PRIME advantages,
answer clustering, the hidden-answer search task and the trainer's advantage_fn hook."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.advantages import grpo, masked_whiten, oprl_advantages, prime_advantages, rloo
from creditlab.envs.hidden_answer import HiddenAnswerConfig, rollout_search
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch09
from creditlab.returns import discounted_returns
from creditlab.rewards import answer_clusters, implicit_process_reward
from creditlab.shaping import outcome_potential_rewards

torch = pytest.importorskip("torch")


def _prefix_mask(rng, B, T):
    L = rng.integers(1, T + 1, B)
    return np.arange(T)[None] < L[:, None]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 7),
       st.floats(0.01, 2.0))
def test_implicit_reward_telescopes(seed, B, T, beta):
    rng = np.random.default_rng(seed)
    a, b = -rng.random((B, T)) * 3, -rng.random((B, T)) * 3
    m = _prefix_mask(rng, B, T)
    r = implicit_process_reward(a, b, beta, response_mask=m)
    np.testing.assert_allclose(r.sum(1), beta * np.where(m, a - b, 0).sum(1), atol=1e-12)
    rt = implicit_process_reward(torch.tensor(a), torch.tensor(b), beta,
                                 response_mask=torch.tensor(m))
    np.testing.assert_allclose(rt.numpy(), r)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 7),
       st.floats(0.0, 1.0))
def test_siop_rewards_telescope(seed, B, T, lam):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 1, (B, T + 1))
    q = rng.random(B)
    m = _prefix_mask(rng, B, T)
    r = outcome_potential_rewards(p, q, lam=lam, response_mask=m)
    L = m.sum(1)
    want = q * np.log((p[np.arange(B), L] + 1e-8) / (p[:, 0] + 1e-8)) + (1 - lam) * q
    np.testing.assert_allclose(r.sum(1), want, atol=1e-10)
    assert (r[~m] == 0).all()


def test_prime_advantages_match_the_code_form():
    rng = np.random.default_rng(0)
    K, B, T = 4, 8, 5
    r, o = rng.normal(size=(B, T)), rng.integers(0, 2, B).astype(float)
    m = _prefix_mask(rng, B, T)
    g = np.arange(B) // K
    rm = np.where(m, r, 0)
    mean = rm.sum(1) / m.sum(1)
    # PRIME's code: r'_{i,t} = r_{i,t} K/(K-1) - sum_j m_j / (K-1)
    tot = np.array([mean[g == gi].sum() for gi in g])
    dense = np.where(m, r * K / (K - 1) - tot[:, None] / (K - 1), 0)
    G = discounted_returns(dense, 1.0, response_mask=m) + rloo(o, g)[:, None]
    want = np.where(m, masked_whiten(np.where(m, G, 0), m), 0)
    np.testing.assert_allclose(prime_advantages(r, o, g, m), want, atol=1e-10)


def test_oprl_advantages_are_grpo_plus_pooled_zscore():
    rng = np.random.default_rng(1)
    B, T, K = 6, 4, 3
    r, o = rng.normal(size=(B, T)), rng.integers(0, 2, B).astype(float)
    m = _prefix_mask(rng, B, T)
    g = np.arange(B) // K
    A = oprl_advantages(o, r, g, m, alpha=0.5)
    for gi in range(B // K):
        rows = g == gi
        pool = r[rows][m[rows]]
        z = (r[rows] - pool.mean()) / (pool.std(ddof=1) + 1e-6)
        want = grpo(o, g)[rows][:, None] + 0.5 * z
        np.testing.assert_allclose(A[rows][m[rows]], want[m[rows]], atol=1e-10)
    assert (A[~m] == 0).all()


def test_answer_clusters_equality_and_equiv_fn():
    ans = np.array([1, 1, 2, 0, 0, 0])
    c, f, maj = answer_clusters(ans, [0, 0, 0, 1, 1, 1], valid=np.array([1, 1, 1, 1, 1, 0], bool))
    np.testing.assert_allclose(f, [2 / 3, 2 / 3, 1 / 3, 2 / 3, 2 / 3, 0])
    assert maj.tolist() == [True, True, False, True, True, False]
    assert c[5] == -1 and c[0] == c[1] == 0
    words = np.array(["Paris", "paris", "Rome"], dtype=object)
    _, f2, _ = answer_clusters(words, [0, 0, 0], equiv_fn=lambda a, b: a.lower() == b.lower())
    np.testing.assert_allclose(f2, [2 / 3, 2 / 3, 1 / 3])


def test_reader_is_bayes_and_answers_without_evidence_pick_candidate_zero():
    cfg = HiddenAnswerConfig(n_candidates=3, accuracy=0.6, horizon=4)
    rng = np.random.default_rng(0)
    answer_now = np.tile([0.0, 0.0, 1.0], (cfg.n_states, 1))
    ep = rollout_search(answer_now, cfg, 50, 2, rng)
    assert (ep.final == 0).all() and (ep.lengths == 1).all()
    search_then = np.tile([1.0, 0.0, 0.0], (cfg.n_states, 1))
    search_then[(cfg.horizon - 1) * cfg.n_bins:] = [0, 0, 1]
    ep = rollout_search(search_then, cfg, 2000, 1, rng)
    assert ep.correct.mean() > 0.6  # three searches beat one (0.6)
    np.testing.assert_allclose(ep.post.sum(-1), 1.0)


def test_trainer_advantage_fn_hook():
    from creditlab.algos import train
    from creditlab.algos.implicit_credit import OPRLCredit, PRIMECredit

    env = cl.envs.StepChainConfig(horizon=4)
    for fn in (OPRLCredit(env, hidden=8, sft_steps=5), PRIMECredit(env, hidden=8, sft_steps=5,
                                                                   update_until=1)):
        res = train(env, "honest", advantage_fn=fn, iterations=2, eval_every=1, eval_episodes=20,
                    sft_steps=5, hidden=8, n_prompts=4, credit="none", vr_fraction=1.0,
                    progress=False)
        assert len(fn.history["implicit_score"]) == 2 and len(res.history["accuracy"]) == 3
    with pytest.raises(ValueError, match="advantage_fn"):
        train(env, advantage_fn=lambda *a: np.zeros((1, 1)), reward_fn=lambda *a: None,
              iterations=1)
    with pytest.raises(ValueError, match="shape"):
        train(env, advantage_fn=lambda *a: np.zeros((1, 1)), iterations=1, sft_steps=1,
              eval_episodes=5, progress=False)


def test_stored_answers_match_the_library():
    fresh, stored = ch09.make_cases(), check_mod._cases("ch09")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)


def test_siop_without_terminal_term_fails_the_check():
    def no_terminal(p_hat, q, lam):
        return q * np.diff(np.log(np.asarray(p_hat) + 1e-8))

    with pytest.raises(AssertionError):
        cl.check("ch09.outcome_potential_rewards", no_terminal)


def test_prime_credit_dense_reward_is_beta_times_logratio():
    """PRIME's code: r = q * beta (beta_train = 0.05), not the raw log-ratio q."""
    import copy

    from creditlab.algos.implicit_credit import PRIMECredit
    from creditlab.algos.stepchain_pg import MLPPolicy, sample_episodes
    from creditlab.rewards import make_prm

    env = cl.envs.StepChainConfig(horizon=5)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    pol = MLPPolicy(env.obs_dim, env.n_actions, 8)
    ep = sample_episodes(pol, env, make_prm("honest"), 4, 4, rng)
    g, m = np.arange(16) // 4, ep.mask
    for w, kw in ((0.05, {}), (0.05, {"beta": 0.05}), (0.3, {"dense_weight": 0.3})):
        fn = PRIMECredit(env, hidden=8, sft_steps=5, seed=1, **kw)
        fn.model.load_state_dict(copy.deepcopy(fn.ref.state_dict()))
        with torch.no_grad():  # move phi away from ref so that q != 0
            for p in fn.model.parameters():
                p.add_(0.3 * torch.randn_like(p))
            q = (fn.logp(fn.model, ep) - fn.logp(fn.ref, ep)).numpy().astype(np.float64)
        A = fn(ep, 4, rng)
        np.testing.assert_allclose(A, prime_advantages(w * np.where(m, q, 0), ep.correct, g, m),
                                   atol=1e-9)
        assert np.abs(A - prime_advantages(np.where(m, q, 0), ep.correct, g, m)).max() > 1e-3
    with pytest.raises(ValueError, match="dense_weight"):
        PRIMECredit(env, hidden=8, sft_steps=5, dense_weight=0.0)
