// CUDA tree kernels: backup_path, reduce_up and TreeRL prefix-tree advantages over batched
// array trees. Declarations and the layout are in trees.h; the CPU kernels they mirror are
// csrc/trees.h (same arithmetic, same order of accumulation per node).
#include "trees.h"

#include <cuda_runtime.h>

#include "check.cuh"

namespace creditlab {
namespace cuda {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kWarpsPerBlock = 4;  // trees per block in the warp-per-tree kernels

// NaN-propagating max / min, as csrc/trees.h: once a NaN enters, it stays.
template <class F>
__device__ __forceinline__ F nan_max(F a, F b) {
  if (isnan(a)) return a;
  if (isnan(b)) return b;
  return b > a ? b : a;
}
template <class F>
__device__ __forceinline__ F nan_min(F a, F b) {
  if (isnan(a)) return a;
  if (isnan(b)) return b;
  return b < a ? b : a;
}

template <class F>
__device__ __forceinline__ F inf_of() {
  return static_cast<F>(INFINITY);
}

// ---------------------------------------------------------------------------------------
// K1: one thread per tree walks leaf -> root exactly as the CPU loop (one path per tree, so
// no two threads touch the same node).
template <class F>
__global__ void backup_path_kernel(const std::int32_t* __restrict__ parent,
                                   const F* __restrict__ r, const F* __restrict__ g, F* V,
                                   std::int32_t* N, const std::int64_t* __restrict__ tree_ptr,
                                   std::int64_t B, const std::int32_t* __restrict__ leaf,
                                   const F* __restrict__ v_leaf, int op) {
  const std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= B) return;
  const std::int64_t base = tree_ptr[b];
  std::int32_t c = leaf[b];
  F G = v_leaf[b];
  for (std::int32_t p = parent[base + c]; p >= 0; p = parent[base + c]) {
    G = r[base + c] + g[base + c] * G;
    F v = V[base + p];
    const std::int32_t n = N[base + p];
    if (op == 0) v = (v * static_cast<F>(n) + G) / static_cast<F>(n + 1);
    else if (op == 1) v = v + G;
    else if (op == 2) v = n ? nan_max(v, G) : G;
    else v = n ? nan_min(v, G) : G;
    V[base + p] = v;
    N[base + p] = n + 1;
    c = p;
  }
}

// ---------------------------------------------------------------------------------------
// Warp-per-tree structure. All arrays below are local to one tree (already offset by the
// tree's first flat node); n is its node count.

__device__ __forceinline__ int warp_max(int x) {
  for (int o = 16; o > 0; o >>= 1) x = max(x, __shfl_xor_sync(kFull, x, o));
  return x;
}

// out[i] = in[0] + ... + in[i-1] for i < len (out may alias in).
__device__ void warp_exclusive_scan(const std::int32_t* in, std::int32_t* out, std::int32_t len,
                                    int lane) {
  int carry = 0;
  for (std::int32_t c0 = 0; c0 < len; c0 += 32) {
    const std::int32_t i = c0 + lane;
    const int x = i < len ? in[i] : 0;
    int v = x;
    for (int o = 1; o < 32; o <<= 1) {
      const int y = __shfl_up_sync(kFull, v, o);
      if (lane >= o) v += y;
    }
    if (i < len) out[i] = carry + v - x;
    carry += __shfl_sync(kFull, v, 31);
  }
  __syncwarp();
}

struct Structure {
  std::int32_t* depth;   // [n] edges from the node's root
  std::int32_t* ccount;  // [n] number of children
  std::int32_t* cend;    // [n] end of the node's segment in `child` (start = cend - ccount)
  std::int32_t* child;   // [n] children, grouped by parent, ascending index within a group
  std::int32_t* order;   // [n] nodes grouped by depth (ascending index within a depth)
  std::int32_t* lend;    // [n] end of depth d's group in `order` (start = d ? lend[d-1] : 0)
  int max_depth;
};

// Derive depth, children lists and depth groups of one tree; returns them (every lane holds
// the same max_depth). Three passes over 32-node chunks:
//  1. depth: a node whose parent lies in an earlier chunk reads its depth; parents inside the
//     chunk are resolved by pointer jumping over lanes (anchors point to lower lanes, so
//     five doubling rounds cover any chain of 32). When `conn` is given, the same jumps
//     carry the flag "connected to node 0" (a node takes its chain top's: node 0 yes, an
//     unused slot -- parent -1 past node 0 -- no, a node with an earlier-chunk parent the
//     parent's) into conn[i] (1.0 / 0.0);
//  2. counts of children per parent and nodes per depth (integer atomics: the counts are
//     exact, so the result is deterministic), then exclusive scans;
//  3. stable scatter: lanes with the same key are grouped with __match_any_sync, take the
//     slot cursor + (rank among lower lanes), and the group's lowest lane advances the
//     cursor; chunks go in index order, so every group is in ascending index order.
__device__ Structure build_structure(const std::int32_t* parent, std::int32_t n,
                                     std::int32_t* iwork, std::int64_t M, std::int64_t base,
                                     int lane, double* conn) {
  Structure s;
  s.depth = iwork + base;
  s.ccount = iwork + M + base;
  s.cend = iwork + 2 * M + base;
  s.child = iwork + 3 * M + base;
  s.order = iwork + 4 * M + base;
  s.lend = iwork + 5 * M + base;
  int maxd = 0;
  for (std::int32_t c0 = 0; c0 < n; c0 += 32) {
    const std::int32_t i = c0 + lane;
    const std::int32_t p = i < n ? parent[i] : -1;
    int anchor = -1, d = 0, f = i == 0;
    if (p >= c0) {
      anchor = p - c0;
      d = 1;
    } else if (p >= 0) {
      d = s.depth[p] + 1;
      f = conn != nullptr && conn[p] != 0.0;
    }
#pragma unroll
    for (int k = 0; k < 5; ++k) {
      const int src = anchor >= 0 ? anchor : lane;
      const int da = __shfl_sync(kFull, d, src);
      const int aa = __shfl_sync(kFull, anchor, src);
      const int fa = __shfl_sync(kFull, f, src);
      if (anchor >= 0) {
        d += da;
        anchor = aa;
        f = fa;
      }
    }
    if (i < n) {
      s.depth[i] = d;
      if (conn) conn[i] = f ? 1.0 : 0.0;
    }
    maxd = max(maxd, d);
    __syncwarp();
  }
  s.max_depth = warp_max(maxd);
  for (std::int32_t i = lane; i < n; i += 32) {
    s.ccount[i] = 0;
    s.lend[i] = 0;
  }
  __syncwarp();
  for (std::int32_t i = lane; i < n; i += 32) {
    const std::int32_t p = parent[i];
    if (p >= 0) atomicAdd(s.ccount + p, 1);
    atomicAdd(s.lend + s.depth[i], 1);
  }
  __syncwarp();
  warp_exclusive_scan(s.ccount, s.cend, n, lane);
  warp_exclusive_scan(s.lend, s.lend, s.max_depth + 1, lane);
  const unsigned lower = (1u << lane) - 1u;
  for (std::int32_t c0 = 0; c0 < n; c0 += 32) {
    const std::int32_t i = c0 + lane;
    const bool valid = i < n;
    const std::int32_t p = valid ? parent[i] : -1;
    const int d = valid ? s.depth[i] : -1;
    const unsigned mp = __match_any_sync(kFull, p);
    const unsigned md = __match_any_sync(kFull, d);
    std::int32_t cp = 0, cd = 0;
    if (p >= 0) {
      cp = s.cend[p];
      s.child[cp + __popc(mp & lower)] = i;
    }
    if (valid) {
      cd = s.lend[d];
      s.order[cd + __popc(md & lower)] = i;
    }
    __syncwarp();
    if (p >= 0 && lane == __ffs(mp) - 1) s.cend[p] = cp + __popc(mp);
    if (valid && lane == __ffs(md) - 1) s.lend[d] = cd + __popc(md);
    __syncwarp();
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// K2: depths from the deepest to 0; each node pulls its children in descending index order
// (the CPU reverse pass pushes them into the parent in that order).
template <class F>
__global__ void reduce_up_kernel(const std::int32_t* __restrict__ parent,
                                 const F* __restrict__ leaf_value, const F* __restrict__ r,
                                 const F* __restrict__ g, const F* __restrict__ w,
                                 const F* __restrict__ v_self, const F* __restrict__ w_self,
                                 F T, int op, const std::int64_t* __restrict__ tree_ptr,
                                 std::int64_t B, std::int64_t M, F* V, std::int32_t* iwork) {
  const int lane = threadIdx.x & 31;
  const std::int64_t b =
      (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (b >= B) return;  // uniform across the warp
  const std::int64_t base = tree_ptr[b];
  const std::int32_t n = static_cast<std::int32_t>(tree_ptr[b + 1] - base);
  if (n <= 0) return;
  const Structure s = build_structure(parent + base, n, iwork, M, base, lane, nullptr);
  const F inf = inf_of<F>();
  const F init = op == 2 ? -inf : op == 3 ? inf : op == 4 ? -inf : F(0);
  for (int d = s.max_depth; d >= 0; --d) {
    const std::int32_t lo = d ? s.lend[d - 1] : 0, hi = s.lend[d];
    for (std::int32_t k = lo + lane; k < hi; k += 32) {
      const std::int32_t i = s.order[k];
      const std::int32_t e = s.cend[i], st = e - s.ccount[i];
      F acc = init, ws = F(0);
      for (std::int32_t j = e - 1; j >= st; --j) {
        const std::int64_t c = base + s.child[j];
        const F wi = w ? w[c] : F(1);
        if (!(wi > F(0))) continue;
        const F q = (r ? r[c] : F(0)) + (g ? g[c] : F(1)) * V[c];
        ws += wi;
        if (op == 0 || op == 1) {
          acc += wi * q;
        } else if (op == 2) {
          acc = nan_max(acc, q);
        } else if (op == 3) {
          acc = nan_min(acc, q);
        } else {  // log-sum-exp, stable pairwise (as csrc/trees.h)
          const F z = log(wi) + q / T, a = acc;
          if (isnan(a) || isnan(z)) acc = a + z;  // NaN
          else if (a == -inf) acc = z;
          else if (z == -inf) acc = a;
          else if (a == inf || z == inf) acc = inf;  // log(e^inf + e^x) = inf, not NaN
          else {
            const F m = a > z ? a : z;
            acc = m + log(exp(a - m) + exp(z - m));
          }
        }
      }
      const std::int64_t ig = base + i;
      F v;
      if (!(ws > F(0))) {
        v = leaf_value[ig];
      } else if (op == 0) {
        const F sw = w_self ? w_self[ig] : F(0), sv = v_self ? v_self[ig] : F(0);
        v = (sw * sv + acc) / (sw + ws);
      } else if (op == 4) {
        v = T * acc;
      } else {
        v = acc;
      }
      V[ig] = v;
    }
    __syncwarp();
  }
}

// ---------------------------------------------------------------------------------------
// K4 + TreeRL / fork advantages (float64), mirroring creditlab.trees.prefix_tree_advantages:
// leave-one-out centring over the tree's leaves, leaf statistics by Chan's merge (children
// in descending index order, then the node itself if it is a leaf, as csrc/trees.h
// leaf_stats), then the elementwise advantage; `fork` takes the sibling z-score of V with
// sibling sums in ascending index order (csrc/trees.h sibling_stats). Only the nodes
// connected to node 0 take part (unused slots of a fixed-capacity tree and their subtrees
// are ignored and get 0), as on the CPU.
__global__ void prefix_advantages_kernel(const std::int32_t* __restrict__ parent,
                                         const double* __restrict__ x,
                                         const std::uint8_t* __restrict__ is_leaf, int mode,
                                         bool leave_one_out, bool sqrt_scale, double eps,
                                         const std::int64_t* __restrict__ tree_ptr,
                                         std::int64_t B, std::int64_t M, double* out,
                                         std::int32_t* iwork, double* fwork) {
  const int lane = threadIdx.x & 31;
  const std::int64_t b =
      (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (b >= B) return;
  const std::int64_t base = tree_ptr[b];
  const std::int32_t n = static_cast<std::int32_t>(tree_ptr[b + 1] - base);
  if (n <= 0) return;
  const std::int32_t* par = parent + base;
  // Until the final pass, `out` holds the flags "connected to node 0" (1.0 / 0.0): a node
  // that is not (an unused slot, or stored under one) is no leaf, so it adds nothing to the
  // leave-one-out sums or the statistics, and gets 0. Each lane reads its own node's flag
  // before it writes the node's advantage over it.
  double* conn = out + base;
  const Structure s = build_structure(par, n, iwork, M, base, lane, conn);
  double* cnt = fwork + base;
  double* mean = fwork + M + base;
  double* m2 = fwork + 2 * M + base;
  double* smean = fwork + 3 * M + base;
  double* sstd = fwork + 4 * M + base;
  const double* xb = x + base;
  auto leaf = [&](std::int32_t i) {
    return conn[i] != 0.0 && (is_leaf ? is_leaf[base + i] != 0 : s.ccount[i] == 0);
  };
  long long k = 0;
  double tot = 0;
  if (leave_one_out) {
    for (std::int32_t i = lane; i < n; i += 32)
      if (leaf(i)) {
        ++k;
        tot += xb[i];
      }
    for (int o = 16; o > 0; o >>= 1) {
      k += __shfl_xor_sync(kFull, k, o);
      tot += __shfl_xor_sync(kFull, tot, o);
    }
  }
  const bool loo = leave_one_out && k > 1;
  const double km1 = static_cast<double>(k > 1 ? k - 1 : 1);
  for (int d = s.max_depth; d >= 0; --d) {
    const std::int32_t lo = d ? s.lend[d - 1] : 0, hi = s.lend[d];
    for (std::int32_t kk = lo + lane; kk < hi; kk += 32) {
      const std::int32_t i = s.order[kk];
      const std::int32_t e = s.cend[i], st = e - s.ccount[i];
      double c = 0, mu = 0, q2 = 0;
      for (std::int32_t j = e - 1; j >= st; --j) {
        const std::int32_t ch = s.child[j];
        const double nb = cnt[ch];
        if (nb == 0) continue;
        const double nn = c + nb, dd = mean[ch] - mu;
        mu += dd * nb / nn;
        q2 += m2[ch] + dd * dd * c * nb / nn;
        c = nn;
      }
      if (leaf(i)) {
        const double xi = loo ? xb[i] - (tot - xb[i]) / km1 : xb[i];
        const double nn = c + 1, dd = xi - mu;
        mu += dd / nn;
        q2 += dd * (xi - mu);
        c = nn;
      }
      cnt[i] = c;
      mean[i] = mu;
      m2[i] = q2;
    }
    __syncwarp();
  }
  if (mode == 2) {
    for (std::int32_t i = lane; i < n; i += 32) {
      const std::int32_t cc = s.ccount[i];
      if (cc == 0) continue;
      const std::int32_t e = s.cend[i], st = e - cc;
      double sum = 0;
      for (std::int32_t j = st; j < e; ++j) sum += mean[s.child[j]];
      const double mu = sum / static_cast<double>(cc);
      double sq = 0;
      for (std::int32_t j = st; j < e; ++j) {
        const double dd = mean[s.child[j]] - mu;
        sq += dd * dd;
      }
      smean[i] = mu;
      sstd[i] = sqrt(sq / static_cast<double>(cc));
    }
    __syncwarp();
    for (std::int32_t i = lane; i < n; i += 32) {
      const std::int32_t p = par[i];
      const bool ok = conn[i] != 0.0 && p >= 0 && s.ccount[p] >= 2;
      out[base + i] = ok ? (mean[i] - smean[p]) / (sstd[p] + eps) : 0.0;
    }
    return;
  }
  const double v0 = mean[0];
  for (std::int32_t i = lane; i < n; i += 32) {
    if (conn[i] == 0.0) {
      out[base + i] = 0.0;
      continue;
    }
    const std::int32_t p = par[i];
    const double v = mean[i];
    const double L = p >= 0 ? v - mean[p] : 0.0;
    double o = mode == 0 ? (v - v0 + L) : (L + v);
    if (sqrt_scale) o = o / sqrt(cnt[i] > 1.0 ? cnt[i] : 1.0);
    out[base + i] = o;
  }
}

unsigned warp_blocks(std::int64_t B) {
  return static_cast<unsigned>((B + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

template <class F>
void launch_backup_path(const std::int32_t* parent, const F* r, const F* g, F* V,
                        std::int32_t* N, const std::int64_t* tree_ptr, std::int64_t B,
                        const std::int32_t* leaf, const F* v_leaf, int op,
                        std::uintptr_t stream) {
  if (B <= 0) return;
  const int threads = 128;
  const unsigned blocks = static_cast<unsigned>((B + threads - 1) / threads);
  backup_path_kernel<F><<<blocks, threads, 0, as_stream(stream)>>>(parent, r, g, V, N,
                                                                   tree_ptr, B, leaf, v_leaf,
                                                                   op);
  check(cudaGetLastError(), "tree_backup_path launch");
}

template <class F>
void launch_reduce_up(const std::int32_t* parent, const F* leaf_value, const F* r, const F* g,
                      const F* w, const F* v_self, const F* w_self, F T, int op,
                      const std::int64_t* tree_ptr, std::int64_t B, std::int64_t M, F* V,
                      std::int32_t* iwork, std::uintptr_t stream) {
  if (B <= 0 || M <= 0) return;
  reduce_up_kernel<F><<<warp_blocks(B), 32 * kWarpsPerBlock, 0, as_stream(stream)>>>(
      parent, leaf_value, r, g, w, v_self, w_self, T, op, tree_ptr, B, M, V, iwork);
  check(cudaGetLastError(), "tree_reduce_up launch");
}

}  // namespace

void tree_backup_path_f32(const std::int32_t* parent, const float* r, const float* g, float* V,
                          std::int32_t* N, const std::int64_t* tree_ptr, std::int64_t B,
                          const std::int32_t* leaf, const float* v_leaf, int op,
                          std::uintptr_t stream) {
  launch_backup_path<float>(parent, r, g, V, N, tree_ptr, B, leaf, v_leaf, op, stream);
}

void tree_backup_path_f64(const std::int32_t* parent, const double* r, const double* g,
                          double* V, std::int32_t* N, const std::int64_t* tree_ptr,
                          std::int64_t B, const std::int32_t* leaf, const double* v_leaf, int op,
                          std::uintptr_t stream) {
  launch_backup_path<double>(parent, r, g, V, N, tree_ptr, B, leaf, v_leaf, op, stream);
}

void tree_reduce_up_f32(const std::int32_t* parent, const float* leaf_value, const float* r,
                        const float* g, const float* w, const float* v_self,
                        const float* w_self, float T, int op, const std::int64_t* tree_ptr,
                        std::int64_t B, std::int64_t M, float* V, std::int32_t* iwork,
                        std::uintptr_t stream) {
  launch_reduce_up<float>(parent, leaf_value, r, g, w, v_self, w_self, T, op, tree_ptr, B, M,
                          V, iwork, stream);
}

void tree_reduce_up_f64(const std::int32_t* parent, const double* leaf_value, const double* r,
                        const double* g, const double* w, const double* v_self,
                        const double* w_self, double T, int op, const std::int64_t* tree_ptr,
                        std::int64_t B, std::int64_t M, double* V, std::int32_t* iwork,
                        std::uintptr_t stream) {
  launch_reduce_up<double>(parent, leaf_value, r, g, w, v_self, w_self, T, op, tree_ptr, B, M,
                           V, iwork, stream);
}

void tree_prefix_advantages_f64(const std::int32_t* parent, const double* leaf_reward,
                                const std::uint8_t* is_leaf, int mode, bool leave_one_out,
                                bool sqrt_scale, double eps, const std::int64_t* tree_ptr,
                                std::int64_t B, std::int64_t M, double* out,
                                std::int32_t* iwork, double* fwork, std::uintptr_t stream) {
  if (B <= 0 || M <= 0) return;
  prefix_advantages_kernel<<<warp_blocks(B), 32 * kWarpsPerBlock, 0, as_stream(stream)>>>(
      parent, leaf_reward, is_leaf, mode, leave_one_out, sqrt_scale, eps, tree_ptr, B, M, out,
      iwork, fwork);
  check(cudaGetLastError(), "tree_prefix_advantages launch");
}

}  // namespace cuda
}  // namespace creditlab
