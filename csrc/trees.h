// creditlab tree kernels: backups on array trees, and a batched MCTS loop.
//
// Header-only, no Python. One layout everywhere:
//   * a batch of B trees stored back to back in flat node arrays of length M;
//     tree b owns nodes [tree_ptr[b], tree_ptr[b+1]);
//   * parent[i] is the index of i's parent *within its tree*, with parent[i] < i
//     (so index order is a topological order), and -1 for the root (local node 0) and
//     for unused slots of a fixed-capacity tree (those act as isolated nodes);
//   * edge data lives on the child: r[i], g[i] are the reward and discount of the edge
//     parent(i) -> i.
// The Python wrappers (creditlab/trees.py, creditlab/planning.py) validate these rules;
// the kernels trust them. Kernels never allocate: every buffer, workspace included,
// comes from the caller. OpenMP runs over trees.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace creditlab {
namespace trees {

using node_t = std::int32_t;
using count_t = std::int32_t;
using offset_t = std::int64_t;
using flag8_t = std::uint8_t;

enum Op : int { kMean = 0, kSum = 1, kMax = 2, kMin = 3, kLse = 4, kProd = 5, kDisc = 6 };

// NaN-propagating max / min: once a NaN enters, it stays (Python's references do the same).
template <class F>
inline F nan_max(F a, F b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return b > a ? b : a;
}
template <class F>
inline F nan_min(F a, F b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return b < a ? b : a;
}

#if defined(_OPENMP)
#define CREDITLAB_TREES_PARALLEL _Pragma("omp parallel for schedule(dynamic, 16) if (B > 1 && M >= 4096)")
// The MCTS loop opens a parallel region twice per simulation; only worth it for many trees
// (a small batch pays more in barrier and wake-up cost than it gains).
#define CREDITLAB_MCTS_PARALLEL _Pragma("omp parallel for schedule(static) if (B >= 512)")
#else
#define CREDITLAB_TREES_PARALLEL
#define CREDITLAB_MCTS_PARALLEL
#endif

// K1: leaf-to-root backup of one path per tree, MuZero/mctx style. Starting from
// G = v_leaf[b] at node leaf[b], for each strict ancestor p of the leaf (child c):
//     G <- r[c] + g[c] * G
//     mean: V[p] <- (V[p] * N[p] + G) / (N[p] + 1)      (mctx `backward`)
//     sum:  V[p] <- V[p] + G
//     max:  V[p] <- N[p] ? max(V[p], G) : G          min: likewise
//     N[p] <- N[p] + 1
// The leaf itself is not touched (setting it is the expansion step).
template <class F>
void backup_path(const node_t* parent, const F* r, const F* g, F* V, count_t* N,
                 const offset_t* tree_ptr, std::int64_t B, const node_t* leaf, const F* v_leaf,
                 int op) {
  const std::int64_t M = B > 0 ? tree_ptr[B] : 0;
  (void)M;
  CREDITLAB_TREES_PARALLEL
  for (std::int64_t b = 0; b < B; ++b) {
    const offset_t base = tree_ptr[b];
    node_t c = leaf[b];
    F G = v_leaf[b];
    while (parent[base + c] >= 0) {
      const node_t p = parent[base + c];
      G = r[base + c] + g[base + c] * G;
      F& v = V[base + p];
      const count_t n = N[base + p];
      if (op == kMean) v = (v * static_cast<F>(n) + G) / static_cast<F>(n + 1);
      else if (op == kSum) v = v + G;
      else if (op == kMax) v = n ? nan_max(v, G) : G;
      else v = n ? nan_min(v, G) : G;
      N[base + p] = n + 1;
      c = p;
    }
  }
}

// K1b: RAP / llm-reasoners style backup ("cum_reward"). For the path root..leaf, each
// node n on it (leaf and root included) gets the aggregate of the rewards from n down to
// the leaf, cum(n) = agg(r[n], ..., r[leaf]) with agg in {sum, mean, max, min, disc}
// (disc: G = r[n] + g[n] * G), and appends it to its history, kept as running
// statistics: count[n] += 1, qsum[n] += cum, qmax[n] = max, qmin[n] = min.
// Q = qsum/count is llm-reasoners' calc_q=np.mean, Q = qmax its calc_q=max.
// root_out[b] receives cum(root).
template <class F>
void backup_returns(const node_t* parent, const F* r, const F* g, const offset_t* tree_ptr,
                    std::int64_t B, const node_t* leaf, int op, count_t* count, F* qsum, F* qmax,
                    F* qmin, F* root_out) {
  const std::int64_t M = B > 0 ? tree_ptr[B] : 0;
  (void)M;
  CREDITLAB_TREES_PARALLEL
  for (std::int64_t b = 0; b < B; ++b) {
    const offset_t base = tree_ptr[b];
    node_t c = leaf[b];
    F s = 0, G = 0, mx = -std::numeric_limits<F>::infinity(),
      mn = std::numeric_limits<F>::infinity();
    std::int64_t k = 0;
    F cum = 0;
    while (c >= 0) {
      const offset_t i = base + c;
      const F x = r[i];
      s += x;
      ++k;
      mx = nan_max(mx, x);
      mn = nan_min(mn, x);
      G = x + g[i] * G;
      switch (op) {
        case kSum: cum = s; break;
        case kMean: cum = s / static_cast<F>(k); break;
        case kMax: cum = mx; break;
        case kMin: cum = mn; break;
        default: cum = G; break;
      }
      const count_t n = count[i];
      qsum[i] = n ? qsum[i] + cum : cum;
      qmax[i] = n ? nan_max(qmax[i], cum) : cum;
      qmin[i] = n ? nan_min(qmin[i], cum) : cum;
      count[i] = n + 1;
      c = parent[i];
    }
    root_out[b] = cum;
  }
}

// K2: whole-tree bottom-up aggregation in one reverse pass. With q_c = r[c] + g[c] V(c),
// a child c contributes to its parent when its weight w[c] > 0 (w == nullptr: all do):
//   mean: V(n) = (ws[n] vs[n] + sum_c w_c q_c) / (ws[n] + sum_c w_c)
//   sum:  V(n) = sum_c w_c q_c       max/min: V(n) = max_c / min_c q_c
//   lse:  V(n) = T log sum_c w_c exp(q_c / T)
// A node with no contributing child takes V(n) = leaf_value[n].
// Workspace: acc[M], wsum[M] of F.
template <class F>
void reduce_up(const node_t* parent, const F* leaf_value, const F* r, const F* g, const F* w,
               const F* v_self, const F* w_self, F T, int op, const offset_t* tree_ptr,
               std::int64_t B, F* V, F* acc, F* wsum) {
  const std::int64_t M = B > 0 ? tree_ptr[B] : 0;
  const F inf = std::numeric_limits<F>::infinity();
  const F init = op == kMax ? -inf : op == kMin ? inf : op == kLse ? -inf : F(0);
  CREDITLAB_TREES_PARALLEL
  for (std::int64_t b = 0; b < B; ++b) {
    const offset_t lo = tree_ptr[b], hi = tree_ptr[b + 1];
    for (offset_t i = lo; i < hi; ++i) { acc[i] = init; wsum[i] = 0; }
    for (offset_t i = hi - 1; i >= lo; --i) {
      F v;
      if (!(wsum[i] > 0)) {
        v = leaf_value[i];
      } else if (op == kMean) {
        const F sw = w_self ? w_self[i] : F(0), sv = v_self ? v_self[i] : F(0);
        v = (sw * sv + acc[i]) / (sw + wsum[i]);
      } else if (op == kLse) {
        v = T * acc[i];
      } else {
        v = acc[i];
      }
      V[i] = v;
      const node_t pl = parent[i];
      if (pl < 0) continue;
      const F wi = w ? w[i] : F(1);
      if (!(wi > 0)) continue;
      const offset_t p = lo + pl;
      const F q = r[i] + g[i] * v;
      wsum[p] += wi;
      switch (op) {
        case kMean:
        case kSum: acc[p] += wi * q; break;
        case kMax: acc[p] = nan_max(acc[p], q); break;
        case kMin: acc[p] = nan_min(acc[p], q); break;
        default: {  // log-sum-exp, stable pairwise
          const F z = std::log(wi) + q / T, a = acc[p];
          if (std::isnan(a) || std::isnan(z)) acc[p] = std::numeric_limits<F>::quiet_NaN();
          else if (a == -inf) acc[p] = z;
          else if (z == -inf) acc[p] = a;
          else if (a == inf || z == inf) acc[p] = inf;  // log(e^inf + e^x) = inf, not NaN
          else {
            const F m = std::max(a, z);
            acc[p] = m + std::log(std::exp(a - m) + std::exp(z - m));
          }
        }
      }
    }
  }
}

// K3: root-to-node prefix scan. Y[root] = identity, Y[i] = Y[parent[i]] (+) x[i] with
// (+) in {sum (identity 0), prod (1), max (-inf), min (+inf)}.
template <class F>
void scan_down(const node_t* parent, const F* x, int op, const offset_t* tree_ptr,
               std::int64_t B, F* Y) {
  const std::int64_t M = B > 0 ? tree_ptr[B] : 0;
  const F inf = std::numeric_limits<F>::infinity();
  const F id = op == kSum ? F(0) : op == kProd ? F(1) : op == kMax ? -inf : inf;
  CREDITLAB_TREES_PARALLEL
  for (std::int64_t b = 0; b < B; ++b) {
    const offset_t lo = tree_ptr[b], hi = tree_ptr[b + 1];
    for (offset_t i = lo; i < hi; ++i) {
      const node_t p = parent[i];
      if (p < 0) { Y[i] = id; continue; }
      const F y = Y[lo + p], xi = x[i];
      Y[i] = op == kSum ? y + xi : op == kProd ? y * xi : op == kMax ? nan_max(y, xi)
                                                                     : nan_min(y, xi);
    }
  }
}

// K4: statistics of x over the leaves below each node (the node itself if it is a leaf):
// count, mean and M2 = sum (x - mean)^2, merged bottom-up with Chan et al.'s pairwise
// formula (stable). Leaves: is_leaf[i] != 0, or (is_leaf == nullptr) nodes without children.
// Workspace: haschild[M] (flag8_t), used when is_leaf == nullptr.
template <class F>
void leaf_stats(const node_t* parent, const F* x, const flag8_t* is_leaf,
                const offset_t* tree_ptr, std::int64_t B, F* cnt, F* mean, F* m2,
                flag8_t* haschild) {
  const std::int64_t M = B > 0 ? tree_ptr[B] : 0;
  CREDITLAB_TREES_PARALLEL
  for (std::int64_t b = 0; b < B; ++b) {
    const offset_t lo = tree_ptr[b], hi = tree_ptr[b + 1];
    for (offset_t i = lo; i < hi; ++i) { cnt[i] = 0; mean[i] = 0; m2[i] = 0; haschild[i] = 0; }
    for (offset_t i = hi - 1; i >= lo; --i) {
      const bool leaf = is_leaf ? is_leaf[i] != 0 : haschild[i] == 0;
      if (leaf) {  // merge the singleton {x[i]} into what the subtree already holds
        const F n = cnt[i] + 1;
        if (!std::isfinite(x[i]) || !std::isfinite(mean[i])) {  // see the merge below
          mean[i] = cnt[i] == 0 ? x[i] : mean[i] + x[i];
          m2[i] = std::numeric_limits<F>::quiet_NaN();
        } else {
          const F d = x[i] - mean[i];
          mean[i] += d / n;
          m2[i] += d * (x[i] - mean[i]);
        }
        cnt[i] = n;
      }
      const node_t pl = parent[i];
      if (pl < 0) continue;
      const offset_t p = lo + pl;
      haschild[p] = 1;
      const F na = cnt[p], nb = cnt[i];
      if (nb == 0) continue;
      const F n = na + nb;
      if (!std::isfinite(mean[i]) || !std::isfinite(mean[p])) {
        // an infinite or NaN value below: the mean of the union is what the definition
        // gives in IEEE arithmetic (+inf with -inf or NaN is NaN, else the infinity), and
        // the spread is NaN, as numpy's mean / std of the leaves (tree_reference)
        mean[p] = na == 0 ? mean[i] : mean[p] + mean[i];
        m2[p] = std::numeric_limits<F>::quiet_NaN();
        cnt[p] = n;
        continue;
      }
      const F d = mean[i] - mean[p];
      mean[p] += d * nb / n;
      m2[p] += m2[i] + d * d * na * nb / n;
      cnt[p] = n;
    }
  }
}

// K4b: statistics of x over each node's children (siblings of a fork): count, mean and
// population std, two passes (sum, then centred squares).
template <class F>
void sibling_stats(const node_t* parent, const F* x, const offset_t* tree_ptr, std::int64_t B,
                   F* cnt, F* mean, F* stdev) {
  const std::int64_t M = B > 0 ? tree_ptr[B] : 0;
  CREDITLAB_TREES_PARALLEL
  for (std::int64_t b = 0; b < B; ++b) {
    const offset_t lo = tree_ptr[b], hi = tree_ptr[b + 1];
    for (offset_t i = lo; i < hi; ++i) { cnt[i] = 0; mean[i] = 0; stdev[i] = 0; }
    for (offset_t i = lo; i < hi; ++i)
      if (parent[i] >= 0) { cnt[lo + parent[i]] += 1; mean[lo + parent[i]] += x[i]; }
    for (offset_t i = lo; i < hi; ++i)
      if (cnt[i] > 0) mean[i] /= cnt[i];
    for (offset_t i = lo; i < hi; ++i)
      if (parent[i] >= 0) {
        const F d = x[i] - mean[lo + parent[i]];
        stdev[lo + parent[i]] += d * d;
      }
    for (offset_t i = lo; i < hi; ++i)
      if (cnt[i] > 0) stdev[i] = std::sqrt(stdev[i] / cnt[i]);
  }
}

// ---------------------------------------------------------------------------------------
// Q-transforms (mctx qtransforms.py), one row of A actions at a time. q = r + g * V(child).

// Fixed bounds: (visited ? q : lo) - lo) / (hi - lo).
template <class F>
inline void qtransform_min_max_row(const F* q, const count_t* n, std::int64_t A, F lo, F hi,
                                   F* out) {
  for (std::int64_t a = 0; a < A; ++a) out[a] = ((n[a] > 0 ? q[a] : lo) - lo) / (hi - lo);
}

// Parent-and-siblings (mctx's default for MuZero): bounds from the node value and the
// visited children's q; unvisited children get 0.
template <class F>
inline void qtransform_parent_siblings_row(const F* q, const count_t* n, std::int64_t A,
                                           F node_value, F eps, F* out) {
  F lo = node_value, hi = node_value;
  int nan = node_value != node_value;
  for (std::int64_t a = 0; a < A; ++a) nan |= n[a] > 0 && q[a] != q[a];
  if (nan) {
    for (std::int64_t a = 0; a < A; ++a) {
      const F s = n[a] > 0 ? q[a] : node_value;
      lo = nan_min(lo, s);  // a NaN node value or visited q makes the row NaN (as mctx)
      hi = nan_max(hi, s);
    }
  } else {
    for (std::int64_t a = 0; a < A; ++a) {  // no NaN: nan_min / nan_max as plain selects
      const F s = n[a] > 0 ? q[a] : node_value;
      lo = s < lo ? s : lo;
      hi = s > hi ? s : hi;
    }
  }
  const F den = std::max(hi - lo, eps);
  for (std::int64_t a = 0; a < A; ++a) out[a] = ((n[a] > 0 ? q[a] : lo) - lo) / den;
}

// The shared end of the completed-Q transforms: unvisited actions get `value`, optional
// min-max rescale over actions, then times (maxvisit_init + max N) * value_scale.
// KA > 0 fixes A = KA at compile time (the loops unroll); the arithmetic is the same.
template <class F, int KA = 0>
inline void complete_q_row(const F* q, const count_t* n, std::int64_t A_, F value, F maxn,
                           F value_scale, F maxvisit_init, bool rescale, F eps, F* out) {
  const std::int64_t A = KA > 0 ? KA : A_;
  F lo = std::numeric_limits<F>::infinity(), hi = -lo;
  int nan = 0;
  for (std::int64_t a = 0; a < A; ++a) {
    out[a] = n[a] > 0 ? q[a] : value;
    nan |= out[a] != out[a];
  }
  if (nan) {
    for (std::int64_t a = 0; a < A; ++a) {
      lo = nan_min(lo, out[a]);  // NaN propagates through the rescale (as mctx)
      hi = nan_max(hi, out[a]);
    }
  } else {
    for (std::int64_t a = 0; a < A; ++a) {  // no NaN: the same bounds, branch-free
      lo = out[a] < lo ? out[a] : lo;
      hi = out[a] > hi ? out[a] : hi;
    }
  }
  if (rescale)
    for (std::int64_t a = 0; a < A; ++a) out[a] = (out[a] - lo) / std::max(hi - lo, eps);
  const F scale = (maxvisit_init + maxn) * value_scale;
  for (std::int64_t a = 0; a < A; ++a) out[a] = scale * out[a];
}

// Completed by mixed value (Gumbel MuZero). v_mix = (v_raw + sum N * sum_{visited} pi q /
// sum_{visited} pi) / (sum N + 1); unvisited q := v_mix (or node_value when
// use_mixed_value is false); optional min-max rescale over actions; times
// (maxvisit_init + max N) * value_scale.
template <class F>
inline void qtransform_mix_value_row(const F* q, const count_t* n, const F* logits,
                                     std::int64_t A, F raw_value, F node_value, F value_scale,
                                     F maxvisit_init, bool rescale, bool use_mixed, F eps,
                                     F* out) {
  F lmax = -std::numeric_limits<F>::infinity();
  for (std::int64_t a = 0; a < A; ++a) lmax = std::max(lmax, logits[a]);
  F z = 0;
  for (std::int64_t a = 0; a < A; ++a) z += std::exp(logits[a] - lmax);
  F sumn = 0, sump = 0, maxn = 0;
  const F tiny = std::numeric_limits<F>::min();
  for (std::int64_t a = 0; a < A; ++a) {
    sumn += static_cast<F>(n[a]);
    maxn = std::max(maxn, static_cast<F>(n[a]));
    if (n[a] > 0) sump += std::max(tiny, std::exp(logits[a] - lmax) / z);
  }
  F value = node_value;
  if (use_mixed) {
    F wq = 0;
    for (std::int64_t a = 0; a < A; ++a)
      if (n[a] > 0) wq += std::max(tiny, std::exp(logits[a] - lmax) / z) * q[a] / sump;
    value = (raw_value + sumn * wq) / (sumn + 1);
  }
  complete_q_row(q, n, A, value, maxn, value_scale, maxvisit_init, rescale, eps, out);
}

// Sum of x[0..n) in numpy's pairwise order (numpy's `pairwise_sum`: sequential below 8
// terms, eight interleaved accumulators combined as a tree up to 128 terms, halving above),
// so a row sum here rounds exactly like the numpy reference's `.sum(-1)`, and the eight
// accumulators need no loop-carried chain.
template <class F>
inline F pairwise_sum(const F* x, std::int64_t n) {
  if (n < 8) {
    F res = F(-0.0);
    for (std::int64_t i = 0; i < n; ++i) res += x[i];
    return res;
  }
  if (n <= 128) {
    F r[8];
    for (int j = 0; j < 8; ++j) r[j] = x[j];
    std::int64_t i = 8;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) r[j] += x[i + j];
    F res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += x[i];
    return res;
  }
  std::int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(x, n2) + pairwise_sum(x + n2, n - n2);
}

// exp of a float, correctly rounded: e^x is evaluated in double precision (Cody-Waite
// reduction x = k ln2 + r, |r| <= ln2/2, then a degree-13 Taylor polynomial, relative error
// ~1e-16) and rounded once to float. Checked on every float in [-87.5, 0] (the range a
// softmax feeds it) to equal (float) exp((double) x); libm's expf is one ulp off on about
// 1 in 10^4 of those. exp_f32_core needs -150 <= x <= 100 (then it is only arithmetic and
// integer bit moves, so a fixed-length loop of it vectorises); exp_f32 takes any float:
// the clamp to [-150, 100] is exact (e^-150 rounds to 0 and e^100 to inf in float), so -inf
// gives 0 and +inf gives inf, and NaN returns NaN.
inline float exp_f32_core(float xf) {
  const double x = xf;
  const double log2e = 1.4426950408889634, ln2hi = 0.6931471805599453,
               ln2lo = 2.3190468138462996e-17, shift = 6755399441055744.0;  // 1.5 * 2^52
  const double ks = x * log2e + shift;  // k = nearest integer to x / ln2, in the low bits
  const double kd = ks - shift;
  const double r = (x - kd * ln2hi) - kd * ln2lo;
  // e^r = sum_{i<=13} r^i / i!, in Estrin's order (short dependency chains).
  const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const double p01 = 1.0 + r, p23 = 0.5 + r * (1.0 / 6.0),
               p45 = 1.0 / 24.0 + r * (1.0 / 120.0), p67 = 1.0 / 720.0 + r * (1.0 / 5040.0),
               p89 = 1.0 / 40320.0 + r * (1.0 / 362880.0),
               p1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0),
               p1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
  const double p03 = p01 + r2 * p23, p47 = p45 + r2 * p67, p811 = p89 + r2 * p1011;
  const double p07 = p03 + r4 * p47, p813 = p811 + r4 * p1213;
  const double p = p07 + r8 * p813;
  std::uint64_t kbits;
  std::memcpy(&kbits, &ks, sizeof kbits);
  const std::uint64_t bits = (kbits + 1023) << 52;  // 2^k: k + 1023 in the exponent field
  double two_k;
  std::memcpy(&two_k, &bits, sizeof two_k);
  return static_cast<float>(p * two_k);
}

inline float exp_f32(float x) {
  if (x != x) return x;
  return exp_f32_core(x < -150.f ? -150.f : x > 100.f ? 100.f : x);
}

// exp of each element of a row: float rows use exp_f32 (correctly rounded; a row whose
// elements are all in [-150, 100], as a softmax's are, takes the vectorised core loop);
// double rows use std::exp.
template <class F>
inline void exp_row(F* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}
template <>
inline void exp_row<float>(float* x, std::int64_t n) {
  int out_of_range = 0;  // NaN is not: the core returns NaN for it
  for (std::int64_t i = 0; i < n; ++i) out_of_range |= (x[i] < -150.f) | (x[i] > 100.f);
  if (!out_of_range)
    for (std::int64_t i = 0; i < n; ++i) x[i] = exp_f32_core(x[i]);
  else
    for (std::int64_t i = 0; i < n; ++i) x[i] = exp_f32(x[i]);
}

// softmax of one row: p[a] = exp(l[a] - max l) / sum_a exp(l[a] - max l).
template <class F>
inline void softmax_row(const F* logits, std::int64_t A, F* p) {
  F lmax = -std::numeric_limits<F>::infinity();
  for (std::int64_t a = 0; a < A; ++a) lmax = std::max(lmax, logits[a]);
  for (std::int64_t a = 0; a < A; ++a) p[a] = logits[a] - lmax;
  for (std::int64_t a = 0; a < A; ++a) p[a] = std::exp(p[a]);
  const F z = pairwise_sum(p, A);
  for (std::int64_t a = 0; a < A; ++a) p[a] = p[a] / z;
}

// qtransform_mix_value_row with the node's prior probabilities given (softmax_row of its
// logits, cached at expansion) instead of recomputed from the logits at every visit.
// (KA > 0: A = KA fixed at compile time, as complete_q_row.)
template <class F, int KA = 0>
inline void qtransform_mix_value_probs_row(const F* q, const count_t* n, const F* probs,
                                           std::int64_t A_, F raw_value, F node_value,
                                           F value_scale, F maxvisit_init, bool rescale,
                                           bool use_mixed, F eps, F* out) {
  const std::int64_t A = KA > 0 ? KA : A_;
  std::int64_t isum = 0, imax = 0;
  for (std::int64_t a = 0; a < A; ++a) {
    isum += n[a];
    imax = std::max<std::int64_t>(imax, n[a]);
  }
  const F sumn = static_cast<F>(isum), maxn = static_cast<F>(imax);
  const F tiny = std::numeric_limits<F>::min();
  for (std::int64_t a = 0; a < A; ++a) out[a] = n[a] > 0 ? std::max(tiny, probs[a]) : F(0);
  const F sump = pairwise_sum(out, A);  // `out` is scratch until the completed q below
  F value = node_value;
  if (use_mixed) {
    const F sp = sump > 0 ? sump : F(1);
    for (std::int64_t a = 0; a < A; ++a) out[a] = n[a] > 0 ? out[a] * q[a] / sp : F(0);
    value = (raw_value + sumn * pairwise_sum(out, A)) / (sumn + 1);
  }
  complete_q_row<F, KA>(q, n, A, value, maxn, value_scale, maxvisit_init, rescale, eps, out);
}

// ---------------------------------------------------------------------------------------
// Batched MCTS with mctx's fixed-capacity tree: B trees of N = S + 1 nodes, A actions.
// Node fields [B, N], child fields [B, N, A]; the node expanded at simulation s gets index
// s + 1 (or reuses children_index when a max_depth cut-off re-expands a node).

template <class F>
struct SearchTreeView {
  std::int64_t B = 0, N = 0, A = 0;
  count_t* node_visits = nullptr;
  F* raw_values = nullptr;
  F* node_values = nullptr;
  node_t* parents = nullptr;
  node_t* action_from_parent = nullptr;
  node_t* children_index = nullptr;
  F* children_prior_logits = nullptr;
  count_t* children_visits = nullptr;
  F* children_rewards = nullptr;
  F* children_discounts = nullptr;
  F* children_values = nullptr;
  const flag8_t* root_invalid_actions = nullptr;  // [B, A]
  F* prior_probs = nullptr;  // [B, N, A] workspace: softmax of each expanded node's logits
};

template <class F>
struct MctsConfig {
  int gumbel = 0;                 // 0: MuZero PUCT, 1: Gumbel MuZero
  std::int64_t num_simulations = 0;
  std::int64_t max_depth = 0;
  F pb_c_init = F(1.25), pb_c_base = F(19652);
  F value_scale = F(0.1), maxvisit_init = F(50);
  bool rescale_values = true, use_mixed_value = true;
  const F* gumbel_noise = nullptr;            // [B, A]
  const count_t* considered_table = nullptr;  // [table_rows, S]: visits per (m, sim index)
  std::int64_t table_rows = 0;
  std::int64_t max_num_considered = 0;
  // Optional table of PUCT's exploration coefficient sqrt(N) (c1 + log((N + c2 + 1) / c2))
  // for N = 0 .. puct_len - 1 (puct_table fills it): the same expression, so the same value.
  const F* puct_coef = nullptr;
  std::int64_t puct_len = 0;
};

template <class F>
inline F puct_coefficient(const MctsConfig<F>& cfg, count_t visits) {
  const F nv = static_cast<F>(visits);
  const F pb_c = cfg.pb_c_init + std::log((nv + cfg.pb_c_base + F(1)) / cfg.pb_c_base);
  return std::sqrt(nv) * pb_c;
}

// Per-simulation buffers shared with the evaluator (the Python callback).
template <class F>
struct MctsIO {
  node_t* parent_index = nullptr;  // [B] node whose action is expanded
  node_t* action = nullptr;        // [B]
  node_t* node_index = nullptr;    // [B] index the new node gets
  F* reward = nullptr;             // [B]   filled by the evaluator
  F* discount = nullptr;           // [B]
  F* prior_logits = nullptr;       // [B, A]
  F* value = nullptr;              // [B]
};

template <class F>
inline void child_q(const SearchTreeView<F>& t, std::int64_t row, std::int64_t A, F* q) {
  const std::int64_t o = row * A;
  for (std::int64_t a = 0; a < A; ++a)
    q[a] = t.children_rewards[o + a] + t.children_discounts[o + a] * t.children_values[o + a];
}

// Gumbel MuZero's interior choice at one node, fused into a few passes over the children:
// completed q by mixed value (as qtransform_mix_value_probs_row, same arithmetic), then
// argmax softmax(logits + completed q) - N(a) / (1 + sum N). scratch has 3A elements.
// KA > 0 fixes A = KA at compile time (t.A must equal it): every pass is then a fixed-length
// loop over one row that the compiler turns into a few vector instructions (divisions
// included), with the row kept in registers; KA = 0 reads A from t.A. Same arithmetic,
// same order, either way.
template <class F, int KA = 0>
node_t gumbel_interior_action(const SearchTreeView<F>& t, const MctsConfig<F>& cfg,
                              std::int64_t row, F* scratch) {
  constexpr int KS = KA > 0 ? KA : 1;
  const std::int64_t A = KA > 0 ? KA : t.A, o = row * A;
  F qfix[KS], qtfix[KS], efix[KS];
  F* q = KA > 0 ? qfix : scratch;
  F* qt = KA > 0 ? qtfix : scratch + A;
  F* e = KA > 0 ? efix : scratch + 2 * A;
  const count_t* n = t.children_visits + o;
  const F* logits = t.children_prior_logits + o;
  const F* probs = t.prior_probs + o;
  const F* cr = t.children_rewards + o;
  const F* cd = t.children_discounts + o;
  const F* cv = t.children_values + o;
  const F tiny = std::numeric_limits<F>::min();
  count_t isum = 0, imax = 0;
  for (std::int64_t a = 0; a < A; ++a) {
    q[a] = cr[a] + cd[a] * cv[a];
    isum += n[a];
    imax = std::max(imax, n[a]);
    e[a] = n[a] > 0 ? std::max(tiny, probs[a]) : F(0);
  }
  const F sump = pairwise_sum(e, A);
  const F sumn = static_cast<F>(isum), maxn = static_cast<F>(imax);
  F value = t.node_values[row];
  if (cfg.use_mixed_value) {
    const F sp = sump > 0 ? sump : F(1);
    for (std::int64_t a = 0; a < A; ++a) e[a] = n[a] > 0 ? e[a] * q[a] / sp : F(0);
    value = (t.raw_values[row] + sumn * pairwise_sum(e, A)) / (sumn + 1);
  }
  F lo = std::numeric_limits<F>::infinity(), hi = -lo;
  for (std::int64_t a = 0; a < A; ++a) {
    qt[a] = n[a] > 0 ? q[a] : value;
    lo = std::min(lo, qt[a]);
    hi = std::max(hi, qt[a]);
  }
  const F den = std::max(hi - lo, F(1e-8));
  const F scale = (cfg.maxvisit_init + maxn) * cfg.value_scale;
  F zmax = -std::numeric_limits<F>::infinity();
  if (cfg.rescale_values)
    for (std::int64_t a = 0; a < A; ++a) e[a] = logits[a] + scale * ((qt[a] - lo) / den);
  else
    for (std::int64_t a = 0; a < A; ++a) e[a] = logits[a] + scale * qt[a];
  for (std::int64_t a = 0; a < A; ++a) zmax = std::max(zmax, e[a]);
  for (std::int64_t a = 0; a < A; ++a) e[a] = e[a] - zmax;
  exp_row(e, A);
  const F z = pairwise_sum(e, A);
  const F d1 = F(1) + sumn;
  for (std::int64_t a = 0; a < A; ++a) e[a] = e[a] / z - static_cast<F>(n[a]) / d1;
  node_t best = 0;
  F best_score = e[0];
  for (std::int64_t a = 1; a < A; ++a) {
    best = e[a] > best_score ? static_cast<node_t>(a) : best;
    best_score = e[a] > best_score ? e[a] : best_score;
  }
  return best;
}

// std::max / std::min by value (same results: a < b ? b : a, b < a ? b : a). The lane loops
// below use these: with std::max (which returns a reference) GCC 12.2 at -O3 -march=native
// vectorised `n > 0 ? std::max(tiny, p) : 0` there into code that returned `tiny`
// (-fno-strict-aliasing or -fno-tree-loop-vectorize made it right again).
template <class T>
inline T max_v(T a, T b) { return a < b ? b : a; }
template <class T>
inline T min_v(T a, T b) { return b < a ? b : a; }

// pairwise_sum of each lane of x[0..KA)[W]: the same order of additions as pairwise_sum(row,
// KA) on one lane's row, for KA <= 128.
template <class F, int KA, int W>
inline void pairwise_sum_lanes(const F (*x)[W], F* out) {
  static_assert(KA >= 1 && KA <= 128, "pairwise_sum_lanes: 1 <= KA <= 128");
  if (KA < 8) {
    for (int l = 0; l < W; ++l) out[l] = F(-0.0);
    for (int i = 0; i < KA; ++i)
      for (int l = 0; l < W; ++l) out[l] += x[i][l];
    return;
  }
  F r[8][W];
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < W; ++l) r[j][l] = x[j][l];
  int i = 8;
  for (; i + 8 <= KA; i += 8)
    for (int j = 0; j < 8; ++j)
      for (int l = 0; l < W; ++l) r[j][l] += x[i + j][l];
  for (int l = 0; l < W; ++l)
    out[l] = ((r[0][l] + r[1][l]) + (r[2][l] + r[3][l])) +
             ((r[4][l] + r[5][l]) + (r[6][l] + r[7][l]));
  for (; i < KA; ++i)
    for (int l = 0; l < W; ++l) out[l] += x[i][l];
}

// out[a][l] = rows_l[a] for l < W, a < KA: W rows of KA elements (4-byte T), transposed to
// [element][lane]. With AVX2, KA = 8 and W a multiple of 8, each block of 8 rows is eight
// vector loads and the classic unpack / shuffle / lane-swap transpose; otherwise a plain loop.
template <class T, int KA, int W>
inline void transpose_rows(const T* const* rows, T (*out)[W]) {
#if defined(__AVX2__)
  if constexpr (KA == 8 && W % 8 == 0 && sizeof(T) == 4) {
    for (int blk = 0; blk < W; blk += 8) {
      __m256 r[8];
      for (int l = 0; l < 8; ++l)
        r[l] = _mm256_castsi256_ps(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[blk + l])));
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]),
                   t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]),
                   t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]),
                   t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                   s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                   s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                   s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      const __m256 c[8] = {
          _mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
          _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
          _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
          _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31)};
      for (int a = 0; a < 8; ++a)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[a] + blk), _mm256_castps_si256(c[a]));
    }
    return;
  }
#endif
  for (int l = 0; l < W; ++l)
    for (int a = 0; a < KA; ++a) out[a][l] = rows[l][a];
}

// gumbel_interior_action for W nodes at once (rows[l] = b * N + node of lane l): the rows are
// transposed to [action][lane] so that each step is the same arithmetic, in the same order,
// as gumbel_interior_action's on one row, done for W lanes by one vertical vector operation
// (row sums and maxima become sums and maxima of whole vectors: no shuffles, and the W
// dependency chains run side by side). Returns the chosen action of each lane in act[l].
template <class F, int KA, int W>
void gumbel_interior_actions(const SearchTreeView<F>& t, const MctsConfig<F>& cfg,
                             const std::int64_t* rows, node_t* act) {
  static_assert(KA > 0, "gumbel_interior_actions needs a compile-time action count");
  alignas(64) F q[KA][W], e[KA][W], qt[KA][W], pr[KA][W], lg[KA][W];
  alignas(64) count_t n[KA][W];
  alignas(64) F sump[W], sumn[W], maxn[W], value[W], lo[W], hi[W], den[W], scale[W], zmax[W],
      z[W], d1[W], best_score[W];
  alignas(64) count_t isum[W], imax[W];
  alignas(64) node_t best[W];
  {
    alignas(64) F qrow[W][KA];
    const F* src_q[W];
    const count_t* src_n[W];
    const F* src_p[W];
    const F* src_l[W];
    for (int l = 0; l < W; ++l) {
      const std::int64_t o = rows[l] * KA;
      for (int a = 0; a < KA; ++a)
        qrow[l][a] =
            t.children_rewards[o + a] + t.children_discounts[o + a] * t.children_values[o + a];
      src_q[l] = qrow[l];
      src_n[l] = t.children_visits + o;
      src_p[l] = t.prior_probs + o;
      src_l[l] = t.children_prior_logits + o;
      value[l] = t.node_values[rows[l]];
    }
    transpose_rows<F, KA, W>(src_q, q);
    transpose_rows<count_t, KA, W>(src_n, n);
    transpose_rows<F, KA, W>(src_p, pr);
    transpose_rows<F, KA, W>(src_l, lg);
  }
  const F tiny = std::numeric_limits<F>::min();
  for (int l = 0; l < W; ++l) { isum[l] = 0; imax[l] = 0; }
  for (int a = 0; a < KA; ++a)
    for (int l = 0; l < W; ++l) {
      isum[l] += n[a][l];
      imax[l] = max_v(imax[l], n[a][l]);
      e[a][l] = n[a][l] > 0 ? max_v(tiny, pr[a][l]) : F(0);
    }
  pairwise_sum_lanes<F, KA, W>(e, sump);
  for (int l = 0; l < W; ++l) {
    sumn[l] = static_cast<F>(isum[l]);
    maxn[l] = static_cast<F>(imax[l]);
  }
  if (cfg.use_mixed_value) {
    for (int l = 0; l < W; ++l) sump[l] = sump[l] > 0 ? sump[l] : F(1);
    for (int a = 0; a < KA; ++a)
      for (int l = 0; l < W; ++l) e[a][l] = n[a][l] > 0 ? e[a][l] * q[a][l] / sump[l] : F(0);
    F wq[W];
    pairwise_sum_lanes<F, KA, W>(e, wq);
    for (int l = 0; l < W; ++l)
      value[l] = (t.raw_values[rows[l]] + sumn[l] * wq[l]) / (sumn[l] + 1);
  }
  for (int l = 0; l < W; ++l) { lo[l] = std::numeric_limits<F>::infinity(); hi[l] = -lo[l]; }
  for (int a = 0; a < KA; ++a)
    for (int l = 0; l < W; ++l) {
      qt[a][l] = n[a][l] > 0 ? q[a][l] : value[l];
      lo[l] = min_v(lo[l], qt[a][l]);
      hi[l] = max_v(hi[l], qt[a][l]);
    }
  for (int l = 0; l < W; ++l) {
    den[l] = max_v(hi[l] - lo[l], F(1e-8));
    scale[l] = (cfg.maxvisit_init + maxn[l]) * cfg.value_scale;
    zmax[l] = -std::numeric_limits<F>::infinity();
  }
  if (cfg.rescale_values) {
    for (int a = 0; a < KA; ++a)
      for (int l = 0; l < W; ++l)
        e[a][l] = lg[a][l] + scale[l] * ((qt[a][l] - lo[l]) / den[l]);
  } else {
    for (int a = 0; a < KA; ++a)
      for (int l = 0; l < W; ++l) e[a][l] = lg[a][l] + scale[l] * qt[a][l];
  }
  for (int a = 0; a < KA; ++a)
    for (int l = 0; l < W; ++l) zmax[l] = max_v(zmax[l], e[a][l]);
  for (int a = 0; a < KA; ++a)
    for (int l = 0; l < W; ++l) e[a][l] = e[a][l] - zmax[l];
  exp_row(&e[0][0], KA * W);
  pairwise_sum_lanes<F, KA, W>(e, z);
  for (int l = 0; l < W; ++l) d1[l] = F(1) + sumn[l];
  for (int a = 0; a < KA; ++a)
    for (int l = 0; l < W; ++l) e[a][l] = e[a][l] / z[l] - static_cast<F>(n[a][l]) / d1[l];
  for (int l = 0; l < W; ++l) { best[l] = 0; best_score[l] = e[0][l]; }
  for (int a = 1; a < KA; ++a)
    for (int l = 0; l < W; ++l) {
      best[l] = e[a][l] > best_score[l] ? static_cast<node_t>(a) : best[l];
      best_score[l] = e[a][l] > best_score[l] ? e[a][l] : best_score[l];
    }
  for (int l = 0; l < W; ++l) act[l] = best[l];
}

// MuZero's PUCT choice at an interior node (no invalid actions) with A = KA fixed at compile
// time: the same arithmetic as qtransform_parent_siblings_row and select_action's PUCT loop,
// in the same order, but the per-action steps (q, the two divisions) are fixed-length loops
// the compiler vectorises; only the bounds and the argmax stay sequential.
template <class F, int KA>
node_t puct_interior_action(const SearchTreeView<F>& t, const MctsConfig<F>& cfg,
                            std::int64_t row) {
  const std::int64_t o = row * KA;
  const count_t* n = t.children_visits + o;
  const F* probs = t.prior_probs + o;
  const F* cr = t.children_rewards + o;
  const F* cd = t.children_discounts + o;
  const F* cv = t.children_values + o;
  const F node_value = t.node_values[row];
  F q[KA], x[KA], s[KA], cnt[KA];
  for (int a = 0; a < KA; ++a) q[a] = cr[a] + cd[a] * cv[a];
  for (int a = 0; a < KA; ++a) x[a] = n[a] > 0 ? q[a] : node_value;
  // A NaN among the bounds' inputs makes the bounds, hence every score, NaN: the argmax
  // below then keeps action 0. Without NaN, nan_min / nan_max are plain selects, which
  // compile to branch-free min / max (the bounds' branches were this function's main cost).
  int nan = node_value != node_value;
  for (int a = 0; a < KA; ++a) nan |= x[a] != x[a];
  if (nan) return 0;
  F lo = node_value, hi = node_value;
  for (int a = 0; a < KA; ++a) {
    lo = x[a] < lo ? x[a] : lo;
    hi = x[a] > hi ? x[a] : hi;
  }
  const F den = std::max(hi - lo, F(1e-8));
  const count_t nv = t.node_visits[row];
  const F c = nv >= 0 && nv < cfg.puct_len ? cfg.puct_coef[nv] : puct_coefficient(cfg, nv);
  for (int a = 0; a < KA; ++a) cnt[a] = static_cast<F>(n[a]) + F(1);
  for (int a = 0; a < KA; ++a) s[a] = ((n[a] > 0 ? q[a] : lo) - lo) / den + c * probs[a] / cnt[a];
  node_t best = 0;
  F best_score = s[0];
  for (int a = 1; a < KA; ++a) {
    best = s[a] > best_score ? static_cast<node_t>(a) : best;
    best_score = s[a] > best_score ? s[a] : best_score;
  }
  return best;
}

// One action choice at node `node` of tree b; scratch has 3A elements. The node's prior
// probabilities are read from t.prior_probs (filled when the node was expanded).
template <class F, int KA = 0>
node_t select_action(const SearchTreeView<F>& t, const MctsConfig<F>& cfg, std::int64_t b,
                     node_t node, bool at_root, F* scratch) {
  // A from t.A even when KA fixes it for PUCT: its rows run faster as the scalar loops a
  // runtime length gives than vectorised; the Gumbel root takes KA (its loops unroll).
  const std::int64_t A = KA > 0 && cfg.gumbel ? KA : t.A, row = b * t.N + node, o = row * A;
  if (cfg.gumbel && !at_root) return gumbel_interior_action<F, KA>(t, cfg, row, scratch);
  if constexpr (KA > 0)
    if (!cfg.gumbel && !at_root) return puct_interior_action<F, KA>(t, cfg, row);
  F* q = scratch;
  F* qt = scratch + A;
  child_q(t, row, A, q);
  const count_t* n = t.children_visits + o;
  const F* logits = t.children_prior_logits + o;
  const F* probs = t.prior_probs + o;
  const flag8_t* invalid = at_root && t.root_invalid_actions ? t.root_invalid_actions + b * A
                                                              : nullptr;
  const F ninf = -std::numeric_limits<F>::infinity();
  node_t best = 0;
  F best_score = ninf;
  bool any = false;
  if (!cfg.gumbel) {
    qtransform_parent_siblings_row(q, n, A, t.node_values[row], F(1e-8), qt);
    const count_t nv = t.node_visits[row];
    const F c = nv >= 0 && nv < cfg.puct_len ? cfg.puct_coef[nv] : puct_coefficient(cfg, nv);
    for (std::int64_t a = 0; a < A; ++a) {
      const F s = qt[a] + c * probs[a] / (static_cast<F>(n[a]) + F(1));
      // branch-free: skip invalid actions, else take the first valid one or a larger score
      const bool take = !(invalid && invalid[a]) && (!any || s > best_score);
      best = take ? static_cast<node_t>(a) : best;
      best_score = take ? s : best_score;
      any = any || take;
    }
    return best;
  }
  qtransform_mix_value_probs_row<F, KA>(q, n, probs, A, t.raw_values[row],
                                        t.node_values[row], cfg.value_scale,
                                        cfg.maxvisit_init, cfg.rescale_values,
                                        cfg.use_mixed_value, F(1e-8), qt);
  {
    // Root: sequential halving: among actions whose visit count equals the scheduled one,
    // argmax of gumbel + logits + completed q.
    std::int64_t num_valid = 0, sim = 0;
    for (std::int64_t a = 0; a < A; ++a) {
      num_valid += invalid && invalid[a] ? 0 : 1;
      sim += n[a];
    }
    const std::int64_t m = std::min<std::int64_t>(cfg.max_num_considered, num_valid);
    const std::int64_t s_idx = std::min<std::int64_t>(sim, cfg.num_simulations - 1);
    const count_t considered = cfg.considered_table[m * cfg.num_simulations + s_idx];
    F lmax = ninf;
    for (std::int64_t a = 0; a < A; ++a)
      if (!(invalid && invalid[a])) lmax = std::max(lmax, logits[a]);
    const F* g = cfg.gumbel_noise + b * A;
    for (std::int64_t a = 0; a < A; ++a) {
      F s;
      if (invalid && invalid[a]) s = ninf;
      else s = std::max(F(-1e9), g[a] + (logits[a] - lmax) + qt[a]);
      if (n[a] != considered) s = ninf;
      const bool take = !any || s > best_score;  // branch-free argmax
      best = take ? static_cast<node_t>(a) : best;
      best_score = take ? s : best_score;
      any = true;
    }
    return best;
  }
}

// Prefetch `bytes` bytes from p (a hint; a no-op where the compiler has no builtin).
inline void prefetch_bytes(const void* p, std::int64_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
  const char* c = static_cast<const char*>(p);
  for (std::int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o);
#else
  (void)p;
  (void)bytes;
#endif
}

// Fetch the rows select_action reads at (tree b, node): one level's worth of child data.
template <class F>
inline void prefetch_node(const SearchTreeView<F>& t, std::int64_t b, node_t node) {
  const std::int64_t o = (b * t.N + node) * t.A;
  const std::int64_t fb = t.A * static_cast<std::int64_t>(sizeof(F));
  const std::int64_t cb = t.A * static_cast<std::int64_t>(sizeof(count_t));
  prefetch_bytes(t.children_visits + o, cb);
  prefetch_bytes(t.children_rewards + o, fb);
  prefetch_bytes(t.children_discounts + o, fb);
  prefetch_bytes(t.children_values + o, fb);
  prefetch_bytes(t.children_prior_logits + o, fb);
  prefetch_bytes(t.prior_probs + o, fb);
  prefetch_bytes(t.children_index + o, t.A * static_cast<std::int64_t>(sizeof(node_t)));
}

// Per-phase timing hook for profiling builds (benchmarks/mcts_phases.h defines it; a normal
// build compiles it away): CREDITLAB_MCTS_PHASE(k) marks the start of phase k of a
// simulation: 0 descent, 1 evaluator (Python callback), 2 expansion and backup (with the
// cached choices' re-decisions), 4 the simulation's end.
#ifndef CREDITLAB_MCTS_PHASE
#define CREDITLAB_MCTS_PHASE(k)
#endif

// Run cfg.num_simulations simulations. `eval(sim)` is called once per simulation, after
// io.parent_index / io.action / io.node_index are filled for all B trees; it must fill
// io.reward, io.discount, io.prior_logits and io.value. Workspace (the caller's, so nothing
// is allocated here): scratch B * 3A + N + 1 elements; work B * (N + 2) node_t;
// t.prior_probs: B * N * A elements (the root rows are filled here, the
// others on expansion). Returns 0, or 1 (and stops) if the evaluator returned a discount
// outside [0, 1].
//
// Every expanded node keeps the action its selection rule picks now (`chosen`, [B, N]). A
// node's choice depends only on its own row (its children's visits, rewards, discounts and
// values, its own value, visits and priors) and, at the root, on the noise and the halving
// schedule, which is indexed by the root's visit sum. A simulation changes rows only on its
// path: the expanded node and its ancestors. So after each backup the ancestors are
// re-decided, the expanded node is marked undecided (-1: decided by the first descent that
// reaches it), and the descent of the next simulation only follows `chosen` (two dependent
// loads a level, no arithmetic). The choices are the ones a descent that decides at every
// level would make, bit for bit (the same functions on the same rows).
//
// A Gumbel search backed up serially (one thread, or below 512 trees) keeps deciding during
// the descent, level by level across the batch: the rows every active tree reads at the next
// level are prefetched before any tree decides, and the interior choices of a level run 16
// or 8 trees at a time (gumbel_interior_actions). PUCT's exploration coefficient is read
// from a table indexed by the node's visit count (puct_coefficient, computed once per call).
template <class F, int KA, class Eval>
int mcts_search_impl(const SearchTreeView<F>& t, const MctsConfig<F>& cfg_in, MctsIO<F>& io,
                     Eval&& eval, F* scratch, node_t* work) {
  const std::int64_t B = t.B, N = t.N, A = KA > 0 ? KA : t.A;
  MctsConfig<F> cfg = cfg_in;
  F* puct = scratch + B * 3 * A;
  if (!cfg.gumbel) {
    for (std::int64_t v = 0; v <= N; ++v) puct[v] = puct_coefficient(cfg, static_cast<count_t>(v));
    cfg.puct_coef = puct;
    cfg.puct_len = N + 1;
  }
  for (std::int64_t b = 0; b < B; ++b)
    softmax_row(t.children_prior_logits + b * N * A, A, t.prior_probs + b * N * A);
  node_t* depth = work;
  node_t* active = work + B;
  node_t* chosen = work + 2 * B;  // [B, N]
#if defined(_OPENMP)
  const bool one_thread = omp_get_max_threads() == 1;
#else
  const bool one_thread = true;
#endif
  // The backup loop runs in parallel from 512 trees on (CREDITLAB_MCTS_PARALLEL); below
  // that, or on one thread, it is serial.
  const bool serial = one_thread || B < 512;
  // A Gumbel search on one thread (or below 512 trees) decides during the descent instead:
  // its interior rule costs the same per row in the backup (measured: batched 16 rows at a
  // time there, it was 3% slower), and deciding level by level over the batch skips the
  // fresh leaf's decision. MuZero, and a Gumbel search across threads, follow the cache.
  const bool decide_in_descent = cfg.gumbel && serial;
  if (!decide_in_descent)
    for (std::int64_t b = 0; b < B; ++b)
      chosen[b * N] = select_action<F, KA>(t, cfg, b, 0, true, scratch + b * 3 * A);
  node_t lane_action[16];
  for (std::int64_t sim = 0; sim < cfg.num_simulations; ++sim) {
    CREDITLAB_MCTS_PHASE(0);
    // Descent. Serially level by level across the batch (the loads of different trees
    // overlap); with threads, one tree at a time.
    if (serial) {
      std::int64_t n_active = B;
      for (std::int64_t b = 0; b < B; ++b) {
        io.parent_index[b] = 0;
        depth[b] = 0;
        active[b] = static_cast<node_t>(b);
      }
      if (decide_in_descent) {
        while (n_active > 0) {
          for (std::int64_t i = 0; i < n_active; ++i)
            prefetch_node(t, active[i], io.parent_index[active[i]]);
          std::int64_t kept = 0;
          // Below the root every active tree is at an interior node (all descend in step):
          // Gumbel's interior choice then runs 16 or 8 trees at a time (a short group repeats
          // its last tree in the spare lanes); the last few trees of a level go one by one.
          // Every path computes the same choices, bit for bit.
          const bool lanes = KA > 0 && cfg.gumbel && depth[active[0]] > 0;
          std::int64_t group_begin = 0, group_end = 0;  // lane_action covers [begin, end)
          for (std::int64_t i = 0; i < n_active; ++i) {
            const std::int64_t b = active[i];
            const node_t node = io.parent_index[b];
            if constexpr (KA > 0) {
              if (lanes && i >= group_end) {
                const std::int64_t rem = n_active - i;
                const int width = rem >= 12 ? 16 : rem >= 4 ? 8 : 0;
                std::int64_t rows[16];
                for (int l = 0; l < width; ++l) {
                  const std::int64_t bl = active[std::min<std::int64_t>(i + l, n_active - 1)];
                  rows[l] = bl * N + io.parent_index[bl];
                }
                if (width == 16) gumbel_interior_actions<F, KA, 16>(t, cfg, rows, lane_action);
                if (width == 8) gumbel_interior_actions<F, KA, 8>(t, cfg, rows, lane_action);
                group_begin = i;
                group_end = i + std::min<std::int64_t>(width, rem);
              }
            }
            const node_t action =
                lanes && i < group_end
                    ? lane_action[i - group_begin]
                    : select_action<F, KA>(t, cfg, b, node, depth[b] == 0, scratch + b * 3 * A);
            io.action[b] = action;
            const node_t next = t.children_index[(b * N + node) * A + action];
            ++depth[b];
            // Branch-free: whether a tree stops here is data dependent (unpredictable).
            const bool stop = next < 0 || depth[b] >= cfg.max_depth;
            io.node_index[b] = next >= 0 ? next : static_cast<node_t>(sim + 1);
            io.parent_index[b] = stop ? node : next;
            active[kept] = static_cast<node_t>(b);
            kept += stop ? 0 : 1;
          }
          n_active = kept;
        }
      } else {
        while (n_active > 0) {
          std::int64_t kept = 0;
          for (std::int64_t i = 0; i < n_active; ++i) {
            const std::int64_t b = active[i];
            const node_t node = io.parent_index[b];
            node_t action = chosen[b * N + node];
            if (action < 0)  // a leaf reached again for the first time: decide it now
              action = chosen[b * N + node] =
                  select_action<F, KA>(t, cfg, b, node, false, scratch + b * 3 * A);
            io.action[b] = action;
            const node_t next = t.children_index[(b * N + node) * A + action];
            ++depth[b];
            // Branch-free: whether a tree stops here is data dependent (unpredictable).
            const bool stop = next < 0 || depth[b] >= cfg.max_depth;
            io.node_index[b] = next >= 0 ? next : static_cast<node_t>(sim + 1);
            io.parent_index[b] = stop ? node : next;
            active[kept] = static_cast<node_t>(b);
            kept += stop ? 0 : 1;
          }
          n_active = kept;
        }
      }
    } else {
      CREDITLAB_MCTS_PARALLEL
      for (std::int64_t b = 0; b < B; ++b) {
        node_t node = 0;
        std::int64_t d = 0;
        node_t action = 0;
        for (;;) {
          action = chosen[b * N + node];
          if (action < 0)
            action = chosen[b * N + node] =
                select_action<F, KA>(t, cfg, b, node, false, scratch + b * 3 * A);
          const node_t next = t.children_index[(b * N + node) * A + action];
          ++d;
          if (next < 0 || d >= cfg.max_depth) break;
          node = next;
        }
        io.parent_index[b] = node;
        io.action[b] = action;
        const node_t existing = t.children_index[(b * N + node) * A + action];
        io.node_index[b] = existing >= 0 ? existing : static_cast<node_t>(sim + 1);
      }
    }
    CREDITLAB_MCTS_PHASE(1);
    eval(sim);
    CREDITLAB_MCTS_PHASE(2);
    for (std::int64_t b = 0; b < B; ++b)
      if (io.discount[b] < F(0) || io.discount[b] > F(1)) return 1;
    CREDITLAB_MCTS_PARALLEL
    for (std::int64_t b = 0; b < B; ++b) {
      const node_t p = io.parent_index[b], a = io.action[b], c = io.node_index[b];
      const std::int64_t crow = b * N + c, prow = b * N + p;
      F* scr = scratch + b * 3 * A;
      for (std::int64_t k = 0; k < A; ++k)
        t.children_prior_logits[crow * A + k] = io.prior_logits[b * A + k];
      softmax_row(io.prior_logits + b * A, A, t.prior_probs + crow * A);
      t.raw_values[crow] = io.value[b];
      t.node_values[crow] = io.value[b];
      t.node_visits[crow] += 1;
      t.parents[crow] = p;
      t.action_from_parent[crow] = a;
      t.children_index[prow * A + a] = c;
      t.children_rewards[prow * A + a] = io.reward[b];
      t.children_discounts[prow * A + a] = io.discount[b];
      // The new node is decided lazily, when a descent first reaches it again (about half
      // of the nodes never are); its ancestors now.
      chosen[crow] = -1;
      // mctx backward: from the new node up to the root; each node is re-decided once its
      // row is final for this simulation (the parent's row changes in the step above it).
      F G = t.node_values[crow];
      node_t idx = c;
      while (idx != 0) {
        const node_t par = t.parents[b * N + idx];
        const node_t act = t.action_from_parent[b * N + idx];
        const std::int64_t e = (b * N + par) * A + act;
        G = t.children_rewards[e] + t.children_discounts[e] * G;
        const count_t cnt = t.node_visits[b * N + par];
        t.node_values[b * N + par] =
            (t.node_values[b * N + par] * static_cast<F>(cnt) + G) / static_cast<F>(cnt + 1);
        t.node_visits[b * N + par] = cnt + 1;
        t.children_values[e] = t.node_values[b * N + idx];
        t.children_visits[e] += 1;
        if (!decide_in_descent)
          chosen[b * N + par] = select_action<F, KA>(t, cfg, b, par, par == 0, scr);
        idx = par;
      }
    }
    CREDITLAB_MCTS_PHASE(4);
  }
  return 0;
}

// mcts_search_impl with the action count fixed at compile time for common small A (the
// per-node loops then unroll into vector code); other A take the general loop.
template <class F, class Eval>
int mcts_search(const SearchTreeView<F>& t, const MctsConfig<F>& cfg, MctsIO<F>& io,
                Eval&& eval, F* scratch, node_t* work) {
  switch (t.A) {
    case 2: return mcts_search_impl<F, 2>(t, cfg, io, eval, scratch, work);
    case 4: return mcts_search_impl<F, 4>(t, cfg, io, eval, scratch, work);
    case 8: return mcts_search_impl<F, 8>(t, cfg, io, eval, scratch, work);
    case 16: return mcts_search_impl<F, 16>(t, cfg, io, eval, scratch, work);
    default: return mcts_search_impl<F, 0>(t, cfg, io, eval, scratch, work);
  }
}

#undef CREDITLAB_MCTS_PARALLEL

}  // namespace trees
}  // namespace creditlab
