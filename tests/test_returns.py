"""Property tests: compiled kernels == Python references == independent scalar loops.

Three implementations are compared on random problems drawn by hypothesis:
- ``creditlab.<fn>`` on the compiled backend (csrc/scan.h), numpy and torch inputs,
  batch-major and time-major layouts;
- the same call on the pure-Python backend (creditlab/reference.py);
- a per-element scalar loop written here from the documented semantics, in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import creditlab as cl

HAS_CPP = cl.backend_info()["compiled"]


def _torch():
    try:
        import torch as t

        return t
    except ImportError:  # pragma: no cover - torch is in the test environment
        pytest.skip("torch not installed")


# --------------------------------------------------------------------------------------
# independent scalar loops (float64), one element at a time


def scalar_returns(r, gamma, term, trunc, nv, boot, mask):
    B, T = r.shape
    out = np.zeros((B, T))
    for b in range(B):
        G = nv[b, T - 1] if (nv is not None and T) else (boot[b] if boot is not None else 0.0)
        for t in range(T - 1, -1, -1):
            if not mask[b, t]:
                out[b, t] = G
                continue
            if term[b, t]:
                G = r[b, t]
            elif trunc[b, t]:
                G = r[b, t] + gamma * nv[b, t]
            else:
                G = r[b, t] + gamma * G
            out[b, t] = G
    return out


def scalar_gae(r, v, gamma, lam, term, trunc, nv, boot, mask):
    B, T = r.shape
    adv = np.zeros((B, T))
    for b in range(B):
        A = 0.0
        if v.shape[1] == T + 1:
            vnext = v[b, T]
        else:
            vnext = boot[b] if boot is not None else 0.0
        for t in range(T - 1, -1, -1):
            if mask[b, t]:
                vp = nv[b, t] if nv is not None else vnext
                if term[b, t]:
                    A = r[b, t] - v[b, t]
                elif trunc[b, t]:
                    A = r[b, t] + gamma * vp - v[b, t]
                else:
                    A = r[b, t] + gamma * vp - v[b, t] + gamma * lam * A
                vnext = v[b, t]
            adv[b, t] = A
    return adv, adv + v[:, :T]


def scalar_min(r, term, mask):
    B, T = r.shape
    out = np.zeros((B, T))
    for b in range(B):
        m, seen = 0.0, False
        for t in range(T - 1, -1, -1):
            if mask[b, t]:
                if term[b, t] or not seen:
                    m = r[b, t]
                else:
                    m = np.minimum(r[b, t], m)  # np.minimum propagates NaN
                seen = True
            out[b, t] = m if seen else 0.0
    return out


# --------------------------------------------------------------------------------------
# random problems


@dataclass
class Problem:
    r: np.ndarray  # [B, T]
    v: np.ndarray  # [B, T] or [B, T+1]
    term: np.ndarray | None
    trunc: np.ndarray | None
    nv: np.ndarray | None
    boot: np.ndarray | None
    mask: np.ndarray | None
    gamma: float
    lam: float

    def kwargs(self, time_major: bool, conv=lambda x: x):
        def lay(x):
            if x is None:
                return None
            return conv(np.ascontiguousarray(x.T) if (time_major and x.ndim == 2) else x)

        kw = {
            "terminated": lay(self.term),
            "truncated": lay(self.trunc),
            "next_values": lay(self.nv),
            "bootstrap": lay(self.boot),
            "response_mask": lay(self.mask),
        }
        return {k: x for k, x in kw.items() if x is not None}

    def filled(self):
        B, T = self.r.shape
        z = np.zeros((B, T), bool)
        return (
            z if self.term is None else self.term,
            z if self.trunc is None else self.trunc,
            ~z if self.mask is None else self.mask,
        )


@st.composite
def problems(draw, min_T=0):
    B = draw(st.integers(1, 6))
    T = draw(st.integers(min_T, 40))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(B, T)).astype(dtype)
    if draw(st.booleans()) and T:
        r[rng.random((B, T)) < 0.05] = np.nan
    p_end = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    term = rng.random((B, T)) < p_end if draw(st.booleans()) else None
    # values with T+1 steps carry their own bootstrap: no next_values, so no truncation
    value_extra = draw(st.booleans())
    trunc = rng.random((B, T)) < p_end if (not value_extra and draw(st.booleans())) else None
    v = rng.normal(size=(B, T + int(value_extra))).astype(dtype)
    nv = None
    if trunc is not None or (not value_extra and draw(st.booleans())):
        nv = rng.normal(size=(B, T)).astype(dtype)
    boot = None
    if nv is None and not value_extra and draw(st.booleans()):
        boot = rng.normal(size=B).astype(dtype)
    mask = None
    if draw(st.booleans()):
        mask = rng.random((B, T)) < draw(st.sampled_from([0.0, 0.5, 0.9]))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]))
    lam = draw(st.sampled_from([0.0, 0.5, 0.95, 1.0]))
    return Problem(r, v, term, trunc, nv, boot, mask, gamma, lam)


def _tol(dtype, x, T):
    scale = 1.0 + (T + 1) * float(np.nanmax(np.abs(x), initial=0.0))
    return (2e-5 * scale, 1e-5) if dtype == np.float32 else (1e-11 * scale, 1e-11)


def assert_close(got, want, dtype, scale_from, T):
    atol, rtol = _tol(dtype, scale_from, T)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


BACKENDS = ["cpp", "python"] if HAS_CPP else ["python"]


def _run(backend, fn, *args, **kw):
    with cl.use_backend(backend):
        return fn(*args, **kw)


# --------------------------------------------------------------------------------------
# kernel == reference == scalar loop


@pytest.mark.parametrize("backend", BACKENDS)
@given(p=problems(), time_major=st.booleans())
def test_discounted_returns_matches_scalar_loop(backend, p, time_major):
    term, trunc, mask = p.filled()
    want = scalar_returns(
        p.r.astype(np.float64), p.gamma, term, trunc,
        None if p.nv is None else p.nv.astype(np.float64), p.boot, mask,
    )
    r = np.ascontiguousarray(p.r.T) if time_major else p.r
    got = _run(backend, cl.discounted_returns, r, p.gamma, time_dim=0 if time_major else -1,
               **p.kwargs(time_major))
    assert got.dtype == p.r.dtype
    got = got.T if time_major else got
    assert_close(got, want, p.r.dtype, np.concatenate([p.r.ravel(), p.v.ravel()]), p.r.shape[1])


@pytest.mark.parametrize("backend", BACKENDS)
@given(p=problems(), time_major=st.booleans(), kind=st.sampled_from(["numpy", "torch"]))
def test_gae_matches_scalar_loop(backend, p, time_major, kind):
    term, trunc, mask = p.filled()
    want_adv, want_ret = scalar_gae(
        p.r.astype(np.float64), p.v.astype(np.float64), p.gamma, p.lam, term, trunc,
        None if p.nv is None else p.nv.astype(np.float64), p.boot, mask,
    )
    to_kind = (lambda x: _torch().from_numpy(x)) if kind == "torch" else (lambda x: x)
    conv = (lambda x: to_kind(np.ascontiguousarray(x.T))) if time_major else to_kind
    kw = p.kwargs(time_major, to_kind)
    adv, ret = _run(backend, cl.gae, conv(p.r), conv(p.v), p.gamma, p.lam,
                    time_dim=0 if time_major else -1, **kw)
    lam_ret = _run(backend, cl.lambda_returns, conv(p.r), conv(p.v), p.gamma, p.lam,
                   time_dim=0 if time_major else -1, **kw)
    if kind == "torch":
        assert all(isinstance(x, _torch().Tensor) for x in (adv, ret, lam_ret))
        adv, ret, lam_ret = adv.numpy(), ret.numpy(), lam_ret.numpy()
    if time_major:
        adv, ret, lam_ret = adv.T, ret.T, lam_ret.T
    scale = np.concatenate([p.r.ravel(), p.v.ravel()])
    T = p.r.shape[1]
    assert_close(adv, want_adv, p.r.dtype, scale, T)
    assert_close(ret, want_ret, p.r.dtype, scale, T)
    np.testing.assert_array_equal(lam_ret, ret)


@pytest.mark.parametrize("backend", BACKENDS)
@given(p=problems(), time_major=st.booleans())
def test_min_form_matches_scalar_loop(backend, p, time_major):
    term, _, mask = p.filled()
    want = scalar_min(p.r.astype(np.float64), term, mask)
    kw = {k: v for k, v in p.kwargs(time_major).items() if k in ("terminated", "response_mask")}
    r = np.ascontiguousarray(p.r.T) if time_major else p.r
    got = _run(backend, cl.min_form_returns, r, time_dim=0 if time_major else -1, **kw)
    got = got.T if time_major else got
    np.testing.assert_array_equal(got, want.astype(p.r.dtype))  # min is exact


@pytest.mark.skipif(not HAS_CPP, reason="compiled backend not built")
@given(p=problems())
def test_compiled_equals_python_backend(p):
    kw = p.kwargs(False)
    a = cl.gae(p.r, p.v, p.gamma, p.lam, **kw)
    with cl.use_backend("python"):
        b = cl.gae(p.r, p.v, p.gamma, p.lam, **kw)
    scale = np.concatenate([p.r.ravel(), p.v.ravel()])
    for x, y in zip(a, b):
        assert_close(x, y.astype(np.float64), p.r.dtype, scale, p.r.shape[1])


# --------------------------------------------------------------------------------------
# identities


@given(p=problems(), gamma=st.sampled_from([0.0, 0.7, 0.99, 1.0]))
def test_gae_lambda_one_is_return_minus_value(p, gamma):
    assume(np.isfinite(p.r).all())
    kw = {k: v for k, v in p.kwargs(False).items() if k != "bootstrap"}
    T = p.r.shape[1]
    v = p.v[:, :T]
    nv = kw.get("next_values")
    if nv is not None:
        # the identity needs next_values consistent with values: V+_t = V_{t+1} inside
        # an episode (free at episode ends and at the last step, the bootstrap)
        assume(p.mask is None)
        term, trunc, _ = p.filled()
        inside = ~(term | trunc)[:, :-1]
        nv = nv.copy()
        nv[:, :-1] = np.where(inside, v[:, 1:], nv[:, :-1])
        kw["next_values"] = nv
    boot = p.v[:, T] if p.v.shape[1] == T + 1 else (p.boot if p.boot is not None else None)
    adv, _ = cl.gae(p.r, p.v, gamma, 1.0, **kw, **({"bootstrap": p.boot} if p.boot is not None else {}))
    G = cl.discounted_returns(
        p.r, gamma, **kw, **({} if nv is not None or boot is None else {"bootstrap": boot})
    )
    sel = p.filled()[2]  # the identity holds where the step is not masked out
    scale = np.concatenate([p.r.ravel(), p.v.ravel()])
    assert_close(adv[sel], (G - v)[sel].astype(np.float64), p.r.dtype, scale, T)


@given(p=problems(), gamma=st.sampled_from([0.0, 0.7, 1.0]))
def test_gae_lambda_zero_is_td_error(p, gamma):
    assume(p.mask is None and p.nv is None and np.isfinite(p.r).all())
    T = p.r.shape[1]
    adv, _ = cl.gae(p.r, p.v, gamma, 0.0, terminated=p.term,
                    **({"bootstrap": p.boot} if p.boot is not None else {}))
    if p.v.shape[1] == T + 1:
        vnext = p.v[:, 1:]
    else:
        last = p.boot if p.boot is not None else np.zeros(p.r.shape[0], p.r.dtype)
        vnext = np.concatenate([p.v[:, 1:], last[:, None]], axis=1)
    alive = 1.0 if p.term is None else ~p.term
    td = p.r + gamma * alive * vnext - p.v[:, :T]
    assert_close(adv, td.astype(np.float64), p.r.dtype, np.concatenate([p.r.ravel(), p.v.ravel()]), 1)


@given(c=st.floats(-1e6, 1e6), T=st.integers(1, 50), B=st.integers(1, 4))
def test_min_form_of_constant_is_constant(c, T, B):
    r = np.full((B, T), c)
    np.testing.assert_array_equal(cl.min_form_returns(r), r)


def test_min_form_is_running_minimum_from_the_end():
    r = np.array([[0.2, 0.9, 0.5, 0.7]])
    np.testing.assert_array_equal(cl.min_form_returns(r), [[0.2, 0.5, 0.5, 0.7]])
    term = np.array([[False, True, False, False]])
    np.testing.assert_array_equal(cl.min_form_returns(r, terminated=term), [[0.2, 0.9, 0.5, 0.7]])


def test_min_form_trailing_padding_is_zero_and_nan_propagates():
    r = np.array([[0.3, np.nan, 0.8, 5.0]])
    mask = np.array([[True, True, True, False]])
    got = cl.min_form_returns(r, response_mask=mask)
    assert np.isnan(got[0, :2]).all() and got[0, 2] == 0.8 and got[0, 3] == 0.0


def test_discounted_returns_known_values():
    r = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(cl.discounted_returns(r, 0.5), [1.5, 1.0, 2.0])
    np.testing.assert_allclose(cl.discounted_returns(r, 0.5, bootstrap=4.0), [2.0, 2.0, 4.0])
    trunc = np.array([False, True, False])
    nv = np.array([0.0, 10.0, 8.0])
    np.testing.assert_allclose(
        cl.discounted_returns(r, 0.5, truncated=trunc, next_values=nv), [3.5, 5.0, 6.0]
    )


def test_dones_alias_drops_truncation_bootstrap():
    r = np.ones((1, 4))
    d = np.array([[False, True, False, False]])
    a = cl.discounted_returns(r, 0.9, dones=d)
    b = cl.discounted_returns(r, 0.9, terminated=d)
    np.testing.assert_array_equal(a, b)


def test_softmin_limits():
    rng = np.random.default_rng(0)
    r = rng.uniform(0, 1, size=(5, 12))
    lo = cl.softmin_transform(r, temperature=1e-4).sum(-1)
    hi = cl.softmin_transform(r, temperature=1e4).sum(-1)
    np.testing.assert_allclose(lo, r.min(-1), atol=1e-6)
    np.testing.assert_allclose(hi, r.mean(-1), atol=1e-4)


@given(seed=st.integers(0, 1000), T=st.integers(1, 20), temp=st.sampled_from([0.05, 0.1, 1.0]))
def test_softmin_matches_masked_softmax(seed, T, temp):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(3, T))
    mask = rng.random((3, T)) < 0.7
    got = cl.softmin_transform(r, temp, response_mask=mask)
    for b in range(3):
        m = mask[b]
        w = np.exp(-r[b, m] / temp - np.max(-r[b, m] / temp)) if m.any() else np.array([])
        want = np.zeros(T)
        if m.any():
            want[m] = w / w.sum() * r[b, m]
        np.testing.assert_allclose(got[b], want, rtol=1e-10, atol=1e-12)
    # time-major gives the same numbers
    np.testing.assert_allclose(cl.softmin_transform(r.T, temp, response_mask=mask.T, time_dim=0).T, got)


# --------------------------------------------------------------------------------------
# verl compatibility: GAE with response_mask == verl's compute_gae_advantage_return


def verl_style_gae(token_level_rewards, values, response_mask, gamma, lam):
    """The masked GAE loop as verl writes it (torch, [bs, len], skip semantics)."""
    t = _torch()
    with t.no_grad():
        nextvalues = 0
        lastgaelam = 0
        advantages_reversed = []
        gen_len = token_level_rewards.shape[-1]
        for i in reversed(range(gen_len)):
            delta = token_level_rewards[:, i] + gamma * nextvalues - values[:, i]
            lastgaelam_ = delta + gamma * lam * lastgaelam
            nextvalues = values[:, i] * response_mask[:, i] + (1 - response_mask[:, i]) * nextvalues
            lastgaelam = lastgaelam_ * response_mask[:, i] + (1 - response_mask[:, i]) * lastgaelam
            advantages_reversed.append(lastgaelam)
        advantages = t.stack(advantages_reversed[::-1], dim=1)
        return advantages, advantages + values


@pytest.mark.parametrize("backend", BACKENDS)
@given(seed=st.integers(0, 10_000), B=st.integers(1, 5), T=st.integers(1, 30),
       gamma=st.sampled_from([1.0, 0.99]), lam=st.sampled_from([1.0, 0.95, 0.0]))
def test_gae_with_response_mask_equals_verl(backend, seed, B, T, gamma, lam):
    t = _torch()
    g = t.Generator().manual_seed(seed)
    r = t.randn(B, T, generator=g, dtype=t.float64)
    v = t.randn(B, T, generator=g, dtype=t.float64)
    mask = t.rand(B, T, generator=g) < 0.8
    want_adv, want_ret = verl_style_gae(r, v, mask.double(), gamma, lam)
    adv, ret = _run(backend, cl.gae, r, v, gamma, lam, response_mask=mask)
    assert isinstance(adv, t.Tensor) and adv.dtype == t.float64
    t.testing.assert_close(adv, want_adv, rtol=1e-10, atol=1e-10)
    t.testing.assert_close(ret, want_ret, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------------------
# numpy / torch parity, out=, layouts, edge shapes


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_in_torch_out(backend, dtype):
    t = _torch()
    rng = np.random.default_rng(1)
    r = rng.normal(size=(3, 7)).astype(dtype)
    v = rng.normal(size=(3, 8)).astype(dtype)
    d = rng.random((3, 7)) < 0.2
    want = _run(backend, cl.gae, r, v, 0.9, 0.8, terminated=d)
    rt = t.from_numpy(r).requires_grad_(True)
    got = _run(backend, cl.gae, rt, t.from_numpy(v), 0.9, 0.8, terminated=t.from_numpy(d))
    for x, y in zip(got, want):
        assert isinstance(x, t.Tensor) and x.device.type == "cpu" and not x.requires_grad
        np.testing.assert_array_equal(x.numpy(), y)
    m = _run(backend, cl.min_form_returns, rt, terminated=t.from_numpy(d))
    np.testing.assert_array_equal(m.numpy(), cl.min_form_returns(r, terminated=d))
    s = cl.softmin_transform(rt)
    assert isinstance(s, t.Tensor)


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_buffers_are_filled_and_returned(backend):
    rng = np.random.default_rng(2)
    r = rng.normal(size=(4, 9)).astype(np.float32)
    v = rng.normal(size=(4, 9)).astype(np.float32)
    A, G = np.full_like(r, np.nan), np.full_like(r, np.nan)
    a, g = _run(backend, cl.gae, r, v, 0.99, 0.95, out=(A, G))
    assert a is A and g is G
    np.testing.assert_array_equal(A, _run(backend, cl.gae, r, v, 0.99, 0.95)[0])
    out = np.empty_like(r)
    assert _run(backend, cl.discounted_returns, r, 0.9, out=out) is out
    assert _run(backend, cl.min_form_returns, r, out=out) is out
    lr = np.empty_like(r)
    assert _run(backend, cl.lambda_returns, r, v, 0.9, 0.5, out=lr) is lr
    t = _torch()
    rt, vt = t.from_numpy(r), t.from_numpy(v)
    At, Gt = t.empty(4, 9), t.empty(4, 9)
    res = _run(backend, cl.gae, rt, vt, 0.99, 0.95, out=(At, Gt))
    assert res[0] is At and res[1] is Gt
    np.testing.assert_array_equal(At.numpy(), A)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_inputs(backend):
    rng = np.random.default_rng(3)
    big = rng.normal(size=(6, 20))
    r = big[::2, ::2]  # strided view
    v = rng.normal(size=(6, 20))[::2, ::2]
    assert not r.flags.c_contiguous
    want = cl.gae(np.ascontiguousarray(r), np.ascontiguousarray(v), 0.9, 0.9)
    got = _run(backend, cl.gae, r, v, 0.9, 0.9)
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
    # a Fortran-ordered [T, B] (the transpose of a [B, T] array) in time-major mode
    got_tm = _run(backend, cl.gae, r.T, v.T, 0.9, 0.9, time_dim=0)
    np.testing.assert_allclose(got_tm[0].T, want[0], rtol=1e-12, atol=1e-12)
    t = _torch()
    rt = t.from_numpy(big).t()  # non-contiguous tensor
    got_t = _run(backend, cl.discounted_returns, rt, 0.9, time_dim=0)
    np.testing.assert_allclose(got_t.numpy(), cl.discounted_returns(big, 0.9).T, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_edge_shapes(backend):
    for shape in [(0,), (1, 0), (3, 0), (1, 1), (0, 5)]:
        r = np.zeros(shape, np.float32)
        out = _run(backend, cl.discounted_returns, r, 0.9)
        assert out.shape == shape and out.dtype == np.float32
        assert _run(backend, cl.min_form_returns, r).shape == shape
        a, g = _run(backend, cl.gae, r, np.zeros(shape, np.float32), 0.9, 0.9)
        assert a.shape == shape
    r1 = np.array([2.0])
    np.testing.assert_array_equal(_run(backend, cl.discounted_returns, r1, 0.5), [2.0])
    a, g = _run(backend, cl.gae, r1, np.array([1.0, 3.0]), 0.5, 0.5)
    np.testing.assert_allclose(a, [2.0 + 1.5 - 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_done_rows(backend):
    r = np.arange(12, dtype=np.float64).reshape(3, 4)
    v = np.ones((3, 4))
    d = np.ones((3, 4), bool)
    np.testing.assert_array_equal(_run(backend, cl.discounted_returns, r, 0.9, terminated=d), r)
    adv, _ = _run(backend, cl.gae, r, v, 0.9, 0.9, terminated=d)
    np.testing.assert_array_equal(adv, r - 1)
    np.testing.assert_array_equal(_run(backend, cl.min_form_returns, r, terminated=d), r)
    m = np.zeros((3, 4), bool)
    np.testing.assert_array_equal(_run(backend, cl.discounted_returns, r, 0.9, response_mask=m), 0 * r)
    np.testing.assert_array_equal(_run(backend, cl.min_form_returns, r, response_mask=m), 0 * r)


def test_nan_does_not_cross_episode_ends():
    r = np.array([[1.0, 2.0, np.nan, 1.0]])
    d = np.array([[False, True, False, False]])
    g = cl.discounted_returns(r, 0.9, terminated=d)
    assert np.isfinite(g[0, :2]).all() and np.isnan(g[0, 2])
    adv, _ = cl.gae(r, np.zeros((1, 5)), 0.9, 0.9, terminated=d)
    assert np.isfinite(adv[0, :2]).all() and np.isnan(adv[0, 2])


def test_large_batch_uses_threads_and_matches():
    rng = np.random.default_rng(4)
    r = rng.normal(size=(257, 300)).astype(np.float32)  # odd B, above the OpenMP threshold
    v = rng.normal(size=(257, 301)).astype(np.float32)
    d = rng.random(r.shape) < 0.02
    m = rng.random(r.shape) < 0.9
    a, g = cl.gae(r, v, 0.99, 0.95, terminated=d, response_mask=m)
    with cl.use_backend("python"):
        a2, g2 = cl.gae(r, v, 0.99, 0.95, terminated=d, response_mask=m)
    np.testing.assert_allclose(a, a2, rtol=1e-4, atol=1e-4)
    at, gt = cl.gae(r.T.copy(), v.T.copy(), 0.99, 0.95, terminated=d.T.copy(),
                    response_mask=m.T.copy(), time_dim=0)
    np.testing.assert_allclose(at.T, a, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "T,nan_t,term_t",
    [(T, n, d) for T in (16, 17, 32, 64, 100)
     for n, d in ((40, 35), (20, 16), (47, 47), (17, 3), (15, 15)) if n < T],
)
def test_nan_isolation_float32_long_rows(T, nan_t, term_t):
    """Long float32 rows take the vectorised row kernels: NaN must still stop at episode ends."""
    r = np.ones((3, T), np.float32)
    r[:, nan_t] = np.nan
    v = np.zeros((3, T + 1), np.float32)
    v[:, nan_t + 1] = np.nan
    d = np.zeros((3, T), bool)
    d[:, term_t] = True
    a, _ = cl.gae(r, v, 0.99, 0.95, terminated=d)
    G = cl.discounted_returns(r, 0.99, terminated=d)
    for got in (a, G):
        before = got[:, : term_t + 1] if term_t < nan_t else got[:, :0]
        assert np.isfinite(before).all()
        assert np.isnan(got[:, nan_t]).all()


@st.composite
def long_problems(draw):
    p = draw(problems(min_T=0))
    # stretch the time axis so float32 rows reach the 16-step vector kernels
    reps = draw(st.integers(1, 8))

    def cat(x):
        return None if x is None else np.concatenate([x] * reps, axis=1)

    if p.v.shape[1] == p.r.shape[1] + 1:
        v = np.concatenate([np.concatenate([p.v[:, :-1]] * reps, axis=1), p.v[:, -1:]], axis=1)
    else:
        v = cat(p.v)
    return Problem(cat(p.r), v, cat(p.term), cat(p.trunc), cat(p.nv), p.boot, cat(p.mask),
                   p.gamma, p.lam)


@pytest.mark.parametrize("backend", BACKENDS)
@given(p=long_problems())
def test_long_rows_match_scalar_loop(backend, p):
    term, trunc, mask = p.filled()
    want_adv, _ = scalar_gae(
        p.r.astype(np.float64), p.v.astype(np.float64), p.gamma, p.lam, term, trunc,
        None if p.nv is None else p.nv.astype(np.float64), p.boot, mask,
    )
    want_g = scalar_returns(
        p.r.astype(np.float64), p.gamma, term, trunc,
        None if p.nv is None else p.nv.astype(np.float64), p.boot, mask,
    )
    adv, _ = _run(backend, cl.gae, p.r, p.v, p.gamma, p.lam, **p.kwargs(False))
    g = _run(backend, cl.discounted_returns, p.r, p.gamma, **p.kwargs(False))
    scale = np.concatenate([p.r.ravel(), p.v.ravel()])
    T = p.r.shape[1]
    assert_close(adv, want_adv, p.r.dtype, scale, T)
    assert_close(g, want_g, p.r.dtype, scale, T)
