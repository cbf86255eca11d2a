"""Clip / Delta / G-RA: vectorised numpy (creditlab.shaping) against the plain loops.

    PYTHONPATH=. python benchmarks/bench_process_rewards.py

Prints and writes benchmarks/results/process_rewards.md: median times over repeats in one
run and the speed-up ratio of the library over its reference loop. No C++ kernel: these
transforms are elementwise or a shift along time, which numpy does without a Python loop.
"""

from __future__ import annotations

import timeit
from pathlib import Path

import numpy as np

from creditlab import reference
from creditlab.shaping import clip_process, delta_process, gated_accumulate


def median_time(fn, repeat: int = 5) -> float:
    return float(np.median(timeit.repeat(fn, number=1, repeat=repeat)))


def bench(B: int, T: int) -> list[tuple[str, str, float, float, float]]:
    rng = np.random.default_rng(0)
    r = rng.uniform(-1, 1, (B, T))
    m = rng.random((B, T)) < 0.3  # step-end tokens
    o = rng.random(B)
    cases = {
        "clip_process": (lambda: clip_process(r, 0.8, response_mask=m),
                         lambda: reference.clip_process(r, 0.8, response_mask=m)),
        "delta_process": (lambda: delta_process(r, response_mask=m),
                          lambda: reference.delta_process(r, response_mask=m)),
        "gated_accumulate": (lambda: gated_accumulate(r, o, 0.5, response_mask=m),
                             lambda: reference.gated_accumulate(r, o, 0.5, response_mask=m)),
    }
    rows = []
    for name, (lib, ref) in cases.items():
        np.testing.assert_allclose(lib(), ref())
        t_lib, t_ref = median_time(lib), median_time(ref, repeat=3)
        rows.append((name, f"{B}x{T}", t_lib * 1e3, t_ref * 1e3, t_ref / t_lib))
    return rows


def main() -> None:
    rows = bench(64, 64) + bench(256, 512)
    lines = ["| function | B x T | creditlab (ms) | reference loop (ms) | speed-up |",
             "|---|---|---|---|---|"]
    lines += [f"| {n} | {s} | {a:.3f} | {b:.1f} | {c:.0f}x |" for n, s, a, b, c in rows]
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).with_name("results") / "process_rewards.md"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
