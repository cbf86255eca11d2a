// Host launchers of the CUDA reverse-scan kernels (csrc/cuda/scan.cu), in plain C++: no
// CUDA types, so csrc/bindings.cpp can include this without a CUDA header. The argument
// structs are the CPU ones from csrc/scan.h (same fields, same meaning), holding DEVICE
// pointers here; nullptr = absent optional, exactly as on the CPU.
//
// Strategy, chosen by shape (cuda::scan_plan; see scan.cu for the kernels):
//   * kSequential: one thread per sequence, t descending, the CPU step math. Used when
//     T <= kShortT (a row is one or two cache lines, read by one thread through L1) or,
//     for time-major [T, B] data, when B >= kWideB (a warp reads 32 adjacent columns at
//     each t: coalesced, and B alone fills the GPU).
//   * kChunked: the rows are cut into chunks of whole tiles (a tile is kThreads * kItems
//     steps); one block per (row, chunk) walks its chunk tile by tile from the end. In a
//     tile each thread composes the maps of its kItems consecutive steps, a block-wide
//     suffix scan (Hillis-Steele in shared memory) of those maps gives each thread its
//     carry, and the thread then runs the exact sequential step over its items. With more
//     than one chunk per row a first kernel writes each chunk's composed map to the
//     workspace and the block of chunk k starts from init(b) pushed through the maps of
//     chunks nchunks-1 .. k+1. The chunk count is picked so that B * nchunks reaches about
//     kBlocksPerSM blocks per SM. Batch-major rows are read coalesced; time-major rows
//     with B < kWideB are read with stride B (correct; the L2 absorbs most of the waste).
// The maps: sum-form returns x -> a x + b (or a constant after a terminated/truncated
// step: a cut, so a NaN does not cross an episode end); GAE the pair (A, V+) ->
// (p A + q V+ + s, u or V+); min-form x -> minp(b, x) with a cut at terminated steps.
// Masked steps are identity maps. Results equal the sequential CPU kernels up to float
// rounding (the carries entering each thread are reassociated sums); min-form is exact.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../scan.h"

namespace creditlab {
namespace cuda {

enum ScanFamily : int { kReturns = 0, kGae = 1, kMinForm = 2 };
enum ScanStrategy : int { kSequential = 0, kChunked = 1 };

struct ScanPlan {
  int strategy = kSequential;
  index_t nchunks = 1;        // chunks per row (kChunked)
  index_t chunk_len = 0;      // steps per chunk, a multiple of the tile (kChunked)
  std::size_t workspace = 0;  // bytes of device workspace the launcher needs
};

// The plan the launcher will use for this shape on the current device (queries its SM
// count once). `double_precision` selects the map size for the workspace.
ScanPlan scan_plan(int family, bool double_precision, index_t B, index_t T, bool time_major);

// Launch on `stream` (a cudaStream_t as an integer); never synchronise. `workspace` must
// hold scan_plan(...).workspace bytes (may be null when that is 0). Throws
// std::runtime_error when a launch fails (e.g. no device).
template <class F>
void discounted_returns(const ReturnsArgs<F>& a, void* workspace, std::size_t workspace_bytes,
                        std::uintptr_t stream);
template <class F>
void gae(const GaeArgs<F>& a, void* workspace, std::size_t workspace_bytes,
         std::uintptr_t stream);
template <class F>
void min_form_returns(const MinFormArgs<F>& a, void* workspace, std::size_t workspace_bytes,
                      std::uintptr_t stream);

}  // namespace cuda
}  // namespace creditlab
