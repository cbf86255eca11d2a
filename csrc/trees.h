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
#include <limits>

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
        const F n = cnt[i] + 1, d = x[i] - mean[i];
        mean[i] += d / n;
        m2[i] += d * (x[i] - mean[i]);
        cnt[i] = n;
      }
      const node_t pl = parent[i];
      if (pl < 0) continue;
      const offset_t p = lo + pl;
      haschild[p] = 1;
      const F na = cnt[p], nb = cnt[i];
      if (nb == 0) continue;
      const F n = na + nb, d = mean[i] - mean[p];
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
  for (std::int64_t a = 0; a < A; ++a) {
    const F s = n[a] > 0 ? q[a] : node_value;
    lo = std::min(lo, s);
    hi = std::max(hi, s);
  }
  const F den = std::max(hi - lo, eps);
  for (std::int64_t a = 0; a < A; ++a) out[a] = ((n[a] > 0 ? q[a] : lo) - lo) / den;
}

// The shared end of the completed-Q transforms: unvisited actions get `value`, optional
// min-max rescale over actions, then times (maxvisit_init + max N) * value_scale.
template <class F>
inline void complete_q_row(const F* q, const count_t* n, std::int64_t A, F value, F maxn,
                           F value_scale, F maxvisit_init, bool rescale, F eps, F* out) {
  F lo = std::numeric_limits<F>::infinity(), hi = -lo;
  for (std::int64_t a = 0; a < A; ++a) {
    out[a] = n[a] > 0 ? q[a] : value;
    lo = std::min(lo, out[a]);
    hi = std::max(hi, out[a]);
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
template <class F>
inline void qtransform_mix_value_probs_row(const F* q, const count_t* n, const F* probs,
                                           std::int64_t A, F raw_value, F node_value,
                                           F value_scale, F maxvisit_init, bool rescale,
                                           bool use_mixed, F eps, F* out) {
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
  complete_q_row(q, n, A, value, maxn, value_scale, maxvisit_init, rescale, eps, out);
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
};

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
inline void child_q(const SearchTreeView<F>& t, std::int64_t row, F* q) {
  const std::int64_t o = row * t.A;
  for (std::int64_t a = 0; a < t.A; ++a)
    q[a] = t.children_rewards[o + a] + t.children_discounts[o + a] * t.children_values[o + a];
}

// Gumbel MuZero's interior choice at one node, fused into a few passes over the children:
// completed q by mixed value (as qtransform_mix_value_probs_row, same arithmetic), then
// argmax softmax(logits + completed q) - N(a) / (1 + sum N). scratch has 3A elements.
template <class F>
node_t gumbel_interior_action(const SearchTreeView<F>& t, const MctsConfig<F>& cfg,
                              std::int64_t row, F* scratch) {
  const std::int64_t A = t.A, o = row * A;
  F* q = scratch;
  F* qt = scratch + A;
  F* e = scratch + 2 * A;
  const count_t* n = t.children_visits + o;
  const F* logits = t.children_prior_logits + o;
  const F* probs = t.prior_probs + o;
  const F* cr = t.children_rewards + o;
  const F* cd = t.children_discounts + o;
  const F* cv = t.children_values + o;
  const F tiny = std::numeric_limits<F>::min();
  std::int64_t isum = 0, imax = 0;
  for (std::int64_t a = 0; a < A; ++a) {
    q[a] = cr[a] + cd[a] * cv[a];
    isum += n[a];
    imax = std::max<std::int64_t>(imax, n[a]);
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
  for (std::int64_t a = 0; a < A; ++a) {
    const F c = cfg.rescale_values ? (qt[a] - lo) / den : qt[a];
    e[a] = logits[a] + scale * c;
    zmax = std::max(zmax, e[a]);
  }
  for (std::int64_t a = 0; a < A; ++a) e[a] = e[a] - zmax;
  for (std::int64_t a = 0; a < A; ++a) e[a] = std::exp(e[a]);
  const F z = pairwise_sum(e, A);
  const F d1 = F(1) + sumn;
  node_t best = 0;
  F best_score = e[0] / z - static_cast<F>(n[0]) / d1;
  for (std::int64_t a = 1; a < A; ++a) {
    const F s = e[a] / z - static_cast<F>(n[a]) / d1;
    best = s > best_score ? static_cast<node_t>(a) : best;
    best_score = s > best_score ? s : best_score;
  }
  return best;
}

// One action choice at node `node` of tree b; scratch has 3A elements. The node's prior
// probabilities are read from t.prior_probs (filled when the node was expanded).
template <class F>
node_t select_action(const SearchTreeView<F>& t, const MctsConfig<F>& cfg, std::int64_t b,
                     node_t node, bool at_root, F* scratch) {
  const std::int64_t A = t.A, row = b * t.N + node, o = row * A;
  if (cfg.gumbel && !at_root) return gumbel_interior_action(t, cfg, row, scratch);
  F* q = scratch;
  F* qt = scratch + A;
  child_q(t, row, q);
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
    const F nv = static_cast<F>(t.node_visits[row]);
    const F pb_c = cfg.pb_c_init + std::log((nv + cfg.pb_c_base + F(1)) / cfg.pb_c_base);
    const F c = std::sqrt(nv) * pb_c;
    for (std::int64_t a = 0; a < A; ++a) {
      if (invalid && invalid[a]) continue;
      const F s = qt[a] + c * probs[a] / (static_cast<F>(n[a]) + F(1));
      if (!any || s > best_score) { best = static_cast<node_t>(a); best_score = s; any = true; }
    }
    return best;
  }
  qtransform_mix_value_probs_row(q, n, probs, A, t.raw_values[row], t.node_values[row],
                                 cfg.value_scale, cfg.maxvisit_init, cfg.rescale_values,
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
      if (!any || s > best_score) { best = static_cast<node_t>(a); best_score = s; any = true; }
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

// Run cfg.num_simulations simulations. `eval(sim)` is called once per simulation, after
// io.parent_index / io.action / io.node_index are filled for all B trees; it must fill
// io.reward, io.discount, io.prior_logits and io.value. scratch: B * 3A elements;
// work: 2B node_t; t.prior_probs: B * N * A elements (the root rows are filled here, the
// others on expansion). Returns 0, or 1 (and stops) if the evaluator returned a discount
// outside [0, 1].
//
// With one thread the descent runs level by level across the batch (a wavefront): the rows
// every active tree reads at the next level are prefetched before any tree selects, so
// the cache misses of different trees overlap instead of queueing one tree at a time.
// Each tree's choices are the same as a tree-by-tree descent's.
template <class F, class Eval>
int mcts_search(const SearchTreeView<F>& t, const MctsConfig<F>& cfg, MctsIO<F>& io,
                Eval&& eval, F* scratch, node_t* work) {
  const std::int64_t B = t.B, N = t.N, A = t.A, M = B * N;
  (void)M;
  for (std::int64_t b = 0; b < B; ++b)
    softmax_row(t.children_prior_logits + b * N * A, A, t.prior_probs + b * N * A);
  node_t* depth = work;
  node_t* active = work + B;
  const bool wavefront = B < 512;
  for (std::int64_t sim = 0; sim < cfg.num_simulations; ++sim) {
    if (wavefront) {
      std::int64_t n_active = B;
      for (std::int64_t b = 0; b < B; ++b) {
        io.parent_index[b] = 0;
        depth[b] = 0;
        active[b] = static_cast<node_t>(b);
      }
      while (n_active > 0) {
        for (std::int64_t i = 0; i < n_active; ++i)
          prefetch_node(t, active[i], io.parent_index[active[i]]);
        std::int64_t kept = 0;
        for (std::int64_t i = 0; i < n_active; ++i) {
          const std::int64_t b = active[i];
          const node_t node = io.parent_index[b];
          const node_t action =
              select_action(t, cfg, b, node, depth[b] == 0, scratch + b * 3 * A);
          io.action[b] = action;
          const node_t next = t.children_index[(b * N + node) * A + action];
          ++depth[b];
          if (next < 0 || depth[b] >= cfg.max_depth) {
            io.node_index[b] = next >= 0 ? next : static_cast<node_t>(sim + 1);
          } else {
            io.parent_index[b] = next;
            active[kept++] = static_cast<node_t>(b);
          }
        }
        n_active = kept;
      }
    } else {
      CREDITLAB_MCTS_PARALLEL
      for (std::int64_t b = 0; b < B; ++b) {
        node_t node = 0;
        std::int64_t d = 0;
        node_t action = 0;
        for (;;) {
          action = select_action(t, cfg, b, node, d == 0, scratch + b * 3 * A);
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
    eval(sim);
    for (std::int64_t b = 0; b < B; ++b)
      if (io.discount[b] < F(0) || io.discount[b] > F(1)) return 1;
    CREDITLAB_MCTS_PARALLEL
    for (std::int64_t b = 0; b < B; ++b) {
      const node_t p = io.parent_index[b], a = io.action[b], c = io.node_index[b];
      const std::int64_t crow = b * N + c, prow = b * N + p;
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
      // mctx backward: from the new node up to the root.
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
        idx = par;
      }
    }
  }
  return 0;
}

#undef CREDITLAB_MCTS_PARALLEL

}  // namespace trees
}  // namespace creditlab
