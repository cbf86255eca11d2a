"""Where the time of one CUDA ``creditlab.gae`` call goes: host dispatch vs kernels.

bench_returns.py --device cuda times each call between two CUDA events, so a call whose
host side (validation, allocation, dispatch in Python) takes longer than its kernels is
measured as host time. This script separates the two, on a GPU:

- *call*: CUDA events around one call, synchronised after each (bench_returns' number);
- *queued*: events around 50 back-to-back calls, divided by 50 (host and device overlap);
- *kernels*: the device time of the kernels one call launches (torch.profiler), and the
  bandwidth that gives (17 bytes per element: r, V, flag read; A, R written);
- a cProfile of the host side of one call, the functions that take its time.

    PYTHONPATH=. python benchmarks/cuda_call_profile.py [--out FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_returns import CUDA_BYTES_PER_ELEMENT, GAMMA, LAM, cuda_time, make_problem  # noqa: E402

SHAPES = [(256, 4096), (1024, 1024), (64, 32768), (4096, 32768), (16384, 8192), (1, 1 << 20)]


def main() -> int:
    import torch
    from torch.profiler import ProfilerActivity, profile

    import creditlab

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    dev = torch.device("cuda")
    lines = [f"# One CUDA gae call: host vs kernels ({torch.cuda.get_device_name(dev)})", "",
             "| B x T | call (events, sync each) | queued (50 back to back) / call | "
             "kernels / call | kernel GB/s |", "|---|---:|---:|---:|---:|"]
    for B, T in SHAPES:
        p = make_problem(B, T)
        r, v, d = (torch.from_numpy(a).to(dev) for a in (p.rewards, p.values, p.terminated))
        out = (torch.empty_like(r), torch.empty_like(r))

        def call(r=r, v=v, d=d, out=out) -> None:
            creditlab.gae(r, v, GAMMA, LAM, terminated=d, out=out)

        t_call = cuda_time(call, 20)

        def queued(call=call) -> None:
            for _ in range(50):
                call()

        t_queued = cuda_time(queued, 5, warmup=1) / 50
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(10):
                call()
            torch.cuda.synchronize()
        kern = [e for e in prof.key_averages() if e.device_type.name == "CUDA"]
        t_kern = sum(e.self_device_time_total for e in kern) / 10 / 1e6
        names = ", ".join(sorted({e.key[:40] for e in kern}))
        gbs = CUDA_BYTES_PER_ELEMENT * B * T / t_kern / 1e9 if t_kern > 0 else float("nan")
        lines.append(f"| {B} x {T} | {t_call * 1e6:.1f} us | {t_queued * 1e6:.1f} us | "
                     f"{t_kern * 1e6:.1f} us | {gbs:.0f} |")
        print(lines[-1], "kernels:", names, flush=True)
        del r, v, d, out
        torch.cuda.empty_cache()

    B, T = 256, 4096
    p = make_problem(B, T)
    r, v, d = (torch.from_numpy(a).to(dev) for a in (p.rewards, p.values, p.terminated))
    out = (torch.empty_like(r), torch.empty_like(r))
    for _ in range(20):
        creditlab.gae(r, v, GAMMA, LAM, terminated=d, out=out)
    torch.cuda.synchronize()
    n = 2000
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        creditlab.gae(r, v, GAMMA, LAM, terminated=d, out=out)
    pr.disable()
    torch.cuda.synchronize()
    s = io.StringIO()
    stats = pstats.Stats(pr, stream=s).sort_stats("tottime")
    total = statistics.fmean([stats.total_tt / n])
    stats.print_stats(25)
    lines += ["", f"Host side at {B} x {T} under cProfile: {total * 1e6:.1f} us per call "
              "(profiling inflates it); top functions by own time:", "", "```",
              *s.getvalue().strip().splitlines()[-32:], "```"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
