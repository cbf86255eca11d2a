"""A numpy emulation of the chunked parallel scan in csrc/cuda/scan.cu.

It mirrors the CUDA code structure for structure, so that the decomposition (element
maps, their composition, the block-wide Hillis-Steele suffix scan, tiles of
``threads * items`` steps, chunks of whole tiles with their composed maps, and the exact
sequential step each thread runs from its carry) can be tested against
:mod:`creditlab.reference` on a machine without a GPU. Arrays are batch-major [B, T]
(the CUDA layouts differ only in the index function). Arithmetic is done with numpy
scalars of the input dtype; ``fma`` rounds once for float32 (the float64 product of two
float32 is exact) and is an ordinary multiply-add for float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def scan_tolerance(dtype: Any, T: int, scale: np.ndarray) -> np.ndarray:
    """Elementwise tolerance of a reassociated scan against a sequential one.

    ``16 * eps * sqrt(T + 1) * scale`` with ``scale`` a bound on the partial sums'
    magnitude at each position (see :func:`magnitude_bound`).
    """
    eps = np.finfo(dtype).eps
    return 16 * eps * math.sqrt(T + 1) * scale


def magnitude_bound(*arrays: np.ndarray, discount: float, T: int) -> np.ndarray:
    """Per-row bound on |partial sums|: (1 + sum of each input's max |x|) * min(T+1, 1/(1-d))."""
    m = np.ones(arrays[0].shape[0])
    for a in arrays:
        if a is not None and a.size:
            finite = np.where(np.isfinite(a), np.abs(a), 0.0)
            m = m + finite.reshape(a.shape[0], -1).max(axis=1)
    horizon = T + 1 if discount >= 1 else min(T + 1, 1.0 / (1.0 - discount))
    return (m * horizon)[:, None]


def _fma(x: Any, y: Any, z: Any, dtype: Any) -> Any:
    if dtype == np.float32:
        return np.float32(np.float64(x) * np.float64(y) + np.float64(z))
    return dtype(x * y + z)


@dataclass
class Returns:
    """Sum-form returns (ReturnsOp)."""

    r: np.ndarray
    gamma: float
    term: np.ndarray | None = None
    trunc: np.ndarray | None = None
    nv: np.ndarray | None = None
    boot: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.dt = self.r.dtype.type
        self.g = self.dt(self.gamma)
        self.out = np.zeros_like(self.r)

    def init(self, b: int) -> Any:
        T = self.r.shape[1]
        if self.nv is not None:
            return self.nv[b, T - 1]
        return self.boot[b] if self.boot is not None else self.dt(0)

    def step(self, b: int, t: int, c: Any) -> Any:
        if self.mask is not None and not self.mask[b, t]:
            self.out[b, t] = c
            return c
        nxt = c
        if self.trunc is not None and self.trunc[b, t]:
            nxt = self.nv[b, t]
        if self.term is not None and self.term[b, t]:
            nxt = self.dt(0)
        c = _fma(self.g, nxt, self.r[b, t], self.dt)
        self.out[b, t] = c
        return c

    identity = ("id", 1.0, 0.0)

    def element(self, b: int, t: int) -> tuple:
        if self.mask is not None and not self.mask[b, t]:
            return self.identity
        r = self.r[b, t]
        if self.term is not None and self.term[b, t]:
            return ("const", 0.0, _fma(self.g, self.dt(0), r, self.dt))
        if self.trunc is not None and self.trunc[b, t]:
            return ("const", 0.0, _fma(self.g, self.nv[b, t], r, self.dt))
        return ("affine", self.g, r)

    def compose(self, o: tuple, i: tuple) -> tuple:
        if o[0] == "id":
            return i
        if i[0] == "id" or o[0] == "const":
            return o
        if i[0] == "const":
            return ("const", 0.0, _fma(o[1], i[2], o[2], self.dt))
        return ("affine", self.dt(o[1] * i[1]), _fma(o[1], i[2], o[2], self.dt))

    def apply(self, m: tuple, c: Any) -> Any:
        if m[0] == "id":
            return c
        if m[0] == "const":
            return m[2]
        return _fma(m[1], c, m[2], self.dt)


@dataclass
class Gae:
    """GAE and lambda-returns (GaeOp): carry (A, V+); map (p, q, s, u, depA, depV, constV)."""

    r: np.ndarray
    v: np.ndarray  # [B, T] or [B, T+1]
    gamma: float
    lam: float
    term: np.ndarray | None = None
    trunc: np.ndarray | None = None
    nv: np.ndarray | None = None
    boot: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.dt = self.r.dtype.type
        self.g = self.dt(self.gamma)
        self.gl = self.dt(self.g * self.dt(self.lam))
        self.adv = np.zeros_like(self.r)
        self.ret = np.zeros_like(self.r)

    def init(self, b: int) -> tuple:
        T = self.r.shape[1]
        v = self.dt(0)
        if self.v.shape[1] == T + 1:
            v = self.v[b, T]
        elif self.boot is not None:
            v = self.boot[b]
        return (self.dt(0), v)

    def _store(self, b: int, t: int, adv: Any, v: Any) -> None:
        self.adv[b, t] = adv
        self.ret[b, t] = self.dt(adv + v)

    def step(self, b: int, t: int, c: tuple) -> tuple:
        adv, vn = c
        v = self.v[b, t]
        if self.mask is not None and not self.mask[b, t]:
            self._store(b, t, adv, v)
            return c
        vnext = self.nv[b, t] if self.nv is not None else vn
        done = self.trunc is not None and bool(self.trunc[b, t])
        if self.term is not None and self.term[b, t]:
            vnext, done = self.dt(0), True
        delta = self.dt(_fma(self.g, vnext, self.r[b, t], self.dt) - v)
        adv = delta if done else _fma(self.gl, adv, delta, self.dt)
        self._store(b, t, adv, v)
        return (adv, v)

    identity = ("id",)

    def element(self, b: int, t: int) -> Any:
        if self.mask is not None and not self.mask[b, t]:
            return self.identity
        v, r = self.v[b, t], self.r[b, t]
        term = self.term is not None and bool(self.term[b, t])
        done = term or (self.trunc is not None and bool(self.trunc[b, t]))
        p = q = None  # None: no dependence (a cut, not a zero coefficient)
        if term:
            s = self.dt(_fma(self.g, self.dt(0), r, self.dt) - v)
        elif self.nv is not None:
            s = self.dt(_fma(self.g, self.nv[b, t], r, self.dt) - v)
        else:
            s, q = self.dt(r - v), self.g
        if not done:
            p = self.gl
        return ("map", p, q, s, v)

    def compose(self, o: Any, i: Any) -> Any:
        if o[0] == "id":
            return i
        if i[0] == "id":
            return o
        _, op, oq, os_, ou = o
        _, ip, iq, is_, iu = i
        p = q = None
        s = os_
        if op is not None:
            s = _fma(op, is_, s, self.dt)
            if ip is not None:
                p = self.dt(op * ip)
            if iq is not None:
                q = self.dt(op * iq)
        if oq is not None:
            if iu is not None:
                s = _fma(oq, iu, s, self.dt)
            else:
                q = oq if q is None else self.dt(q + oq)
        u = ou if ou is not None else iu
        return ("map", p, q, s, u)

    def apply(self, m: Any, c: tuple) -> tuple:
        if m[0] == "id":
            return c
        _, p, q, s, u = m
        adv = s
        if p is not None:
            adv = _fma(p, c[0], adv, self.dt)
        if q is not None:
            adv = _fma(q, c[1], adv, self.dt)
        return (adv, u if u is not None else c[1])


def _minp(r: Any, m: Any) -> Any:
    return r if (r < m) or (r != r) else m


@dataclass
class MinForm:
    """Min-form returns (MinFormOp): carry (m, any); map (b, has, cut)."""

    r: np.ndarray
    term: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.dt = self.r.dtype.type
        self.out = np.zeros_like(self.r)

    def init(self, b: int) -> tuple:
        return (self.dt(0), False)

    def step(self, b: int, t: int, c: tuple) -> tuple:
        m, any_ = c
        if self.mask is not None and not self.mask[b, t]:
            self.out[b, t] = m if any_ else 0
            return c
        restart = (not any_) or (self.term is not None and bool(self.term[b, t]))
        r = self.r[b, t]
        m = r if restart else _minp(r, m)
        self.out[b, t] = m
        return (m, True)

    identity = (0.0, False, False)

    def element(self, b: int, t: int) -> tuple:
        if self.mask is not None and not self.mask[b, t]:
            return self.identity
        return (self.r[b, t], True, self.term is not None and bool(self.term[b, t]))

    def compose(self, o: tuple, i: tuple) -> tuple:
        if not o[1] or o[2]:
            return o if o[1] else i
        if not i[1]:
            return o
        return (_minp(o[0], i[0]), True, i[2])

    def apply(self, m: tuple, c: tuple) -> tuple:
        if not m[1]:
            return c
        if m[2] or not c[1]:
            return (m[0], True)
        return (_minp(m[0], c[0]), True)


# --------------------------------------------------------------------------------------
# The kernels


def plan(
    B: int, T: int, time_major: bool, *, sms: int, threads: int = 256, items: int = 4,
    short_t: int = 64, wide_b: int = 2048, blocks_per_sm: int = 8,
) -> tuple[str, int, int]:
    """scan_plan: (strategy, chunks per row, chunk length)."""
    if B <= 0 or T <= 0 or T <= short_t or (time_major and B >= wide_b):
        return "sequential", 1, 0
    tile = threads * items
    tiles = -(-T // tile)
    nc = min(tiles, max(1, -(-blocks_per_sm * sms // B)))
    chunk_len = -(-tiles // nc) * tile
    return "chunked", -(-T // chunk_len), chunk_len


def _block_suffix(op: Any, maps: list) -> list:
    """Hillis-Steele inclusive suffix scan, as block_suffix (entry j = maps j..n-1)."""
    n = len(maps)
    cur = list(maps)
    off = 1
    while off < n:
        cur = [op.compose(cur[j], cur[j + off]) if j + off < n else cur[j] for j in range(n)]
        off <<= 1
    return cur


def _ranges(start: int, end: int, threads: int, items: int) -> list[tuple[int, int]]:
    return [(start + j * items, min(start + j * items + items, end)) for j in range(threads)]


def _thread_map(op: Any, b: int, lo: int, hi: int) -> Any:
    m = op.identity
    for t in range(hi - 1, lo - 1, -1):
        m = op.compose(op.element(b, t), m)
    return m


def _tiles(c0: int, c1: int, tile: int) -> list[tuple[int, int]]:
    out, end = [], c1
    while end > c0:
        out.append((max(c0, end - tile), end))
        end -= tile
    return out


def chunk_map(op: Any, b: int, c0: int, c1: int, threads: int, items: int) -> Any:
    """chunk_map_kernel for one block."""
    total = op.identity
    for start, end in _tiles(c0, c1, threads * items):
        suffix = _block_suffix(
            op, [_thread_map(op, b, lo, hi) for lo, hi in _ranges(start, end, threads, items)]
        )
        total = op.compose(suffix[0], total)
    return total


def chunk_scan(op: Any, b: int, k: int, c0: int, c1: int, maps: list, threads: int,
               items: int) -> None:
    """chunk_scan_kernel for one block: writes op's outputs for steps [c0, c1) of row b."""
    carry = op.init(b)
    for j in range(len(maps) - 1, k, -1):
        carry = op.apply(maps[j], carry)
    for start, end in _tiles(c0, c1, threads * items):
        ranges = _ranges(start, end, threads, items)
        suffix = _block_suffix(op, [_thread_map(op, b, lo, hi) for lo, hi in ranges])
        first = None
        for j, (lo, hi) in enumerate(ranges):
            c = op.apply(suffix[j + 1], carry) if j + 1 < threads else carry
            for t in range(hi - 1, lo - 1, -1):
                c = op.step(b, t, c)
            if j == 0:
                first = c
        carry = first


def run(op: Any, *, threads: int, items: int, chunk_len: int | None = None) -> None:
    """The chunked strategy over every row (``chunk_len`` None: one chunk per row)."""
    B, T = op.r.shape
    if T == 0:
        return
    chunk_len = chunk_len or -(-T // (threads * items)) * threads * items
    nc = -(-T // chunk_len)
    for b in range(B):
        maps = [None] + [  # chunk_map_kernel: every chunk but the first
            chunk_map(op, b, k * chunk_len, min(T, (k + 1) * chunk_len), threads, items)
            for k in range(1, nc)
        ]
        for k in range(nc):
            chunk_scan(op, b, k, k * chunk_len, min(T, (k + 1) * chunk_len), maps, threads,
                       items)


def run_sequential(op: Any) -> None:
    """sequential_kernel: one thread per row."""
    B, T = op.r.shape
    for b in range(B):
        c = op.init(b)
        for t in range(T - 1, -1, -1):
            c = op.step(b, t, c)
