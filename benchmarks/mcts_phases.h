// Profiling hook for csrc/trees.h's MCTS loop (not part of the normal build): compile the
// module with `-include benchmarks/mcts_phases.h` and each search prints, at exit, the
// wall time per call spent in each phase of the simulations (descent, evaluator, expansion
// and backup with the re-decisions, the last re-decisions). See benchmarks/profile_mcts.sh.
#pragma once
#include <chrono>
#include <cstdio>

namespace creditlab_prof {
struct Phases {
  double t[4] = {0, 0, 0, 0};
  double last = 0;
  int phase = -1;
  long sims = 0;
  ~Phases() {
    if (sims == 0) return;
    std::fprintf(stderr,
                 "mcts phases, ms per 256 simulations: descent %.3f, evaluator %.3f, "
                 "expand+backup+re-decide %.3f, last re-decisions %.3f\n",
                 t[0] / sims * 256e3, t[1] / sims * 256e3, t[2] / sims * 256e3,
                 t[3] / sims * 256e3);
  }
};
inline Phases phases;
inline void mark(int k) {
  const double now =
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (phases.phase >= 0 && phases.phase < 4) phases.t[phases.phase] += now - phases.last;
  if (k == 4) ++phases.sims;
  phases.phase = k;
  phases.last = now;
}
}  // namespace creditlab_prof

#define CREDITLAB_MCTS_PHASE(k) creditlab_prof::mark(k)
