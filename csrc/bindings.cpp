// The only file that includes pybind11. Thin: it checks that the Python wrapper kept its
// promises (dtype, C-contiguity, sizes), turns optional arrays into null pointers, picks
// the kernel instantiation, and runs it with the GIL released.
// Validation for users (messages naming the argument) lives in creditlab/returns.py.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "scan.h"
#include "rtb.h"
#include "trees.h"

#if defined(CREDITLAB_HAVE_CUDA)
#include "cuda/runtime.h"
#include "cuda/scan.h"
#include "cuda/groups.h"
#include "cuda/trees.h"
#endif

namespace py = pybind11;
using namespace creditlab;

namespace {

template <class T>
T* data_of(const py::object& obj, const char* name, index_t expected_size) {
  if (obj.is_none()) return nullptr;
  if (!py::isinstance<py::array>(obj))
    throw std::invalid_argument(std::string(name) + ": expected a numpy array");
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(py::dtype::of<T>()))
    throw std::invalid_argument(std::string(name) + ": wrong dtype for this kernel");
  if (!(arr.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(name) + ": must be C-contiguous");
  if (arr.size() != expected_size)
    throw std::invalid_argument(std::string(name) + ": wrong number of elements");
  if constexpr (!std::is_const_v<T>) {
    if (!arr.writeable()) throw std::invalid_argument(std::string(name) + ": not writeable");
    return static_cast<T*>(arr.mutable_data());
  } else {
    return static_cast<T*>(arr.data());
  }
}

// Call fn(std::integral_constant<bool, v>) so a runtime flag becomes a template argument.
template <class Fn>
void with_flag(bool v, Fn&& fn) {
  if (v) fn(std::true_type{});
  else fn(std::false_type{});
}

template <class Step>
void run_scan(const Step& step, const Layout& L) {
  std::vector<typename Step::Carry> carries(L.time_major ? static_cast<size_t>(L.B) : 0);
  py::gil_scoped_release release;
  reverse_scan(step, L, carries.data());
}

template <class F>
void discounted_returns(const py::object& rewards, const py::object& next_values,
                        const py::object& bootstrap, const py::object& terminated,
                        const py::object& truncated, const py::object& mask, double gamma,
                        const py::object& out, index_t B, index_t T, bool time_major) {
  ReturnsArgs<F> a;
  a.L = Layout{B, T, time_major};
  const index_t n = B * T;
  a.rewards = data_of<const F>(rewards, "rewards", n);
  a.next_values = data_of<const F>(next_values, "next_values", n);
  a.bootstrap = data_of<const F>(bootstrap, "bootstrap", B);
  a.terminated = data_of<const flag_t>(terminated, "terminated", n);
  a.truncated = data_of<const flag_t>(truncated, "truncated", n);
  a.mask = data_of<const flag_t>(mask, "response_mask", n);
  a.out = data_of<F>(out, "out", n);
  a.gamma = static_cast<F>(gamma);
  if (!a.rewards || !a.out) throw std::invalid_argument("rewards and out are required");
  if (a.truncated && !a.next_values) throw std::invalid_argument("truncated needs next_values");
  with_flag(a.terminated != nullptr, [&](auto term) {
    with_flag(a.truncated != nullptr, [&](auto trunc) {
      with_flag(a.mask != nullptr, [&](auto msk) {
        with_flag(a.next_values != nullptr, [&](auto nv) {
          run_scan(ReturnsStep<F, term.value, trunc.value, msk.value, nv.value>{a}, a.L);
        });
      });
    });
  });
}

template <class F>
void gae(const py::object& rewards, const py::object& values, index_t values_len,
         const py::object& next_values, const py::object& bootstrap,
         const py::object& terminated, const py::object& truncated, const py::object& mask,
         double gamma, double lam, const py::object& adv_out, const py::object& ret_out,
         index_t B, index_t T, bool time_major) {
  if (values_len != T && values_len != T + 1)
    throw std::invalid_argument("values_len must be T or T+1");
  GaeArgs<F> a;
  a.L = Layout{B, T, time_major};
  const index_t n = B * T;
  a.rewards = data_of<const F>(rewards, "rewards", n);
  a.values = data_of<const F>(values, "values", B * values_len);
  a.values_len = values_len;
  a.next_values = data_of<const F>(next_values, "next_values", n);
  a.bootstrap = data_of<const F>(bootstrap, "bootstrap", B);
  a.terminated = data_of<const flag_t>(terminated, "terminated", n);
  a.truncated = data_of<const flag_t>(truncated, "truncated", n);
  a.mask = data_of<const flag_t>(mask, "response_mask", n);
  a.adv_out = data_of<F>(adv_out, "advantages out", n);
  a.ret_out = data_of<F>(ret_out, "returns out", n);
  a.gamma = static_cast<F>(gamma);
  a.lam = static_cast<F>(lam);
  if (!a.rewards || !a.values) throw std::invalid_argument("rewards and values are required");
  if (!a.adv_out && !a.ret_out) throw std::invalid_argument("at least one output is required");
  if (a.truncated && !a.next_values) throw std::invalid_argument("truncated needs next_values");
  with_flag(a.terminated != nullptr, [&](auto term) {
    with_flag(a.truncated != nullptr, [&](auto trunc) {
      with_flag(a.mask != nullptr, [&](auto msk) {
        with_flag(a.next_values != nullptr, [&](auto nv) {
          with_flag(a.adv_out != nullptr, [&](auto adv) {
            with_flag(a.ret_out != nullptr, [&](auto ret) {
              if constexpr (adv.value || ret.value)
                run_scan(GaeStep<F, term.value, trunc.value, msk.value, nv.value, adv.value,
                                 ret.value>{a},
                         a.L);
            });
          });
        });
      });
    });
  });
}

template <class F>
void min_form_returns(const py::object& rewards, const py::object& terminated,
                      const py::object& mask, const py::object& out, index_t B, index_t T,
                      bool time_major) {
  MinFormArgs<F> a;
  a.L = Layout{B, T, time_major};
  const index_t n = B * T;
  a.rewards = data_of<const F>(rewards, "rewards", n);
  a.terminated = data_of<const flag_t>(terminated, "terminated", n);
  a.mask = data_of<const flag_t>(mask, "response_mask", n);
  a.out = data_of<F>(out, "out", n);
  if (!a.rewards || !a.out) throw std::invalid_argument("rewards and out are required");
  with_flag(a.terminated != nullptr, [&](auto term) {
    with_flag(a.mask != nullptr, [&](auto msk) {
      run_scan(MinFormStep<F, term.value, msk.value>{a}, a.L);
    });
  });
}

// ---------------------------------------------------------------------------------------
// Tree kernels (csrc/trees.h). Validation for users lives in creditlab/trees.py and
// creditlab/planning.py; here only dtype / size / contiguity promises are re-checked.
namespace tk = creditlab::trees;

template <class F>
void tree_backup_path(const py::object& parent, const py::object& r, const py::object& g,
                      const py::object& V, const py::object& N, const py::object& tree_ptr,
                      const py::object& leaf, const py::object& v_leaf, int op) {
  const auto* ptr = data_of<const tk::offset_t>(tree_ptr, "tree_ptr",
                                                py::len(tree_ptr));
  const index_t B = static_cast<index_t>(py::len(tree_ptr)) - 1, M = ptr[B];
  const auto* pa = data_of<const tk::node_t>(parent, "parent", M);
  const F* rr = data_of<const F>(r, "r", M);
  const F* gg = data_of<const F>(g, "g", M);
  F* vv = data_of<F>(V, "V", M);
  tk::count_t* nn = data_of<tk::count_t>(N, "N", M);
  const auto* lf = data_of<const tk::node_t>(leaf, "leaf", B);
  const F* vl = data_of<const F>(v_leaf, "v_leaf", B);
  py::gil_scoped_release release;
  tk::backup_path<F>(pa, rr, gg, vv, nn, ptr, B, lf, vl, op);
}

template <class F>
void tree_backup_returns(const py::object& parent, const py::object& r, const py::object& g,
                         const py::object& tree_ptr, const py::object& leaf, int op,
                         const py::object& count, const py::object& qsum,
                         const py::object& qmax, const py::object& qmin,
                         const py::object& root_out) {
  const auto* ptr = data_of<const tk::offset_t>(tree_ptr, "tree_ptr", py::len(tree_ptr));
  const index_t B = static_cast<index_t>(py::len(tree_ptr)) - 1, M = ptr[B];
  const auto* pa = data_of<const tk::node_t>(parent, "parent", M);
  const F* rr = data_of<const F>(r, "r", M);
  const F* gg = data_of<const F>(g, "g", M);
  const auto* lf = data_of<const tk::node_t>(leaf, "leaf", B);
  auto* cnt = data_of<tk::count_t>(count, "count", M);
  F* qs = data_of<F>(qsum, "qsum", M);
  F* qx = data_of<F>(qmax, "qmax", M);
  F* qn = data_of<F>(qmin, "qmin", M);
  F* ro = data_of<F>(root_out, "root_out", B);
  py::gil_scoped_release release;
  tk::backup_returns<F>(pa, rr, gg, ptr, B, lf, op, cnt, qs, qx, qn, ro);
}

template <class F>
void tree_reduce_up(const py::object& parent, const py::object& leaf_value, const py::object& r,
                    const py::object& g, const py::object& w, const py::object& v_self,
                    const py::object& w_self, double T, int op, const py::object& tree_ptr,
                    const py::object& out) {
  const auto* ptr = data_of<const tk::offset_t>(tree_ptr, "tree_ptr", py::len(tree_ptr));
  const index_t B = static_cast<index_t>(py::len(tree_ptr)) - 1, M = ptr[B];
  const auto* pa = data_of<const tk::node_t>(parent, "parent", M);
  const F* lv = data_of<const F>(leaf_value, "leaf_value", M);
  const F* rr = data_of<const F>(r, "r", M);
  const F* gg = data_of<const F>(g, "g", M);
  const F* ww = data_of<const F>(w, "w", M);
  const F* vs = data_of<const F>(v_self, "v_self", M);
  const F* ws = data_of<const F>(w_self, "w_self", M);
  F* vo = data_of<F>(out, "out", M);
  std::vector<F> acc(static_cast<size_t>(M)), wsum(static_cast<size_t>(M));
  py::gil_scoped_release release;
  tk::reduce_up<F>(pa, lv, rr, gg, ww, vs, ws, static_cast<F>(T), op, ptr, B, vo, acc.data(),
                   wsum.data());
}

template <class F>
void tree_scan_down(const py::object& parent, const py::object& x, int op,
                    const py::object& tree_ptr, const py::object& out) {
  const auto* ptr = data_of<const tk::offset_t>(tree_ptr, "tree_ptr", py::len(tree_ptr));
  const index_t B = static_cast<index_t>(py::len(tree_ptr)) - 1, M = ptr[B];
  const auto* pa = data_of<const tk::node_t>(parent, "parent", M);
  const F* xx = data_of<const F>(x, "x", M);
  F* yy = data_of<F>(out, "out", M);
  py::gil_scoped_release release;
  tk::scan_down<F>(pa, xx, op, ptr, B, yy);
}

template <class F>
void tree_leaf_stats(const py::object& parent, const py::object& x, const py::object& is_leaf,
                     const py::object& tree_ptr, const py::object& cnt, const py::object& mean,
                     const py::object& m2) {
  const auto* ptr = data_of<const tk::offset_t>(tree_ptr, "tree_ptr", py::len(tree_ptr));
  const index_t B = static_cast<index_t>(py::len(tree_ptr)) - 1, M = ptr[B];
  const auto* pa = data_of<const tk::node_t>(parent, "parent", M);
  const F* xx = data_of<const F>(x, "x", M);
  const auto* il = data_of<const tk::flag8_t>(is_leaf, "is_leaf", M);
  F* c = data_of<F>(cnt, "cnt", M);
  F* mu = data_of<F>(mean, "mean", M);
  F* m = data_of<F>(m2, "m2", M);
  std::vector<tk::flag8_t> haschild(static_cast<size_t>(M));
  py::gil_scoped_release release;
  tk::leaf_stats<F>(pa, xx, il, ptr, B, c, mu, m, haschild.data());
}

template <class F>
void tree_sibling_stats(const py::object& parent, const py::object& x,
                        const py::object& tree_ptr, const py::object& cnt,
                        const py::object& mean, const py::object& stdev) {
  const auto* ptr = data_of<const tk::offset_t>(tree_ptr, "tree_ptr", py::len(tree_ptr));
  const index_t B = static_cast<index_t>(py::len(tree_ptr)) - 1, M = ptr[B];
  const auto* pa = data_of<const tk::node_t>(parent, "parent", M);
  const F* xx = data_of<const F>(x, "x", M);
  F* c = data_of<F>(cnt, "cnt", M);
  F* mu = data_of<F>(mean, "mean", M);
  F* sd = data_of<F>(stdev, "std", M);
  py::gil_scoped_release release;
  tk::sibling_stats<F>(pa, xx, ptr, B, c, mu, sd);
}

// kind: 0 min-max (a = lo, b = hi), 1 parent-and-siblings (a = eps), 2 completed by mixed
// value (a = value_scale, b = maxvisit_init, eps, rescale, use_mixed).
template <class F>
void tree_qtransform(int kind, const py::object& q, const py::object& visits,
                     const py::object& logits, const py::object& raw_value,
                     const py::object& node_value, index_t R, index_t A, double a, double b,
                     double eps, bool rescale, bool use_mixed, const py::object& out) {
  const F* qq = data_of<const F>(q, "q", R * A);
  const auto* nn = data_of<const tk::count_t>(visits, "visits", R * A);
  const F* lg = data_of<const F>(logits, "prior_logits", R * A);
  const F* rv = data_of<const F>(raw_value, "raw_value", R);
  const F* nv = data_of<const F>(node_value, "node_value", R);
  F* o = data_of<F>(out, "out", R * A);
  py::gil_scoped_release release;
  for (index_t i = 0; i < R; ++i) {
    if (kind == 0)
      tk::qtransform_min_max_row<F>(qq + i * A, nn + i * A, A, F(a), F(b), o + i * A);
    else if (kind == 1)
      tk::qtransform_parent_siblings_row<F>(qq + i * A, nn + i * A, A, nv[i], F(a), o + i * A);
    else
      tk::qtransform_mix_value_row<F>(qq + i * A, nn + i * A, lg + i * A, A, rv[i], nv[i], F(a),
                                      F(b), rescale, use_mixed, F(eps), o + i * A);
  }
}

// The evaluator's results into the search's buffers. `pair` is what the Python callback
// returned: (RecurrentOutput(reward, discount, prior_logits, value), new_embedding), already
// checked to be a 2-tuple holding a 4-tuple. When every output is a C-contiguous array of
// this kernel's dtype and the exact shape, and the new embeddings a plain numeric array
// shaped like the embedding rows, they are copied here (no Python work); anything else goes
// to fill_slow(out, new), which converts, checks and raises as the Python loop always did.
bool is_exact_array(const py::handle& obj, const py::dtype& dt, index_t d0, index_t d1) {
  if (!py::isinstance<py::array>(obj)) return false;
  const auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(dt) || !(arr.flags() & py::array::c_style)) return false;
  if (arr.ndim() != (d1 < 0 ? 1 : 2) || arr.shape(0) != d0) return false;
  return d1 < 0 || arr.shape(1) == d1;
}

template <class F>
void fill_outputs(const py::object& pair, tk::MctsIO<F>& o, index_t B, index_t A,
                  const py::object& emb_flat, const std::int64_t* scatter_index,
                  const py::function& fill_slow) {
  const auto tup = py::reinterpret_borrow<py::tuple>(pair);
  const py::object out = tup[0], nw = tup[1];
  const auto outs = py::reinterpret_borrow<py::tuple>(out);
  const py::dtype dt = py::dtype::of<F>();
  F* dst[4] = {o.reward, o.discount, o.prior_logits, o.value};
  bool fast = true;
  for (int k = 0; k < 4 && fast; ++k) fast = is_exact_array(outs[k], dt, B, k == 2 ? A : -1);
  py::array emb, nwa;
  if (fast && !emb_flat.is_none()) {
    emb = py::reinterpret_borrow<py::array>(emb_flat);
    const char kind = emb.dtype().kind();
    fast = (kind == 'b' || kind == 'i' || kind == 'u' || kind == 'f' || kind == 'c') &&
           py::isinstance<py::array>(nw);
    if (fast) {
      nwa = py::reinterpret_borrow<py::array>(nw);
      fast = nwa.dtype().is(emb.dtype()) && (nwa.flags() & py::array::c_style) &&
             nwa.ndim() == emb.ndim() && nwa.shape(0) == B;
      for (py::ssize_t d = 1; fast && d < emb.ndim(); ++d) fast = nwa.shape(d) == emb.shape(d);
    }
  }
  if (!fast) {
    fill_slow(out, nw);
    return;
  }
  for (int k = 0; k < 4; ++k) {
    const auto arr = py::reinterpret_borrow<py::array>(outs[k]);
    std::memcpy(dst[k], arr.data(), static_cast<size_t>(k == 2 ? B * A : B) * sizeof(F));
  }
  if (!emb_flat.is_none()) {
    const size_t row = static_cast<size_t>(nwa.nbytes() / B);
    const char* src = static_cast<const char*>(nwa.data());
    char* base = static_cast<char*>(emb.mutable_data());
    for (index_t b = 0; b < B; ++b)
      std::memcpy(base + scatter_index[b] * static_cast<std::int64_t>(row), src + b * row, row);
  }
}

template <class F>
void tree_mcts(const py::dict& tree, const py::dict& io, index_t B, index_t N, index_t A,
               int gumbel, index_t num_simulations, index_t max_depth, double pb_c_init,
               double pb_c_base, double value_scale, double maxvisit_init, bool rescale_values,
               bool use_mixed_value, const py::object& gumbel_noise,
               const py::object& considered_table, index_t table_rows,
               index_t max_num_considered, const py::function& callback,
               const py::object& emb_flat, const py::function& fill_slow) {
  tk::SearchTreeView<F> t;
  t.B = B; t.N = N; t.A = A;
  const index_t BN = B * N, BNA = B * N * A;
  t.node_visits = data_of<tk::count_t>(tree["node_visits"], "node_visits", BN);
  t.raw_values = data_of<F>(tree["raw_values"], "raw_values", BN);
  t.node_values = data_of<F>(tree["node_values"], "node_values", BN);
  t.parents = data_of<tk::node_t>(tree["parents"], "parents", BN);
  t.action_from_parent = data_of<tk::node_t>(tree["action_from_parent"], "action_from_parent", BN);
  t.children_index = data_of<tk::node_t>(tree["children_index"], "children_index", BNA);
  t.children_prior_logits = data_of<F>(tree["children_prior_logits"], "children_prior_logits", BNA);
  t.children_visits = data_of<tk::count_t>(tree["children_visits"], "children_visits", BNA);
  t.children_rewards = data_of<F>(tree["children_rewards"], "children_rewards", BNA);
  t.children_discounts = data_of<F>(tree["children_discounts"], "children_discounts", BNA);
  t.children_values = data_of<F>(tree["children_values"], "children_values", BNA);
  t.root_invalid_actions =
      data_of<const tk::flag8_t>(tree["root_invalid_actions"], "root_invalid_actions", B * A);
  tk::MctsConfig<F> cfg;
  cfg.gumbel = gumbel;
  cfg.num_simulations = num_simulations;
  cfg.max_depth = max_depth;
  cfg.pb_c_init = F(pb_c_init); cfg.pb_c_base = F(pb_c_base);
  cfg.value_scale = F(value_scale); cfg.maxvisit_init = F(maxvisit_init);
  cfg.rescale_values = rescale_values; cfg.use_mixed_value = use_mixed_value;
  cfg.gumbel_noise = data_of<const F>(gumbel_noise, "gumbel_noise", B * A);
  cfg.considered_table = data_of<const tk::count_t>(considered_table, "considered_table",
                                                    table_rows * num_simulations);
  cfg.table_rows = table_rows;
  cfg.max_num_considered = max_num_considered;
  if (gumbel && (!cfg.gumbel_noise || !cfg.considered_table))
    throw std::invalid_argument("gumbel search needs gumbel_noise and considered_table");
  if (gumbel && max_num_considered >= table_rows)
    throw std::invalid_argument("considered_table has too few rows");
  tk::MctsIO<F> o;
  o.parent_index = data_of<tk::node_t>(io["parent_index"], "parent_index", B);
  o.action = data_of<tk::node_t>(io["action"], "action", B);
  o.node_index = data_of<tk::node_t>(io["node_index"], "node_index", B);
  o.reward = data_of<F>(io["reward"], "reward", B);
  o.discount = data_of<F>(io["discount"], "discount", B);
  o.prior_logits = data_of<F>(io["prior_logits"], "prior_logits", B * A);
  o.value = data_of<F>(io["value"], "value", B);
  t.prior_probs = data_of<F>(io["prior_probs"], "prior_probs", BNA);
  if (!t.prior_probs) throw std::invalid_argument("prior_probs: workspace array required");
  std::vector<F> scratch(static_cast<size_t>(B * 3 * A + N + 1));
  std::vector<tk::node_t> work(static_cast<size_t>(B * (N + 2)));
  // Flat row indices (b * N + node) and int64 actions for the Python side, filled here
  // before each call so the callback does no index arithmetic.
  auto* gather = data_of<std::int64_t>(io["gather_index"], "gather_index", B);
  auto* scatter = data_of<std::int64_t>(io["scatter_index"], "scatter_index", B);
  auto* action64 = data_of<std::int64_t>(io["action64"], "action64", B);
  if (!gather || !scatter || !action64)
    throw std::invalid_argument("gather_index, scatter_index, action64: arrays required");
  if (!emb_flat.is_none()) {
    if (!py::isinstance<py::array>(emb_flat))
      throw std::invalid_argument("emb_flat: expected a numpy array");
    const auto e = py::reinterpret_borrow<py::array>(emb_flat);
    if (!(e.flags() & py::array::c_style) || !e.writeable() || e.ndim() < 1 || e.shape(0) != BN)
      throw std::invalid_argument("emb_flat: a writeable C-contiguous [B * N, ...] array");
  }
  auto eval = [&](std::int64_t sim) {
    for (index_t b = 0; b < B; ++b) {
      gather[b] = b * N + o.parent_index[b];
      scatter[b] = b * N + o.node_index[b];
      action64[b] = o.action[b];
    }
    py::gil_scoped_acquire acquire;
    fill_outputs<F>(callback(sim), o, B, A, emb_flat, scatter, fill_slow);
  };
  int status = 0;
  {
    py::gil_scoped_release release;
    status = tk::mcts_search<F>(t, cfg, o, eval, scratch.data(), work.data());
  }
  if (status == 1) throw std::invalid_argument("recurrent_fn returned a discount outside [0, 1]");
}

void bind_trees(py::module_& m) {
  m.def("tree_backup_path_f32", &tree_backup_path<float>);
  m.def("tree_backup_path_f64", &tree_backup_path<double>);
  m.def("tree_backup_returns_f32", &tree_backup_returns<float>);
  m.def("tree_backup_returns_f64", &tree_backup_returns<double>);
  m.def("tree_reduce_up_f32", &tree_reduce_up<float>);
  m.def("tree_reduce_up_f64", &tree_reduce_up<double>);
  m.def("tree_scan_down_f32", &tree_scan_down<float>);
  m.def("tree_scan_down_f64", &tree_scan_down<double>);
  m.def("tree_leaf_stats_f32", &tree_leaf_stats<float>);
  m.def("tree_leaf_stats_f64", &tree_leaf_stats<double>);
  m.def("tree_sibling_stats_f32", &tree_sibling_stats<float>);
  m.def("tree_sibling_stats_f64", &tree_sibling_stats<double>);
  m.def("tree_qtransform_f32", &tree_qtransform<float>);
  m.def("tree_qtransform_f64", &tree_qtransform<double>);
  m.def("tree_mcts_f32", &tree_mcts<float>);
  m.def("tree_mcts_f64", &tree_mcts<double>);
}

int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// RLB value DP (csrc/rtb.h). Returns the first saturated b of each row.
void rtb_value_dp(const py::object& m, double theta, double v1, double w, double v0,
                  index_t T, index_t B, const py::object& D, const py::object& V0,
                  const py::object& VB, const py::object& V, const py::object& sat,
                  bool early_stop, double sat_tol) {
  rtb::DpArgs a;
  a.n_price = static_cast<index_t>(py::len(m));
  a.m = data_of<const double>(m, "m_pdf", a.n_price);
  a.theta = theta;
  a.v1 = v1;
  a.w = w;
  a.v0 = v0;
  a.T = T;
  a.B = B;
  a.D = data_of<float>(D, "D", (T + 1) * B);
  a.V0 = data_of<double>(V0, "V0", T + 1);
  a.VB = data_of<double>(VB, "VB", T + 1);
  a.V = data_of<double>(V, "V", (T + 1) * (B + 1));
  a.sat = data_of<index_t>(sat, "sat", T + 1);
  a.early_stop = early_stop;
  a.sat_tol = sat_tol;
  if (!a.m || !a.V0 || !a.VB || !a.sat || (B > 0 && !a.D))
    throw std::invalid_argument("m_pdf, D, V0, VB and sat are required");
  std::vector<double> work(2 * static_cast<size_t>(B + 1));
  a.work = work.data();
  py::gil_scoped_release release;
  rtb::value_dp(a);
}

void rtb_bid(const py::object& D, index_t T, index_t B, const py::object& t,
             const py::object& b, const py::object& theta, double v1, double w, double v0,
             index_t max_price, const py::object& out) {
  rtb::BidArgs a;
  a.n = static_cast<index_t>(py::len(out));
  a.D = data_of<const float>(D, "D", (T + 1) * B);
  a.T = T;
  a.B = B;
  a.t = data_of<const std::int64_t>(t, "t_left", a.n);
  a.b = data_of<const std::int64_t>(b, "budget_left", a.n);
  a.theta = data_of<const double>(theta, "pctr", a.n);
  a.v1 = v1;
  a.w = w;
  a.v0 = v0;
  a.max_price = max_price;
  a.out = data_of<std::int64_t>(out, "out", a.n);
  if (a.n == 0) return;
  if (!a.t || !a.b || !a.theta || !a.out || (B > 0 && !a.D))
    throw std::invalid_argument("D, t_left, budget_left, pctr and out are required");
  py::gil_scoped_release release;
  rtb::rlb_bid(a);
}


#if defined(CREDITLAB_HAVE_CUDA)
// ---------------------------------------------------------------------------------------
// CUDA reverse scans (csrc/cuda/scan.h). Arguments are device addresses as integers
// (0 = absent), validated by creditlab/returns.py; launched on `stream`, not synchronised.
template <class T>
T* dptr(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

template <class F>
void cuda_discounted_returns(std::uintptr_t rewards, std::uintptr_t next_values,
                             std::uintptr_t bootstrap, std::uintptr_t terminated,
                             std::uintptr_t truncated, std::uintptr_t mask, double gamma,
                             std::uintptr_t out, index_t B, index_t T, bool time_major,
                             std::uintptr_t workspace, std::size_t workspace_bytes,
                             std::uintptr_t stream) {
  ReturnsArgs<F> a;
  a.L = Layout{B, T, time_major};
  a.rewards = dptr<const F>(rewards);
  a.next_values = dptr<const F>(next_values);
  a.bootstrap = dptr<const F>(bootstrap);
  a.terminated = dptr<const flag_t>(terminated);
  a.truncated = dptr<const flag_t>(truncated);
  a.mask = dptr<const flag_t>(mask);
  a.out = dptr<F>(out);
  a.gamma = static_cast<F>(gamma);
  // (an empty CUDA tensor's data_ptr() is 0: nothing to check or launch then)
  if (B * T > 0 && (!a.rewards || !a.out))
    throw std::invalid_argument("rewards and out are required");
  if (a.truncated && !a.next_values) throw std::invalid_argument("truncated needs next_values");
  py::gil_scoped_release release;
  cuda::discounted_returns<F>(a, dptr<void>(workspace), workspace_bytes, stream);
}

template <class F>
void cuda_gae(std::uintptr_t rewards, std::uintptr_t values, index_t values_len,
              std::uintptr_t next_values, std::uintptr_t bootstrap, std::uintptr_t terminated,
              std::uintptr_t truncated, std::uintptr_t mask, double gamma, double lam,
              std::uintptr_t adv_out, std::uintptr_t ret_out, index_t B, index_t T,
              bool time_major, std::uintptr_t workspace, std::size_t workspace_bytes,
              std::uintptr_t stream) {
  if (values_len != T && values_len != T + 1)
    throw std::invalid_argument("values_len must be T or T+1");
  GaeArgs<F> a;
  a.L = Layout{B, T, time_major};
  a.rewards = dptr<const F>(rewards);
  a.values = dptr<const F>(values);
  a.values_len = values_len;
  a.next_values = dptr<const F>(next_values);
  a.bootstrap = dptr<const F>(bootstrap);
  a.terminated = dptr<const flag_t>(terminated);
  a.truncated = dptr<const flag_t>(truncated);
  a.mask = dptr<const flag_t>(mask);
  a.gamma = static_cast<F>(gamma);
  a.lam = static_cast<F>(lam);
  a.adv_out = dptr<F>(adv_out);
  a.ret_out = dptr<F>(ret_out);
  if (B * T > 0 && (!a.rewards || !a.values))
    throw std::invalid_argument("rewards and values are required");
  if (B * T > 0 && !a.adv_out && !a.ret_out)
    throw std::invalid_argument("at least one output is required");
  if (a.truncated && !a.next_values) throw std::invalid_argument("truncated needs next_values");
  py::gil_scoped_release release;
  cuda::gae<F>(a, dptr<void>(workspace), workspace_bytes, stream);
}

template <class F>
void cuda_min_form_returns(std::uintptr_t rewards, std::uintptr_t terminated,
                           std::uintptr_t mask, std::uintptr_t out, index_t B, index_t T,
                           bool time_major, std::uintptr_t workspace,
                           std::size_t workspace_bytes, std::uintptr_t stream) {
  MinFormArgs<F> a;
  a.L = Layout{B, T, time_major};
  a.rewards = dptr<const F>(rewards);
  a.terminated = dptr<const flag_t>(terminated);
  a.mask = dptr<const flag_t>(mask);
  a.out = dptr<F>(out);
  if (B * T > 0 && (!a.rewards || !a.out))
    throw std::invalid_argument("rewards and out are required");
  py::gil_scoped_release release;
  cuda::min_form_returns<F>(a, dptr<void>(workspace), workspace_bytes, stream);
}

void bind_cuda_scan(py::module_& m) {
  m.def("cuda_discounted_returns_f32", &cuda_discounted_returns<float>);
  m.def("cuda_discounted_returns_f64", &cuda_discounted_returns<double>);
  m.def("cuda_gae_f32", &cuda_gae<float>);
  m.def("cuda_gae_f64", &cuda_gae<double>);
  m.def("cuda_min_form_returns_f32", &cuda_min_form_returns<float>);
  m.def("cuda_min_form_returns_f64", &cuda_min_form_returns<double>);
  m.def(
      "cuda_scan_plan",
      [](int family, bool f64, index_t B, index_t T, bool time_major, py::object strategy) {
        const int choice = strategy.is_none()
                               ? int(cuda::kProcessDefault)
                               : cuda::parse_scan_strategy(strategy.cast<std::string>().c_str());
        const cuda::ScanPlan p = cuda::scan_plan(family, f64, B, T, time_major, choice);
        return py::make_tuple(cuda::scan_strategy_name(p.strategy), p.nchunks, p.chunk_len,
                              p.workspace);
      },
      py::arg("family"), py::arg("f64"), py::arg("B"), py::arg("T"), py::arg("time_major"),
      py::arg("strategy") = py::none(),
      "(strategy, chunks per row, chunk length, workspace bytes) for a reverse scan on the "
      "current device; family 0 returns, 1 gae, 2 min-form. strategy None: the process "
      "setting (cuda_scan_strategy); else auto, sequential, twopass or lookback.");
  m.def(
      "cuda_scan_strategy",
      [] { return std::string(cuda::scan_strategy_name(cuda::scan_strategy_setting())); },
      "The process-wide scan strategy the launchers use: auto (the shape rule), sequential, "
      "twopass or lookback ($CREDITLAB_CUDA_SCAN, read once, unless set since).");
  m.def(
      "cuda_set_scan_strategy",
      [](const std::string& name) {
        std::string before = "auto";
        try {
          before = cuda::scan_strategy_name(cuda::scan_strategy_setting());
        } catch (const std::invalid_argument&) {  // an invalid $CREDITLAB_CUDA_SCAN
        }
        cuda::set_scan_strategy(cuda::parse_scan_strategy(name.c_str()));
        return before;
      },
      py::arg("name"),
      "Set the process-wide scan strategy (auto, sequential, twopass, lookback) for every "
      "later call; returns the previous one. For benchmarks and tests.");
}

// CUDA group helpers (csrc/cuda/groups.h); validated by creditlab/advantages.py.
template <class F>
void cuda_group_advantages(std::uintptr_t scores, std::uintptr_t group, index_t N, index_t G,
                           int mode, double eps, std::uintptr_t out, std::uintptr_t workspace,
                           std::uintptr_t stream) {
  if (N > 0 && (!scores || !group || !out || !workspace || G <= 0))
    throw std::invalid_argument("scores, group, out and workspace are required");
  py::gil_scoped_release release;
  cuda::group_advantages<F>(dptr<const F>(scores), dptr<const std::int64_t>(group), N, G, mode,
                            eps, dptr<F>(out), dptr<double>(workspace), stream);
}

template <class F>
void cuda_masked_whiten(std::uintptr_t x, std::uintptr_t mask, index_t n, bool unbiased,
                        double eps, bool shift_mean, std::uintptr_t out,
                        std::uintptr_t workspace, std::uintptr_t stream) {
  if (n > 0 && (!x || !mask || !out || !workspace))
    throw std::invalid_argument("x, mask, out and workspace are required");
  py::gil_scoped_release release;
  cuda::masked_whiten<F>(dptr<const F>(x), dptr<const std::uint8_t>(mask), n, unbiased, eps,
                         shift_mean, dptr<F>(out), dptr<double>(workspace), stream);
}

void bind_cuda_groups(py::module_& m) {
  m.def("cuda_group_advantages_f32", &cuda_group_advantages<float>);
  m.def("cuda_group_advantages_f64", &cuda_group_advantages<double>);
  m.def("cuda_masked_whiten_f32", &cuda_masked_whiten<float>);
  m.def("cuda_masked_whiten_f64", &cuda_masked_whiten<double>);
}
#endif

}  // namespace

#if defined(CREDITLAB_HAVE_CUDA)
// CUDA tree kernels (csrc/cuda/trees.h): device pointers arrive as integers (0 = absent),
// validated by creditlab/trees.py; the launch is asynchronous on `stream`.
namespace {
template <class T>
T* dev(std::uintptr_t p) { return reinterpret_cast<T*>(p); }
using u = std::uintptr_t;

template <class F>
void cuda_tree_backup_path(u parent, u r, u g, u V, u N, u tree_ptr, std::int64_t B, u leaf,
                           u v_leaf, int op, u stream) {
  py::gil_scoped_release release;
  if constexpr (std::is_same_v<F, float>)
    cuda::tree_backup_path_f32(dev<const std::int32_t>(parent), dev<const F>(r), dev<const F>(g),
                               dev<F>(V), dev<std::int32_t>(N), dev<const std::int64_t>(tree_ptr),
                               B, dev<const std::int32_t>(leaf), dev<const F>(v_leaf), op, stream);
  else
    cuda::tree_backup_path_f64(dev<const std::int32_t>(parent), dev<const F>(r), dev<const F>(g),
                               dev<F>(V), dev<std::int32_t>(N), dev<const std::int64_t>(tree_ptr),
                               B, dev<const std::int32_t>(leaf), dev<const F>(v_leaf), op, stream);
}

template <class F>
void cuda_tree_reduce_up(u parent, u leaf_value, u r, u g, u w, u v_self, u w_self, double T,
                         int op, u tree_ptr, std::int64_t B, std::int64_t M, u out, u iwork,
                         u stream) {
  py::gil_scoped_release release;
  if constexpr (std::is_same_v<F, float>)
    cuda::tree_reduce_up_f32(dev<const std::int32_t>(parent), dev<const F>(leaf_value),
                             dev<const F>(r), dev<const F>(g), dev<const F>(w),
                             dev<const F>(v_self), dev<const F>(w_self), static_cast<F>(T), op,
                             dev<const std::int64_t>(tree_ptr), B, M, dev<F>(out),
                             dev<std::int32_t>(iwork), stream);
  else
    cuda::tree_reduce_up_f64(dev<const std::int32_t>(parent), dev<const F>(leaf_value),
                             dev<const F>(r), dev<const F>(g), dev<const F>(w),
                             dev<const F>(v_self), dev<const F>(w_self), static_cast<F>(T), op,
                             dev<const std::int64_t>(tree_ptr), B, M, dev<F>(out),
                             dev<std::int32_t>(iwork), stream);
}

void cuda_tree_prefix_advantages_f64(u parent, u leaf_reward, u is_leaf, int mode,
                                     bool leave_one_out, bool sqrt_scale, double eps,
                                     u tree_ptr, std::int64_t B, std::int64_t M, u out, u iwork,
                                     u fwork, u stream) {
  py::gil_scoped_release release;
  cuda::tree_prefix_advantages_f64(dev<const std::int32_t>(parent), dev<const double>(leaf_reward),
                                   dev<const std::uint8_t>(is_leaf), mode, leave_one_out,
                                   sqrt_scale, eps, dev<const std::int64_t>(tree_ptr), B, M,
                                   dev<double>(out), dev<std::int32_t>(iwork),
                                   dev<double>(fwork), stream);
}

void bind_cuda_trees(py::module_& m) {
  m.attr("cuda_tree_iwork_per_node") = cuda::tree_iwork_size(1);
  m.def("cuda_tree_backup_path_f32", &cuda_tree_backup_path<float>);
  m.def("cuda_tree_backup_path_f64", &cuda_tree_backup_path<double>);
  m.def("cuda_tree_reduce_up_f32", &cuda_tree_reduce_up<float>);
  m.def("cuda_tree_reduce_up_f64", &cuda_tree_reduce_up<double>);
  m.def("cuda_tree_prefix_advantages_f64", &cuda_tree_prefix_advantages_f64);
}
}  // namespace
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "creditlab compiled kernels (see csrc/scan.h). Call through creditlab.returns.";
  m.def("discounted_returns_f32", &discounted_returns<float>);
  m.def("discounted_returns_f64", &discounted_returns<double>);
  m.def("gae_f32", &gae<float>);
  m.def("gae_f64", &gae<double>);
  m.def("min_form_returns_f32", &min_form_returns<float>);
  m.def("min_form_returns_f64", &min_form_returns<double>);
  m.def("rtb_value_dp", &rtb_value_dp);
  m.def("rtb_bid", &rtb_bid);
  bind_trees(m);  // csrc/trees.h
  m.def("max_threads", &max_threads, "OpenMP threads the kernels may use (1 without OpenMP).");
#if defined(_OPENMP)
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
#if defined(CREDITLAB_HAVE_CUDA)
  m.attr("built_with_cuda") = true;
  m.def("cuda_device_count", &cuda::device_count, "Visible CUDA devices (0 without a driver).");
  bind_cuda_scan(m);    // csrc/cuda/scan.h
  bind_cuda_groups(m);  // csrc/cuda/groups.h
  bind_cuda_trees(m);   // csrc/cuda/trees.h
#else
  m.attr("built_with_cuda") = false;
  m.def("cuda_device_count", []() { return 0; });
#endif
}
