// Host launchers of the CUDA group helpers (csrc/cuda/groups.cu), plain C++ (no CUDA
// types). Device pointers; launched on `stream`, never synchronised; std::runtime_error on
// a failed launch. Same arithmetic as creditlab/advantages.py: sums and the two-pass
// variance in float64, the result cast to F.
#pragma once

#include <cstdint>

namespace creditlab {
namespace cuda {

enum GroupMode : int { kGrpo = 0, kDrGrpo = 1, kRloo = 2 };

// Per-group advantages from one score per sequence. `group` holds ids already mapped to
// 0 .. G-1; `workspace` holds 3 * G doubles (zeroed here, on the stream).
template <class F>
void group_advantages(const F* scores, const std::int64_t* group, std::int64_t N,
                      std::int64_t G, int mode, double eps, F* out, double* workspace,
                      std::uintptr_t stream);

// (x - mean) / sqrt(var + eps) (+ mean unless shift_mean) with the mean and variance of the
// entries where mask != 0; `workspace` holds 3 doubles. The caller checks that the mask
// selects enough entries.
template <class F>
void masked_whiten(const F* x, const std::uint8_t* mask, std::int64_t n, bool unbiased,
                   double eps, bool shift_mean, F* out, double* workspace,
                   std::uintptr_t stream);

}  // namespace cuda
}  // namespace creditlab
