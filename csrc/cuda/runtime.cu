// Device queries for creditlab._C (see runtime.h).
#include "runtime.h"

#include <cuda_runtime.h>

#include "check.cuh"

namespace creditlab {
namespace cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later calls are not blamed
    return 0;
  }
  return n;
}

void check_last_error(const char* what) { check(cudaGetLastError(), what); }

}  // namespace cuda
}  // namespace creditlab
