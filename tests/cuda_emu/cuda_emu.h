// A CPU emulator of the small part of CUDA that creditlab's kernels use, so that g++ can
// compile csrc/cuda/*.cu and the tests can RUN the real kernel code without a GPU.
//
// How a launch runs: the blocks of a grid run one after another; the threads of a block
// are fibers (ucontext) on the calling OS thread, switched only at __syncthreads, warp
// collectives (__shfl*_sync, __syncwarp, __ballot_sync, __match_any_sync, ...) and exit.
// So, for the block:
//   * __shared__ is `static`: one array per kernel, reused by the next block, and poisoned
//     (every byte 0xFF: NaN for float/double, -1 for ints) before each block starts, so a
//     read of shared memory that the block did not write shows up in the results (emu_build.py
//     appends a registration statement to each __shared__ declaration);
//   * the schedule is deterministic and configurable (emu_set_schedule): each runnable
//     thread runs to its next barrier in thread order, reverse order, or a seeded random
//     order per phase. A missing __syncthreads between a write and another thread's read
//     then reads a stale value (forward or reverse order exposes either direction);
//   * errors a GPU would hang on or silently mis-handle are reported as exceptions from the
//     launch: a deadlock (some threads at a barrier that the others never reach), threads
//     of a block at different __syncthreads call sites, lanes of a warp at different warp
//     collectives or with different masks, a collective whose mask names an exited lane,
//     blockDim above the kernel's __launch_bounds__ or 1024, an empty grid (reported by
//     cudaGetLastError as cudaErrorInvalidConfiguration, as on a GPU).
// Atomics are plain read-modify-writes: nothing preempts a fiber between its read and its
// write. Device pointers are host pointers. Kernel launches `k<<<g, b, smem, s>>>(args)`
// are rewritten by tests/cuda_emu/emu_build.py into emu::launch("k", bound, g, b, smem, s,
// [&] { k(args); }).
//
// Control from Python (ctypes on the built module): emu_set_sm_count, emu_set_schedule,
// emu_launch_log / emu_clear_log (the kernels launched, with their grid and block sizes).
#pragma once

#include <math.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static
#define __constant__ static const
#define CREDITLAB_CUDA_EMULATOR 1

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
inline dim3 threadIdx, blockIdx, blockDim, gridDim;
constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------
// Runtime API (the calls the launchers make).
enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;
struct CUstream_st;
using cudaStream_t = CUstream_st*;
enum cudaDeviceAttr : int { cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrMultiProcessorCount = 16 };

namespace emu {

struct State {
  std::vector<int> sms{4};      // "device" d has sms[d] SMs; emu_set_sm_count picks d
  int device = 0;
  cudaError_t last_error = cudaSuccess;
  int schedule = 0;             // 0 thread order, 1 reverse, 2 seeded random per phase
  std::uint64_t seed = 0;
  std::string log;              // "name grid.x,y,z block.x,y,z\n" per launch
  long long withhold = 0;       // > 0: look-back blocks whose ticket % withhold != 0 publish
                                // no INCLUSIVE status (fault injection, see withhold_inclusive)
  std::mutex launch_mutex;      // one launch at a time (the state below is per launch)
};
inline State& state() {
  static State s;
  return s;
}

// Blocks run one after another here, so a look-back kernel would always find its neighbour
// INCLUSIVE; with emu_set_withhold(n), blocks whose ticket is not a multiple of n publish
// only their AGGREGATE and the look-back must compose aggregates over several chunks.
inline bool withhold_inclusive(long long ticket) {
  const long long n = state().withhold;
  return n > 0 && ticket % n != 0;
}

}  // namespace emu

inline cudaError_t cudaGetDevice(int* d) {
  *d = emu::state().device;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= int(emu::state().sms.size())) return cudaErrorInvalidValue;
  emu::state().device = d;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int d) {
  if (d < 0 || d >= int(emu::state().sms.size())) return cudaErrorInvalidValue;
  if (attr == cudaDevAttrMultiProcessorCount) *v = emu::state().sms[d];
  else if (attr == cudaDevAttrMaxThreadsPerBlock) *v = 1024;
  else return cudaErrorInvalidValue;
  return cudaSuccess;
}
inline cudaError_t cudaGetLastError() {
  const cudaError_t e = emu::state().last_error;
  emu::state().last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return emu::state().last_error; }
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    default: return "cudaErrorLaunchFailure";
  }
}
inline const char* cudaGetErrorString(cudaError_t e) {
  return e == cudaSuccess ? "no error" : "emulated CUDA error";
}
inline cudaError_t cudaMemsetAsync(void* p, int v, std::size_t n, cudaStream_t = nullptr) {
  if (n && !p) return cudaErrorInvalidValue;
  if (n) std::memset(p, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, std::size_t n, int = 0,
                                   cudaStream_t = nullptr) {
  if (n) std::memmove(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

// ---------------------------------------------------------------------------------------
// Block execution: fibers, barriers, warp collectives.
namespace emu {

enum : int { kRunnable = 0, kWaiting = 1, kDone = 2 };
constexpr std::size_t kStack = 256 * 1024;

struct Block {
  std::vector<ucontext_t> ctx;
  std::vector<int> st;              // kRunnable / kWaiting / kDone per thread
  std::vector<int> where;           // call-site line while waiting
  std::vector<const char*> what;    // barrier name while waiting
  std::vector<unsigned> parity;     // per thread: which exchange buffer its next collective uses
  std::vector<char*> stacks;        // reused across launches
  ucontext_t main;
  int n = 0, live = 0, cur = -1;
  const std::function<void()>* body = nullptr;
  std::string error;
  int bar_arrived = 0, bar_line = 0;
  struct Warp {
    int arrived = 0, line = 0;
    unsigned mask = 0;
    const char* what = nullptr;
    unsigned char slots[2][32][8];
  };
  std::vector<Warp> warps;
};
inline Block& block() {
  static Block b;
  return b;
}

[[noreturn]] inline void yield_forever() {
  Block& b = block();
  swapcontext(&b.ctx[b.cur], &b.main);
  __builtin_unreachable();
}

// Record the first error of the block and stop the calling thread for good.
[[noreturn]] inline void fail(const std::string& msg) {
  Block& b = block();
  if (b.error.empty()) b.error = msg;
  b.st[b.cur] = kDone;
  yield_forever();
}

inline void set_thread_index(int t) {
  threadIdx.x = unsigned(t) % blockDim.x;
  threadIdx.y = (unsigned(t) / blockDim.x) % blockDim.y;
  threadIdx.z = unsigned(t) / (blockDim.x * blockDim.y);
}

inline unsigned live_lanes(const Block& b, int w) {
  unsigned m = 0;
  for (int l = 0; l < 32 && 32 * w + l < b.n; ++l)
    if (b.st[32 * w + l] != kDone) m |= 1u << l;
  return m;
}

inline void release_block_barrier() {
  Block& b = block();
  if (b.bar_arrived == 0 || b.bar_arrived < b.live) return;
  for (int t = 0; t < b.n; ++t)
    if (b.st[t] == kWaiting && b.what[t] == nullptr) b.st[t] = kRunnable;
  b.bar_arrived = 0;
}

inline void release_warp(int w) {
  Block& b = block();
  Block::Warp& W = b.warps[w];
  if (W.arrived == 0) return;
  const unsigned live = live_lanes(b, w);
  if ((W.mask & live) != W.mask)
    fail(std::string(W.what) + " (line " + std::to_string(W.line) + ") waits for lanes " +
         "that have exited: mask " + std::to_string(W.mask) + ", live lanes " +
         std::to_string(live));
  if (W.arrived < __builtin_popcount(W.mask)) return;
  for (int l = 0; l < 32; ++l)
    if (W.mask >> l & 1u) b.st[32 * w + l] = kRunnable;
  W.arrived = 0;
}

inline void thread_exit() {
  Block& b = block();
  b.st[b.cur] = kDone;
  --b.live;
  release_block_barrier();
  release_warp(b.cur / 32);
  yield_forever();
}

inline void entry() {
  Block& b = block();
  try {
    (*b.body)();
  } catch (const std::exception& e) {
    fail(std::string("exception in the kernel: ") + e.what());
  }
  thread_exit();
}

inline void syncthreads(int line) {
  Block& b = block();
  if (b.bar_arrived == 0) {
    b.bar_line = line;
  } else if (line != b.bar_line) {
    fail("threads of a block at different __syncthreads: line " + std::to_string(line) +
         " (thread " + std::to_string(b.cur) + ") and line " + std::to_string(b.bar_line));
  }
  ++b.bar_arrived;
  b.st[b.cur] = kWaiting;
  b.where[b.cur] = line;
  b.what[b.cur] = nullptr;
  release_block_barrier();
  swapcontext(&b.ctx[b.cur], &b.main);
}

// Warp collective: this lane's `bytes` go into the exchange buffer; returns the buffer
// once every lane of `mask` has arrived at the same call site.
inline const unsigned char (*exchange(unsigned mask, const void* v, std::size_t bytes,
                                      const char* what, int line))[8] {
  Block& b = block();
  const int w = b.cur / 32, lane = b.cur % 32;
  Block::Warp& W = b.warps[w];
  if (!(mask >> lane & 1u))
    fail(std::string(what) + " (line " + std::to_string(line) + "): lane " +
         std::to_string(lane) + " is not in its own mask");
  if (W.arrived == 0) {
    W.line = line;
    W.mask = mask;
    W.what = what;
  } else if (line != W.line || mask != W.mask) {
    fail("lanes of warp " + std::to_string(w) + " at different warp collectives: " + what +
         " line " + std::to_string(line) + " and " + W.what + " line " +
         std::to_string(W.line) + " (or different masks)");
  }
  const unsigned p = b.parity[b.cur];
  b.parity[b.cur] ^= 1u;
  if (bytes) std::memcpy(W.slots[p][lane], v, bytes);
  ++W.arrived;
  b.st[b.cur] = kWaiting;
  b.where[b.cur] = line;
  b.what[b.cur] = what;
  release_warp(w);
  swapcontext(&b.ctx[b.cur], &b.main);
  return W.slots[p];
}

inline int lane_id() { return block().cur % 32; }

template <class T>
T shfl(unsigned mask, T v, int src, const char* what, int line) {
  static_assert(sizeof(T) <= 8, "emulated shuffles move up to 8 bytes");
  const auto* s = exchange(mask, &v, sizeof(T), what, line);
  if (src < 0 || src > 31 || !(mask >> src & 1u)) return v;  // undefined on a GPU; keep own
  T out;
  std::memcpy(&out, s[src], sizeof(T));
  return out;
}

// __shared__ variables, registered by the statement emu_build.py appends to each declaration
// (run once, on first execution); poisoned when registered and before every block.
struct Region {
  void* p;
  std::size_t n;
};
inline std::vector<Region>& shared_regions() {
  static std::vector<Region> r;
  return r;
}
inline bool register_shared(void* p, std::size_t n) {
  std::memset(p, 0xFF, n);
  shared_regions().push_back(Region{p, n});
  return true;
}

// Run one block of `nthreads` fibers to completion (or to the first error).
inline void run_block(int nthreads, const std::function<void()>& body, std::mt19937_64& rng) {
  Block& b = block();
  b.n = b.live = nthreads;
  b.body = &body;
  b.error.clear();
  b.bar_arrived = 0;
  b.ctx.assign(nthreads, ucontext_t{});
  b.st.assign(nthreads, kRunnable);
  b.where.assign(nthreads, 0);
  b.what.assign(nthreads, nullptr);
  b.parity.assign(nthreads, 0u);
  b.warps.assign((nthreads + 31) / 32, Block::Warp{});
  for (const Region& r : shared_regions()) std::memset(r.p, 0xFF, r.n);
  while (int(b.stacks.size()) < nthreads) {
    void* p = mmap(nullptr, kStack + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("CUDA emulator: cannot map a fiber stack");
    mprotect(p, 4096, PROT_NONE);  // guard page below the stack
    b.stacks.push_back(static_cast<char*>(p));
  }
  for (int t = 0; t < nthreads; ++t) {
    getcontext(&b.ctx[t]);
    b.ctx[t].uc_stack.ss_sp = b.stacks[t] + 4096;
    b.ctx[t].uc_stack.ss_size = kStack;
    b.ctx[t].uc_link = nullptr;
    makecontext(&b.ctx[t], &entry, 0);
  }
  std::vector<int> order(nthreads);
  for (int t = 0; t < nthreads; ++t) order[t] = state().schedule == 1 ? nthreads - 1 - t : t;
  while (b.live > 0 && b.error.empty()) {
    if (state().schedule == 2) std::shuffle(order.begin(), order.end(), rng);
    bool ran = false;
    for (int t : order) {
      if (b.st[t] != kRunnable) continue;
      b.cur = t;
      set_thread_index(t);
      swapcontext(&b.main, &b.ctx[t]);
      ran = true;
      if (!b.error.empty()) break;
    }
    if (!ran && b.error.empty()) {
      std::string msg = "deadlock: no thread can run;";
      int shown = 0;
      for (int t = 0; t < nthreads && shown < 6; ++t)
        if (b.st[t] == kWaiting) {
          msg += " thread " + std::to_string(t) + " waits at " +
                 (b.what[t] ? b.what[t] : "__syncthreads") + " line " +
                 std::to_string(b.where[t]) + ";";
          ++shown;
        }
      b.error = msg;
    }
  }
}

inline void launch(const char* name, long long bound, dim3 grid, dim3 blk, std::size_t smem,
                   cudaStream_t, const std::function<void()>& body) {
  State& S = state();
  std::lock_guard<std::mutex> lock(S.launch_mutex);
  const long long threads = 1LL * blk.x * blk.y * blk.z;
  const long long blocks = 1LL * grid.x * grid.y * grid.z;
  S.log += std::string(name) + " " + std::to_string(grid.x) + "," + std::to_string(grid.y) +
           "," + std::to_string(grid.z) + " " + std::to_string(blk.x) + "," +
           std::to_string(blk.y) + "," + std::to_string(blk.z) + "\n";
  if (threads <= 0 || blocks <= 0 || threads > 1024 || blk.z > 64 || grid.y > 65535 ||
      grid.z > 65535 || grid.x > 0x7fffffffu) {
    S.last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (bound > 0 && threads > bound)
    throw std::runtime_error(std::string("CUDA emulator: ") + name + " launched with " +
                             std::to_string(threads) + " threads per block, above its " +
                             "__launch_bounds__ of " + std::to_string(bound));
  if (smem != 0)
    throw std::runtime_error("CUDA emulator: dynamic shared memory is not emulated");
  blockDim = blk;
  gridDim = grid;
  std::mt19937_64 rng(S.seed);
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = dim3(x, y, z);
        run_block(int(threads), body, rng);
        if (!block().error.empty())
          throw std::runtime_error("CUDA emulator: " + std::string(name) + " block (" +
                                   std::to_string(x) + "," + std::to_string(y) + "," +
                                   std::to_string(z) + "): " + block().error);
      }
}

}  // namespace emu

// ---------------------------------------------------------------------------------------
// Device intrinsics.
#define __syncthreads() ::emu::syncthreads(__LINE__)
#define __syncwarp(...) ::emu::syncwarp(__LINE__ __VA_OPT__(,) __VA_ARGS__)
#define __shfl_sync(m, v, src, ...) ::emu::shfl_idx(m, v, src, __LINE__ __VA_OPT__(,) __VA_ARGS__)
#define __shfl_up_sync(m, v, d, ...) ::emu::shfl_up(m, v, d, __LINE__ __VA_OPT__(,) __VA_ARGS__)
#define __shfl_down_sync(m, v, d, ...) ::emu::shfl_down(m, v, d, __LINE__ __VA_OPT__(,) __VA_ARGS__)
#define __shfl_xor_sync(m, v, d, ...) ::emu::shfl_xor(m, v, d, __LINE__ __VA_OPT__(,) __VA_ARGS__)
#define __ballot_sync(m, p) ::emu::ballot(m, p, __LINE__)
#define __any_sync(m, p) (::emu::ballot(m, p, __LINE__) != 0u)
#define __all_sync(m, p) ::emu::all(m, p, __LINE__)
#define __match_any_sync(m, v) ::emu::match_any(m, v, __LINE__)

namespace emu {

inline void syncwarp(int line, unsigned mask = 0xffffffffu) {
  exchange(mask, nullptr, 0, "__syncwarp", line);
}
// Lanes are grouped in segments of `width`; a source outside the caller's segment (up,
// down) keeps the caller's value, as on a GPU.
template <class T>
T shfl_idx(unsigned m, T v, int src, int line, int width = 32) {
  const int lane = lane_id(), seg = lane & ~(width - 1);
  return shfl(m, v, seg + (src & (width - 1)), "__shfl_sync", line);
}
template <class T>
T shfl_up(unsigned m, T v, unsigned d, int line, int width = 32) {
  const int lane = lane_id(), seg = lane & ~(width - 1);
  const int src = lane - int(d) >= seg ? lane - int(d) : lane;
  return shfl(m, v, src, "__shfl_up_sync", line);
}
template <class T>
T shfl_down(unsigned m, T v, unsigned d, int line, int width = 32) {
  const int lane = lane_id(), seg = lane & ~(width - 1);
  const int src = lane + int(d) < seg + width ? lane + int(d) : lane;
  return shfl(m, v, src, "__shfl_down_sync", line);
}
template <class T>
T shfl_xor(unsigned m, T v, int x, int line, int width = 32) {
  const int lane = lane_id(), seg = lane & ~(width - 1);
  const int src = (lane ^ x) < seg + width ? (lane ^ x) : lane;
  return shfl(m, v, src, "__shfl_xor_sync", line);
}
inline unsigned ballot(unsigned m, bool p, int line) {
  const int v = p ? 1 : 0;
  const auto* s = exchange(m, &v, sizeof v, "__ballot_sync", line);
  unsigned out = 0;
  for (int l = 0; l < 32; ++l) {
    int x;
    std::memcpy(&x, s[l], sizeof x);
    if ((m >> l & 1u) && x) out |= 1u << l;
  }
  return out;
}
inline bool all(unsigned m, bool p, int line) { return ballot(m, p, line) == m; }
template <class T>
unsigned match_any(unsigned m, T v, int line) {
  static_assert(sizeof(T) <= 8, "emulated __match_any_sync compares up to 8 bytes");
  const auto* s = exchange(m, &v, sizeof(T), "__match_any_sync", line);
  unsigned out = 0;
  for (int l = 0; l < 32; ++l)
    if ((m >> l & 1u) && std::memcmp(s[l], &v, sizeof(T)) == 0) out |= 1u << l;
  return out;
}

}  // namespace emu

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline void __threadfence() {}
inline void __threadfence_block() {}
template <class T>
T __ldg(const T* p) {
  return *p;
}

// Integer min / max of CUDA's device library (float ones are fminf / fmaxf / fmin / fmax).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }

// Atomics: a fiber is never preempted between the read and the write.
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <class T>
T atomicSub(T* p, T v) {
  const T old = *p;
  *p = old - v;
  return old;
}
template <class T>
T atomicMax(T* p, T v) {
  const T old = *p;
  *p = old > v ? old : v;
  return old;
}
template <class T>
T atomicMin(T* p, T v) {
  const T old = *p;
  *p = old < v ? old : v;
  return old;
}
template <class T>
T atomicExch(T* p, T v) {
  const T old = *p;
  *p = v;
  return old;
}
template <class T>
T atomicCAS(T* p, T cmp, T v) {
  const T old = *p;
  if (old == cmp) *p = v;
  return old;
}
template <class T>
T atomicOr(T* p, T v) {
  const T old = *p;
  *p = old | v;
  return old;
}
template <class T>
T atomicAnd(T* p, T v) {
  const T old = *p;
  *p = old & v;
  return old;
}
