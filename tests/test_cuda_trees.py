"""CUDA tree kernels (csrc/cuda/trees.cu): backup_path, reduce_up, prefix_tree_advantages.

Three layers:
- the warp algorithm, emulated in numpy (tests/_tree_warp_emulation.py), against the
  plain-Python references and the C++ CPU kernels (runs everywhere);
- the dispatch in creditlab/_trees_cuda.py, driven end to end with torch CPU tensors standing
  in for CUDA ones and a fake ``_C`` whose ``cuda_tree_*`` entry points run the emulation on
  the memory behind the pointers they get (runs everywhere);
- the real kernels against the CPU kernels: tests/test_cuda_trees_device.py (on a GPU, or
  on the CPU CUDA emulator).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import _tree_warp_emulation as emu  # noqa: E402

from creditlab import _backend, _cuda  # noqa: E402
from creditlab import tree_reference as ref  # noqa: E402
from creditlab import trees as T  # noqa: E402

OPS = {"mean": 0, "sum": 1, "max": 2, "min": 3, "lse": 4}
SLOTS = (0.0, 0.2, 0.5)  # shares of unused slots drawn for the prefix-advantage trees
def _tol(dt, scale=1.0):
    t = 2e-4 if dt == np.float32 else 1e-9
    return dict(rtol=t, atol=t * max(1.0, float(scale)))


def random_parents(rng, B, N, kind="random", unused=0.1):
    parent = np.full((B, N), -1, np.int32)
    for b in range(B):
        for i in range(1, N):
            if kind == "chain":
                parent[b, i] = i - 1
            elif kind == "star":
                parent[b, i] = 0
            elif kind == "near":  # deep, narrow trees (the benchmark's shape)
                parent[b, i] = rng.integers(max(0, i - 4), i)
            elif rng.random() >= unused:
                parent[b, i] = rng.integers(0, i)
    return parent


@st.composite
def trees(draw, max_b=3, max_n=80, unused=0.1):
    """[B, N] trees; ``unused``: the share of unused slots (parent -1) "random" trees leave.
    A tuple instead (slot mode): draw a share from it and cut that share of the edges of
    every kind of tree, so that unused slots, and nodes stored under them, are common."""
    slots = 0.0
    if isinstance(unused, tuple):
        slots, unused = draw(st.sampled_from(unused)), 0.0
    B = draw(st.integers(1, max_b))
    N = draw(st.integers(1, max_n))
    kind = draw(st.sampled_from(["random", "chain", "star", "near"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    dt = draw(st.sampled_from([np.float32, np.float64]))
    parent = random_parents(rng, B, N, kind, unused)
    cut = rng.random(parent.shape) < slots
    cut[:, 0] = False
    parent[cut] = -1
    return parent, rng, dt


def reduce_inputs(rng, parent, dt, weighted, self_terms, nan=False):
    B, N = parent.shape
    lv = rng.normal(size=(B, N)).astype(dt)
    if nan and lv.size:
        lv.reshape(-1)[rng.integers(0, lv.size)] = np.nan
    r = rng.normal(size=(B, N)).astype(dt)
    g = rng.random((B, N)).astype(dt)
    w = (rng.integers(0, 4, (B, N)).astype(dt) * rng.random((B, N)).astype(dt)
         if weighted else None)
    vs = rng.normal(size=(B, N)).astype(dt) if self_terms else None
    ws = rng.random((B, N)).astype(dt) if self_terms else None
    return lv, r, g, w, vs, ws


def backup_inputs(rng, parent, dt):
    """r, g, V, visits, leaf, leaf_value for backup_path on the [B, N] trees ``parent``."""
    B, N = parent.shape
    r, g = rng.normal(size=(B, N)).astype(dt), rng.random((B, N)).astype(dt)
    V, n = rng.normal(size=(B, N)).astype(dt), rng.integers(0, 5, (B, N)).astype(np.int32)
    leaf, vl = rng.integers(0, N, B), rng.normal(size=B).astype(dt)
    return r, g, V, n, leaf, vl


# ----------------------------------------------------------------------------------------
# 1. the warp decomposition, emulated


@settings(max_examples=60, deadline=None)
@given(trees(), st.sampled_from(list(OPS)), st.booleans(), st.booleans())
def test_emulated_reduce_up_matches_reference_and_cpu_kernel(tree, op, weighted, self_terms):
    parent, rng, dt = tree
    lv, r, g, w, vs, ws = reduce_inputs(rng, parent, dt, weighted, self_terms)
    T_ = 0.7
    cpu = T.reduce_up(parent, lv, r, g, w, op, vs, ws, T_)
    for b in range(parent.shape[0]):
        sl = [None if x is None else x[b] for x in (w, vs, ws)]
        got = emu.reduce_up_tree(parent[b], lv[b], r[b], g[b], *sl, T_, OPS[op], dt)
        want = ref.reduce_up(parent[b], lv[b], r[b], g[b], sl[0], op, sl[1], sl[2], T_)
        np.testing.assert_allclose(got, want, **_tol(dt, np.nanmax(np.abs(want), initial=1)))
        np.testing.assert_allclose(got, cpu[b], **_tol(dt, np.nanmax(np.abs(want), initial=1)))
        assert got.dtype == dt


@settings(max_examples=60, deadline=None)
@given(trees(unused=SLOTS), st.sampled_from(["treerl", "treerl_code", "fork"]), st.booleans(),
       st.booleans(), st.booleans())
def test_emulated_prefix_advantages_match_cpu(tree, mode, loo, sqrt_scale, masked):
    parent, rng, _ = tree
    B, N = parent.shape
    x = rng.normal(size=(B, N))
    il = rng.random((B, N)) < 0.4 if masked else None
    cpu = T.prefix_tree_advantages(parent, x, mode, loo, sqrt_scale, il)
    code = {"treerl": 0, "treerl_code": 1, "fork": 2}[mode]
    for b in range(B):
        got = emu.prefix_advantages_tree(parent[b], x[b], None if il is None else il[b], code,
                                         loo, sqrt_scale, 1e-6)
        np.testing.assert_allclose(got, cpu[b], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind,N", [("chain", 200), ("star", 150), ("near", 300),
                                    ("random", 1), ("random", 33)])
def test_emulated_structure_on_chunk_boundaries(kind, N):
    rng = np.random.default_rng(N)
    parent = random_parents(rng, 1, N, kind)[0]
    s = emu.structure(parent)  # asserts permutation, child lists, pointer-jumping closure
    depth = ref.scan_down(parent, np.ones(N))
    np.testing.assert_array_equal(s["depth"], depth)
    assert s["maxd"] == (N - 1 if kind == "chain" else depth.max())


def test_emulated_nan_propagates_like_cpu():
    rng = np.random.default_rng(3)
    parent = random_parents(rng, 2, 70)
    for op in OPS:
        lv, r, g, w, vs, ws = reduce_inputs(rng, parent, np.float64, True, op == "mean", nan=True)
        cpu = T.reduce_up(parent, lv, r, g, w, op, vs, ws)
        for b in range(2):
            sl = [None if x is None else x[b] for x in (w, vs, ws)]
            got = emu.reduce_up_tree(parent[b], lv[b], r[b], g[b], *sl, 1.0, OPS[op],
                                     np.float64)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(cpu[b]))
            np.testing.assert_allclose(got, cpu[b], rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------------------
# 2. the dispatch, with CPU tensors standing in for CUDA ones


class FakeCuda:
    def __init__(self, monkeypatch, module=None):
        self.keep: list = []
        self.ids: set[int] = set()
        self.C = emu.FakeCudaModule() if module is None else module
        self.devices: list = []
        monkeypatch.setattr(_cuda, "is_cuda",
                            lambda x: _backend.is_torch(x) and id(x) in self.ids)
        monkeypatch.setattr(_backend, "compiled", lambda: self.C)
        monkeypatch.setattr(_cuda, "stream", lambda device: 0xABC)

        @contextlib.contextmanager
        def on_device(device):
            self.devices.append(device)
            yield

        monkeypatch.setattr(_cuda, "on_device", on_device)

    def __call__(self, x):
        if x is None:
            return None
        t = torch.as_tensor(np.asarray(x))
        self.keep.append(t)
        self.ids.add(id(t))
        return t


@pytest.fixture
def fake(monkeypatch):
    return FakeCuda(monkeypatch)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_dispatch_reduce_up(fake, dt):
    rng = np.random.default_rng(0)
    parent = random_parents(rng, 3, 50)
    lv, r, g, w, vs, ws = reduce_inputs(rng, parent, dt, True, True)
    args = [fake(a) for a in (parent, lv, r, g, w, vs, ws)]
    copies = [a.clone() for a in args]
    out = T.reduce_up(args[0], args[1], args[2], args[3], args[4], "mean", args[5], args[6])
    assert isinstance(out, torch.Tensor) and out.shape == (3, 50) and out.dtype == args[1].dtype
    np.testing.assert_allclose(out.numpy(), T.reduce_up(parent, lv, r, g, w, "mean", vs, ws),
                               **_tol(dt, 10))
    for a, c in zip(args, copies):
        assert torch.equal(a, c)  # inputs untouched
    (name, call), = fake.C.calls
    assert name == f"cuda_tree_reduce_up_{'f32' if dt == np.float32 else 'f64'}"
    p_parent, p_lv, p_r, p_g, p_w, p_vs, p_ws, temp, op, p_ptr, B, M, p_out, p_iw, strm = call
    assert (p_lv, p_r, p_g, p_w, p_vs, p_ws) == tuple(a.data_ptr() for a in args[1:])
    assert p_out == out.data_ptr() and (B, M, op, temp, strm) == (3, 150, 0, 1.0, 0xABC)
    assert p_parent and p_ptr and p_iw and fake.devices == [torch.device("cpu")]


def test_dispatch_reduce_up_optional_absent_noncontiguous_and_scalars(fake):
    rng = np.random.default_rng(1)
    parent = random_parents(rng, 4, 40)
    lv = rng.normal(size=(40, 4)).astype(np.float32)  # transposed below: non-contiguous
    lvt = fake(lv).T
    fake.ids.add(id(lvt))
    fake.keep.append(lvt)
    out = T.reduce_up(fake(parent), lvt, g=0.5, op="max")
    want = T.reduce_up(parent, np.ascontiguousarray(lv.T), g=0.5, op="max")
    assert out.dtype == torch.float64 and want.dtype == np.float64  # python float promotes
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    call = fake.C.calls[0][1]
    assert call[2] == 0 and call[4:7] == (0, 0, 0)  # r, w, self terms absent -> nullptr
    assert call[1] != lvt.data_ptr()  # made contiguous, a copy


def test_dispatch_backup_path_and_forest(fake):
    rng = np.random.default_rng(2)
    parent = random_parents(rng, 5, 30)
    r, g, V = rng.normal(size=(5, 30)), rng.random((5, 30)), rng.normal(size=(5, 30))
    n = rng.integers(0, 4, (5, 30))  # int64 visits come back int64
    leaf, vl = rng.integers(0, 30, 5), rng.normal(size=5)
    for op in ("mean", "sum", "max", "min"):
        args = [fake(a) for a in (parent, r, g, V, n, leaf, vl)]
        Vo, No = T.backup_path(*args, op=op)
        Ve, Ne = T.backup_path(parent, r, g, V, n, leaf, vl, op)
        np.testing.assert_allclose(Vo.numpy(), Ve, rtol=1e-12)
        np.testing.assert_array_equal(No.numpy(), Ne)
        assert No.dtype == torch.int64 and torch.equal(args[3], torch.as_tensor(V))
    forest = T.Forest.from_parents([np.array([-1, 0, 0, 1]), np.array([-1]), np.array([-1, 0])])
    lv = rng.normal(size=7)
    out = T.reduce_up(forest, fake(lv), op="sum")
    np.testing.assert_allclose(out.numpy(), T.reduce_up(forest, lv, op="sum"))


@pytest.mark.parametrize("mode", ["treerl", "treerl_code", "fork"])
def test_dispatch_prefix_tree_advantages(fake, mode):
    rng = np.random.default_rng(4)
    for unused in (0.0, 0.3):  # with unused slots (and nodes under them): 0 there
        parent = random_parents(rng, 3, 60, unused=unused)
        conn = np.array([ref.connected(p) for p in parent])
        assert unused == 0 or (~conn).sum() > 3 * 60 * unused
        x = rng.normal(size=(3, 60)).astype(np.float32)
        il = rng.random((3, 60)) < 0.5
        for mask in (None, il):
            out = T.prefix_tree_advantages(fake(parent), fake(x), mode, is_leaf=fake(mask))
            want = T.prefix_tree_advantages(parent, x, mode, is_leaf=mask)
            assert out.dtype == torch.float64
            np.testing.assert_allclose(out.numpy(), want, rtol=1e-9, atol=1e-9)
            assert np.all(out.numpy()[~conn] == 0)
        assert fake.C.calls[-1][1][2] != 0  # is_leaf flags passed


def _same_error(cpu_call, cuda_call, exc=(ValueError, TypeError)):
    with pytest.raises(exc) as e_cpu:
        cpu_call()
    with pytest.raises(exc) as e_cuda:
        cuda_call()
    assert type(e_cuda.value) is type(e_cpu.value)
    assert str(e_cuda.value) == str(e_cpu.value)


def test_dispatch_errors_equal_the_cpu_path(fake):
    rng = np.random.default_rng(5)
    parent = random_parents(rng, 2, 10, unused=0)
    bad = parent.copy()
    bad[1, 4] = 4
    noroot = parent.copy()
    noroot[0, 0] = 0
    lv, r, g = rng.normal(size=(2, 10)), rng.normal(size=(2, 10)), rng.random((2, 10))
    V, n, leaf, vl = np.zeros((2, 10)), np.zeros((2, 10), np.int32), np.array([3, 9]), np.ones(2)

    def with_leaves(p, x, m):
        return T.prefix_tree_advantages(p, x, is_leaf=m)

    cases = [
        (T.reduce_up, (bad, lv)), (T.reduce_up, (noroot, lv)),
        (T.reduce_up, (parent, lv, r, g * 2)), (T.reduce_up, (parent, lv, None, None, -lv)),
        (T.reduce_up, (parent, lv[:, :5])), (T.reduce_up, (parent, lv.astype(np.int64))),
        (T.reduce_up, (parent.astype(np.float32), lv)),
        (lambda *a: T.reduce_up(*a, op="median"), (parent, lv)),
        (lambda *a: T.reduce_up(*a, op="lse", temperature=0.0), (parent, lv)),
        (T.backup_path, (parent, r, g, V, n, np.array([3, 10]), vl)),
        (T.backup_path, (parent, r, g, V, n - 1, leaf, vl)),
        (T.backup_path, (parent, r, g + 1, V, n, leaf, vl)),
        (T.backup_path, (parent, r, g, V, n, leaf, np.ones(3))),
        (T.backup_path, (parent, r, g, V, n.astype(np.float64), leaf, vl)),
        (lambda *a: T.prefix_tree_advantages(*a, mode="nope"), (parent, lv)),
        (T.prefix_tree_advantages, (bad, lv)),
        (with_leaves, (parent, lv, (lv > 0)[:, :5])), (with_leaves, (parent, lv, (lv > 0).T)),
    ]
    for fn, args in cases:
        _same_error(lambda fn=fn, args=args: fn(*args),
                    lambda fn=fn, args=args: fn(*[fake(a) for a in args]))


def test_dispatch_mixed_devices_and_unported(fake):
    rng = np.random.default_rng(6)
    parent = random_parents(rng, 2, 8)
    lv = rng.normal(size=(2, 8))
    with pytest.raises(ValueError, match="same device"):
        T.reduce_up(fake(parent), lv)  # numpy data with a CUDA tree
    with pytest.raises(ValueError, match="same device"):
        T.reduce_up(parent, fake(lv))
    for fn, args in ((T.scan_down, (parent, lv)), (T.leaf_stats, (parent, lv)),
                     (T.sibling_stats, (parent, lv)), (T.fork_relative, (parent, lv)),
                     (T.backup_returns, (parent, lv, np.zeros(2, np.int64)))):
        with pytest.raises(ValueError, match=rf"trees\.{fn.__name__} has no CUDA.*\.cpu\(\)"):
            fn(*[fake(a) for a in args])
    q = fake(rng.normal(size=(2, 3)))
    with pytest.raises(ValueError, match="qtransform_by_min_max has no CUDA"):
        T.qtransform_by_min_max(q, fake(np.ones((2, 3), np.int32)), 0.0, 1.0)
    assert fake.C.calls == []


@pytest.mark.parametrize("case", ["no_cuda_build", "python_backend", "no_device"])
def test_dispatch_clear_error_when_cuda_unusable(monkeypatch, case):
    class NoDevice(emu.FakeCudaModule):
        def cuda_device_count(self):
            return 0

    class NoBuild(emu.FakeCudaModule):
        built_with_cuda = False

    f = FakeCuda(monkeypatch, {"no_cuda_build": NoBuild(), "no_device": NoDevice()}.get(case))
    if case == "python_backend":
        monkeypatch.setattr(_backend, "compiled", lambda: None)
    parent = np.array([[-1, 0, 0]])
    msg = {"no_cuda_build": "built without CUDA", "python_backend": "compiled backend is not",
           "no_device": "sees no CUDA device"}[case]
    with pytest.raises(RuntimeError, match=msg):
        T.reduce_up(f(parent), f(np.ones((1, 3))))
    with pytest.raises(RuntimeError, match=msg):
        T.prefix_tree_advantages(f(parent), f(np.ones((1, 3))))


def test_compiled_entry_points_and_no_device_error():
    C = _backend._C
    if C is None or not C.built_with_cuda:
        pytest.skip("creditlab._C built without CUDA: no cuda_tree_* entry points to check")
    for name in ("backup_path_f32", "backup_path_f64", "reduce_up_f32", "reduce_up_f64",
                 "prefix_advantages_f64"):
        assert callable(getattr(C, f"cuda_tree_{name}"))
    assert C.cuda_tree_iwork_per_node == emu.FakeCudaModule.cuda_tree_iwork_per_node
    if C.cuda_device_count() > 0:
        pytest.skip("a device is visible: the no-device launch error cannot be provoked")
    with pytest.raises(RuntimeError, match="CUDA error in tree_reduce_up"):
        C.cuda_tree_reduce_up_f64(0, 0, 0, 0, 0, 0, 0, 1.0, 0, 0, 1, 1, 0, 0, 0)
    with pytest.raises(RuntimeError, match="CUDA error in tree_backup_path"):
        C.cuda_tree_backup_path_f32(0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0)
    with pytest.raises(RuntimeError, match="CUDA error in tree_prefix_advantages"):
        C.cuda_tree_prefix_advantages_f64(0, 0, 0, 0, True, True, 1e-6, 0, 1, 1, 0, 0, 0, 0)
