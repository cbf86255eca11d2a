"""Chapter 7's reward mixing and corruption: renorm, hybrid, length_penalty, flip_noise,
pattern_reward, StepChain's decompose / pattern / guess steps and the trainer's reward_fn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from creditlab.envs.stepchain import EVENT_ID, StepChainBatch, StepChainConfig
from creditlab.rewards import flip_noise, hybrid, length_penalty, make_prm, pattern_reward
from creditlab.shaping import renorm

unit = st.floats(0.0, 1.0, allow_nan=False)


# ---- renorm


def test_renorm_values():
    r = np.array([[0.8, 0.6, 0.9], [0.2, 1.0, 0.0]])
    m = np.array([[True, True, True], [True, True, False]])
    out = renorm(r, np.array([1.0, 0.0]), response_mask=m)
    np.testing.assert_allclose(out, [[0.8, 0.6, 0.9], [-0.8, 0.0, 0.0]])
    np.testing.assert_allclose(renorm(np.array([0.5, 0.25]), 0.0), [-0.5, -0.75])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(0, 6)), elements=unit),
       st.data())
def test_renorm_sign_follows_the_outcome(r, data):
    o = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=len(r),
                                    max_size=len(r))))
    before = r.copy()
    out = renorm(r, o)
    np.testing.assert_array_equal(r, before)  # not mutated
    assert np.all(out[o == 0] <= 0) and np.all(out[o == 1] >= 0)
    np.testing.assert_allclose(out, r + o[:, None] - 1.0, atol=1e-12)


def test_renorm_rejects_scores_outside_unit_interval():
    with pytest.raises(ValueError, match="process"):
        renorm(np.array([[1.2]]), np.array([1.0]))
    with pytest.raises(ValueError, match="outcome"):
        renorm(np.array([[0.2]]), np.array([2.0]))
    with pytest.raises(ValueError, match="outcome"):
        renorm(np.ones((2, 3)) * 0.5, np.ones(3))
    with pytest.raises(ValueError, match="outcome"):  # ReNorm's outcome is binary
        renorm(np.array([[0.2]]), np.array([0.5]))


def test_renorm_ignores_padding_and_accepts_bool_outcomes():
    r = np.array([[0.8, -1.0, 7.0], [0.3, 0.4, -2.0]])  # padding holds junk values
    m = np.array([[True, False, False], [True, True, False]])
    out = renorm(r, np.array([True, False]), response_mask=m)
    np.testing.assert_allclose(out, [[0.8, 0.0, 0.0], [-0.7, -0.6, 0.0]])
    np.testing.assert_allclose(renorm(r, np.array([1, 0]), response_mask=m), out)
    np.testing.assert_allclose(renorm(np.array([0.5, 0.25]), True), [0.5, 0.25])
    with pytest.raises(ValueError, match="process"):  # an active step out of range
        renorm(r, np.array([True, False]), response_mask=np.ones((2, 3), bool))


def test_renorm_returns_numpy_for_torch_input():
    import torch

    out = renorm(torch.tensor([[0.2, 0.9]]), torch.tensor([True]))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, [[0.2, 0.9]])


# ---- hybrid


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), unit, st.data())
def test_hybrid_uses_the_verifier_where_it_exists(n, c, data):
    v = np.array(data.draw(st.lists(unit, min_size=n, max_size=n)))
    m = np.array(data.draw(st.lists(unit, min_size=n, max_size=n)))
    h = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    out = hybrid(v, m, h, c)
    np.testing.assert_allclose(out[~h], m[~h])
    np.testing.assert_allclose(out[h], c * v[h] + (1 - c) * m[h])


# ---- length_penalty


def test_length_penalty_by_hand():
    L = np.array([1, 3, 4, 2, 5, 5])
    ok = np.array([False, True, True, False, False, False])
    g = np.array([0, 0, 0, 0, 1, 1])
    pen = length_penalty(L, ok, g)
    np.testing.assert_allclose(pen, [-0.5, -0.5 * 0.5 / 1.75, 0.0, -0.5 * 1.5 / 1.75, 0, 0])
    two = length_penalty(L, ok, g, kind="two_sided")
    assert two[2] < 0 and two[4] == 0  # longer than the reference is penalised too
    # without the guard the all-wrong group 1 takes its mean length (5): no one shorter
    np.testing.assert_allclose(length_penalty(L, ok, g, guard=False), pen)
    np.testing.assert_allclose(length_penalty(np.array([2, 6]), np.zeros(2, bool),
                                              np.zeros(2, int), guard=False), [-0.5, 0.0])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 10), st.floats(0.0, 2.0), st.floats(0.1, 2.0), st.booleans(),
       st.sampled_from(["short", "two_sided"]), st.data())
def test_length_penalty_bounds_and_guard(n, p_max, tau, guard, kind, data):
    L = np.array(data.draw(st.lists(st.integers(1, 20), min_size=n, max_size=n)), float)
    ok = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    g = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    pen = length_penalty(L, ok, g, p_max, tau, kind=kind, guard=guard)
    assert np.all(pen <= 0) and np.all(pen >= -p_max - 1e-12)
    for k in np.unique(g):
        grp = g == k
        if guard and not ok[grp].any():
            assert np.all(pen[grp] == 0)
        if ok[grp].any() and kind == "short":
            ref = L[grp & ok].mean()
            assert np.all(pen[grp & (L >= ref)] == 0)  # never penalised for being long


# ---- flip_noise


def test_flip_noise_is_question_wise():
    r = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    q = np.array([0, 0, 1, 1, 2, 2])
    out = flip_noise(r, 0.5, np.random.default_rng(0), index=q)
    flipped = out != r
    for k in range(3):  # a question is flipped whole or not at all
        assert flipped[q == k].all() or not flipped[q == k].any()
    np.testing.assert_array_equal(flip_noise(r, 0.0, np.random.default_rng(0), index=q), r)
    np.testing.assert_array_equal(flip_noise(r, 1.0, np.random.default_rng(0), index=q), 1 - r)
    fn = flip_noise(r, 1.0, np.random.default_rng(0), per="response", kind="false_negative")
    np.testing.assert_array_equal(fn, np.zeros(6))


def test_flip_noise_expectation():
    r = np.tile([1.0, 0.0], 50_000)
    q = np.arange(len(r)) // 2
    out = flip_noise(r, 0.3, np.random.default_rng(1), index=q)
    assert abs(out[r == 1].mean() - 0.7) < 0.01 and abs(out[r == 0].mean() - 0.3) < 0.01


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), unit, st.integers(0, 2**31), st.sampled_from(["symmetric",
                                                                           "false_negative"]),
       st.data())
def test_flip_noise_properties(n, p, seed, kind, data):
    r = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
    q = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    before = r.copy()
    out = flip_noise(r, p, np.random.default_rng(seed), index=q, kind=kind)
    np.testing.assert_array_equal(r, before)
    assert np.isin(out, (0.0, 1.0)).all()
    if kind == "false_negative":
        assert np.all(out <= r)  # only 1s can turn into 0s
    again = flip_noise(r, p, np.random.default_rng(seed), index=q, kind=kind)
    np.testing.assert_array_equal(out, again)


def test_flip_noise_bad_input():
    with pytest.raises(ValueError, match="index"):
        flip_noise(np.ones(3), 0.2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="binary"):
        flip_noise(np.array([0.5]), 0.2, np.random.default_rng(0), per="response")
    with pytest.raises(TypeError, match="rng"):
        flip_noise(np.ones(2), 0.2, 0, per="response")


def test_flip_noise_accepts_bool_rewards():
    correct = np.array([True, False, True, True])
    q = np.array([0, 0, 1, 1])
    out = flip_noise(correct, 1.0, np.random.default_rng(0), index=q)
    np.testing.assert_array_equal(out, [0.0, 1.0, 0.0, 0.0])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(
        flip_noise(correct, 0.4, np.random.default_rng(3), index=q),
        flip_noise(correct.astype(float), 0.4, np.random.default_rng(3), index=q))


# ---- pattern_reward


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int64, st.tuples(st.integers(1, 4), st.integers(0, 8)),
                  elements=st.integers(0, 4)),
       st.one_of(st.none(), st.integers(0, 5)), st.floats(-2, 2))
def test_pattern_reward_counts_hits(tokens, cap, r_hit):
    out = pattern_reward(tokens, [1, 3], r_hit, cap=cap)
    hits = np.isin(tokens, [1, 3]).sum(1)
    if cap is not None:
        hits = np.minimum(hits, cap)
    np.testing.assert_allclose(out, r_hit * hits)
    m = np.zeros(tokens.shape, bool)
    np.testing.assert_allclose(pattern_reward(tokens, [1, 3], r_hit, cap=cap, mask=m), 0.0)


def test_pattern_reward_rejects_empty_patterns():
    with pytest.raises(ValueError, match="patterns.*at least one"):
        pattern_reward(np.array([1, 2, 3]), [])
    with pytest.raises(ValueError, match="patterns"):
        pattern_reward(np.array([1, 2, 3]), np.array([], np.int64))


# ---- StepChain's Chapter 7 step types


def test_new_step_types_keep_the_old_ids_and_draws():
    base = StepChainConfig()
    more = StepChainConfig(decompose_error_rate=None, guess_rate=0.3)
    a, b = StepChainBatch(base, 64, np.random.default_rng(5)), StepChainBatch(
        more, 64, np.random.default_rng(5))
    for _ in range(base.horizon):
        acts = np.random.default_rng(_).integers(0, 3, 64)
        _, ea, _ = a.step(acts)
        _, eb, _ = b.step(acts)
        np.testing.assert_array_equal(ea, eb)


def test_decompose_lowers_the_error_rate():
    cfg = StepChainConfig(step_types=("work", "decompose", "answer"), difficulties=(3,),
                          error_rate=0.5, decompose_error_rate=0.0)
    n = 4000
    batch = StepChainBatch(cfg, n, np.random.default_rng(0))
    batch.step(np.ones(n, np.int64))  # decompose
    ev = [batch.step(np.zeros(n, np.int64))[1] for _ in range(3)]
    assert batch.decomposed.all() and (np.array(ev) == EVENT_ID["work"]).all()
    _, last, _ = batch.step(np.full(n, 2, np.int64))
    assert (last == EVENT_ID["answer_correct"]).all() and batch.correct.all()


def test_guess_and_pattern():
    cfg = StepChainConfig(step_types=("work", "pattern", "guess", "answer"), guess_rate=0.3)
    n = 20_000
    batch = StepChainBatch(cfg, n, np.random.default_rng(1))
    _, ev, _ = batch.step(np.ones(n, np.int64))
    assert (ev == EVENT_ID["filler"]).all() and not batch.done.any()
    _, ev, _ = batch.step(np.full(n, 2, np.int64))
    assert batch.done.all() and not batch.truncated.any()
    assert abs(batch.correct.mean() - 0.3) < 0.015
    assert set(np.unique(ev)) == {EVENT_ID["answer_correct"], EVENT_ID["answer_wrong"]}


def test_new_config_options_validate():
    with pytest.raises(ValueError, match="decompose_error_rate"):
        StepChainConfig(decompose_error_rate=1.5)
    with pytest.raises(ValueError, match="guess_rate"):
        StepChainConfig(guess_rate=-0.1)


def test_principle_judge_scores_in_unit_interval():
    judge = make_prm("principle")
    for _, base, _ in judge.score_table():
        assert 0.0 <= base <= 1.0


# ---- the trainer's reward_fn hook


def test_train_with_reward_fn():
    from creditlab.algos import train

    seen = {}

    def reward_fn(ep, group_size, rng):
        seen["group_size"] = group_size
        return np.zeros(ep.mask.shape), ep.correct.astype(float)

    kw = dict(iterations=2, eval_episodes=5, sft_steps=1, eval_every=1, n_prompts=2,
              group_size=3, progress=False, credit="sum")
    res = train(None, "principle", reward_fn=reward_fn, **kw)
    assert seen["group_size"] == 3 and len(res.history["accuracy"]) == 3

    def bad(ep, group_size, rng):
        return np.zeros(3), np.zeros(3)

    with pytest.raises(ValueError, match="reward_fn"):
        train(None, "principle", reward_fn=bad, **kw)

    def nan_outcome(ep, group_size, rng):
        return np.zeros(ep.mask.shape), np.full(len(ep.correct), np.nan)

    def inf_step(ep, group_size, rng):
        return np.where(ep.mask, np.inf, 0.0), ep.correct.astype(float)

    def nan_on_padding(ep, group_size, rng):  # padding is ignored: no error
        return np.where(ep.mask, 0.0, np.nan), ep.correct.astype(float)

    with pytest.raises(ValueError, match="reward_fn returned non-finite outcome"):
        train(None, "principle", reward_fn=nan_outcome, **kw)
    with pytest.raises(ValueError, match="reward_fn returned non-finite step_rewards"):
        train(None, "principle", reward_fn=inf_step, **kw)
    res = train(None, "principle", reward_fn=nan_on_padding, **kw)
    assert all(np.isfinite(p.detach().numpy()).all() for p in res.policy.parameters())


def test_dr_grpo_baseline_skips_the_std():
    from creditlab.algos import PGConfig, advantages

    # two groups of two: scores [1, 0] and [3, 0]; GRPO divides each by its std,
    # Dr.GRPO only subtracts the group mean
    G = np.array([[1.0], [0.0], [3.0], [0.0]])
    m = np.ones((4, 1), bool)
    a_grpo = advantages(G, m, 2, PGConfig(baseline="grpo", whiten=False))[:, 0]
    a_dr = advantages(G, m, 2, PGConfig(baseline="dr_grpo", whiten=False))[:, 0]
    np.testing.assert_allclose(a_grpo, [0.7071, -0.7071, 0.7071, -0.7071], atol=1e-3)
    np.testing.assert_allclose(a_dr, [0.5, -0.5, 1.5, -1.5])
    a_rloo = advantages(G, m, 2, PGConfig(baseline="rloo", whiten=False))[:, 0]
    np.testing.assert_allclose(a_dr, a_rloo * (2 - 1) / 2)  # Dr.GRPO = (n-1)/n * RLOO
    with pytest.raises(ValueError, match="baseline"):
        PGConfig(baseline="drgrpo")


def test_train_with_a_critic():
    from creditlab.algos import PGConfig, advantages, train

    res = train(None, "principle", iterations=3, eval_episodes=5, sft_steps=1, eval_every=1,
                n_prompts=2, group_size=2, progress=False, credit="sum", estimator="gae",
                critic_steps=2)
    assert np.isfinite(res.history["accuracy"]).all()
    with pytest.raises(ValueError, match="gae"):
        advantages(np.zeros((4, 3)), np.ones((4, 3), bool), 2, PGConfig(estimator="gae"))
    with pytest.raises(ValueError, match="gae_lambda"):
        PGConfig(gae_lambda=1.5)


def test_gae_advantages_with_lambda_one_are_returns_minus_values():
    import torch

    from creditlab.algos import PGConfig
    from creditlab.algos.stepchain_pg import Episodes, MLPPolicy, _gae_step

    torch.manual_seed(0)
    B, T, D = 4, 3, 5
    mask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]], bool)
    obs = np.random.default_rng(0).random((B, T, D)).astype(np.float32)
    G = np.where(mask, np.random.default_rng(1).random((B, T)), 0.0)
    ep = Episodes(obs, np.zeros((B, T), np.int64), np.zeros((B, T), np.int64), mask,
                  np.zeros((B, T)), np.zeros(B, bool), np.zeros(B, bool), np.ones(B, int),
                  np.zeros((B, T), np.float32))
    critic = MLPPolicy(D, 1, 4)
    with torch.no_grad():
        V = critic(torch.as_tensor(obs))[..., 0].numpy()
    cfg = PGConfig(estimator="gae", gae_lambda=1.0, whiten=False, critic_steps=1)
    A = _gae_step(critic, torch.optim.Adam(critic.parameters(), lr=1e-3), ep, G, cfg)
    np.testing.assert_allclose(A, np.where(mask, G - V, 0.0), rtol=1e-5, atol=1e-6)
