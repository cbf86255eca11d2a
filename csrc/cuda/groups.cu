// CUDA group helpers: GRPO / Dr.GRPO / RLOO as segmented reductions (float64 atomics per
// group: sums and counts, then the squared deviations from the group mean), and masked
// whitening as two block reductions. See groups.h.
#include "groups.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "check.cuh"

namespace creditlab {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kMaxBlocks = 1024;

unsigned blocks_for(std::int64_t n) {
  return static_cast<unsigned>(std::max<std::int64_t>(
      1, std::min<std::int64_t>(kMaxBlocks, (n + kThreads - 1) / kThreads)));
}

template <class F>
__global__ void group_sums(const F* s, const std::int64_t* g, std::int64_t N, double* sum,
                           double* cnt) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < N;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    atomicAdd(&sum[g[i]], static_cast<double>(s[i]));
    atomicAdd(&cnt[g[i]], 1.0);
  }
}

template <class F>
__global__ void group_sq(const F* s, const std::int64_t* g, std::int64_t N, const double* sum,
                         const double* cnt, double* sq) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < N;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const double mean = sum[g[i]] / fmax(cnt[g[i]], 1.0);
    const double d = static_cast<double>(s[i]) - mean;
    atomicAdd(&sq[g[i]], d * d);
  }
}

template <class F>
__global__ void group_out(const F* s, const std::int64_t* g, std::int64_t N, int mode,
                          double eps, const double* sum, const double* cnt, const double* sq,
                          F* out) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < N;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const double n = cnt[g[i]], mean = sum[g[i]] / fmax(n, 1.0), x = s[i];
    double adv;
    if (mode == kRloo) {
      adv = n > 1 ? (x - mean) * n / fmax(n - 1, 1.0) : x;
    } else {
      adv = x - (n > 1 ? mean : 0.0);
      if (mode == kGrpo) {
        const double sd = n > 1 ? sqrt(sq[g[i]] / fmax(n - 1, 1.0)) : 1.0;
        adv = adv / (sd + eps);
      }
    }
    out[i] = static_cast<F>(adv);
  }
}

// Sum over the block of v (thread 0 gets it).
__device__ double block_sum(double v) {
  __shared__ double part[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  v = 0;
  if (threadIdx.x < 32) {
    v = threadIdx.x < kThreads / 32 ? part[threadIdx.x] : 0.0;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  }
  __syncthreads();
  return v;
}

// stage 0: ws[0] += sum x, ws[1] += count; stage 1: ws[2] += sum (x - mean)^2.
template <class F>
__global__ void __launch_bounds__(kThreads) whiten_sums(const F* x, const std::uint8_t* m,
                                                        std::int64_t n, int stage,
                                                        double* ws) {
  double a = 0, c = 0;
  const double mean = stage == 1 ? ws[0] / ws[1] : 0.0;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    if (!m[i]) continue;
    const double d = static_cast<double>(x[i]) - mean;
    a += stage == 1 ? d * d : d;
    c += 1;
  }
  a = block_sum(a);
  if (stage == 0) c = block_sum(c);
  if (threadIdx.x == 0) {
    atomicAdd(&ws[stage == 0 ? 0 : 2], a);
    if (stage == 0) atomicAdd(&ws[1], c);
  }
}

template <class F>
__global__ void whiten_out(const F* x, std::int64_t n, bool unbiased, double eps,
                           bool shift_mean, const double* ws, F* out) {
  const double cnt = ws[1], mean = ws[0] / cnt;
  const double sd = sqrt(ws[2] / (unbiased ? cnt - 1 : cnt) + eps);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    double y = (static_cast<double>(x[i]) - mean) / sd;
    if (!shift_mean) y += mean;
    out[i] = static_cast<F>(y);
  }
}

}  // namespace

template <class F>
void group_advantages(const F* scores, const std::int64_t* group, std::int64_t N,
                      std::int64_t G, int mode, double eps, F* out, double* ws,
                      std::uintptr_t stream) {
  if (N <= 0) return;
  const cudaStream_t s = as_stream(stream);
  check(cudaMemsetAsync(ws, 0, sizeof(double) * 3 * G, s), "group_advantages");
  double *sum = ws, *cnt = ws + G, *sq = ws + 2 * G;
  const unsigned nb = blocks_for(N);
  group_sums<F><<<nb, kThreads, 0, s>>>(scores, group, N, sum, cnt);
  check(cudaGetLastError(), "group_advantages");
  if (mode == kGrpo) {
    group_sq<F><<<nb, kThreads, 0, s>>>(scores, group, N, sum, cnt, sq);
    check(cudaGetLastError(), "group_advantages");
  }
  group_out<F><<<nb, kThreads, 0, s>>>(scores, group, N, mode, eps, sum, cnt, sq, out);
  check(cudaGetLastError(), "group_advantages");
}

template <class F>
void masked_whiten(const F* x, const std::uint8_t* mask, std::int64_t n, bool unbiased,
                   double eps, bool shift_mean, F* out, double* ws, std::uintptr_t stream) {
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  check(cudaMemsetAsync(ws, 0, sizeof(double) * 3, s), "masked_whiten");
  const unsigned nb = blocks_for(n);
  whiten_sums<F><<<nb, kThreads, 0, s>>>(x, mask, n, 0, ws);
  check(cudaGetLastError(), "masked_whiten");
  whiten_sums<F><<<nb, kThreads, 0, s>>>(x, mask, n, 1, ws);
  check(cudaGetLastError(), "masked_whiten");
  whiten_out<F><<<nb, kThreads, 0, s>>>(x, n, unbiased, eps, shift_mean, ws, out);
  check(cudaGetLastError(), "masked_whiten");
}

template void group_advantages<float>(const float*, const std::int64_t*, std::int64_t,
                                      std::int64_t, int, double, float*, double*,
                                      std::uintptr_t);
template void group_advantages<double>(const double*, const std::int64_t*, std::int64_t,
                                       std::int64_t, int, double, double*, double*,
                                       std::uintptr_t);
template void masked_whiten<float>(const float*, const std::uint8_t*, std::int64_t, bool,
                                   double, bool, float*, double*, std::uintptr_t);
template void masked_whiten<double>(const double*, const std::uint8_t*, std::int64_t, bool,
                                    double, bool, double*, double*, std::uintptr_t);

}  // namespace cuda
}  // namespace creditlab
