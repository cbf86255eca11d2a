// CUDA reverse-scan kernels: discounted_returns, gae (and lambda_returns), min_form_returns.
// See scan.h for the strategy and the choice rule. Each family is an "Op":
//   init(b)            the carry after the last step of row b (bootstrap)
//   step(b, t, c)      one element, t descending: the CPU kernels' math (csrc/scan.h), with
//                      the same fused multiply-adds and selects, so the sequential
//                      strategy rounds like the CPU's element-wise kernels
//   element(b, t)      the element as a map carry_{t+1} -> carry_t
//   compose(o, i)      the map "i, then o" (i covers later steps than o); associative
//   apply(m, c)        m(c)
// Flags (cut / identity) are selects, never multiplications by 0, so NaN semantics are the
// CPU's: a NaN never crosses an episode end, and does cross where the CPU lets it.
#include "scan.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "check.cuh"

namespace creditlab {
namespace cuda {
namespace {

constexpr int kThreads = 256;  // threads per block (chunked strategy)
constexpr int kItems = 4;      // consecutive steps per thread in a tile
constexpr index_t kTile = index_t(kThreads) * kItems;
constexpr index_t kShortT = 64;      // T at or below: one thread per row
constexpr index_t kWideB = 2048;     // time-major B at or above: one thread per column
constexpr index_t kBlocksPerSM = 8;  // chunked: aim for this many blocks per SM
constexpr int kSeqThreads = 128;

__device__ __forceinline__ float dfma(float x, float y, float z) { return fmaf(x, y, z); }
__device__ __forceinline__ double dfma(double x, double y, double z) { return fma(x, y, z); }

// Flat index of (b, t) of a logical [B, T] array whose time axis has `len` slots.
__device__ __forceinline__ index_t at(const Layout& L, index_t b, index_t t, index_t len) {
  return L.time_major ? t * L.B + b : b * len + t;
}

// ---------------------------------------------------------------------------------------
// Sum-form returns: G_t = fma(gamma, next, r_t), next = 0 after terminated, next_values_t
// after truncated, else G_{t+1}; masked steps carry G.
template <class F>
struct ReturnsOp {
  struct Carry {
    F g;
  };
  enum : int { kIdentity = 0, kAffine = 1, kConst = 2 };
  struct Map {
    F a, b;
    int kind;
  };
  ReturnsArgs<F> a;

  __device__ Carry init(index_t b) const {
    if (a.next_values) return Carry{a.next_values[at(a.L, b, a.L.T - 1, a.L.T)]};
    return Carry{a.bootstrap ? a.bootstrap[b] : F(0)};
  }
  __device__ void step(index_t b, index_t t, Carry& c) const {
    const index_t i = at(a.L, b, t, a.L.T);
    if (a.mask && !a.mask[i]) {
      a.out[i] = c.g;
      return;
    }
    F next = c.g;
    if (a.truncated && a.truncated[i]) next = a.next_values[i];
    if (a.terminated && a.terminated[i]) next = F(0);
    c.g = dfma(a.gamma, next, a.rewards[i]);
    a.out[i] = c.g;
  }
  __device__ static Map identity() { return Map{F(1), F(0), kIdentity}; }
  __device__ Map element(index_t b, index_t t) const {
    const index_t i = at(a.L, b, t, a.L.T);
    if (a.mask && !a.mask[i]) return identity();
    const F r = a.rewards[i];
    if (a.terminated && a.terminated[i]) return Map{F(0), dfma(a.gamma, F(0), r), kConst};
    if (a.truncated && a.truncated[i])
      return Map{F(0), dfma(a.gamma, a.next_values[i], r), kConst};
    return Map{a.gamma, r, kAffine};
  }
  __device__ static Map compose(const Map& o, const Map& i) {
    if (o.kind == kIdentity) return i;
    if (i.kind == kIdentity || o.kind == kConst) return o;
    if (i.kind == kConst) return Map{F(0), dfma(o.a, i.b, o.b), kConst};
    return Map{o.a * i.a, dfma(o.a, i.b, o.b), kAffine};
  }
  __device__ static Carry apply(const Map& m, Carry c) {
    if (m.kind == kIdentity) return c;
    if (m.kind == kConst) return Carry{m.b};
    return Carry{dfma(m.a, c.g, m.b)};
  }
};

// ---------------------------------------------------------------------------------------
// GAE: carry (A, V+). A_t = done ? delta : fma(gamma*lam, A_{t+1}, delta) with
// delta = fma(gamma, V+, r) - v (V+ = 0 after terminated, next_values_t if given);
// V+ becomes v_t. As a map: A -> [p A] + [q V+] + s, V+ -> u (bracketed terms only when
// their flag is set).
template <class F>
struct GaeOp {
  struct Carry {
    F adv, vn;
  };
  enum : int { kIdentity = 1, kDepA = 2, kDepV = 4, kConstV = 8 };
  struct Map {
    F p, q, s, u;
    int flags;
  };
  GaeArgs<F> a;

  __device__ Carry init(index_t b) const {
    F v = F(0);
    if (a.values_len == a.L.T + 1) v = a.values[at(a.L, b, a.L.T, a.values_len)];
    else if (a.bootstrap) v = a.bootstrap[b];
    return Carry{F(0), v};
  }
  __device__ void store(index_t i, F adv, F v) const {
    if (a.adv_out) a.adv_out[i] = adv;
    if (a.ret_out) a.ret_out[i] = adv + v;
  }
  __device__ void step(index_t b, index_t t, Carry& c) const {
    const index_t i = at(a.L, b, t, a.L.T);
    const F v = a.values[at(a.L, b, t, a.values_len)];
    if (a.mask && !a.mask[i]) {
      store(i, c.adv, v);
      return;
    }
    F vnext = a.next_values ? a.next_values[i] : c.vn;
    bool done = a.truncated && a.truncated[i];
    if (a.terminated && a.terminated[i]) {
      vnext = F(0);
      done = true;
    }
    const F delta = dfma(a.gamma, vnext, a.rewards[i]) - v;
    c.adv = done ? delta : dfma(a.gamma * a.lam, c.adv, delta);
    c.vn = v;
    store(i, c.adv, v);
  }
  __device__ static Map identity() { return Map{F(1), F(0), F(0), F(0), kIdentity}; }
  __device__ Map element(index_t b, index_t t) const {
    const index_t i = at(a.L, b, t, a.L.T);
    if (a.mask && !a.mask[i]) return identity();
    const F v = a.values[at(a.L, b, t, a.values_len)];
    const F r = a.rewards[i];
    const bool term = a.terminated && a.terminated[i];
    const bool done = term || (a.truncated && a.truncated[i]);
    Map m{F(0), F(0), F(0), v, kConstV};
    if (term) {
      m.s = dfma(a.gamma, F(0), r) - v;
    } else if (a.next_values) {
      m.s = dfma(a.gamma, a.next_values[i], r) - v;
    } else {
      m.s = r - v;
      m.q = a.gamma;
      m.flags |= kDepV;
    }
    if (!done) {
      m.p = a.gamma * a.lam;
      m.flags |= kDepA;
    }
    return m;
  }
  __device__ static Map compose(const Map& o, const Map& i) {
    if (o.flags & kIdentity) return i;
    if (i.flags & kIdentity) return o;
    Map r{F(0), F(0), o.s, F(0), 0};
    if (o.flags & kDepA) {  // o reads i's A = [i.p A] + [i.q V+] + i.s
      r.s = dfma(o.p, i.s, r.s);
      if (i.flags & kDepA) {
        r.p = o.p * i.p;
        r.flags |= kDepA;
      }
      if (i.flags & kDepV) {
        r.q = o.p * i.q;
        r.flags |= kDepV;
      }
    }
    if (o.flags & kDepV) {  // o reads i's V+ = u, or V+ unchanged
      if (i.flags & kConstV) {
        r.s = dfma(o.q, i.u, r.s);
      } else {
        r.q = (r.flags & kDepV) ? r.q + o.q : o.q;
        r.flags |= kDepV;
      }
    }
    if ((o.flags | i.flags) & kConstV) {
      r.u = (o.flags & kConstV) ? o.u : i.u;
      r.flags |= kConstV;
    }
    return r;
  }
  __device__ static Carry apply(const Map& m, Carry c) {
    if (m.flags & kIdentity) return c;
    F adv = m.s;
    if (m.flags & kDepA) adv = dfma(m.p, c.adv, adv);
    if (m.flags & kDepV) adv = dfma(m.q, c.vn, adv);
    return Carry{adv, (m.flags & kConstV) ? m.u : c.vn};
  }
};

// ---------------------------------------------------------------------------------------
// Min-form: m_t = minp(r_t, m_{t+1}), m_t = r_t at terminated steps or when no later step
// of the episode was unmasked; minp(r, m) = (r < m or r is NaN) ? r : m (NaN wins, ties keep
// the later value: associative, so the scan is exact). Output any ? m : 0.
template <class F>
struct MinFormOp {
  struct Carry {
    F m;
    bool any;
  };
  struct Map {
    F b;
    bool has, cut;
  };
  MinFormArgs<F> a;

  __device__ static F minp(F r, F m) { return (r < m) | (r != r) ? r : m; }
  __device__ Carry init(index_t) const { return Carry{F(0), false}; }
  __device__ void step(index_t b, index_t t, Carry& c) const {
    const index_t i = at(a.L, b, t, a.L.T);
    if (a.mask && !a.mask[i]) {
      a.out[i] = c.any ? c.m : F(0);
      return;
    }
    const bool restart = !c.any || (a.terminated && a.terminated[i]);
    const F r = a.rewards[i];
    c.m = restart ? r : minp(r, c.m);
    c.any = true;
    a.out[i] = c.m;
  }
  __device__ static Map identity() { return Map{F(0), false, false}; }
  __device__ Map element(index_t b, index_t t) const {
    const index_t i = at(a.L, b, t, a.L.T);
    if (a.mask && !a.mask[i]) return identity();
    return Map{a.rewards[i], true, a.terminated && a.terminated[i]};
  }
  __device__ static Map compose(const Map& o, const Map& i) {
    if (!o.has || o.cut) return o.has ? o : i;
    if (!i.has) return o;
    return Map{minp(o.b, i.b), true, i.cut};
  }
  __device__ static Carry apply(const Map& m, Carry c) {
    if (!m.has) return c;
    if (m.cut || !c.any) return Carry{m.b, true};
    return Carry{minp(m.b, c.m), true};
  }
};

// ---------------------------------------------------------------------------------------
// Kernels.

// One thread per row, t descending.
template <class Op>
__global__ void __launch_bounds__(kSeqThreads) sequential_kernel(const Op op, index_t B,
                                                                 index_t T) {
  const index_t b = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= B) return;
  auto c = op.init(b);
  for (index_t t = T - 1; t >= 0; --t) op.step(b, t, c);
}

// Inclusive suffix scan of one map per thread, Hillis-Steele in shared memory (`sh` holds
// 2 * kThreads maps). Returns the buffer where entry j is the composition of threads
// j .. kThreads-1 (entry 0: the whole tile). Ends with a barrier.
template <class Op>
__device__ const typename Op::Map* block_suffix(typename Op::Map m, typename Op::Map* sh) {
  const int tid = threadIdx.x;
  int cur = 0;
  sh[tid] = m;
  __syncthreads();
  for (int off = 1; off < kThreads; off <<= 1) {
    typename Op::Map x = sh[cur * kThreads + tid];
    if (tid + off < kThreads) x = Op::compose(x, sh[cur * kThreads + tid + off]);
    cur ^= 1;
    sh[cur * kThreads + tid] = x;
    __syncthreads();
  }
  return sh + cur * kThreads;
}

// This thread's steps [lo, hi) of the tile [start, end): kItems consecutive steps.
__device__ __forceinline__ void thread_range(index_t start, index_t end, index_t& lo,
                                            index_t& hi) {
  lo = start + index_t(threadIdx.x) * kItems;
  hi = lo + kItems < end ? lo + kItems : end;
}

template <class Op>
__device__ typename Op::Map thread_map(const Op& op, index_t b, index_t lo, index_t hi) {
  typename Op::Map m = Op::identity();
  for (index_t t = hi - 1; t >= lo; --t) m = Op::compose(op.element(b, t), m);
  return m;
}

// Composed map of each chunk but the first one of its row (nothing precedes chunk 0, so
// its map is never used): block i -> (row i / (nc - 1), chunk 1 + i % (nc - 1)), written
// to maps[row * nc + chunk].
template <class Op>
__global__ void __launch_bounds__(kThreads) chunk_map_kernel(const Op op, index_t T,
                                                             index_t chunk_len, index_t nc,
                                                             typename Op::Map* maps) {
  using Map = typename Op::Map;
  __shared__ Map sh[2 * kThreads];
  const index_t b = index_t(blockIdx.x) / (nc - 1), k = 1 + index_t(blockIdx.x) % (nc - 1);
  const index_t c0 = k * chunk_len, c1 = c0 + chunk_len < T ? c0 + chunk_len : T;
  Map total = Op::identity();
  for (index_t end = c1; end > c0; end -= kTile) {
    const index_t start = end - kTile > c0 ? end - kTile : c0;
    index_t lo, hi;
    thread_range(start, end, lo, hi);
    const Map* suffix = block_suffix<Op>(thread_map(op, b, lo, hi), sh);
    if (threadIdx.x == 0) total = Op::compose(suffix[0], total);
    __syncthreads();  // the next tile overwrites sh
  }
  if (threadIdx.x == 0) maps[b * nc + k] = total;
}

// Block i -> (row i / nc, chunk i % nc): the chunk's outputs, tile by tile from its end.
template <class Op>
__global__ void __launch_bounds__(kThreads) chunk_scan_kernel(const Op op, index_t T,
                                                              index_t chunk_len, index_t nc,
                                                              const typename Op::Map* maps) {
  using Map = typename Op::Map;
  using Carry = typename Op::Carry;
  __shared__ Map sh[2 * kThreads];
  __shared__ Carry tile_carry;
  const index_t b = index_t(blockIdx.x) / nc, k = index_t(blockIdx.x) % nc;
  const index_t c0 = k * chunk_len, c1 = c0 + chunk_len < T ? c0 + chunk_len : T;
  if (threadIdx.x == 0) {
    Carry c = op.init(b);
    for (index_t j = nc - 1; j > k; --j) c = Op::apply(maps[b * nc + j], c);
    tile_carry = c;
  }
  // (block_suffix starts with a barrier after its first store, which orders tile_carry)
  for (index_t end = c1; end > c0; end -= kTile) {
    const index_t start = end - kTile > c0 ? end - kTile : c0;
    index_t lo, hi;
    thread_range(start, end, lo, hi);
    const Map* suffix = block_suffix<Op>(thread_map(op, b, lo, hi), sh);
    Carry c = tile_carry;
    if (threadIdx.x + 1 < kThreads) c = Op::apply(suffix[threadIdx.x + 1], c);
    for (index_t t = hi - 1; t >= lo; --t) op.step(b, t, c);
    __syncthreads();  // all have read tile_carry and sh
    if (threadIdx.x == 0) tile_carry = c;  // thread 0 always owns the tile's first step
    __syncthreads();
  }
}

// ---------------------------------------------------------------------------------------
// Plan and launch.

int sm_count() {
  static int cache[64] = {0};
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  if (dev >= 0 && dev < 64 && cache[dev] > 0) return cache[dev];
  int n = 0;
  check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev),
        "cudaDeviceGetAttribute(multiProcessorCount)");
  if (dev >= 0 && dev < 64) cache[dev] = n;
  return n;
}

std::size_t map_size(int family, bool dbl) {
  switch (family) {
    case kReturns:
      return dbl ? sizeof(ReturnsOp<double>::Map) : sizeof(ReturnsOp<float>::Map);
    case kGae:
      return dbl ? sizeof(GaeOp<double>::Map) : sizeof(GaeOp<float>::Map);
    case kMinForm:
      return dbl ? sizeof(MinFormOp<double>::Map) : sizeof(MinFormOp<float>::Map);
    default:
      throw std::invalid_argument("scan_plan: unknown family");
  }
}

template <class Op>
void launch(const Op& op, int family, bool dbl, const Layout& L, void* workspace,
            std::size_t workspace_bytes, std::uintptr_t stream, const char* what) {
  if (L.B <= 0 || L.T <= 0) return;
  const ScanPlan p = scan_plan(family, dbl, L.B, L.T, L.time_major);
  const cudaStream_t s = as_stream(stream);
  if (p.strategy == kSequential) {
    const index_t blocks = (L.B + kSeqThreads - 1) / kSeqThreads;
    sequential_kernel<Op><<<static_cast<unsigned>(blocks), kSeqThreads, 0, s>>>(op, L.B, L.T);
    check(cudaGetLastError(), what);
    return;
  }
  using Map = typename Op::Map;
  Map* maps = nullptr;
  if (p.nchunks > 1) {
    if (workspace == nullptr || workspace_bytes < p.workspace)
      throw std::invalid_argument(std::string(what) + ": workspace of " +
                                  std::to_string(p.workspace) + " bytes required");
    maps = static_cast<Map*>(workspace);
    chunk_map_kernel<Op><<<static_cast<unsigned>(L.B * (p.nchunks - 1)), kThreads, 0, s>>>(
        op, L.T, p.chunk_len, p.nchunks, maps);
    check(cudaGetLastError(), what);
  }
  chunk_scan_kernel<Op><<<static_cast<unsigned>(L.B * p.nchunks), kThreads, 0, s>>>(
      op, L.T, p.chunk_len, p.nchunks, maps);
  check(cudaGetLastError(), what);
}

}  // namespace

ScanPlan scan_plan(int family, bool dbl, index_t B, index_t T, bool time_major) {
  ScanPlan p;
  const std::size_t msize = map_size(family, dbl);
  if (B <= 0 || T <= 0 || T <= kShortT || (time_major && B >= kWideB)) return p;
  p.strategy = kChunked;
  const index_t tiles = (T + kTile - 1) / kTile;
  const index_t target = kBlocksPerSM * sm_count();
  index_t nc = std::min(tiles, std::max<index_t>(1, (target + B - 1) / B));
  const index_t tiles_per_chunk = (tiles + nc - 1) / nc;
  p.chunk_len = tiles_per_chunk * kTile;
  p.nchunks = (T + p.chunk_len - 1) / p.chunk_len;
  if (B * p.nchunks > index_t(0x7fffffff))
    throw std::invalid_argument("scan: too many rows for one launch");
  p.workspace = p.nchunks > 1 ? static_cast<std::size_t>(B * p.nchunks) * msize : 0;
  return p;
}

template <class F>
void discounted_returns(const ReturnsArgs<F>& a, void* ws, std::size_t ws_bytes,
                        std::uintptr_t stream) {
  launch(ReturnsOp<F>{a}, kReturns, sizeof(F) == 8, a.L, ws, ws_bytes, stream,
         "discounted_returns");
}

template <class F>
void gae(const GaeArgs<F>& a, void* ws, std::size_t ws_bytes, std::uintptr_t stream) {
  launch(GaeOp<F>{a}, kGae, sizeof(F) == 8, a.L, ws, ws_bytes, stream, "gae");
}

template <class F>
void min_form_returns(const MinFormArgs<F>& a, void* ws, std::size_t ws_bytes,
                      std::uintptr_t stream) {
  launch(MinFormOp<F>{a}, kMinForm, sizeof(F) == 8, a.L, ws, ws_bytes, stream,
         "min_form_returns");
}

template void discounted_returns<float>(const ReturnsArgs<float>&, void*, std::size_t,
                                        std::uintptr_t);
template void discounted_returns<double>(const ReturnsArgs<double>&, void*, std::size_t,
                                         std::uintptr_t);
template void gae<float>(const GaeArgs<float>&, void*, std::size_t, std::uintptr_t);
template void gae<double>(const GaeArgs<double>&, void*, std::size_t, std::uintptr_t);
template void min_form_returns<float>(const MinFormArgs<float>&, void*, std::size_t,
                                      std::uintptr_t);
template void min_form_returns<double>(const MinFormArgs<double>&, void*, std::size_t,
                                       std::uintptr_t);

}  // namespace cuda
}  // namespace creditlab
