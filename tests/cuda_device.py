"""The device the GPU test code runs on: a real NVIDIA GPU, or the CPU CUDA emulator.

tests/test_cuda_scan.py and the GPU section of tests/test_cuda_trees.py are written once
against :class:`Device` (``to``, ``is_on``, ``side_stream``, ``pick``) and run

* on a GPU, when ``creditlab._C`` was built with CUDA and a device is visible: the real
  kernels on CUDA tensors, at full sizes;
* on the emulator otherwise (tests/cuda_emu: the same csrc/cuda sources compiled by g++,
  kernels run block by block on the CPU): CPU torch tensors stand in for CUDA ones, the
  emulated module stands in for ``creditlab._C``, and the library's own dispatch
  (``creditlab/_cuda.py``) takes an :class:`EmulatedCudaTensor` for a CUDA tensor and
  allocates its outputs as such. Sizes and example counts
  are smaller (``pick``). So every CI run executes the code a GPU run will execute: the
  test logic, the Python dispatch, the bindings and the kernel source; what it cannot show
  is the hardware's behaviour (timing-dependent look-back orders, memory model, speed).

``CREDITLAB_CUDA_TESTS`` chooses: ``auto`` (default: GPU if usable, else emulator), ``gpu``
(fail when no GPU is usable: benchmarks/gpu_check.sh sets it, so a GPU run can never pass
on the emulator by accident), ``emulator``, or ``off`` (skip).

On the emulator each test must launch at least one kernel (:func:`check_launches`), so a
dispatch that silently fell back to the CPU kernels fails.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from creditlab import _backend, _cuda

torch = pytest.importorskip("torch")

CHOICE = os.environ.get("CREDITLAB_CUDA_TESTS", "auto")
if CHOICE not in ("auto", "gpu", "emulator", "off"):
    raise ValueError(f"CREDITLAB_CUDA_TESTS must be auto, gpu, emulator or off; got {CHOICE!r}")


def _gpu_usable() -> tuple[bool, str]:
    C = _backend._C
    built = bool(C is not None and getattr(C, "built_with_cuda", False))
    devices = C.cuda_device_count() if built else 0
    ok = built and devices > 0 and torch.cuda.is_available()
    return ok, (f"built_with_cuda={built}, cuda_devices={devices}, "
                f"torch.cuda.is_available()={torch.cuda.is_available()}")


GPU_OK, GPU_WHY = _gpu_usable()
# Decided at import (example counts and sizes are fixed when the test modules load).
KIND = {"auto": "gpu" if GPU_OK else "emulator", "gpu": "gpu", "emulator": "emulator",
        "off": "off"}[CHOICE]
ON_GPU = KIND == "gpu"


def pick(gpu: Any, emulator: Any) -> Any:
    """``gpu`` on a GPU, ``emulator`` on the emulator (sizes, repetitions, example counts)."""
    return gpu if ON_GPU else emulator


class Device:
    """What a test needs of the device: tensors on it, a check, a side stream."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.emulator: Any = None  # the Emulator while a module runs on it (activate)

    def to(self, x: Any) -> Any:
        """A device tensor holding a copy of the array ``x`` (None stays None)."""
        if x is None:
            return None
        t = torch.from_numpy(np.array(x, copy=True, order="C"))
        return t.to("cuda") if self.kind == "gpu" else t.as_subclass(EmulatedCudaTensor)

    def is_on(self, t: Any) -> bool:
        """``t`` is a tensor on this device (a result the library allocated there)."""
        if self.kind == "gpu":
            return isinstance(t, torch.Tensor) and t.is_cuda
        return isinstance(t, EmulatedCudaTensor)

    @contextlib.contextmanager
    def side_stream(self) -> Iterator[Any]:
        """Within: a new stream is current; yields it (``.synchronize()`` after use). The new
        stream first waits for the current one, so data copied before is complete there."""
        if self.kind == "gpu":
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                yield s
        else:
            yield _NoStream()


DEVICE = Device(KIND)


class EmulatedCudaTensor(torch.Tensor):
    """On the emulator, the stand-in for a CUDA tensor: a CPU tensor of this class, which the
    patched ``creditlab._cuda.is_cuda`` takes for a CUDA one. torch ops on it return this class
    (as ops on CUDA tensors stay on the device); ``.cpu()`` returns a plain copy, as a
    device-to-host copy does, so code that moves data to the host sees host data."""

    def cpu(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.as_subclass(torch.Tensor).clone()


def patch_creditlab(mp: pytest.MonkeyPatch, e: Any) -> None:
    """Point creditlab's CUDA path at the emulator ``e``: its module is ``_C``, an
    :class:`EmulatedCudaTensor` counts as a CUDA tensor, outputs and host-to-device copies
    are allocated as such; no streams, no device switching."""

    def is_cuda(x: Any) -> bool:
        return isinstance(x, EmulatedCudaTensor)

    mp.setattr(_backend, "_C", e.C)
    mp.setattr(_backend, "_backend_var", contextvars.ContextVar("creditlab_backend", default="cpp"))
    mp.setattr(_backend, "is_cuda", is_cuda)
    mp.setattr(_cuda, "is_cuda", is_cuda)
    mp.setattr(_cuda, "empty", lambda shape, dtype, device: torch.empty(
        shape, dtype=_cuda.torch_dtype(dtype)).as_subclass(EmulatedCudaTensor))
    mp.setattr(_cuda, "to_device", lambda a, device: torch.from_numpy(
        np.array(a, copy=True, order="C")).as_subclass(EmulatedCudaTensor))
    mp.setattr(_cuda, "on_device", lambda device: contextlib.nullcontext())
    mp.setattr(_cuda, "stream", lambda device: 0)


class _NoStream:
    def synchronize(self) -> None:
        pass


def _emulator() -> Any:
    sys.path.insert(0, str(Path(__file__).parent / "cuda_emu"))
    import emu_build

    if emu_build.compiler() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the CUDA tests on the emulator: no C++ compiler found")
        pytest.skip("no GPU and no C++ compiler (g++ or $CXX) to build the CUDA emulator")
    return emu_build.shared()


@contextlib.contextmanager
def activate() -> Iterator[Device]:
    """The device for one test module (a module-scoped autouse fixture wraps this); on the
    emulator, creditlab is patched for the module's duration."""
    if KIND == "off":
        pytest.skip("CREDITLAB_CUDA_TESTS=off")
    if KIND == "gpu":
        if not GPU_OK:
            pytest.fail(f"CREDITLAB_CUDA_TESTS=gpu but no usable GPU ({GPU_WHY})")
        yield DEVICE
        return
    e = _emulator()
    with pytest.MonkeyPatch.context() as mp:
        patch_creditlab(mp, e)
        e.set_sm_count(4)
        e.set_schedule(0)
        e.set_withhold(0)
        DEVICE.emulator = e
        try:
            yield DEVICE
        finally:
            DEVICE.emulator = None


@contextlib.contextmanager
def check_launches(item: pytest.Item) -> Iterator[None]:
    """Hook body (tests/conftest.py, around each test call): a test of a module that runs on
    the emulator must launch at least one kernel there; none means the dispatch fell back
    to the CPU kernels and the test compared the CPU with itself."""
    e = DEVICE.emulator if getattr(item.module, "DEVICE", None) is DEVICE else None
    if e is None:
        yield
        return
    e.launches()  # clear the log
    yield
    if not e.launches():
        raise AssertionError(f"{item.name} launched no kernel on the CUDA emulator")
