"""Chapter 16: prediction-error and Hindsight-style curiosity bonuses, the independence
penalty, the learned hindsight encoder, the noisy-TV grid and the curiosity agent loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.algos.curiosity import explore, reachable_states
from creditlab.envs.noisy_tv import NoisyTVGridEnv
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch16
from creditlab.exploration import (
    TabularCuriosity,
    fit_hindsight_encoder,
    hindsight_bonus,
    independence_penalty,
    prediction_error_bonus,
)

torch = pytest.importorskip("torch")


def _plain_error(pred, o):
    e = np.zeros(len(pred))
    e[o] = 1.0
    return ((pred - e) ** 2).sum()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(1, 3), st.integers(1, 4),
       st.integers(1, 6), st.integers(1, 9))
def test_bonuses_match_the_plain_formula(seed, S, A, Z, D, N):
    rng = np.random.default_rng(seed)
    f = rng.dirichlet(np.ones(D), size=(S, A))
    g = rng.dirichlet(np.ones(D), size=(S, A, Z))
    s, a, z, o = (rng.integers(n, size=N) for n in (S, A, Z, D))
    np.testing.assert_allclose(prediction_error_bonus(f, s, a, o),
                               [_plain_error(f[i, j], k) for i, j, k in zip(s, a, o)],
                               atol=1e-12)
    np.testing.assert_allclose(hindsight_bonus(g, s, a, z, o),
                               [_plain_error(g[i, j, k], m) for i, j, k, m in zip(s, a, z, o)],
                               atol=1e-12)
    q = rng.dirichlet(np.ones(Z), size=N)
    want = [sum(q[n, k] * _plain_error(g[i, j, k], m) for k in range(Z))
            for n, (i, j, m) in enumerate(zip(s, a, o))]
    np.testing.assert_allclose(hindsight_bonus(g, s, a, q, o), want, atol=1e-12)
    # with one code, hindsight is the prediction error
    np.testing.assert_allclose(hindsight_bonus(f[:, :, None], s, a, np.zeros(N, int), o),
                               prediction_error_bonus(f, s, a, o))


def test_uniform_prediction_pays_one_minus_one_over_k():
    for K in (1, 2, 4, 16):
        f = np.full((1, 1, K), 1.0 / K)
        r = prediction_error_bonus(f, np.zeros(K, int), np.zeros(K, int), np.arange(K))
        np.testing.assert_allclose(r.mean(), 1 - 1 / K)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(2, 4), st.integers(1, 4))
def test_independence_penalty_is_the_plain_mutual_information(seed, N, Z, G):
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.ones(Z), size=N)
    grp = rng.integers(0, G, N)
    from creditlab.solutions.ch16 import independence_penalty as plain

    np.testing.assert_allclose(independence_penalty(q, grp), plain(q, grp), atol=1e-12)
    t = independence_penalty(torch.tensor(q, requires_grad=True), grp)
    np.testing.assert_allclose(t.item(), plain(q, grp), atol=1e-10)
    w = rng.integers(1, 4, N)
    np.testing.assert_allclose(independence_penalty(q, grp, weights=w),
                               plain(np.repeat(q, w, 0), np.repeat(grp, w)), atol=1e-10)
    assert independence_penalty(q, np.zeros(N, int)) == pytest.approx(0.0, abs=1e-12)


def test_tabular_curiosity_learns_deterministic_but_not_noise():
    m = TabularCuriosity(2, 1, 4, lr=0.5)
    first = m(0, 0, 1)
    for _ in range(20):
        last = m(0, 0, 1)
    assert first == pytest.approx(0.75) and last < 1e-6
    rng = np.random.default_rng(0)
    noisy = [m(1, 0, int(rng.integers(4))) for _ in range(4000)]
    # an exponential average with step 0.5 keeps chasing the channels: the expected error is
    # (1 - 1/K) * 2 / (2 - lr) = 1.0 for K = 4, above the 0.75 of a converged model
    assert np.mean(noisy[100:]) == pytest.approx(1.0, abs=0.03)
    h = TabularCuriosity(2, 1, 4, n_z=4, lr=0.5)
    zs = rng.integers(4, size=400)
    given_z = [h(1, 0, int(z), int(z)) for z in zs]
    assert np.mean(given_z[100:]) < 1e-6


def test_noisy_tv_env():
    env = NoisyTVGridEnv("key_door", size=6, channels=3)
    obs, info = env.reset(seed=0)
    assert obs == env.start_state * 3 and info["noise"] == 0
    assert reachable_states(env)[env.tv_states[0]]
    # stand on the TV and bump into the bottom wall: the screen shows random channels
    env._state = env.tv_state
    screens = []
    for _ in range(60):
        obs, _, _, _, info = env.step(2)
        assert info["cell_state"] == env.tv_state
        assert obs == info["cell_state"] * 3 + info["noise"]
        screens.append(info["noise"])
    _, _, _, _, info = env.step(0)  # step off the TV: a blank screen
    assert info["cell_state"] not in env.tv_states and info["noise"] == 0
    assert set(screens) == {0, 1, 2}
    off = NoisyTVGridEnv("key_door", size=6, channels=1)
    assert off.n_obs == len(off.cells)
    with pytest.raises(ValueError, match="tv"):
        NoisyTVGridEnv("key_door", size=6, tv=(0, 3))  # a wall
    with pytest.raises(ValueError, match="channels"):
        NoisyTVGridEnv(channels=0)


def _run(kind, channels, seed, steps=6000):
    env = NoisyTVGridEnv("key_door", size=6, channels=channels)
    S, A = env.next_state.shape
    m = TabularCuriosity(S, A, env.n_obs, n_z=channels if kind == "h" else 1)
    fn = (lambda s, a, o, i: m(s, a, o)) if kind == "pe" else (
        lambda s, a, o, i: m(s, a, o, i["noise"]))
    return explore(env, fn, steps, seed=seed)


def test_noisy_tv_captures_prediction_error_not_hindsight():
    pe, h = _run("pe", 4, 0), _run("h", 4, 0)
    assert pe.tv_fraction > 0.4 and h.tv_fraction < 0.15
    assert h.coverage >= pe.coverage
    pe1, h1 = _run("pe", 1, 0), _run("h", 1, 0)
    np.testing.assert_array_equal(pe1.visits, h1.visits)  # no noise: the same agent


def test_explore_records():
    r = _run("pe", 4, 1, steps=500)
    assert r.visits.sum() >= 501 and 0 <= r.tv_fraction <= 1 and 0 < r.coverage <= 1
    assert len(r.coverage_curve) == len(r.checkpoints) and r.checkpoints[-1] == 500
    assert np.all(np.diff(r.coverage_curve) >= 0)
    with pytest.raises(TypeError, match="bonus"):
        explore(NoisyTVGridEnv(size=6), 3, 10)


def test_learned_encoder_independence():
    env = NoisyTVGridEnv("key_door", size=6, channels=2)
    S, A = env.next_state.shape
    rng = np.random.default_rng(0)
    s = rng.integers(S, size=300)
    a = rng.integers(A, size=300)
    s2 = env.next_state[s, a]
    noise = np.where(np.isin(s2, env.tv_states), rng.integers(2, size=300), 0)
    parts = np.column_stack([s2, noise])
    enc = fit_hindsight_encoder(s, a, parts, n_states=S, n_actions=A, obs_sizes=(S, 2),
                                n_z=4, indep_weight=1.0, steps=30, seed=0)
    q = enc.probs(s, a, parts)
    np.testing.assert_allclose(q.sum(1), 1.0)
    assert enc.history["rec"].shape == (30,)
    assert enc.code(int(s[0]), int(a[0]), tuple(parts[0])) == int(q[0].argmax())
    enc0 = fit_hindsight_encoder(s, a, parts, n_states=S, n_actions=A, obs_sizes=(S, 2),
                                 n_z=4, indep_weight=0.0, steps=30, seed=0)
    mi = lambda e: independence_penalty(e.probs(s, a, parts), s * A + a)  # noqa: E731
    assert mi(enc) < mi(enc0)
    assert set(enc.history) == {"rec", "inv", "ent"}
    assert np.all(enc.history["ent"] >= 0) and np.all(enc.history["ent"] <= np.log(4) + 1e-9)


def _tv_purity(enc, s, a, s2, noise, at, A):
    code = enc.probs(s, a, np.column_stack([s2, noise])).argmax(1)
    key = ((s * A + a) * enc.enc_a.shape[1] + code)[at]
    return sum(np.bincount(noise[at][key == u]).max() for u in np.unique(key)) / at.sum()


def test_learned_encoder_recovers_the_channel():
    # a 3x3 grid with a 3-channel TV: with independence + code entropy the code explains the
    # screen (given (s, a, code) the channel is determined), and stays independent of (s, a);
    # without the code-entropy term the fit merges channels (purity 0.69 on this seed)
    K = 3
    env = NoisyTVGridEnv(["S..", "...", "..G"], tv=(2, 0), channels=K)
    S, A = env.next_state.shape
    rng = np.random.default_rng(0)
    s, a = rng.integers(S, size=2000), rng.integers(A, size=2000)
    s2 = env.next_state[s, a]
    at = np.isin(s2, env.tv_states)
    noise = np.where(at, rng.integers(K, size=2000), 0)
    parts = np.column_stack([s2, noise])
    fit = lambda beta: fit_hindsight_encoder(  # noqa: E731
        s, a, parts, n_states=S, n_actions=A, obs_sizes=(S, K), n_z=4, indep_weight=1.0,
        code_entropy=beta, steps=200, seed=0)
    enc, enc_merged = fit(0.1), fit(0.0)
    assert _tv_purity(enc, s, a, s2, noise, at, A) > 0.95
    assert independence_penalty(enc.probs(s, a, parts), s * A + a) < 0.05
    assert _tv_purity(enc_merged, s, a, s2, noise, at, A) < 0.9


def test_stored_answers_and_wrong_answers():
    fresh = ch16.make_cases()
    stored = check_mod._cases("ch16")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch16 as sol

    assert cl.check("ch16.prediction_error", sol.prediction_error)
    assert cl.check("ch16.independence_penalty", sol.independence_penalty)
    with pytest.raises(AssertionError):
        cl.check("ch16.prediction_error", lambda pred, obs_next: float(1 - pred[obs_next]))
    with pytest.raises(AssertionError):
        cl.check("ch16.independence_penalty", lambda q_z, group: float(q_z.var()))


def test_bad_input_names_the_argument():
    f = np.full((2, 2, 3), 1 / 3)
    with pytest.raises(ValueError, match="obs_next"):
        prediction_error_bonus(f, [0], [0], [3])
    with pytest.raises(TypeError, match="model"):
        prediction_error_bonus(f.astype(int), [0], [0], [0])
    with pytest.raises(ValueError, match="z"):
        hindsight_bonus(f[:, :, None], [0], [0], [1], [0])
    with pytest.raises(ValueError, match="q_z"):
        independence_penalty(np.array([[0.5, 0.6]]), [0])
    with pytest.raises(ValueError, match="s"):
        TabularCuriosity(2, 2, 3)(2, 0, 0)
    with pytest.raises(ValueError, match="code_entropy"):
        fit_hindsight_encoder([0], [0], [[0, 0]], n_states=2, n_actions=1, obs_sizes=(2, 1),
                              code_entropy=-0.1)
