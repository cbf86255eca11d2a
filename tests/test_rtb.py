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


# ------------------------------------------------------- the RLB authors' file format
def _authors_files(tmp_path, n_test=2 * 50 + 17, seed=0):
    """A small synthetic campaign in the format of han-cai/rlb-dp: info.json (counts and
    a 301-bin train price histogram) and test.theta.txt (``click price pctr`` lines)."""
    tr, te = rtb.generate("toy", 4000, n_test, seed=seed)
    info = {
        "imp_train": len(tr), "clk_train": tr.info["clicks"], "cost_train": tr.info["cost"],
        "imp_test": len(te), "clk_test": te.info["clicks"], "cost_test": te.info["cost"],
        "field": 8, "dim": 100,
        "price_counter_train": np.bincount(tr.price, minlength=301).tolist(),
    }
    import json

    (tmp_path / "info.json").write_text(json.dumps(info, indent=4))
    with open(tmp_path / "test.theta.txt", "w") as f:
        for c, p, th in zip(te.click, te.price, te.pctr):
            f.write(f"{int(c)} {int(p)} {float(th)!r}\n")
    return tr, te, info


def _authors_run(policy, log, N, B, max_bid=300):
    """The authors' ``run`` loop, re-stated: one pass over the file, N auctions per
    episode, budget and auctions-left reset when an episode ends, the trailing partial
    episode played with the full budget. Returns (auctions, impressions, clicks, cost)."""
    n, b, imp, clk, cost = N, B, 0, 0, 0
    for c, price, th in zip(log.click, log.price, log.pctr):
        a = policy(np.array([n]), np.array([b]), np.array([th]))[0]
        a = min(int(np.floor(max(a, 0))), b, max_bid)
        if a >= price:
            imp, clk, b, cost = imp + 1, clk + int(c), b - int(price), cost + int(price)
        n -= 1
        if n == 0:
            n, b = N, B
    return len(log), imp, clk, cost


def test_load_info_reads_the_authors_counts(tmp_path):
    tr, _, raw = _authors_files(tmp_path)
    info = rtb.load_info(tmp_path / "info.json")
    assert info["n"] == len(tr) and info["clicks"] == tr.info["clicks"]
    assert info["ctr"] == raw["clk_train"] / raw["imp_train"]
    assert info["cpm"] == raw["cost_train"] / raw["imp_train"]
    assert info["cpc"] == raw["cost_train"] / raw["clk_train"]
    assert info["max_price"] == 300
    # the p.m.f. from the counts is the one from the log itself (authors' calc_m_pdf)
    counts = np.array(raw["price_counter_train"], float)
    np.testing.assert_allclose(rtb.market_price_pdf(info), (counts + 1) / (counts.sum() + 301))
    np.testing.assert_allclose(rtb.market_price_pdf(info), rtb.market_price_pdf(tr))
    np.testing.assert_allclose(rtb.market_price_pdf(info, 0.0), counts / counts.sum())
    assert rtb.load_info(raw)["cpm"] == info["cpm"]  # an already-parsed dict
    test = rtb.load_info(tmp_path / "info.json", "test")
    assert test["n"] == raw["imp_test"] and test["price_counts"] is None
    with pytest.raises(ValueError, match="price_counts"):
        rtb.market_price_pdf(test)
    # malformed files: named errors
    for bad, msg in [({**raw, "clk_train": -1}, "clk_train"),
                     ({k: v for k, v in raw.items() if k != "cost_train"}, "cost_train"),
                     ({**raw, "clk_train": raw["imp_train"] + 1}, "exceeds"),
                     ({**raw, "imp_train": 0}, "imp_train"),
                     ({**raw, "price_counter_train": [1, -2, 3]}, "price_counter_train"),
                     ({**raw, "price_counter_train": "x"}, "price_counter_train")]:
        with pytest.raises(ValueError, match=msg):
            rtb.load_info(bad)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        rtb.load_info(tmp_path / "broken.json")
    with pytest.raises(ValueError, match="split"):
        rtb.load_info(raw, "valid")
    with pytest.raises(TypeError, match="path"):
        rtb.load_info(3)


def test_evaluate_plays_the_last_partial_episode_like_the_authors(tmp_path):
    _, _, _ = _authors_files(tmp_path)
    info = rtb.load_info(tmp_path / "info.json")
    te = rtb.load_log(tmp_path / "test.theta.txt")
    N, c0 = 50, 1 / 4
    B = rtb.episode_budget(info["cpm"], c0, N)
    val = rtb.value_dp(N, B, rtb.market_price_pdf(info), info["ctr"])
    for pol in (rtb.RLB(val), rtb.SSMDP(val), rtb.Mcpc(info["cpc"]),
                rtb.Lin(30.0, info["ctr"]), rtb.Constant(40)):
        res = rtb.evaluate(pol, te, N, c0, cpm_train=info["cpm"], last_episode="play")
        got = (res.auctions, int(res.impressions.sum()), int(res.clicks.sum()),
               int(res.cost.sum()))
        assert got == _authors_run(pol, te, N, B)
        assert len(res.clicks) == 3 and res.auctions == 117
        assert res.win_rate == got[1] / 117
        drop = rtb.evaluate(pol, te, N, c0, cpm_train=info["cpm"])
        assert drop.auctions == 100 and len(drop.clicks) == 2
        np.testing.assert_array_equal(drop.cost, res.cost[:2])
    # a log shorter than one episode is one partial episode under "play"
    short = te.slice(0, 20)
    res = rtb.evaluate(rtb.Constant(40), short, N, c0, cpm_train=info["cpm"],
                       last_episode="play")
    assert res.auctions == 20 and len(res.clicks) == 1
    with pytest.raises(ValueError, match="last_episode"):
        rtb.evaluate(rtb.Constant(40), te, N, c0, last_episode="keep")


def _authors_tune(log, N, c0, theta_avg, cpm, grid, patience=5):
    """The authors' scan, re-stated on one evaluation per b0 (the plain loop of
    :func:`_authors_run` on the full episodes gives the same clicks; checked above)."""

    def clicks(b0):
        return int(rtb.evaluate(rtb.Lin(float(b0), theta_avg), log, N, c0,
                                cpm_train=cpm).clicks.sum())

    obj, best, miss = 0, None, 0
    for b0 in grid:
        perf = clicks(b0)
        if perf >= obj:
            obj, best, miss = perf, b0, 0
        else:
            miss += 1
            if miss >= patience:
                break
    if best == grid[-1]:
        step, b0 = grid[-1] - grid[-2], grid[-1] + grid[-1] - grid[-2]
        while clicks(b0) >= obj:
            obj, best, b0 = clicks(b0), b0, b0 + step
    return best


def test_tune_lin_authors_selection_and_theta_avg(tmp_path):
    tr, _, _ = _authors_files(tmp_path, seed=3)
    N = 100
    cpm = tr.info["cpm"]
    for c0, th in [(1 / 32, tr.info["ctr"]), (1 / 8, 2 * tr.info["ctr"]), (1 / 2, 0.003)]:
        b0, grid, clicks = rtb.tune_lin(tr, N, c0, theta_avg=th, selection="authors")
        assert b0 == _authors_tune(tr, N, c0, th, cpm, list(np.arange(6.0, 301.0, 6.0)))
        assert grid[:50].tolist() == list(np.arange(6.0, 301.0, 6.0))
        # argmax with the same theta_avg: the global best (ties to the smallest b0)
        b0a, grid_a, clicks_a = rtb.tune_lin(tr, N, c0, theta_avg=th, grid=grid[:50])
        assert b0a == grid[:50][np.argmax(clicks[:50])]
        # the clicks are those of Lin(b0, theta_avg) evaluated episode by episode
        k = len(grid) // 3
        B = rtb.episode_budget(cpm, c0, N)
        assert clicks[k] == _authors_run(rtb.Lin(grid[k], th), tr.slice(0, 4000), N, B)[2]
    # the best at the grid's end: the authors keep stepping while clicks do not fall
    grid = [2.0, 4.0, 6.0]
    b0, g, c = rtb.tune_lin(tr, N, 1.0, grid=grid, selection="authors")
    assert len(g) > 3 and b0 == _authors_tune(tr, N, 1.0, tr.info["ctr"], cpm, grid)
    with pytest.raises(ValueError, match="selection"):
        rtb.tune_lin(tr, N, 0.1, selection="best")
    with pytest.raises(ValueError, match="theta_avg"):
        rtb.tune_lin(tr, N, 0.1, theta_avg=0.0)
    with pytest.raises(ValueError, match="increasing"):
        rtb.tune_lin(tr, N, 0.1, grid=[10.0, 5.0], selection="authors")
