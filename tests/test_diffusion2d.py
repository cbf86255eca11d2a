"""Toy2DDiffusion (issue #17): the sampler's log-probs are the Gaussian density of the drawn
transition, chains recompute, M candidates, x0-hat, ELBO bounds; the quality bar; and the
sample-set metrics (mmd2, frechet_distance, vendi_score) against plain numpy references.

Quality bar (seed 0, torch.set_num_threads(1); default model T = 50, hidden 64, 6000 steps
of 512, ~16 s of CPU): unbiased MMD^2 (RBF, h = 0.1) of 2000 samples to 2000 held-out
points <= 0.0012 [measured 0.0005]. Two data samples give 0.0000 +- 0.0002 (20 seeds, max
0.0002); data with 20% wider modes gives 0.0017. Runs when CREDITLAB_SLOW=1 (> 10 s).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from creditlab.metrics import frechet_distance, mmd2, vendi_score
from creditlab.models import DiffusionChain, Toy2DDiffusion, gaussian_ring, ring_centers

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> Toy2DDiffusion:
    m = Toy2DDiffusion(4, steps=6, hidden=16, layers=2, seed=1)
    x, c = gaussian_ring(500, n_classes=4, seed=0)
    m.fit(x, c, steps=50, batch_size=64)
    return m


def test_ring_data_classes_and_determinism():
    x, c = gaussian_ring(4000, n_modes=8, n_classes=4, std=0.05, seed=3)
    assert x.shape == (4000, 2) and x.dtype == np.float32 and c.dtype == np.int64
    centres = ring_centers(8)
    mode = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(c, mode % 4)
    np.testing.assert_array_equal(gaussian_ring(10, seed=5)[0], gaussian_ring(10, seed=5)[0])
    x32, c32 = gaussian_ring(100, n_modes=32, n_classes=32, seed=0)
    assert c32.max() < 32
    with pytest.raises(ValueError, match="n_classes"):
        gaussian_ring(10, n_modes=4, n_classes=5)


def test_chain_log_probs_are_the_gaussian_density(model):
    cond = np.array([0, 1, 2, 3, 0])
    ch = model.sample(5, cond, seed=2)
    assert isinstance(ch, DiffusionChain)
    T = model.steps
    assert ch.x.shape == (5, T + 1, 2) and ch.log_prob.shape == (5, T)
    assert ch.mean.shape == (5, T, 2) and ch.x0_hat.shape == (5, T, 2)
    assert ch.timesteps.tolist() == list(range(T, 0, -1))
    # by hand: log N(x_{t-1}; mean, std^2 I) in 2-D
    z = (ch.x[:, 1:] - ch.mean) / ch.std[None, :, None]
    want = -0.5 * (z**2).sum(-1) - 2 * ch.std.log()[None] - math.log(2 * math.pi)
    torch.testing.assert_close(ch.log_prob, want, rtol=1e-5, atol=1e-5)
    # recomputed under the same weights, batched and one transition at a time
    torch.testing.assert_close(model.chain_log_probs(ch).detach(), ch.log_prob,
                               rtol=1e-5, atol=1e-5)
    for k, t in enumerate(ch.timesteps.tolist()):
        lp = model.log_prob(ch.x[:, k], ch.x[:, k + 1], t, cond)
        torch.testing.assert_close(lp.detach(), ch.log_prob[:, k], rtol=1e-5, atol=1e-5)
        x0 = model.x0_hat(ch.x[:, k], t, cond)
        torch.testing.assert_close(x0.detach(), ch.x0_hat[:, k], rtol=1e-5, atol=1e-5)
    # gradients flow to the weights (DDPO / PRDP)
    model.chain_log_probs(ch).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.zero_grad()
    np.testing.assert_array_equal(model.sample(5, cond, seed=2, return_chain=False),
                                  ch.samples)


def test_step_with_m_candidates(model):
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    tr = model.step(x, 4, 1, M=7, seed=5)
    assert tr.x_prev.shape == (3, 7, 2) and tr.log_prob.shape == (3, 7)
    mean, std = (v.detach() for v in model.mean_std(x, 4, 1))
    torch.testing.assert_close(tr.mean, mean.detach())
    lp = model.log_prob(x[:, None].expand(-1, 7, -1).reshape(21, 2),
                        tr.x_prev.reshape(21, 2), 4, 1).reshape(3, 7)
    torch.testing.assert_close(tr.log_prob, lp.detach(), rtol=1e-5, atol=1e-5)
    # candidates are N(mean, std^2): a large-M check of the moments
    big = model.step(x[:1], 4, 1, M=20000, seed=1).x_prev[0]
    assert float((big.mean(0) - mean[0]).abs().max()) < 5 * float(std[0]) / math.sqrt(20000)
    assert abs(float(big.std(0).mean()) / float(std[0]) - 1) < 0.03
    # x0_hat at t = 0 is the point itself
    torch.testing.assert_close(model.x0_hat(x, 0, 1), x)


def test_elbo_is_a_bound_on_average(model):
    m = Toy2DDiffusion(steps=10, hidden=32, seed=0)
    x, _ = gaussian_ring(3000, seed=0)
    m.fit(x, steps=600, batch_size=256, lr=5e-3)
    xt, _ = gaussian_ring(300, seed=1)
    e = m.elbo(xt, n_mc=4, seed=0)
    assert e.shape == (300,) and bool(torch.isfinite(e).all())
    # E_data[ELBO] <= E_data[log p_model] <= E_data[log p_data] (Gibbs), with MC noise
    c = ring_centers()
    d2 = ((xt[:, None].astype(np.float64) - c[None]) ** 2).sum(-1)
    logp = np.log(np.exp(-d2 / (2 * 0.01)).mean(1) / (2 * np.pi * 0.01))
    assert float(e.mean()) <= logp.mean() + 0.1
    far = m.elbo(np.zeros((10, 2), np.float32), seed=0)
    assert float(far.mean()) < float(e.mean()) - 3  # the hole in the ring is unlikely


def test_bytes_round_trip_and_bad_input(model):
    m2 = Toy2DDiffusion.from_bytes(model.to_bytes())
    x = np.zeros((2, 2), np.float32)
    torch.testing.assert_close(m2.eps(x, 3, 0), model.eps(x, 3, 0))
    with pytest.raises(ValueError, match="cond"):
        model.sample(2)  # 4 classes: cond is required
    with pytest.raises(ValueError, match="t must"):
        model.step(x, 0, 0)
    with pytest.raises(ValueError, match="x_t"):
        model.step(np.zeros((2, 3), np.float32), 1, 0)
    with pytest.raises(ValueError, match="cond"):
        model.step(x, 1, 9)


@pytest.mark.skipif(not os.environ.get("CREDITLAB_SLOW"), reason="set CREDITLAB_SLOW=1 "
                    "(~16 s of CPU); benchmarks/bench_substrates.py checks this bar")
def test_quality_bar():
    x, _ = gaussian_ring(20000, seed=0)
    m = Toy2DDiffusion(seed=0)
    m.fit(x)
    s = m.sample(2000, seed=3, return_chain=False).numpy()
    held, _ = gaussian_ring(2000, seed=1)
    assert mmd2(s, held, bandwidth=0.1) <= 0.0012


# ---- metrics against plain references


def _mmd_loops(x, y, h, unbiased):
    def k(a, b):
        return math.exp(-float(((a - b) ** 2).sum()) / (2 * h * h))
    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j or not unbiased)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j or not unbiased)
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    dx, dy = (n * (n - 1), m * (m - 1)) if unbiased else (n * n, m * m)
    return sxx / dx + syy / dy - 2 * sxy / (n * m)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 8), m=st.integers(2, 8),
       d=st.integers(1, 3), h=st.floats(0.2, 3.0), unbiased=st.booleans())
def test_mmd_matches_loops(seed, n, m, d, h, unbiased):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5
    assert mmd2(x, y, bandwidth=h, unbiased=unbiased) == pytest.approx(
        _mmd_loops(x, y, h, unbiased), rel=1e-9, abs=1e-12)


def test_mmd_median_heuristic_and_errors():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(6, 2))
    z = np.concatenate([x, y])
    d = np.sqrt(((z[:, None] - z[None]) ** 2).sum(-1))[np.triu_indices(11, 1)]
    assert mmd2(x, y) == pytest.approx(mmd2(x, y, bandwidth=float(np.median(d))))
    with pytest.raises(ValueError, match="dimension"):
        mmd2(x, rng.normal(size=(4, 3)))
    with pytest.raises(ValueError, match="bandwidth"):
        mmd2(x, y, bandwidth=0.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 4))
def test_frechet_matches_eigvals_route(seed, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, d)) @ rng.normal(size=(d, d))
    y = rng.normal(size=(40, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    sx, sy = np.atleast_2d(np.cov(x.T)), np.atleast_2d(np.cov(y.T))
    # Tr (Sx Sy)^{1/2} = sum of the square roots of the eigenvalues of Sx Sy (real, >= 0)
    tr = np.sqrt(np.clip(np.linalg.eigvals(sx @ sy).real, 0, None)).sum()
    dm = x.mean(0) - y.mean(0)
    want = dm @ dm + np.trace(sx) + np.trace(sy) - 2 * tr
    assert frechet_distance(x, y) == pytest.approx(want, rel=1e-6, abs=1e-8)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_one_dimensional_closed_form():
    rng = np.random.default_rng(1)
    x, y = rng.normal(1.0, 2.0, 50), rng.normal(-1.0, 0.5, 60)
    want = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x[:, None], y[:, None]) == pytest.approx(want, rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 9), h=st.floats(0.3, 3.0))
def test_vendi_matches_entropy_of_eigenvalues(seed, n, h):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    K = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * h * h))
    lam = np.linalg.eigvals(K / n).real
    lam = lam[lam > 1e-12]
    want = math.exp(-sum(v * math.log(v) for v in lam))
    assert vendi_score(x, "rbf", bandwidth=h) == pytest.approx(want, rel=1e-6)


def test_vendi_extremes_and_callable():
    assert vendi_score(np.ones((6, 2))) == pytest.approx(1.0)
    assert vendi_score(np.eye(5), "cosine") == pytest.approx(5.0)
    assert vendi_score(np.eye(5), lambda z: z @ z.T) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="kernel"):
        vendi_score(np.eye(3), "bogus")
    with pytest.raises(ValueError, match="kernel"):
        vendi_score(np.eye(3), lambda z: np.ones((2, 2)))
