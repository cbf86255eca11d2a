"""Shared toy substrates: Toy2DDiffusion training/sampling time and its quality bar;
PointReach environment steps/s and the PPO bar.

    PYTHONPATH=. python benchmarks/bench_substrates.py            # writes results/substrates.md
    PYTHONPATH=. python benchmarks/bench_substrates.py --quick    # 1 repeat, no file
    PYTHONPATH=. python benchmarks/bench_substrates.py --only pointreach   # that section only

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

PointReach (``creditlab.envs.PointReachBatch`` / ``PointReachEnv``, one core):

- steps/s of the gymnasium environment (one env, ``step`` through the API) and of the
  batch (numpy over ``n`` environments, random actions, auto-reset), with state
  observations and with 16x16 frames (plain, and with 3 distractors and colour noise);
  target: 1e5 batched state steps/s on one core;
- the PPO bar: ``train_ppo(PPOConfig(seed=s))`` on the single-stage task, then the success
  rate of the deterministic policy on 500 evaluation episodes; bar >= 0.95 in < 30 s.

Each repeat runs every measurement once, in turn (interleaved).
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


def _rate(make, n_steps: int) -> tuple[float, float]:
    """Steps/s (wall) and CPU s per 1e6 steps of ``n_steps`` calls of ``make()``'s step."""
    step, per_call = make()
    step()  # warm
    w, c = time.perf_counter(), time.process_time()
    for _ in range(n_steps):
        step()
    w, c = time.perf_counter() - w, time.process_time() - c
    return per_call * n_steps / w, c / (per_call * n_steps) * 1e6


def pointreach(repeat: int) -> list[str]:
    from creditlab.algos import PPOConfig, evaluate_policy, train_ppo
    from creditlab.envs import PointReachBatch, PointReachEnv

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    def single(**kw):
        env = PointReachEnv(**kw)
        env.reset(seed=0)
        acts = rng.uniform(-1, 1, (64, 2)).astype(np.float32)
        k = [0]

        def step():
            _, _, term, _, _ = env.step(acts[k[0] % 64])
            k[0] += 1
            if term:
                env.reset()
        return step, 1

    def batch(n, **kw):
        b = PointReachBatch(n, seed=0, **kw)
        acts = rng.uniform(-1, 1, (8, n, 2))
        k = [0]

        def step():
            b.step(acts[k[0] % 8])
            k[0] += 1
        return step, n

    cases = [
        ("single env (gymnasium API), state", lambda: single(), 3000),
        ("single env (gymnasium API), 16x16 frames", lambda: single(obs="pixels"), 2000),
        ("batch n = 256, state", lambda: batch(256), 400),
        ("batch n = 4096, state", lambda: batch(4096), 100),
        ("batch n = 4096, arm, state", lambda: batch(4096, body="arm"), 100),
        ("batch n = 1024, 16x16 frames", lambda: batch(1024, obs="pixels"), 50),
        ("batch n = 1024, 16x16 frames + 3 distractors + noise",
         lambda: batch(1024, obs="pixels", distractors=3, colour_noise=0.1), 20),
        ("batch n = 256, 32x32 frames", lambda: batch(256, obs="pixels", size=32), 50),
    ]
    rec: dict[str, list] = {c[0]: [] for c in cases}
    ppo: list[tuple[float, float, float]] = []
    load0 = _load()
    for r in range(repeat):
        for label, make, n_steps in cases:
            rec[label].append(_rate(make, n_steps))
        c0 = time.process_time()
        res = train_ppo(PPOConfig(seed=r))
        cpu = time.process_time() - c0
        ppo.append((res.seconds, cpu, evaluate_policy(res.policy, 500, seed=123)[0]))
    load1 = _load()
    lines = [
        "## PointReach",
        "",
        f"One core (numpy; torch 1 thread for PPO), {repeat} interleaved repeats; load "
        f"{load0} -> {load1}. Random actions, auto-reset (single env: reset on "
        "termination). Target: 1e5 batched state steps/s on one core.",
        "",
        "| what | steps/s (median) | min-max | CPU s per 1e6 steps (median) |",
        "|---|---|---|---|",
    ]
    for label, _, _ in cases:
        a = np.array(rec[label])
        lines.append(f"| {label} | {np.median(a[:, 0]):,.0f} | {a[:, 0].min():,.0f}-"
                     f"{a[:, 0].max():,.0f} | {np.median(a[:, 1]):.2f} |")
    p = np.array(ppo)
    lines += [
        "",
        "PPO bar (``train_ppo(PPOConfig(seed=s))``, single-stage task, 60 iterations x 64 "
        "envs x 32 steps = 122,880 env steps; success of the deterministic policy on 500 "
        "evaluation episodes): bar >= 0.95 in < 30 s.",
        "",
        "| seed | wall s | CPU s | success |",
        "|---|---|---|---|",
    ]
    for r, (w, c, sr) in enumerate(ppo):
        lines.append(f"| {r} | {w:.1f} | {c:.1f} | {sr:.3f} |")
    met = bool((p[:, 2] >= 0.95).all() and (p[:, 0] < 30).all())
    lines += ["", f"Median wall {np.median(p[:, 0]):.1f} s (min-max {p[:, 0].min():.1f}-"
              f"{p[:, 0].max():.1f}); bar {'met' if met else 'NOT met'} on every seed."]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, no file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("diffusion", "pointreach"),
                    help="run one section and replace it in the results file")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "substrates.md")
    args = ap.parse_args()
    repeat = 1 if args.quick else args.repeat
    header = [f"# Shared substrates benchmark ({platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs, torch {torch.__version__})", ""]
    sections = {}
    if args.only in (None, "diffusion"):
        sections["## Toy2DDiffusion"] = diffusion(repeat)[0]
    if args.only in (None, "pointreach"):
        sections["## PointReach"] = pointreach(repeat)
    if args.only and args.out.exists():  # keep the file's other sections as they are
        old: dict[str, list[str]] = {}
        cur = None
        for line in args.out.read_text().splitlines()[2:]:
            if line.startswith("## "):
                cur = line
            if cur is not None:
                old.setdefault(cur, []).append(line)
        sections = {k: sections.get(k, old.get(k, []))
                    for k in dict.fromkeys([*old, *sections])}
    lines = header
    for body in sections.values():
        while body and not body[-1].strip():
            body = body[:-1]
        lines += body + [""]
    text = "\n".join(lines).rstrip() + "\n"
    print(text)
    if not args.quick:
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
