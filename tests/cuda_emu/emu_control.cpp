// ctypes entry points that configure the CUDA emulator (see cuda_emu.h); compiled into the
// same shared object as the emulated kernels.
#include "cuda_emu.h"

extern "C" {

// The SM count the launchers' cudaDeviceGetAttribute sees. Each distinct count is its own
// "device", so a launcher that caches the count per device sees the new one.
int emu_set_sm_count(int n) {
  auto& S = emu::state();
  auto it = std::find(S.sms.begin(), S.sms.end(), n);
  if (it == S.sms.end()) {
    S.sms.push_back(n);
    it = S.sms.end() - 1;
  }
  S.device = int(it - S.sms.begin());
  return S.device;
}

// 0: threads run to their next barrier in thread order; 1: reverse order; 2: a random
// order per phase drawn from `seed`.
void emu_set_schedule(int kind, unsigned long long seed) {
  emu::state().schedule = kind;
  emu::state().seed = seed;
}

// Look-back fault injection (cuda_emu.h: withhold_inclusive); 0 turns it off.
void emu_set_withhold(long long n) { emu::state().withhold = n; }

const char* emu_launch_log() { return emu::state().log.c_str(); }
void emu_clear_log() { emu::state().log.clear(); }

// Number of bytes of __shared__ memory the emulated kernels declare and registered so far (poisoned per block).
long emu_shared_bytes() {
  long n = 0;
  for (const auto& r : emu::shared_regions()) n += long(r.n);
  return n;
}
}
