"""The StepChain policy-gradient trainer: credit transforms, determinism, the main effect."""

from __future__ import annotations

import numpy as np
import pytest

from creditlab.algos import PGConfig, advantages, credit_returns, train
from creditlab.envs.stepchain import StepChainConfig

# one response of 4 steps and one of 2 (padded), PRM scores and outcome rewards
PRM = np.array([[0.8, 0.7, 0.7, 0.9], [0.8, -1.0, 0.0, 0.0]])
MASK = np.array([[True, True, True, True], [True, True, False, False]])
OUT = np.array([1.0, 0.0])


@pytest.mark.parametrize(
    ("credit", "kw", "expected"),
    [
        ("sum", {}, [[4.1, 3.3, 2.6, 1.9], [-0.2, -1.0, 0, 0]]),
        ("min", {}, [[1.7, 1.7, 1.7, 1.9], [-1.0, -1.0, 0, 0]]),
        ("mean", {}, [[1.775, 1.575, 1.4, 1.225], [-0.1, -0.5, 0, 0]]),
        ("clip", {"eta": 0.8}, [[0.8, 0.8, 0.9, 1.0], [-1.8, -1.8, 0, 0]]),
        ("delta", {}, [[1.8, 1.7, 1.7, 1.0], [0.8, 0.0, 0, 0]]),  # Gao et al.: last dropped
        ("delta", {"delta_final": "zero"}, [[1.0 - 0.1, 0.8, 0.8, 1.0], [1.8, 0.0, 0, 0]]),
        ("delta", {"delta_final": "keep"}, [[1.8, 1.7, 1.7, 1.9], [0.8, -1.0, 0, 0]]),
        ("gated", {"gate_threshold": 1.0}, [[4.1, 3.3, 2.6, 1.9], [0.0, 0.0, 0, 0]]),
        ("none", {}, [[1, 1, 1, 1], [0, 0, 0, 0]]),
    ],
)
def test_credit_returns_hand_cases(credit, kw, expected):
    G = credit_returns(PRM, MASK, OUT, PGConfig(credit=credit, **kw))
    np.testing.assert_allclose(G, expected, atol=1e-12)


def test_softmin_moves_between_min_and_mean():
    cold = credit_returns(PRM, MASK, OUT, PGConfig(credit="softmin", temperature=1e-3))
    hot = credit_returns(PRM, MASK, OUT, PGConfig(credit="softmin", temperature=1e3))
    assert cold[0, 0] == pytest.approx(0.7 + 1.0, abs=1e-6)  # min of the row + outcome
    assert hot[0, 0] == pytest.approx(PRM[0].mean() + 1.0, abs=1e-3)  # mean + outcome
    # PURE's leak: after the worst step the softmin return-to-go is ~0 (plus the outcome),
    # where the exact min-form value is still the minimum of the remaining steps (0.9)
    assert cold[0, 3] == pytest.approx(1.0, abs=1e-6)
    exact = credit_returns(PRM, MASK, OUT, PGConfig(credit="min"))
    assert exact[0, 3] == pytest.approx(1.9)


def test_advantages_hand_case():
    G = np.array([[3.0, 1.0], [1.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    m = np.ones((4, 2), bool)
    cfg = PGConfig(whiten=False)
    A = advantages(G, m, 2, cfg)  # traj RLOO: s_i - s_other
    np.testing.assert_allclose(A, [[2, 2], [-2, -2], [2, 2], [-2, -2]])
    A = advantages(G, m, 2, cfg.replace(estimator="token"))
    np.testing.assert_allclose(A, [[2, 0], [-2, -2], [2, 0], [-2, -2]])
    A = advantages(G, m, 2, cfg.replace(estimator="pure_verl"))  # others' sum / ((n-1) T)
    np.testing.assert_allclose(A, [[2, 0], [-1, -1], [2, 0], [-1, -1]])
    W = advantages(G, m, 2, PGConfig())
    assert abs(W.mean()) < 1e-9 and W.std(ddof=1) == pytest.approx(1, abs=1e-6)


SMALL = dict(iterations=20, n_prompts=8, eval_every=10, eval_episodes=200, sft_steps=100,
             progress=False)


def test_same_seed_same_curve():
    a = train(prm="filler", credit="sum", seed=3, **SMALL)
    b = train(prm="filler", credit="sum", seed=3, **SMALL)
    c = train(prm="filler", credit="sum", seed=4, **SMALL)
    for k in a.history:
        np.testing.assert_array_equal(a.history[k], b.history[k])
    assert not np.array_equal(a.history["steps"], c.history["steps"])


def test_ppo_and_kl_options_run_and_are_deterministic():
    kw = dict(SMALL, iterations=10, ppo_clip=0.2, ppo_epochs=3, kl_coef=0.1, baseline="grpo")
    a = train(prm="filler", credit="softmin", seed=0, **kw)
    b = train(prm="filler", credit="softmin", seed=0, **kw)
    np.testing.assert_array_equal(a.history["accuracy"], b.history["accuracy"])


def test_config_validation():
    with pytest.raises(ValueError, match="credit"):
        PGConfig(credit="max")
    with pytest.raises(ValueError, match="estimator"):
        PGConfig(estimator="vtrace")
    with pytest.raises(ValueError, match="group_size"):
        PGConfig(group_size=1)
    with pytest.raises(ValueError, match="vr_fraction"):
        PGConfig(vr_fraction=2.0)


def test_sum_form_padding_grows_min_form_does_not():
    """The chapter's main effect on a small budget (60 iterations, 2 seeds)."""
    env = StepChainConfig()
    kw = dict(iterations=60, eval_every=60, eval_episodes=500, progress=False)
    for seed in (0, 1):
        s = train(env, "filler", credit="sum", seed=seed, **kw)
        m = train(env, "filler", credit="min", seed=seed, **kw)
        s0, s1 = s.history["steps"][0], s.history["steps"][-1]
        m1 = m.history["steps"][-1]
        assert s1 > s0 + 3.0, (s0, s1)          # sum-form pads toward the horizon
        assert s.history["truncated"][-1] > 0.8  # ... and stops answering
        assert m1 < s0 + 0.5, (s0, m1)          # min-form does not pad
        assert m.history["filler"][-1] < 0.1
        assert m.final["accuracy"] > s.final["accuracy"] + 0.3
