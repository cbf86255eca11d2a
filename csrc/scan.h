// creditlab reverse-scan kernels.
//
// Header-only, no Python. Every kernel here is one reverse recurrence over time,
//     x_t = a_t (*) x_{t+1}  (+)  b_t,
// in the affine semiring (sum-form returns, GAE, lambda-returns: (*) = times, (+) = plus)
// or the (min, +) semiring (min-form returns: (*) = plus, (+) = min).
//
// A kernel is a `Step` functor that knows how to build (a_t, b_t) for one element and
// update its carry; `reverse_scan` walks the elements in the right order:
//   * batch-major [B, T] arrays: rows split between OpenMP threads, visited in
//     descending order and t descending, so each thread reads descending streams;
//     two rows side by side element by element, or one row at a time when the Step has
//     a row kernel (GAE and returns in float32 without a mask, with AVX-512: 16 steps
//     per vector, see simd::Scan16);
//   * time-major [T, B] arrays: t descending outside, b inside over a block of columns,
//     with one carry per column kept in a caller-provided workspace.
// Kernels never allocate; all buffers come from the caller.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

// AVX-512 row kernels (see GaeStep::row). Define CREDITLAB_NO_SIMD_ROWS to turn them off.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    !defined(CREDITLAB_NO_SIMD_ROWS)
#define CREDITLAB_AVX512_ROWS 1
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns about the deliberately undefined vectors inside the intrinsics (GCC bug
// 105593); the pragma covers the header's code, where the warning points.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#endif

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

#if defined(CREDITLAB_AVX512_ROWS)
namespace simd {

// 16 one-byte flags -> a lane mask (bit j set where p[j] != 0).
inline __mmask16 flags16(const flag_t* p) {
  const __m128i f = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm_test_epi8_mask(f, f);
}

// The reverse recurrence x_j = cut_j ? b_j : b_j + c * x_{j+1} over the 16 lanes of a
// vector (lane j = time step t0 + j), with x_16 = `carry`, in registers (Hillis-Steele):
// after the step with shift s, lane j holds the scan of lanes [j, j + 2s) with a zero
// carry, and bit j of `cut` says whether a link in that range is cut. A cut lane takes
// nothing from later lanes: a select, as in the element-wise Steps, so a NaN does not
// cross an episode end. Then one FMA with c^(16 - j) brings in the carry. The serial
// dependency from one vector to the next is that FMA and a broadcast (lane0), instead of
// an FMA and a select per element. The sums are reassociated, so float results differ
// from the element-wise recurrence by rounding.
struct Scan16 {
  __m512 c1, c2, c4, c8, pw;  // c, c^2, c^4, c^8, and c^(16 - j) in lane j

  explicit Scan16(float c) {
    alignas(64) float p[16];
    float x = 1;
    for (int j = 15; j >= 0; --j) p[j] = (x *= c);
    const float cc = c * c, cccc = cc * cc;
    c1 = _mm512_set1_ps(c);
    c2 = _mm512_set1_ps(cc);
    c4 = _mm512_set1_ps(cccc);
    c8 = _mm512_set1_ps(cccc * cccc);
    pw = _mm512_load_ps(p);
  }
  inline __m512 operator()(__m512 x, __mmask16 cut, __m512 carry) const {
    step<1>(x, cut, c1);
    step<2>(x, cut, c2);
    step<4>(x, cut, c4);
    step<8>(x, cut, c8);
    return _mm512_mask3_fmadd_ps(pw, carry, x, static_cast<__mmask16>(~cut));
  }
  // Lane 0 (the earliest step) broadcast: the carry for the vector before this one.
  static inline __m512 lane0(__m512 x) {
    return _mm512_broadcastss_ps(_mm512_castps512_ps128(x));
  }

 private:
  template <int S>
  static inline void step(__m512& x, __mmask16& cut, __m512 c) {
    const __m512 later = _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_setzero_si512(), _mm512_castps_si512(x), S));
    x = _mm512_mask3_fmadd_ps(c, later, x, static_cast<__mmask16>(~cut));
    cut = static_cast<__mmask16>(cut | (cut >> S));
  }
};

}  // namespace simd
#endif

// A Step may also scan a whole batch-major row by itself (e.g. with SIMD over time):
//     static constexpr bool kRowKernel = true;   void row(index_t b) const;
template <class S, class = void>
struct has_row_kernel : std::false_type {};
template <class S>
struct has_row_kernel<S, std::enable_if_t<S::kRowKernel>> : std::true_type {};

// Walk every element of a [B, T] array in reverse time order and apply `step`:
//     step.init(b) -> Carry            the carry before the last step of row b
//     step(order, b, t, carry)         one element, order = BatchMajor{} or TimeMajor{}
// or, for batch-major data and a Step with a row kernel, step.row(b) for each row.
// `carries` must hold B elements of Step::Carry when layout.time_major; unused otherwise.
//
// Each thread works on its own copy of `step`. Its fields (pointers, gamma, ...) then
// live in registers: read through the caller's reference they would have to be re-read
// after every store to an output, which the compiler must assume may alias them.
#ifndef CREDITLAB_ROWS
#define CREDITLAB_ROWS 2
#endif
constexpr int kRows = CREDITLAB_ROWS;

namespace detail {

// Batch-major rows, element by element; a worksharing loop (call inside a parallel region).
// `step` is taken by value: a copy that no pointer can reach (see reverse_scan).
template <class Step>
void scan_rows(const Step step, index_t B, index_t T) {
  using Carry = typename Step::Carry;
  constexpr BatchMajor o{};
  const index_t ngroups = (B + kRows - 1) / kRows;
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

}  // namespace detail

template <class Step>
void reverse_scan(const Step& shared_step, const Layout& L, typename Step::Carry* carries) {
  const index_t B = L.B, T = L.T;
  if (B <= 0 || T <= 0) return;
  [[maybe_unused]] const bool parallel = B > 1 && B * T >= (index_t(1) << 15);
  if (!L.time_major) {
#if defined(_OPENMP)
#pragma omp parallel if (parallel)
#endif
    {
      const Step step = shared_step;
      if constexpr (has_row_kernel<Step>::value) {
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
        for (index_t i = 0; i < B; ++i) step.row(B - 1 - i);
      } else {
        detail::scan_rows(step, B, T);
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

#if defined(CREDITLAB_AVX512_ROWS)
  // One batch-major row, float32, no mask, AVX-512: 16 time steps per vector, by
  // simd::Scan16 with c = gamma, cut at terminated | truncated steps, where
  // G_t = r_t + gamma * (next_values_t at a truncation, else 0). Float rounding differs
  // from operator() (reassociated).
  static constexpr bool kRowKernel = std::is_same_v<F, float> && !MASK;

  inline void row(index_t b) const {
    constexpr BatchMajor o{};
    const index_t T = a.L.T;
    Carry g = init(b);
    index_t t = T - 1;
    for (; t >= 0 && ((t + 1) & 15) != 0; --t) (*this)(o, b, t, g);
    if (t < 0) return;

    const float* r = a.rewards + b * T;
    const simd::Scan16 scan(a.gamma);
    const __m512 gamma = _mm512_set1_ps(a.gamma);
    __m512 carry = _mm512_set1_ps(g);
    for (index_t t0 = t - 15; t0 >= 0; t0 -= 16) {
      __mmask16 term = 0, trunc = 0;
      if constexpr (TERM) term = simd::flags16(a.terminated + b * T + t0);
      if constexpr (TRUNC) trunc = simd::flags16(a.truncated + b * T + t0);
      __m512 x = _mm512_loadu_ps(r + t0);
      if constexpr (TRUNC) {
        const __mmask16 boot = static_cast<__mmask16>(trunc & ~term);
        x = _mm512_fmadd_ps(gamma, _mm512_maskz_loadu_ps(boot, a.next_values + b * T + t0), x);
      }
      x = scan(x, static_cast<__mmask16>(term | trunc), carry);
      _mm512_storeu_ps(a.out + b * T + t0, x);
      carry = simd::Scan16::lane0(x);
    }
  }
#endif
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

#if defined(CREDITLAB_AVX512_ROWS)
  // One batch-major row, float32, no mask, AVX-512: 16 time steps per vector. delta for
  // 16 steps at once, then A_t = done_t ? delta_t : delta_t + gl * A_{t+1} by
  // simd::Scan16. Same semantics as operator(); float rounding differs (reassociated).
  static constexpr bool kRowKernel = std::is_same_v<F, float> && !MASK;

  inline void row(index_t b) const {
    constexpr BatchMajor o{};
    const index_t T = a.L.T;
    Carry c = init(b);
    // Element-wise down to a multiple of 16 steps, and always the last step when its V+
    // is not values[t + 1] (values has T slots and there are no next_values).
    const bool peel = !NV && a.values_len == T;
    index_t t = T - 1;
    for (; t >= 0 && (((t + 1) & 15) != 0 || (peel && t == T - 1)); --t) (*this)(o, b, t, c);
    if (t < 0) return;

    const float* r = a.rewards + b * T;
    const float* v = a.values + b * a.values_len;
    const float* vnext_row = NV ? a.next_values + b * T : v + 1;  // V+ unless terminated
    const simd::Scan16 scan(a.gamma * a.lam);
    const __m512 gamma = _mm512_set1_ps(a.gamma);
    __m512 carry = _mm512_set1_ps(c.adv);
    for (index_t t0 = t - 15; t0 >= 0; t0 -= 16) {
      __mmask16 term = 0, done = 0;
      if constexpr (TERM) term = simd::flags16(a.terminated + b * T + t0);
      if constexpr (TRUNC) done = simd::flags16(a.truncated + b * T + t0);
      done = static_cast<__mmask16>(done | term);
      const __m512 vt = _mm512_loadu_ps(v + t0);
      const __m512 vnext = _mm512_maskz_loadu_ps(static_cast<__mmask16>(~term), vnext_row + t0);
      const __m512 delta =
          _mm512_sub_ps(_mm512_fmadd_ps(gamma, vnext, _mm512_loadu_ps(r + t0)), vt);
      const __m512 x = scan(delta, done, carry);
      if constexpr (ADV) _mm512_storeu_ps(a.adv_out + b * T + t0, x);
      if constexpr (RET) _mm512_storeu_ps(a.ret_out + b * T + t0, _mm512_add_ps(x, vt));
      carry = simd::Scan16::lane0(x);
    }
  }
#endif
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
