"""Build csrc/cuda/*.cu for the CPU CUDA emulator (tests/cuda_emu/cuda_emu.h).

The kernel sources are compiled unchanged by g++ except for one textual rewrite that C++
needs: a launch ``kernel<Op><<<grid, block, smem, stream>>>(args);`` becomes
``::emu::launch("kernel<Op>", bound, grid, block, smem, stream, [&] { kernel<Op>(args); });``
(``bound`` is the kernel's ``__launch_bounds__`` or 0; line numbers are kept, and a
``#line`` directive names the original file, so compiler messages and the emulator's
barrier reports point at csrc/cuda), and each ``__shared__`` declaration gets a statement
that registers the variable with the emulator, which poisons it before every block. The rewritten files are linked with the real
csrc/bindings.cpp (built with CREDITLAB_HAVE_CUDA=1) into a module that has exactly the
``_C.cuda_*`` entry points of a CUDA build, whose "device pointers" are host pointers.

The module is cached inside the checkout, under ``build/cuda-emu/`` (git-ignored), keyed by a
hash of every input, the compiler, Python and pybind11. Not under the system temp
directory: a cache there outlives the checkout, so a fresh clone on the same machine could
find a module built with packages that its own environment lacks (it once hid a missing
pybind11 from CI).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CUDA_DIR = REPO / "csrc" / "cuda"
CXX_FLAGS = ["-std=c++20", "-fPIC", "-pthread", "-w"]
KERNEL_OPT = "-O1"    # the emulated kernels: fast enough to run T of a few thousand
BINDINGS_OPT = "-O0"  # bindings.cpp is only glue here: compile it quickly


class LaunchSyntaxError(ValueError):
    """A ``<<< >>>`` launch the rewriter could not parse."""


def _match_back(text: str, end: int, open_ch: str, close_ch: str) -> int:
    """Index of the ``open_ch`` matching the ``close_ch`` at ``text[end]``."""
    depth = 0
    for i in range(end, -1, -1):
        if text[i] == close_ch:
            depth += 1
        elif text[i] == open_ch:
            depth -= 1
            if depth == 0:
                return i
    raise LaunchSyntaxError(f"unbalanced {close_ch!r} before offset {end}")


def _match_forward(text: str, start: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``text[start]``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    raise LaunchSyntaxError(f"unbalanced '(' at offset {start}")


def _split_top(text: str) -> list[str]:
    """Split at commas outside (), [] and {}."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


_BOUNDS = re.compile(r"__launch_bounds__\s*\(([^()]*)\)\s*(\w+)\s*\(")


def rewrite_launches(src: str) -> str:
    """Replace every ``k<<<...>>>(...);`` by an ``::emu::launch`` call (same line count)."""
    bounds = {name: args.split(",")[0].strip() for args, name in _BOUNDS.findall(src)}
    out, pos = [], 0
    while (lt := src.find("<<<", pos)) >= 0:
        i = lt - 1
        while src[i].isspace():
            i -= 1
        if src[i] == ">":  # template arguments of the kernel
            i = _match_back(src, i, "<", ">") - 1
            while src[i].isspace():
                i -= 1
        name_end = i + 1
        while i >= 0 and (src[i].isalnum() or src[i] in "_:"):
            i -= 1
        name_start = i + 1
        kernel = src[name_start:name_end].strip()
        base = re.sub(r"<.*", "", kernel).split("::")[-1]
        if not base:
            raise LaunchSyntaxError(f"no kernel name before <<< at offset {lt}")
        gt = src.find(">>>", lt)
        config = _split_top(src[lt + 3:gt])
        if not 2 <= len(config) <= 4:
            raise LaunchSyntaxError(f"{kernel}: launch configuration {config}")
        config += ["0", "nullptr"][len(config) - 2:]
        po = gt + 3
        while src[po].isspace():
            po += 1
        if src[po] != "(":
            raise LaunchSyntaxError(f"{kernel}: no argument list after >>>")
        pc = _match_forward(src, po)
        semi = pc + 1
        while src[semi].isspace():
            semi += 1
        if src[semi] != ";":
            raise LaunchSyntaxError(f"{kernel}: launch is not a statement")
        call = src[name_start:lt].rstrip()
        out.append(src[pos:name_start])
        out.append(f'::emu::launch("{kernel}", {bounds.get(base, "0")}, {", ".join(config)}, '
                   f"[&] {{ {call}{src[po:pc + 1]}; }});")
        pos = semi + 1
    out.append(src[pos:])
    return "".join(out)


_SHARED = re.compile(r"__shared__\s+[^;()]+?\b(\w+)\s*(?:\[[^;]*\])?\s*;")


def register_shared(src: str) -> str:
    """Append to each ``__shared__`` declaration a once-only registration with the emulator
    (which poisons the variable before every block); same line count."""
    return _SHARED.sub(
        lambda m: f"{m.group(0)} static const bool emu_reg_{m.group(1)} = "
        f"::emu::register_shared(&{m.group(1)}, sizeof {m.group(1)});", src)


def _inputs() -> list[Path]:
    return sorted([*CUDA_DIR.glob("*.cu"), *CUDA_DIR.glob("*.h"), *CUDA_DIR.glob("*.cuh"),
                   *REPO.joinpath("csrc").glob("*.h"), REPO / "csrc" / "bindings.cpp",
                   *HERE.glob("*.h"), HERE / "emu_control.cpp", Path(__file__)])


def compiler() -> str | None:
    """The C++ compiler to use ($CXX, else g++), or None when there is none."""
    cxx = os.environ.get("CXX", "g++")
    return shutil.which(cxx)


def _key(cxx: str) -> str:
    h = hashlib.sha256()
    for p in _inputs():
        h.update(p.name.encode())
        h.update(p.read_bytes())
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    h.update(version.encode())
    h.update(sys.version.encode())
    h.update(_pybind11_include().encode())  # imports pybind11: a missing one fails here
    return h.hexdigest()[:16]


def _pybind11_include() -> str:
    try:
        import pybind11
    except ImportError as err:
        raise ImportError(
            "the CUDA emulator compiles csrc/bindings.cpp and needs pybind11 in the test "
            "environment: it is in creditlab's [test] extra (pip install -e '.[test]')"
        ) from err
    return pybind11.get_include()


def build(cache_root: Path | None = None) -> Path:
    """Compile (or find cached) the emulator module; returns the path of the shared object."""
    cxx = compiler()
    if cxx is None:
        raise FileNotFoundError("no C++ compiler ($CXX or g++)")
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    root = cache_root or REPO / "build" / "cuda-emu"
    final = root / _key(cxx)
    so = final / f"_C{suffix}"
    if so.exists():
        return so
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root, prefix="build-"))
    common = [cxx, *CXX_FLAGS, "-c"]
    jobs: list[list[str]] = []
    for cu in sorted(CUDA_DIR.glob("*.cu")):
        text = f'#line 1 "{cu}"\n' + register_shared(rewrite_launches(cu.read_text()))
        dst = work / f"{cu.stem}.cu.cpp"
        dst.write_text(text)
        jobs.append([*common, KERNEL_OPT, f"-I{HERE}", f"-I{CUDA_DIR}", str(dst),
                     "-o", str(work / f"{cu.stem}.o")])
    jobs.append([*common, KERNEL_OPT, f"-I{HERE}", str(HERE / "emu_control.cpp"),
                 "-o", str(work / "emu_control.o")])
    py_inc = sysconfig.get_paths()["include"]
    jobs.append([*common, BINDINGS_OPT, "-DCREDITLAB_HAVE_CUDA=1", f"-I{_pybind11_include()}",
                 f"-I{py_inc}", "-fvisibility=hidden", str(REPO / "csrc" / "bindings.cpp"),
                 "-o", str(work / "bindings.o")])
    jobs.sort(key=lambda j: "bindings.cpp" not in j[-3])  # the longest first
    _run_parallel(jobs, max(1, os.cpu_count() or 1))
    objs = sorted(str(p) for p in work.glob("*.o"))
    subprocess.run([cxx, "-shared", "-pthread", *objs, "-o", str(work / so.name)], check=True,
                   capture_output=True, text=True)
    try:
        os.replace(work, final)
    except OSError:  # another process finished first
        shutil.rmtree(work, ignore_errors=True)
    return so


def _run_parallel(jobs: list[list[str]], n: int) -> None:
    running: list[tuple[list[str], subprocess.Popen]] = []
    errors = []
    pending = list(jobs)
    while pending or running:
        while pending and len(running) < n:
            cmd = pending.pop(0)
            running.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                  stderr=subprocess.STDOUT, text=True)))
        cmd, proc = running.pop(0)
        out, _ = proc.communicate()
        if proc.returncode != 0:
            errors.append(f"$ {' '.join(cmd)}\n{out}")
    if errors:
        raise RuntimeError("CUDA emulator build failed:\n" + "\n".join(errors))


@dataclass
class Emulator:
    """The emulated ``_C`` module and the emulator's controls."""

    C: ModuleType
    lib: ctypes.CDLL

    def set_sm_count(self, n: int) -> None:
        self.lib.emu_set_sm_count(n)

    def set_schedule(self, kind: int, seed: int = 0) -> None:
        """0: thread order, 1: reverse order, 2: seeded random order per phase."""
        self.lib.emu_set_schedule(kind, ctypes.c_ulonglong(seed))

    def set_withhold(self, n: int) -> None:
        """Look-back blocks whose ticket is not a multiple of ``n`` withhold their INCLUSIVE
        status (0: off), so that the look-back composes aggregates over several chunks."""
        self.lib.emu_set_withhold(ctypes.c_longlong(n))

    def launches(self) -> list[str]:
        """Kernel names launched since the last call (and clear the log)."""
        log = self.lib.emu_launch_log().decode()
        self.lib.emu_clear_log()
        return [line.split(" ")[0] for line in log.splitlines()]

    def shared_bytes(self) -> int:
        return self.lib.emu_shared_bytes()


_LOADED: Emulator | None = None


def shared() -> Emulator:
    """The emulator module of this process, built (or taken from the cache) and loaded once:
    its controls are process state, so every test module must use the same one."""
    global _LOADED
    if _LOADED is None:
        _LOADED = load(build())
    return _LOADED


def load(so: Path) -> Emulator:
    loader = importlib.machinery.ExtensionFileLoader("_C", str(so))
    spec = importlib.util.spec_from_file_location("_C", str(so), loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    lib = ctypes.CDLL(str(so))
    lib.emu_launch_log.restype = ctypes.c_char_p
    lib.emu_shared_bytes.restype = ctypes.c_long
    lib.emu_set_schedule.argtypes = [ctypes.c_int, ctypes.c_ulonglong]
    lib.emu_set_withhold.argtypes = [ctypes.c_longlong]
    return Emulator(mod, lib)


if __name__ == "__main__":
    import time

    t0 = time.perf_counter()
    path = build(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(f"{path} ({time.perf_counter() - t0:.1f} s)")
