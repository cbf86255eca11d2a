# ruff: noqa: B023  (the timing lambdas run immediately, inside their loop iteration)
"""Tree benchmarks, in one run: creditlab's MCTS (C++ loop) vs mctx (JAX, CPU, jitted,
compile time excluded; optional) vs creditlab's numpy-batched MCTS, on the toy recurrent
function of ``toy_env.py``; then ``reduce_up`` / ``backup_path`` against their references.

    PYTHONPATH=. python benchmarks/bench_trees.py            # writes benchmarks/results/trees.md
    PYTHONPATH=. python benchmarks/bench_trees.py --device cuda [--write]   # GPU kernels

mctx is imported if present (e.g. a venv under /tmp with ``pip install jax mctx`` plus this
repo's runtime deps). Before timing, the Gumbel search with zero Gumbel noise is checked to give
mctx's visit counts exactly.

Protocol (issue 36). Run it pinned to one core: ``taskset -c 0`` (without it the script pins
itself to its lowest allowed core; ``--no-pin`` disables that). Within one (S, B) cell every
variant is compiled and warmed, then timed round-robin: round k calls each variant once, in an
order that rotates with k, so a busy moment of the machine falls on all variants alike. A cell
reports each variant's median over the rounds with its spread (min-max); the ratios are ratios
of medians (min-of-rounds is a secondary column). During every call the script also reads how
much CPU the *other* processes used (/proc/stat minus this process, in cores); a variant whose
calls saw more than 0.2 of a core of other load on average, or whose process got less than
0.8 of its core (CPU time over wall time: it waited for its core), is marked unreliable, and
``results/trees.md`` is not written if any mctx-vs-creditlab cell is (``--force`` writes it
with the marks).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

# One core, one thread per peer. Without `taskset -c 0` the script pins itself to the lowest
# core it may use, before numpy / jax start any thread (threads inherit the affinity);
# --no-pin leaves the affinity alone. The CUDA mode is not pinned.
if __name__ == "__main__" and "--no-pin" not in sys.argv and "--device" not in sys.argv:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import toy_env  # noqa: E402

import creditlab  # noqa: E402
from creditlab import tree_reference as ref  # noqa: E402
from creditlab import trees as T  # noqa: E402
from creditlab.planning import RecurrentOutput, mcts, mcts_numpy  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
    import mctx
except ImportError:
    mctx = None

A = toy_env.A
OUT = Path(__file__).resolve().parent / "results" / "trees.md"


def rec(emb, a):
    r, d, lg, v, new = toy_env.step(emb, a)
    return RecurrentOutput(r.astype(np.float32), d.astype(np.float32), lg.astype(np.float32),
                           v.astype(np.float32)), new


def timeit(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), float(np.median(ts))


MAX_OTHER_LOAD = 0.2  # cores used by other processes above which a timing is unreliable


def _busy_and_self():
    """(CPU seconds all processes spent, CPU seconds this process spent) so far."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    t = os.times()
    return (sum(fields[:8]) - idle) / tick, t.user + t.system


MIN_SAMPLE = 0.025  # seconds: /proc/stat counts 10 ms ticks, so a sample must span several


def interleaved(variants, rounds):
    """Warm each variant, then ``rounds`` rounds calling each once (order rotated per round).

    A variant faster than MIN_SAMPLE is called ``reps`` times back to back per round (one
    sample, its mean per call), so that the load read from /proc/stat over the sample is not
    one 10 ms tick more or less than the truth (with 1.5 ms calls it would be +-0.4 core).

    Returns {name: {"median", "min", "max", "other", "self", "reps"}} with seconds per call,
    ``other`` the CPU (in cores) that other processes used during that variant's calls, and
    ``self`` this process's CPU time over the calls' wall time (below 1 when it waited for its
    core: pinned to one core, a share of that core went to someone else)."""
    names = list(variants)
    reps = {}
    for n in names:
        variants[n]()  # compile / warm caches
        t0 = time.perf_counter()
        variants[n]()
        reps[n] = max(1, int(np.ceil(MIN_SAMPLE / max(time.perf_counter() - t0, 1e-6))))
    times = {n: [] for n in names}
    other = {n: [] for n in names}
    own = {n: [] for n in names}
    wall = {n: [] for n in names}  # per sample (reps calls)
    for k in range(rounds):
        for n in names[k % len(names):] + names[:k % len(names)]:
            fn, m = variants[n], reps[n]
            b0, s0 = _busy_and_self()
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(m):
                fn()
            dt, c1 = time.perf_counter() - t0, time.process_time()
            b1, s1 = _busy_and_self()
            times[n].append(dt / m)
            wall[n].append(dt)
            other[n].append((b1 - b0) - (s1 - s0))
            own[n].append(c1 - c0)  # process_time: ns resolution, not ticks
    # /proc/stat and os.times count in ticks (10 ms): the load is the sum over a variant's
    # calls divided by their total time, not a mean of per-call ratios (the same for `self`)
    return {n: {"median": float(np.median(times[n])), "min": min(times[n]),
                "max": max(times[n]), "other": max(0.0, sum(other[n]) / sum(wall[n])),
                "self": sum(own[n]) / sum(wall[n]), "reps": reps[n]}
            for n in names}


MIN_SELF = 0.8  # a variant that got less of its (pinned) core than this is unreliable too


def unreliable_run(r):
    return r["other"] > MAX_OTHER_LOAD or r["self"] < MIN_SELF


def cell_text(r):
    if r is None:
        return "-"
    flag = " !" if unreliable_run(r) else ""
    return (f"{fmt(r['median'])} [{fmt(r['min'])}-{fmt(r['max'])}], "
            f"{r['other']:.2f} / {r['self']:.2f}{flag}")


def fmt(t):
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def mctx_model(B):
    """The toy recurrent function and root in mctx's types (same model as ``rec``)."""

    def rf(params, key, action, emb):
        new = (31 * emb + action + 1) % 1000003
        reward = ((new % 7) - 3) / 3.0
        return mctx.RecurrentFnOutput(reward=reward.astype(jnp.float32),
                                      discount=jnp.full(B, 0.99, jnp.float32),
                                      prior_logits=jnp.zeros((B, A)), value=jnp.zeros(B)), new

    root = mctx.RootFnOutput(prior_logits=jnp.zeros((B, A)), value=jnp.zeros(B),
                             embedding=jnp.arange(B, dtype=jnp.int32))
    return rf, root


def mctx_fns(B, S):
    rf, root = mctx_model(B)
    mu = jax.jit(lambda k: mctx.muzero_policy((), k, root, rf, S).action_weights)
    gu = jax.jit(lambda k: mctx.gumbel_muzero_policy(
        (), k, root, rf, S, max_num_considered_actions=8).action_weights)
    return mu, gu


def check_parity():
    """Gumbel MuZero with zero noise is deterministic: compare root visits with mctx."""
    if mctx is None:
        return "mctx not installed: parity not checked"
    B, S = 16, 64
    rf, root = mctx_model(B)
    ref_out = mctx.gumbel_muzero_policy((), jax.random.PRNGKey(0), root, rf, S,
                                        max_num_considered_actions=8, gumbel_scale=0.0)
    mine = mcts(np.zeros((B, A), np.float32), np.zeros(B, np.float32), rec, S, np.arange(B),
                algorithm="gumbel", gumbel_scale=0.0, max_num_considered_actions=8)
    same = np.array_equal(np.asarray(ref_out.search_tree.children_visits),
                          mine.search_tree.children_visits)
    gap = float(np.abs(np.asarray(ref_out.search_tree.node_values)
                       - mine.search_tree.node_values).max())
    assert same and gap < 1e-5, "creditlab's Gumbel search disagrees with mctx"
    return (f"Gumbel MuZero, gumbel_scale=0, B={B}, S={S}: all children_visits identical to "
            f"mctx; max |node_values difference| = {gap:.2g}")


def main():
    load0 = os.getloadavg()[0]
    lines = ["# Tree benchmarks", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"load average at start {load0:.2f}; creditlab backend "
             f"{creditlab.backend_info()['backend']}, OpenMP threads "
             f"{creditlab.backend_info()['threads']}; numpy {np.__version__}"
             + (f"; jax {jax.__version__}, mctx {mctx.__version__}" if mctx else "; mctx absent"),
             "", "Command: `PYTHONPATH=. taskset -c 0 python benchmarks/bench_trees.py` "
             f"(one core, one thread per peer; affinity here: {sorted(os.sched_getaffinity(0))})",
             "", "Parity: " + check_parity(), "",
             "## MCTS: full search call (toy recurrent function, A = 8, float32)", "",
             "Each cell: median over interleaved rounds [min-max], then the other processes' "
             "CPU use during that variant's calls (in cores) / this process's CPU time over "
             f"wall time (`!`: other above {MAX_OTHER_LOAD} or own below {MIN_SELF}: "
             "unreliable). Ratios are ratios of medians; (min) is the ratio of the fastest "
             f"rounds. A variant faster than {MIN_SAMPLE * 1e3:.0f} ms is called several times "
             "per round (one sample, its mean per call), so that the load reading spans "
             "several 10 ms ticks.", "",
             "| S | B | rounds | creditlab MuZero | creditlab Gumbel | mctx MuZero | mctx Gumbel | "
             "numpy MuZero | mctx / creditlab, Gumbel | mctx / creditlab, MuZero |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    unreliable, targets = [], {}
    for S in (64, 256):
        for B in (1, 64, 1024):
            emb = np.arange(B)
            z, v = np.zeros((B, A), np.float32), np.zeros(B, np.float32)
            variants = {
                "cm": lambda: mcts(z, v, rec, S, emb),
                "cg": lambda: mcts(z, v, rec, S, emb, algorithm="gumbel",
                                   max_num_considered_actions=8, seed=0)}
            if B * S <= 64 * 256:
                variants["nm"] = lambda: mcts_numpy(z, v, rec, S, emb)
            if mctx is not None:
                mu, gu = mctx_fns(B, S)
                key = jax.random.PRNGKey(0)
                variants["mm"] = lambda: mu(key).block_until_ready()
                variants["mg"] = lambda: gu(key).block_until_ready()
            rounds = 3 if B * S >= 1024 * 256 else (7 if B * S >= 64 * 256 else 15)
            res = interleaved(variants, rounds)
            cell = {k: cell_text(res.get(k)) for k in ("cm", "cg", "mm", "mg", "nm")}
            ratios = []
            for peer, mine in (("mg", "cg"), ("mm", "cm")):
                if peer in res:
                    r_med = res[peer]["median"] / res[mine]["median"]
                    r_min = res[peer]["min"] / res[mine]["min"]
                    ratios.append(f"{r_med:.1f}x ({r_min:.1f}x)")
                    if (S, B) == (256, 64):
                        targets[peer] = r_med
                    if unreliable_run(res[peer]) or unreliable_run(res[mine]):
                        unreliable.append((S, B, peer))
                else:
                    ratios.append("-")
            lines.append(f"| {S} | {B} | {rounds} | {cell['cm']} | {cell['cg']} | {cell['mm']} | "
                         f"{cell['mg']} | {cell['nm']} | {ratios[0]} | {ratios[1]} |")
            print(lines[-1], flush=True)
    if targets:
        g, m = targets.get("mg", 0.0), targets.get("mm", 0.0)
        lines += ["", "Targets (issue 36), at S = 256, B = 64, ratio of medians: Gumbel >= 20x "
                  f"mctx's gumbel_muzero_policy: {g:.1f}x, {'met' if g >= 20 else 'not met'}; "
                  f"MuZero >= 40x mctx's muzero_policy: {m:.1f}x, "
                  f"{'met' if m >= 40 else 'not met'}."]
    if unreliable:
        lines += ["", "Unreliable cells (other processes used more than "
                  f"{MAX_OTHER_LOAD} of a core, or this one got less than {MIN_SELF} of its own): "
                  + ", ".join(f"S={S} B={B} {p}" for S, B, p in unreliable) + "."]
    lines += ["", "## Whole-tree kernels vs their plain-Python references (float64)", "",
              "| kernel | trees x nodes | creditlab (C++) | reference (Python loops) | speed-up |",
              "|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    B, N = 64, 2000
    parent = np.full((B, N), -1, np.int32)
    for i in range(1, N):
        parent[:, i] = rng.integers(max(0, i - 20), i, size=B)
    lv, r = rng.normal(size=(B, N)), rng.normal(size=(B, N))
    g, w = np.full((B, N), 0.99), rng.integers(1, 5, (B, N)).astype(float)
    c = timeit(lambda: T.reduce_up(parent, lv, r, g, w), 5)
    p = timeit(lambda: [ref.reduce_up(parent[b], lv[b], r[b], g[b], w[b]) for b in range(4)], 1)
    pr = p[0] * B / 4
    lines.append(f"| reduce_up (mean) | {B} x {N} | {fmt(c[0])} | {fmt(pr)} (4 trees timed, "
                 f"scaled) | {pr / c[0]:.0f}x |")
    V0, N0 = np.zeros((B, N)), np.ones((B, N), np.int32)
    leaves = rng.integers(N // 2, N, size=(100, B))

    def cpp_paths():
        V, Nn = V0, N0
        for lf in leaves:
            V, Nn = T.backup_path(parent, r, g, V, Nn, lf, np.ones(B))

    def py_paths():
        V, Nn = V0[0].copy(), N0[0].copy()
        for lf in leaves[:, :1]:
            ref.backup_path(parent[0], r[0], g[0], V, Nn, lf[0], 1.0)

    c = timeit(cpp_paths, 3)
    p = timeit(py_paths, 1)
    pr = p[0] * B
    lines.append(f"| backup_path (mean), 100 leaves per tree | {B} x {N} | {fmt(c[0])} | "
                 f"{fmt(pr)} (1 tree timed, scaled) | {pr / c[0]:.0f}x |")
    lines += ["", "The creditlab times include the Python callback into the model each "
              "simulation (one batched call per simulation, as mctx). The toy model is "
              "trivial, so the MCTS rows measure tree overhead. The kernel rows above are "
              "min-of-N wall times, not interleaved.", ""]
    print("\n".join(lines))
    if unreliable and "--force" not in sys.argv:
        sys.exit(f"not writing {OUT}: the machine was busy during {len(unreliable)} cell(s) "
                 "(see above); rerun on a quiet machine, or pass --force to write with the marks")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines))


OUT_CUDA = Path(__file__).resolve().parent / "results" / "trees_cuda.md"


def main_cuda(write: bool) -> None:
    """``--device cuda``: the CUDA tree kernels vs the C++ CPU kernels and the Python
    references at B = 1024 trees of N = 2000 nodes (float64). GPU times are taken with
    torch.cuda.synchronize() around each call, transfers excluded (data already on the GPU),
    validation (one host sync per call) included."""
    import torch

    info = creditlab.backend_info()
    if not (info["built_with_cuda"] and info["cuda_devices"] > 0 and torch.cuda.is_available()):
        sys.exit(f"bench_trees.py --device cuda needs an NVIDIA GPU and creditlab built with "
                 f"CUDA (built_with_cuda={info['built_with_cuda']}, cuda_devices="
                 f"{info['cuda_devices']}, torch.cuda.is_available()="
                 f"{torch.cuda.is_available()})")
    rng = np.random.default_rng(0)
    B, N = 1024, 2000
    parent = np.full((B, N), -1, np.int32)
    for i in range(1, N):
        parent[:, i] = rng.integers(max(0, i - 20), i, size=B)
    lv, r = rng.normal(size=(B, N)), rng.normal(size=(B, N))
    g, w = np.full((B, N), 0.99), rng.integers(1, 5, (B, N)).astype(float)
    V0, N0 = np.zeros((B, N)), np.ones((B, N), np.int32)
    leaf, vl = rng.integers(N // 2, N, size=B), np.ones(B)
    dev = {k: torch.as_tensor(v, device="cuda") for k, v in dict(
        parent=parent, lv=lv, r=r, g=g, w=w, V0=V0, N0=N0, leaf=leaf, vl=vl).items()}

    def gpu(fn, reps=20):
        fn()
        torch.cuda.synchronize()

        def once():
            fn()
            torch.cuda.synchronize()
        return timeit(once, reps)

    rows = [
        ("reduce_up (mean, weighted)",
         lambda: T.reduce_up(dev["parent"], dev["lv"], dev["r"], dev["g"], dev["w"]),
         lambda: T.reduce_up(parent, lv, r, g, w),
         lambda b: ref.reduce_up(parent[b], lv[b], r[b], g[b], w[b])),
        ("backup_path (mean), one path per tree",
         lambda: T.backup_path(dev["parent"], dev["r"], dev["g"], dev["V0"], dev["N0"],
                               dev["leaf"], dev["vl"]),
         lambda: T.backup_path(parent, r, g, V0, N0, leaf, vl),
         lambda b: ref.backup_path(parent[b], r[b], g[b], V0[b].copy(), N0[b].copy(), leaf[b],
                                   1.0)),
        ("prefix_tree_advantages (treerl)",
         lambda: T.prefix_tree_advantages(dev["parent"], dev["lv"]),
         lambda: T.prefix_tree_advantages(parent, lv),
         None),
    ]
    name = torch.cuda.get_device_name()
    lines = ["# Tree kernels on CUDA", "",
             f"GPU: {name}; CPU: {os.cpu_count()} cores, OpenMP threads {info['threads']}; "
             f"B = {B} trees x N = {N} nodes (parent[i] drawn from the 20 nodes before i), "
             "float64.", "",
             "Command: `PYTHONPATH=. python benchmarks/bench_trees.py --device cuda --write`", "",
             "| kernel | CUDA (min / median) | C++ CPU (min) | Python reference (min, 8 trees "
             "timed, scaled) | CPU / CUDA |",
             "|---|---|---|---|---|"]
    for label, fcuda, fcpu, fref in rows:
        c = gpu(fcuda)
        p = timeit(fcpu, 3)
        rf = "-"
        if fref is not None:
            t = timeit(lambda: [fref(b) for b in range(8)], 1)
            rf = fmt(t[0] * B / 8)
        lines.append(f"| {label} | {fmt(c[0])} / {fmt(c[1])} | {fmt(p[0])} | {rf} | "
                     f"{p[0] / c[0]:.0f}x |")
        print(lines[-1], flush=True)
    lines += ["", "CUDA times include the wrapper's validation (device reductions and one "
              "host synchronisation per call) and output allocation.", ""]
    text = "\n".join(lines)
    print(text)
    if write:
        OUT_CUDA.parent.mkdir(exist_ok=True)
        OUT_CUDA.write_text(text)


if __name__ == "__main__":
    if "--device" in sys.argv and sys.argv[sys.argv.index("--device") + 1] == "cuda":
        main_cuda("--write" in sys.argv)
    else:
        main()
