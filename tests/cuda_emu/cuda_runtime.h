// Stand-in for the CUDA toolkit's header when csrc/cuda/*.cu are compiled by g++ for the
// CPU emulator (tests/cuda_emu/emu_build.py puts this directory first on the include path).
#pragma once
#include "cuda_emu.h"
