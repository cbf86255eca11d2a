"""CUDA path of :func:`creditlab.trees.backup_path`, :func:`~creditlab.trees.reduce_up` and
:func:`~creditlab.trees.prefix_tree_advantages` (kernels in ``csrc/cuda/trees.cu``).

Reached from those functions when an argument is a torch CUDA tensor. The tree is a CUDA
integer tensor (``[N]`` or ``[B, N]`` parent indices) or a host :class:`~creditlab.trees.Forest`
(already validated; its two index arrays are copied to the device on every call, 12 bytes
per node). Node arrays are CUDA tensors of the tree's shape, or 0-d tensors / Python
scalars that broadcast; outputs are new CUDA tensors on the same device, in the CPU path's
dtypes, computed on the current torch stream.

Validation
----------
The same rules as the CPU path: parent structure (``parent[..., 0] == -1`` and
``-1 <= parent[i] < i``), discounts in [0, 1], non-negative visit counts and weights, leaf
indices in range, shapes and dtypes. Shapes and dtypes are checked on the host (tensor
metadata, no copy). Value rules are device-side reductions whose flags come back in ONE
host synchronisation per call (a few bytes). When any check fails, the public CPU function
is re-run on host copies of the arguments so that the error raised is exactly the CPU
path's (one validation code and one set of messages; the copy costs only on the error
path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from creditlab import _cuda
from creditlab._backend import float_array, is_torch

__all__ = ["backup_path_cuda", "prefix_tree_advantages_cuda", "reduce_up_cuda"]

_INT_DTYPES = ("torch.int8", "torch.int16", "torch.int32", "torch.int64", "torch.uint8")
_FLOAT_DTYPES = ("torch.float32", "torch.float64")


class _Rejected(Exception):
    """A check failed: re-run the CPU function to raise its error."""


def _raise_like_cpu(fn: Callable[..., Any], args: dict[str, Any]) -> NoReturn:
    host = {k: (v.detach().cpu() if _cuda.is_cuda(v) else v) for k, v in args.items()}
    fn(**host)
    raise RuntimeError(
        f"creditlab.trees.{fn.__name__}: internal error: the CUDA path rejected input that the "
        "CPU path accepts; please report it (the CPU result is available with .cpu())")


def _is_scalar(x: Any) -> bool:
    return x is not None and not is_torch(x) and np.ndim(x) == 0


def _device(args: dict[str, Any]) -> Any:
    """The common CUDA device of every array argument (Forest and scalars excluded)."""
    from creditlab.trees import Forest

    return _cuda.common_device({k: v for k, v in args.items()
                                if v is not None and not isinstance(v, Forest)
                                and not _is_scalar(v)})


class _Tree:
    """Flat int32 parent, int64 tree_ptr (both on the device), the callers' node shape and
    the device-side flags of broken storage rules."""

    def __init__(self, tree: Any, device: Any, flags: list) -> None:
        import torch

        from creditlab.trees import Forest

        if isinstance(tree, Forest):
            self.parent = _cuda.to_device(np.ascontiguousarray(tree.parent), device)
            self.ptr = _cuda.to_device(np.ascontiguousarray(tree.tree_ptr), device)
            self.shape: tuple[int, ...] = (tree.num_nodes,)
            self.B = tree.num_trees
            return
        if not _cuda.is_cuda(tree) or str(tree.dtype) not in _INT_DTYPES or tree.ndim not in (1, 2):
            raise _Rejected
        p = tree.detach()
        N = p.shape[-1]
        if N >= 2**31 - 1:
            raise _Rejected
        self.shape = tuple(p.shape)
        self.B = 1 if p.ndim == 1 else p.shape[0]
        p2 = p.reshape(self.B, N).to(torch.int64)
        if N > 0:
            idx = torch.arange(N, device=device, dtype=torch.int64)
            flags.append((p2[:, 0] != -1).any())
            flags.append(((p2 >= idx) | (p2 < -1)).any())
        self.parent = p2.to(torch.int32).contiguous().reshape(-1)
        self.ptr = torch.arange(self.B + 1, device=device, dtype=torch.int64) * N

    @property
    def M(self) -> int:
        return int(self.parent.numel())


def _node(x: Any, name: str, t: _Tree, device: Any) -> Any:
    """A node array as a flat contiguous CUDA tensor (float32/float64), or None."""

    if x is None:
        return None
    if _is_scalar(x):
        return _cuda.to_device(float_array(x, name), device).expand(t.shape).reshape(-1)
    if str(x.dtype) not in _FLOAT_DTYPES or (x.ndim != 0 and tuple(x.shape) != t.shape):
        raise _Rejected
    return x.detach().expand(t.shape).contiguous().reshape(-1)


def _dtype(*xs: Any) -> Any:
    import torch

    present = [x.dtype for x in xs if x is not None]
    out = present[0] if present else torch.float64
    for d in present[1:]:
        out = torch.promote_types(out, d)
    return out


def _bad_discount(g: Any) -> Any:
    return ~((g >= 0) & (g <= 1)).all()


def _finish(flags: list) -> None:
    """One host synchronisation: raise _Rejected if any device-side check failed."""
    import torch

    if flags and bool(torch.stack(flags).any()):
        raise _Rejected


def _stream_call(device: Any, fn: Callable[..., Any], *args: Any) -> None:
    with _cuda.on_device(device):
        fn(*args, _cuda.stream(device))


def _suffix(dt: Any) -> str:
    return "f32" if str(dt) == "torch.float32" else "f64"


# --------------------------------------------------------------------------------------


def backup_path_cuda(tree: Any, r: Any, g: Any, values: Any, visits: Any, leaf: Any,
                     leaf_value: Any, op: str = "mean") -> tuple[Any, Any]:
    """:func:`creditlab.trees.backup_path` on CUDA tensors (one thread per tree)."""
    import torch

    from creditlab import trees

    args = dict(tree=tree, r=r, g=g, values=values, visits=visits, leaf=leaf,
                leaf_value=leaf_value, op=op)
    C, device = _require({k: v for k, v in args.items() if k != "op"})
    try:
        code = trees._op(op, ("mean", "sum", "max", "min"))
        flags: list = []
        t = _Tree(tree, device, flags)
        ra, ga, va = (_node(x, n, t, device) for x, n in ((r, "r"), (g, "g"), (values, "values")))
        if ra is None or ga is None or va is None:
            raise _Rejected
        vl = _node_b(leaf_value, "leaf_value", t.B, device)
        dt = _dtype(ra, ga, va, vl)
        flags.append(_bad_discount(ga))
        if not _cuda.is_cuda(visits) or str(visits.dtype) not in _INT_DTYPES or \
                tuple(visits.shape) != t.shape:
            raise _Rejected
        flags.append((visits < 0).any())
        # a backup adds 1: the count must fit int32 (the kernel's) and visits' dtype
        cap = min(trees.MAX_VISITS, int(torch.iinfo(visits.dtype).max)) - 1
        flags.append((visits > cap).any())
        lf = _leaf(leaf, t, flags)
        _finish(flags)
    except _Rejected:
        _raise_like_cpu(trees.backup_path, args)
    ra, ga, vl = (x.to(dt).contiguous() for x in (ra, ga, vl))
    V = va.to(dt).clone()
    N = visits.detach().reshape(-1).to(torch.int32).clone()
    _stream_call(device, getattr(C, f"cuda_tree_backup_path_{_suffix(dt)}"),
                 _cuda.ptr(t.parent), _cuda.ptr(ra), _cuda.ptr(ga), _cuda.ptr(V), _cuda.ptr(N),
                 _cuda.ptr(t.ptr), t.B, _cuda.ptr(lf), _cuda.ptr(vl), code)
    return V.reshape(t.shape), N.reshape(t.shape).to(visits.dtype)


def _require(args: dict[str, Any]) -> Any:
    """The compiled module (clear RuntimeError when CUDA tensors cannot be used), then the
    common device of the array arguments (ValueError on mixed devices)."""
    name, x = next((k, v) for k, v in args.items() if _cuda.is_cuda(v))
    C = _cuda.require_cuda_build(name, x)
    return C, _device(args)


def _node_b(x: Any, name: str, B: int, device: Any) -> Any:
    """One float per tree ([B], or 0-d when B == 1, as np.atleast_1d allows)."""

    if x is None:
        raise _Rejected
    if _is_scalar(x):
        a = _cuda.to_device(float_array(x, name), device)
    else:
        if str(x.dtype) not in _FLOAT_DTYPES:
            raise _Rejected
        a = x.detach()
    a = a.reshape(-1) if a.ndim == 0 else a
    if tuple(a.shape) != (B,):
        raise _Rejected
    return a.contiguous()


def _leaf(leaf: Any, t: _Tree, flags: list) -> Any:
    import torch

    if not _cuda.is_cuda(leaf) or str(leaf.dtype) not in _INT_DTYPES:
        raise _Rejected
    lf = leaf.detach()
    lf = lf.reshape(-1) if lf.ndim == 0 else lf
    if tuple(lf.shape) != (t.B,):
        raise _Rejected
    lf = lf.to(torch.int64)
    sizes = t.ptr[1:] - t.ptr[:-1]
    flags.append(((lf < 0) | (lf >= sizes)).any())
    return lf.to(torch.int32).contiguous()


def reduce_up_cuda(tree: Any, leaf_value: Any, r: Any = None, g: Any = None, w: Any = None,
                   op: str = "mean", self_value: Any = None, self_weight: Any = None,
                   temperature: float = 1.0) -> Any:
    """:func:`creditlab.trees.reduce_up` on CUDA tensors (one warp per tree, by depth)."""
    import torch

    from creditlab import trees

    args = dict(tree=tree, leaf_value=leaf_value, r=r, g=g, w=w, op=op, self_value=self_value,
                self_weight=self_weight, temperature=temperature)
    arrays = {k: v for k, v in args.items() if k not in ("op", "temperature")}
    C, device = _require(arrays)
    try:
        code = trees._op(op, ("mean", "sum", "max", "min", "lse"))
        flags: list = []
        t = _Tree(tree, device, flags)
        lv = _node(leaf_value, "leaf_value", t, device)
        if lv is None:
            raise _Rejected
        opt = {k: _node(args[k], k, t, device) for k in ("r", "g", "w", "self_value",
                                                         "self_weight")}
        dt = _dtype(lv, *opt.values())
        T = float(temperature)
        if not np.isfinite(T) or T <= 0:
            raise _Rejected
        for k in ("w", "self_weight"):
            if opt[k] is not None:
                flags.append(((opt[k] < 0) | torch.isnan(opt[k])).any())
        if opt["g"] is not None:
            flags.append(_bad_discount(opt["g"]))
        _finish(flags)
    except _Rejected:
        _raise_like_cpu(trees.reduce_up, args)
    lv = lv.to(dt).contiguous()
    opt = {k: None if v is None else v.to(dt).contiguous() for k, v in opt.items()}
    M = t.M
    out = _cuda.empty((M,), dt, device)
    iwork = _cuda.empty((int(C.cuda_tree_iwork_per_node) * M,), torch.int32, device)
    _stream_call(device, getattr(C, f"cuda_tree_reduce_up_{_suffix(dt)}"),
                 _cuda.ptr(t.parent), _cuda.ptr(lv), *(_cuda.ptr(opt[k]) for k in
                                                       ("r", "g", "w", "self_value",
                                                        "self_weight")),
                 T, code, _cuda.ptr(t.ptr), t.B, M, _cuda.ptr(out), _cuda.ptr(iwork))
    return out.reshape(t.shape)


_MODES = {"treerl": 0, "treerl_code": 1, "fork": 2}


def prefix_tree_advantages_cuda(tree: Any, leaf_reward: Any, mode: str = "treerl",
                                leave_one_out: bool = True, sqrt_scale: bool = True,
                                is_leaf: Any = None) -> Any:
    """:func:`creditlab.trees.prefix_tree_advantages` on CUDA tensors (float64 out, as the
    CPU path; one warp per tree: connectivity to node 0 with the depths, leave-one-out, leaf
    statistics by depth, advantages; unused slots and their subtrees get 0)."""
    import torch

    from creditlab import trees

    args = dict(tree=tree, leaf_reward=leaf_reward, mode=mode, leave_one_out=leave_one_out,
                sqrt_scale=sqrt_scale, is_leaf=is_leaf)
    arrays = {k: v for k, v in args.items() if k in ("tree", "leaf_reward", "is_leaf")}
    C, device = _require(arrays)
    try:
        flags: list = []
        t = _Tree(tree, device, flags)
        ra = _node(leaf_reward, "leaf_reward", t, device)
        if ra is None or mode not in _MODES:
            raise _Rejected
        il = None
        if is_leaf is not None:
            if not _cuda.is_cuda(is_leaf) or str(is_leaf.dtype) != "torch.bool" or \
                    tuple(is_leaf.shape) != t.shape:
                raise _Rejected
            il = is_leaf.detach().reshape(-1).contiguous().view(torch.uint8)
        _finish(flags)
    except _Rejected:
        _raise_like_cpu(trees.prefix_tree_advantages, args)
    ra = ra.to(torch.float64).contiguous()
    M = t.M
    out = _cuda.empty((M,), torch.float64, device)
    iwork = _cuda.empty((int(C.cuda_tree_iwork_per_node) * M,), torch.int32, device)
    fwork = _cuda.empty((5 * M,), torch.float64, device)
    _stream_call(device, C.cuda_tree_prefix_advantages_f64, _cuda.ptr(t.parent), _cuda.ptr(ra),
                 _cuda.ptr(il), _MODES[mode], bool(leave_one_out), bool(sqrt_scale), 1e-6,
                 _cuda.ptr(t.ptr), t.B, M, _cuda.ptr(out), _cuda.ptr(iwork), _cuda.ptr(fwork))
    return out.reshape(t.shape)
