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
#include <atomic>
#include <cstdlib>
#include <cstring>
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
// Single pass with decoupled look-back (scan.h: kLookback). Chunks are single tiles.

enum : int { kPending = 0, kAggregate = 1, kInclusive = 2 };
constexpr int kWindow = 32;  // chunks looked at per look-back round (one per lane of warp 0)

// Word-wise volatile copies of a map to / from global memory: never served from a stale L1
// line (the look-back reads maps that other blocks wrote after this SM may have cached them).
template <class T>
__device__ __forceinline__ void store_volatile(T* dst, const T& v) {
  static_assert(sizeof(T) % sizeof(int) == 0, "maps are whole words");
  int w[sizeof(T) / sizeof(int)];
  memcpy(w, &v, sizeof(T));
  volatile int* d = reinterpret_cast<volatile int*>(dst);
  for (unsigned i = 0; i < sizeof(T) / sizeof(int); ++i) d[i] = w[i];
}
template <class T>
__device__ __forceinline__ T load_volatile(const T* src) {
  int w[sizeof(T) / sizeof(int)];
  const volatile int* s = reinterpret_cast<const volatile int*>(src);
  for (unsigned i = 0; i < sizeof(T) / sizeof(int); ++i) w[i] = s[i];
  T v;
  memcpy(&v, w, sizeof(T));
  return v;
}

// Publish a map: its fields first, a fence, then the flag (readers check the flag first).
template <class Map>
__device__ __forceinline__ void publish(Map* slot_map, int* slot_flag, const Map& m, int flag) {
  store_volatile(slot_map, m);
  __threadfence();
  *reinterpret_cast<volatile int*>(slot_flag) = flag;
}

#if defined(CREDITLAB_CUDA_EMULATOR)
// Fault injection for the CPU emulator, whose blocks run one after another so that every
// look-back would otherwise find its neighbour INCLUSIVE: a withheld block publishes only
// its AGGREGATE, so its predecessors must accumulate aggregates further back.
#define CREDITLAB_WITHHOLD_INCLUSIVE(ticket) ::emu::withhold_inclusive(ticket)
#define CREDITLAB_SPIN_GUARD(n)                                                        \
  if (++(n) > (1 << 22))                                                               \
    throw std::runtime_error("look-back: a chunk's status was never published");
#else
#define CREDITLAB_WITHHOLD_INCLUSIVE(ticket) false
#define CREDITLAB_SPIN_GUARD(n) (void)(n);
#endif

template <class Op>
__global__ void __launch_bounds__(kThreads)
    lookback_scan_kernel(const Op op, index_t B, index_t T, index_t nc, unsigned* ticket,
                         int* flags, typename Op::Map* aggs, typename Op::Map* incls) {
  using Map = typename Op::Map;
  using Carry = typename Op::Carry;
  __shared__ Map sh[2 * kThreads];
  __shared__ Map window_map[kWindow];
  __shared__ int window_flag[kWindow];
  __shared__ Carry tile_carry;
  __shared__ index_t job;
  if (threadIdx.x == 0) job = index_t(atomicAdd(ticket, 1u));
  __syncthreads();
  const index_t k = nc - 1 - job / B, b = job % B;
  const index_t c0 = k * kTile, c1 = c0 + kTile < T ? c0 + kTile : T;
  const index_t row = b * nc;
  index_t lo, hi;
  thread_range(c0, c1, lo, hi);
  const Map* suffix = block_suffix<Op>(thread_map(op, b, lo, hi), sh);  // suffix[0]: the tile
  if (threadIdx.x < kWindow) {  // warp 0: publish, look back, publish
    const int lane = threadIdx.x;
    const bool withhold = CREDITLAB_WITHHOLD_INCLUSIVE(job);
    const Map agg = suffix[0];
    if (lane == 0) {
      if (k == nc - 1 && !withhold) publish(&incls[row + k], &flags[row + k], agg, kInclusive);
      else publish(&aggs[row + k], &flags[row + k], agg, kAggregate);
    }
    Map excl = Op::identity();  // chunks k+1 .. nc-1 (lane 0's)
    int done = k == nc - 1;
    for (index_t j0 = k + 1; !done; j0 += kWindow) {
      const index_t j = j0 + lane;
      int f = kPending;
      if (j < nc) {
        int spins = 0;
        while ((f = *reinterpret_cast<const volatile int*>(&flags[row + j])) == kPending) {
          CREDITLAB_SPIN_GUARD(spins)
        }
        __threadfence();
        window_map[lane] = f == kInclusive ? load_volatile(&incls[row + j])
                                           : load_volatile(&aggs[row + j]);
      }
      window_flag[lane] = f;  // kPending: past the row's end
      __syncwarp();
      if (lane == 0) {
        for (int i = 0; i < kWindow && !done; ++i) {
          if (window_flag[i] == kPending) {
            done = 1;
          } else {
            excl = Op::compose(excl, window_map[i]);  // window_map[i] covers later steps
            done = window_flag[i] == kInclusive;
          }
        }
      }
      done = __shfl_sync(0xffffffffu, done, 0);
      __syncwarp();  // the next round overwrites the window
    }
    if (lane == 0) {
      if (k < nc - 1 && !withhold)
        publish(&incls[row + k], &flags[row + k], Op::compose(agg, excl), kInclusive);
      tile_carry = Op::apply(excl, op.init(b));
    }
  }
  __syncthreads();
  Carry c = tile_carry;
  if (threadIdx.x + 1 < kThreads) c = Op::apply(suffix[threadIdx.x + 1], c);
  for (index_t t = hi - 1; t >= lo; --t) op.step(b, t, c);
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

// Look-back workspace: [ticket counter | flags: n ints | aggregates: n maps | inclusive: n
// maps], n = B * nchunks; the counter and the flags (the zeroed prefix) padded to 16 bytes.
std::size_t round16(std::size_t x) { return (x + 15) / 16 * 16; }
std::size_t lookback_zeroed_bytes(std::size_t n) { return 16 + round16(n * sizeof(int)); }
std::size_t lookback_bytes(std::size_t n, std::size_t msize) {
  return lookback_zeroed_bytes(n) + 2 * n * msize;
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
  if (p.workspace > 0 && (workspace == nullptr || workspace_bytes < p.workspace))
    throw std::invalid_argument(std::string(what) + ": workspace of " +
                                std::to_string(p.workspace) + " bytes required");
  if (p.strategy == kLookback) {
    const std::size_t n = static_cast<std::size_t>(L.B * p.nchunks);
    char* base = static_cast<char*>(workspace);
    check(cudaMemsetAsync(base, 0, lookback_zeroed_bytes(n), s), what);
    auto* ticket = reinterpret_cast<unsigned*>(base);
    auto* flags = reinterpret_cast<int*>(base + 16);
    auto* aggs = reinterpret_cast<Map*>(base + lookback_zeroed_bytes(n));
    Map* incls = aggs + n;
    lookback_scan_kernel<Op><<<static_cast<unsigned>(n), kThreads, 0, s>>>(
        op, L.B, L.T, p.nchunks, ticket, flags, aggs, incls);
    check(cudaGetLastError(), what);
    return;
  }
  Map* maps = nullptr;
  if (p.nchunks > 1) {
    maps = static_cast<Map*>(workspace);
    chunk_map_kernel<Op><<<static_cast<unsigned>(L.B * (p.nchunks - 1)), kThreads, 0, s>>>(
        op, L.T, p.chunk_len, p.nchunks, maps);
    check(cudaGetLastError(), what);
  }
  chunk_scan_kernel<Op><<<static_cast<unsigned>(L.B * p.nchunks), kThreads, 0, s>>>(
      op, L.T, p.chunk_len, p.nchunks, maps);
  check(cudaGetLastError(), what);
}

// The process setting (scan.h); kUnread until the environment has been read.
constexpr int kUnread = -3;
std::atomic<int> g_setting{kUnread};

int strategy_from_env() {
  static const std::string error = [] {  // read once
    const char* e = std::getenv("CREDITLAB_CUDA_SCAN");
    if (e == nullptr || *e == '\0') return std::string();
    try {
      g_setting.store(parse_scan_strategy(e));
      return std::string();
    } catch (const std::invalid_argument&) {
      return std::string("CREDITLAB_CUDA_SCAN must be one of auto, sequential, twopass, "
                         "lookback; got '") + e + "'";
    }
  }();
  if (!error.empty()) throw std::invalid_argument(error);
  return int(kAuto);
}

}  // namespace

const char* scan_strategy_name(int choice) {
  switch (choice) {
    case kAuto: return "auto";
    case kSequential: return "sequential";
    case kTwoPass: return "twopass";
    case kLookback: return "lookback";
    default: return "unknown";
  }
}

int parse_scan_strategy(const char* name) {
  const std::string n = name ? name : "";
  for (int c : {int(kAuto), int(kSequential), int(kTwoPass), int(kLookback)})
    if (n == scan_strategy_name(c)) return c;
  throw std::invalid_argument("scan strategy must be one of auto, sequential, twopass, "
                              "lookback; got '" + n + "'");
}

int scan_strategy_setting() {
  int v = g_setting.load();
  if (v != kUnread) return v;
  const int from_env = strategy_from_env();  // may have stored the variable's choice
  int expected = kUnread;
  g_setting.compare_exchange_strong(expected, from_env);
  return g_setting.load();
}

void set_scan_strategy(int choice) {
  if (choice != kAuto && choice != kSequential && choice != kTwoPass && choice != kLookback)
    throw std::invalid_argument("set_scan_strategy: unknown strategy");
  try {
    strategy_from_env();  // read once, so that it can no longer override this choice
  } catch (const std::invalid_argument&) {
  }
  g_setting.store(choice);
}

ScanPlan scan_plan(int family, bool dbl, index_t B, index_t T, bool time_major, int choice) {
  ScanPlan p;
  const std::size_t msize = map_size(family, dbl);
  if (choice == kProcessDefault) choice = scan_strategy_setting();
  if (choice != kAuto && choice != kSequential && choice != kTwoPass && choice != kLookback)
    throw std::invalid_argument("scan_plan: unknown strategy choice");
  if (B <= 0 || T <= 0 || choice == kSequential) return p;
  if (choice == kAuto && (T <= kShortT || (time_major && B >= kWideB))) return p;
  const index_t tiles = (T + kTile - 1) / kTile;
  if (choice == kLookback) {
    p.strategy = kLookback;
    p.chunk_len = kTile;
    p.nchunks = tiles;
  } else {
    p.strategy = kTwoPass;
    const index_t target = kBlocksPerSM * sm_count();
    const index_t nc = std::min(tiles, std::max<index_t>(1, (target + B - 1) / B));
    const index_t tiles_per_chunk = (tiles + nc - 1) / nc;
    p.chunk_len = tiles_per_chunk * kTile;
    p.nchunks = (T + p.chunk_len - 1) / p.chunk_len;
  }
  if (B * p.nchunks > index_t(0x7fffffff))
    throw std::invalid_argument("scan: too many rows for one launch");
  const std::size_t n = static_cast<std::size_t>(B * p.nchunks);
  if (p.strategy == kLookback) p.workspace = lookback_bytes(n, msize);
  else p.workspace = p.nchunks > 1 ? n * msize : 0;
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
