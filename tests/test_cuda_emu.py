"""The real CUDA kernels (csrc/cuda/*.cu), RUN on the CPU by an emulator (tests/cuda_emu).

g++ compiles the .cu sources against tests/cuda_emu/cuda_emu.h (blocks one after another,
threads as fibers switched at barriers and warp collectives, __shared__ poisoned before each
block, deadlocks and divergent barriers reported) and links them with the real
csrc/bindings.cpp, so the module has the ``_C.cuda_*`` entry points of a CUDA build with
host pointers as device pointers. The public functions are then called with CPU torch
tensors standing in for CUDA tensors, so the whole CUDA path runs: the Python wrappers'
validation, workspace sizing (``cuda_scan_plan``) and output allocation, the bindings, the
launchers' plans and every kernel. Results are compared with the CPU kernels, with the
tolerance of the device tests (tests/test_cuda_scan.py, tests/test_cuda_trees_device.py).
Those device tests also run on this emulator when no GPU is visible (tests/cuda_device.py),
in thread order on plain buffers; this file adds what only an emulator can do: guard
margins around every buffer, thread schedules, SM counts and look-back fault injection.

The emulator's pretend SM count is small (1-4), so T of a few thousand already takes the
multi-chunk plans; the thread schedule (thread order, reverse, random) is drawn per example,
so a missing barrier reads stale shared memory in one of them. Every reverse-scan example
runs under each strategy (sequential, twopass, lookback; csrc/cuda/scan.h), forced through
``_C.cuda_set_scan_strategy``. Blocks run one after another in launch (= ticket) order, so
the look-back would always find its neighbour INCLUSIVE; the emulator's fault injection
(``set_withhold``) makes some blocks publish only their AGGREGATE, so the look-back composes
aggregates over several chunks. The emulator cannot detect memory-ordering bugs (a flag
stored before its map, a missing fence): those need the GPU tests.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scan_emulation as semu
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab
from creditlab import _backend, _cuda
from creditlab import tree_reference as ref
from creditlab import trees as T

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent / "cuda_emu"))
import cuda_device  # noqa: E402
import emu_build  # noqa: E402
from cuda_device import EmulatedCudaTensor  # noqa: E402
from test_cuda_dispatch import FakeCuda  # noqa: E402
from test_cuda_trees import (  # noqa: E402
    SLOTS,
    _tol,
    backup_inputs,
    random_parents,
    reduce_inputs,
)
from test_cuda_trees import trees as tree_cases  # noqa: E402

GUARD = 16  # elements of NaN / sentinel around every buffer the kernels get


@pytest.fixture(scope="session")
def emu() -> emu_build.Emulator:
    if emu_build.compiler() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the CUDA emulator tests: no C++ compiler found")
        pytest.skip("no C++ compiler (g++ or $CXX) to build the CUDA emulator")
    t0 = time.perf_counter()
    e = emu_build.shared()
    print(f"\nCUDA emulator module ready ({time.perf_counter() - t0:.1f} s)")
    return e


@contextlib.contextmanager
def on_emulator(emu: emu_build.Emulator, tensor_class: bool = False) -> Iterator[Any]:
    """Within: creditlab's compiled module is the emulator; ``cuda(x)`` (x a numpy array)
    gives a "CUDA tensor" sharing x's memory, which is what the kernels read and write.

    Two stand-ins: by default test_cuda_dispatch.FakeCuda (a CPU tensor that reports device
    cuda:0; the wrappers' outputs are allocated as FakeCuda too); with ``tensor_class`` (the
    tree wrappers, which run torch ops on their inputs) cuda_device.EmulatedCudaTensor, a
    torch.Tensor subclass that ``_cuda.is_cuda`` is told to take for a CUDA tensor."""

    def cuda(x: Any) -> Any:
        if x is None:
            return None
        t = torch.from_numpy(np.asarray(x))
        return t.as_subclass(EmulatedCudaTensor) if tensor_class else FakeCuda(t)

    with pytest.MonkeyPatch.context() as mp:
        if tensor_class:
            cuda_device.patch_creditlab(mp, emu)
        else:
            mp.setattr(_backend, "_C", emu.C)
            mp.setattr(_backend, "_backend_var", contextvars.ContextVar("creditlab_backend", default="cpp"))
            mp.setattr(_cuda, "stream", lambda device: 0)
            mp.setattr(_cuda, "on_device", lambda device: contextlib.nullcontext())
            mp.setattr(_cuda, "empty", lambda shape, dtype, device: FakeCuda(
                torch.empty(shape, dtype=_cuda.torch_dtype(dtype)), device))
            mp.setattr(_cuda, "to_device", lambda a, device: FakeCuda(torch.from_numpy(a),
                                                                      device))
        yield cuda


def guarded(a: np.ndarray | None, fill: Any = np.nan) -> np.ndarray | None:
    """A copy of ``a`` inside a larger buffer whose margins hold ``fill``: a kernel that
    reads out of bounds picks up NaN (or set flags), one that writes there is caught by
    :func:`margins_intact`."""
    if a is None:
        return None
    flat = np.full(a.size + 2 * GUARD, fill, dtype=a.dtype)
    flat[GUARD:GUARD + a.size] = a.reshape(-1)
    return flat[GUARD:GUARD + a.size].reshape(a.shape)


def margins_intact(view: np.ndarray, fill: Any) -> bool:
    base = view.base
    while base is not None and base.base is not None:
        base = base.base
    m = np.concatenate([base[:GUARD], base[-GUARD:]])
    return bool(np.all(np.isnan(m)) if np.isnan(fill) else np.all(m == fill))


# --------------------------------------------------------------------------------------
# Reverse scans

T_CHOICES = [0, 1, 2, 17, 64, 65, 1023, 1024, 1025, 2049, 3000, 4097]
LONG_T = [2049, 3000, 4097]
STRATEGIES = ["sequential", "twopass", "lookback"]
EDGE = 1024  # the tile; chunk boundaries (twopass and lookback) are multiples of it


@contextlib.contextmanager
def scan_strategy(emu: emu_build.Emulator, name: str, withhold: int = 0) -> Iterator[None]:
    """Force the process-wide scan strategy (and the look-back fault injection) within."""
    before = emu.C.cuda_set_scan_strategy(name)
    emu.set_withhold(withhold)
    try:
        yield
    finally:
        emu.C.cuda_set_scan_strategy(before)
        emu.set_withhold(0)


@st.composite
def scan_case(draw: Any) -> dict:
    time_major = draw(st.booleans())
    B = draw(st.sampled_from([1, 2, 3, 5] + ([2048] if time_major else [])))
    T_ = draw(st.sampled_from(T_CHOICES + LONG_T))  # rows of 3 to 5 one-tile chunks: twice
    if B * T_ > 12_000 and B <= 5:
        B = draw(st.sampled_from([1, 2]))
    elif B * T_ > 12_000:
        T_ = draw(st.sampled_from([0, 1, 2, 5]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (T_, B) if time_major else (B, T_)
    p = draw(st.sampled_from([0.0, 0.002, 0.05]))

    def flags(prob: float) -> np.ndarray | None:
        return rng.random(shape) < prob if draw(st.booleans()) else None

    r = rng.normal(size=shape).astype(dtype)
    if draw(st.booleans()) and r.size:
        r[rng.random(shape) < 2e-3] = np.nan
    mask = flags(draw(st.sampled_from([0.9, 0.3])))
    if mask is not None and draw(st.booleans()) and B > 1:  # an all-masked row
        mask[(slice(None), 0) if time_major else 0] = False
    term, trunc = flags(p), flags(p)
    edges = [t for k in range(EDGE, T_, EDGE) for t in (k - 1, k)]
    if edges and draw(st.booleans()):  # cuts and NaN on both sides of chunk boundaries
        at = (edges, slice(None)) if time_major else (slice(None), edges)
        cut = draw(st.sampled_from(["term", "trunc", "nan"]))
        if cut == "term":
            term = np.zeros(shape, bool) if term is None else term
            term[at] = True
        elif cut == "trunc":
            trunc = np.zeros(shape, bool) if trunc is None else trunc
            trunc[at] = True
        else:
            r[at] = np.nan
    return dict(B=B, T=T_, dtype=dtype, rng=rng, r=r, shape=shape, time_major=time_major,
                term=term, trunc=trunc, mask=mask, withhold=draw(st.sampled_from([0, 2, 3])),
                gamma=draw(st.sampled_from([0.0, 0.9, 0.99, 1.0])),
                lam=draw(st.sampled_from([0.0, 0.95, 1.0])),
                values_extra=draw(st.booleans()), use_nv=draw(st.booleans()),
                use_boot=draw(st.booleans()), sms=draw(st.sampled_from([1, 2, 4])),
                schedule=draw(st.sampled_from([0, 1, 2])), seed=draw(st.integers(0, 1000)))


def _configure(emu: emu_build.Emulator, c: dict) -> None:
    emu.set_sm_count(c["sms"])
    emu.set_schedule(c["schedule"], c["seed"])
    emu.launches()


def _expect_plan(emu: emu_build.Emulator, family: int, c: dict, launched: list[str],
                 forced: str) -> None:
    """The kernels that ran are the plan's, and the plan is the forced strategy (so every
    strategy is really exercised); an empty batch launches nothing."""
    strategy, nchunks, _, _ = emu.C.cuda_scan_plan(family, c["dtype"] == np.float64, c["B"],
                                                   c["T"], c["time_major"])
    if c["B"] == 0 or c["T"] == 0:
        assert launched == []
        return
    assert strategy == forced
    if strategy == "sequential":
        want = ["sequential_kernel"]
    elif strategy == "lookback":
        want = ["lookback_scan_kernel"]
    else:
        want = (["chunk_map_kernel"] if nchunks > 1 else []) + ["chunk_scan_kernel"]
    assert launched == want


def _f64(x: Any) -> Any:
    return x.astype(np.float64) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x


def _close(got: np.ndarray, want: np.ndarray, bound: np.ndarray, c: dict) -> None:
    g, w = got.astype(np.float64), np.asarray(want, np.float64)
    if c["time_major"]:
        g, w = g.T, w.T
    g, w = g.reshape(c["B"], -1), w.reshape(c["B"], -1)
    assert np.array_equal(np.isnan(g), np.isnan(w)), "NaN positions differ"
    tol = semu.scan_tolerance(c["dtype"], c["T"], bound)
    bad = ~np.isnan(w) & (np.abs(g - w) > tol)
    assert not bad.any(), (np.abs(g - w)[bad].max(), tol.max())


def _bview(x: np.ndarray | None, c: dict) -> np.ndarray | None:
    return None if x is None else (x.T if c["time_major"] and x.ndim == 2 else x)


@settings(max_examples=40, deadline=None)
@given(scan_case())
def test_emulated_discounted_returns_match_cpu(emu: emu_build.Emulator, c: dict) -> None:
    rng, td = c["rng"], (0 if c["time_major"] else -1)
    nv = (rng.normal(size=c["shape"]).astype(c["dtype"])
          if c["use_nv"] or c["trunc"] is not None else None)
    boot = rng.normal(size=c["B"]).astype(c["dtype"]) if c["use_boot"] and nv is None else None
    kw = dict(terminated=c["term"], truncated=c["trunc"] if nv is not None else None,
              next_values=nv, bootstrap=boot, response_mask=c["mask"], time_dim=td)
    want = creditlab.discounted_returns(_f64(c["r"]), c["gamma"],
                                        **{k: _f64(v) for k, v in kw.items()})
    bound = semu.magnitude_bound(_bview(c["r"], c), _bview(nv, c), boot, discount=c["gamma"],
                                 T=c["T"])
    _configure(emu, c)
    ins = {k: guarded(v, True if isinstance(v, np.ndarray) and v.dtype == bool else np.nan)
           for k, v in kw.items() if k != "time_dim"}
    r = guarded(c["r"])
    for strategy in STRATEGIES:
        out = guarded(np.full(c["shape"], 7.0, c["dtype"]), -3.0)
        with scan_strategy(emu, strategy, c["withhold"]), on_emulator(emu) as cuda:
            o = cuda(out)
            got = creditlab.discounted_returns(cuda(r), c["gamma"], time_dim=td, out=o,
                                               **{k: cuda(v) for k, v in ins.items()})
            _expect_plan(emu, 0, c, emu.launches(), strategy)
        assert got is o and margins_intact(out, -3.0)
        assert np.array_equal(r, c["r"], equal_nan=True) and margins_intact(r, np.nan)
        _close(out, want, bound, c)


@settings(max_examples=40, deadline=None)
@given(scan_case())
def test_emulated_gae_and_lambda_returns_match_cpu(emu: emu_build.Emulator, c: dict) -> None:
    rng, td, B, T_ = c["rng"], (0 if c["time_major"] else -1), c["B"], c["T"]
    vshape = (((T_ + 1, B) if c["time_major"] else (B, T_ + 1)) if c["values_extra"]
              else c["shape"])
    v = rng.normal(size=vshape).astype(c["dtype"])
    nv = None
    if not c["values_extra"] and (c["use_nv"] or c["trunc"] is not None):
        nv = rng.normal(size=c["shape"]).astype(c["dtype"])
    boot = (rng.normal(size=B).astype(c["dtype"])
            if c["use_boot"] and nv is None and not c["values_extra"] else None)
    kw = dict(terminated=c["term"], truncated=c["trunc"] if nv is not None else None,
              next_values=nv, bootstrap=boot, response_mask=c["mask"])
    A, G = creditlab.gae(_f64(c["r"]), _f64(v), c["gamma"], c["lam"], time_dim=td,
                         **{k: _f64(x) for k, x in kw.items()})
    bound = semu.magnitude_bound(_bview(c["r"], c), _bview(v, c), _bview(v, c), _bview(nv, c),
                                 boot, discount=c["gamma"] * c["lam"], T=T_)
    _configure(emu, c)
    ins = {k: guarded(x, True if isinstance(x, np.ndarray) and x.dtype == bool else np.nan)
           for k, x in kw.items()}
    r, vg = guarded(c["r"]), guarded(v)
    for strategy in STRATEGIES:
        outs = (guarded(np.zeros(c["shape"], c["dtype"]), -3.0),
                guarded(np.zeros(c["shape"], c["dtype"]), -3.0))
        emu.launches()
        with scan_strategy(emu, strategy, c["withhold"]), on_emulator(emu) as cuda:
            dev = {k: cuda(x) for k, x in ins.items()}
            creditlab.gae(cuda(r), cuda(vg), c["gamma"], c["lam"], time_dim=td,
                          out=(cuda(outs[0]), cuda(outs[1])), **dev)
            _expect_plan(emu, 1, c, emu.launches(), strategy)
            L = creditlab.lambda_returns(cuda(r), cuda(vg), c["gamma"], c["lam"], time_dim=td,
                                         **dev).t.numpy()
        assert all(margins_intact(o, -3.0) for o in outs)
        assert np.array_equal(vg, v, equal_nan=True) and margins_intact(vg, np.nan)
        _close(outs[0], A, bound, c)
        _close(outs[1], G, bound, c)
        _close(L, G, bound, c)


@settings(max_examples=30, deadline=None)
@given(scan_case())
def test_emulated_min_form_returns_equal_cpu_exactly(emu: emu_build.Emulator, c: dict) -> None:
    td = 0 if c["time_major"] else -1
    want = creditlab.min_form_returns(c["r"], terminated=c["term"], response_mask=c["mask"],
                                      time_dim=td)
    _configure(emu, c)
    r, term, mask = guarded(c["r"]), guarded(c["term"], True), guarded(c["mask"], True)
    for strategy in STRATEGIES:
        out = guarded(np.zeros(c["shape"], c["dtype"]), -3.0)
        with scan_strategy(emu, strategy, c["withhold"]), on_emulator(emu) as cuda:
            creditlab.min_form_returns(cuda(r), terminated=cuda(term), response_mask=cuda(mask),
                                       time_dim=td, out=cuda(out))
            _expect_plan(emu, 2, c, emu.launches(), strategy)
        assert margins_intact(out, -3.0)
        np.testing.assert_array_equal(out, want)  # (min, +) is exact under any grouping


@pytest.mark.parametrize("sms", [1, 3])
def test_emulated_long_rows_many_chunks(emu: emu_build.Emulator, sms: int) -> None:
    """T = 32768 (the GPU tests' longest), one row: 32 tiles in 8 or 16 chunks."""
    emu.set_sm_count(sms)
    emu.launches()
    emu.set_schedule(2, sms)
    rng = np.random.default_rng(sms)
    r = rng.normal(size=(1, 32768)).astype(np.float32)
    v = rng.normal(size=(1, 32769)).astype(np.float32)
    term = rng.random((1, 32768)) < 1e-3
    A, G = creditlab.gae(_f64(r), _f64(v), 0.99, 0.95, terminated=term)
    with on_emulator(emu) as cuda:
        Ad, Gd = creditlab.gae(cuda(r), cuda(v), 0.99, 0.95, terminated=cuda(term))
    assert emu.C.cuda_scan_plan(1, False, 1, 32768, False)[1] > 1
    assert emu.launches() == ["chunk_map_kernel", "chunk_scan_kernel"]
    bound = semu.magnitude_bound(r, v, v, discount=0.99 * 0.95, T=32768)
    c = dict(B=1, T=32768, dtype=np.float32, time_major=False)
    _close(Ad.t.numpy(), A, bound, c)
    _close(Gd.t.numpy(), G, bound, c)


@pytest.mark.parametrize("withhold", [0, 1000, 7])
def test_emulated_lookback_across_windows(emu: emu_build.Emulator, withhold: int) -> None:
    """Lookback over 45 one-tile chunks per row (two rows; ticket i is chunk 44 - i // 2 of
    row i % 2). withhold 1000: only tickets 0 and 1000 publish INCLUSIVE, so most chunks
    compose aggregates over more than one 32-chunk window, down to the row's end; 7: the
    look-back stops at the nearest INCLUSIVE a few chunks away."""
    B, T_ = 2, 45 * EDGE - 100
    rng = np.random.default_rng(withhold)
    emu.set_schedule(2, withhold)
    r = rng.normal(size=(B, T_)).astype(np.float32)
    v = rng.normal(size=(B, T_ + 1)).astype(np.float32)
    term = rng.random((B, T_)) < 2e-4
    term[1] = False
    term[0, 20 * EDGE - 1] = True  # a cut at a chunk's first step, another at one's last
    term[1, 30 * EDGE] = True
    r[1, 40 * EDGE - 1] = np.nan   # a NaN at a chunk edge: must stop at row 1's cut
    A, G = creditlab.gae(_f64(r), _f64(v), 0.99, 1.0, terminated=term)
    with scan_strategy(emu, "lookback", withhold), on_emulator(emu) as cuda:
        assert emu.C.cuda_scan_plan(1, False, B, T_, False)[:3] == ("lookback", 45, EDGE)
        emu.launches()
        Ad, Gd = creditlab.gae(cuda(r), cuda(v), 0.99, 1.0, terminated=cuda(term))
        assert emu.launches() == ["lookback_scan_kernel"]
        m = creditlab.min_form_returns(cuda(r), terminated=cuda(term)).t.numpy()
    bound = semu.magnitude_bound(r, v, v, discount=0.99, T=T_)
    c = dict(B=B, T=T_, dtype=np.float32, time_major=False)
    _close(Ad.t.numpy(), A, bound, c)
    _close(Gd.t.numpy(), G, bound, c)
    np.testing.assert_array_equal(m, creditlab.min_form_returns(r, terminated=term))
    nan = np.isnan(A[1])
    assert nan[30 * EDGE + 1:40 * EDGE].all() and not nan[:30 * EDGE + 1].any()


# --------------------------------------------------------------------------------------
# Group helpers


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3000), st.integers(1, 40), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 2]), st.booleans())
def test_emulated_group_helpers_match_cpu(emu: emu_build.Emulator, n: int, groups: int,
                                          dtype: Any, seed: int, schedule: int,
                                          nan: bool) -> None:
    rng = np.random.default_rng(seed)
    emu.set_schedule(schedule, seed)
    s = rng.normal(size=n).astype(dtype)
    if nan and n:
        s[rng.integers(0, n)] = np.nan
    idx = rng.integers(0, groups, size=n) * 7 - 3  # ids are arbitrary integers
    if n > 3:
        idx[0] = 10**6  # a singleton group
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for fn in (creditlab.grpo, creditlab.dr_grpo, creditlab.rloo):
        want = fn(s, idx)
        with on_emulator(emu) as cuda:
            got = fn(cuda(guarded(s)), idx)
        assert got.dtype == torch.from_numpy(s).dtype and isinstance(got, FakeCuda)
        np.testing.assert_allclose(got.t.numpy(), want, **tol)
    x = rng.normal(size=(max(1, n // 50), 50)).astype(dtype)
    m = rng.random(x.shape) < rng.choice([0.05, 0.7, 1.0])
    if m.sum() < 2:
        m.reshape(-1)[:2] = True
    for unbiased in (True, False):
        for shift in (True, False):
            want = creditlab.masked_whiten(x, m, unbiased=unbiased, shift_mean=shift)
            with on_emulator(emu) as cuda:
                got = creditlab.masked_whiten(cuda(guarded(x)), cuda(guarded(m, True)),
                                              unbiased=unbiased, shift_mean=shift)
            np.testing.assert_allclose(got.t.numpy(), want, **tol)


# --------------------------------------------------------------------------------------
# Tree kernels (warp per tree: shuffles, __match_any_sync, __syncwarp, integer atomics)


@settings(max_examples=30, deadline=None)
@given(tree_cases(max_b=6, max_n=120), st.sampled_from(["mean", "sum", "max", "min", "lse"]),
       st.booleans(), st.booleans(), st.booleans(), st.sampled_from([0, 1, 2]))
def test_emulated_reduce_up_matches_cpu(emu: emu_build.Emulator, tree: Any, op: str,
                                        weighted: bool, self_terms: bool, nan: bool,
                                        schedule: int) -> None:
    parent, rng, dt = tree
    emu.set_schedule(schedule, int(rng.integers(1000)))
    ins = reduce_inputs(rng, parent, dt, weighted, self_terms, nan)
    want = T.reduce_up(parent, *ins[:4], op, *ins[4:], 0.8)
    with on_emulator(emu, True) as cuda:
        got = T.reduce_up(cuda(parent), *[cuda(guarded(a)) for a in ins[:4]], op,
                          *[cuda(guarded(a)) for a in ins[4:]], 0.8).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, **_tol(dt, np.nanmax(np.abs(want), initial=1)))


@settings(max_examples=20, deadline=None)
@given(tree_cases(max_b=6, max_n=120), st.sampled_from(["mean", "sum", "max", "min"]))
def test_emulated_backup_path_matches_cpu(emu: emu_build.Emulator, tree: Any, op: str) -> None:
    parent, rng, dt = tree
    r, g, V, n, leaf, vl = backup_inputs(rng, parent, dt)
    Ve, Ne = T.backup_path(parent, r, g, V, n, leaf, vl, op)
    ins = [guarded(parent, -7), guarded(r), guarded(g), guarded(V), guarded(n, -7),
           guarded(leaf, -7), guarded(vl)]  # a read past any input picks up NaN / -7
    with on_emulator(emu, True) as cuda:
        Vo, No = T.backup_path(*[cuda(a) for a in ins], op=op)
    np.testing.assert_allclose(Vo.numpy(), Ve, **_tol(dt, np.abs(Ve).max()))
    np.testing.assert_array_equal(No.numpy(), Ne)
    assert margins_intact(ins[3], np.nan) and margins_intact(ins[4], -7)  # nothing written there


@settings(max_examples=30, deadline=None)
@given(tree_cases(max_b=6, max_n=120, unused=SLOTS),
       st.sampled_from(["treerl", "treerl_code", "fork"]), st.booleans(), st.booleans(),
       st.booleans(), st.sampled_from([0, 1, 2]))
def test_emulated_prefix_tree_advantages_match_cpu(emu: emu_build.Emulator, tree: Any,
                                                   mode: str, loo: bool, sqrt_scale: bool,
                                                   masked: bool, schedule: int) -> None:
    parent, rng, dt = tree
    emu.set_schedule(schedule, int(rng.integers(1000)))
    B, N = parent.shape
    x = rng.normal(size=(B, N)).astype(dt)
    il = rng.random((B, N)) < 0.4 if masked else None
    conn = np.array([ref.connected(p) for p in parent])
    x[~conn] = np.nan  # unused slots and their subtrees: never read, 0 out
    want = T.prefix_tree_advantages(parent, x, mode, loo, sqrt_scale, il)
    with on_emulator(emu, True) as cuda:
        got = T.prefix_tree_advantages(cuda(parent), cuda(guarded(x)), mode, loo, sqrt_scale,
                                       cuda(il)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert np.all(got[~conn] == 0)


@pytest.mark.parametrize("kind,B,N", [("chain", 1, 700), ("star", 2, 500), ("near", 9, 200),
                                      ("random", 1, 1), ("random", 300, 3)])
def test_emulated_tree_shapes_deep_wide_single(emu: emu_build.Emulator, kind: str, B: int,
                                               N: int) -> None:
    rng = np.random.default_rng(B + N)
    emu.set_schedule(1)
    parent = random_parents(rng, B, N, kind)
    lv, r, g, w, _, _ = reduce_inputs(rng, parent, np.float64, True, False)
    g = np.full_like(g, 0.999)
    for op in ("mean", "max", "lse"):
        want = T.reduce_up(parent, lv, r, g, w, op)
        with on_emulator(emu, True) as cuda:
            got = T.reduce_up(cuda(parent), cuda(lv), cuda(r), cuda(g), cuda(w), op).numpy()
        np.testing.assert_allclose(got, want, **_tol(np.float64, np.abs(want).max()))
    want = T.prefix_tree_advantages(parent, lv)  # "random" has unused slots
    with on_emulator(emu, True) as cuda:
        got = T.prefix_tree_advantages(cuda(parent), cuda(lv)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_emulated_empty_batches_return_empty(emu: emu_build.Emulator) -> None:
    """Regression: an empty CUDA tensor's data_ptr() is 0, and the bindings used to reject
    the null output of a T = 0 (or B = 0) call with "rewards and out are required"."""
    emu.launches()
    for shape in [(2, 0), (0, 5)]:
        with on_emulator(emu) as cuda:
            r, v = cuda(np.zeros(shape, np.float32)), cuda(np.zeros(shape, np.float32))
            assert creditlab.discounted_returns(r, 0.9).shape == shape
            A, G = creditlab.gae(r, v, 0.9, 0.8)
            assert A.shape == G.shape == shape
            assert creditlab.lambda_returns(r, v, 0.9, 0.8).shape == shape
            assert creditlab.min_form_returns(r).shape == shape
    assert emu.launches() == []


def test_device_harness_fails_a_test_that_launches_nothing(emu: emu_build.Emulator) -> None:
    """tests/cuda_device.check_launches (run around every device test on the emulator): a
    test whose calls all took the CPU path fails; one that launched a kernel passes."""

    item = SimpleNamespace(module=SimpleNamespace(DEVICE=cuda_device.DEVICE), name="t")
    before = cuda_device.DEVICE.emulator
    cuda_device.DEVICE.emulator = emu
    try:
        with pytest.raises(AssertionError, match="launched no kernel"):
            with cuda_device.check_launches(item):
                creditlab.discounted_returns(np.ones((2, 300)), 0.9)  # numpy: the CPU kernel
        with cuda_device.check_launches(item), on_emulator(emu) as cuda:
            out = creditlab.discounted_returns(cuda(np.ones((2, 300))), 0.9)
        np.testing.assert_allclose(np.asarray(out.t), creditlab.discounted_returns(
            np.ones((2, 300)), 0.9))
    finally:
        cuda_device.DEVICE.emulator = before
