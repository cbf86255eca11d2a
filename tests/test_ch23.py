"""Chapter 23: progress labels, refinement, executability and world-model rewards, DPO for
a Gaussian policy, trajectory discrimination and policy-evaluation rank correlation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.envs.pointreach_demos import demonstrations
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch23
from creditlab.metrics import auroc, policy_eval_rank_corr, spearman, traj_discrimination
from creditlab.models import GaussianPolicy
from creditlab.prefs import dpo_loss, dpo_loss_gaussian
from creditlab.rewards import (
    action_deviation,
    direction_alignment,
    kinematic_smoothness,
    procedure_progress_labels,
    progress_delta,
    time_progress_labels,
    wm_goal_reward,
)

torch.set_num_threads(1)


def procedure_labels_one(stage, feats, K):
    """The notebook's from-scratch reference (23.1), for one complete demonstration."""
    y = np.ones(len(stage))
    step = np.r_[0.0, np.linalg.norm(np.diff(feats, axis=0), axis=1)]
    for k in range(K):
        idx = np.nonzero(stage == k)[0]
        c = np.cumsum(step[idx[0]: idx[-1] + 2]) - step[idx[0]]
        y[idx] = (k + c[: len(idx)] / c[-1]) / K
    return y


@settings(max_examples=40, deadline=None)
@given(lens=st.lists(st.integers(1, 6), min_size=1, max_size=4), D=st.integers(1, 3),
       pad=st.integers(0, 3), seed=st.integers(0, 10_000))
def test_procedure_labels_match_reference(lens, D, pad, seed):
    rng = np.random.default_rng(seed)
    K = len(lens)
    stage = np.concatenate([np.full(n, k) for k, n in enumerate(lens)] + [[K] * (1 + pad)])
    feats = rng.normal(size=(len(stage), D)) + 0.1  # consecutive frames differ
    valid = np.ones((1, len(stage)), bool)
    got = procedure_progress_labels(stage[None], feats[None], valid, K)[0]
    np.testing.assert_allclose(got, procedure_labels_one(stage, feats, K), atol=1e-12)
    assert np.all(np.diff(got) >= -1e-12) and got[0] == 0.0 and got[-1] == 1.0
    # stage boundaries sit at k / K with equal budgets
    starts = np.cumsum([0, *lens])[:-1]
    np.testing.assert_allclose(got[starts], np.arange(K) / K, atol=1e-12)


def test_procedure_labels_on_demonstrations_budgets_and_pauses():
    d = demonstrations(4, "success", task=(0, 1, 2), horizon=90, seed=3)
    pos = d.states[..., :2].astype(np.float64)
    lab = procedure_progress_labels(d.stage, pos, d.valid, 3)
    for i in range(4):
        np.testing.assert_allclose(lab[i], procedure_labels_one(d.stage[i], pos[i], 3),
                                   atol=1e-12)
    # budgets move the stage boundaries
    lab_b = procedure_progress_labels(d.stage, pos, d.valid, 3, budgets=[2.0, 1.0, 1.0])
    first = np.argmax(d.stage[0] == 1)
    assert lab_b[0, first] == pytest.approx(0.5)
    # a pause (repeated frame) adds no progress; time labels keep rising
    stage = np.array([0, 0, 0, 0, 1])
    feats = np.array([[0.0], [1.0], [1.0], [2.0], [3.0]])
    v = np.ones((1, 5), bool)
    y = procedure_progress_labels(stage[None], feats[None, :, :], v, 1)[0]
    assert y[1] == y[2] == pytest.approx(1 / 3)
    np.testing.assert_allclose(time_progress_labels(v)[0], [0, 0.25, 0.5, 0.75, 1.0])


def test_incomplete_stage_and_no_change_and_inputs_unchanged():
    stage = np.array([[0, 0, 0, 1, 1, 1]])
    feats = np.array([[[0.0], [1.0], [2.0], [3.0], [3.0], [3.0]]])
    valid = np.array([[True] * 6])
    s0, f0 = stage.copy(), feats.copy()
    y = procedure_progress_labels(stage, feats, valid, 2)[0]
    # the last (never completed) stage has no change: it rises linearly in time
    np.testing.assert_allclose(y[3:], [0.5, 0.75, 1.0])
    assert np.array_equal(stage, s0) and np.array_equal(feats, f0)
    with pytest.raises(ValueError, match="non-decreasing"):
        procedure_progress_labels(np.array([[1, 0, 1]]), np.zeros((1, 3, 1)),
                                  np.ones((1, 3), bool), 2)
    with pytest.raises(ValueError, match="valid"):
        time_progress_labels(np.array([[True, False, True]]))


@settings(max_examples=30, deadline=None)
@given(B=st.integers(1, 4), T=st.integers(1, 8), beta=st.floats(0.0, 2.0),
       seed=st.integers(0, 10_000))
def test_refinement_terms(B, T, beta, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((B, T + 1))
    r = progress_delta(p)
    np.testing.assert_allclose(r.sum(-1), p[:, -1] - p[:, 0])
    a, s, f = rng.normal(size=(3, B, T, 2))
    cos = direction_alignment(a, s, f)
    d = f - s
    ref = (a * d).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(d, axis=-1)
    np.testing.assert_allclose(cos, ref, atol=1e-12)
    assert direction_alignment(np.zeros(2), np.zeros(2), np.ones(2)) == 0.0


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 4), T=st.integers(4, 10), J=st.integers(1, 3),
       w=st.tuples(st.floats(0, 2), st.floats(0, 2), st.floats(0, 2)), dt=st.floats(0.1, 2),
       seed=st.integers(0, 10_000))
def test_kinematic_smoothness_matches_reference(N, T, J, w, dt, seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(N, T, J))
    lim = np.tile([[-1.5, 1.5]], (J, 1))
    v = np.diff(q, axis=1) / dt
    acc = np.diff(v, axis=1) / dt
    jerk = np.diff(acc, axis=1) / dt
    ref = -(w[0] * np.linalg.norm(v, axis=-1).mean(1) + w[1] * np.linalg.norm(acc, axis=-1).mean(1)
            + w[2] * np.linalg.norm(jerk, axis=-1).mean(1))
    ref -= 0.7 * (np.abs(q) > 1.5).any((1, 2))
    got = kinematic_smoothness(q, dt, w_vel=w[0], w_acc=w[1], w_jerk=w[2], limits=lim,
                               penalty=0.7)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_world_model_reward_and_deviation():
    s = np.array([[0.0, 0.0, 9.0], [1.0, 1.0, 9.0]])
    a = np.array([[[1.0, 0.0], [1.0, 0.0]], [[0.0, -1.0], [0.0, -1.0]]])

    def wm(x, u):
        return np.concatenate([x[:, :2] + 0.5 * u, x[:, 2:]], 1)

    g = np.array([[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(wm_goal_reward(wm, s, a, g), [0.0, 0.0])
    np.testing.assert_allclose(wm_goal_reward(wm, s, a[:, 0], g), [-0.5, -0.5])
    l1 = wm_goal_reward(wm, s, a[:, :1], g, distance=lambda p, q: np.abs(p - q).sum(1))
    np.testing.assert_allclose(l1, [-0.5, -0.5])
    np.testing.assert_allclose(action_deviation([[3.0, 4.0]], [[0.0, 0.0]]), [5.0])
    with pytest.raises(ValueError, match="wm"):
        wm_goal_reward(lambda x, u: x[:, :2], s, a, g)


def test_dpo_loss_gaussian_matches_scratch_and_moves_toward_chosen():
    pol, ref = GaussianPolicy(3, 2, hidden=8, seed=0), GaussianPolicy(3, 2, hidden=8, seed=0)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(8, 3)).astype(np.float32)
    aw, al = rng.normal(size=(2, 8, 2)).astype(np.float32)
    loss = dpo_loss_gaussian(pol, ref, obs, aw, al, beta=0.5)
    assert loss.item() == pytest.approx(np.log(2), rel=1e-6)  # policy == reference
    with torch.no_grad():
        pol.mean_net.net[-1].bias += 0.3
    lp = lambda p, a: p.log_prob(obs, a).detach()  # noqa: E731
    want = dpo_loss(lp(pol, aw), lp(ref, aw), lp(pol, al), lp(ref, al), beta=0.5)
    got = dpo_loss_gaussian(pol, ref, obs, aw, al, beta=0.5)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    # a few steps raise the chosen actions' likelihood relative to the rejected ones
    opt = torch.optim.Adam(pol.parameters(), 1e-2)
    m0 = (lp(pol, aw) - lp(pol, al)).mean()
    for _ in range(20):
        loss = dpo_loss_gaussian(pol, ref, obs, aw, al, beta=0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (lp(pol, aw) - lp(pol, al)).mean() > m0
    with pytest.raises(TypeError, match="ref_policy"):
        dpo_loss_gaussian(pol, object(), obs, aw, al)
    with pytest.raises(ValueError, match="a_chosen"):
        dpo_loss_gaussian(pol, ref, obs, aw[:, :1], al)


def test_traj_discrimination_and_rank_corr():
    pred = np.array([[0.0, 0.5, 0.9], [0.0, 0.8, 0.2], [0.0, 0.3, 0.3]])
    valid = np.array([[True, True, True], [True, True, True], [True, True, False]])
    succ = np.array([True, False, False])
    assert traj_discrimination(pred, valid, succ) == auroc([0.9, 0.2, 0.3], succ) == 1.0
    assert traj_discrimination(pred, valid, succ, score="max") == 1.0
    assert traj_discrimination(pred, valid, succ, score="mean") == pytest.approx(
        auroc(np.array([1.4 / 3, 1.0 / 3, 0.15]), succ))
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 5.0])
    assert policy_eval_rank_corr(x, y) == spearman(x, y)
    with pytest.raises(ValueError, match="score"):
        traj_discrimination(pred, valid, succ, score="last")


def test_stored_answers_and_wrong_answers():
    fresh = ch23.make_cases()
    stored = check_mod._cases("ch23")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch23 as sol

    assert cl.check("ch23.procedure_labels", sol.procedure_labels)
    assert cl.check("ch23.gaussian_dpo", sol.gaussian_dpo)
    assert cl.check("ch23.refinement_reward", sol.refinement_reward)
    with pytest.raises(AssertionError):  # time labels instead of procedure labels
        cl.check("ch23.procedure_labels",
                 lambda stage, feats, n_stages: np.linspace(0.0, 1.0, len(stage)))
    with pytest.raises(AssertionError):  # the sign of the margin flipped
        cl.check("ch23.gaussian_dpo", lambda mu, log_std, ref_mu, ref_log_std, a_w, a_l, beta:
                 sol.gaussian_dpo(mu, log_std, ref_mu, ref_log_std, a_l, a_w, beta))
    with pytest.raises(AssertionError):  # the progress delta alone
        cl.check("ch23.refinement_reward",
                 lambda p_hat, a, s, s_future, beta: np.diff(p_hat))
