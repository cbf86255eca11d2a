"""CUDA plumbing: torch CUDA tensors reach ``creditlab._C`` by pointer.

The compiled module has no build-time dependency on torch. A public function that gets
CUDA tensors validates them here, allocates its outputs with torch on the input's
device, and passes raw device pointers (``tensor.data_ptr()``) and the current CUDA
stream (as an integer) to a ``_C.cuda_*`` entry point, which launches on that stream
and returns without synchronising, as torch's own kernels do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from creditlab import _backend
from creditlab._backend import is_cuda, is_torch

__all__ = [
    "any_cuda",
    "cuda_device",
    "empty",
    "to_device",
    "torch_dtype",
    "bool_tensor",
    "common_device",
    "float_tensor",
    "is_cuda",
    "on_device",
    "ptr",
    "require_cuda_build",
    "stream",
]


def any_cuda(*xs: Any) -> bool:
    """True if any argument is a CUDA tensor (None and non-tensors are ignored)."""
    return any(is_cuda(x) for x in xs)


def require_cuda_build(name: str, x: Any) -> Any:
    """The compiled module, or a RuntimeError saying why CUDA tensors cannot be used.

    Raised when creditlab was built without a CUDA compiler, when the pure-Python backend
    is active, or when no CUDA device is visible to the module.
    """
    C = _backend.compiled()
    if C is None:
        raise RuntimeError(
            f"{name} is a CUDA tensor ({x.device}) but the compiled backend is not active "
            f"(backend={_backend.active_backend()!r}); the pure-Python path takes CPU data. "
            "Move it with .cpu() or use the 'cpp' backend."
        )
    if not getattr(C, "built_with_cuda", False):
        raise RuntimeError(
            f"{name} is a CUDA tensor ({x.device}) but creditlab._C was built without CUDA "
            "(no nvcc found at install time, or CMAKE_ARGS=-DCREDITLAB_CUDA=OFF). Reinstall "
            "with a CUDA toolkit on PATH (`pip install -e .`), or move the data with .cpu()."
        )
    if C.cuda_device_count() == 0:
        raise RuntimeError(
            f"{name} is a CUDA tensor ({x.device}) but creditlab._C sees no CUDA device "
            "(driver missing or CUDA_VISIBLE_DEVICES hides it)."
        )
    return C


def common_device(args: dict[str, Any]) -> Any:
    """The one CUDA device shared by every tensor in ``args`` (None values are skipped).

    Raises a ValueError naming the first argument that is not a CUDA tensor on the same
    device as the first one (numpy arrays and CPU tensors included).
    """
    device = None
    first = None
    for name, x in args.items():
        if x is None:
            continue
        if not is_cuda(x):
            where = f"torch tensor on {x.device}" if is_torch(x) else type(x).__name__
            raise ValueError(
                f"{name} is a {where} but {first or 'another argument'} is on CUDA; pass all "
                "arrays on the same device"
            )
        if device is None:
            device, first = x.device, name
        elif x.device != device:
            raise ValueError(
                f"{name} is on {x.device} but {first} is on {device}; pass all arrays on the "
                "same device"
            )
    if device is None:
        raise ValueError("no CUDA tensor among the arguments")
    return device


def float_tensor(x: Any, name: str) -> Any:
    """``x`` detached, checked to be a float32/float64 CUDA tensor (TypeError naming ``name``)."""
    import torch

    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"{name} must have dtype float32 or float64, got {x.dtype}; cast with .float()"
        )
    return x.detach()


def bool_tensor(x: Any, name: str) -> Any:
    """``x`` detached, checked to be a bool CUDA tensor (TypeError naming ``name``)."""
    import torch

    if x.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a bool tensor, got {x.dtype}; convert a 0/1 mask with "
            f"`{name}.bool()`"
        )
    return x.detach()


def ptr(t: Any) -> int:
    """Device address of a contiguous tensor's first element, or 0 for None."""
    return 0 if t is None else int(t.data_ptr())


def stream(device: Any) -> int:
    """The current torch CUDA stream on ``device``, as the integer the kernels take."""
    import torch

    return int(torch.cuda.current_stream(device).cuda_stream)


@contextlib.contextmanager
def on_device(device: Any) -> Iterator[None]:
    """Make ``device`` current while kernels are launched (multi-GPU machines)."""
    import torch

    with torch.cuda.device(device):
        yield


def cuda_device(args: dict[str, Any]) -> Any:
    """None when no argument is a CUDA tensor; else their one CUDA device.

    Raises the errors of :func:`require_cuda_build` (RuntimeError: no CUDA build, python
    backend, no device) naming the first CUDA argument, then those of
    :func:`common_device` (ValueError: an argument on another device, numpy, CPU tensor).
    """
    first = next((name for name, x in args.items() if is_cuda(x)), None)
    if first is None:
        return None
    require_cuda_build(first, args[first])
    return common_device(args)


def torch_dtype(dtype: Any) -> Any:
    """The torch dtype of a numpy dtype (float32, float64, bool, uint8, int32, int64); a torch
    dtype is returned as is."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    return {
        np.dtype(np.float32): torch.float32,
        np.dtype(np.float64): torch.float64,
        np.dtype(np.bool_): torch.bool,
        np.dtype(np.uint8): torch.uint8,
        np.dtype(np.int32): torch.int32,
        np.dtype(np.int64): torch.int64,
    }[np.dtype(dtype)]


def empty(shape: tuple[int, ...], dtype: Any, device: Any) -> Any:
    """An uninitialised torch tensor on ``device``; ``dtype`` numpy or torch. Every tensor
    the CUDA paths allocate comes from here or :func:`to_device`."""
    import torch

    return torch.empty(shape, dtype=torch_dtype(dtype), device=device)


def to_device(a: Any, device: Any) -> Any:
    """A copy of the host numpy array ``a`` as a torch tensor on ``device``."""
    import torch

    return torch.from_numpy(a).to(device)
