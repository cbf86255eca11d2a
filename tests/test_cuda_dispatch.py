"""CPU-side checks of the CUDA path (they run on machines without a GPU).

- the numpy emulation of the chunked parallel scan (tests/scan_emulation.py, structured
  like csrc/cuda/scan.cu) equals creditlab.reference: the only way the decomposition is
  exercised without a GPU;
- backend_info and the _C.cuda_* entry points agree with the build; a CUDA entry point
  called without a device raises a clear RuntimeError;
- the Python dispatch, with a fake CUDA tensor (a CPU tensor that says it is on cuda:0)
  and a fake CUDA module that runs the CPU kernels on the arrays behind the pointers it
  gets: argument order, layouts, out=, workspace, stream, no input mutation, and the
  same errors as the CPU path.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scan_emulation as emu
from hypothesis import given
from hypothesis import strategies as st

import creditlab
from creditlab import _backend, _cuda, reference
from creditlab import returns as returns_mod

torch = pytest.importorskip("torch")

# --------------------------------------------------------------------------------------
# The decomposition, emulated


@st.composite
def scan_case(draw: Any) -> dict:
    B = draw(st.integers(1, 3))
    T = draw(st.sampled_from([0, 1, 2, 3, 5, 7, 8, 9, 12, 16, 17, 24, 31, 40]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    threads = draw(st.sampled_from([1, 2, 4]))
    items = draw(st.sampled_from([1, 2, 3]))
    tiles_per_chunk = draw(st.sampled_from([1, 2]))
    p = draw(st.sampled_from([0.0, 0.2, 0.6]))

    def flags(prob: float) -> np.ndarray | None:
        return rng.random((B, T)) < prob if draw(st.booleans()) else None

    r = rng.normal(size=(B, T)).astype(dtype)
    if draw(st.booleans()) and T:  # NaN rewards: must not cross an episode end
        r[rng.random((B, T)) < 0.1] = np.nan
    return dict(
        B=B, T=T, dtype=dtype, rng=rng, r=r, threads=threads, items=items,
        chunk_len=tiles_per_chunk * threads * items, term=flags(p), trunc=flags(p),
        mask=flags(0.7), values_extra=draw(st.booleans()), use_nv=draw(st.booleans()),
        use_boot=draw(st.booleans()), gamma=draw(st.sampled_from([0.0, 0.5, 0.99, 1.0])),
        lam=draw(st.sampled_from([0.0, 0.9, 1.0])),
    )


def _close(got: np.ndarray, want: np.ndarray, bound: np.ndarray, dtype: Any, T: int) -> None:
    tol = emu.scan_tolerance(dtype, T, bound)
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN positions differ"
    ok = np.isnan(want) | (np.abs(got.astype(np.float64) - want) <= tol)
    assert ok.all(), np.max(np.abs(got - want))


@given(scan_case())
def test_emulated_chunked_returns_equal_reference(c: dict) -> None:
    B, T, dtype, rng = c["B"], c["T"], c["dtype"], c["rng"]
    nv = rng.normal(size=(B, T)).astype(dtype) if (c["use_nv"] or c["trunc"] is not None) else None
    boot = rng.normal(size=B).astype(dtype) if (c["use_boot"] and nv is None) else None
    kw = dict(terminated=c["term"], truncated=c["trunc"] if nv is not None else None,
              next_values=nv, bootstrap=boot, response_mask=c["mask"])
    want = reference.discounted_returns(c["r"].astype(np.float64), c["gamma"], **{
        k: (v.astype(np.float64) if v is not None and v.dtype == dtype else v)
        for k, v in kw.items()})
    op = emu.Returns(c["r"], c["gamma"], c["term"], kw["truncated"], nv, boot, c["mask"])
    emu.run(op, threads=c["threads"], items=c["items"], chunk_len=c["chunk_len"])
    bound = emu.magnitude_bound(c["r"], nv, boot, discount=c["gamma"], T=T)
    _close(op.out, want, bound, dtype, T)


@given(scan_case())
def test_emulated_chunked_gae_equals_reference(c: dict) -> None:
    B, T, dtype, rng = c["B"], c["T"], c["dtype"], c["rng"]
    v = rng.normal(size=(B, T + int(c["values_extra"]))).astype(dtype)
    nv = None
    if not c["values_extra"] and (c["use_nv"] or c["trunc"] is not None):
        nv = rng.normal(size=(B, T)).astype(dtype)
    boot = (rng.normal(size=B).astype(dtype)
            if c["use_boot"] and nv is None and not c["values_extra"] else None)
    trunc = c["trunc"] if nv is not None else None
    f64 = {k: (x.astype(np.float64) if x is not None else None)
           for k, x in dict(nv=nv, boot=boot).items()}
    A, G = reference.gae(
        c["r"].astype(np.float64), v.astype(np.float64), c["gamma"], c["lam"],
        terminated=c["term"], truncated=trunc, next_values=f64["nv"], bootstrap=f64["boot"],
        response_mask=c["mask"])
    op = emu.Gae(c["r"], v, c["gamma"], c["lam"], c["term"], trunc, nv, boot, c["mask"])
    emu.run(op, threads=c["threads"], items=c["items"], chunk_len=c["chunk_len"])
    bound = emu.magnitude_bound(c["r"], v, v, nv, boot, discount=c["gamma"] * c["lam"], T=T)
    _close(op.adv, A, bound, dtype, T)
    _close(op.ret, G, bound, dtype, T)


@given(scan_case())
def test_emulated_chunked_min_form_is_exact(c: dict) -> None:
    want = reference.min_form_returns(c["r"], terminated=c["term"], response_mask=c["mask"])
    op = emu.MinForm(c["r"], c["term"], c["mask"])
    emu.run(op, threads=c["threads"], items=c["items"], chunk_len=c["chunk_len"])
    np.testing.assert_array_equal(op.out, want)  # (min, +) is exact under any grouping


@pytest.mark.parametrize("edge", [0, 1, 2])
def test_emulated_resets_and_masks_at_chunk_edges(edge: int) -> None:
    # threads=2, items=2 -> tile 4, chunk 8: ends exactly at and next to tile/chunk edges,
    # a NaN just after an end, a fully masked chunk.
    T = 24
    r = np.arange(T, dtype=np.float64)[None] * 0.5 - 3
    term = np.zeros((1, T), bool)
    term[0, [7 + edge, 15, 16 - edge, 3]] = True
    r[0, 8 + edge] = np.nan
    mask = np.ones((1, T), bool)
    mask[0, 16:24] = False
    v = np.linspace(-1, 1, T + 1)[None]
    ref = reference.discounted_returns(r, 0.9, terminated=term, response_mask=mask)
    op = emu.Returns(r, 0.9, term, None, None, None, mask)
    emu.run(op, threads=2, items=2, chunk_len=8)
    np.testing.assert_allclose(op.out, ref, rtol=1e-12, atol=1e-12)
    A, _ = reference.gae(r, v, 0.9, 0.8, terminated=term, response_mask=mask)
    op = emu.Gae(r, v, 0.9, 0.8, term, None, None, None, mask)
    emu.run(op, threads=2, items=2, chunk_len=8)
    np.testing.assert_allclose(op.adv, A, rtol=1e-12, atol=1e-12)
    assert np.isnan(op.adv[0, : 8 + edge + 1]).any() and not np.isnan(op.adv[0, 16:]).any()


def test_emulated_plan_matches_the_rule() -> None:
    # H100 (132 SMs): the benchmark shapes, and the sequential cases.
    assert emu.plan(256, 4096, False, sms=132) == ("chunked", 4, 1024)
    assert emu.plan(1024, 1024, False, sms=132) == ("chunked", 1, 1024)
    assert emu.plan(64, 32768, False, sms=132) == ("chunked", 16, 2048)
    assert emu.plan(1 << 16, 64, False, sms=132)[0] == "sequential"
    assert emu.plan(4096, 1000, True, sms=132)[0] == "sequential"
    assert emu.plan(64, 1000, True, sms=132)[0] == "chunked"


def test_tolerance_holds_for_the_cpu_float32_kernel_at_long_t() -> None:
    # The tolerance the GPU tests use, checked on the CPU float32 kernel at T = 32768
    # against float64 (a sequential sum; the GPU's reassociated sums must fit it too).
    rng = np.random.default_rng(0)
    r = rng.normal(size=(2, 32768)).astype(np.float32)
    v = rng.normal(size=(2, 32769)).astype(np.float32)
    for gamma, lam in [(1.0, 1.0), (0.99, 0.95)]:
        A32, _ = creditlab.gae(r, v, gamma, lam)
        A64, _ = creditlab.gae(r.astype(np.float64), v.astype(np.float64), gamma, lam)
        bound = emu.magnitude_bound(r, v, v, discount=gamma * lam, T=32768)
        _close(A32, A64, bound, np.float32, 32768)


# --------------------------------------------------------------------------------------
# Build and entry points

C = _backend._C
needs_cuda_build = pytest.mark.skipif(
    C is None or not getattr(C, "built_with_cuda", False), reason="built without CUDA"
)
SCAN_ENTRY_POINTS = [
    f"cuda_{k}_{d}" for k in ("discounted_returns", "gae", "min_form_returns")
    for d in ("f32", "f64")
] + ["cuda_scan_plan", "cuda_scan_strategy", "cuda_set_scan_strategy"]


def test_backend_info_matches_the_module() -> None:
    info = creditlab.backend_info()
    assert info["built_with_cuda"] == bool(getattr(C, "built_with_cuda", False))
    assert info["cuda_devices"] == (C.cuda_device_count() if C is not None else 0)


@needs_cuda_build
def test_cuda_entry_points_exist() -> None:
    missing = [n for n in SCAN_ENTRY_POINTS if not hasattr(C, n)]
    assert not missing


@needs_cuda_build
def test_short_rows_plan_without_a_device() -> None:
    assert C.cuda_scan_plan(0, False, 8, 64, False) == ("sequential", 1, 0, 0)
    assert C.cuda_scan_plan(1, True, 4096, 100, True) == ("sequential", 1, 0, 0)


@needs_cuda_build
def test_scan_strategy_setting_and_forced_plans() -> None:
    """The process setting (default: $CREDITLAB_CUDA_SCAN or auto) and the plan's explicit
    override; lookback and sequential plans need no SM count, so they work without a GPU."""
    before = C.cuda_set_scan_strategy("lookback")
    try:
        assert C.cuda_scan_strategy() == "lookback"
        # ticket counter (16 B) + 3 * 4 int flags (48 B, a multiple of 16) + 2 maps per
        # chunk of 12 B each (returns, float32: a, b, kind)
        assert C.cuda_scan_plan(0, False, 3, 4000, False) == ("lookback", 4, 1024,
                                                             16 + 48 + 2 * 12 * 12)
        assert C.cuda_scan_plan(0, False, 3, 10, False)[:3] == ("lookback", 1, 1024)
        assert C.cuda_scan_plan(0, False, 3, 4000, False, "sequential") == ("sequential", 1,
                                                                            0, 0)
        assert C.cuda_scan_plan(0, False, 3, 64, False, "auto") == ("sequential", 1, 0, 0)
        assert C.cuda_set_scan_strategy("sequential") == "lookback"
        assert C.cuda_scan_plan(1, True, 64, 32768, False) == ("sequential", 1, 0, 0)
        with pytest.raises(ValueError, match="one of auto, sequential, twopass, lookback"):
            C.cuda_set_scan_strategy("fast")
        with pytest.raises(ValueError, match="got 'chunked'"):
            C.cuda_scan_plan(0, False, 3, 4000, False, "chunked")
        assert C.cuda_scan_strategy() == "sequential"
    finally:
        C.cuda_set_scan_strategy(before)


@needs_cuda_build
@pytest.mark.parametrize("value,expect", [("lookback", "lookback lookback"), ("", "auto sequential"),
                                          ("bogus", "CREDITLAB_CUDA_SCAN must be one of")])
def test_scan_strategy_environment_variable(value: str, expect: str) -> None:
    """$CREDITLAB_CUDA_SCAN is read once, in a fresh process; a bad value is a clear error
    at the first plan (not a silent fallback)."""
    code = ("import creditlab\nC = creditlab._backend._C\ntry:\n"
            "    print(C.cuda_scan_strategy(), C.cuda_scan_plan(0, False, 2, 64, False)[0])\n"
            "except ValueError as e:\n    print(e)")
    env = {**os.environ, "CREDITLAB_CUDA_SCAN": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith(expect), out


@needs_cuda_build
@pytest.mark.skipif(C is not None and C.cuda_device_count() > 0, reason="a GPU is visible")
def test_cuda_entry_point_without_device_raises() -> None:
    with pytest.raises(RuntimeError, match="creditlab CUDA error in discounted_returns"):
        C.cuda_discounted_returns_f32(8, 0, 0, 0, 0, 0, 0.9, 16, 1, 1, False, 0, 0, 0)
    with pytest.raises(RuntimeError, match="creditlab CUDA error"):
        C.cuda_scan_plan(1, False, 64, 32768, False)  # needs the SM count
    r = torch.zeros(4, 8)
    with pytest.raises(RuntimeError, match="CUDA"):  # a valid call shape, no device
        C.cuda_gae_f32(r.data_ptr(), r.data_ptr(), 8, 0, 0, 0, 0, 0, 0.9, 0.9, 0,
                       r.data_ptr(), 4, 8, False, 0, 0, 0)


# --------------------------------------------------------------------------------------
# Dispatch with fake CUDA tensors

CUDA0 = torch.device("cuda", 0)


class FakeCuda:
    """A CPU tensor that reports device cuda:N: enough of torch.Tensor for the wrappers."""

    __module__ = "torch.fake"

    def __init__(self, t: Any, device: Any = CUDA0) -> None:
        self.t, self.device = t, device
        _REGISTRY[t.data_ptr()] = t

    dtype = property(lambda self: self.t.dtype)
    shape = property(lambda self: self.t.shape)
    ndim = property(lambda self: self.t.ndim)

    def detach(self) -> FakeCuda:
        return self

    def is_conj(self) -> bool:
        return False

    def is_neg(self) -> bool:
        return False

    def is_contiguous(self) -> bool:
        return self.t.is_contiguous()

    def contiguous(self) -> FakeCuda:
        return self if self.t.is_contiguous() else FakeCuda(self.t.contiguous(), self.device)

    def to(self, dtype: Any) -> FakeCuda:
        return self if dtype == self.t.dtype else FakeCuda(self.t.to(dtype), self.device)

    def reshape(self, *shape: Any) -> FakeCuda:
        return FakeCuda(self.t.reshape(*shape), self.device)

    def data_ptr(self) -> int:
        return self.t.data_ptr()

    def numel(self) -> int:
        return self.t.numel()

    def sum(self) -> Any:
        return self.t.sum()

    def __len__(self) -> int:
        return len(self.t)


_REGISTRY: dict[int, Any] = {}
# Positions of the pointer arguments of each cuda_* entry point (csrc/bindings.cpp).
PTR_ARGS = {
    "discounted_returns": {0, 1, 2, 3, 4, 5, 7},
    "gae": {0, 1, 3, 4, 5, 6, 7, 10, 11},
    "min_form_returns": {0, 1, 2, 3},
}


class FakeModule:
    """Records each cuda_* call and runs the CPU kernel on the arrays behind the pointers."""

    built_with_cuda = True

    def __init__(self, plan: tuple = ("chunked", 2, 1024, 96)) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.plan = plan

    def cuda_device_count(self) -> int:
        return 1

    def cuda_scan_plan(self, *args: Any) -> tuple:
        return self.plan

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("cuda_"):
            return getattr(C, name)  # the CPU kernels stay the real ones

        def call(*args: Any) -> None:
            self.calls.append((name, args))
            *kernel_args, ws, ws_bytes, _stream = args
            assert (ws != 0) == (ws_bytes > 0) and ws_bytes == self.plan[3]
            if ws:
                assert _REGISTRY[ws].numel() == ws_bytes
            kernel = getattr(C, name.removeprefix("cuda_"))
            ptr_args = PTR_ARGS[name.removeprefix("cuda_")[:-4]]

            def arr(p: int) -> Any:
                if p == 0:
                    return None
                a = _REGISTRY[p].numpy()
                return a.view(np.uint8) if a.dtype == np.bool_ else a

            conv = [arr(a) if i in ptr_args else a for i, a in enumerate(kernel_args)]
            kernel(*conv)

        return call


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> FakeModule:
    fake = FakeModule()
    monkeypatch.setattr(_backend, "_C", fake)
    monkeypatch.setattr(_cuda, "on_device", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(_cuda, "stream", lambda device: 1234)
    monkeypatch.setattr(
        _cuda, "empty",
        lambda shape, dtype, device: FakeCuda(
            torch.empty(shape, dtype=_cuda.torch_dtype(dtype)), device),
    )
    return fake


def _cases(rng: np.random.Generator, time_major: bool) -> dict:
    B, T = 3, 7
    shape = (T, B) if time_major else (B, T)
    r = torch.from_numpy(rng.normal(size=shape).astype(np.float32))
    return dict(
        r=r, v=torch.from_numpy(rng.normal(size=shape).astype(np.float32)),
        term=torch.from_numpy(rng.random(shape) < 0.2),
        trunc=torch.from_numpy(rng.random(shape) < 0.2),
        nv=torch.from_numpy(rng.normal(size=shape).astype(np.float64)),
        mask=torch.from_numpy(rng.random(shape) < 0.8),
        boot=torch.from_numpy(rng.normal(size=B).astype(np.float32)),
    )


@pytest.mark.parametrize("time_major", [False, True])
def test_dispatch_passes_the_right_buffers(fake_cuda: FakeModule, time_major: bool) -> None:
    rng = np.random.default_rng(1)
    c = _cases(rng, time_major)
    td = 0 if time_major else -1
    # non-contiguous rewards (a transposed copy): made contiguous, never mutated
    r_nc = c["r"].T.contiguous().T
    assert not r_nc.is_contiguous()
    before = {k: x.clone() for k, x in c.items()}
    got = creditlab.discounted_returns(
        FakeCuda(r_nc), 0.9, terminated=FakeCuda(c["term"]), truncated=FakeCuda(c["trunc"]),
        next_values=FakeCuda(c["nv"]), response_mask=FakeCuda(c["mask"]), time_dim=td)
    want = creditlab.discounted_returns(
        c["r"], 0.9, terminated=c["term"], truncated=c["trunc"], next_values=c["nv"],
        response_mask=c["mask"], time_dim=td)
    assert isinstance(got, FakeCuda) and got.dtype == torch.float64  # promoted by nv
    torch.testing.assert_close(got.t, want, rtol=0, atol=0)
    name, args = fake_cuda.calls[-1]
    assert name == "cuda_discounted_returns_f64" and args[-1] == 1234
    assert args[8:11] == (3, 7, time_major)

    A, G = creditlab.gae(FakeCuda(c["r"]), FakeCuda(c["v"]), 0.9, 0.8,
                         bootstrap=FakeCuda(c["boot"]), terminated=FakeCuda(c["term"]),
                         response_mask=FakeCuda(c["mask"]), time_dim=td)
    A0, G0 = creditlab.gae(c["r"], c["v"], 0.9, 0.8, bootstrap=c["boot"],
                           terminated=c["term"], response_mask=c["mask"], time_dim=td)
    torch.testing.assert_close(A.t, A0, rtol=0, atol=0)
    torch.testing.assert_close(G.t, G0, rtol=0, atol=0)
    lr = creditlab.lambda_returns(FakeCuda(c["r"]), FakeCuda(c["v"]), 0.9, 0.8, time_dim=td)
    assert fake_cuda.calls[-1][1][10] == 0  # no advantages buffer
    torch.testing.assert_close(lr.t, creditlab.lambda_returns(c["r"], c["v"], 0.9, 0.8,
                                                              time_dim=td), rtol=0, atol=0)
    out = FakeCuda(torch.full(c["r"].shape, 7.0))
    m = creditlab.min_form_returns(FakeCuda(c["r"]), terminated=FakeCuda(c["term"]),
                                   time_dim=td, out=out)
    assert m is out
    torch.testing.assert_close(out.t, creditlab.min_form_returns(
        c["r"], terminated=c["term"], time_dim=td), rtol=0, atol=0)
    for k, x in c.items():
        assert torch.equal(x, before[k]), f"{k} was modified"
    assert torch.equal(r_nc, before["r"])


def test_dispatch_one_dimensional_and_gae_out(fake_cuda: FakeModule) -> None:
    r = torch.linspace(-1, 1, 9)
    v = torch.linspace(0, 1, 10)
    outs = (FakeCuda(torch.empty(9)), FakeCuda(torch.empty(9)))
    A, G = creditlab.gae(FakeCuda(r), FakeCuda(v), 0.9, 0.7, out=outs)
    assert A is outs[0] and G is outs[1]
    A0, G0 = creditlab.gae(r, v, 0.9, 0.7)
    torch.testing.assert_close(A.t, A0, rtol=0, atol=0)
    torch.testing.assert_close(G.t, G0, rtol=0, atol=0)


def _errors(fn: Any) -> tuple[type, str]:
    try:
        fn()
    except (TypeError, ValueError, RuntimeError) as err:
        return type(err), str(err)
    raise AssertionError("no error raised")


BAD_CALLS = {
    "int rewards": lambda w: creditlab.discounted_returns(w(torch.arange(6).reshape(2, 3)), 0.9),
    "3-D rewards": lambda w: creditlab.discounted_returns(w(torch.zeros(2, 3, 4)), 0.9),
    "mask dtype": lambda w: creditlab.discounted_returns(
        w(torch.zeros(2, 3)), 0.9, response_mask=w(torch.ones(2, 3))),
    "mask shape": lambda w: creditlab.discounted_returns(
        w(torch.zeros(2, 3)), 0.9, response_mask=w(torch.ones(3, 2, dtype=torch.bool))),
    "values shape": lambda w: creditlab.gae(w(torch.zeros(2, 3)), w(torch.zeros(2, 5)), 0.9, 1),
    "bootstrap shape": lambda w: creditlab.gae(
        w(torch.zeros(2, 3)), w(torch.zeros(2, 3)), 0.9, 1, bootstrap=w(torch.zeros(3))),
    "truncated without nv": lambda w: creditlab.discounted_returns(
        w(torch.zeros(2, 3)), 0.9, truncated=w(torch.zeros(2, 3, dtype=torch.bool))),
    "gamma": lambda w: creditlab.gae(w(torch.zeros(2, 3)), w(torch.zeros(2, 3)), 1.5, 1),
    "time_dim": lambda w: creditlab.min_form_returns(w(torch.zeros(2, 3)), time_dim=2),
    "half": lambda w: creditlab.min_form_returns(w(torch.zeros(2, 3, dtype=torch.float16))),
    "out dtype": lambda w: creditlab.discounted_returns(
        w(torch.zeros(2, 3)), 0.9, out=w(torch.zeros(2, 3, dtype=torch.float64))),
    "out shape": lambda w: creditlab.discounted_returns(
        w(torch.zeros(2, 3)), 0.9, out=w(torch.zeros(3, 2))),
    "out strides": lambda w: creditlab.discounted_returns(
        w(torch.zeros(2, 3)), 0.9, out=w(torch.zeros(3, 2).T)),
    "out kind": lambda w: creditlab.discounted_returns(
        w(torch.zeros(2, 3)), 0.9, out=np.zeros((2, 3), np.float32)),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_cuda_errors_equal_cpu_errors(fake_cuda: FakeModule, case: str) -> None:
    cpu = _errors(lambda: BAD_CALLS[case](lambda t: t))
    cuda = _errors(lambda: BAD_CALLS[case](FakeCuda))
    assert cuda == cpu
    assert not fake_cuda.calls


def test_mixed_devices_are_refused(fake_cuda: FakeModule) -> None:
    r = FakeCuda(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="response_mask is a ndarray but rewards is on CUDA"):
        creditlab.discounted_returns(r, 0.9, response_mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="values is a torch tensor on cpu"):
        creditlab.gae(r, torch.zeros(2, 3), 0.9, 0.9)
    with pytest.raises(ValueError, match="values is on cuda:1 but rewards is on cuda:0"):
        creditlab.gae(r, FakeCuda(torch.zeros(2, 3), torch.device("cuda", 1)), 0.9, 0.9)
    with pytest.raises(ValueError, match="out is a torch tensor on cpu but rewards"):
        creditlab.discounted_returns(r, 0.9, out=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="softmin_transform has no CUDA kernel"):
        creditlab.softmin_transform(r)
    assert not fake_cuda.calls


def test_clear_errors_without_a_cuda_build(monkeypatch: pytest.MonkeyPatch) -> None:
    r = FakeCuda(torch.zeros(2, 3))
    monkeypatch.setattr(_backend, "_C", SimpleNamespace(built_with_cuda=False))
    with pytest.raises(RuntimeError, match="rewards is a CUDA tensor .* built without CUDA"):
        creditlab.discounted_returns(r, 0.9)
    monkeypatch.undo()
    with creditlab.use_backend("python"):
        with pytest.raises(RuntimeError, match="compiled backend is not active"):
            creditlab.gae(r, FakeCuda(torch.zeros(2, 3)), 0.9, 0.9)
    if C is not None and C.built_with_cuda and C.cuda_device_count() == 0:
        with pytest.raises(RuntimeError, match="sees no CUDA device"):
            creditlab.min_form_returns(r)


def test_cpu_path_untouched_by_dispatch() -> None:
    # The CPU wrapper never consults the CUDA plumbing for CPU data.
    assert returns_mod._cuda.cuda_device({"a": np.zeros(3), "b": torch.zeros(2)}) is None


# --------------------------------------------------------------------------------------
# Group helpers


class FakeGroups(FakeModule):
    """cuda_group_advantages / cuda_masked_whiten run through the CPU functions."""

    def cuda_group_advantages_f32(self, *args: Any) -> None:
        self.calls.append(("cuda_group_advantages_f32", args))
        s, g, N, G, mode, eps, out, ws, stream = args
        scores, group = _REGISTRY[s].numpy(), _REGISTRY[g].numpy()
        assert group.dtype == np.int64 and group.max() == G - 1 and N == len(scores)
        assert _REGISTRY[ws].numel() == 3 * G and stream == 1234
        fn = {0: lambda a, i: creditlab.grpo(a, i, eps=eps), 1: creditlab.dr_grpo,
              2: creditlab.rloo}[mode]
        _REGISTRY[out].numpy()[...] = fn(scores, group)

    def cuda_masked_whiten_f32(self, *args: Any) -> None:
        self.calls.append(("cuda_masked_whiten_f32", args))
        x, m, n, unbiased, eps, shift, out, ws, stream = args
        xa, ma = _REGISTRY[x].numpy(), _REGISTRY[m].numpy()
        assert ma.dtype == np.bool_ and n == xa.size and _REGISTRY[ws].numel() == 3
        _REGISTRY[out].numpy()[...] = creditlab.masked_whiten(
            xa, ma, unbiased=unbiased, eps=eps, shift_mean=shift)


@pytest.fixture
def fake_groups(fake_cuda: FakeModule, monkeypatch: pytest.MonkeyPatch) -> FakeGroups:
    fake = FakeGroups()
    monkeypatch.setattr(_backend, "_C", fake)
    monkeypatch.setattr(_cuda, "to_device", lambda a, device: FakeCuda(torch.from_numpy(a)))
    return fake


def test_group_helpers_dispatch(fake_groups: FakeGroups) -> None:
    rng = np.random.default_rng(3)
    s = torch.from_numpy(rng.normal(size=12).astype(np.float32))
    index = ["a", "b", "a", "c", "b", "a", "d", "b", "c", "a", "b", "e"]
    for fn, kw in ((creditlab.grpo, {"eps": 1e-3}), (creditlab.dr_grpo, {}),
                   (creditlab.rloo, {})):
        got = fn(FakeCuda(s), index, **kw)
        assert isinstance(got, FakeCuda)
        torch.testing.assert_close(got.t, fn(s, index, **kw), rtol=0, atol=0)
    modes = [args[4] for _, args in fake_groups.calls]
    assert modes == [0, 1, 2]
    x = torch.from_numpy(rng.normal(size=(4, 5)).astype(np.float32))
    m = torch.from_numpy(rng.random((4, 5)) < 0.6)
    got = creditlab.masked_whiten(FakeCuda(x), FakeCuda(m), unbiased=False, shift_mean=False)
    torch.testing.assert_close(
        got.t, creditlab.masked_whiten(x, m, unbiased=False, shift_mean=False), rtol=0, atol=0)


GROUP_BAD_CALLS = {
    "scores 2-D": lambda w: creditlab.grpo(w(torch.zeros(2, 3)), [0, 1]),
    "scores int": lambda w: creditlab.rloo(w(torch.arange(3)), [0, 1, 1]),
    "index length": lambda w: creditlab.grpo(w(torch.zeros(3)), [0, 1]),
    "whiten shape": lambda w: creditlab.masked_whiten(
        w(torch.zeros(2, 3)), w(torch.ones(3, 2, dtype=torch.bool))),
    "whiten mask dtype": lambda w: creditlab.masked_whiten(
        w(torch.zeros(2, 3)), w(torch.ones(2, 3))),
    "whiten empty": lambda w: creditlab.masked_whiten(
        w(torch.zeros(2, 3)), w(torch.zeros(2, 3, dtype=torch.bool))),
    "whiten one": lambda w: creditlab.masked_whiten(
        w(torch.zeros(2)), w(torch.tensor([True, False]))),
}


@pytest.mark.parametrize("case", sorted(GROUP_BAD_CALLS))
def test_group_errors_equal_cpu_errors(fake_groups: FakeGroups, case: str) -> None:
    cpu = _errors(lambda: GROUP_BAD_CALLS[case](lambda t: t))
    cuda = _errors(lambda: GROUP_BAD_CALLS[case](FakeCuda))
    assert cuda == cpu
    assert not fake_groups.calls


def test_group_helpers_mixed_devices(fake_groups: FakeGroups) -> None:
    with pytest.raises(ValueError, match="mask is a ndarray but x is on CUDA"):
        creditlab.masked_whiten(FakeCuda(torch.zeros(3)), np.ones(3, bool))
