"""StepChain environment and its reward models (book Part II)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import creditlab  # noqa: F401  (registers the environments)
from creditlab.envs.stepchain import EVENT_ID, EVENTS, StepChainBatch, StepChainConfig, StepChainEnv
from creditlab.rewards import PRM_PRESETS, OutcomeVerifier, ProcessRewardModel, make_prm

ALL = ("work", "filler", "repeat", "answer")


def test_passes_env_checker():
    check_env(gym.make("creditlab/StepChain-v0").unwrapped)
    check_env(StepChainEnv(prm="repeat", step_types=ALL, observation="full", vr_fraction=0.5))
    check_env(StepChainEnv(observation="progress", horizon=3))


def test_vectorises_with_gymnasium():
    envs = gym.make_vec("creditlab/StepChain-v0", num_envs=4, vectorization_mode="sync")
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (4, StepChainConfig().obs_dim)
    for _ in range(12):  # past the horizon: autoreset keeps going
        obs, r, term, trunc, _ = envs.step(envs.action_space.sample())
        assert np.all(np.abs(r) <= 2.0)
    envs.close()


def test_same_seed_same_episode():
    def play(seed):
        env = StepChainEnv(prm="noisy", step_types=ALL)
        env.reset(seed=seed)
        out, done = [], False
        while not done:
            o, r, te, tr, info = env.step(0 if len(out) < 2 else 3)
            out.append((r, info["event"]))
            done = te or tr
        return out

    assert play(3) == play(3)


def _batch(config, d, rng=None):
    core = StepChainBatch(config, len(d), rng or np.random.default_rng(0))
    core.reset(np.asarray(d))
    return core


def test_dynamics_hand_cases():
    cfg = StepChainConfig(step_types=ALL, error_rate=0.0, horizon=4)
    W, F, R, A = 0, 1, 2, 3
    core = _batch(cfg, [2, 2, 1, 3])
    # row 0: W W A (correct); row 1: W A (premature); row 2: R W R A; row 3: F F F F (cut)
    plan = [[W, W, A, A], [W, A, A, A], [R, W, R, A], [F, F, F, F]]
    events = []
    for t in range(4):
        _, ev, _ = core.step(np.array([p[t] for p in plan]))
        events.append(ev)
    ev = np.stack(events, 1)
    name = lambda i: EVENTS[i] if i >= 0 else None  # noqa: E731
    assert [name(i) for i in ev[0]] == ["work", "work", "answer_correct", None]
    assert [name(i) for i in ev[1]] == ["work", "answer_premature", None, None]
    assert [name(i) for i in ev[2]] == ["filler", "work", "repeat", "answer_correct"]
    assert [name(i) for i in ev[3]] == ["filler", "filler", "filler", "truncated"]
    np.testing.assert_array_equal(core.correct, [True, False, True, False])
    np.testing.assert_array_equal(core.truncated, [False, False, False, True])
    np.testing.assert_array_equal(core.t, [3, 2, 4, 4])


def test_errors_poison_the_answer_and_repeats():
    cfg = StepChainConfig(step_types=ALL, error_rate=1.0)
    core = _batch(cfg, [1])
    _, ev, _ = core.step(np.array([0]))
    assert EVENTS[ev[0]] == "work_error"
    _, ev, _ = core.step(np.array([2]))
    assert EVENTS[ev[0]] == "repeat_error"
    _, ev, _ = core.step(np.array([3]))
    assert EVENTS[ev[0]] == "answer_wrong" and not core.correct[0]


def test_error_rate_is_sampled_at_the_configured_rate():
    cfg = StepChainConfig(error_rate=0.3, horizon=2)
    core = _batch(cfg, [1] * 20000, np.random.default_rng(1))
    _, ev, _ = core.step(np.zeros(20000, np.int64))
    assert abs((ev == EVENT_ID["work_error"]).mean() - 0.3) < 0.02


def test_observation_modes():
    d, p, t = np.array([2]), np.array([1]), np.array([3])
    x = StepChainConfig(observation="progress").encode(d, p, t)
    assert x.shape == (1, 11) and x[0, 1] == 1 and x.sum() == 1
    x = StepChainConfig(observation="difficulty_progress").encode(d, p, t)
    assert x.shape == (1, 14) and x[0, 1] == 1 and x[0, 3 + 1] == 1 and x.sum() == 2
    x = StepChainConfig(observation="full").encode(d, p, t)
    assert x.shape == (1, 25) and x[0, 3 + 11 + 3] == 1 and x.sum() == 3


def test_config_validation():
    with pytest.raises(ValueError, match="step_types"):
        StepChainConfig(step_types=("work", "filler"))
    with pytest.raises(ValueError, match="step_types"):
        StepChainConfig(step_types=("work", "answer", "dance"))
    with pytest.raises(ValueError, match="horizon"):
        StepChainConfig(horizon=0)
    with pytest.raises(ValueError, match="error_rate"):
        StepChainConfig(error_rate=1.5)
    with pytest.raises(ValueError, match="difficulties"):
        StepChainConfig(difficulties=(0, 1))
    with pytest.raises(ValueError, match="observation"):
        StepChainConfig(observation="everything")
    core = _batch(StepChainConfig(), [1, 2])
    with pytest.raises(ValueError, match="actions"):
        core.step(np.array([0, 3]))
    with pytest.raises(ValueError, match="actions"):
        core.step(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="difficulty"):
        core.reset(np.array([1, 7]))
    env = StepChainEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(5)


def test_accuracy_ceiling():
    assert StepChainConfig(error_rate=0.1).expected_accuracy_ceiling() == pytest.approx(
        (0.9 + 0.81 + 0.729) / 3)


# --------------------------------------------------------------------------------------
# reward models: the documented score tables


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("honest", {"work": 0.8, "filler": 0.0, "repeat": 0.0, "answer_correct": 0.9,
                    "answer_premature": -1.0, "truncated": -0.5}),
        ("filler", {"filler": 0.7, "answer_premature": 0.1, "work": 0.8}),
        ("premature", {"filler": 0.7, "answer_premature": 0.3}),
        ("repeat", {"repeat": 0.9, "filler": 0.0, "answer_premature": -1.0}),
    ],
)
def test_prm_score_tables(preset, expected):
    prm = make_prm(preset)
    table = {e: s for e, s, _ in prm.score_table()}
    for event, score in expected.items():
        assert table[event] == pytest.approx(score)
    # undetectable events are scored exactly as in the table
    rng = np.random.default_rng(0)
    for event in ("work", "filler", "repeat", "answer_correct", "answer_premature", "truncated"):
        s = prm.score(np.full(50, EVENT_ID[event]), rng)
        np.testing.assert_allclose(s, table[event])
    assert "| filler |" in prm.table_markdown()


def test_detection_rate_and_expected_scores():
    prm = make_prm("filler")
    s = prm.score(np.full(20000, EVENT_ID["work_error"]), np.random.default_rng(0))
    assert set(np.unique(s)) == {-1.0, 0.8}
    assert abs((s == -1.0).mean() - prm.detect) < 0.02
    ex = prm.expected_scores()
    assert ex["work_error"] == pytest.approx(0.8 * -1 + 0.2 * 0.8)
    assert prm.expected_work_score(0.1) == pytest.approx(0.9 * 0.8 + 0.1 * ex["work_error"])
    # the "filler" hack: filler beats the average WORK step but not a correct one
    assert prm.expected_work_score(0.1) < prm.filler < prm.work


def test_noise_and_padding():
    prm = make_prm("noisy")
    s = prm.score(np.array([[EVENT_ID["work"]] * 4000 + [-1]]), np.random.default_rng(0))
    assert s[0, -1] == 0.0
    assert np.all(np.abs(s) <= 1.0)
    assert 0.2 < s[0, :-1].std() < 0.35


def test_prm_validation():
    with pytest.raises(ValueError, match="filler"):
        ProcessRewardModel(filler=1.5)
    with pytest.raises(TypeError, match="work"):
        ProcessRewardModel(work="high")
    with pytest.raises(ValueError, match="detect"):
        ProcessRewardModel(detect=2.0)
    with pytest.raises(ValueError, match="noise"):
        ProcessRewardModel(noise=-1.0)
    with pytest.raises(ValueError, match="preset"):
        make_prm("sneaky")
    with pytest.raises(ValueError, match="events"):
        make_prm().score(np.array([99]), np.random.default_rng(0))
    with pytest.raises(TypeError, match="events"):
        make_prm().score(np.array([0.5]), np.random.default_rng(0))
    assert set(PRM_PRESETS) >= {"honest", "filler", "premature", "repeat", "noisy"}


def test_outcome_verifier():
    v = OutcomeVerifier(0.1)
    has = v.assign(50000, np.random.default_rng(0))
    assert abs(has.mean() - 0.1) < 0.01
    assert OutcomeVerifier(1.0).assign(5, np.random.default_rng(0)).all()
    np.testing.assert_array_equal(
        OutcomeVerifier(0.5, coef=2.0).reward([True, True, False], [True, False, True]),
        [2.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="fraction"):
        OutcomeVerifier(1.2)


def test_gym_reward_is_prm_plus_outcome():
    env = StepChainEnv(prm="honest", vr_fraction=1.0, error_rate=0.0)
    env.reset(seed=0, options={"difficulty": 1})
    _, r1, *_ = env.step(0)
    _, r2, term, trunc, info = env.step(2)  # answer (step types work, filler, answer)
    assert r1 == pytest.approx(0.8) and term and not trunc
    assert info["correct"] and r2 == pytest.approx(0.9 + 1.0)
