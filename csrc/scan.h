// creditlab reverse-scan kernels.
//
// Header-only, no Python. Every kernel here is one reverse recurrence over time,
//     x_t = a_t (*) x_{t+1}  (+)  b_t,
// in the affine semiring (sum-form returns, GAE, lambda-returns: (*) = times, (+) = plus)
// or the (min, +) semiring (min-form returns: (*) = plus, (+) = min).
//
// A kernel is a `Step` functor that knows how to build (a_t, b_t) for one element and
// update its carry; `reverse_scan` walks the elements in the right order:
//   * batch-major [B, T] arrays: one row per OpenMP iteration, rows visited in
//     descending order and t descending, so each thread reads one descending stream;
//   * time-major [T, B] arrays: t descending outside, b inside over a block of columns,
//     with one carry per column kept in a caller-provided workspace.
// Kernels never allocate; all buffers come from the caller.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace creditlab {

using index_t = std::int64_t;
using flag_t = std::uint8_t;  // numpy bool / torch.bool are one byte, 0 or 1

// x * y + z. Fused (one rounding) when the target has FMA, written out so that every
// code path rounds the same way: left to the compiler's contraction, a loop it
// vectorizes (e.g. over columns of time-major data, with masked lanes) may use a
// separate multiply and add while its scalar remainder fuses them, and a result would
// then depend on its column. No other expression in the kernels is contractible.
template <class F>
inline F fmadd(F x, F y, F z) {
#if defined(__FMA__) || defined(__FMA4__) || (defined(_MSC_VER) && defined(__AVX2__))
  return std::fma(x, y, z);
#else
  return x * y + z;
#endif
}

// Storage order as a type, so that a kernel is compiled once per layout and its index
// arithmetic is fixed at compile time (no runtime stride select inside the t-loop).
struct BatchMajor {};  // [B, T]: a row is contiguous
struct TimeMajor {};   // [T, B]: a time step is contiguous

// Shape and storage order of a logical [B, T] array.
struct Layout {
  index_t B = 0;
  index_t T = 0;
  bool time_major = false;

  // Flat index of (b, t) in an array whose time axis has `len` slots (T, or T+1).
  // Inside a kernel's t-loop the row offset is hoisted and the time offset
  // strength-reduced.
  static inline index_t at(BatchMajor, index_t b, index_t t, index_t len) {
    return b * len + t;
  }
  inline index_t at(TimeMajor, index_t b, index_t t, index_t) const { return t * B + b; }
  template <class Order>
  inline index_t at(Order o, index_t b, index_t t) const { return at(o, b, t, T); }
  // Runtime dispatch, for code outside the inner loops.
  inline index_t at(index_t b, index_t t, index_t len) const {
    return time_major ? at(TimeMajor{}, b, t, len) : at(BatchMajor{}, b, t, len);
  }
  inline index_t at(index_t b, index_t t) const { return at(b, t, T); }
};

// Walk every element of a [B, T] array in reverse time order and apply `step`:
//     step.init(b) -> Carry            the carry before the last step of row b
//     step(order, b, t, carry)         one element, order = BatchMajor{} or TimeMajor{}
// `carries` must hold B elements of Step::Carry when layout.time_major; unused otherwise.
//
// Each thread works on its own copy of `step`. Its fields (pointers, gamma, ...) then
// live in registers: read through the caller's reference they would have to be re-read
// after every store to an output, which the compiler must assume may alias them.
#ifndef CREDITLAB_ROWS
#define CREDITLAB_ROWS 2
#endif
constexpr int kRows = CREDITLAB_ROWS;

template <class Step>
void reverse_scan(const Step& shared_step, const Layout& L, typename Step::Carry* carries) {
  using Carry = typename Step::Carry;
  const index_t B = L.B, T = L.T;
  if (B <= 0 || T <= 0) return;
  [[maybe_unused]] const bool parallel = B > 1 && B * T >= (index_t(1) << 15);
  if (!L.time_major) {
    const index_t ngroups = (B + kRows - 1) / kRows;
#if defined(_OPENMP)
#pragma omp parallel if (parallel)
#endif
    {
      const Step step = shared_step;
      constexpr BatchMajor o{};
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
      for (index_t i = 0; i < ngroups; ++i) {
        const index_t b = B - 1 - i * kRows;
        if (b + 1 >= kRows) {
          // kRows independent rows side by side: their recurrences are independent
          // dependency chains, which the CPU overlaps (the scan is latency-bound).
          // 2 measured best; 4 is slower (more streams, register pressure).
          Carry c[kRows];
          for (int k = 0; k < kRows; ++k) c[k] = step.init(b - k);
          for (index_t t = T - 1; t >= 0; --t)
            for (int k = 0; k < kRows; ++k) step(o, b - k, t, c[k]);
        } else {
          for (index_t bb = b; bb >= 0; --bb) {
            Carry c = step.init(bb);
            for (index_t t = T - 1; t >= 0; --t) step(o, bb, t, c);
          }
        }
      }
    }
  } else {
    constexpr index_t kBlock = 256;
    const index_t nblocks = (B + kBlock - 1) / kBlock;
#if defined(_OPENMP)
#pragma omp parallel if (parallel && nblocks > 1)
#endif
    {
      const Step step = shared_step;
      constexpr TimeMajor o{};
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
      for (index_t k = 0; k < nblocks; ++k) {
        const index_t b0 = k * kBlock, b1 = std::min(B, b0 + kBlock);
        for (index_t b = b0; b < b1; ++b) carries[b] = step.init(b);
        for (index_t t = T - 1; t >= 0; --t)
          for (index_t b = b0; b < b1; ++b) step(o, b, t, carries[b]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Sum-form discounted returns (affine scan).
//   G_t = r_t + gamma * (1 - term_t) * [trunc_t ? next_values_t : G_{t+1}]
// with G_T = next_values_{T-1} if given, else bootstrap[b] (or 0). Masked steps (mask 0)
// are skipped: G_t = G_{t+1}, and their reward and flags are ignored.
template <class F>
struct ReturnsArgs {
  Layout L;
  const F* rewards = nullptr;
  const F* next_values = nullptr;  // [B, T] or null
  const F* bootstrap = nullptr;    // [B] or null
  const flag_t* terminated = nullptr;
  const flag_t* truncated = nullptr;
  const flag_t* mask = nullptr;
  F gamma = F(1);
  F* out = nullptr;
};

template <class F, bool TERM, bool TRUNC, bool MASK, bool NV>
struct ReturnsStep {
  using Carry = F;
  ReturnsArgs<F> a;

  inline Carry init(index_t b) const {
    if constexpr (NV) return a.next_values[a.L.at(b, a.L.T - 1)];
    return a.bootstrap ? a.bootstrap[b] : F(0);
  }
  template <class Order>
  inline void operator()(Order o, index_t b, index_t t, Carry& g) const {
    const index_t i = a.L.at(o, b, t);
    if constexpr (MASK) {
      if (!a.mask[i]) { a.out[i] = g; return; }
    }
    F next = g;
    if constexpr (TRUNC) {
      if (a.truncated[i]) next = a.next_values[i];
    }
    if constexpr (TERM) {
      if (a.terminated[i]) next = F(0);
    }
    g = fmadd(a.gamma, next, a.rewards[i]);
    a.out[i] = g;
  }
};

// ---------------------------------------------------------------------------------------
// Generalised advantage estimation (affine scan with a second carry for V(s_{t+1})).
//   V+_t    = next_values_t if given, else the value of the next (unmasked) step, or the
//             bootstrap (values[b, T] when values has T+1 slots, else bootstrap[b], else 0)
//   delta_t = r_t + gamma * (1 - term_t) * V+_t - V_t
//   A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1},   done = term | trunc
//   R_t     = A_t + V_t
// Masked steps carry (A, V+) through unchanged (verl's "skip" semantics).
template <class F>
struct GaeArgs {
  Layout L;
  const F* rewards = nullptr;
  const F* values = nullptr;  // [B, T] or [B, T+1]
  index_t values_len = 0;     // T or T+1
  const F* next_values = nullptr;
  const F* bootstrap = nullptr;
  const flag_t* terminated = nullptr;
  const flag_t* truncated = nullptr;
  const flag_t* mask = nullptr;
  F gamma = F(1);
  F lam = F(1);
  F* adv_out = nullptr;  // either output may be null (not both); see GaeStep<..., ADV, RET>
  F* ret_out = nullptr;
};

template <class F>
struct GaeCarry {
  F adv;
  F next_value;
};

// ADV / RET: which outputs are written (fixed at compile time: no per-element null test).
template <class F, bool TERM, bool TRUNC, bool MASK, bool NV, bool ADV = true, bool RET = true>
struct GaeStep {
  static_assert(ADV || RET, "GaeStep needs at least one output");
  using Carry = GaeCarry<F>;
  GaeArgs<F> a;

  inline Carry init(index_t b) const {
    F v = F(0);
    if (a.values_len == a.L.T + 1) v = a.values[a.L.at(b, a.L.T, a.values_len)];
    else if (a.bootstrap) v = a.bootstrap[b];
    return Carry{F(0), v};
  }
  inline void store(index_t i, F adv, F v) const {
    if constexpr (ADV) a.adv_out[i] = adv;
    if constexpr (RET) a.ret_out[i] = adv + v;
  }
  template <class Order>
  inline void operator()(Order o, index_t b, index_t t, Carry& c) const {
    const index_t i = a.L.at(o, b, t);
    const F v = a.values[a.L.at(o, b, t, a.values_len)];
    if constexpr (MASK) {
      if (!a.mask[i]) { store(i, c.adv, v); return; }
    }
    F vnext = c.next_value;
    if constexpr (NV) vnext = a.next_values[i];
    bool done = false;
    if constexpr (TRUNC) done = a.truncated[i];
    if constexpr (TERM) {
      if (a.terminated[i]) { vnext = F(0); done = true; }
    }
    const F delta = fmadd(a.gamma, vnext, a.rewards[i]) - v;
    // Select rather than multiply by 0, so a NaN carry does not leak across episodes.
    c.adv = done ? delta : fmadd(a.gamma * a.lam, c.adv, delta);
    c.next_value = v;
    store(i, c.adv, v);
  }
};

// ---------------------------------------------------------------------------------------
// Min-form returns ((min, +) scan): m_t = min(r_t, m_{t+1}), restarting after terminated
// steps (m_t = r_t there). NaN rewards propagate like numpy.minimum. Masked steps carry m
// through; positions with no unmasked step at or after them in the episode get 0.
template <class F>
struct MinFormArgs {
  Layout L;
  const F* rewards = nullptr;
  const flag_t* terminated = nullptr;
  const flag_t* mask = nullptr;
  F* out = nullptr;
};

template <class F>
struct MinCarry {
  F m;
  bool any;
};

template <class F, bool TERM, bool MASK>
struct MinFormStep {
  using Carry = MinCarry<F>;
  MinFormArgs<F> a;

  inline Carry init(index_t) const { return Carry{F(0), false}; }
  template <class Order>
  inline void operator()(Order o, index_t b, index_t t, Carry& c) const {
    const index_t i = a.L.at(o, b, t);
    if constexpr (MASK) {
      if (!a.mask[i]) { a.out[i] = c.any ? c.m : F(0); return; }
    }
    bool restart = !c.any;
    if constexpr (TERM) restart = restart || a.terminated[i];
    const F r = a.rewards[i];
    // r < m is false for NaN on either side: keep a NaN carry, take a NaN reward.
    const bool take = restart | (r < c.m) | (r != r);
    c.m = take ? r : c.m;
    c.any = true;
    a.out[i] = c.m;
  }
};

}  // namespace creditlab
