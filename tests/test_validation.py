"""Bad input gets a clear error naming the argument; inputs are never mutated."""

from __future__ import annotations

import re

import numpy as np
import pytest

import creditlab as cl

torch = pytest.importorskip("torch")

B, T = 3, 5
rng = np.random.default_rng(0)
R = rng.normal(size=(B, T)).astype(np.float32)
V = rng.normal(size=(B, T)).astype(np.float32)
D = rng.random((B, T)) < 0.3


def raises(exc, *words):
    """pytest.raises whose message must mention every word (the argument name, etc.)."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(w)})" for w in words))


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan"), float("inf")])
def test_gamma_out_of_range(gamma):
    with raises(ValueError, "gamma", "[0, 1]"):
        cl.discounted_returns(R, gamma)
    with raises(ValueError, "gamma"):
        cl.gae(R, V, gamma, 0.9)


@pytest.mark.parametrize("lam", [-1.0, 2.0, float("nan")])
def test_lam_out_of_range(lam):
    with raises(ValueError, "lam"):
        cl.gae(R, V, 0.9, lam)


def test_gamma_wrong_type():
    with raises(TypeError, "gamma"):
        cl.discounted_returns(R, "0.9")
    with raises(TypeError, "gamma"):
        cl.discounted_returns(R, True)
    with raises(ValueError, "gamma", "scalar"):
        cl.discounted_returns(R, np.array([0.9, 0.8]))
    # 0-d arrays and tensors are fine
    cl.discounted_returns(R, np.float32(0.9))
    cl.discounted_returns(R, torch.tensor(0.9))


def test_integer_and_unsupported_dtypes():
    with raises(TypeError, "rewards", "float32 or float64", "int64"):
        cl.discounted_returns(np.ones((2, 3), dtype=np.int64), 0.9)
    with raises(TypeError, "rewards", "float16"):
        cl.discounted_returns(np.ones((2, 3), dtype=np.float16), 0.9)
    with raises(TypeError, "rewards", "bfloat16"):
        cl.discounted_returns(torch.ones(2, 3, dtype=torch.bfloat16), 0.9)
    with raises(TypeError, "values", "int"):
        cl.gae(R, np.ones((B, T), dtype=np.int32), 0.9, 0.9)
    with raises(TypeError, "rewards"):
        cl.discounted_returns([1, 2, 3], 0.9)  # a list of ints is integer data
    with raises(TypeError, "rewards"):
        cl.discounted_returns({"a": 1}, 0.9)


def test_mixed_float_dtypes_promote():
    adv, ret = cl.gae(R, V.astype(np.float64), 0.9, 0.9)
    assert adv.dtype == np.float64


def test_wrong_shapes():
    with raises(ValueError, "rewards", "shape"):
        cl.discounted_returns(np.ones((2, 3, 4), np.float32), 0.9)
    with raises(ValueError, "rewards", "shape"):
        cl.discounted_returns(np.float32(1.0), 0.9)
    with raises(ValueError, "values", "(3, 5)", "(3, 6)", "(3, 7)"):
        cl.gae(R, np.ones((B, T + 2), np.float32), 0.9, 0.9)
    with raises(ValueError, "values"):
        cl.gae(R, np.ones((B + 1, T), np.float32), 0.9, 0.9)
    with raises(ValueError, "values"):
        cl.gae(R, np.ones((T, B), np.float32), 0.9, 0.9)  # transposed, no silent broadcast
    with raises(ValueError, "next_values", "same shape"):
        cl.gae(R, V, 0.9, 0.9, next_values=np.ones((B, T + 1), np.float32))
    with raises(ValueError, "bootstrap", "(3,)"):
        cl.gae(R, V, 0.9, 0.9, bootstrap=np.ones(B + 1, np.float32))
    with raises(ValueError, "bootstrap"):
        cl.discounted_returns(R, 0.9, bootstrap=np.ones((B, 1), np.float32))
    with raises(ValueError, "terminated", "same shape"):
        cl.discounted_returns(R, 0.9, terminated=np.zeros((B, T + 1), bool))
    with raises(ValueError, "terminated", "same shape"):
        cl.discounted_returns(R, 0.9, terminated=np.zeros(T, bool))  # no broadcasting
    with raises(ValueError, "response_mask", "same shape"):
        cl.min_form_returns(R, response_mask=np.ones((B, T - 1), bool))


def test_non_bool_masks():
    with raises(TypeError, "response_mask", "bool", "float32"):
        cl.gae(R, V, 0.9, 0.9, response_mask=np.ones((B, T), np.float32))
    with raises(TypeError, "terminated", "bool", "int64"):
        cl.discounted_returns(R, 0.9, terminated=torch.zeros(B, T, dtype=torch.long))
    with raises(TypeError, "response_mask", "bool"):
        cl.softmin_transform(R, response_mask=np.ones((B, T), np.int8))


def test_time_dim():
    with raises(ValueError, "time_dim"):
        cl.discounted_returns(R, 0.9, time_dim=2)
    with raises(ValueError, "time_dim", "1-D"):
        cl.discounted_returns(R[0], 0.9, time_dim=1)
    with raises(TypeError, "time_dim"):
        cl.discounted_returns(R, 0.9, time_dim=0.0)


def test_episode_argument_conflicts():
    with raises(ValueError, "truncated", "next_values"):
        cl.discounted_returns(R, 0.9, truncated=D)
    with raises(ValueError, "truncated", "next_values"):
        cl.gae(R, V, 0.9, 0.9, truncated=D)
    with raises(ValueError, "dones", "terminated"):
        cl.gae(R, V, 0.9, 0.9, dones=D, terminated=D)
    with raises(ValueError, "next_values", "bootstrap"):
        cl.discounted_returns(R, 0.9, next_values=V, bootstrap=np.zeros(B, np.float32))
    Vp = rng.normal(size=(B, T + 1)).astype(np.float32)
    with raises(ValueError, "T+1", "bootstrap"):
        cl.gae(R, Vp, 0.9, 0.9, bootstrap=np.zeros(B, np.float32))
    with raises(ValueError, "T+1", "next_values"):
        cl.gae(R, Vp, 0.9, 0.9, next_values=V)
    with raises(TypeError, "values"):
        cl.gae(R, None, 0.9, 0.9)


def test_out_checks():
    with raises(TypeError, "out", "float32"):
        cl.discounted_returns(R, 0.9, out=np.empty((B, T), np.float64))
    with raises(ValueError, "out", "shape"):
        cl.discounted_returns(R, 0.9, out=np.empty((B, T + 1), np.float32))
    with raises(ValueError, "out", "contiguous"):
        cl.discounted_returns(R, 0.9, out=np.empty((T, B), np.float32).T)
    ro = np.empty((B, T), np.float32)
    ro.setflags(write=False)
    with raises(ValueError, "out", "writeable"):
        cl.min_form_returns(R, out=ro)
    with raises(TypeError, "out", "tuple"):
        cl.gae(R, V, 0.9, 0.9, out=np.empty((B, T), np.float32))
    with raises(TypeError, "out", "same kind"):
        cl.discounted_returns(R, 0.9, out=torch.empty(B, T))


def test_temperature():
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with raises(ValueError, "temperature"):
            cl.softmin_transform(R, bad)
    with raises(TypeError, "temperature"):
        cl.softmin_transform(R, None)


def test_requires_grad_is_detached_not_refused():
    r = torch.randn(B, T, requires_grad=True)
    v = torch.randn(B, T, requires_grad=True)
    adv, ret = cl.gae(r, v, 0.9, 0.9)
    assert not adv.requires_grad and adv.shape == (B, T)
    assert r.grad is None


class _UserTensor(torch.Tensor):
    """A tensor subclass defined outside torch (as libraries and test harnesses do)."""


def test_tensor_subclass_is_a_tensor():
    r = torch.randn(B, T).as_subclass(_UserTensor)
    v = torch.randn(B, T)
    adv, _ = cl.gae(r, v, 0.9, 0.9)
    assert isinstance(adv, torch.Tensor)
    want, _ = cl.gae(r.numpy(), v.numpy(), 0.9, 0.9)
    np.testing.assert_allclose(adv.numpy(), want, rtol=1e-6)
    p = torch.nn.Parameter(torch.randn(B, T))
    assert isinstance(cl.discounted_returns(p, 0.9), torch.Tensor)


def test_other_device_is_refused_clearly():
    meta = torch.empty(B, T, device="meta")
    with raises(ValueError, "rewards", "device", "meta"):
        cl.discounted_returns(meta, 0.9)


def _all_calls(r, v, d, m, nv):
    yield lambda: cl.discounted_returns(r, 0.9, terminated=d, response_mask=m)
    yield lambda: cl.discounted_returns(r, 0.9, truncated=d, next_values=nv)
    yield lambda: cl.gae(r, v, 0.9, 0.95, terminated=d, response_mask=m)
    yield lambda: cl.gae(r, v, 0.9, 0.95, truncated=d, next_values=nv)
    yield lambda: cl.lambda_returns(r, v, 0.9, 0.95, dones=d)
    yield lambda: cl.min_form_returns(r, terminated=d, response_mask=m)
    yield lambda: cl.softmin_transform(r, 0.5, response_mask=m)
    yield lambda: cl.masked_whiten(r, m)


@pytest.mark.parametrize("backend", ["cpp", "python"] if cl.backend_info()["compiled"] else ["python"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_never_mutated(backend, kind, dtype):
    g = np.random.default_rng(5)
    arrays = [
        g.normal(size=(4, 6)).astype(dtype), g.normal(size=(4, 6)).astype(dtype),
        g.random((4, 6)) < 0.3, g.random((4, 6)) < 0.8, g.normal(size=(4, 6)).astype(dtype),
    ]
    arrays[0][0, 1] = np.nan
    arrays[3][:, 0] = True
    copies = [a.copy() for a in arrays]
    conv = (lambda a: torch.from_numpy(a)) if kind == "torch" else (lambda a: a)
    with cl.use_backend(backend):
        for call in _all_calls(*[conv(a) for a in arrays]):
            call()
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)
