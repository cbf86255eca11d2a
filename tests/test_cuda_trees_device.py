"""CUDA tree kernels (csrc/cuda/trees.cu) against the CPU kernels, on the device.

On a GPU when one is usable, else on the CPU CUDA emulator with fewer examples
(tests/cuda_device.py; ``CREDITLAB_CUDA_TESTS`` chooses). The numpy emulation of the warp
algorithm and the dispatch checks with a fake module are in tests/test_cuda_trees.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import cuda_device
import numpy as np
import pytest
from cuda_device import DEVICE, pick
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from test_cuda_trees import (  # noqa: E402
    OPS,
    SLOTS,
    _same_error,
    _tol,
    backup_inputs,
    random_parents,
    reduce_inputs,
    trees,
)

from creditlab import trees as T  # noqa: E402

_dev = DEVICE.to


@pytest.fixture(scope="module", autouse=True)
def device() -> Iterator[cuda_device.Device]:
    with cuda_device.activate() as d:
        yield d


@settings(max_examples=pick(80, 30), deadline=None)
@given(trees(max_b=6, max_n=300), st.sampled_from(list(OPS)), st.booleans(), st.booleans(),
       st.booleans())
def test_gpu_reduce_up_matches_cpu(tree, op, weighted, self_terms, nan):
    parent, rng, dt = tree
    ins = reduce_inputs(rng, parent, dt, weighted, self_terms, nan)
    want = T.reduce_up(parent, *ins[:4], op, *ins[4:], 0.8)
    dev = [_dev(a) for a in (parent, *ins)]
    copies = [None if a is None else a.clone() for a in dev]
    got = T.reduce_up(dev[0], *dev[1:5], op, *dev[5:], 0.8)
    assert DEVICE.is_on(got) and got.dtype == dev[1].dtype
    got = got.cpu().numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, **_tol(dt, np.nanmax(np.abs(want), initial=1)))
    for a, c in zip(dev, copies):  # inputs untouched (NaN included)
        assert a is None or torch.equal(a.isnan(), c.isnan()) and torch.equal(
            a.nan_to_num(7.0), c.nan_to_num(7.0))
    again = T.reduce_up(dev[0], *dev[1:5], op, *dev[5:], 0.8).cpu().numpy()
    np.testing.assert_array_equal(again, got)  # deterministic run to run


@pytest.mark.parametrize("op", list(OPS))
def test_gpu_reduce_up_infinities_match_cpu(op):
    """+inf and -inf leaves give what the CPU kernel gives (IEEE propagation, as mctx;
    the creditlab.trees docstring): log-sum-exp with a +inf child is +inf, not NaN."""
    parent = np.array([[-1, 0, 0, 1, 1, 2, 2], [-1, 0, 0, 1, 1, 2, 2]])
    lv = np.array([[0.0, 0.0, 0.0, np.inf, 1.0, -np.inf, 2.0],
                   [0.0, 0.0, 0.0, np.inf, -np.inf, np.inf, 0.5]])
    want = T.reduce_up(parent, lv, op=op)
    got = T.reduce_up(_dev(parent), _dev(lv), op=op).cpu().numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@settings(max_examples=pick(80, 30), deadline=None)
@given(trees(max_b=6, max_n=300), st.sampled_from(["mean", "sum", "max", "min"]))
def test_gpu_backup_path_matches_cpu(tree, op):
    parent, rng, dt = tree
    r, g, V, n, leaf, vl = backup_inputs(rng, parent, dt)
    Ve, Ne = T.backup_path(parent, r, g, V, n, leaf, vl, op)
    dev = [_dev(a) for a in (parent, r, g, V, n, leaf, vl)]
    Vo, No = T.backup_path(*dev, op=op)
    np.testing.assert_allclose(Vo.cpu().numpy(), Ve, **_tol(dt, np.abs(Ve).max()))
    np.testing.assert_array_equal(No.cpu().numpy(), Ne)
    assert torch.equal(dev[3].cpu(), torch.as_tensor(V))


@settings(max_examples=pick(60, 25), deadline=None)
@given(trees(max_b=6, max_n=300, unused=SLOTS), st.sampled_from(["treerl", "treerl_code", "fork"]),
       st.booleans(), st.booleans(), st.booleans())
def test_gpu_prefix_tree_advantages_match_cpu(tree, mode, loo, sqrt_scale, masked):
    parent, rng, dt = tree
    B, N = parent.shape
    x = rng.normal(size=(B, N)).astype(dt)
    il = rng.random((B, N)) < 0.4 if masked else None
    want = T.prefix_tree_advantages(parent, x, mode, loo, sqrt_scale, il)
    got = T.prefix_tree_advantages(_dev(parent), _dev(x), mode, loo, sqrt_scale, _dev(il))
    assert DEVICE.is_on(got) and got.dtype == torch.float64
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind,B,N", [("chain", 1, 5000), ("star", 2, 4000),
                                      ("near", pick(64, 8), 2000), ("random", 1, 1),
                                      ("random", pick(1000, 200), 3)])
def test_gpu_shapes_deep_wide_single(kind, B, N):
    rng = np.random.default_rng(B + N)
    parent = random_parents(rng, B, N, kind)
    lv, r, g, w, _, _ = reduce_inputs(rng, parent, np.float64, True, False)
    g = np.full_like(g, 0.999)
    for op in OPS:
        want = T.reduce_up(parent, lv, r, g, w, op)
        got = T.reduce_up(_dev(parent), _dev(lv), _dev(r), _dev(g), _dev(w), op)
        np.testing.assert_allclose(got.cpu().numpy(), want, **_tol(np.float64, np.abs(want).max()))
    want = T.prefix_tree_advantages(parent, lv)  # "random" has unused slots
    got = T.prefix_tree_advantages(_dev(parent), _dev(lv)).cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_gpu_forest_stream_and_errors():
    forest = T.Forest.from_parents([np.array([-1, 0, 0, 1]), np.array([-1]), np.array([-1, 0])])
    lv = np.arange(7.0)
    with DEVICE.side_stream() as s:
        got = T.reduce_up(forest, _dev(lv), op="sum")
    s.synchronize()
    np.testing.assert_allclose(got.cpu().numpy(), T.reduce_up(forest, lv, op="sum"))
    parent = np.array([[-1, 0, 1, 2]])
    bad = np.array([[-1, 0, 2, 2]])
    _same_error(lambda: T.reduce_up(bad, np.ones((1, 4))),
                lambda: T.reduce_up(_dev(bad), _dev(np.ones((1, 4)))))
    _same_error(lambda: T.reduce_up(parent, np.ones((1, 4)), g=np.full((1, 4), 2.0)),
                lambda: T.reduce_up(_dev(parent), _dev(np.ones((1, 4))),
                                    g=_dev(np.full((1, 4), 2.0))))
    with pytest.raises(ValueError, match="same device"):
        T.reduce_up(_dev(parent), np.ones((1, 4)))
