// Host-side entry points of the CUDA part of creditlab._C, in plain C++ (no CUDA types),
// so that csrc/bindings.cpp can call them without including any CUDA header. Defined in
// csrc/cuda/*.cu; only compiled when CMake found a CUDA compiler (CREDITLAB_HAVE_CUDA).
#pragma once

#include <cstdint>

namespace creditlab {
namespace cuda {

// Number of visible CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();

// Throws std::runtime_error naming `what` when the last launch or an earlier asynchronous
// call on the current device failed. Cheap: it does not synchronise.
void check_last_error(const char* what);

}  // namespace cuda
}  // namespace creditlab
