"""creditlab.rtb: generator statistics, the DP kernel against its numpy reference, the
closed-form bid against brute force, monotonicity, bidders, evaluation and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditlab import _backend, rtb
from creditlab.metrics import spearman
from creditlab.rtb import dp as dpmod
from creditlab.rtb import synth

needs_cpp = pytest.mark.skipif(_backend._C is None, reason="creditlab._C not built")


def _pmf(rng: np.random.Generator, n: int, zero_frac: float = 0.0) -> np.ndarray:
    m = rng.random(n) + 1e-3
    m[rng.random(n) < zero_frac] = 0.0
    m[0] = max(m[0], 1e-3)
    return m / m.sum()


# ----------------------------------------------------------------------------- generator
@pytest.mark.parametrize("name", ["1458", "2259", "2997", "3386", "toy"])
def test_generator_matches_profile(name):
    p = synth.PROFILES[name]
    tr, te = rtb.generate(name, 300_000, 20_000, seed=11, sigma_price=0.0, sigma_ctr=0.0,
                          drift=False)
    assert len(tr) == 300_000 and len(te) == 20_000
    # CTR: mean pCTR is calibrated to the profile; realised CTR within sampling noise
    assert tr.pctr.mean() == pytest.approx(p.ctr, rel=0.03)
    se = np.sqrt(p.ctr / len(tr))
    assert abs(tr.info["ctr"] - p.ctr) < 4 * se
    # mean price equals the profile's p.m.f. mean and the campaign's measured mean
    pmf_mean = (synth.price_pmf(name) * np.arange(301)).sum()
    assert pmf_mean == pytest.approx(p.mean_price, rel=1e-3)
    assert tr.info["cpm"] == pytest.approx(p.mean_price, rel=0.02)
    assert tr.price.min() >= 0 and tr.price.max() <= 300
    # Spearman(price, pCTR) close to the copula correlation
    assert spearman(tr.price[:60_000].astype(float), tr.pctr[:60_000]) == pytest.approx(
        p.rho, abs=0.07)
    # pCTR AUC near the real campaign's
    assert rtb.auc(tr.click, tr.pctr) == pytest.approx(p.target_auc, abs=0.045)


def test_generator_is_seeded_and_knobs_work():
    a, _ = rtb.generate("toy", 5000, 0, seed=3)
    b, _ = rtb.generate("toy", 5000, 0, seed=3)
    c, _ = rtb.generate("toy", 5000, 0, seed=4)
    assert np.array_equal(a.price, b.price) and np.array_equal(a.click, b.click)
    assert not np.array_equal(a.price, c.price)
    # per-block price variation: block means vary far more than under i.i.d. sampling
    def block_cv(log):
        m = log.price[: 200 * 1000].reshape(200, 1000).mean(1)
        return m.std() / m.mean()

    iid, _ = rtb.generate("2259", 200_000, 0, seed=0, sigma_price=0.0, sigma_ctr=0.0)
    ns, _ = rtb.generate("2259", 200_000, 0, seed=0, sigma_price=0.15, sigma_ctr=0.0)
    assert block_cv(iid) < 0.05 < 0.09 < block_cv(ns)
    # drift: test prices x price_drift
    tr, te = rtb.generate("3358", 100_000, 100_000, seed=0, sigma_price=0, sigma_ctr=0)
    assert te.info["cpm"] / tr.info["cpm"] == pytest.approx(1.23, rel=0.05)


def test_load_log_roundtrip(tmp_path):
    tr, _ = rtb.generate("toy", 500, 0, seed=1)
    path = tmp_path / "test.theta.txt"
    np.savetxt(path, np.c_[tr.click, tr.price, tr.pctr], fmt=["%d", "%d", "%.10g"])
    log = rtb.load_log(path)
    assert np.array_equal(log.click, tr.click) and np.array_equal(log.price, tr.price)
    np.testing.assert_allclose(log.pctr, tr.pctr, rtol=1e-9)
    assert log.info["cost"] == tr.info["cost"] and log.info["n"] == 500
    np.savez(tmp_path / "l.npz", click=tr.click, price=tr.price, pctr=tr.pctr)
    assert rtb.load_log(tmp_path / "l.npz").info["clicks"] == tr.info["clicks"]
    (tmp_path / "bad.txt").write_text("1 2\n0 3\n")
    with pytest.raises(ValueError, match="3 columns"):
        rtb.load_log(tmp_path / "bad.txt")
    (tmp_path / "bad2.txt").write_text("1 2 1.5\n")
    with pytest.raises(ValueError, match="pctr"):
        rtb.load_log(tmp_path / "bad2.txt")


def test_auction_log_validation():
    with pytest.raises(ValueError, match="same length"):
        rtb.AuctionLog([0, 1], [1, 2, 3], [0.1, 0.2])
    with pytest.raises(ValueError, match="pctr"):
        rtb.AuctionLog([0], [1], [np.nan])
    with pytest.raises(ValueError, match="price"):
        rtb.AuctionLog([0], [-1], [0.1])
    with pytest.raises(ValueError, match="click"):
        rtb.AuctionLog([2], [1], [0.1])
    with pytest.raises(ValueError, match="profile"):
        rtb.generate("nope")
    with pytest.raises(ValueError, match="n_train"):
        rtb.generate("toy", -1)


# ----------------------------------------------------------------------------- the DP
@needs_cpp
@settings(max_examples=40)
@given(T=st.integers(0, 12), B=st.integers(0, 60), n_price=st.integers(1, 25),
       theta=st.floats(0.0, 0.5), seed=st.integers(0, 10_000),
       reward=st.sampled_from(["click", "profit", "imp"]), early=st.booleans())
def test_cpp_dp_equals_numpy_reference(T, B, n_price, theta, seed, reward, early):
    rng = np.random.default_rng(seed)
    m = _pmf(rng, n_price, zero_frac=0.3)
    kw = dict(reward=reward, early_stop=early)
    if reward == "profit":
        kw["v0"], kw["click_value"] = 0.01, 5.0
    ref = rtb.value_dp_reference(T, B, m, theta, **kw)
    got = rtb.value_dp(T, B, m, theta, keep_v=True, **kw)
    np.testing.assert_allclose(got.V_full, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.V0, ref[:, 0], atol=1e-12)
    np.testing.assert_allclose(got.VB, ref[:, B], atol=1e-12)
    np.testing.assert_allclose(got.D, np.diff(ref, axis=1).astype(np.float32), rtol=1e-6,
                               atol=1e-9)
    assert got.D.dtype == np.float32 and got.D.shape == (T + 1, B)


@needs_cpp
def test_cpp_dp_saturates_like_the_reference():
    m = np.full(6, 1 / 6)  # prices 0..5: a budget of 5t wins everything
    ref = rtb.value_dp_reference(20, 150, m, 0.01)
    got = rtb.value_dp(20, 150, m, 0.01, keep_v=True)
    np.testing.assert_allclose(got.V_full, ref, atol=1e-13)
    assert (got.saturated_from[1:] <= 150).all()
    assert np.allclose(ref[20, got.saturated_from[20] + 1:], 20 * 0.01)


@needs_cpp
def test_dp_threads_do_not_change_results():
    tr, _ = rtb.generate("toy", 50_000, 0, seed=2)
    m = rtb.market_price_pdf(tr)
    a = rtb.value_dp(200, 3000, m, tr.info["ctr"])
    with _backend.use_backend("python"):
        b = rtb.value_dp(200, 3000, m, tr.info["ctr"])
    np.testing.assert_allclose(a.D, b.D, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(a.VB, b.VB, rtol=1e-10)


@settings(max_examples=25)
@given(T=st.integers(1, 10), B=st.integers(0, 40), seed=st.integers(0, 10_000),
       reward=st.sampled_from(["click", "profit"]))
def test_closed_form_bid_is_the_argmax_of_the_backup(T, B, seed, reward):
    rng = np.random.default_rng(seed)
    m = _pmf(rng, 16)
    kw = {"v0": 0.002, "click_value": 3.0} if reward == "profit" else {}
    theta_avg = float(rng.uniform(0.01, 0.2))
    V = rtb.value_dp_reference(T, B, m, theta_avg, reward=reward, **kw)
    val = rtb.value_dp(T, B, m, theta_avg, reward=reward, **kw)
    for _ in range(10):
        t, b, th = int(rng.integers(1, T + 1)), int(rng.integers(0, B + 1)), float(rng.random())
        brute = rtb.rlb_bid_reference(V, m, t, b, th, reward=reward, **kw)
        got = int(val.bid(t, b, th))
        assert got == int(val.bid_numpy(t, b, th))
        if got != brute:  # only a float32 near-tie may differ: equal backup value
            def q(a, t=t, b=b, th=th):
                return sum(m[d] * (kw.get("click_value", 1) * th - kw.get("v0", 0) * d
                                   + V[t - 1, b - d] - V[t - 1, b]) for d in range(a + 1))

            assert abs(q(got) - q(brute)) < 1e-6


def test_value_monotone_and_bids_monotone_in_pctr():
    tr, _ = rtb.generate("2821", 60_000, 0, seed=0)
    m = rtb.market_price_pdf(tr)
    val = rtb.value_dp(300, 4000, m, tr.info["ctr"], keep_v=True)
    V = val.V_full
    assert (np.diff(V, axis=1) >= -1e-15).all()  # non-decreasing in b
    assert (np.diff(V, axis=0) >= -1e-15).all()  # non-decreasing in t
    rng = np.random.default_rng(0)
    th = np.sort(rng.uniform(0, 0.05, 200))
    for t, b in [(1, 10), (50, 200), (300, 4000), (120, 999)]:
        bids = val.bid(np.full(200, t), np.full(200, b), th)
        assert (np.diff(bids) >= 0).all() and bids.max() <= min(b, 300)
    # one-auction-left bids everything it may
    assert val.bid(1, 57, 1e-4) == 57


def test_dp_validation():
    m = np.full(10, 0.1)
    with pytest.raises(ValueError, match="B must be >= 0"):
        rtb.value_dp(5, -1, m, 0.01)
    with pytest.raises(ValueError, match="sum to 1"):
        rtb.value_dp(5, 10, m * 2, 0.01)
    with pytest.raises(ValueError, match="negative mass"):
        rtb.value_dp(5, 10, np.r_[-0.1, 1.1], 0.01)
    with pytest.raises(ValueError, match="theta_avg"):
        rtb.value_dp(5, 10, m, 1.5)
    with pytest.raises(ValueError, match="reward"):
        rtb.value_dp(5, 10, m, 0.1, reward="ctr")
    with pytest.raises(ValueError, match="finite"):
        rtb.value_dp(5, 10, np.r_[np.nan, m[1:]], 0.1)
    val = rtb.value_dp(5, 10, m, 0.1)
    with pytest.raises(ValueError, match="pctr"):
        val.bid(1, 1, 1.5)
    with pytest.raises(ValueError, match="t_left"):
        val.bid(0, 1, 0.1)
    with pytest.raises(ValueError, match="budget_left"):
        val.bid(1, 11, 0.1)
    m_copy = m.copy()
    rtb.value_dp(5, 10, m, 0.1)
    assert np.array_equal(m, m_copy)


# ----------------------------------------------------------------------------- bidders
@pytest.fixture(scope="module")
def toy():
    tr, te = rtb.generate("toy", 60_000, 60_000, seed=5)
    val = rtb.value_dp(500, rtb.episode_budget(tr.info["cpm"], 1 / 4, 500),
                       rtb.market_price_pdf(tr), tr.info["ctr"])
    return tr, te, val


def _loop_evaluate(policy, log, T, B, max_price=300):
    """One auction at a time: the plain reference of the batched evaluator."""
    out = []
    for e in range(len(log) // T):
        b, clicks, imps = B, 0, 0
        for i in range(T):
            j = e * T + i
            a = policy(np.array([T - i]), np.array([b]), np.array([log.pctr[j]]))[0]
            a = int(min(np.floor(max(a, 0)), b, max_price))
            if a >= log.price[j]:
                b -= int(log.price[j])
                imps += 1
                clicks += int(log.click[j])
        out.append((clicks, imps, B - b))
    return np.array(out)


def test_batched_evaluate_equals_a_plain_loop(toy):
    tr, te, val = toy
    small = te.slice(0, 5 * 200)
    B = rtb.episode_budget(tr.info["cpm"], 1 / 8, 200)
    for pol in (rtb.RLB(val), rtb.Lin(40.0, tr.info["ctr"]), rtb.Mcpc(tr.info["cpc"]),
                rtb.SSMDP(val), rtb.Constant(60)):
        res = rtb.evaluate(pol, small, 200, 1 / 8, cpm_train=tr.info["cpm"])
        ref = _loop_evaluate(pol, small, 200, B)
        np.testing.assert_array_equal(np.c_[res.clicks, res.impressions, res.cost], ref)
        assert (res.cost <= B).all()


def test_rlb_beats_tuned_lin_on_expected_clicks_and_spends(toy):
    tr, te, val = toy
    b0, grid, clicks = rtb.tune_lin(tr, 500, 1 / 16)
    assert b0 in grid and clicks.max() == clicks[grid == b0][0]
    rl = rtb.evaluate(rtb.RLB(val), te, 500, 1 / 16, cpm_train=tr.info["cpm"])
    li = rtb.evaluate(rtb.Lin(b0, tr.info["ctr"]), te, 500, 1 / 16, cpm_train=tr.info["cpm"])
    assert rl.spent_frac > 0.95
    assert rl.totals()["expected_clicks"] >= li.totals()["expected_clicks"]


def test_evaluate_validation(toy):
    tr, te, val = toy
    with pytest.raises(ValueError, match="episode_length"):
        rtb.evaluate(rtb.Constant(1), te, 0, 0.1)
    with pytest.raises(ValueError, match="budget_ratio"):
        rtb.evaluate(rtb.Constant(1), te, 10, -0.1)
    with pytest.raises(TypeError, match="AuctionLog"):
        rtb.evaluate(rtb.Constant(1), np.zeros(3), 10, 0.1)
    with pytest.raises(ValueError, match="shape"):
        rtb.evaluate(lambda t, b, p: np.zeros(2), te, 10, 0.1)
    with pytest.raises(ValueError, match="bid"):
        rtb.Constant(-1)
    with pytest.raises(ValueError, match="high"):
        rtb.RandomBid(5, 1)
    with pytest.raises(ValueError, match="fewer than one episode"):
        rtb.evaluate(rtb.Constant(1), te.slice(0, 5), 10, 0.1)


def test_dp_memory_guard():
    with pytest.raises(ValueError, match="GB"):
        dpmod.value_dp(100_000, 10**5, np.ones(3) / 3, 0.1)


def test_map_a_equals_exact_within_the_table_and_maps_beyond(toy):
    from creditlab.rtb.nn import MapA

    tr, te, val = toy
    rng = np.random.default_rng(0)
    t = rng.integers(1, val.T + 1, 100)
    b = rng.integers(0, val.B + 1, 100)
    p = rng.uniform(0, 0.02, 100)
    np.testing.assert_array_equal(MapA(val)(t, b, p), val.bid(t, b, p))
    # twice the table's horizon and twice the budget: same budget rate, same bid as at T0
    t2, b2 = np.full(100, val.T), rng.integers(0, val.B, 100)
    np.testing.assert_array_equal(MapA(val)(2 * t2, 2 * b2, p), val.bid(t2, b2, p))


def test_d_policy_with_the_exact_table_equals_rlb(toy):
    from creditlab.rtb.nn import DPolicy

    tr, te, val = toy

    def exact(t, b):
        return val.D[t.astype(int), np.minimum(b.astype(int), val.B - 1)]

    rng = np.random.default_rng(1)
    t = rng.integers(1, val.T + 1, 60)
    b = rng.integers(0, val.B + 1, 60)
    p = rng.uniform(0, 0.05, 60)
    np.testing.assert_array_equal(DPolicy(exact, val.T, mode="nn")(t, b, p), val.bid(t, b, p))


def test_fit_d_network_learns_the_table(toy):
    pytest.importorskip("torch")
    from creditlab.rtb.nn import fit_d_network

    tr, te, val = toy
    net = fit_d_network(val, n_points=3000, steps=800, seed=0)
    spread = float(np.std(val.D[20:].astype(np.float64) / val.theta_avg))
    assert net.rmse < 0.5 * spread  # far better than predicting the mean
    assert (net(np.array([100.0]), np.array([500.0])) >= 0).all()
