"""Chapter 10: milestone rewards and potentials, KRC, stage-structured advantages, the
milestone product MDP, StagedChain, GridSoccer, RubricMemory, and the exercise answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import creditlab as cl
from creditlab.advantages import grpo, stage_structured
from creditlab.envs import GridWorldEnv
from creditlab.envs.soccer import GridSoccerEnv
from creditlab.envs.staged import StagedChain
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch10
from creditlab.memory import RubricMemory
from creditlab.shaping import (
    distance_shape,
    krc_combine,
    milestone_potential,
    milestone_rewards,
    potential_shaping_table,
)
from creditlab.tabular import milestone_product, policy_evaluation, value_iteration

unit = st.floats(-1, 1, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 4))))
def test_milestones_pay_each_first_completion_once(e):
    r = milestone_rewards(e)
    M = e.shape[-1]
    assert r.shape == e.shape[:2]
    np.testing.assert_allclose(r.sum(1), e.any(1).sum(-1) / M)  # each milestone at most once
    assert np.all(milestone_rewards(e, once=False).sum(1) >= r.sum(1) - 1e-12)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)), elements=unit))
def test_krc_modes(c):
    g = krc_combine(c)
    n = c.shape[-1]
    np.testing.assert_allclose(np.abs(g), np.abs(c).prod(-1) ** (1 / n))
    assert np.all(np.abs(g) <= np.abs(c).max(-1) + 1e-12)  # a mean: never above the largest
    an = krc_combine(c, "any_negative")
    assert np.all((an < 0) <= (c < 0).any(-1))
    np.testing.assert_allclose(krc_combine(c, "weighted_sum"), c.mean(-1))


def test_krc_matches_lucy_two_components_and_torch():
    torch = pytest.importorskip("torch")
    a, b = np.array([0.3, -0.8, -0.2]), np.array([0.5, 0.5, -0.9])
    lucy = np.sqrt(np.abs(a * b)) * np.sign(a * b)  # lucy_utils/rewards/misc.py
    c = np.stack([a, b], -1)
    np.testing.assert_allclose(krc_combine(c), lucy)
    t = krc_combine(torch.tensor(c))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), lucy)
    with pytest.raises(ValueError, match="weights"):
        krc_combine(c, weights=np.ones(2))


def test_distance_shape_and_potential():
    d = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(distance_shape(d, dispersion=2.0, density=3.0),
                               np.exp(-0.5 * d / 2.0) ** 3)
    np.testing.assert_allclose(milestone_potential(np.array([0, 1, 3]), 3, 2.0), [0, 2 / 3, 2])
    with pytest.raises(ValueError, match="n_done"):
        milestone_potential(np.array([4]), 3)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 4), st.integers(1, 7), st.integers(0, 2**31))
def test_stage_structured_is_grpo_per_stage(B, K, T, seed):
    rng = np.random.default_rng(seed)
    s = rng.random((B, K))
    ids = rng.integers(-1, K, (B, T))
    idx = rng.integers(0, 2, B)
    A = stage_structured(s, ids, idx)
    for k in range(K):
        ak = grpo(s[:, k], idx)
        np.testing.assert_allclose(A[ids == k], np.broadcast_to(ak[:, None], ids.shape)[ids == k])
    assert np.all(A[ids < 0] == 0)
    o = rng.random(B)
    A2 = stage_structured(s, ids, idx, outcome=o, w_outcome=0.5)
    extra = 0.5 * np.broadcast_to(grpo(o, idx)[:, None], ids.shape)
    np.testing.assert_allclose((A2 - A)[ids >= 0], extra[ids >= 0])


def test_milestone_product_keeps_potential_optimum_and_flags_never_turn_off():
    env = GridWorldEnv("key_door_decoy", size=6, slip=0.1)
    P2, base, flags = milestone_product(env.P, np.stack([env.has_key, env.checkpoints]))
    np.testing.assert_allclose(P2.sum(-1), 1.0)
    reach = P2 > 0
    # from (s, f) only flags f' >= f are reachable
    fi = flags.astype(int)
    assert np.all((fi[:, None, None, :] <= fi[None, None, :, :]).all(-1) | ~reach)
    term, R = env.terminal[base], env.R[base][:, :, base]
    phi = milestone_potential(flags.sum(1), 2)
    _, Q = value_iteration(P2, R + potential_shaping_table(phi, 0.9, term), 0.9, term)
    pi = np.eye(4)[Q.argmax(1)]
    V = value_iteration(P2, R, 0.9, term)[0]
    s0 = env.start_state
    np.testing.assert_allclose(policy_evaluation(P2, R, pi, 0.9, term)[s0], V[s0], atol=1e-8)


def test_staged_chain_exact_success_matches_sampling():
    task = StagedChain()
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(task.n_actions), (task.n_stages, task.steps_per_stage))
    acts = task.sample(probs, 40_000, rng)
    assert abs(task.success(acts).mean() - task.success_prob(probs)) < 0.01
    judged = task.judge(acts, rng)
    assert abs((judged != task.items_met(acts)).mean() - task.judge_flip) < 0.01
    with pytest.raises(ValueError, match="checklists"):
        StagedChain(checklists=(("work",),) * 3)


def test_soccer_components_and_pushes():
    env = GridSoccerEnv()
    C = env.components()
    assert C.shape == (len(env.terminal), 1, len(env.terminal), 2)
    assert np.all(np.abs(C[..., 0]) <= 1 + 1e-12) and np.all(C[..., 1] <= 1)
    s = env.start_state  # agent (2, 1), ball (2, 2): pushing right moves the ball right
    s2 = int(np.argmax(env.P[s, 1]))
    assert tuple(env.ball[s2]) == (2, 3) and np.isclose(env.ball_to_goal[s, s2], 1.0)
    s3 = int(np.argmax(env.P[s, 0]))  # stepping up leaves the ball: alignment 0
    assert np.isclose(env.ball_to_goal[s, s3], 0.0)
    np.testing.assert_allclose(env.P.sum(-1), 1.0)


def test_rubric_memory():
    mem = RubricMemory((2, 2))
    met = np.array([[[True, False], [True, True]], [[True, True], [True, True]]])
    mem.record(np.array([5, 6]), met)
    u = mem.unmet(np.array([6, 5, 7]))
    assert not u[0].any() and u[1][0, 1] and u[1].sum() == 1 and not u[2].any()
    assert len(mem) == 2
    with pytest.raises(ValueError, match="met"):
        mem.record(np.array([1]), np.ones((1, 3), bool))


def test_exercise_answers_are_current_and_wrong_answers_fail():
    fresh, stored = ch10.make_cases(), check_mod._cases("ch10")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)

    def every_completion(events, weights):
        return np.asarray(events, float) @ weights

    with pytest.raises(AssertionError):
        cl.check("ch10.milestone_rewards", every_completion)

    def mean_not_geomean(components):
        return components.mean(-1)

    with pytest.raises(AssertionError):
        cl.check("ch10.signed_geomean", mean_not_geomean)
