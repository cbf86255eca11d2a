#!/bin/sh
# Where creditlab's MCTS time goes, per phase of a simulation (issue 36): builds a copy of
# creditlab._C (CPU only) with the timing hook benchmarks/mcts_phases.h into $OUT (default
# build/profile_mcts), then runs B = 64, S = 256 Gumbel and MuZero searches on the toy model
# pinned to one core and prints the phases. The Python side (setup, callback overhead
# around the model, result) is the call's total minus the C++ phases' sum minus "evaluator".
#   sh benchmarks/profile_mcts.sh [python] [core]      (NO_BUILD=1: reuse the last build)
set -e
PY=${1:-python}
CORE=${2:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/build/profile_mcts}
if [ -z "$NO_BUILD" ]; then
rm -rf "$OUT" && mkdir -p "$OUT"
cp -r "$ROOT/creditlab" "$OUT/" && rm -f "$OUT"/creditlab/_C*.so
EXT=$($PY -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
g++ -O3 -DNDEBUG -fPIC -fvisibility=hidden -march=native -fopenmp -std=gnu++17 -shared $EXTRA_CXXFLAGS \
  -include "$ROOT/benchmarks/mcts_phases.h" -I"$ROOT/csrc" \
  $($PY -m pybind11 --includes) "$ROOT/csrc/bindings.cpp" -o "$OUT/creditlab/_C$EXT"
fi
cd "$OUT"  # so that the copy, not the checkout, is imported
for alg in gumbel muzero; do
  OMP_NUM_THREADS=1 PYTHONPATH="$OUT:$ROOT/benchmarks" taskset -c "$CORE" $PY -c "
import sys, time, numpy as np, toy_env
from creditlab.planning import RecurrentOutput, mcts
import creditlab; assert creditlab._C.__file__.startswith('$OUT')
def rec(emb, a):
    r, d, lg, v, new = toy_env.step(emb, a)
    return RecurrentOutput(r.astype(np.float32), d.astype(np.float32), lg.astype(np.float32),
                           v.astype(np.float32)), new
B, S, A = 64, 256, toy_env.A
kw = dict(algorithm='$alg', max_num_considered_actions=8, seed=0) if '$alg' == 'gumbel' else {}
z, v, emb = np.zeros((B, A), np.float32), np.zeros(B, np.float32), np.arange(B)
ts = []
for _ in range(30):
    t0 = time.perf_counter(); mcts(z, v, rec, S, emb, **kw); ts.append(time.perf_counter() - t0)
print('$alg: whole call, median of 30: %.2f ms' % (np.median(ts) * 1e3))
"
done
