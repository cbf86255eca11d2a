// Host launchers of the CUDA tree kernels (csrc/cuda/trees.cu), in plain C++ (no CUDA
// types), so that csrc/bindings.cpp can call them without CUDA headers.
//
// Layout as in csrc/trees.h: B trees back to back in flat node arrays of M = tree_ptr[B]
// nodes (tree_ptr is a DEVICE int64 array), parent indices local to each tree with
// parent[i] < i and -1 for roots / unused slots, edge data on the child. Every pointer is
// a device pointer; nullptr marks an absent optional array. Launchers enqueue on `stream`
// (a cudaStream_t passed as an integer), never synchronise, and throw std::runtime_error
// when a launch fails. The Python wrappers (creditlab/trees.py) validate the tree rules;
// the kernels trust them.
//
// Parallelism
//   backup_path:  one thread per tree (one path per tree, applied as the CPU loop does).
//   reduce_up, prefix_tree_advantages: one warp per tree. The warp first derives the
//     tree's structure (depth by pointer jumping inside 32-node chunks; children lists in
//     index order and nodes grouped by depth, both by a stable warp counting sort), then
//     processes depths from the deepest to 0: each node pulls its children in DESCENDING
//     index order, which is the order the CPU's reverse pass pushes them in. Results are
//     deterministic run to run (no floating-point atomics) and equal the CPU kernels up to
//     the compilers' choice of fused multiply-adds.
#pragma once

#include <cstdint>

namespace creditlab {
namespace cuda {

// int32 workspace elements the warp-per-tree kernels need for M nodes.
inline std::int64_t tree_iwork_size(std::int64_t M) { return 6 * M; }

// K1 (mctx-style path backup); op: 0 mean, 1 sum, 2 max, 3 min. V, N updated in place.
void tree_backup_path_f32(const std::int32_t* parent, const float* r, const float* g, float* V,
                          std::int32_t* N, const std::int64_t* tree_ptr, std::int64_t B,
                          const std::int32_t* leaf, const float* v_leaf, int op,
                          std::uintptr_t stream);
void tree_backup_path_f64(const std::int32_t* parent, const double* r, const double* g,
                          double* V, std::int32_t* N, const std::int64_t* tree_ptr,
                          std::int64_t B, const std::int32_t* leaf, const double* v_leaf, int op,
                          std::uintptr_t stream);

// K2 (whole-tree bottom-up aggregation); op: 0 mean, 1 sum, 2 max, 3 min, 4 lse.
// r (default 0), g (1), w (1), v_self, w_self (0) may be nullptr. iwork: tree_iwork_size(M).
void tree_reduce_up_f32(const std::int32_t* parent, const float* leaf_value, const float* r,
                        const float* g, const float* w, const float* v_self,
                        const float* w_self, float T, int op, const std::int64_t* tree_ptr,
                        std::int64_t B, std::int64_t M, float* V, std::int32_t* iwork,
                        std::uintptr_t stream);
void tree_reduce_up_f64(const std::int32_t* parent, const double* leaf_value, const double* r,
                        const double* g, const double* w, const double* v_self,
                        const double* w_self, double T, int op, const std::int64_t* tree_ptr,
                        std::int64_t B, std::int64_t M, double* V, std::int32_t* iwork,
                        std::uintptr_t stream);

// K4 + TreeRL advantages, float64 (the CPU path computes them in float64 too).
// mode: 0 treerl, 1 treerl_code, 2 fork (eps: the sibling z-score's eps).
// is_leaf: uint8 flags or nullptr (leaves = nodes without children). Nodes not connected
// to node 0 (unused slots, parent -1 past node 0, and nodes under them) are never leaves
// and get 0. iwork: tree_iwork_size(M) int32; fwork: 5 * M doubles (out is scratch too).
void tree_prefix_advantages_f64(const std::int32_t* parent, const double* leaf_reward,
                                const std::uint8_t* is_leaf, int mode, bool leave_one_out,
                                bool sqrt_scale, double eps, const std::int64_t* tree_ptr,
                                std::int64_t B, std::int64_t M, double* out,
                                std::int32_t* iwork, double* fwork, std::uintptr_t stream);

}  // namespace cuda
}  // namespace creditlab
