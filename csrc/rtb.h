// Real-time bidding (RLB, Cai et al. WSDM 2017): the budget-constrained bidding DP and the
// closed-form bid. Header-only, no Python. The Python wrapper (creditlab/rtb/dp.py)
// validates every argument; these loops trust their inputs.
//
// MDP: t auctions left, integer budget b. Bidding a in 0..min(b, max_price) against market
// price delta ~ m wins iff delta <= a, pays delta, earns r(delta) = w + v1*theta - v0*delta.
//   V(t, b) = V(t-1, b) + sum_{delta=0..a_t(b)} m(delta) g_t(b, delta),
//   g_t(b, delta) = r(delta) + V(t-1, b-delta) - V(t-1, b),
// where a_t(b) is the largest delta <= min(b, max_price) with g >= 0. V(t-1, .) is
// non-decreasing, so g is non-increasing in delta: the sum stops at the first negative g
// (the "bid bound": the cost is sum_b a_t(b), not B * max_price).
// Early stop: with v0 = 0 the value is at most t*(w + v1*theta); once V(t, b) is within
// sat_tol of it, every larger b is set to the bound (V is non-decreasing in b).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "scan.h"  // index_t

namespace creditlab {
namespace rtb {

struct DpArgs {
  const double* m = nullptr;  // [n_price] market-price p.m.f., m[delta]
  index_t n_price = 0;        // max_price + 1
  double theta = 0, v1 = 1, w = 0, v0 = 0;
  index_t T = 0, B = 0;
  float* D = nullptr;     // [(T+1) * B]: D(t, b) = V(t, b+1) - V(t, b); row 0 is zero
  double* V0 = nullptr;   // [T+1]: V(t, 0)
  double* VB = nullptr;   // [T+1]: V(t, B)
  double* V = nullptr;    // optional [(T+1) * (B+1)]: the whole table
  double* work = nullptr; // [2 * (B+1)]
  index_t* sat = nullptr; // [T+1]: first saturated b of each row (B+1 if none)
  bool early_stop = true;
  double sat_tol = 1e-10;
};

// V(t, b) from V(t-1, .) for one b.
inline double backup(const DpArgs& a, const double* prev, index_t b) {
  const double vb = prev[b];
  const double r0 = a.w + a.v1 * a.theta;
  const index_t amax = std::min<index_t>(b, a.n_price - 1);
  double acc = 0.0;
  for (index_t d = 0; d <= amax; ++d) {
    const double g = r0 - a.v0 * static_cast<double>(d) + prev[b - d] - vb;
    if (g < 0.0) break;
    acc += a.m[d] * g;
  }
  return vb + acc;
}

// As backup(), for a b past the first saturated budget s of row t-1, whose entries
// beyond s are left unwritten and read as the bound vtop.
inline double backup_checked(const DpArgs& a, const double* prev, index_t b, index_t s,
                             double vtop) {
  auto pv = [&](index_t x) { return x > s ? vtop : prev[x]; };
  const double vb = pv(b);
  const double r0 = a.w + a.v1 * a.theta;
  const index_t amax = std::min<index_t>(b, a.n_price - 1);
  double acc = 0.0;
  for (index_t d = 0; d <= amax; ++d) {
    const double g = r0 - a.v0 * static_cast<double>(d) + pv(b - d) - vb;
    if (g < 0.0) break;
    acc += a.m[d] * g;
  }
  return vb + acc;
}

// One parallel region; pass t computes row t in chunks of b (handed out in increasing
// order) and writes the outputs of row t-1, whose values are final. One barrier per row.
inline void value_dp(const DpArgs& a) {
  const index_t B = a.B, T = a.T;
  const double r0 = a.w + a.v1 * a.theta;
  const bool can_saturate = a.early_stop && a.v0 == 0.0;
  std::vector<std::atomic<index_t>> sat_at(static_cast<size_t>(T + 1));
  for (auto& s : sat_at) s.store(B + 1);
  std::fill(a.work, a.work + 2 * (B + 1), 0.0);
  constexpr index_t chunk = 256;
  const index_t n_chunks = (B + 1 + chunk - 1) / chunk;
#pragma omp parallel
  {
    double* prev = a.work;
    double* cur = a.work + (B + 1);
    for (index_t t = 1; t <= T + 1; ++t) {
      const index_t sp = sat_at[t - 1].load();
      const double vtop_p = static_cast<double>(t - 1) * r0;
      const double vmax = static_cast<double>(t) * r0 - a.sat_tol;
      auto pv = [&](index_t x) { return x > sp ? vtop_p : prev[x]; };
#pragma omp for schedule(dynamic, 1)
      for (index_t c = 0; c < n_chunks; ++c) {
        const index_t lo = c * chunk, hi = std::min<index_t>(B + 1, lo + chunk);
        // outputs of row t-1
        float* Drow = a.D + (t - 1) * B;
        for (index_t b = lo; b < std::min(hi, B); ++b)
          Drow[b] = static_cast<float>(pv(b + 1) - pv(b));
        if (a.V)
          for (index_t b = lo; b < hi; ++b) a.V[(t - 1) * (B + 1) + b] = pv(b);
        if (lo == 0) a.V0[t - 1] = pv(0);
        if (hi == B + 1) a.VB[t - 1] = pv(B);
        if (t > T) continue;
        if (can_saturate && lo > sat_at[t].load(std::memory_order_relaxed)) continue;
        for (index_t b = lo; b < hi; ++b) {
          cur[b] = b <= sp ? backup(a, prev, b) : backup_checked(a, prev, b, sp, vtop_p);
          if (can_saturate && cur[b] >= vmax) {
            index_t old = sat_at[t].load();
            while (b < old && !sat_at[t].compare_exchange_weak(old, b)) {
            }
            break;
          }
        }
      }  // implicit barrier: row t is final
      std::swap(prev, cur);
    }
  }
  for (index_t t = 0; t <= T; ++t) a.sat[t] = sat_at[t].load();
}

// The closed-form optimal bid (paper Eq. 9-11): the largest delta <= min(b, max_price)
// with r(delta) >= sum_{k=1..delta} D(t-1, b-k), i.e. g_t(b, delta) >= 0.
struct BidArgs {
  const float* D = nullptr;  // [(T+1) * B]
  index_t T = 0, B = 0;
  const std::int64_t* t = nullptr;  // [n] auctions left, 1..T
  const std::int64_t* b = nullptr;  // [n] budget left, 0..B
  const double* theta = nullptr;    // [n] pCTR
  index_t n = 0;
  double v1 = 1, w = 0, v0 = 0;
  index_t max_price = 300;
  std::int64_t* out = nullptr;  // [n]
};

inline std::int64_t bid_one(const BidArgs& a, std::int64_t t, std::int64_t b, double theta) {
  const float* row = a.D + (t - 1) * a.B;
  const double r0 = a.w + a.v1 * theta;
  const std::int64_t amax = std::min<std::int64_t>(b, a.max_price);
  double acc = 0.0;
  std::int64_t bid = 0;
  for (std::int64_t d = 1; d <= amax; ++d) {
    acc += static_cast<double>(row[b - d]);
    if (r0 - a.v0 * static_cast<double>(d) - acc < 0.0) break;
    bid = d;
  }
  return bid;
}

inline void rlb_bid(const BidArgs& a) {
#pragma omp parallel for schedule(static) if (a.n > 4096)
  for (index_t i = 0; i < a.n; ++i) a.out[i] = bid_one(a, a.t[i], a.b[i], a.theta[i]);
}

}  // namespace rtb
}  // namespace creditlab
