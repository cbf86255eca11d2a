"""Benchmark creditlab.gae against the loops and kernels other RL libraries use.

One run times GAE (advantages and returns, float32, gamma 0.99, lam 0.95, terminated
~ Bernoulli(0.01), values [B, T+1]) for every variant below, checks each result against
creditlab's, and writes a markdown table:

    python benchmarks/bench_returns.py             # full run, writes benchmarks/results/returns.md
    python benchmarks/bench_returns.py --quick     # smoke test, small shapes, < 30 s
    python benchmarks/bench_returns.py --shapes 1024x1024,64x4096 --out /tmp/returns.md
    python benchmarks/bench_returns.py --quiet-wait 20   # on a shared machine (see --help)

The peers are optional: install them next to creditlab (pip install numba torchrl jax
rlax) to get their rows; the table says which were skipped.

Variants: creditlab (with preallocated ``out=`` buffers, and allocating them); a torch
loop over t on [B, T] in the verl/TRL style; the same loop in numpy; and, when they import
(otherwise the table says they were skipped), torchrl's ``generalized_advantage_estimate``,
rlax's truncated GAE under ``jax.jit(jax.vmap(...))``, and a fused numba loop (``@njit``,
and a ``prange`` variant).

Every variant gets its inputs in its own format, converted outside the timing, and
computes the same thing: delta_t = r_t + gamma (1 - d_t) V_{t+1} - V_t and
A_t = delta_t + gamma lam (1 - d_t) A_{t+1}, returns = A + V.

The bandwidth floor is measured in the same run: 20 bytes per element (r, V, flag, A, R
at 4 bytes each; the flag is really 1 byte) divided by the best copy bandwidth (numpy's
one-thread copy or torch's multi-thread copy of a 512 MB buffer, counting bytes read plus
bytes written).

``--device cuda`` is a separate, smaller run (see cuda_main): creditlab's CUDA kernel vs
the verl-style torch loop on the GPU at (B, T) = (256, 4096), (1024, 1024), (64, 32768),
timed with CUDA events (warm-up, median of N), with the achieved memory bandwidth (bytes
read + written over the median) as a fraction of a device-to-device copy's bandwidth
measured in the same run and of the card's nominal peak when its name is known. Each
shape is timed under every scan strategy of csrc/cuda/scan.h (the default plan "auto",
then "sequential", "twopass" and "lookback", forced with ``_C.cuda_set_scan_strategy``),
so one run says which is fastest where (``--strategies`` picks a subset):

    python benchmarks/bench_returns.py --device cuda            # prints the table
    python benchmarks/bench_returns.py --device cuda --write    # and writes returns_cuda.md

It exits at once with a clear message when no CUDA GPU (or no CUDA build) is available.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GAMMA, LAM, P_DONE = 0.99, 0.95, 0.01
BYTES_PER_ELEMENT = 20
FULL_SHAPES = [(64, 4096), (1024, 1024), (4096, 256), (4096, 4096)]
QUICK_SHAPES = [(64, 1024), (256, 256)]
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "returns.md"


# ---------------------------------------------------------------------------------------
# Timing


@dataclass
class Settings:
    min_time: float = 0.5  # seconds of timed calls per variant and shape (at least)
    min_reps: int = 5
    max_reps: int = 10000
    warmup: int = 2
    quiet_wait: float = 0.0  # seconds to wait for other processes to go idle
    bw_bytes: int = 512 * 2**20


def _cpu_busy_seconds() -> float | None:
    """CPU seconds used by all processes so far (Linux), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def other_load(window: float = 0.3) -> float | None:
    """Cores busy with other processes over a short window (this one sleeps)."""
    b0 = _cpu_busy_seconds()
    if b0 is None:
        return None
    time.sleep(window)
    return max(0.0, (_cpu_busy_seconds() - b0) / window)


@dataclass
class Timing:
    times: list[float]
    other_cores: float | None  # average cores used by other processes while timing

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


BUSY = 0.25  # cores used by other processes above which a timing is called disturbed


def wait_quiet(seconds: float) -> None:
    """Wait up to `seconds` for other processes to use less than BUSY cores."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        load = other_load()
        if load is None or load < BUSY:
            return


def time_once(fn: Callable[[], Any], s: Settings) -> Timing:
    """Warm up, then call `fn` until both `min_reps` calls and `min_time` seconds."""
    for _ in range(s.warmup):
        fn()
    busy0, own0, wall0 = _cpu_busy_seconds(), _own_cpu_seconds(), time.perf_counter()
    times: list[float] = []
    while len(times) < s.max_reps and (
        len(times) < s.min_reps or time.perf_counter() - wall0 < s.min_time
    ):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - wall0
    other = None
    if busy0 is not None and wall > 0.2:  # /proc/stat ticks are 10 ms: short windows lie
        other = max(0.0, (_cpu_busy_seconds() - busy0 - (_own_cpu_seconds() - own0)) / wall)
    return Timing(times, other)


def time_fn(fn: Callable[[], Any], s: Settings, attempts: int = 3) -> Timing:
    """time_once; with s.quiet_wait, first wait for a quiet machine, and measure again
    (up to `attempts` times) when other processes were busy during the timing."""
    if s.quiet_wait <= 0:
        return time_once(fn, s)
    best = None
    for _ in range(attempts):
        wait_quiet(s.quiet_wait)
        t = time_once(fn, s)
        load = t.other_cores or 0.0
        if best is None or load < (best.other_cores or 0.0):
            best = t
        if load < BUSY:
            break
    return best


# ---------------------------------------------------------------------------------------
# Inputs and variants


@dataclass
class Problem:
    rewards: np.ndarray  # [B, T] float32
    values: np.ndarray  # [B, T+1] float32
    terminated: np.ndarray  # [B, T] bool

    @property
    def shape(self) -> tuple[int, int]:
        return self.rewards.shape


def make_problem(B: int, T: int, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    return Problem(
        rewards=rng.standard_normal((B, T), dtype=np.float32),
        values=rng.standard_normal((B, T + 1), dtype=np.float32),
        terminated=rng.random((B, T)) < P_DONE,
    )


class Skip(Exception):
    """A variant that cannot run here (library missing, device unsupported)."""


@dataclass
class Variant:
    name: str
    threads: str
    # prepare(problem, device) -> a zero-argument callable returning (adv, ret) in any
    # array type np.asarray understands; raises Skip when the variant cannot run.
    prepare: Callable[[Problem, str], Callable[[], tuple[Any, Any]]]
    note: str = ""


def _cpu_only(device: str) -> None:
    if device != "cpu":
        raise Skip(f"no {device} implementation")


def creditlab_variant(preallocate: bool) -> Callable:
    def prepare(p: Problem, device: str) -> Callable[[], tuple[Any, Any]]:
        _cpu_only(device)
        import creditlab

        r, v, d = p.rewards, p.values, p.terminated
        if not preallocate:
            return lambda: creditlab.gae(r, v, GAMMA, LAM, terminated=d)
        out = (np.empty_like(r), np.empty_like(r))
        return lambda: creditlab.gae(r, v, GAMMA, LAM, terminated=d, out=out)

    return prepare


def torch_loop(p: Problem, device: str) -> Callable[[], tuple[Any, Any]]:
    """verl/TRL/OpenRLHF style: Python loop over t, vector ops over B on [B, T] slices."""
    _cpu_only(device)
    import torch

    r, v = torch.from_numpy(p.rewards), torch.from_numpy(p.values)
    d = torch.from_numpy(p.terminated)

    def run() -> tuple[Any, Any]:
        with torch.no_grad():
            T = r.shape[1]
            notdone = (~d).to(r.dtype)
            lastgaelam = torch.zeros_like(r[:, 0])
            reversed_adv = []
            for t in reversed(range(T)):
                delta = r[:, t] + GAMMA * v[:, t + 1] * notdone[:, t] - v[:, t]
                lastgaelam = delta + GAMMA * LAM * notdone[:, t] * lastgaelam
                reversed_adv.append(lastgaelam)
            adv = torch.stack(reversed_adv[::-1], dim=1)
            return adv, adv + v[:, :T]

    return run


def numpy_loop(p: Problem, device: str) -> Callable[[], tuple[Any, Any]]:
    _cpu_only(device)
    r, v, d = p.rewards, p.values, p.terminated
    gamma, gl = np.float32(GAMMA), np.float32(GAMMA * LAM)

    def run() -> tuple[Any, Any]:
        T = r.shape[1]
        notdone = (~d).astype(r.dtype)
        adv = np.empty_like(r)
        lastgaelam = np.zeros(r.shape[0], r.dtype)
        for t in reversed(range(T)):
            delta = r[:, t] + gamma * v[:, t + 1] * notdone[:, t] - v[:, t]
            lastgaelam = delta + gl * notdone[:, t] * lastgaelam
            adv[:, t] = lastgaelam
        return adv, adv + v[:, :T]

    return run


def torchrl_gae(p: Problem, device: str) -> Callable[[], tuple[Any, Any]]:
    _cpu_only(device)
    try:
        import torch
        from torchrl.objectives.value.functional import generalized_advantage_estimate
    except ImportError as err:
        raise Skip(f"torchrl not importable ({err.__class__.__name__})") from err
    v = torch.from_numpy(p.values)
    T = p.shape[1]
    state_value, next_value = v[:, :T, None], v[:, 1:, None]  # [B, T, 1] views
    reward = torch.from_numpy(p.rewards)[..., None]
    done = torch.from_numpy(p.terminated)[..., None]

    def run() -> tuple[Any, Any]:
        with torch.no_grad():
            adv, target = generalized_advantage_estimate(
                GAMMA, LAM, state_value, next_value, reward, done, done, time_dim=-2
            )
        return adv[..., 0], target[..., 0]

    return run


def rlax_gae(p: Problem, device: str) -> Callable[[], tuple[Any, Any]]:
    _cpu_only(device)
    try:
        import jax
        import rlax
    except ImportError as err:
        raise Skip(f"jax/rlax not importable ({err.__class__.__name__})") from err
    cpu = jax.devices("cpu")[0]
    r = jax.device_put(p.rewards, cpu)
    discount = jax.device_put((GAMMA * (~p.terminated)).astype(np.float32), cpu)
    v = jax.device_put(p.values, cpu)
    gae_rows = jax.vmap(rlax.truncated_generalized_advantage_estimation, (0, 0, None, 0))

    @jax.jit
    def f(r, discount, v):
        adv = gae_rows(r, discount, LAM, v)
        return adv, adv + v[:, :-1]

    def run() -> tuple[Any, Any]:
        adv, ret = f(r, discount, v)
        return adv.block_until_ready(), ret.block_until_ready()

    return run


_NUMBA_KERNELS: dict[bool, Callable] = {}


def _numba_kernel(parallel: bool) -> Callable:
    if parallel not in _NUMBA_KERNELS:
        import numba

        @numba.njit(parallel=parallel, cache=False)
        def gae_rows(r, v, d, gamma, gl, adv, ret):  # pragma: no cover - compiled
            B, T = r.shape
            for b in numba.prange(B):
                a = np.float32(0.0)
                for t in range(T - 1, -1, -1):
                    if d[b, t]:
                        a = r[b, t] - v[b, t]
                    else:
                        a = r[b, t] + gamma * v[b, t + 1] - v[b, t] + gl * a
                    adv[b, t] = a
                    ret[b, t] = a + v[b, t]

        _NUMBA_KERNELS[parallel] = gae_rows
    return _NUMBA_KERNELS[parallel]


def numba_fused(parallel: bool) -> Callable:
    def prepare(p: Problem, device: str) -> Callable[[], tuple[Any, Any]]:
        _cpu_only(device)
        try:
            kernel = _numba_kernel(parallel)
        except ImportError as err:
            raise Skip(f"numba not importable ({err.__class__.__name__})") from err
        r, v, d = p.rewards, p.values, p.terminated
        gamma, gl = np.float32(GAMMA), np.float32(GAMMA * LAM)
        adv, ret = np.empty_like(r), np.empty_like(r)

        def run() -> tuple[Any, Any]:
            kernel(r, v, d, gamma, gl, adv, ret)
            return adv, ret

        return run

    return prepare


def _numba_threads() -> str:
    try:
        import numba

        return str(numba.config.NUMBA_NUM_THREADS)
    except ImportError:
        return "?"


def _torch_threads() -> str:
    try:
        import torch

        return str(torch.get_num_threads())
    except ImportError:
        return "?"


def variants() -> list[Variant]:
    import creditlab

    omp = str(creditlab.backend_info()["threads"])
    return [
        Variant("creditlab.gae, out= preallocated", omp, creditlab_variant(True)),
        Variant("creditlab.gae, allocating outputs", omp, creditlab_variant(False)),
        Variant("torch loop over t, [B,T] (verl/TRL)", _torch_threads(), torch_loop),
        Variant("numpy loop over t, [B,T]", "1", numpy_loop),
        Variant("torchrl generalized_advantage_estimate", _torch_threads(), torchrl_gae),
        Variant("rlax truncated GAE, jit(vmap)", "XLA", rlax_gae),
        Variant("numba fused loop, @njit", "1", numba_fused(False)),
        Variant("numba fused loop, prange", _numba_threads(), numba_fused(True)),
    ]


# ---------------------------------------------------------------------------------------
# Copy bandwidth (the floor)


@dataclass
class Bandwidth:
    gbs: float  # GB/s, bytes read + bytes written, best of the repeats
    threads: str
    other_cores: float | None


def copy_bandwidth(nbytes: int, s: Settings) -> dict[str, Bandwidth]:
    """Copy bandwidth of a numpy copy (one thread) and a torch copy (its intra-op threads)."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.zeros_like(src)
    reps = Settings(min_time=0.0, min_reps=5, warmup=1, quiet_wait=s.quiet_wait)
    copies = {"numpy": ("1", lambda: np.copyto(dst, src))}
    try:
        import torch

        ts, td = torch.from_numpy(src), torch.from_numpy(dst)
        copies["torch"] = (_torch_threads(), lambda: td.copy_(ts))
    except ImportError:
        pass
    result = {}
    for name, (threads, fn) in copies.items():
        t = time_fn(fn, reps)
        result[name] = Bandwidth(2 * nbytes / t.best / 1e9, threads, t.other_cores)
    return result


def describe_bandwidth(bw: dict[str, Bandwidth]) -> str:
    parts = []
    for name, b in bw.items():
        load = "" if b.other_cores is None else f", other load {b.other_cores:.2f}"
        parts.append(f"{name} {b.gbs:.1f} GB/s (threads: {b.threads}{load})")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------
# Running and reporting


@dataclass
class Row:
    variant: Variant
    timing: Timing | None = None
    err: float | None = None
    skipped: str = ""
    is_reference: bool = False  # the result the others are checked against


@dataclass
class ShapeResult:
    shape: tuple[int, int]
    rows: list[Row] = field(default_factory=list)


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy of a numpy, torch or JAX array."""
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy().copy()
    return np.array(x, copy=True)


def max_abs_err(got: tuple[Any, Any], want: tuple[Any, Any]) -> float:
    return max(
        float(np.max(np.abs(np.asarray(g, np.float64) - np.asarray(w, np.float64))))
        if np.asarray(w).size
        else 0.0
        for g, w in zip(got, want)
    )


def run_shape(shape: tuple[int, int], device: str, s: Settings, log: Callable) -> ShapeResult:
    p = make_problem(*shape)
    res = ShapeResult(shape)
    reference = None
    for var in variants():
        row = Row(var)
        res.rows.append(row)
        try:
            fn = var.prepare(p, device)
        except Skip as why:
            row.skipped = str(why)
            log(f"  {var.name:42s} skipped: {why}")
            continue
        out = fn()
        got = tuple(to_numpy(x) for x in out)
        if reference is None:  # the first variant that runs (creditlab's, on cpu)
            reference, row.is_reference = got, True
        row.err = max_abs_err(got, reference)
        row.timing = time_fn(fn, s)
        del fn, out
        log(f"  {var.name:42s} median {row.timing.median * 1e3:9.3f} ms  "
            f"min {row.timing.best * 1e3:9.3f} ms  err {row.err:.1e}")
        time.sleep(0.05)  # let worker threads of the previous library go idle
    return res


def fmt_num(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def fmt_rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def table(res: ShapeResult, floor_s: float) -> list[str]:
    B, T = res.shape
    n = B * T
    base = next((r.timing.median for r in res.rows if r.is_reference), None)
    lines = [
        f"### {B} x {T}  (floor {floor_s * 1e3:.3g} ms)",
        "",
        (
            "| variant | threads | median ms | min ms | elements/s | x creditlab "
            "| % of floor | max abs err | other load |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res.rows:
        if r.timing is None:
            lines.append(f"| {r.variant.name} | | skipped: {r.skipped} | | | | | | |")
            continue
        t = r.timing
        load = "n/a" if t.other_cores is None else f"{t.other_cores:.2f}"
        err = "reference" if r.is_reference else f"{r.err:.1e}"
        lines.append(
            f"| {r.variant.name} | {r.variant.threads} | {fmt_num(t.median * 1e3)} "
            f"| {fmt_num(t.best * 1e3)} | {fmt_rate(n / t.median)} | {fmt_num(t.median / base)} "
            f"| {100 * floor_s / t.median:.3g}% | {err} | {load} |"
        )
    return lines + [""]


def machine_info() -> list[str]:
    import creditlab

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "torchrl", "jax", "rlax", "numba"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = "not installed"
    return [
        (
            f"- CPU: {cpu}, {os.cpu_count()} logical cores ({platform.machine()}, "
            f"{platform.system()} {platform.release()})"
        ),
        "- " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- creditlab {creditlab.__version__}: `{creditlab.backend_info()}`",
    ]


HOW_TO_READ = """\
How to read: each shape is a batch of B sequences of T steps, float32. *median* and *min*
are over repeated calls after warm-up (JIT compilation excluded); *elements/s* is B*T /
median; *x creditlab* is the variant's median over creditlab's (with `out=`), so 10 means
ten times slower; *% of floor* is the time to move 20 bytes per element at the measured
copy bandwidth, over the median (above 100% means the data came from cache, not memory);
*max abs err* is the largest difference from creditlab's advantages and returns (float32
rounding, about 1e-6 of the values, is expected); *other load* is the average number of
cores other processes used while the variant was timed: timings with a high load are
unreliable. Every variant receives its inputs in its own format, converted outside the
timing (torch views, [B,T,1] views for torchrl, `discount = gamma*(1-done)` on the JAX
device for rlax), and the numba variants, like creditlab's first row, write into
preallocated outputs.
"""


def write_markdown(path: Path, results: list[ShapeResult], bw: dict[str, Bandwidth],
                   bw_bytes: int, argv: list[str], elapsed: float) -> None:
    floor_bw = max(b.gbs for b in bw.values())
    lines = [
        "# GAE benchmark: creditlab vs other libraries (CPU)",
        "",
        (
            f"Generated by `python benchmarks/bench_returns.py{''.join(' ' + a for a in argv)}` "
            f"on {time.strftime('%Y-%m-%d %H:%M')} in {elapsed:.0f} s."
        ),
        "",
        (
            f"Problem: GAE advantages + returns, float32, gamma {GAMMA}, lam {LAM}, "
            f"terminated ~ Bernoulli({P_DONE}), values [B, T+1]."
        ),
        "",
        "## Machine",
        "",
        *machine_info(),
        f"- copy bandwidth (read + write, {bw_bytes >> 20} MB buffer): "
        + describe_bandwidth(bw)
        + f"; floor = {BYTES_PER_ELEMENT} B/element / {floor_bw:.1f} GB/s",
        "",
        HOW_TO_READ,
        "## Results",
        "",
    ]
    for res in results:
        floor_s = BYTES_PER_ELEMENT * res.shape[0] * res.shape[1] / (floor_bw * 1e9)
        lines += table(res, floor_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def parse_shapes(text: str) -> list[tuple[int, int]]:
    shapes = []
    for part in text.split(","):
        b, _, t = part.strip().lower().partition("x")
        if not (b.isdigit() and t.isdigit()):
            raise argparse.ArgumentTypeError(f"shape {part!r} is not BxT, e.g. 1024x1024")
        shapes.append((int(b), int(t)))
    return shapes


# ---------------------------------------------------------------------------------------
# CUDA

CUDA_SHAPES = [(256, 4096), (1024, 1024), (64, 32768)]
# "auto": the default plan (scan_plan's shape rule); the others forced (csrc/cuda/scan.h)
CUDA_STRATEGIES = ["auto", "sequential", "twopass", "lookback"]
DEFAULT_CUDA_OUT = Path(__file__).resolve().parent / "results" / "returns_cuda.md"
# r (4) + V (4) + terminated (1) read, A (4) + R (4) written, per element (float32)
CUDA_BYTES_PER_ELEMENT = 17
# Nominal peak memory bandwidth (GB/s) by device-name substring, most specific first.
NOMINAL_GBS = [("H200", 4800.0), ("H100 PCIe", 2000.0), ("H100", 3350.0),
               ("A100-SXM4-80GB", 2039.0), ("A100", 1555.0), ("L40S", 864.0), ("L4", 300.0),
               ("A10", 600.0), ("RTX 4090", 1008.0), ("V100", 900.0)]


def cuda_time(fn: Callable[[], Any], reps: int, warmup: int = 3) -> float:
    """Median seconds of ``fn`` over ``reps`` calls, each timed with CUDA events."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(times)


def cuda_copy_gbs(dev: Any, reps: int) -> float:
    """A 256 MiB device-to-device copy's bandwidth, bytes read + written, GB/s."""
    import torch

    n = 256 * 2**20
    x = torch.empty(n, dtype=torch.uint8, device=dev)
    y = torch.empty_like(x)
    return 2 * n / cuda_time(lambda: y.copy_(x), reps) / 1e9


def cuda_shape(B: int, T: int, to_device: Callable[[np.ndarray], Any], reps: int,
               strategies: list[str], timer: Callable[..., float] = cuda_time,
               ) -> tuple[float, dict[str, tuple[float, float, tuple]]]:
    """(torch loop median s, {strategy: (creditlab median s, max abs difference from the
    loop, plan)}) for GAE on [B, T]; each strategy forced in turn, the setting restored.
    ``to_device`` puts a numpy array on the device; ``timer(fn, reps, warmup=...)`` gives
    seconds per call (tests/test_cuda_scan.py runs this on the emulator with a CPU timer)."""
    import torch

    import creditlab

    C = creditlab._backend._C
    p = make_problem(B, T)
    r, v, d = (to_device(a) for a in (p.rewards, p.values, p.terminated))
    out = (torch.empty_like(r), torch.empty_like(r))

    def ours() -> tuple[Any, Any]:
        return creditlab.gae(r, v, GAMMA, LAM, terminated=d, out=out)

    def loop() -> tuple[Any, Any]:  # verl's compute_gae_advantage_return, with dones
        with torch.no_grad():
            notdone = (~d).to(r.dtype)
            last = torch.zeros_like(r[:, 0])
            rev = []
            for t in reversed(range(T)):
                delta = r[:, t] + GAMMA * v[:, t + 1] * notdone[:, t] - v[:, t]
                last = delta + GAMMA * LAM * notdone[:, t] * last
                rev.append(last)
            adv = torch.stack(rev[::-1], dim=1)
            return adv, adv + v[:, :T]

    t_loop = timer(loop, 3, warmup=1)
    A0, R0 = loop()
    res = {}
    before = C.cuda_set_scan_strategy("auto")
    try:
        for name in strategies:
            C.cuda_set_scan_strategy(name)
            t_ours = timer(ours, reps)
            for o in out:
                o.fill_(float("nan"))
            A, R = ours()
            err = max(float((A - A0).abs().max()), float((R - R0).abs().max()))
            res[name] = (t_ours, err, tuple(C.cuda_scan_plan(1, False, B, T, False)))
    finally:
        C.cuda_set_scan_strategy(before)
    return t_loop, res


def cuda_rows(B: int, T: int, t_loop: float,
              res: dict[str, tuple[float, float, tuple]]) -> list[tuple]:
    """Table rows of one shape from :func:`cuda_shape`'s result: (B, T, strategy, loop s,
    creditlab s, GB/s, max abs err, plan, fastest), GB/s = CUDA_BYTES_PER_ELEMENT * B * T
    over creditlab's median."""
    best = min(res, key=lambda k: res[k][0])
    return [(B, T, name, t_loop, t, CUDA_BYTES_PER_ELEMENT * B * T / t / 1e9, err, plan,
             name == best) for name, (t, err, plan) in res.items()]


def cuda_report(rows: list[tuple], *, gpu: str, copy_gbs: float, nominal: float | None,
                versions: str, command: str, elapsed: float, reps: int) -> list[str]:
    """The markdown of returns_cuda.md: one row per (shape, strategy) of ``rows`` =
    (B, T, strategy, loop s, creditlab s, GB/s, max abs err, plan, fastest)."""
    lines = [
        "# GAE on CUDA: creditlab vs the verl-style torch loop",
        "",
        f"Generated by `{command}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')} in {elapsed:.0f} s.",
        "",
        f"- GPU: {gpu}; {versions}",
        f"- device-to-device copy of 256 MiB: {copy_gbs:.0f} GB/s (bytes read + written); "
        f"nominal peak: {f'{nominal:.0f} GB/s' if nominal else 'unknown for this name'}",
        "",
        f"GAE advantages + returns, float32, gamma {GAMMA}, lam {LAM}, terminated ~ "
        f"Bernoulli({P_DONE}), values [B, T+1]; creditlab with `out=`. Times are CUDA-event "
        f"medians ({reps} calls for creditlab after 3 warm-up calls, 3 for the loop). "
        f"Bandwidth counts {CUDA_BYTES_PER_ELEMENT} bytes per element (r, V, flag read; A, R "
        "written) over creditlab's median. *strategy*: `auto` is the default plan (the shape "
        "rule of csrc/cuda/scan.h), the others are forced with `_C.cuda_set_scan_strategy`; "
        "*plan* is what ran; **bold**: the fastest strategy at that shape.",
        "",
        "| B x T | strategy | torch loop | creditlab | speed-up | GB/s | % of copy "
        "| % of nominal | max abs err | plan |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for B, T, strategy, tl, to, gbs, err, plan, fastest in rows:
        mark = "**" if fastest else ""
        lines.append(
            f"| {B} x {T} | {mark}{strategy}{mark} | {tl * 1e3:.2f} ms | {to * 1e6:.1f} us "
            f"| {tl / to:.0f}x | {gbs:.0f} | {gbs / copy_gbs:.0%} "
            f"| {f'{gbs / nominal:.0%}' if nominal else '-'} | {err:.1e} "
            f"| {plan[0]}, {plan[1]} chunk(s) of {plan[2] or T} |"
        )
    return lines


def cuda_main(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        import torch
    except ImportError:
        print("error: --device cuda needs torch with CUDA", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("error: --device cuda needs a CUDA GPU, and torch.cuda.is_available() is False "
              f"(torch {torch.__version__})", file=sys.stderr)
        return 2
    import creditlab

    info = creditlab.backend_info()
    if not info["built_with_cuda"] or info["cuda_devices"] == 0:
        print(f"error: creditlab._C was built without CUDA or sees no device: {info}",
              file=sys.stderr)
        return 2
    bad = [s for s in args.strategies if s not in CUDA_STRATEGIES]
    if bad:
        print(f"error: --strategies: unknown {bad}; choose from {CUDA_STRATEGIES}",
              file=sys.stderr)
        return 2
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(dev)

    def to_device(a: np.ndarray) -> Any:
        return torch.from_numpy(a).to(dev)

    nominal = next((g for key, g in NOMINAL_GBS if key in name), None)
    shapes = args.shapes or CUDA_SHAPES
    t_start = time.perf_counter()

    copy_gbs = cuda_copy_gbs(dev, max(args.reps, 10))
    print(f"{name}: copy {copy_gbs:.0f} GB/s" + (f", nominal {nominal:.0f} GB/s" if nominal
                                                 else ", nominal peak unknown"))
    rows = []
    for B, T in shapes:
        shape_rows = cuda_rows(B, T, *cuda_shape(B, T, to_device, args.reps, args.strategies))
        for _, _, strategy, t_loop, t_ours, gbs, err, plan, fastest in shape_rows:
            print(f"{B} x {T} [{strategy}]: torch loop {t_loop * 1e3:.2f} ms, creditlab "
                  f"{t_ours * 1e6:.1f} us ({t_loop / t_ours:.0f}x), {gbs:.0f} GB/s = "
                  f"{gbs / copy_gbs:.0%} of copy"
                  + (f", {gbs / nominal:.0%} of nominal" if nominal else "")
                  + f", max abs err {err:.1e}, plan {plan[:3]}"
                  + (" (fastest)" if fastest else ""))
        rows += shape_rows
    elapsed = time.perf_counter() - t_start
    command = "python benchmarks/bench_returns.py" + "".join(" " + a for a in argv)
    lines = cuda_report(rows, gpu=name, copy_gbs=copy_gbs, nominal=nominal,
                        versions=f"torch {torch.__version__}; creditlab `{info}`",
                        command=command, elapsed=elapsed, reps=args.reps)
    if args.write or args.out:
        path = args.out or DEFAULT_CUDA_OUT
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes and few repeats (< 30 s)")
    ap.add_argument("--shapes", type=parse_shapes, help="comma-separated BxT, e.g. 64x4096")
    ap.add_argument("--out", type=Path, default=None, help=f"markdown file (default {DEFAULT_OUT})")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="cpu: the peer table; cuda: the GPU run (see cuda_main)")
    ap.add_argument("--write", action="store_true",
                    help=f"--device cuda: write the table to {DEFAULT_CUDA_OUT} (or --out)")
    ap.add_argument("--reps", type=int, default=20, help="--device cuda: timed calls per row")
    ap.add_argument("--strategies", type=lambda x: x.split(","), default=CUDA_STRATEGIES,
                    help="--device cuda: comma-separated scan strategies to time "
                    f"(default {','.join(CUDA_STRATEGIES)})")
    ap.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                    help="before each timing, wait up to S s for other processes to go idle, "
                    "and time again (up to 3 times) when they were busy during it")
    args = ap.parse_args(argv)
    if args.device == "cuda":
        return cuda_main(args, argv)

    s = Settings(quiet_wait=args.quiet_wait)
    if args.quick:
        s = Settings(min_time=0.05, min_reps=3, max_reps=200, warmup=1,
                     quiet_wait=args.quiet_wait, bw_bytes=64 * 2**20)
    shapes = args.shapes or (QUICK_SHAPES if args.quick else FULL_SHAPES)
    out = args.out or DEFAULT_OUT
    t_start = time.perf_counter()

    bw = copy_bandwidth(s.bw_bytes, s)
    floor_bw = max(b.gbs for b in bw.values())
    print("copy bandwidth: " + describe_bandwidth(bw))
    results = []
    for shape in shapes:
        print(f"{shape[0]} x {shape[1]}:")
        results.append(run_shape(shape, args.device, s, print))
    elapsed = time.perf_counter() - t_start
    write_markdown(out, results, bw, s.bw_bytes, argv, elapsed)
    print()
    for res in results:
        floor_s = BYTES_PER_ELEMENT * res.shape[0] * res.shape[1] / (floor_bw * 1e9)
        print("\n".join(table(res, floor_s)))
    print(f"wrote {out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
