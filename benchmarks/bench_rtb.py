"""Benchmark the RLB value DP: C++ kernel (1 and all threads) against the numpy reference.

    OMP_NUM_THREADS=<n> python benchmarks/bench_rtb.py [--quick] [--repeats R]

T = 1000, B in {1e4, 3e4, 1e5}, campaign 1458's train market-price p.m.f. (synthetic
profile), theta_avg = its train CTR, early stop on. The numpy reference (vectorised over b,
a loop over delta) runs on one thread. Ratios, not seconds, are the result: the machine is
shared. Writes benchmarks/results/rtb.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from creditlab import _backend, rtb


def best_of(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def set_threads(n: int) -> None:
    # the pybind module has no setter; OpenMP reads omp_set_num_threads via ctypes
    import ctypes
    import ctypes.util

    lib = ctypes.util.find_library("gomp")
    if lib:
        ctypes.CDLL(lib).omp_set_num_threads(n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="B = 1e4 only, numpy at B = 1e4")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    train, _ = rtb.generate("1458", 200_000, 0, seed=0)
    m, theta = rtb.market_price_pdf(train), train.info["ctr"]
    T = 1000
    Bs = [10_000] if args.quick else [10_000, 30_000, 100_000]
    threads = _backend._C.max_threads() if _backend._C is not None else 1
    rows = []
    for B in Bs:
        set_threads(1)
        c1 = best_of(lambda B=B: rtb.value_dp(T, B, m, theta), args.repeats)
        set_threads(threads)
        cn = best_of(lambda B=B: rtb.value_dp(T, B, m, theta), args.repeats)
        npy = (best_of(lambda B=B: rtb.value_dp_reference(T, B, m, theta), 1)
               if B <= 30_000 else float("nan"))
        v = rtb.value_dp(T, B, m, theta)
        rows.append((B, npy, c1, cn, v.VB[T - 1]))
        print(f"B={B:>6}: numpy {npy:7.2f} s  C++ 1 thread {c1:6.2f} s  C++ {threads} threads "
              f"{cn:6.2f} s  numpy/C++1 {npy / c1:5.1f}x  1/{threads} threads {c1 / cn:4.2f}x",
              flush=True)
    lines = [
        "# RLB value DP: C++ kernel vs numpy reference",
        "",
        f"`python benchmarks/bench_rtb.py` on {platform.machine()} ({os.cpu_count()} CPUs, "
        f"{threads} OpenMP threads), T = {T}, campaign-1458 synthetic p.m.f., early stop on. "
        "Best of repeats. The machine is shared with other jobs: compare ratios.",
        "",
        "| B | numpy reference (s) | C++ 1 thread (s) | C++ all threads (s) | numpy / C++ 1 thr "
        "| 1 thr / all thr | V(T-1, B) |",
        "|---|---|---|---|---|---|---|",
    ]
    for B, npy, c1, cn, vb in rows:
        ratio = f"{npy / c1:.1f}x" if np.isfinite(npy) else "(numpy not run)"
        lines.append(f"| {B} | {npy:.2f} | {c1:.2f} | {cn:.2f} | {ratio} | {c1 / cn:.2f}x "
                     f"| {vb:.6f} |")
    out = Path(__file__).with_name("results") / "rtb.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
