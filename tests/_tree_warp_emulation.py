"""numpy emulation of the warp-per-tree CUDA kernels in ``csrc/cuda/trees.cu``.

A warp is 32 lanes; every ``__shfl_sync`` / ``__match_any_sync`` / cursor update is written
out as the vector operation it performs, step for step, so the decomposition (chunked
depth by pointer jumping, stable counting sorts, deepest-depth-first pulls) runs and is
tested on a machine without a GPU. Float arithmetic is done on numpy scalars of the
kernel's dtype, in the kernel's order. :class:`FakeCudaModule` exposes the ``_C.cuda_tree_*``
entry points on top of it, reading and writing host memory at the pointers it is given
(torch CPU tensors standing in for CUDA ones), so the real dispatch code can be driven
end to end.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np

from creditlab import tree_reference as ref

W = 32
LANES = np.arange(W)


def structure(parent: np.ndarray) -> dict:
    """build_structure for one tree (local parent array), with its invariants asserted;
    ``conn`` is the connectivity flag the pointer jumps carry along with the depth."""
    n = len(parent)
    depth = np.zeros(n, np.int64)
    conn = np.zeros(n, bool)
    for c0 in range(0, n, W):
        i = c0 + LANES
        valid = i < n
        p = np.where(valid, parent[np.minimum(i, n - 1)], -1)
        anchor = np.where(p >= c0, p - c0, -1)
        d = np.where(p >= c0, 1, np.where(p >= 0, depth[np.maximum(p, 0)] + 1, 0))
        f = np.where((p >= 0) & (p < c0), conn[np.maximum(p, 0)], i == 0)
        for _ in range(5):  # shfl reads every lane's value before any lane updates
            src = np.where(anchor >= 0, anchor, LANES)
            da, aa, fa = d[src], anchor[src], f[src]
            has = anchor >= 0
            d = np.where(has, d + da, d)
            f = np.where(has, fa, f)
            anchor = np.where(has, aa, anchor)
        assert np.all(anchor < 0), "five doubling rounds resolve any in-chunk chain"
        depth[i[valid]] = d[valid]
        conn[i[valid]] = f[valid]
    assert conn.tolist() == ref.connected(parent)
    maxd = int(depth.max()) if n else 0
    ccount = np.zeros(n, np.int64)
    lend = np.zeros(n, np.int64)
    for i in range(n):  # integer atomics: the order does not matter
        if parent[i] >= 0:
            ccount[parent[i]] += 1
        lend[depth[i]] += 1
    cend = np.concatenate([[0], np.cumsum(ccount)[:-1]]) if n else ccount.copy()
    lend[: maxd + 1] = np.concatenate([[0], np.cumsum(lend[: maxd + 1])[:-1]])
    child = np.full(n, -1, np.int64)
    order = np.full(n, -1, np.int64)
    for c0 in range(0, n, W):
        i = np.arange(c0, min(c0 + W, n))
        for key, cursor, out, use in ((parent[i], cend, child, parent[i] >= 0),
                                      (depth[i], lend, order, np.ones(len(i), bool))):
            eq = key[:, None] == key[None, :]  # __match_any_sync
            rank = np.tril(eq, -1).sum(1)  # popc(mask & lanes below)
            size = eq.sum(1)
            pos = cursor[np.where(use, key, 0)] + rank  # every lane reads before the leader writes
            out[pos[use]] = i[use]
            leader = use & (rank == 0)
            cursor[key[leader]] = pos[leader] + size[leader]
    assert sorted(order.tolist()) == list(range(n))
    for v in range(n):  # children in ascending index order, nothing lost
        kids = child[cend[v] - ccount[v]: cend[v]]
        assert kids.tolist() == [c for c in range(n) if parent[c] == v]
    return dict(depth=depth, ccount=ccount, cend=cend, child=child, order=order, lend=lend,
                maxd=maxd, conn=conn)


def levels(s: dict):
    """Depths from the deepest to 0, each as the nodes the lanes process."""
    for d in range(s["maxd"], -1, -1):
        lo = s["lend"][d - 1] if d else 0
        yield s["order"][lo: s["lend"][d]]


def children_desc(s: dict, i: int) -> np.ndarray:
    return s["child"][s["cend"][i] - s["ccount"][i]: s["cend"][i]][::-1]


def _nanmax(a, b):
    return a if math.isnan(a) else b if math.isnan(b) else (b if b > a else a)


def _nanmin(a, b):
    return a if math.isnan(a) else b if math.isnan(b) else (b if b < a else a)


def reduce_up_tree(parent, leaf_value, r, g, w, v_self, w_self, T, op, dtype) -> np.ndarray:
    """reduce_up_kernel for one tree; op codes as csrc/trees.h (0 mean .. 4 lse)."""
    F = np.dtype(dtype).type
    n = len(parent)
    s = structure(parent)
    V = np.zeros(n, dtype)
    done = np.zeros(n, bool)
    inf = F(np.inf)
    init = {2: -inf, 3: inf, 4: -inf}.get(op, F(0))
    T = F(T)
    with np.errstate(all="ignore"):
        for nodes in levels(s):
            for i in nodes:
                acc, ws = init, F(0)
                for c in children_desc(s, i):
                    assert done[c], "a child is final before its parent pulls it"
                    wi = F(1) if w is None else F(w[c])
                    if not wi > 0:
                        continue
                    q = (F(0) if r is None else F(r[c])) + (F(1) if g is None else F(g[c])) * V[c]
                    ws = F(ws + wi)
                    if op in (0, 1):
                        acc = F(acc + wi * q)
                    elif op == 2:
                        acc = _nanmax(acc, q)
                    elif op == 3:
                        acc = _nanmin(acc, q)
                    else:
                        z, a = F(np.log(wi) + q / T), acc
                        if math.isnan(a) or math.isnan(z):
                            acc = F(np.nan)
                        elif a == -inf:
                            acc = z
                        elif z == -inf:
                            acc = a
                        else:
                            m = a if a > z else z
                            acc = F(m + np.log(np.exp(a - m) + np.exp(z - m)))
                if not ws > 0:
                    V[i] = leaf_value[i]
                elif op == 0:
                    sw = F(0) if w_self is None else F(w_self[i])
                    sv = F(0) if v_self is None else F(v_self[i])
                    V[i] = (sw * sv + acc) / (sw + ws)
                elif op == 4:
                    V[i] = T * acc
                else:
                    V[i] = acc
                assert not done[i]
                done[i] = True
    assert done.all()
    return V


def _warp_sum(x: np.ndarray, n: int) -> float:
    """Lane partial sums over a stride of 32, then the xor-shuffle butterfly."""
    part = np.zeros(W)
    for lane in range(W):
        for i in range(lane, n, W):
            part[lane] += x[i]
    for o in (16, 8, 4, 2, 1):
        part = part + part[LANES ^ o]
    assert np.all((part == part[0]) | np.isnan(part))
    return float(part[0])


def prefix_advantages_tree(parent, x, is_leaf, mode, loo, sqrt_scale, eps) -> np.ndarray:
    """prefix_advantages_kernel for one tree (float64; mode 0 treerl, 1 treerl_code, 2 fork)."""
    n = len(parent)
    s = structure(parent)
    conn = s["conn"]  # nodes not connected to node 0 are no leaves and get 0
    leaf = conn & ((s["ccount"] == 0) if is_leaf is None else np.asarray(is_leaf, bool))
    k = int(leaf.sum()) if loo else 0
    tot = _warp_sum(np.where(leaf, x, 0.0), n) if loo else 0.0
    use = loo and k > 1
    km1 = float(k - 1 if k > 1 else 1)
    cnt, mean, m2 = np.zeros(n), np.zeros(n), np.zeros(n)
    with np.errstate(all="ignore"):
        for nodes in levels(s):
            for i in nodes:
                c = mu = q2 = 0.0
                for ch in children_desc(s, i):
                    nb = cnt[ch]
                    if nb == 0:
                        continue
                    nn, dd = c + nb, mean[ch] - mu
                    mu += dd * nb / nn
                    q2 += m2[ch] + dd * dd * c * nb / nn
                    c = nn
                if leaf[i]:
                    xi = x[i] - (tot - x[i]) / km1 if use else x[i]
                    nn, dd = c + 1, xi - mu
                    mu += dd / nn
                    q2 += dd * (xi - mu)
                    c = nn
                cnt[i], mean[i], m2[i] = c, mu, q2
        out = np.zeros(n)
        if mode == 2:
            smean, sstd = np.zeros(n), np.zeros(n)
            for i in range(n):
                kids = s["child"][s["cend"][i] - s["ccount"][i]: s["cend"][i]]
                if len(kids) == 0:
                    continue
                tot_k = 0.0
                for c in kids:
                    tot_k += mean[c]
                smean[i] = tot_k / len(kids)
                sq = 0.0
                for c in kids:
                    sq += (mean[c] - smean[i]) ** 2
                sstd[i] = math.sqrt(sq / len(kids))
            for i in range(n):
                p = parent[i]
                ok = conn[i] and p >= 0 and s["ccount"][p] >= 2
                out[i] = (mean[i] - smean[p]) / (sstd[p] + eps) if ok else 0.0
            return out
        for i in range(n):
            if not conn[i]:
                continue
            p = parent[i]
            L = mean[i] - mean[p] if p >= 0 else 0.0
            o = (mean[i] - mean[0] + L) if mode == 0 else (L + mean[i])
            if sqrt_scale:
                o = o / math.sqrt(max(cnt[i], 1.0))
            out[i] = o
    return out


# --------------------------------------------------------------------------------------
# A stand-in for the compiled module's CUDA entry points, over host memory.


def _view(ptr: int, dtype, n: int) -> np.ndarray | None:
    if ptr == 0:
        return None
    ct = np.ctypeslib.as_ctypes_type(np.dtype(dtype))
    return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ct)), shape=(n,))


class FakeCudaModule:
    """``_C`` with built_with_cuda, one device, and ``cuda_tree_*`` entry points that record
    their arguments and run the emulation on the memory the pointers address."""

    built_with_cuda = True
    cuda_tree_iwork_per_node = 6

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def cuda_device_count(self) -> int:
        return 1

    def __getattr__(self, name: str):
        if name.startswith("cuda_tree_"):
            kind, _, suffix = name[len("cuda_tree_"):].rpartition("_")
            dtype = np.float32 if suffix == "f32" else np.float64
            return lambda *a: self._run(name, kind, dtype, a)
        raise AttributeError(name)

    def _trees(self, parent_ptr, ptr_ptr, B):
        tp = _view(ptr_ptr, np.int64, B + 1).copy()
        parent = _view(parent_ptr, np.int32, int(tp[-1])).copy()
        return parent, tp

    def _run(self, name, kind, dtype, a):
        self.calls.append((name, a))
        if kind == "backup_path":
            parent, r, g, V, N, tptr, B, leaf, v_leaf, op, _stream = a
            par, tp = self._trees(parent, tptr, B)
            M = int(tp[-1])
            rr, gg = _view(r, dtype, M), _view(g, dtype, M)
            VV, NN = _view(V, dtype, M), _view(N, np.int32, M)
            lf, vl = _view(leaf, np.int32, B), _view(v_leaf, dtype, B)
            names = {0: "mean", 1: "sum", 2: "max", 3: "min"}
            for b in range(B):
                s = slice(int(tp[b]), int(tp[b + 1]))
                v = VV[s].astype(np.float64)
                ref.backup_path(par[s], rr[s], gg[s], v, NN[s], int(lf[b]), float(vl[b]),
                                names[op])
                VV[s] = v
        elif kind == "reduce_up":
            (parent, lv, r, g, w, vs, wsf, T, op, tptr, B, M, out, iwork, _stream) = a
            par, tp = self._trees(parent, tptr, B)
            assert int(tp[-1]) == M
            assert _view(iwork, np.int32, 6 * M) is not None or M == 0
            arr = [_view(x, dtype, M) for x in (lv, r, g, w, vs, wsf)]
            o = _view(out, dtype, M)
            for b in range(B):
                s = slice(int(tp[b]), int(tp[b + 1]))
                part = [None if x is None else x[s] for x in arr]
                o[s] = reduce_up_tree(par[s], *part, T, op, dtype)
        elif kind == "prefix_advantages":
            (parent, x, il, mode, loo, sq, eps, tptr, B, M, out, iwork, fwork, _stream) = a
            par, tp = self._trees(parent, tptr, B)
            xx, o = _view(x, np.float64, M), _view(out, np.float64, M)
            flags = _view(il, np.uint8, M)
            for b in range(B):
                s = slice(int(tp[b]), int(tp[b + 1]))
                o[s] = prefix_advantages_tree(par[s], xx[s], None if flags is None else
                                              flags[s] != 0, mode, loo, sq, eps)
        else:
            raise AttributeError(name)
