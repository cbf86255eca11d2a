"""Shared toy substrates: Toy2DDiffusion training/sampling time and its quality bar.

    PYTHONPATH=. python benchmarks/bench_substrates.py            # writes results/substrates.md
    PYTHONPATH=. python benchmarks/bench_substrates.py --quick    # 1 repeat, no file

Diffusion (defaults of ``creditlab.models.Toy2DDiffusion``: T = 50, hidden 64, ~20k
parameters; one torch thread):

- the bar: ``fit`` on 20000 ring points (6000 steps of 512), then the unbiased MMD^2
  (RBF, bandwidth 0.1) of 2000 samples to 2000 held-out points <= 0.0012 (two data
  samples: 0.0000 +- 0.0002). Target: <= 30 s on one core;
- sampling 2000 chains with every step recorded (``sample(return_chain=True)``), and one
  ``step`` with M = 16 candidates for 256 states.

Repeats are interleaved (bar, sample, step, bar, ...) so a change of load hits every
measurement alike; the table reports medians and the min-max spread, wall and process CPU
time, and the load average (1/5/15 min) before and after.

PointReach: reserved (a later helper adds its section here; see ``main``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from creditlab.metrics import mmd2
from creditlab.models import Toy2DDiffusion, gaussian_ring

BAR_MMD, BAR_H = 0.0012, 0.1


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def diffusion(repeat: int) -> tuple[list[str], list[dict]]:
    torch.set_num_threads(1)
    x, _ = gaussian_ring(20000, seed=0)
    held, _ = gaussian_ring(2000, seed=1)
    rec: dict[str, list] = {"bar": [], "sample": [], "step": []}
    load0 = _load()
    for r in range(repeat):
        m = Toy2DDiffusion(seed=r)
        _, w, c = _timed(lambda m=m, r=r: m.fit(x, seed=r))
        s = m.sample(2000, seed=100 + r, return_chain=False).numpy()
        rec["bar"].append((w, c, mmd2(s, held, bandwidth=BAR_H)))
        _, w, c = _timed(lambda m=m: m.sample(2000, seed=7))
        rec["sample"].append((w, c, np.nan))
        xs = torch.randn(256, 2)
        _, w, c = _timed(lambda m=m, xs=xs: [m.step(xs, 25, M=16, seed=k) for k in range(10)])
        rec["step"].append((w / 10, c / 10, np.nan))
    load1 = _load()
    rows = []
    for what, label in (("bar", "fit to the bar (6000 x 512)"),
                        ("sample", "sample 2000 chains, T = 50"),
                        ("step", "step, 256 states x M = 16")):
        a = np.array(rec[what])
        rows.append({"what": label, "wall": np.median(a[:, 0]), "wmin": a[:, 0].min(),
                     "wmax": a[:, 0].max(), "cpu": np.median(a[:, 1]),
                     "mmd": a[:, 2]})
    lines = [
        "## Toy2DDiffusion",
        "",
        f"Defaults (T = 50, hidden 64, {Toy2DDiffusion().n_params:,} parameters), 1 torch "
        f"thread, {repeat} interleaved repeats (model seeds 0..{repeat - 1}); load "
        f"{load0} -> {load1}. Bar: MMD^2 (RBF, h = {BAR_H}) of 2000 samples to 2000 "
        f"held-out points <= {BAR_MMD} (two data samples: 0.0000 +- 0.0002). "
        "Target: <= 30 s on one core.",
        "",
        "| what | wall s (median) | wall min-max | CPU s (median) | MMD^2 per seed |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        mm = ("" if np.isnan(r["mmd"]).all() else
              " ".join(f"{v:.4f}" for v in r["mmd"]) +
              (" (all met)" if (r["mmd"] <= BAR_MMD).all() else " (NOT all met)"))
        lines.append(f"| {r['what']} | {r['wall']:.3f} | {r['wmin']:.3f}-{r['wmax']:.3f} | "
                     f"{r['cpu']:.3f} | {mm} |")
    return lines, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, no file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "substrates.md")
    args = ap.parse_args()
    repeat = 1 if args.quick else args.repeat
    lines = [f"# Shared substrates benchmark ({platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, torch {torch.__version__})", ""]
    lines += diffusion(repeat)[0]
    # ---- PointReach: reserved for its section (issue #17, second half) ----
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
