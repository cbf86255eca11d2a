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
//   * kTwoPass (chunked): the rows are cut into chunks of whole tiles (a tile is
//     kThreads * kItems steps); one block per (row, chunk) walks its chunk tile by tile
//     from the end. In a tile each thread composes the maps of its kItems consecutive
//     steps, a block-wide suffix scan (Hillis-Steele in shared memory) of those maps gives
//     each thread its carry, and the thread then runs the exact sequential step over its
//     items. With more than one chunk per row a first kernel writes each chunk's composed
//     map to the workspace and the block of chunk k starts from init(b) pushed through the
//     maps of chunks nchunks-1 .. k+1: multi-chunk rows are read twice from memory. The
//     chunk count is picked so that B * nchunks reaches about kBlocksPerSM blocks per SM.
//     With one chunk per row it is a single kernel. Batch-major rows are read coalesced;
//     time-major rows with B < kWideB are read with stride B (the L2 absorbs most waste).
//   * kLookback: single pass with decoupled look-back (Merrill & Garland 2016, as in CUB's
//     single-pass scan, for a reverse scan of composed maps). Chunks are single tiles. Each
//     block takes a ticket from a global counter; ticket i is chunk nchunks-1 - i / B of
//     row i % B, so every chunk's successors (the chunks it depends on) hold smaller
//     tickets and are already running: no deadlock whatever the block order. The block
//     composes its tile's aggregate map, publishes it (status AGGREGATE), and its first
//     warp looks back over the later chunks of the row 32 at a time, composing aggregates
//     until an INCLUSIVE map (or the row's end); it publishes its own inclusive map
//     (INCLUSIVE) and runs the tile with carry = exclusive map applied to init(b). Each
//     element is read once from DRAM (the step pass re-reads the tile just read, in L1/L2).
//     Publication: map fields stored (volatile), __threadfence(), then the flag (volatile);
//     readers spin on the volatile flag, __threadfence(), then read the map (volatile).
//     Workspace: a ticket counter, a flag per (row, chunk) and two maps per (row, chunk);
//     the counter and flags are zeroed with cudaMemsetAsync on the stream before the launch.
//
// Choosing the strategy: scan_plan's shape rule (kAuto) picks kSequential as above, else the
// chunked layout with kTwoPass. kTwoPass stays the default for multi-chunk rows until a GPU
// measurement says otherwise (benchmarks/bench_returns.py --device cuda times every
// strategy). The process-wide setting overrides the rule: the environment variable
// CREDITLAB_CUDA_SCAN = auto | sequential | twopass | lookback, read once (on the first
// plan), or set_scan_strategy() (Python: _C.cuda_set_scan_strategy(name)), which wins over
// the variable. An explicit `choice` argument of scan_plan overrides both. A forced
// strategy applies to every shape (e.g. lookback with one chunk per row still runs the
// look-back kernel); B == 0 or T == 0 launches nothing.
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
enum ScanStrategy : int { kSequential = 0, kTwoPass = 1, kLookback = 2 };
// Choices that are not a strategy: the shape rule, and "whatever the process setting is".
enum ScanChoice : int { kAuto = -1, kProcessDefault = -2 };

struct ScanPlan {
  int strategy = kSequential;
  index_t nchunks = 1;        // chunks per row (kTwoPass, kLookback)
  index_t chunk_len = 0;      // steps per chunk, a multiple of the tile (kTwoPass, kLookback)
  std::size_t workspace = 0;  // bytes of device workspace the launcher needs
};

// "sequential", "twopass", "lookback" (or "auto" for kAuto).
const char* scan_strategy_name(int choice);
// The choice named `name` (auto, sequential, twopass, lookback); std::invalid_argument else.
int parse_scan_strategy(const char* name);
// The process setting: set_scan_strategy's last value, else $CREDITLAB_CUDA_SCAN (read once;
// an invalid value throws std::invalid_argument naming the variable), else kAuto.
int scan_strategy_setting();
void set_scan_strategy(int choice);  // kAuto or a ScanStrategy

// The plan the launcher will use for this shape on the current device (queries its SM
// count once). `double_precision` selects the map size for the workspace. `choice`:
// kProcessDefault (what the launchers use), kAuto, or a ScanStrategy to force.
ScanPlan scan_plan(int family, bool double_precision, index_t B, index_t T, bool time_major,
                   int choice = kProcessDefault);

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
