"""Chapter 12: near-terminal weights, expectiles, tabular IQL, BPPO and AWR, tabular
episodes and exact success, and the exercise answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import creditlab as cl
from creditlab.envs import GridWorldEnv
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch12
from creditlab.tabular import (
    EpisodeBatch,
    greedy_policy,
    policy_evaluation,
    sample_episodes,
    success_probability,
    value_iteration,
)

torch = pytest.importorskip("torch")
from creditlab.algos.offline import (  # noqa: E402  (needs torch)
    awr_loss,
    bppo_loss,
    expectile,
    expectile_loss,
    fit_tabular_iql,
    iql_losses,
    near_terminal_weights,
)
from creditlab.algos.pg_losses import ppo_clip_loss  # noqa: E402

finite = st.floats(-5, 5, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=5), st.data())
def test_weights_range_and_padding(lengths, data):
    L = np.array(lengths)
    mask = np.arange(L.max())[None, :] < L[:, None]
    d = np.array(data.draw(st.lists(st.booleans(), min_size=len(L), max_size=len(L))))
    m0, d0 = mask.copy(), d.copy()
    w = near_terminal_weights(mask, d)
    assert np.array_equal(mask, m0) and np.array_equal(d, d0)  # inputs untouched
    assert np.all(w[~mask] == 0)
    lo = np.where(d, 1.0, 0.5)[:, None]
    assert np.all((w > lo) | ~mask) and np.all((w <= lo + 0.5 + 1e-12) | ~mask)
    last = w[np.arange(len(L)), L - 1]
    np.testing.assert_allclose(last, np.where(d, 1.5, 1.0))
    both = mask[:, 1:] & mask[:, :-1]
    assert np.all(np.diff(w, axis=1)[both] > 0)  # increasing in t within a trajectory


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=finite), st.floats(0.05, 0.95))
def test_expectile_minimises_the_loss(q, tau):
    v = expectile(q, tau)
    assert q.min() - 1e-9 <= v <= q.max() + 1e-9

    def loss(x: float) -> float:
        return float(expectile_loss(torch.tensor(q - x), tau).sum())

    for eps in (1e-3, -1e-3):
        assert loss(v) <= loss(v + eps) + 1e-9
    np.testing.assert_allclose(expectile(q, 0.5), q.mean(), atol=1e-12)


def test_expectile_loss_is_asymmetric():
    u = torch.tensor([-2.0, 2.0], dtype=torch.float64)
    np.testing.assert_allclose(expectile_loss(u, 0.8).numpy(), [0.2 * 4, 0.8 * 4])


def _dataset(rng, S=4, A=3, n=40):
    s = rng.integers(0, S, n)
    a = rng.integers(0, A, n)
    s2 = rng.integers(0, S, n)
    r = rng.normal(size=n)
    t = rng.random(n) < 0.2
    return s, a, r, s2, t


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.3, 0.9), st.booleans())
def test_tabular_iql_is_a_fixed_point_of_both_losses(seed, tau, weighted):
    rng = np.random.default_rng(seed)
    s, a, r, s2, t = _dataset(rng)
    w = rng.uniform(0.5, 1.5, len(s)) if weighted else None
    args = [x.copy() for x in (s, a, r, s2, t)]
    Q, V = fit_tabular_iql(4, 3, s, a, r, s2, t, 0.8, tau=tau, weights=w, backups=300)
    for x, y in zip(args, (s, a, r, s2, t)):
        assert np.array_equal(x, y)  # inputs untouched
    Qt, Vt = torch.tensor(Q, requires_grad=True), torch.tensor(V, requires_grad=True)
    lv, lq = iql_losses(Qt[s, a], Vt[s], Vt[s2], torch.tensor(r), torch.tensor(t), 0.8, tau,
                        None if w is None else torch.tensor(w))
    (lv + lq).backward()
    assert Qt.grad.abs().max() < 1e-7 and Vt.grad.abs().max() < 1e-7


def test_tabular_iql_at_half_is_policy_evaluation_of_the_data():
    """tau = 1/2 with lots of data: V approaches the behaviour policy's value."""
    env = GridWorldEnv("sparse", size=4, slip=0.1)
    pi = np.full((env.P.shape[0], 4), 0.25)
    D = sample_episodes(env.P, env.R, pi, env.start_state, 3000, 30, terminal=env.terminal,
                        seed=0)
    s, a, r, s2, t = D.flat()
    _, V = fit_tabular_iql(env.P.shape[0], 4, s, a, r, s2, t, 0.9, tau=0.5, backups=300)
    Vpi = policy_evaluation(env.P, env.R, pi, 0.9, env.terminal)
    assert abs(V[env.start_state] - Vpi[env.start_state]) < 0.03


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, 6, elements=st.floats(-1, 1)),
       arrays(np.float64, 6, elements=finite), st.floats(0.05, 0.5))
def test_bppo_with_equal_eps_is_ppo_clip(dlogp, adv, eps):
    old = torch.zeros(6, dtype=torch.float64)
    new = torch.tensor(dlogp)
    a = torch.tensor(adv)
    np.testing.assert_allclose(bppo_loss(new, old, a, eps, eps).item(),
                               ppo_clip_loss(new, old, a, eps).item(), atol=1e-12)


def test_bppo_asymmetric_clip_gradients():
    new = torch.tensor([0.2, -0.2], dtype=torch.float64, requires_grad=True)
    bppo_loss(new, torch.zeros(2, dtype=torch.float64),
              torch.tensor([1.0, -1.0], dtype=torch.float64), 0.3, 0.1).backward()
    assert new.grad[0] == 0  # ratio 1.22 > 1 + eps_high: clipped
    assert new.grad[1] > 0  # ratio 0.82 > 1 - eps_low: still pushed down


@pytest.mark.parametrize("w", [torch.ones(3, dtype=torch.float64),
                               torch.tensor([1.0, -1.0], dtype=torch.float64),
                               torch.zeros(2, dtype=torch.float64)])
def test_bppo_rejects_bad_weights(w):
    z = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="weights"):
        bppo_loss(z, z, torch.ones(2, dtype=torch.float64), 0.3, 0.1, weights=w)


def test_awr_weights_are_positive_and_clipped():
    lp = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    awr_loss(lp, torch.tensor([-1.0, 0.0, 100.0], dtype=torch.float64), 1.0, 20.0).backward()
    g = -lp.grad.numpy() * 3
    np.testing.assert_allclose(g, [np.exp(-1), 1.0, 20.0])


def test_sample_episodes_and_exact_success_agree():
    env = GridWorldEnv("key_door", size=5, slip=0.2)
    _, Q = value_iteration(env.P, env.R, 0.95, env.terminal)[:2]
    pi = 0.7 * greedy_policy(Q) + 0.3 / 4
    H = 25
    p = success_probability(env.P, pi, env.start_state, env.terminal, H)
    D = sample_episodes(env.P, env.R, pi, env.start_state, 4000, H, terminal=env.terminal,
                        seed=1)
    assert isinstance(D, EpisodeBatch)
    assert abs(D.success.mean() - p) < 4 * np.sqrt(p * (1 - p) / 4000) + 1e-3
    # layout of the batch: masks are prefixes, a success ends with its terminated step
    assert not (np.diff(D.mask.astype(int), axis=1) > 0).any()
    ends = D.terminated.any(1)
    np.testing.assert_array_equal(ends, D.success)
    assert D.flat()[0].shape == (D.mask.sum(),)
    both = D.concat(sample_episodes(env.P, env.R, pi, env.start_state, 3, 5,
                                    terminal=env.terminal, seed=2))
    assert both.mask.shape == (4003, H) and both.mask[4000:, 5:].sum() == 0


def test_success_probability_bounds():
    env = GridWorldEnv("sparse", size=4)
    pi = greedy_policy(value_iteration(env.P, env.R, 0.9, env.terminal)[1])
    assert success_probability(env.P, pi, env.start_state, env.terminal, 6) == pytest.approx(1)
    assert success_probability(env.P, pi, env.start_state, env.terminal, 5) == pytest.approx(0)


def test_stored_answers_match_the_library():
    fresh = ch12.make_cases()
    stored = check_mod._cases("ch12")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)


def test_weights_from_zero_fail():
    def from_zero(mask, success):  # steps numbered 0..T-1: the last step misses t/T = 1
        m = np.asarray(mask, bool)
        T = np.maximum(m.sum(1, keepdims=True), 1)
        w = 0.5 * (np.arange(m.shape[1])[None, :] / T + np.asarray(success)[:, None]) + 0.5
        return np.where(m, w, 0.0)

    with pytest.raises(AssertionError):
        cl.check("ch12.near_terminal_weights", from_zero)


def test_unweighted_expectile_fails():
    def unweighted(q, weights, tau):
        return expectile(q, tau)

    with pytest.raises(AssertionError):
        cl.check("ch12.expectile_value", unweighted)


def test_symmetric_clip_fails():
    def symmetric(ratio, adv, eps_low, eps_high):
        r = np.asarray(ratio)
        return np.minimum(r * adv, np.clip(r, 1 - eps_high, 1 + eps_high) * adv)

    with pytest.raises(AssertionError):
        cl.check("ch12.bppo_objective", symmetric)
