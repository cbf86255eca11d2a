"""CUDA reverse scans and group helpers against the CPU kernels.

They run on a GPU when one is usable, else on the CPU CUDA emulator with smaller sizes
(tests/cuda_device.py; ``CREDITLAB_CUDA_TESTS`` chooses).

Tolerance: float64 and float32 results must be within
``16 * eps * sqrt(T + 1) * bound`` of the CPU float64 kernel, ``bound`` a per-row bound on
the partial sums (tests/scan_emulation.py: scan_tolerance, magnitude_bound); min-form is
exact. NaN positions must match exactly. Every reverse-scan case runs under each strategy
(sequential, twopass, lookback; csrc/cuda/scan.h), forced with ``_C.cuda_set_scan_strategy``,
plus the default plan where a test says so.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cuda_device
import numpy as np
import pytest
import scan_emulation as emu
from cuda_device import DEVICE, pick
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab
from creditlab import _backend

torch = pytest.importorskip("torch")
STRATEGIES = ["sequential", "twopass", "lookback"]
# B * T of the random cases is capped at this
MAX_ELEMENTS = pick(3_000_000, 60_000)


@pytest.fixture(scope="module", autouse=True)
def device() -> Iterator[cuda_device.Device]:
    with cuda_device.activate() as d:
        yield d


_dev = DEVICE.to


@contextlib.contextmanager
def scan_strategy(name: str) -> Iterator[None]:
    """Force the process-wide CUDA scan strategy within (restored after)."""
    before = _backend._C.cuda_set_scan_strategy(name)
    try:
        yield
    finally:
        _backend._C.cuda_set_scan_strategy(before)


def _close(got: Any, want: np.ndarray, bound: np.ndarray, dtype: Any, T: int,
           time_major: bool) -> None:
    g = got.cpu().numpy().astype(np.float64)
    w = np.asarray(want, np.float64)
    if time_major:
        g, w = g.T, w.T
    g, w = g.reshape(bound.shape[0], -1), w.reshape(bound.shape[0], -1)
    assert np.array_equal(np.isnan(g), np.isnan(w)), "NaN positions differ"
    tol = emu.scan_tolerance(dtype, T, bound)
    bad = ~np.isnan(w) & (np.abs(g - w) > tol)
    assert not bad.any(), (np.abs(g - w)[bad].max(), tol.max())


@st.composite
def case(draw: Any) -> dict:
    B = draw(st.sampled_from(pick([1, 2, 3, 7, 64, 300, 2048, 5000], [1, 2, 3, 7, 64, 300])))
    T = draw(st.sampled_from([0, 1, 2, 17, 64, 65, 1000, 1024, 1025, 4097, 32768]))
    if B * T > MAX_ELEMENTS:
        T = max(1, MAX_ELEMENTS // B)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p = draw(st.sampled_from([0.0, 0.001, 0.05]))
    time_major = draw(st.booleans())
    shape = (T, B) if time_major else (B, T)

    def flags(prob: float) -> np.ndarray | None:
        return rng.random(shape) < prob if draw(st.booleans()) else None

    r = rng.normal(size=shape).astype(dtype)
    if draw(st.booleans()) and r.size:
        r[rng.random(shape) < 1e-3] = np.nan
    return dict(B=B, T=T, dtype=dtype, rng=rng, r=r, shape=shape, time_major=time_major,
                term=flags(p), trunc=flags(p), mask=flags(0.9),
                gamma=draw(st.sampled_from([0.0, 0.9, 0.99, 1.0])),
                lam=draw(st.sampled_from([0.0, 0.95, 1.0])),
                values_extra=draw(st.booleans()), use_nv=draw(st.booleans()))


def _b(x: np.ndarray | None, time_major: bool) -> np.ndarray | None:
    """[B, ...] view of a caller-layout array (for the bound)."""
    return None if x is None else (x.T if time_major and x.ndim == 2 else x)


@settings(max_examples=pick(40, 25), deadline=None)
@given(case())
def test_returns_match_cpu(c: dict) -> None:
    tm, td = c["time_major"], (0 if c["time_major"] else -1)
    nv = (c["rng"].normal(size=c["shape"]).astype(c["dtype"])
          if c["use_nv"] or c["trunc"] is not None else None)
    kw = dict(terminated=c["term"], truncated=c["trunc"] if nv is not None else None,
              next_values=nv, response_mask=c["mask"], time_dim=td)
    want = creditlab.discounted_returns(c["r"].astype(np.float64), c["gamma"], **{
        k: (v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
        for k, v in kw.items()})
    dev_kw = {k: (_dev(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    r_dev = _dev(c["r"])
    r_before = r_dev.clone()
    bound = emu.magnitude_bound(_b(c["r"], tm), _b(nv, tm), discount=c["gamma"], T=c["T"])
    for strategy in STRATEGIES:
        with scan_strategy(strategy):
            got = creditlab.discounted_returns(r_dev, c["gamma"], **dev_kw)
        assert DEVICE.is_on(got) and got.dtype == r_dev.dtype
        assert torch.equal(r_dev.nan_to_num(7.0), r_before.nan_to_num(7.0))
        _close(got, want, bound, c["dtype"], c["T"], tm)


@settings(max_examples=pick(40, 25), deadline=None)
@given(case())
def test_gae_and_lambda_returns_match_cpu(c: dict) -> None:
    tm, td = c["time_major"], (0 if c["time_major"] else -1)
    rng, B, T = c["rng"], c["B"], c["T"]
    vshape = ((T + 1, B) if tm else (B, T + 1)) if c["values_extra"] else c["shape"]
    v = rng.normal(size=vshape).astype(c["dtype"])
    nv = None
    if not c["values_extra"] and (c["use_nv"] or c["trunc"] is not None):
        nv = rng.normal(size=c["shape"]).astype(c["dtype"])
    kw = dict(terminated=c["term"], truncated=c["trunc"] if nv is not None else None,
              next_values=nv, response_mask=c["mask"], time_dim=td)
    f64 = {k: (x.astype(np.float64) if isinstance(x, np.ndarray) and x.dtype.kind == "f"
               else x) for k, x in kw.items()}
    A, G = creditlab.gae(c["r"].astype(np.float64), v.astype(np.float64), c["gamma"],
                         c["lam"], **f64)
    dev_kw = {k: (_dev(x) if isinstance(x, np.ndarray) else x) for k, x in kw.items()}
    bound = emu.magnitude_bound(_b(c["r"], tm), _b(v, tm), _b(v, tm), _b(nv, tm),
                                discount=c["gamma"] * c["lam"], T=T)
    r_dev, v_dev = _dev(c["r"]), _dev(v)
    for strategy in STRATEGIES:
        with scan_strategy(strategy):
            Ad, Gd = creditlab.gae(r_dev, v_dev, c["gamma"], c["lam"], **dev_kw)
            Ld = creditlab.lambda_returns(r_dev, v_dev, c["gamma"], c["lam"], **dev_kw)
        _close(Ad, A, bound, c["dtype"], T, tm)
        _close(Gd, G, bound, c["dtype"], T, tm)
        _close(Ld, G, bound, c["dtype"], T, tm)


@settings(max_examples=pick(30, 20), deadline=None)
@given(case())
def test_min_form_matches_cpu_exactly(c: dict) -> None:
    td = 0 if c["time_major"] else -1
    want = creditlab.min_form_returns(c["r"], terminated=c["term"], response_mask=c["mask"],
                                      time_dim=td)
    for strategy in STRATEGIES:
        with scan_strategy(strategy):
            got = creditlab.min_form_returns(_dev(c["r"]), terminated=_dev(c["term"]),
                                             response_mask=_dev(c["mask"]), time_dim=td)
        np.testing.assert_array_equal(got.cpu().numpy(), want)


@pytest.mark.parametrize("strategy", [None, *STRATEGIES])
@pytest.mark.parametrize("shape", pick(
    [(1, 32768), (64, 32768), (256, 4096), (1024, 1024), (4096, 100), (100000, 16), (3, 40000)],
    [(1, 32768), (4, 32768), (16, 4096), (64, 1024), (256, 100), (2048, 16), (3, 40000)]))
def test_benchmark_shapes_and_plans(shape: tuple[int, int], strategy: str | None) -> None:
    """The benchmark shapes (on the emulator: the same T, fewer rows) under the default plan
    (None) and each forced strategy; (3, 40000) has 40 one-tile look-back chunks per row
    (more than one 32-chunk window)."""
    B, T = shape
    rng = np.random.default_rng(0)
    r = rng.normal(size=shape).astype(np.float32)
    v = rng.normal(size=(B, T + 1)).astype(np.float32)
    term = rng.random(shape) < 0.01
    A, G = creditlab.gae(r.astype(np.float64), v.astype(np.float64), 0.99, 0.95,
                         terminated=term)
    with scan_strategy(strategy) if strategy else contextlib.nullcontext():
        Ad, Gd = creditlab.gae(_dev(r), _dev(v), 0.99, 0.95, terminated=_dev(term))
    bound = emu.magnitude_bound(r, v, v, discount=0.99 * 0.95, T=T)
    _close(Ad, A, bound, np.float32, T, False)
    _close(Gd, G, bound, np.float32, T, False)


def test_lookback_repeated_calls_on_one_stream() -> None:
    """The look-back workspace (ticket counter, flags) is zeroed before every launch: many
    back-to-back calls on one stream all match the CPU. (Not bit-equal to each other: which
    later chunks a block finds INCLUSIVE, hence the grouping of its sums, depends on timing.)"""
    rng = np.random.default_rng(3)
    B, T, calls = pick((64, 32768, 20), (2, 32768, 3))
    r = rng.normal(size=(B, T)).astype(np.float32)
    want = creditlab.discounted_returns(r.astype(np.float64), 0.99)
    bound = emu.magnitude_bound(r, discount=0.99, T=T)
    r_dev = _dev(r)
    with scan_strategy("lookback"):
        outs = [creditlab.discounted_returns(r_dev, 0.99) for _ in range(calls)]
    for o in outs:
        _close(o, want, bound, np.float32, T, False)


def test_non_contiguous_inputs_stream_and_out() -> None:
    rng = np.random.default_rng(1)
    r = _dev(rng.normal(size=(700, 40)).astype(np.float32)).T  # [40, 700] view: not contiguous
    before = r.clone()
    with DEVICE.side_stream() as s:
        out = _dev(np.empty((40, 700), np.float32))
        got = creditlab.discounted_returns(r, 0.9, time_dim=0, out=out)
    s.synchronize()
    assert got is out and torch.equal(r, before)
    want = creditlab.discounted_returns(r.cpu().numpy(), 0.9, time_dim=0)
    np.testing.assert_allclose(out.cpu().numpy(), want, rtol=1e-5, atol=1e-5)


def test_group_helpers_match_cpu() -> None:
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        s = rng.normal(size=1000).astype(dtype)
        idx = rng.integers(0, 37, size=1000)
        idx[:3] = 99  # a group of 3 ... and singletons
        idx[3] = 123
        for fn in (creditlab.grpo, creditlab.dr_grpo, creditlab.rloo):
            want = fn(s, idx)
            got = fn(_dev(s), _dev(idx))
            assert DEVICE.is_on(got) and got.dtype == _dev(s).dtype
            np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-6 if dtype == np.float32
                                       else 1e-12, atol=1e-6 if dtype == np.float32 else 1e-12)
            got_cpu_index = fn(_dev(s), idx)  # a host-side index is mapped on the host
            np.testing.assert_allclose(got_cpu_index.cpu().numpy(), want, rtol=1e-5, atol=1e-5)
        x = rng.normal(size=(64, 300)).astype(dtype)
        m = rng.random((64, 300)) < 0.7
        for unbiased in (True, False):
            for shift in (True, False):
                want = creditlab.masked_whiten(x, m, unbiased=unbiased, shift_mean=shift)
                got = creditlab.masked_whiten(_dev(x), _dev(m), unbiased=unbiased,
                                              shift_mean=shift)
                np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-5, atol=1e-5)


def _cpu_timer(fn: Callable[[], Any], reps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def test_cuda_benchmark_measures_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code of ``benchmarks/bench_returns.py --device cuda`` (cuda_shape, cuda_rows,
    cuda_report) on one small shape: every strategy runs, agrees with the torch loop, and
    gets its row; on the emulator with a CPU timer instead of CUDA events."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_returns.py"
    spec = importlib.util.spec_from_file_location("bench_returns", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_returns", bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)
    B, T = 2, 2500
    timer = bench.cuda_time if cuda_device.ON_GPU else _cpu_timer
    t_loop, res = bench.cuda_shape(B, T, _dev, 2, bench.CUDA_STRATEGIES, timer=timer)
    assert list(res) == bench.CUDA_STRATEGIES and t_loop > 0
    C = _backend._C
    for name, (t, err, plan) in res.items():
        assert t > 0 and err < 1e-4, (name, err)
        assert plan == tuple(C.cuda_scan_plan(1, False, B, T, False, name))
    rows = bench.cuda_rows(B, T, t_loop, res)
    assert sum(r[-1] for r in rows) == 1  # one fastest
    lines = bench.cuda_report(rows, gpu="test", copy_gbs=100.0, nominal=None, versions="v",
                              command="c", elapsed=1.0, reps=2)
    table = [ln for ln in lines if ln.startswith(f"| {B} x {T} |")]
    assert len(table) == len(bench.CUDA_STRATEGIES)
    for ln, name in zip(table, bench.CUDA_STRATEGIES):
        assert f" {name} " in ln.replace("*", " ")
