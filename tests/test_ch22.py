"""Chapter 22: perceptual rewards (VLM-RM projection, demonstration steps, RoboReward
negatives, StateFactory similarity), the synthetic CLIP, the text kitchen and ECE."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.algos.control import greedy_reach, reinforce_reach
from creditlab.envs import PointReachBatch
from creditlab.envs.kitchen import (
    OBJECTS,
    PLACES,
    KitchenTextEnv,
    KitchenWorld,
    parse_goal,
    parse_observation,
)
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch22
from creditlab.metrics import ece
from creditlab.models import HashedTextEncoder, SyntheticCLIP
from creditlab.rewards import (
    StepRewardModel,
    counterfactual_relabel,
    factorized_state_similarity,
    goal_baseline_reward,
    segment_demos,
    select_features,
    temporal_clip,
)

# ---- the notebook's plain references


def projection_reward(x, g, b, alpha):
    d = (g - b) / np.linalg.norm(g - b)
    diff = x - g
    along = np.outer(diff @ d, d)
    m = alpha * along + (1 - alpha) * diff
    return 1 - 0.5 * (m**2).sum(1)


def segment_brute(f, S):
    best, arg = np.inf, None
    for cuts in combinations(range(1, len(f)), S - 1):
        edges = (0, *cuts, len(f))
        cost = sum(((f[a:b] - f[a:b].mean(0)) ** 2).sum() for a, b in zip(edges, edges[1:]))
        if cost < best:
            best, arg = cost, edges
    return np.concatenate([np.full(b - a, s) for s, (a, b) in enumerate(zip(arg, arg[1:]))])


def ece_plain(p, y, bins=10):
    total = 0.0
    for k in range(bins):
        inb = (p >= k / bins) & ((p < (k + 1) / bins) if k < bins - 1 else (p <= 1))
        if inb.any():
            total += inb.mean() * abs(p[inb].mean() - y[inb].mean())
    return total


def factorised(state, goal):
    per_object = [np.mean([state.get(o, {}).get(a) == v for a, v in attrs.items()])
                  for o, attrs in goal.items()]
    return float(np.mean(per_object))


# ---- VLM-RM


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 6), D=st.integers(2, 12), alpha=st.floats(0, 1),
       seed=st.integers(0, 10_000))
def test_goal_baseline_reward_matches_reference(N, D, alpha, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    g, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, D)))
    got = goal_baseline_reward(x, g, b, alpha)
    np.testing.assert_allclose(got, projection_reward(x, g, b, alpha), rtol=1e-10, atol=1e-12)
    # alpha = 0: cosine similarity; a goal per row gives the same as the broadcast goal
    np.testing.assert_allclose(goal_baseline_reward(x, g, b, 0.0), x @ g, atol=1e-12)
    np.testing.assert_allclose(goal_baseline_reward(x, np.tile(g, (N, 1)), b, alpha), got,
                               atol=1e-12)
    # the full projection never penalises more than the cosine (||P v|| <= ||v||)
    assert np.all(goal_baseline_reward(x, g, b, 1.0) >= goal_baseline_reward(x, g, b, 0.0)
                  - 1e-12)


def test_goal_baseline_reward_errors_and_scalar():
    g, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert isinstance(goal_baseline_reward(np.array([1.0, 0.0]), g, b, 0.5), float)
    with pytest.raises(ValueError, match="b"):
        goal_baseline_reward(np.ones((2, 2)), g, None, 0.5)
    with pytest.raises(ValueError, match="differ"):
        goal_baseline_reward(np.ones((2, 2)), g, g, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        goal_baseline_reward(np.ones((2, 2)), g, b, 1.5)


def test_synthetic_clip_geometry():
    clip = SyntheticCLIP(32, grid=3, width=0.3, nuisance=2.0, context=5.0, seed=1)
    goals = np.array([[0.2, 0.8], [0.8, 0.8], [0.8, 0.2]])
    rng = np.random.default_rng(0)
    x = clip.embed_image(rng.uniform(size=(10, 2)), rng=rng)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    g, b = clip.embed_goal(goals[0]), clip.embed_baseline(goals)
    np.testing.assert_allclose([np.linalg.norm(g), np.linalg.norm(b)], 1.0)
    # prompts of about equal length: g - b has a small component along the shared context
    # direction, compared with the prompts' own
    assert abs((g - b) @ clip.u) < 0.1 * (g @ clip.u)
    # deterministic in the seed, and a goal's own state is its most similar position
    np.testing.assert_allclose(SyntheticCLIP(32, grid=3, width=0.3, seed=1).W_task,
                               clip.W_task)
    quiet = SyntheticCLIP(32, grid=3, width=0.3, nuisance=0.0, jitter=0.0, noise=0.0,
                          context=5.0, seed=1)
    pos = np.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2]])
    r = quiet.embed_image(pos, xi=np.zeros(8)) @ quiet.embed_goal(goals[0])
    assert r[0] > r[1] > r[2]
    with pytest.raises(ValueError, match="rng"):
        clip.embed_image(pos)


# ---- unsupervised perceptual rewards


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=3), F=st.integers(1, 3),
       seed=st.integers(0, 10_000))
def test_segment_demos_is_optimal(sizes, F, seed):
    rng = np.random.default_rng(seed)
    f = np.concatenate([rng.normal(2 * k, 0.5, (n, F)) for k, n in enumerate(sizes)])
    got = segment_demos(f, len(sizes))
    want = segment_brute(f, len(sizes))
    cost = lambda lab: sum(((f[lab == s] - f[lab == s].mean(0)) ** 2).sum()  # noqa: E731
                           for s in range(len(sizes)))
    assert cost(got) == pytest.approx(cost(want), abs=1e-9)
    assert np.all(np.diff(got) >= 0) and got[0] == 0 and got[-1] == len(sizes) - 1


def test_select_features_and_step_reward():
    rng = np.random.default_rng(0)
    T = 30
    # features 0-2 mark the steps, feature 3 rises inside each step, feature 4 is noise
    step = np.repeat([0, 1, 2], T // 3)
    inside = np.tile(np.linspace(0, 1, T // 3), 3)
    demos = [np.concatenate([3.0 * np.eye(3)[step] + rng.normal(0, 0.05, (T, 3)),
                             (inside + rng.normal(0, 0.02, T))[:, None],
                             rng.normal(0, 1, (T, 1))], 1) for _ in range(4)]
    labels = [segment_demos(d, 3) for d in demos]
    assert all(np.array_equal(lab, step) for lab in labels)
    sel = select_features(np.concatenate(demos), np.concatenate(labels), 1)
    assert np.array_equal(sel[:, 0], [0, 1, 2])
    model = StepRewardModel(k=1, end_frac=0.3).fit(demos, labels)
    r = model(demos[0])
    assert np.all((0 <= r) & (r <= 1))
    assert np.array_equal(model.step_of(demos[0]), step)
    # the reward rises from step to step, and inside a step towards its end
    assert r[:10].mean() < r[10:20].mean() < r[20:].mean()
    assert r[9] > r[0] and r[19] > r[10]
    with pytest.raises(ValueError, match="labels"):
        select_features(np.zeros((4, 2)), np.zeros(4, int), 1)
    with pytest.raises(ValueError, match="n_steps"):
        segment_demos(np.zeros((3, 2)), 4)


# ---- RoboReward negatives, ECE


def test_counterfactual_relabel_and_temporal_clip():
    g = np.array([0, 1, 2, 0, 1, 2, 0])
    w, lab = counterfactual_relabel(g, 3, seed=4)
    assert np.all(w != g) and np.all((0 <= w) & (w < 3)) and np.all(lab == 0)
    L = np.array([10, 20, 5])
    ep, end, frac = temporal_clip(L, n_clips=3, low=0.2, high=0.8, seed=0)
    assert np.array_equal(ep, np.repeat([0, 1, 2], 3))
    assert np.all(end < L[ep]) and np.all(end >= np.floor(0.2 * L[ep]))
    np.testing.assert_allclose(frac, end / L[ep])
    with pytest.raises(ValueError, match="goal_ids"):
        counterfactual_relabel(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="low"):
        temporal_clip(L, low=0.9, high=0.1)


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 60), bins=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_ece_matches_reference(N, bins, seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=N)
    p[rng.random(N) < 0.1] = 1.0
    y = rng.random(N) < p
    assert ece(p, y, n_bins=bins) == pytest.approx(ece_plain(p, y, bins), abs=1e-12)
    assert 0 <= ece(p, y, n_bins=bins) <= 1


def test_ece_values():
    assert ece(np.array([1.0, 0.0]), np.array([True, False])) == 0.0
    assert ece(np.array([1.0, 1.0]), np.array([False, False])) == 1.0
    with pytest.raises(ValueError, match="n_bins"):
        ece(np.array([0.5]), np.array([True]), n_bins=0)


# ---- StateFactory and the kitchen


def test_kitchen_parser_round_trip_and_model():
    w, rng = KitchenWorld(), np.random.default_rng(0)
    for s in range(0, w.n_states, 7):
        assert w.index(w.state(s)) == s
        assert parse_observation(w.describe(s, rng)) == w.as_dict(s)
    for _ in range(20):
        goal = w.random_goal(rng)
        assert parse_goal(w.instruction(goal)) == goal
    P = w.transitions()
    np.testing.assert_allclose(P.sum(-1), 1.0)
    s = w.index(((PLACES.index("table"), 0), (0, 0), (0, 0)))
    s1 = w.step(s, OBJECTS.index("apple") * 4 + PLACES.index("sink"))
    assert w.as_dict(s1)["apple"]["place"] == "sink"
    s2 = w.step(s1, 12 + OBJECTS.index("apple"))  # wash in the sink
    assert w.as_dict(s2)["apple"]["clean"] == "clean"
    assert w.step(s, 12) == s  # washing outside the sink does nothing
    env = KitchenTextEnv()
    obs, info = env.reset(seed=3)
    assert isinstance(obs, str) and parse_goal(obs.split(".")[0] + ".") == info["goal"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_factorized_similarity_matches_reference(seed):
    w, rng = KitchenWorld(), np.random.default_rng(seed)
    goal = w.random_goal(rng, int(rng.integers(1, 3)))
    s = int(rng.integers(w.n_states))
    state = parse_observation(w.describe(s, rng))
    r = factorized_state_similarity(state, goal)
    assert r == pytest.approx(factorised(state, goal))
    assert (r == 1.0) == w.holds(s, goal)


def test_factorized_similarity_weights_sim_and_errors():
    state = {"mug": {"place": "sink", "clean": "dirty"}, "apple": {"place": "fridge"}}
    goal = {"mug": {"clean": "clean"}, "apple": {"place": "fridge"}}
    assert factorized_state_similarity(state, goal) == 0.5
    assert factorized_state_similarity(state, goal, weights={"apple": 3.0}) == 0.75
    assert factorized_state_similarity(state, goal, sim_fn=lambda a, b: 0.5) == 0.5
    assert factorized_state_similarity({}, goal) == 0.0
    with pytest.raises(TypeError, match="state"):
        factorized_state_similarity([], goal)
    with pytest.raises(ValueError, match="goal"):
        factorized_state_similarity(state, {})
    with pytest.raises(TypeError, match="sim_fn"):
        factorized_state_similarity(state, goal, sim_fn=3)


def test_hashed_text_encoder():
    enc = HashedTextEncoder(64)
    e = enc(["the mug is clean", "the mug is clean", "an apple in the fridge"])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0)
    np.testing.assert_allclose(e[0], e[1])
    assert e[0] @ e[1] > e[0] @ e[2]
    assert enc("x").shape == (64,)
    with pytest.raises(TypeError, match="texts"):
        enc([1, 2])


# ---- the greedy controller


def test_greedy_reach_with_the_true_distance():
    b = PointReachBatch(20, layout="open", horizon=50, autoreset=False, seed=5)
    succ = greedy_reach(b, lambda p, bt: -np.linalg.norm(
        p - bt.goals[bt.target()][:, None], axis=-1))
    assert succ.mean() >= 0.95
    with pytest.raises(ValueError, match="autoreset"):
        greedy_reach(PointReachBatch(2, layout="open"), lambda p, bt: p[..., 0])
    with pytest.raises(ValueError, match="score_fn"):
        greedy_reach(PointReachBatch(2, layout="open", autoreset=False),
                     lambda p, bt: np.zeros(3))
    with pytest.raises(TypeError, match="batch"):
        greedy_reach(None, lambda p, bt: p)


# ---- exercises


def test_stored_answers_and_wrong_answers():
    fresh = ch22.make_cases()
    stored = check_mod._cases("ch22")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch22 as sol

    assert cl.check("ch22.projection_reward", sol.projection_reward)
    assert cl.check("ch22.segment", sol.segment)
    assert cl.check("ch22.expected_calibration_error", sol.expected_calibration_error)
    with pytest.raises(AssertionError):  # the cosine only, whatever alpha
        cl.check("ch22.projection_reward", lambda x, g, b, alpha: x @ g)
    with pytest.raises(AssertionError):  # projecting onto g instead of g - b
        cl.check("ch22.projection_reward",
                 lambda x, g, b, alpha: sol.projection_reward(x, g, 0 * b, alpha))
    with pytest.raises(AssertionError):  # equal-length steps instead of the optimum
        cl.check("ch22.segment", lambda feats, n_steps: (
            np.arange(len(feats)) * n_steps // len(feats)))
    with pytest.raises(AssertionError):  # unweighted mean over bins
        cl.check("ch22.expected_calibration_error", lambda p, y, n_bins: float(np.mean([
            abs(p[b].mean() - y[b].mean()) for b in [
                np.minimum((p * n_bins).astype(int), n_bins - 1) == k for k in range(n_bins)]
            if b.any()])))


def test_reinforce_reach_learns_the_true_reward_and_not_noise():
    goals = PointReachBatch(1, layout="open").goals
    true = lambda pos, goal: -np.linalg.norm(pos - goals[goal], axis=-1)  # noqa: E731
    assert reinforce_reach(true, iterations=60, n_episodes=64, seed=3) >= 0.6  # measured 0.79
    rng = np.random.default_rng(0)
    noise = lambda pos, goal: rng.normal(size=pos.shape[:2])  # noqa: E731
    assert reinforce_reach(noise, iterations=60, n_episodes=64, seed=3) < 0.3  # measured 0.11
    with pytest.raises(ValueError, match="reward_fn"):
        reinforce_reach(lambda pos, goal: np.zeros(3), iterations=1)
    with pytest.raises(ValueError, match="reward_fn"):
        reinforce_reach(lambda pos, goal: np.full(pos.shape[:2], np.nan), iterations=1)
    with pytest.raises(TypeError, match="reward_fn"):
        reinforce_reach(None)
    with pytest.raises(ValueError, match="gamma"):
        reinforce_reach(true, gamma=1.5)
    with pytest.raises(ValueError, match="lr"):
        reinforce_reach(true, lr=0.0)


def test_step_reward_model_unfitted_and_wrong_width():
    with pytest.raises(RuntimeError, match="fit"):
        StepRewardModel(k=1)(np.zeros((3, 4)))
    rng = np.random.default_rng(0)
    demos = [np.concatenate([rng.normal(0, 0.1, (5, 4)), rng.normal(2, 0.1, (5, 4))])]
    model = StepRewardModel(k=2).fit(demos, [np.repeat([0, 1], 5)])
    with pytest.raises(ValueError, match="features"):
        model(np.zeros((3, 1)))
