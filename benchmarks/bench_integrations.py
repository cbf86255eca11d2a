"""verl's own advantage estimators vs creditlab's, called through verl's registry (CPU).

    make bench-integrations    # both parts in .venv-integrations -> results/integrations.md
    taskset -c 0 python benchmarks/bench_integrations.py --out A.md       # verl part, pinned
    python benchmarks/bench_integrations.py --no-verl --ray --out B.md    # Ray part, unpinned
    python benchmarks/bench_integrations.py --quick --out /tmp/x.md       # smoke test

For each shape (B responses of T tokens, float32, right-padded masks with lengths uniform
in [T/4, T], prompts of 8 responses with uid strings as verl makes them) and estimator,
verl's function (``core_algos.compute_*``) and creditlab's (``get_adv_estimator_fn(
"creditlab_*")``, what ``algorithm.adv_estimator=creditlab_*`` runs) are timed in
interleaved rounds (verl, creditlab, verl, creditlab, ...), so a change in machine load
hits both. Each round times one call (after a warm-up call); the table gives the median
over the rounds, the min-max spread, the ratio of medians, the largest difference
between the two results, and the load other processes put on the machine meanwhile
(cores busy besides this process, from /proc/stat; the machine is shared, so the
ratios, not the absolute times, are the result). torch runs with one thread, and the
run is meant to be pinned to one core (taskset -c 0).

``--ray`` adds :func:`creditlab.integrations.ray.returns_over_parquet` rows/s on a local
Ray instance with 1 and 2 worker CPUs (see that module).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def busy_seconds() -> float | None:
    """CPU seconds all processes have used (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    t = os.times()
    return t.user + t.system


def timed(fn: Callable[[], Any]) -> tuple[float, float | None, Any]:
    """Seconds for one call, cores other processes used meanwhile, the result."""
    b0, o0, t0 = busy_seconds(), own_seconds(), time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    b1, o1 = busy_seconds(), own_seconds()
    load = None if b0 is None or dt < 0.02 else max(0.0, ((b1 - b0) - (o1 - o0)) / dt)
    return dt, load, out


def problem(B: int, T: int, seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(T // 4, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).to(torch.int64)
    r = torch.zeros(B, T)
    r[torch.arange(B), lengths - 1] = torch.randint(0, 2, (B,), generator=g).float()  # outcome
    step = torch.rand(B, T, generator=g) < 0.02  # process rewards on ~2% of tokens
    r = (r + step * torch.rand(B, T, generator=g)) * mask
    uid = np.array([f"{i // 8:08x}-uid" for i in range(B)], dtype=object)
    return {"r": r, "v": torch.randn(B, T, generator=g), "m": mask, "uid": uid}


def cases(core_algos: Any) -> list[tuple[str, Callable, Callable]]:
    """(name, verl's call, creditlab's call through the registry) per estimator."""
    get = core_algos.get_adv_estimator_fn
    return [
        ("gae", lambda p: core_algos.compute_gae_advantage_return(
            p["r"], p["v"], p["m"], 0.99, 0.95),
         lambda p: get("creditlab_gae")(p["r"], p["v"], p["m"], 0.99, 0.95)),
        ("grpo", lambda p: core_algos.compute_grpo_outcome_advantage(p["r"], p["m"], p["uid"]),
         lambda p: get("creditlab_grpo")(p["r"], p["m"], p["uid"])),
        ("rloo", lambda p: core_algos.compute_rloo_outcome_advantage(p["r"], p["m"], p["uid"]),
         lambda p: get("creditlab_rloo")(p["r"], p["m"], p["uid"])),
        ("min_form (creditlab only)", None,
         lambda p: get("creditlab_min_form")(p["r"], p["m"], p["uid"])),
    ]


def fmt_ms(ts: list[float]) -> str:
    return (f"{statistics.median(ts) * 1e3:.2f} ms "
            f"[{min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f}]")


def fmt_load(ls: list[float | None]) -> str:
    ls = [x for x in ls if x is not None]
    return f"{statistics.median(ls):.2f}" if ls else "n/a"


def bench_verl(shapes: list[tuple[int, int]], rounds: int, log: Callable) -> list[str]:
    from verl.trainer.ppo import core_algos

    import creditlab.integrations.verl  # noqa: F401  (registers the estimators)

    rows = ["| estimator | B x T | verl median [min-max] | creditlab median [min-max] "
            "| verl / creditlab | max abs diff | other load (cores, over the rounds) |",
            "|---|---|---|---|---|---|---|"]
    for B, T in shapes:
        p = problem(B, T)
        for name, theirs, ours in cases(core_algos):
            fns = [f for f in (theirs, ours) if f is not None]
            for f in fns:  # warm-up
                f(p)
            times: list[list[float]] = [[] for _ in fns]
            outs: list[Any] = [None] * len(fns)
            b0, o0, w0 = busy_seconds(), own_seconds(), time.perf_counter()
            for _ in range(rounds):
                for k, f in enumerate(fns):
                    dt, _, outs[k] = timed(lambda f=f, p=p: f(p))
                    times[k].append(dt)
            wall = time.perf_counter() - w0
            loads = [None if b0 is None else
                     max(0.0, ((busy_seconds() - b0) - (own_seconds() - o0)) / wall)]
            if theirs is None:
                row = (f"| {name} | {B} x {T} | - | {fmt_ms(times[0])} | - | - "
                       f"| {fmt_load(loads)} |")
            else:
                diff = max(float((a - b).abs().max()) for a, b in zip(outs[0], outs[1]))
                ratio = statistics.median(times[0]) / statistics.median(times[1])
                row = (f"| {name} | {B} x {T} | {fmt_ms(times[0])} | {fmt_ms(times[1])} "
                       f"| **{ratio:.0f}x** | {diff:.1e} | {fmt_load(loads)} |")
            log(row)
            rows.append(row)
    return rows


def bench_ray(episodes: int, steps: int, rounds: int, log: Callable) -> list[str]:
    import pyarrow.parquet as pq
    import ray

    from creditlab.integrations import ray as cray

    rows = ["| setting | rows | median s [min-max] | rows/s (median) |",
            "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        n_rows = cray.write_example_rollouts(tmp, episodes=episodes, mean_steps=steps,
                                            files=8, seed=0)
        table = pq.read_table(tmp)
        batch = {c: table.column(c).to_numpy() for c in table.column_names}
        ts = []
        for _ in range(rounds + 1):
            t0 = time.perf_counter()
            cray.block_returns(batch, kind="gae", gamma=0.99, lam=0.95)
            ts.append(time.perf_counter() - t0)
        ts = ts[1:]
        med = statistics.median(ts)
        row = (f"| no Ray: `block_returns` on the whole log in memory (sort + one kernel "
               f"call) | {n_rows} | {med:.2f} [{min(ts):.2f}-{max(ts):.2f}] "
               f"| {n_rows / med:,.0f} |")
        log(row)
        rows.append(row)
        for cpus in (1, 2):
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
            try:
                ts = []
                for _ in range(rounds + 1):  # the first round warms Ray's workers up
                    t0 = time.perf_counter()
                    ds = cray.returns_over_parquet(tmp, kind="gae", gamma=0.99, lam=0.95)
                    n = sum(len(b["advantage"]) for b in ds.iter_batches(batch_size=None))
                    ts.append(time.perf_counter() - t0)
                    assert n == n_rows
                ts = ts[1:]
            finally:
                ray.shutdown()
            med = statistics.median(ts)
            row = (f"| Ray Data, local instance, num_cpus={cpus} | {n_rows} "
                   f"| {med:.2f} [{min(ts):.2f}-{max(ts):.2f}] "
                   f"| {n_rows / med:,.0f} |")
            log(row)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, 3 rounds")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ray", action="store_true", help="also Ray Data rows/s")
    ap.add_argument("--no-verl", action="store_true", help="skip the verl table")
    ap.add_argument("--out", default=str(HERE / "results" / "integrations.md"))
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    shapes = ([(64, 256), (256, 1024)] if a.quick else
              [(256, 1024), (256, 8192), (1024, 1024), (1024, 8192)])
    rounds = 3 if a.quick else a.rounds
    t0 = time.time()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load0 = os.getloadavg()
    import creditlab

    lines = ["# creditlab inside verl and Ray Data (CPU)", "",
             "Generated by `" + (f"taskset -c {','.join(map(str, affinity))} "
                                 if len(affinity) < (os.cpu_count() or 1) else "") + "python "
             f"benchmarks/bench_integrations.py {' '.join(argv or sys.argv[1:])}` on "
             f"{time.strftime('%Y-%m-%d %H:%M')} UTC.", "",
             "How to read: the ratios come from one run with the two implementations "
             "interleaved, so they hold under the load recorded here; absolute times on a "
             "shared 2-core machine are pessimistic. Both sides share the [B, T] "
             "broadcast `adv[:, None] * response_mask` (verl's convention), which bounds "
             "the outcome estimators' ratio at long T.", "",
             "## Machine", "",
             f"- {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
             f"this run pinned to CPUs {affinity}; torch threads 1",
             f"- python {platform.python_version()}, torch {torch.__version__}, numpy "
             f"{np.__version__}, creditlab {creditlab.__version__} "
             f"({creditlab.backend_info()['backend']})",
             f"- load average at the start (1/5/15 min): {load0[0]:.2f} / {load0[1]:.2f} / "
             f"{load0[2]:.2f} on {os.cpu_count()} cores: the machine was shared; "
             "the per-row *other load* column is measured during the timings", ""]

    def log(s: str) -> None:
        print(s, flush=True)

    if not a.no_verl:
        import verl

        lines += ["## verl's estimators vs creditlab's through verl's registry", "",
                  f"verl {verl.__version__}. float32, right-padded masks (lengths uniform in "
                  "[T/4, T]), 8 responses per prompt (uid strings), GAE gamma 0.99 lam 0.95 "
                  "with verl's whitening. Times per call: median over "
                  f"{rounds} interleaved rounds, [min-max]; ratio = verl median / creditlab "
                  "median; max abs diff between the two results (float32 rounding).", ""]
        lines += bench_verl(shapes, rounds, log) + [""]
    if a.ray:
        import ray as _ray

        eps, steps = (2000, 50) if a.quick else (20000, 100)
        lines += ["## Ray Data: returns over Parquet rollout logs", "",
                  f"ray {_ray.__version__}. `creditlab.integrations.ray.returns_over_parquet"
                  f"(kind='gae')` over {eps} episodes (~{steps} steps each, one row per step, "
                  "8 Parquet files), read, grouped by episode, GAE per block, and "
                  "consumed; local Ray instance with `num_cpus` worker CPUs on this "
                  "2-core machine (not pinned: the workers are separate processes). Median "
                  f"of {min(rounds, 3)} runs after a warm-up run.", ""]
        lines += bench_ray(eps, steps, min(rounds, 3), log) + [""]
    lines += [f"Run time {time.time() - t0:.0f} s. Load average at the end: "
              + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + "."]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
