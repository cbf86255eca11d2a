"""TinyTextLM throughput and the wall time of "pre-train corpus (a) to the bar".

    PYTHONPATH=. python benchmarks/bench_tinylm.py            # writes results/tinylm.md
    PYTHONPATH=. python benchmarks/bench_tinylm.py --quick    # fewer repeats, no file

At the sizes the chapters use (2-digit arithmetic with thoughts, vocabulary 22, hidden 96,
about 40k parameters):

- training: one SFT step (forward + backward + Adam) on 256 sequences (~17 positions);
  tokens/s counts every position processed (prompt and response);
- sampling: 128 responses (16 prompts x 8) of up to 10 tokens; tokens/s counts sampled
  tokens;
- the bar: 600 SFT steps of 256 on corpus (a) (seed 0, lr 1e-2 cosine), then greedy exact
  match on 500 held-out problems >= 0.75 and perplexity <= 1.15 (on seeds 1-4, not used
  here: exact match 0.85-0.98, perplexity <= 1.09). Target: <= 20 s on one core.

Throughput on 1 and 2 torch threads; the bar on 1 (``--bar-threads 1 2`` adds 2). The
machine may be shared: the table records the load average (os.getloadavg) before and
after each measurement, and the process CPU time beside the wall time (on a loaded
machine CPU time is the better guide to what one free core would take).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from creditlab.algos import checker_accuracy, perplexity, sft_train
from creditlab.models import ArithmeticCorpus, TinyTextLM, pad_sequences

CORPUS = ArithmeticCorpus(2, thoughts=True)
BAR_ACC, BAR_PPL, BAR_STEPS, BAR_BATCH = 0.75, 1.15, 600, 256


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()`` over ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus))


def throughput(threads: int, repeat: int) -> list[dict]:
    torch.set_num_threads(threads)
    P, R = CORPUS.encode(CORPUS.examples(512, seed=0))
    m = TinyTextLM(len(CORPUS.vocab), hidden=96, seed=0)
    rows = []
    # training: 10 SFT steps of 256 per call (after one warm-up call)
    _, pm = pad_sequences(P[:BAR_BATCH])
    _, rm = pad_sequences(R[:BAR_BATCH])
    positions = BAR_BATCH * (1 + pm.shape[1] + rm.shape[1])
    def train() -> None:
        sft_train(m, P, R, steps=10, batch_size=BAR_BATCH, seed=1)

    train()
    la = _load()
    w, c = timed(train, repeat)
    rows.append({"what": "train (SFT step, B=256)", "threads": threads,
                 "tok_s": 10 * positions / w, "ms": 1e3 * w / 10, "cpu_ms": 1e3 * c / 10,
                 "load": f"{la} -> {_load()}"})
    # sampling: 16 prompts x 8, up to 10 tokens
    prompts = [p for p in P[:16] for _ in range(8)]
    n_tok = []

    def sample() -> None:
        r, _, mk = m.sample(prompts, 10, temperature=1.0, seed=2)
        n_tok.append(int(mk.sum()))

    sample()
    la = _load()
    w, c = timed(sample, repeat)
    rows.append({"what": "sample (B=128, T<=10)", "threads": threads,
                 "tok_s": float(np.median(n_tok)) / w, "ms": 1e3 * w, "cpu_ms": 1e3 * c,
                 "load": f"{la} -> {_load()}"})
    return rows


def bar(threads: int) -> dict:
    torch.set_num_threads(threads)
    P, R = CORPUS.encode(CORPUS.examples(20000, seed=0))
    Pt, Rt = CORPUS.encode(CORPUS.examples(500, seed=1))
    m = TinyTextLM(len(CORPUS.vocab), hidden=96, seed=0)
    la = _load()
    w, c = time.perf_counter(), time.process_time()
    sft_train(m, P, R, steps=BAR_STEPS, batch_size=BAR_BATCH, lr=1e-2, schedule="cosine",
              seed=0)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    acc = checker_accuracy(m, CORPUS, Pt, max_len=12)
    ppl = perplexity(m, Pt, Rt)
    return {"threads": threads, "wall": wall, "cpu": cpu, "acc": acc, "ppl": ppl,
            "ok": acc >= BAR_ACC and ppl <= BAR_PPL, "load": f"{la} -> {_load()}",
            "params": m.n_params}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, no bar run, no file")
    ap.add_argument("--bar-threads", type=int, nargs="*", default=[1],
                    help="thread counts for the bar run (default 1; on a loaded 2-core "
                    "machine 2 threads run a step many times slower)")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "tinylm.md")
    args = ap.parse_args()
    repeat = 1 if args.quick else 3
    rows = [r for t in (1, 2) for r in throughput(t, repeat)]
    bars = [] if args.quick else [bar(t) for t in args.bar_threads]
    lines = [
        f"# TinyTextLM benchmark ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__})",
        "",
        "Load average (1/5/15 min) is recorded before -> after each measurement: the "
        "machine is shared.",
        "",
        "| what | threads | tokens/s | wall ms per step/call | CPU ms per step/call | load |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['what']} | {r['threads']} | {r['tok_s']:,.0f} | {r['ms']:.1f} | "
              f"{r['cpu_ms']:.1f} | {r['load']} |" for r in rows]
    if bars:
        lines += [
            "",
            f"Pre-train corpus (a) (2-digit addition with thoughts, {bars[0]['params']:,} "
            f"parameters) for {BAR_STEPS} steps of {BAR_BATCH}, seed 0; bar: greedy exact "
            f"match >= {BAR_ACC} and perplexity <= {BAR_PPL} on 500 held-out problems. "
            "Target: <= 20 s on one core.",
            "",
            "| threads | wall s | CPU s | exact match | perplexity | bar met | load |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {b['threads']} | {b['wall']:.1f} | {b['cpu']:.1f} | {b['acc']:.3f} | "
                  f"{b['ppl']:.3f} | {'yes' if b['ok'] else 'NO'} | {b['load']} |"
                  for b in bars]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
