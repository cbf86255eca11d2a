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

int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "creditlab compiled kernels (see csrc/scan.h). Call through creditlab.returns.";
  m.def("discounted_returns_f32", &discounted_returns<float>);
  m.def("discounted_returns_f64", &discounted_returns<double>);
  m.def("gae_f32", &gae<float>);
  m.def("gae_f64", &gae<double>);
  m.def("min_form_returns_f32", &min_form_returns<float>);
  m.def("min_form_returns_f64", &min_form_returns<double>);
  m.def("max_threads", &max_threads, "OpenMP threads the kernels may use (1 without OpenMP).");
#if defined(_OPENMP)
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
  m.attr("built_with_cuda") = false;
  m.def("cuda_device_count", []() { return 0; });
}
