"""Array trees and the backups that assign credit up (and down) them.

One storage rule everywhere
---------------------------
Nodes are stored in topological order: ``parent[i] < i``; the root is node 0 with
``parent[0] == -1``; ``-1`` also marks unused slots of a fixed-capacity tree. Edge data
sits on the child: ``r[i]`` and ``g[i]`` are the reward and discount of the edge
``parent[i] -> i`` (the root's slot is ignored). A cycle cannot be written this way,
which is why the order is required rather than checked for after the fact.

Containers
----------
:class:`SearchTree`
    a batch of B fixed-capacity MCTS trees with mctx's field names and meanings
    (``node_visits``, ``node_values``, ``children_index``, ...), ``[B, N]`` and ``[B, N, A]``.
:class:`Forest`
    many ragged trees (rollout or prefix trees) in one set of flat arrays: ``parent``
    (indices local to each tree) and ``tree_ptr`` (tree b owns ``tree_ptr[b]:tree_ptr[b+1]``).

Tree arguments
--------------
Every kernel takes ``parent`` as a ``[N]`` array (one tree), a ``[B, N]`` array (B trees of
equal capacity) or a :class:`Forest`; node arrays have the matching shape (``[N]``,
``[B, N]`` or ``[M]``) and outputs come back in it. float32/float64 data, numpy in/out;
inputs are never modified. The compiled kernels live in ``csrc/trees.h``; the loops they
are tested against are in :mod:`creditlab.tree_reference`.

NaN and infinity
----------------
Node data may hold NaN or +-inf (a diverged value estimate, a ``-inf`` log-probability).
Both backends give what the definition gives in IEEE arithmetic, and the same thing
(tested): NaN propagates through every sum, mean, max, min and log-sum-exp it enters
(as in mctx, whose ``jnp.min`` / ``jnp.max`` propagate NaN); a mean over values holding
``+inf`` is ``+inf`` (NaN if ``-inf`` is there too); a standard deviation over values
holding an infinity is NaN. In the Q-transforms a NaN q of a *visited* action, or a NaN
node value, makes the whole row NaN (the min-max bounds are NaN); the q of an unvisited
action is never read. Discounts, weights and visit counts must be finite and in range
(checked).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np

from creditlab import _cuda
from creditlab import tree_reference as ref
from creditlab._backend import (
    check_int,
    check_positive,
    check_real,
    check_unit_interval,
    compiled,
    float_array,
    to_numpy,
)

__all__ = [
    "Forest",
    "LeafStats",
    "ReturnStats",
    "SearchTree",
    "backup_path",
    "backup_returns",
    "fork_relative",
    "leaf_stats",
    "portool_step_reward",
    "portool_style_advantages",
    "prefix_tree_advantages",
    "qtransform_by_min_max",
    "qtransform_by_parent_and_siblings",
    "qtransform_completed_by_mix_value",
    "reduce_up",
    "scan_down",
    "sibling_stats",
    "validate_parents",
]

_OPS = {"mean": 0, "sum": 1, "max": 2, "min": 3, "lse": 4, "prod": 5, "disc": 6}


# --------------------------------------------------------------------------------------
# validation and layout


def validate_parents(parent: Any, name: str = "parent") -> np.ndarray:
    """Check the storage rule and return ``parent`` as an int32 array (same shape).

    Raises
    ------
    TypeError
        not an integer array.
    ValueError
        wrong number of dimensions, ``parent[..., 0] != -1``, an entry ``< -1``, or an
        entry ``>= i`` (a child stored before its parent, a self-loop or a cycle).
    """
    p = to_numpy(parent, name)
    if p.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of parent indices, got {p.dtype}")
    if p.ndim not in (1, 2):
        raise ValueError(f"{name} must be [N] (one tree) or [B, N], got shape {p.shape}")
    if p.shape[-1] == 0:
        return p.astype(np.int32)
    if p.shape[-1] >= 2**31 - 1:
        raise ValueError(f"{name}: trees of 2**31 nodes or more are not supported")
    p2 = p.reshape(-1, p.shape[-1])
    if np.any(p2[:, 0] != -1):
        b = int(np.argmax(p2[:, 0] != -1))
        raise ValueError(f"{name}: node 0 is the root and must have parent -1 (tree {b} has "
                         f"{int(p2[b, 0])})")
    idx = np.arange(p.shape[-1])
    bad = (p2 >= idx) | (p2 < -1)
    if np.any(bad):
        b, i = np.argwhere(bad)[0]
        v = int(p2[b, i])
        why = ("must be -1 (root / unused slot) or a node index" if v < -1 else
               f"must be < {i}: nodes are stored in topological order (every parent before "
               "its children), so parent[i] >= i means a cycle, a self-loop or an unordered "
               "tree")
        where = f"[{i}]" if p.ndim == 1 else f"[{b}, {i}]"
        raise ValueError(f"{name}{where} = {v} {why}")
    return p.astype(np.int32, copy=False)


@dataclass(frozen=True)
class Forest:
    """Ragged trees in flat arrays.

    Attributes
    ----------
    parent : int32 [M]
        parent index local to the node's tree (``-1`` at each tree's node 0 only).
    tree_ptr : int64 [B + 1]
        tree b owns flat nodes ``tree_ptr[b] : tree_ptr[b + 1]``; ``tree_ptr[0] == 0``.
    """

    parent: np.ndarray
    tree_ptr: np.ndarray

    def __post_init__(self) -> None:
        ptr = to_numpy(self.tree_ptr, "tree_ptr")
        if ptr.dtype.kind not in "iu" or ptr.ndim != 1 or len(ptr) < 1 or ptr[0] != 0:
            raise ValueError("tree_ptr must be a 1-D integer array starting at 0")
        if np.any(np.diff(ptr) < 1):
            raise ValueError("tree_ptr must be strictly increasing (every tree has a root)")
        par = to_numpy(self.parent, "parent")
        if par.dtype.kind not in "iu" or par.ndim != 1:
            raise TypeError("parent must be a 1-D integer array")
        if len(par) != ptr[-1]:
            raise ValueError(f"parent has {len(par)} nodes but tree_ptr[-1] = {int(ptr[-1])}")
        local = np.arange(len(par)) - np.repeat(ptr[:-1], np.diff(ptr))
        is_root = local == 0
        if np.any(par[is_root] != -1):
            raise ValueError("parent: each tree's first node is its root and must have parent -1")
        bad = ~is_root & ((par < 0) | (par >= local))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(
                f"parent[{i}] = {int(par[i])} must be in [0, {int(local[i])}): local index of a "
                "node stored earlier in the same tree (topological order; no cycles)")
        object.__setattr__(self, "parent", par.astype(np.int32))
        object.__setattr__(self, "tree_ptr", ptr.astype(np.int64))

    @classmethod
    def from_parents(cls, parents: list[Any]) -> Forest:
        """Concatenate per-tree parent arrays (each with root 0 and ``parent[i] < i``)."""
        if len(parents) == 0:
            raise ValueError("parents must hold at least one tree")
        arrs = [np.asarray(p) for p in parents]
        ptr = np.concatenate([[0], np.cumsum([len(a) for a in arrs])]).astype(np.int64)
        return cls(np.concatenate(arrs).astype(np.int32), ptr)

    @classmethod
    def from_paths(cls, paths_per_tree: list[list[tuple[Any, ...]]]) -> tuple[Forest, list]:
        """Build prefix trees from step sequences that share prefixes.

        ``paths_per_tree[b]`` lists the trajectories of tree b, each a tuple of hashable
        steps. Returns the forest and, per tree, the leaf (last-step) node index of each
        trajectory (the root, index 0, is the empty prefix).
        """
        parents, leaves = [], []
        for paths in paths_per_tree:
            index: dict[tuple[Any, ...], int] = {(): 0}
            par = [-1]
            ends = []
            for path in paths:
                for t in range(1, len(path) + 1):
                    if path[:t] not in index:
                        index[path[:t]] = len(par)
                        par.append(index[path[: t - 1]])
                ends.append(index[tuple(path)])
            parents.append(np.array(par, np.int32))
            leaves.append(np.array(ends, np.int64))
        return cls.from_parents(parents), leaves

    @property
    def num_trees(self) -> int:
        return len(self.tree_ptr) - 1

    @property
    def num_nodes(self) -> int:
        return len(self.parent)

    def tree_of(self) -> np.ndarray:
        """int64 [M]: the tree each flat node belongs to."""
        return np.repeat(np.arange(self.num_trees), np.diff(self.tree_ptr))

    def global_parent(self) -> np.ndarray:
        """int64 [M]: parent as a flat index (-1 at roots)."""
        off = np.repeat(self.tree_ptr[:-1], np.diff(self.tree_ptr))
        return np.where(self.parent >= 0, self.parent + off, -1)

    def children(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR children: flat node i's children are ``idx[ptr[i]:ptr[i+1]]`` (index order)."""
        gp = self.global_parent()
        has = gp >= 0
        counts = np.bincount(gp[has], minlength=self.num_nodes)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        order = np.argsort(gp[has], kind="stable")
        return ptr, np.nonzero(has)[0][order]

    def depth(self) -> np.ndarray:
        """float64 [M]: edges from the root (a scan_down of ones)."""
        return scan_down(self, np.ones(self.num_nodes))

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        """Per-tree views of a flat node array."""
        return [x[a:b] for a, b in zip(self.tree_ptr[:-1], self.tree_ptr[1:])]


class _Layout(NamedTuple):
    parent: np.ndarray  # int32, flat
    tree_ptr: np.ndarray  # int64 [B+1]
    shape: tuple[int, ...]  # shape of node arrays as the caller holds them


def _layout(tree: Any) -> _Layout:
    if isinstance(tree, Forest):
        return _Layout(tree.parent, tree.tree_ptr, (tree.num_nodes,))
    p = validate_parents(tree)
    if p.ndim == 1:
        return _Layout(np.ascontiguousarray(p), np.array([0, len(p)], np.int64), p.shape)
    B, N = p.shape
    return _Layout(np.ascontiguousarray(p).reshape(-1), np.arange(B + 1, dtype=np.int64) * N,
                   p.shape)


def _node_array(x: Any, name: str, lay: _Layout, dtype: np.dtype | None = None,
                default: Any = None) -> np.ndarray | None:
    if x is None:
        if default is None:
            return None
        if default is _REQUIRED:
            raise TypeError(f"{name} is required (a float array, one value per node)")
        return np.full(lay.shape, default, dtype=dtype or np.float64).reshape(-1)
    a = float_array(x, name)
    if a.ndim == 0:
        a = np.broadcast_to(a, lay.shape)
    if a.shape != lay.shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {lay.shape} (one value per "
                         "node, like parent)")
    return np.ascontiguousarray(a, dtype=dtype or a.dtype).reshape(-1)


_REQUIRED = object()


def _dtype(*arrays: Any) -> np.dtype:
    present = [a.dtype for a in arrays if a is not None and hasattr(a, "dtype")]
    return np.result_type(*present) if present else np.dtype(np.float64)


def _check_discount(g: np.ndarray, name: str = "g") -> None:
    if g.size and not np.all((g >= 0) & (g <= 1)):
        bad = g.reshape(-1)[~((g >= 0) & (g <= 1)).reshape(-1)][0]
        raise ValueError(f"{name} (discounts) must lie in [0, 1], found {bad}")


_CUDA_PORTED = ("backup_path", "reduce_up", "prefix_tree_advantages")


def _cpu_only(fn):
    """Give functions without a CUDA kernel a clear error for CUDA tensors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _cuda.any_cuda(*args, *kwargs.values()):
            raise ValueError(
                f"creditlab.trees.{fn.__name__} has no CUDA kernel (the CUDA ones are "
                f"{', '.join(_CUDA_PORTED)}); move its inputs to the CPU with .cpu()")
        return fn(*args, **kwargs)

    return wrapper


def _op(op: str, allowed: tuple[str, ...], name: str = "op") -> int:
    if op not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {op!r}")
    return _OPS[op]


def _per_tree(lay: _Layout):
    for b in range(len(lay.tree_ptr) - 1):
        yield b, slice(int(lay.tree_ptr[b]), int(lay.tree_ptr[b + 1]))


def _leaf_indices(leaf: Any, lay: _Layout) -> np.ndarray:
    B = len(lay.tree_ptr) - 1
    lf = to_numpy(leaf, "leaf")
    if lf.dtype.kind not in "iu":
        raise TypeError(f"leaf must be integer node indices, got {lf.dtype}")
    lf = np.atleast_1d(lf).astype(np.int64)
    if lf.shape != (B,):
        raise ValueError(f"leaf must hold one node index per tree ({B}), got shape {lf.shape}")
    sizes = np.diff(lay.tree_ptr)
    if np.any((lf < 0) | (lf >= sizes)):
        b = int(np.argmax((lf < 0) | (lf >= sizes)))
        raise ValueError(f"leaf[{b}] = {int(lf[b])} is out of range for a tree of "
                         f"{int(sizes[b])} nodes")
    return lf.astype(np.int32)


# --------------------------------------------------------------------------------------
# K1: path backups


def backup_path(tree: Any, r: Any, g: Any, values: Any, visits: Any, leaf: Any, leaf_value: Any,
                op: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Back one leaf value up to the root of each tree (MuZero / mctx style).

    Walking from ``leaf[b]`` to the root, with ``G = leaf_value[b]`` and c the child of p:

    ``G <- r[c] + g[c] G``;  ``mean``: ``V[p] <- (V[p] N[p] + G) / (N[p] + 1)`` (mctx's
    ``backward``, the running mean of the returns through p); ``sum``: ``V[p] += G``;
    ``max`` / ``min``: the running max / min of G (the first visit sets it); ``N[p] += 1``.
    The leaf itself is left alone (setting it is the expansion step).

    Parameters
    ----------
    tree : int [N] / [B, N] parent array, or Forest
    r, g : float [like tree]
        edge reward and discount (``g`` in [0, 1]) on the child.
    values : float [like tree]
    visits : int [like tree], non-negative
    leaf : int [B]
        one node per tree (local index).
    leaf_value : float [B]
    op : {"mean", "sum", "max", "min"}

    Returns
    -------
    (values, visits) : new arrays shaped like the inputs (the inputs are not modified).
    Torch CUDA tensors in give CUDA tensors out (``csrc/cuda/trees.cu``).
    """
    if _cuda.any_cuda(tree, r, g, values, visits, leaf, leaf_value):
        from creditlab._trees_cuda import backup_path_cuda

        return backup_path_cuda(tree, r, g, values, visits, leaf, leaf_value, op)
    lay = _layout(tree)
    code = _op(op, ("mean", "sum", "max", "min"))
    B = len(lay.tree_ptr) - 1
    ra, ga, va = (_node_array(x, n, lay, default=_REQUIRED)
                  for x, n in ((r, "r"), (g, "g"), (values, "values")))
    vl = np.atleast_1d(float_array(leaf_value, "leaf_value"))
    if vl.shape != (B,):
        raise ValueError(f"leaf_value must hold one value per tree ({B}), got shape {vl.shape}")
    dt = _dtype(ra, ga, va, vl)
    ra, ga, vl = (np.ascontiguousarray(x, dtype=dt) for x in (ra, ga, vl))
    V = np.array(va, dtype=dt)
    _check_discount(ga)
    # one backup adds 1 along the path: the result must fit the kernel's int32 and the
    # caller's dtype (the counts come back in it)
    vn = to_numpy(visits, "visits")
    cap = int(np.iinfo(vn.dtype).max) if vn.dtype.kind in "iu" else MAX_VISITS
    n = _visit_counts(vn, lay.shape, limit=min(MAX_VISITS, cap) - 1,
                      why=f"a backup adds 1, and the count must fit int32 and {vn.dtype}")
    N = np.array(n, dtype=np.int32).reshape(-1)
    lf = _leaf_indices(leaf, lay)
    C = compiled()
    if C is not None:
        getattr(C, f"tree_backup_path_{'f32' if dt == np.float32 else 'f64'}")(
            lay.parent, ra, ga, V, N, lay.tree_ptr, lf, vl, code)
    else:
        for b, s in _per_tree(lay):
            v64 = V[s].astype(np.float64)
            ref.backup_path(lay.parent[s], ra[s], ga[s], v64, N[s], lf[b], vl[b], op)
            V[s] = v64
    return V.reshape(lay.shape), N.reshape(lay.shape).astype(n.dtype)


class ReturnStats(NamedTuple):
    """Running statistics of the values appended to each node by :func:`backup_returns`.

    ``q_mean = qsum / count`` is llm-reasoners' ``calc_q=np.mean``; ``qmax`` its
    ``calc_q=max``. Nodes never visited have ``count == 0`` (their q fields are 0).
    """

    count: np.ndarray
    qsum: np.ndarray
    qmax: np.ndarray
    qmin: np.ndarray

    @property
    def q_mean(self) -> np.ndarray:
        return np.where(self.count > 0, self.qsum / np.maximum(self.count, 1), np.nan)


@_cpu_only
def backup_returns(tree: Any, r: Any, leaf: Any, agg: str = "sum", g: Any = None,
                   stats: ReturnStats | None = None) -> tuple[ReturnStats, np.ndarray]:
    """RAP / llm-reasoners / PromptAgent backup of one path per tree ("cum_reward").

    For the path root..leaf, every node n on it (both ends included) appends
    ``cum(n) = agg(r[n], r[n+1 on path], ..., r[leaf])`` (the aggregate of its *future*
    rewards, its own edge reward included) to its history, kept as running statistics.
    ``agg`` in ``sum`` (llm-reasoners' default and PromptAgent), ``mean`` (RAP GSM8K),
    ``max``, ``min``, or ``disc``: ``G = r[n] + g[n] G``.

    Returns
    -------
    (stats, root_cum) : updated :class:`ReturnStats` (new arrays) and ``cum(root)`` [B].
    """
    lay = _layout(tree)
    code = _op(agg, ("sum", "mean", "max", "min", "disc"), "agg")
    ra = _node_array(r, "r", lay, default=_REQUIRED)
    ga = _node_array(g, "g", lay, dtype=ra.dtype, default=1.0)
    dt = _dtype(ra, ga)
    ra, ga = (np.ascontiguousarray(x, dtype=dt) for x in (ra, ga))
    _check_discount(ga)
    lf = _leaf_indices(leaf, lay)
    M, B = len(lay.parent), len(lay.tree_ptr) - 1
    if stats is None:
        cnt = np.zeros(M, np.int32)
        qs, qx, qn = (np.zeros(M, dt) for _ in range(3))
    else:
        if not isinstance(stats, ReturnStats):
            raise TypeError("stats must be a ReturnStats from a previous backup_returns call")
        cnt = np.array(stats.count, np.int32).reshape(-1)
        qs, qx, qn = (np.array(x, dt).reshape(-1) for x in stats[1:])
        if len(cnt) != M:
            raise ValueError(f"stats hold {len(cnt)} nodes, the tree has {M}")
    root = np.zeros(B, dt)
    C = compiled()
    if C is not None:
        getattr(C, f"tree_backup_returns_{'f32' if dt == np.float32 else 'f64'}")(
            lay.parent, ra, ga, lay.tree_ptr, lf, code, cnt, qs, qx, qn, root)
    else:
        for b, s in _per_tree(lay):
            parts = [x[s].astype(np.float64) for x in (qs, qx, qn)]
            root[b] = ref.backup_returns(lay.parent[s], ra[s], ga[s], lf[b], agg, cnt[s], *parts)
            for x, p in zip((qs, qx, qn), parts):
                x[s] = p
    shp = lay.shape
    return ReturnStats(cnt.reshape(shp), qs.reshape(shp), qx.reshape(shp), qn.reshape(shp)), root


# --------------------------------------------------------------------------------------
# K2 / K3: whole-tree passes


def reduce_up(tree: Any, leaf_value: Any, r: Any = None, g: Any = None, w: Any = None,
              op: str = "mean", self_value: Any = None, self_weight: Any = None,
              temperature: float = 1.0) -> np.ndarray:
    """Aggregate every node's children in one reverse (leaves-to-root) pass.

    With ``q_c = r[c] + g[c] V(c)`` and only children with weight ``w[c] > 0`` counted:

    - ``mean``: ``V(n) = (w_self[n] v_self[n] + sum_c w_c q_c) / (w_self[n] + sum_c w_c)``;
      with ``w = node_visits``, ``self_value = raw_values``, ``self_weight = 1`` this is
      exactly mctx's ``node_values`` (see :meth:`SearchTree.check_value_identity`);
    - ``sum``: ``sum_c w_c q_c``;  ``max`` / ``min``: ``max_c q_c`` / ``min_c q_c``
      (a deterministic planner's backup; FLARE-style lookahead uses ``max``);
    - ``lse``: ``T log sum_c w_c exp(q_c / T)`` (the soft Bellman backup with prior
      weights; T -> 0 gives ``max``).

    A node with no counted child keeps ``V(n) = leaf_value[n]``. NaN propagates.

    Parameters
    ----------
    tree : parent array [N] / [B, N] or Forest
    leaf_value, r, g, w, self_value, self_weight : float [like tree]
        ``r`` defaults to 0, ``g`` to 1, ``w`` to 1 (``w >= 0``), ``self_*`` to 0.
    temperature : float > 0, for ``lse``.

    Returns
    -------
    V : float [like tree]; a CUDA tensor for CUDA tensors in (``csrc/cuda/trees.cu``).
    """
    if _cuda.any_cuda(tree, leaf_value, r, g, w, self_value, self_weight):
        from creditlab._trees_cuda import reduce_up_cuda

        return reduce_up_cuda(tree, leaf_value, r, g, w, op, self_value, self_weight,
                              temperature)
    lay = _layout(tree)
    code = _op(op, ("mean", "sum", "max", "min", "lse"))
    lv = _node_array(leaf_value, "leaf_value", lay, default=_REQUIRED)
    arrays = {k: _node_array(v, k, lay) for k, v in
              (("r", r), ("g", g), ("w", w), ("self_value", self_value),
               ("self_weight", self_weight))}
    dt = _dtype(lv, *arrays.values())
    T = check_real(temperature, "temperature")
    if T <= 0:
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    for k in ("w", "self_weight"):
        a = arrays[k]
        if a is not None and not (np.all(a >= 0) and np.all(np.isfinite(a))):
            raise ValueError(f"{k} (weights / visit counts) must be finite and non-negative (>= 0)")
    if arrays["g"] is not None:
        _check_discount(arrays["g"])
    M = len(lay.parent)
    lv = np.ascontiguousarray(lv, dt)
    ra = np.zeros(M, dt) if arrays["r"] is None else np.ascontiguousarray(arrays["r"], dt)
    ga = np.ones(M, dt) if arrays["g"] is None else np.ascontiguousarray(arrays["g"], dt)
    rest = [None if arrays[k] is None else np.ascontiguousarray(arrays[k], dt)
            for k in ("w", "self_value", "self_weight")]
    out = np.empty(M, dt)
    C = compiled()
    if C is not None:
        getattr(C, f"tree_reduce_up_{'f32' if dt == np.float32 else 'f64'}")(
            lay.parent, lv, ra, ga, *rest, T, code, lay.tree_ptr, out)
    else:
        for _, s in _per_tree(lay):
            wi, vs, ws = (None if x is None else x[s] for x in rest)
            out[s] = ref.reduce_up(lay.parent[s], lv[s], ra[s], ga[s], wi, op, vs, ws, T)
    return out.reshape(lay.shape)


@_cpu_only
def scan_down(tree: Any, x: Any, op: str = "sum") -> np.ndarray:
    """Root-to-node prefix scan: ``Y[root] = identity``, ``Y[i] = Y[parent[i]] (+) x[i]``.

    ``sum`` (identity 0): accumulated edge reward, depth (x = 1), path log-probability
    (x = log pi of each edge, the trajectory-balance prefix); ``prod`` (1): discount
    products; ``max`` (-inf) / ``min`` (+inf): the best / worst edge so far.

    Returns float [like tree].
    """
    lay = _layout(tree)
    code = _op(op, ("sum", "prod", "max", "min"))
    xa = _node_array(x, "x", lay, default=_REQUIRED)
    out = np.empty(len(lay.parent), xa.dtype)
    C = compiled()
    if C is not None:
        getattr(C, f"tree_scan_down_{'f32' if xa.dtype == np.float32 else 'f64'}")(
            lay.parent, xa, code, lay.tree_ptr, out)
    else:
        for _, s in _per_tree(lay):
            out[s] = ref.scan_down(lay.parent[s], xa[s], op)
    return out.reshape(lay.shape)


# --------------------------------------------------------------------------------------
# K4: statistics over leaves and siblings; prefix-tree advantages


class LeafStats(NamedTuple):
    """Per-node count, mean and population std of a value over the leaves below it."""

    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray


@_cpu_only
def leaf_stats(tree: Any, x: Any, is_leaf: Any = None) -> LeafStats:
    """Count, mean and std of ``x`` over the leaves of each node's subtree, one pass.

    Leaves are nodes without children, or the nodes flagged by ``is_leaf`` (e.g. finished
    trajectories only). Nodes with no leaf below have count 0, mean 0, std 0.
    ``x`` is read at leaves only. Merged bottom-up with Chan et al.'s pairwise update.
    """
    lay = _layout(tree)
    xa = _node_array(x, "x", lay, default=_REQUIRED)
    il = None
    if is_leaf is not None:
        from creditlab._backend import bool_array

        ib = bool_array(is_leaf, "is_leaf")
        if ib.shape != lay.shape:
            raise ValueError(f"is_leaf has shape {ib.shape}, expected {lay.shape}")
        il = np.ascontiguousarray(ib).reshape(-1).view(np.uint8)
    M = len(lay.parent)
    cnt, mean, m2 = (np.empty(M, xa.dtype) for _ in range(3))
    C = compiled()
    if C is not None:
        getattr(C, f"tree_leaf_stats_{'f32' if xa.dtype == np.float32 else 'f64'}")(
            lay.parent, xa, il, lay.tree_ptr, cnt, mean, m2)
        std = np.sqrt(np.where(cnt > 0, np.maximum(m2, 0) / np.maximum(cnt, 1), 0))
    else:
        std = np.empty(M, xa.dtype)
        for _, s in _per_tree(lay):
            cnt[s], mean[s], std[s] = ref.leaf_stats(lay.parent[s], xa[s],
                                                     None if il is None else il[s])
    return LeafStats(*(a.reshape(lay.shape) for a in (cnt, mean, std)))


@_cpu_only
def sibling_stats(tree: Any, x: Any) -> LeafStats:
    """Count, mean and population std of ``x`` over each node's children (per fork)."""
    lay = _layout(tree)
    xa = _node_array(x, "x", lay, default=_REQUIRED)
    M = len(lay.parent)
    cnt, mean, std = (np.empty(M, xa.dtype) for _ in range(3))
    C = compiled()
    if C is not None:
        getattr(C, f"tree_sibling_stats_{'f32' if xa.dtype == np.float32 else 'f64'}")(
            lay.parent, xa, lay.tree_ptr, cnt, mean, std)
    else:
        for _, s in _per_tree(lay):
            cnt[s], mean[s], std[s] = ref.sibling_stats(lay.parent[s], xa[s])
    return LeafStats(*(a.reshape(lay.shape) for a in (cnt, mean, std)))


def _connected(tree: Any, lay: _Layout) -> np.ndarray:
    """bool [M]: whether each node hangs off its tree's node 0.

    Unused slots of a fixed-capacity tree (parent -1 past node 0) and every node stored
    under one are not connected: the rollout / search tree is the connected part. A node's
    parent precedes it, so the connected set is closed under taking children: a connected
    node's children are all connected. ``tree`` is the caller's tree, ``lay`` its layout.
    """
    M = len(lay.parent)
    off = np.repeat(lay.tree_ptr[:-1], np.diff(lay.tree_ptr))
    slot = (lay.parent < 0) & (np.arange(M) != off)
    if not slot.any():
        return np.ones(M, bool)
    # depth below the nearest slot: > 0 exactly for the nodes stored under one
    under_slot = np.where(lay.parent >= 0, slot[np.maximum(lay.parent, 0) + off], False)
    below = scan_down(tree, under_slot.reshape(lay.shape).astype(np.float64)).reshape(-1)
    return ~slot & (below == 0)


def _gather_parent(lay: _Layout, a: np.ndarray) -> np.ndarray:
    off = np.repeat(lay.tree_ptr[:-1], np.diff(lay.tree_ptr))
    gp = np.where(lay.parent >= 0, lay.parent + off, 0)
    return a.reshape(-1)[gp]


@_cpu_only
def fork_relative(tree: Any, x: Any, eps: float = 1e-6) -> np.ndarray:
    """Sibling z-score: ``(x_c - mean_{siblings} x) / (std_{siblings} x + eps)`` for nodes
    whose parent has at least two children; 0 for roots and only children."""
    eps = check_real(eps, "eps")
    if eps < 0:
        raise ValueError(f"eps must be >= 0 (added to a standard deviation), got {eps}")
    lay = _layout(tree)
    st = sibling_stats(tree, x)
    xa = _node_array(x, "x", lay, default=_REQUIRED)
    cnt_p = _gather_parent(lay, st.count)
    mu_p = _gather_parent(lay, st.mean)
    sd_p = _gather_parent(lay, st.std)
    ok = (lay.parent >= 0) & (cnt_p >= 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, (xa - mu_p) / (sd_p + eps), 0.0).astype(xa.dtype)
    return out.reshape(lay.shape)


def prefix_tree_advantages(tree: Any, leaf_reward: Any, mode: str = "treerl",
                           leave_one_out: bool = True, sqrt_scale: bool = True,
                           is_leaf: Any = None) -> np.ndarray:
    """Per-node advantages of tree-structured rollouts (TreeRL), from leaf rewards.

    With leaf rewards R_l (leave-one-out centred over the leaves of the same tree when
    ``leave_one_out``: ``R_l - mean_{j != l} R_j``) and ``V(n)`` the mean of R over the
    leaves below n (:func:`leaf_stats`):

    - ``mode="treerl"`` (TreeRL paper, Eq. 2-4): global ``G(n) = V(n) - V(root)``, local
      ``L(n) = V(n) - V(parent(n))`` (0 at the root), reward ``(G(n) + L(n)) / sqrt(|L(n)|)``
      with ``|L(n)|`` the number of leaves below n (no division if not ``sqrt_scale``);
    - ``mode="treerl_code"`` (THUDM/TreeRL's ``use_state_value_reward``): ``L(n) + V(n)``,
      divided by ``sqrt(|L(n)|)`` when ``sqrt_scale`` (its ``'sqrt'`` weighting);
    - ``mode="fork"``: the sibling z-score of V (:func:`fork_relative`).

    Each node's value is meant to be copied to every token of its segment.

    Parameters
    ----------
    tree : parent ``[N]`` / ``[B, N]`` (``-1`` at node 0 and at unused slots) or Forest.
        Nodes not connected to node 0 (unused slots and anything stored under one) are
        not part of the rollout tree: they are never leaves, take no part in the
        leave-one-out centring, the means, counts or sibling statistics, and get 0; the
        other nodes get what the tree of the connected nodes alone (as a Forest) gives.
    leaf_reward : float [like tree]
        ``R_l``, read at leaves only.
    mode : {"treerl", "treerl_code", "fork"}
    leave_one_out, sqrt_scale : bool
    is_leaf : bool [like tree], optional
        the leaves (e.g. finished trajectories only); default: the nodes without children.
        Flags on nodes not connected to node 0 are ignored.

    Returns float64 [like tree]; a CUDA tensor for CUDA tensors in (``csrc/cuda/trees.cu``).
    """
    if _cuda.any_cuda(tree, leaf_reward, is_leaf):
        from creditlab._trees_cuda import prefix_tree_advantages_cuda

        return prefix_tree_advantages_cuda(tree, leaf_reward, mode, leave_one_out, sqrt_scale,
                                           is_leaf)
    lay = _layout(tree)
    ra = _node_array(leaf_reward, "leaf_reward", lay, default=_REQUIRED).astype(np.float64)
    if mode not in ("treerl", "treerl_code", "fork"):
        raise ValueError(f"mode must be 'treerl', 'treerl_code' or 'fork', got {mode!r}")
    M = len(lay.parent)
    in_tree = _connected(tree, lay)
    if is_leaf is None:
        has_child = np.zeros(M, bool)
        gp = _gather_parent(lay, np.arange(M))
        has_child[gp[lay.parent >= 0]] = True
        leaf = in_tree & ~has_child
    else:
        from creditlab._backend import bool_array

        ib = bool_array(is_leaf, "is_leaf")
        if ib.shape != lay.shape:
            raise ValueError(f"is_leaf has shape {ib.shape}, expected {lay.shape}")
        leaf = in_tree & ib.reshape(-1)
    if leave_one_out:
        tree_of = np.repeat(np.arange(len(lay.tree_ptr) - 1), np.diff(lay.tree_ptr))
        k = np.bincount(tree_of[leaf], minlength=len(lay.tree_ptr) - 1)
        tot = np.bincount(tree_of[leaf], weights=ra[leaf], minlength=len(lay.tree_ptr) - 1)
        kk, tt = k[tree_of], tot[tree_of]
        ra = np.where(leaf & (kk > 1), ra - (tt - ra) / np.maximum(kk - 1, 1), ra)
    st = leaf_stats(tree, ra.reshape(lay.shape), leaf.reshape(lay.shape))
    V = st.mean.reshape(-1)
    if mode == "fork":
        out = fork_relative(tree, V.reshape(lay.shape)).reshape(-1)
    else:
        Vp = _gather_parent(lay, V)
        L = np.where(lay.parent >= 0, V - Vp, 0.0)
        off = np.repeat(lay.tree_ptr[:-1], np.diff(lay.tree_ptr))
        out = (V - V[off] + L) if mode == "treerl" else (L + V)
        if sqrt_scale:
            out = out / np.sqrt(np.maximum(st.count.reshape(-1), 1))
    return np.where(in_tree, out, 0.0).reshape(lay.shape)


_PORTOOL_AGG = ("max", "mean")


def _portool_args(tree: Any, leaf_reward: Any, gamma: Any, agg: str, format_score: Any,
                  t_max: Any) -> tuple[Any, ...]:
    """Validate PORTool's step-reward arguments; return the pieces both functions use."""
    lay = _layout(tree)
    ra = _node_array(leaf_reward, "leaf_reward", lay, default=_REQUIRED).astype(np.float64)
    gamma = check_unit_interval(gamma, "gamma")
    if agg not in _PORTOOL_AGG:
        raise ValueError(f"agg must be 'max' or 'mean', got {agg!r}")
    fs = _node_array(format_score, "format_score", lay)
    if fs is not None:
        fs = fs.astype(np.float64)
        if not np.all((fs >= 0) & (fs <= 1)):  # NaN fails too
            raise ValueError("format_score must hold numbers in [0, 1] (the fraction of "
                             "format / tool-success checks a step passes)")
    M = len(lay.parent)
    in_tree = _connected(tree, lay) if M else np.zeros(0, bool)
    depth = scan_down(tree, np.ones(lay.shape)).reshape(-1) if M else np.zeros(0)
    deepest = int(depth[in_tree].max()) if in_tree.any() else 0
    if t_max is None:
        t_max = deepest
    else:
        t_max = check_int(t_max, "t_max", 1)
        if t_max < deepest:
            raise ValueError(f"t_max must be >= the depth of the deepest step ({deepest}), "
                             f"got {t_max}: T_max is the rollout's depth limit")
    return lay, ra, gamma, fs, in_tree, depth, t_max


def _portool_reward(tree: Any, lay: _Layout, ra: np.ndarray, gamma: float, agg: str,
                    fs: np.ndarray | None, in_tree: np.ndarray, t_max: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R, R_fm, leaf) flat: the step reward, the formatting term and the leaves."""
    M = len(lay.parent)
    off = np.repeat(lay.tree_ptr[:-1], np.diff(lay.tree_ptr))
    has_child = np.zeros(M, bool)
    has_child[(lay.parent + off)[lay.parent >= 0]] = True
    leaf = in_tree & ~has_child
    step = in_tree & (lay.parent >= 0)  # node 0 is the query, not a step
    g = np.full(lay.shape, gamma)
    # V(s) = G_{k in m(s)} gamma^(T_k - t_s) R_out(k): one reverse pass, each edge
    # discounting by gamma (T_k - t_s is the number of edges from s down to leaf k)
    if agg == "max":
        V = reduce_up(tree, ra.reshape(lay.shape), g=g, op="max").reshape(-1)
    else:
        total = reduce_up(tree, ra.reshape(lay.shape), g=g, op="sum").reshape(-1)
        count = reduce_up(tree, np.ones(lay.shape), op="sum").reshape(-1)  # |m(s)|
        V = total / count
    band = gamma ** t_max
    R_fm = np.zeros(M) if fs is None else np.where(step, band * (fs - 0.5), 0.0)
    R = np.where(step, V + R_fm, 0.0)
    return R, R_fm, leaf


def portool_step_reward(tree: Any, leaf_reward: Any, gamma: float = 0.95, agg: str = "max",
                        format_score: Any = None, t_max: int | None = None) -> np.ndarray:
    r"""PORTool's step reward on a rollout tree (pinned formula; ``agg`` reconstructed).

    PORTool (Wu et al. 2025, arXiv 2510.26020) gives every step s of a rollout tree one
    reward, shared by all trajectories through it (``m(s)``). As quoted from the paper by
    a secondary source (the project's ``research/formulas.md`` [48]; the paper's own text
    was not readable here):

    .. math:: R(s) = G\big(\{\gamma^{T_k - t}\, R_{out}(\tau_k) + R_{fm}(s)\}_{k \in m(s)}\big)

    with :math:`t` the depth of s (node 0, the query, has depth 0; steps have depth
    1, 2, ...), :math:`T_k` the number of steps of trajectory k (the depth of its leaf),
    :math:`R_{out} \in \{+1, -1, 0\}` (correct / wrong / unanswerable) its outcome,
    :math:`\gamma \in [0, 1]` a decay (0.95 was best in the paper's sweep), and
    :math:`R_{fm}(s)` a formatting / tool-success score of the step squeezed into a band
    of half-width :math:`\gamma^{T_{max}}/2`, so that the outcome term always
    dominates. What is pinned and what is ours:

    - **pinned** [2nd]: the decayed outcome term, the formatting term added inside G, and
      the band's half-width :math:`\gamma^{T_{max}}/2`;
    - **ours**: the map into the band, :math:`R_{fm}(s) = \gamma^{T_{max}}
      (f_s - 1/2)` for a score :math:`f_s \in [0, 1]` (``format_score``; the paper scores
      think / tool-call blocks, valid JSON, required arguments, execution success), and
      the aggregation G, whose definition the source cuts off: ``agg="max"`` ("can some
      continuation through s succeed, and how soon") or ``"mean"``. Because
      :math:`R_{fm}(s)` is the same for every k, :math:`G(x + c) = G(x) + c` for both, so
      :math:`R(s) = G_k(\gamma^{T_k - t} R_{out}(\tau_k)) + R_{fm}(s)`.

    With ``format_score=None`` (:math:`R_{fm} = 0`) and ``agg="max"``, a step whose best
    continuation answers correctly after d more steps gets :math:`\gamma^d`: among
    correct siblings the one on the shorter path wins, the mechanism behind PORTool's
    fewer tool calls. With :math:`\gamma = 1` and ``agg="mean"`` it is the mean outcome
    over m(s). Computed with :func:`reduce_up` (``op="max"`` or ``"sum"``, discount
    :math:`\gamma` per edge) and :func:`scan_down` (depths), whose kernels live in
    ``csrc/trees.h``; :func:`creditlab.tree_reference.portool_step_reward` is the
    trajectory-by-trajectory loop this is tested against.

    Parameters
    ----------
    tree : parent ``[N]`` / ``[B, N]`` (``-1`` at node 0 and at unused slots) or Forest.
        A node is a step; node 0 of each tree is the query. Nodes not connected to node 0
        are ignored and get 0.
    leaf_reward : float [like tree]
        :math:`R_{out}` of the trajectory ending at each leaf (read at leaves only).
    gamma : float in [0, 1]
    agg : {"max", "mean"}
        G, over the trajectories through the step (reconstructed).
    format_score : float [like tree] in [0, 1], optional
        :math:`f_s`, read at steps; every entry must lie in [0, 1]. None: no formatting
        term.
    t_max : int >= 1, optional
        The rollout's depth limit :math:`T_{max}` (sets the band); at least the depth of
        the deepest step. Default: that depth, over all trees passed together.

    Returns
    -------
    R : float64 [like tree]
        The step reward; 0 at node 0 and at unused slots. NaN in ``leaf_reward``
        propagates to the steps above it.

    Raises
    ------
    ValueError / TypeError
        an invalid tree, an array not shaped like it, ``gamma`` outside [0, 1], an
        unknown ``agg``, ``format_score`` outside [0, 1], ``t_max`` not an integer >= 1
        or below the tree's depth.
    """
    lay, ra, gamma, fs, in_tree, _, t_max = _portool_args(tree, leaf_reward, gamma, agg,
                                                          format_score, t_max)
    if len(lay.parent) == 0:
        return np.zeros(lay.shape)
    R, _, _ = _portool_reward(tree, lay, ra, gamma, agg, fs, in_tree, t_max)
    return R.reshape(lay.shape)


def portool_style_advantages(tree: Any, leaf_reward: Any, lam: float = 1.0,
                             eps: float = 1e-6, *, gamma: float = 0.95, agg: str = "max",
                             format_score: Any = None, t_max: int | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
    """PORTool-style fork- and trajectory-relative advantages: pinned step reward, the rest
    a labelled reconstruction.

    PORTool (Wu et al. 2025, "PORTool: Tool-Use LLM Training with Rewarded Tree", arXiv
    2510.26020) grows n tool-call trajectories per query as a tree (at most f forks per
    step; finished trajectories are kept and n - n_c of the candidate forks continue, up
    to T_max steps), gives every step s one reward shared by all trajectories through it
    (``m(s)``), and "uses these step-wise rewards to calculate fork-relative advantages,
    blended with trajectory-relative advantages" with two weights w1, w2.

    **Pinned** (from a secondary source quoting the paper; the project's
    ``research/formulas.md`` [48]): the step reward ``R(s)``, computed by
    :func:`portool_step_reward` (see there, including which of its parts are ours: the
    aggregation G and the map of the formatting score into its band).

    **Reconstructed, not the paper's equations** (their definitions were not found: the
    fork normalisation, the trajectory-level reward and the weights w1, w2); hence
    "PORTool-style":

    - fork-relative ``A_fork(s) = (R(s) - mean_{c in C(p)} R(c)) / (std_{c in C(p)} R(c)
      + eps)`` with p the parent of s, if the fork p has at least two children; else 0;
    - trajectory-relative ``A_traj(j) = (R_j - mean_k R_k) / (std_k R_k + eps)`` over the
      trajectories (leaves) of the same tree (GRPO-style), with trajectory reward
      ``R_j = R_out(j) + mean_{s on j} R_fm(s)`` (``R_j = R_out(j)`` without
      ``format_score``);
    - trajectory j is trained at each of its steps s with ``A(s, j) = A_traj(j) +
      lam * A_fork(s)``, i.e. ``traj[j] + fork[s]`` from the two returned arrays
      (w1 = 1, w2 = ``lam``).

    With ``gamma=1, agg="mean"`` and no ``format_score`` the step reward is the mean
    outcome over m(s), which was this function's whole step reward before the paper's was
    pinned. std is the population std; a z-score whose denominator ``std + eps`` is 0
    (``eps=0`` and equal values) is 0. :func:`creditlab.tree_reference.portool_style_advantages`
    is the trajectory-by-trajectory loop this is tested against.

    Parameters
    ----------
    tree : parent ``[N]`` / ``[B, N]`` (``-1`` at node 0 and at unused slots) or Forest.
        Nodes not connected to node 0 (unused slots and anything stored under one) are
        not part of the rollout tree: they are ignored and get 0.
    leaf_reward : float [like tree]
        outcome ``R_out(j)`` of the trajectory ending at leaf j (read at leaves only).
    lam : float
        weight of the fork-relative term (finite).
    eps : float
        added to each std (finite, >= 0).
    gamma, agg, format_score, t_max
        the step reward's parameters (:func:`portool_step_reward`).

    Returns
    -------
    (fork, traj) : float64 [like tree]
        ``fork[s] = lam * A_fork(s)`` (0 at roots, only children and unused slots);
        ``traj[j] = A_traj(j)`` at leaves, 0 elsewhere.

    Raises
    ------
    ValueError / TypeError
        an invalid tree, ``leaf_reward`` or ``format_score`` not shaped like it, ``lam``
        or ``eps`` not a finite real number, ``eps < 0``, or a bad step-reward argument
        (:func:`portool_step_reward`).
    """
    lam = check_real(lam, "lam")
    eps = check_real(eps, "eps")
    if eps < 0:
        raise ValueError(f"eps must be >= 0 (added to a standard deviation), got {eps}")
    lay, ra, gamma, fs, in_tree, depth, t_max = _portool_args(tree, leaf_reward, gamma, agg,
                                                              format_score, t_max)
    M = len(lay.parent)
    if M == 0:
        return np.zeros(lay.shape), np.zeros(lay.shape)
    off = np.repeat(lay.tree_ptr[:-1], np.diff(lay.tree_ptr))
    R, R_fm, leaf = _portool_reward(tree, lay, ra, gamma, agg, fs, in_tree, t_max)
    sib = sibling_stats(tree, R.reshape(lay.shape))
    cnt_p, mu_p, sd_p = (_gather_parent(lay, a) for a in sib)

    def z(x: np.ndarray, mu: np.ndarray, sd: np.ndarray, ok: np.ndarray) -> np.ndarray:
        den = sd + eps
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ok & (den != 0), (x - mu) / den, 0.0)

    fork = lam * z(R, mu_p, sd_p, in_tree & (lay.parent >= 0) & (cnt_p >= 2))
    # trajectory reward: outcome + the mean formatting term over the trajectory's steps
    R_traj = ra
    if fs is not None:
        path_fm = scan_down(tree, R_fm.reshape(lay.shape)).reshape(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            R_traj = ra + np.where(depth > 0, path_fm / np.maximum(depth, 1), 0.0)
    st = leaf_stats(tree, R_traj.reshape(lay.shape), leaf.reshape(lay.shape))
    traj = z(R_traj, st.mean.reshape(-1)[off], st.std.reshape(-1)[off], leaf)
    return fork.reshape(lay.shape), traj.reshape(lay.shape)


# --------------------------------------------------------------------------------------
# Q-transforms (K6)


# The kernels count visits in int32 (csrc/trees.h: count_t).
MAX_VISITS = 2**31 - 1


def _visit_counts(visits: Any, shape: tuple[int, ...], like: str = "",
                  limit: int = MAX_VISITS, why: str = "the kernels count in int32") -> np.ndarray:
    """Visit counts as a numpy integer array of ``shape``, all in ``[0, limit]``, or a
    clear error (the kernels hold counts in int32, so a larger count would wrap)."""
    n = to_numpy(visits, "visits")
    if n.dtype.kind not in "iu":
        raise TypeError(f"visits must be an integer array, got {n.dtype}")
    if n.shape != shape:
        raise ValueError(f"visits has shape {n.shape}, expected {shape}{like}")
    if n.size and n.dtype.kind == "i" and n.min() < 0:
        raise ValueError("visits (visit counts) must be non-negative")
    if n.size and int(n.max()) > limit:
        raise ValueError(f"visits (visit counts) must be <= {limit} ({why}), "
                         f"got {int(n.max())}")
    return n


def _q_args(q: Any, visits: Any, limit: int | None = MAX_VISITS) -> tuple[np.ndarray, np.ndarray]:
    qa = float_array(q, "q")
    n = _visit_counts(visits, qa.shape, " like q",
                      limit=np.iinfo(np.uint64).max if limit is None else limit)
    if qa.ndim == 0:
        raise ValueError("q must have a last axis of actions")
    return qa, n


def _row_value(v: Any, name: str, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    a = float_array(v, name) if not isinstance(v, (int, float)) else np.asarray(v, dt)
    a = np.broadcast_to(np.asarray(a, dt), shape) if a.ndim == 0 else a
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape} (one per row of q)")
    return np.ascontiguousarray(a, dt).reshape(-1)


def _qtransform(kind: int, qa: np.ndarray, n: np.ndarray, logits: np.ndarray | None,
                raw: np.ndarray | None, node: np.ndarray | None, a: float, b: float, eps: float,
                rescale: bool, mixed: bool) -> np.ndarray:
    A = qa.shape[-1]
    R = int(np.prod(qa.shape[:-1])) if qa.ndim > 1 else 1
    dt = qa.dtype
    out = np.empty(R * A, dt)
    q2 = np.ascontiguousarray(qa, dt).reshape(-1)
    # min-max and parent-and-siblings read only whether an action was visited, so any
    # count is exact there; the mixed value reads the counts (checked <= MAX_VISITS)
    n2 = np.ascontiguousarray(n if kind == 2 else (n > 0), np.int32).reshape(-1)
    lg = np.zeros(R * A, dt) if logits is None else np.ascontiguousarray(logits, dt).reshape(-1)
    rv = np.zeros(R, dt) if raw is None else raw
    nv = np.zeros(R, dt) if node is None else node
    C = compiled()
    if C is not None:
        getattr(C, f"tree_qtransform_{'f32' if dt == np.float32 else 'f64'}")(
            kind, q2, n2, lg, rv, nv, R, A, a, b, eps, rescale, mixed, out)
    else:
        for i in range(R):
            s = slice(i * A, (i + 1) * A)
            if kind == 0:
                out[s] = ref.qtransform_by_min_max(q2[s], n2[s], a, b)
            elif kind == 1:
                out[s] = ref.qtransform_by_parent_and_siblings(q2[s], n2[s], float(nv[i]), a)
            else:
                out[s] = ref.qtransform_completed_by_mix_value(
                    q2[s], n2[s], lg[s], float(rv[i]), float(nv[i]), a, b, rescale, mixed, eps)
    return out.reshape(qa.shape)


@_cpu_only
def qtransform_by_min_max(q: Any, visits: Any, min_value: float,
                          max_value: float) -> np.ndarray:
    """Fixed-bound scaling (mctx ``qtransform_by_min_max``):
    ``((visited ? q : min_value) - min_value) / (max_value - min_value)``. q, visits [..., A]."""
    qa, n = _q_args(q, visits, limit=None)
    min_value = check_real(min_value, "min_value")
    max_value = check_real(max_value, "max_value")
    if not max_value > min_value:
        raise ValueError(f"max_value ({max_value}) must exceed min_value ({min_value})")
    return _qtransform(0, qa, n, None, None, None, float(min_value), float(max_value), 0.0,
                       False, False)


@_cpu_only
def qtransform_by_parent_and_siblings(q: Any, visits: Any, node_value: Any,
                                      eps: float = 1e-8) -> np.ndarray:
    """mctx's default MuZero transform: with ``lo/hi`` the min/max of the node value and
    the visited children's q, ``((visited ? q : lo) - lo) / max(hi - lo, eps)``.
    q, visits [..., A]; node_value [...]."""
    qa, n = _q_args(q, visits, limit=None)
    eps = check_positive(eps, "eps")
    nv = _row_value(node_value, "node_value", qa.shape[:-1], qa.dtype)
    return _qtransform(1, qa, n, None, None, nv, float(eps), 0.0, float(eps), False, False)


@_cpu_only
def qtransform_completed_by_mix_value(q: Any, visits: Any, prior_logits: Any, raw_value: Any,
                                      node_value: Any = None, value_scale: float = 0.1,
                                      maxvisit_init: float = 50.0, rescale_values: bool = True,
                                      use_mixed_value: bool = True,
                                      eps: float = 1e-8) -> np.ndarray:
    """Gumbel MuZero's completed Q (mctx ``qtransform_completed_by_mix_value``).

    ``v_mix = (v_raw + sum_a N_a * sum_{visited} pi_a q_a / sum_{visited} pi_a) / (sum N + 1)``
    fills the unvisited actions (``node_value`` instead when not ``use_mixed_value``);
    optionally min-max rescaled over the actions; times
    ``(maxvisit_init + max_a N_a) * value_scale``. q, visits, prior_logits [..., A].
    """
    qa, n = _q_args(q, visits)
    lg = float_array(prior_logits, "prior_logits")
    if lg.shape != qa.shape:
        raise ValueError(f"prior_logits has shape {lg.shape}, expected {qa.shape} like q")
    rv = _row_value(raw_value, "raw_value", qa.shape[:-1], qa.dtype)
    value_scale = check_real(value_scale, "value_scale")
    maxvisit_init = check_real(maxvisit_init, "maxvisit_init")
    eps = check_positive(eps, "eps")
    nv = (np.zeros_like(rv) if node_value is None else
          _row_value(node_value, "node_value", qa.shape[:-1], qa.dtype))
    if not use_mixed_value and node_value is None:
        raise ValueError("use_mixed_value=False needs node_value")
    return _qtransform(2, qa, n, lg, rv, nv, float(value_scale), float(maxvisit_init),
                       float(eps), bool(rescale_values), bool(use_mixed_value))


# --------------------------------------------------------------------------------------
# SearchTree


@dataclass
class SearchTree:
    """A batch of fixed-capacity search trees, with mctx's ``Tree`` field names and meaning.

    B trees, N = num_simulations + 1 nodes, A actions. The node expanded on simulation s
    gets index s + 1, so ``parents[b, i] < i`` and index order is topological.

    Attributes
    ----------
    node_visits : int32 [B, N]
    raw_values, node_values : float [B, N]
        the evaluator's value, and the running-mean backed-up value.
    parents, action_from_parent : int32 [B, N]  (-1 = none)
    children_index : int32 [B, N, A]  (-1 = unvisited)
    children_prior_logits, children_rewards, children_discounts, children_values : float [B, N, A]
    children_visits : int32 [B, N, A]
    root_invalid_actions : bool [B, A]
    embeddings : [B, N, ...] array, or None
    """

    node_visits: np.ndarray
    raw_values: np.ndarray
    node_values: np.ndarray
    parents: np.ndarray
    action_from_parent: np.ndarray
    children_index: np.ndarray
    children_prior_logits: np.ndarray
    children_visits: np.ndarray
    children_rewards: np.ndarray
    children_discounts: np.ndarray
    children_values: np.ndarray
    root_invalid_actions: np.ndarray
    embeddings: Any = field(default=None)

    @classmethod
    def empty(cls, batch_size: int, num_nodes: int, num_actions: int,
              dtype: Any = np.float64) -> SearchTree:
        """All nodes unused (parents -1, children -1, zeros elsewhere).

        ``batch_size``, ``num_nodes``, ``num_actions``: ints >= 1; ``dtype``: float32 or
        float64 (of the value fields).
        """
        sizes = {"batch_size": batch_size, "num_nodes": num_nodes, "num_actions": num_actions}
        for k, v in sizes.items():
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{k} must be an int, got {type(v).__name__} {v!r}")
            if v < 1:
                raise ValueError(f"{k} must be >= 1, got {v}")
        B, N, A = int(batch_size), int(num_nodes), int(num_actions)
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"dtype must be float32 or float64, got {dt}")
        return cls(
            node_visits=np.zeros((B, N), np.int32), raw_values=np.zeros((B, N), dt),
            node_values=np.zeros((B, N), dt), parents=np.full((B, N), -1, np.int32),
            action_from_parent=np.full((B, N), -1, np.int32),
            children_index=np.full((B, N, A), -1, np.int32),
            children_prior_logits=np.zeros((B, N, A), dt),
            children_visits=np.zeros((B, N, A), np.int32),
            children_rewards=np.zeros((B, N, A), dt),
            children_discounts=np.zeros((B, N, A), dt),
            children_values=np.zeros((B, N, A), dt),
            root_invalid_actions=np.zeros((B, A), bool),
        )

    @property
    def batch_size(self) -> int:
        return self.node_visits.shape[0]

    @property
    def num_nodes(self) -> int:
        return self.node_visits.shape[1]

    @property
    def num_actions(self) -> int:
        return self.children_index.shape[-1]

    def qvalues(self, index: Any = 0) -> np.ndarray:
        """``[B, A]`` q of the children of node ``index[b]``: ``r + gamma * V(child)``."""
        idx = np.broadcast_to(np.asarray(index), (self.batch_size,))
        b = np.arange(self.batch_size)
        return (self.children_rewards[b, idx] + self.children_discounts[b, idx]
                * self.children_values[b, idx])

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tree in edge-on-child form: ``(parent, r, g)``, each ``[B, N]``.

        ``r[b, i] = children_rewards[b, parents[b, i], action_from_parent[b, i]]`` (0 at
        the root and unused slots), likewise ``g``; ready for :func:`reduce_up` etc.
        """
        b = np.arange(self.batch_size)[:, None]
        p = np.maximum(self.parents, 0)
        a = np.maximum(self.action_from_parent, 0)
        used = self.parents >= 0
        r = np.where(used, self.children_rewards[b, p, a], 0.0)
        g = np.where(used, self.children_discounts[b, p, a], 0.0)
        return self.parents.copy(), r.astype(self.node_values.dtype), g.astype(
            self.node_values.dtype)

    def value_identity_gap(self) -> float:
        """max |node_values - reduce_up(mean, w=visits, self=raw value)| over used nodes.

        The incremental MCTS backups equal one visit-weighted bottom-up pass whenever no
        node was re-expanded at a depth cut-off; this returns how far they are apart.
        """
        parent, r, g = self.edge_arrays()
        w = self.node_visits.astype(self.node_values.dtype)
        V = reduce_up(parent, self.raw_values, r, g, w=w, op="mean",
                      self_value=self.raw_values, self_weight=np.ones_like(w))
        used = self.node_visits > 0
        return float(np.max(np.abs(V - self.node_values)[used])) if used.any() else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Field name -> array (mctx's ``Tree`` names)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
