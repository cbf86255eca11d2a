#!/usr/bin/env bash
# The prepared GPU run (CUDA kernels), for a session that has a device; first run on an
# H200 on 2026-12-04 (README "On the GPU"; benchmarks/cuda_call_profile.py splits host and
# kernel time).
#
# On the device machine, from the repository root (its image: python3 3.12, torch cu130,
# pybind11, cmake, pytest, hypothesis, numpy; no gymnasium/tqdm/matplotlib):
#     bash benchmarks/gpu_check.sh        # logs and returns_cuda.md go to $OUT (or ./gpu_out)
# It builds creditlab._C with nvcc, prints backend_info, runs
#     CREDITLAB_CUDA_TESTS=gpu pytest tests/test_cuda_scan.py tests/test_cuda_trees_device.py \
#         tests/test_cuda_dispatch.py tests/test_returns.py -q
# (=gpu: the device tests fail instead of falling back to the CPU emulator; the emulator's
# own tests, tests/test_cuda_emu.py, are CI's job), then the CUDA benchmark (writing
# returns_cuda.md into $OUT and benchmarks/results/), which times every reverse-scan
# strategy (auto = the default plan, sequential, twopass, lookback; csrc/cuda/scan.h) at
# each shape, so this one run says which is fastest (the tests also run every strategy),
# and the tree benchmark (bench_trees.py --device cuda, writing trees_cuda.md).
# Designed for < 8 minutes: build ~1-2 min (one CUDA arch, 16 cores), tests ~2-4 min,
# benchmarks ~1-2 min; each step has its own timeout and the script goes on after a failure.
#
# `import creditlab` needs gymnasium (creditlab.envs registers environments) and its pure-
# Python dependency farama_notifications. Prepare them once on the session machine:
#     bash benchmarks/gpu_check.sh --prepare      # copies them into .gpu_site/ (git-ignored)
# and pass carry=[".gpu_site"] to the device run; the script puts it on PYTHONPATH.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}

if [[ "${1:-}" == "--prepare" ]]; then
  # the session machine's environment, which has gymnasium (make install puts it in .venv)
  [[ -z "${PYTHON:-}" && -x .venv/bin/python ]] && PY=.venv/bin/python
  site=$("$PY" -c "import gymnasium, os; print(os.path.dirname(os.path.dirname(gymnasium.__file__)))")
  rm -rf .gpu_site && mkdir -p .gpu_site
  [[ -n "$site" ]] || { echo "--prepare: $PY cannot import gymnasium" >&2; exit 1; }
  for pkg in gymnasium farama_notifications; do cp -r "$site/$pkg" .gpu_site/ || exit 1; done
  find .gpu_site -name __pycache__ -type d -prune -exec rm -rf {} +
  du -sh .gpu_site
  exit 0
fi

OUT=${OUT:-$ROOT/gpu_out}
mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "import gymnasium" 2>/dev/null && [[ -d .gpu_site ]]; then
  export PYTHONPATH="$PYTHONPATH:$ROOT/.gpu_site"
fi
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-dev}
# One architecture for the card at hand (H100/H200: 90) unless the caller sets CMAKE_ARGS;
# CI builds the full list (CMakeLists.txt).
export CMAKE_ARGS=${CMAKE_ARGS:-"-DCMAKE_CUDA_ARCHITECTURES=90"}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
status=0

step() {  # step NAME TIMEOUT_S CMD...: run, log to $OUT/NAME.log, remember a failure
  local name=$1 limit=$2
  shift 2
  echo "=== $name ($(date +%T))"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: rc=$rc in $((SECONDS - t0)) s"
  [[ $rc -eq 0 ]] || status=1
  return 0
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"
step build 300 "$PY" setup.py build_ext --inplace
step backend_info 60 "$PY" -c "import creditlab, json; i = creditlab.backend_info(); print(json.dumps(i)); assert i['built_with_cuda'] and i['cuda_devices'] > 0, i"
step pytest 270 env CREDITLAB_CUDA_TESTS=gpu "$PY" -m pytest tests/test_cuda_scan.py tests/test_cuda_trees_device.py tests/test_cuda_dispatch.py tests/test_returns.py -q -p no:cacheprovider -rs
step bench 150 "$PY" benchmarks/bench_returns.py --device cuda --out "$OUT/returns_cuda.md"
[[ -f "$OUT/returns_cuda.md" ]] && cp "$OUT/returns_cuda.md" benchmarks/results/returns_cuda.md
step bench_trees 120 "$PY" benchmarks/bench_trees.py --device cuda --write
[[ -f benchmarks/results/trees_cuda.md ]] && cp benchmarks/results/trees_cuda.md "$OUT/"
echo "gpu_check: status=$status (0 = every step passed); logs in $OUT"
exit $status
