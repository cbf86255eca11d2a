"""Chapter 17: HeRL's bonus and off-policy loss, NPO-style guide signal, temporal
self-rewarding pairs, and the three small loops built on them (creditlab.algos.guided)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch17
from creditlab.prefs import build_pairs, mine_pairs

torch = pytest.importorskip("torch")

from creditlab.algos import guided  # noqa: E402  (needs torch)
from creditlab.algos.stepchain_pg import Episodes  # noqa: E402
from creditlab.envs.stepchain import StepChainConfig  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.floats(0, 1))
def test_improvement_bonus_matches_the_plain_formula(seed, N, alpha):
    rng = np.random.default_rng(seed)
    r = rng.random(N)
    g = np.where(rng.random(N) < 0.4, np.nan, rng.random(N))
    r_in, g_in = r.copy(), g.copy()
    got = guided.improvement_bonus(r, g, alpha)
    want = np.array([ri if np.isnan(gi) else ri + alpha * (gi - ri) for ri, gi in zip(r, g)])
    np.testing.assert_allclose(got, want)
    np.testing.assert_array_equal(r, r_in)
    np.testing.assert_array_equal(g, g_in)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(1, 6),
       st.sampled_from([0.5, 1.0, 3.0]))
def test_offpolicy_loss_value_and_gradient(seed, B, T, gamma):
    rng = np.random.default_rng(seed)
    lp, lb, adv = rng.normal(size=(B, T)), rng.normal(size=(B, T)), rng.normal(size=(B, T))
    m = rng.random((B, T)) < 0.7
    m[0, 0] = True
    x = torch.tensor(lp, requires_grad=True)
    loss = guided.offpolicy_token_loss(x, torch.tensor(lb), torch.tensor(adv),
                                       torch.tensor(m), gamma=gamma)
    rho = np.exp(lp - lb)
    want = -(adv * rho / (rho + gamma) * m).sum() / m.sum()
    np.testing.assert_allclose(loss.item(), want, rtol=1e-10)
    loss.backward()
    w = adv * gamma * rho / (rho + gamma) ** 2 * m / m.sum()
    np.testing.assert_allclose(x.grad.numpy(), -w, rtol=1e-8, atol=1e-12)


def test_offpolicy_weight_peaks_at_gamma():
    rho = np.exp(np.linspace(-4, 4, 201))
    x = torch.tensor(np.log(rho), requires_grad=True)
    guided.offpolicy_token_loss(x, torch.zeros(201, dtype=torch.float64),
                                torch.ones(201, dtype=torch.float64), gamma=1.0).backward()
    assert np.isclose(rho[np.argmax(-x.grad.numpy())], 1.0)


def test_signal_quality_estimators():
    s = np.array([0.0, 0.5, 1.0, 0.2])
    assert guided.guide_gain(s, s) == 0.0
    assert guided.guide_gain(np.ones(3), np.zeros(3)) == 0.0  # the learner fails nowhere
    np.testing.assert_allclose(guided.guide_gain(np.zeros(2), np.array([1.0, 0.5])), 0.75)
    lp = np.log(np.random.default_rng(0).random((3, 4)))
    assert guided.ratio_second_moment(lp, lp) == pytest.approx(1.0)
    assert guided.ratio_second_moment(lp + 0.5, lp) == pytest.approx(np.e)
    np.testing.assert_allclose(guided.signal_quality([0.5, 0.2], [1.0, 4.0]), [0.5, 0.05])
    with pytest.raises(ValueError, match="v must"):
        guided.signal_quality([0.1], [0.0])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(2, 5))
def test_build_pairs_self_is_best_vs_worst(seed, G, n):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, G * n).astype(float)  # ties happen
    idx = np.repeat(np.arange(G), n)
    c, r = build_pairs(s, idx)
    c2, r2 = mine_pairs(s, idx, k=1)
    np.testing.assert_array_equal(s[c], s[c2])
    np.testing.assert_array_equal(s[r], s[r2])
    assert (s[c] > s[r]).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_build_pairs_temporal_matches_the_solution(seed, G):
    from creditlab.solutions.ch17 import temporal_pairs

    rng = np.random.default_rng(seed)
    a_idx = rng.permutation(np.concatenate([np.arange(G), rng.integers(0, G, 2 * G)]))
    f_idx = rng.permutation(a_idx)
    a_s, f_s = rng.normal(size=3 * G), rng.normal(size=3 * G)
    groups = rng.permutation(G)
    c, r = build_pairs(np.zeros(G), groups, mode="temporal", anchor_scores=a_s,
                       anchor_index=a_idx, future_scores=f_s, future_index=f_idx)
    np.testing.assert_array_equal(np.stack([c, r], 1),
                                  temporal_pairs(a_s, a_idx, f_s, f_idx, groups))
    assert (f_idx[c] == groups).all() and (a_idx[r] == groups).all()


def test_build_pairs_errors():
    with pytest.raises(ValueError, match="mode"):
        build_pairs([1.0, 0.0], [0, 0], mode="future")
    with pytest.raises(ValueError, match="anchor_scores"):
        build_pairs([1.0, 0.0], [0, 0], mode="temporal")
    with pytest.raises(ValueError, match="missing"):
        build_pairs([1.0], [5], mode="temporal", anchor_scores=[0.0], anchor_index=[0],
                    future_scores=[1.0], future_index=[5])


def _episode(cfg, actions, d, correct):
    H = cfg.horizon
    A = np.zeros((1, H), np.int64)
    M = np.zeros((1, H), bool)
    A[0, :len(actions)] = [cfg.step_types.index(a) for a in actions]
    M[0, :len(actions)] = True
    z = np.zeros((1, H))
    return Episodes(np.zeros((1, H, cfg.obs_dim), np.float32), A, np.full((1, H), -1), M, z,
                    np.array([correct]), np.zeros(1, bool), np.array([d]),
                    np.zeros((1, H), np.float32), np.zeros((1, H), np.float32))


def test_rubric_items_by_hand():
    cfg = StepChainConfig(step_types=guided.HINT_STEP_TYPES, difficulties=(1, 2, 3),
                          horizon=8, observation="full")
    ep = _episode(cfg, ["decompose", "work", "work", "pattern", "answer"], 2, True)
    assert guided.rubric_items(ep, cfg).tolist() == [[True, True, True, True]]
    # pattern before the work is done is not "verify"; 7 steps > d + 3
    ep = _episode(cfg, ["work", "pattern", "filler", "filler", "filler", "work", "answer"], 2,
                  False)
    assert guided.rubric_items(ep, cfg).tolist() == [[False, False, False, False]]


def test_hints_move_the_sft_policy():
    cfg = StepChainConfig(step_types=guided.HINT_STEP_TYPES, difficulties=(2,), horizon=8,
                          observation="full")
    torch.manual_seed(0)
    pol = guided.HintedPolicy(cfg.obs_dim, cfg.n_actions, 4)
    guided.hinted_sft_init(pol, cfg, rare=0.05)
    obs = torch.as_tensor(cfg.encode(np.array([2]), np.array([0]), np.array([0])))
    plain = torch.softmax(pol(obs), -1)[0, cfg.step_types.index("decompose")]
    hint = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    hinted = torch.softmax(pol(obs, hint), -1)[0, cfg.step_types.index("decompose")]
    assert plain < 0.06 and hinted > 0.4


def test_train_hindsight_is_seeded_and_inserts_revisions():
    kw = dict(n_prompts=8, group_size=4, iterations=4, eval_every=2, eval_episodes=50,
              rare=0.05, seed=3)
    a = guided.train_hindsight(**kw).history
    b = guided.train_hindsight(**kw).history
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert np.nansum(a["inserted"]) > 0
    g = guided.train_hindsight(hindsight=False, **kw).history
    assert np.nansum(g["inserted"]) == 0
    assert (a["rubric_hinted"] >= a["rubric"] - 1e-12).all()


def test_train_with_guide_mixes_verified_guide_samples():
    cfg = StepChainConfig(step_types=("work", "filler", "answer", "decompose"),
                          difficulties=(2, 3), horizon=8, error_rate=0.3,
                          decompose_error_rate=0.0, observation="full")
    far = guided.ScriptedPolicy(cfg, eps=0.0)
    acc = guided.guide_signal(far, [far], cfg, n_probe=64)
    assert acc["Q"][0] == 0.0 and acc["V"][0] == pytest.approx(1.0)
    res = guided.train_with_guide(cfg, lambda it: far, n_prompts=4, group_size=4,
                                  iterations=3, save_every=1, eval_every=1, eval_episodes=20,
                                  sft_steps=10)
    assert (res.history["mixed"][1:] == 4).all()  # the scripted teacher never fails here
    assert len(res.checkpoints) == 4
    p = guided.load_policy(res.checkpoints[-1], cfg)
    x = torch.as_tensor(cfg.encode(np.array([2]), np.array([0]), np.array([0])))
    torch.testing.assert_close(p(x), res.policy(x))


def test_scripted_policy_reaches_the_decompose_ceiling():
    cfg = StepChainConfig(step_types=("work", "filler", "answer", "decompose"),
                          difficulties=(3,), horizon=8, error_rate=0.4,
                          decompose_error_rate=0.05, observation="full")
    ep = guided._resample_plain(guided.ScriptedPolicy(cfg, eps=0.0), cfg, np.full(4000, 3),
                                np.random.default_rng(0))
    assert abs(ep.correct.mean() - 0.95 ** 3) < 0.03


def test_word_task_and_self_rewarding_loop():
    task = guided.WordTask(n_prompts=3, n_words=4, length=2, sigma=0.0, seed=1)
    p = [[3], [4]]
    r = torch.tensor([[3 + 3, 3 + 3 + 1, 2], [0, 3 + 3, 2]])  # a non-word token scores 0
    want = [(task.value[0, 0] + task.value[0, 1]) / 2, task.value[1, 0] / 2]
    np.testing.assert_allclose(task.quality(p, r), want)
    rng = np.random.default_rng(0)
    m0 = cl.models.TinyTextLM(task.vocab_size, embed=8, hidden=8, seed=0)
    cl.algos.sft_train(m0, task.prompts(64, rng), task.random_responses(64, rng), steps=20)
    before = [q.detach().clone() for q in m0.parameters()]
    for mode in ("self", "temporal"):
        res = guided.train_self_rewarding(task, m0, mode=mode, iterations=2, n_prompts=4,
                                          n_samples=3, steps=2)
        assert res.gap.shape == (2,) and res.quality.shape == (3,)
        assert (res.gap >= -1e-12).all() if mode == "self" else np.isfinite(res.gap).all()
    for a, b in zip(before, m0.parameters()):
        torch.testing.assert_close(a, b)  # model0 is not modified


def test_stored_answers_and_wrong_answers():
    fresh = ch17.make_cases()
    stored = check_mod._cases("ch17")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch17 as sol

    for name in ("improvement_bonus", "offpolicy_grad_weight", "temporal_pairs"):
        assert cl.check(f"ch17.{name}", getattr(sol, name))
    with pytest.raises(AssertionError):  # the bonus on every response
        cl.check("ch17.improvement_bonus",
                 lambda r, r_guided, alpha: r + alpha * (np.nan_to_num(r_guided) - r))
    with pytest.raises(AssertionError):  # the loss term, not its gradient weight
        cl.check("ch17.offpolicy_grad_weight", lambda rho, adv, gamma: adv * rho / (rho + gamma))
    with pytest.raises(AssertionError):  # chosen and rejected from the same pool
        cl.check("ch17.temporal_pairs",
                 lambda anchor_scores, anchor_index, future_scores, future_index, groups:
                 sol.temporal_pairs(anchor_scores, anchor_index, anchor_scores, anchor_index,
                                    groups))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="r_guided"):
        guided.improvement_bonus([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="alpha"):
        guided.improvement_bonus([0.1], [0.2], alpha=-1)
    with pytest.raises(TypeError, match="mask"):
        guided.ratio_second_moment(np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="train_context"):
        guided.train_hindsight(train_context="hinted", iterations=1)
    with pytest.raises(ValueError, match="n_mix"):
        guided.train_with_guide(StepChainConfig(), n_mix=8, group_size=8)
