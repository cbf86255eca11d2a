"""Array plumbing shared by every public function: numpy / torch in, same kind out.

The public functions call :func:`to_numpy` on each argument (detaching torch tensors,
refusing other devices with a clear message), compute on numpy arrays, and call
:func:`like` to hand back the caller's kind. The compiled module ``creditlab._C`` is
used when it imported and the active backend is ``"cpp"``; otherwise the pure-Python
references in :mod:`creditlab.reference` run.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

# OpenMP threads sleep instead of spinning at barriers: the kernels run on shared
# machines where a spinning thread steals the core its partner needs (set before the
# OpenMP runtime loads; an explicit OMP_WAIT_POLICY wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from creditlab import _C  # type: ignore[attr-defined]
except ImportError as _err:  # no compiler at install time, or CREDITLAB_NO_EXT=1
    _C = None
    _IMPORT_ERROR: str | None = str(_err)
    warnings.warn(
        "creditlab._C is not available; using the pure-Python reference kernels "
        "(correct, slower). Reinstall with a C++ compiler for the fast path.",
        RuntimeWarning,
        stacklevel=2,
    )
else:
    _IMPORT_ERROR = None

_BACKENDS = ("cpp", "python")
_DEFAULT_BACKEND = os.environ.get("CREDITLAB_BACKEND", "cpp" if _C is not None else "python")
if _DEFAULT_BACKEND not in _BACKENDS:
    raise ValueError(
        f"CREDITLAB_BACKEND must be one of {_BACKENDS}, got {_DEFAULT_BACKEND!r}")
# The active backend is per thread and per asyncio task (a context variable): a
# ``use_backend`` block switches only the code that runs inside it.
_backend_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "creditlab_backend", default=_DEFAULT_BACKEND)

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def active_backend() -> str:
    """``"cpp"`` when calls go to ``creditlab._C``, ``"python"`` for the references."""
    return _backend_var.get()


def compiled() -> Any:
    """The compiled module if the active backend uses it, else ``None``."""
    return _C if _backend_var.get() == "cpp" else None


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run a block on one backend: ``"cpp"`` (compiled kernels) or ``"python"``.

    The choice is local to the current thread (and asyncio task): other threads keep
    their backend, and leaving the block restores this thread's previous one, however
    blocks in different threads interleave. New threads start on the default backend
    (``CREDITLAB_BACKEND``, else ``"cpp"`` when the compiled module imported).

    Examples
    --------
    >>> with creditlab.use_backend("python"):
    ...     adv, ret = creditlab.gae(r, v, 0.99, 0.95)
    """
    if name not in _BACKENDS:
        raise ValueError(f"name (the backend) must be one of {_BACKENDS}, got {name!r}")
    if name == "cpp" and _C is None:
        raise RuntimeError(f"the compiled backend is not available: {_IMPORT_ERROR}")
    token = _backend_var.set(name)
    try:
        yield
    finally:
        _backend_var.reset(token)


def backend_info() -> dict[str, Any]:
    """What was built and what is in use.

    Returns
    -------
    dict
        ``backend`` (``"cpp"`` or ``"python"``), ``compiled`` (whether ``creditlab._C``
        imported), ``import_error``, ``openmp``, ``threads``, ``built_with_cuda``,
        ``cuda_devices`` and ``torch`` (version string if torch is importable, else None).
    """
    info: dict[str, Any] = {
        "backend": _backend_var.get(),
        "compiled": _C is not None,
        "import_error": _IMPORT_ERROR,
        "openmp": bool(getattr(_C, "openmp", False)),
        "threads": _C.max_threads() if _C is not None else 1,
        "built_with_cuda": bool(getattr(_C, "built_with_cuda", False)),
        "cuda_devices": _C.cuda_device_count() if _C is not None else 0,
    }
    try:
        import importlib.metadata

        info["torch"] = importlib.metadata.version("torch")
    except Exception:
        info["torch"] = None
    return info


# --------------------------------------------------------------------------------------
# numpy / torch conversion


def is_torch(x: Any) -> bool:
    """True for a torch.Tensor (subclasses included), checked without importing torch: a
    tensor exists only once torch is imported."""
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy(x: Any, name: str) -> np.ndarray:
    """View ``x`` as a numpy array without copying when possible.

    torch tensors are detached (``requires_grad`` is fine) and must live on the CPU.
    Lists and scalars go through ``np.asarray``.
    """
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array; creditlab does not read masks from arrays (the "
            "mask would be ignored). Pass the data (np.ma.getdata / .filled(value)) and "
            "the mask as the function's mask argument (e.g. response_mask=~a.mask)"
        )
    if isinstance(x, np.ndarray):
        return _native(x)
    if is_torch(x):
        if x.device.type != "cpu":
            raise ValueError(
                f"{name} is a torch tensor on device {x.device}; creditlab's kernels take CPU "
                "tensors in this build (built_with_cuda="
                f"{backend_info()['built_with_cuda']}). Move it with .cpu() first."
            )
        return _detached(x, name).numpy()
    if hasattr(x, "__array__") or isinstance(x, (list, tuple, int, float, bool, np.generic)):
        return _native(np.asarray(x))
    raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")


def _native(a: np.ndarray) -> np.ndarray:
    """``a`` in the machine's byte order (a converted copy if it is byte-swapped, e.g. a
    big-endian ``>f8`` array read from a file): the kernels read native numbers."""
    if a.dtype.byteorder not in ("=", "|") and a.dtype.byteorder != _NATIVE:
        return a.astype(a.dtype.newbyteorder("=").type)  # the canonical native dtype
    return a


_NATIVE = "<" if sys.byteorder == "little" else ">"


def _detached(x: Any, name: str) -> Any:
    """A torch tensor detached, with lazy conj/neg resolved; half precision refused."""
    x = x.detach()
    if x.is_conj() or x.is_neg():
        x = x.resolve_conj().resolve_neg()
    if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
        raise TypeError(
            f"{name} has dtype {x.dtype}; creditlab kernels take float32 or float64. "
            "Cast with .float() first."
        )
    return x


def is_cuda(x: Any) -> bool:
    """True for a torch tensor on a CUDA device (checked without importing torch)."""
    if x is None or isinstance(x, np.ndarray):  # the common case, decided cheaply
        return False
    return is_torch(x) and x.device.type == "cuda"


def as_array(x: Any, name: str, *, allow_cuda: bool = False) -> Any:
    """:func:`to_numpy`, except that with ``allow_cuda`` a CUDA tensor is kept (detached).

    The validators below take either kind through this, so one set of checks and error
    messages serves the CPU and the CUDA paths.
    """
    if allow_cuda and is_cuda(x):
        return _detached(x, name)
    return to_numpy(x, name)


def dtype_of(a: Any) -> Any:
    """The numpy dtype of a numpy array or torch tensor (its name if numpy has none)."""
    if isinstance(a, np.ndarray):
        return a.dtype
    name = str(a.dtype).removeprefix("torch.")
    try:
        return np.dtype(name)
    except TypeError:
        return name


def may_overlap(a: Any, b: Any) -> bool:
    """Whether two numpy arrays or torch tensors may share memory (conservative).

    numpy arrays are compared with ``np.may_share_memory`` (bounds only, so a false
    positive is possible, never a false negative); torch tensors by the byte ranges of
    their storages. Arrays of different kinds never share memory here: the CPU path
    converts torch tensors to numpy views before calling this.
    """
    if a is None or b is None:
        return False
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return bool(np.may_share_memory(a, b))
    if is_torch(a) and is_torch(b):
        if a.device != b.device:
            return False
        if not (hasattr(a, "untyped_storage") and hasattr(b, "untyped_storage")):
            return a is b  # tensor-like stand-ins (tests) without storage information
        sa, sb = a.untyped_storage(), b.untyped_storage()
        a0, b0 = sa.data_ptr(), sb.data_ptr()
        return a0 < b0 + sb.nbytes() and b0 < a0 + sa.nbytes() and min(sa.nbytes(), sb.nbytes()) > 0
    return False


def like(result: np.ndarray, template: Any) -> Any:
    """Return ``result`` as the kind of ``template`` (torch tensor or numpy array)."""
    if is_torch(template):
        import torch

        return torch.from_numpy(result)
    return result


def float_array(x: Any, name: str, *, allow_cuda: bool = False) -> Any:
    """A float32/float64 numpy array, or a TypeError naming ``name``.

    With ``allow_cuda``, a CUDA tensor passes through (detached) under the same checks.
    """
    a = as_array(x, name, allow_cuda=allow_cuda)
    dt = dtype_of(a)
    if dt not in FLOAT_DTYPES:
        kind = getattr(dt, "kind", "")
        hint = " (cast integer data with .astype(np.float32))" if kind and kind in "iub" else ""
        raise TypeError(f"{name} must have dtype float32 or float64, got {dt}{hint}")
    return a


def bool_array(x: Any, name: str, *, allow_cuda: bool = False) -> Any:
    """A bool numpy array, or a TypeError naming ``name`` (CUDA tensors as in float_array)."""
    a = as_array(x, name, allow_cuda=allow_cuda)
    if dtype_of(a) != np.bool_:
        raise TypeError(
            f"{name} must be a bool array (numpy bool / torch.bool), got {dtype_of(a)}; "
            f"convert a 0/1 mask with `{name}.astype(bool)` or `{name}.bool()`"
        )
    return a


def number_array(x: Any, name: str) -> np.ndarray:
    """A float64 numpy array from int or float data (bool, strings, objects refused)."""
    a = to_numpy(x, name)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a numeric (int or float) array, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def check_finite(a: np.ndarray, name: str) -> np.ndarray:
    """``a`` itself, or a ValueError naming ``name`` if it holds NaN or inf."""
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return a


def int_array(x: Any, name: str) -> np.ndarray:
    """An integer numpy array, or a TypeError naming ``name``."""
    a = to_numpy(x, name)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {a.dtype}")
    return a


def check_int(value: Any, name: str, lo: int = 0) -> int:
    """``value`` as a Python int if it is an integer >= ``lo``; else an error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {lo}, got {type(value).__name__} "
                        f"{value!r}")
    if value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value}")
    return int(value)


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``seed`` itself if it is None or an int >= 0; else a ValueError/TypeError naming it."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 0 or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return int(seed)


def make_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """``np.random.default_rng(seed)`` for None, an int >= 0 or a Generator; else a
    ValueError/TypeError naming ``name``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 0, a numpy Generator or None, got "
                        f"{type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def check_real(value: Any, name: str) -> float:
    """A finite Python float from a number or 0-d array/tensor, or an error naming ``name``."""
    if is_torch(value) or isinstance(value, np.ndarray):
        if getattr(value, "ndim", 0) != 0:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v}")
    return v


def check_positive(value: Any, name: str) -> float:
    """A finite Python float > 0 (see :func:`check_real`), or an error naming ``name``."""
    v = check_real(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def check_nonnegative(value: Any, name: str) -> float:
    """A finite Python float >= 0 (see :func:`check_real`), or an error naming ``name``."""
    v = check_real(value, name)
    if v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return v


def check_unit_interval(value: Any, name: str) -> float:
    """A Python float in [0, 1], or a ValueError/TypeError naming ``name``."""
    try:
        v = check_real(value, name)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err} (expected a number in [0, 1])") from None
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be a finite number in [0, 1], got {v}")
    return v
