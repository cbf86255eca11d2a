"""Returns: sum-form (discounted, GAE, lambda) and min-form, on one reverse-scan core.

All of them are the reverse recurrence ``x_t = a_t (*) x_{t+1} (+) b_t``: the affine
form (``*`` = times, ``+`` = plus) for sum-form returns, GAE and lambda-returns, and the
(min, +) form for min-form returns. The compiled kernels live in ``csrc/scan.h``; the
plain-Python loops they are tested against live in :mod:`creditlab.reference`.

Conventions
-----------
Arrays
    ``[B, T]`` (batch-major, time last) by default, as LLM RL pipelines use; pass
    ``time_dim=0`` for time-major ``[T, B]`` rollouts. A 1-D ``[T]`` array is one
    sequence. float32 or float64 (mixed inputs are promoted); flags and masks are bool.
    numpy in, numpy out; torch CPU tensor in, torch tensor out (``requires_grad`` inputs
    are detached). Inputs are never modified. ``out=`` writes into a caller's buffer;
    a buffer that shares memory with an input (``out=(adv, values)``) is allowed and
    gives the same result as a separate one (the kernel then writes into a temporary
    that is copied over). The two buffers of ``gae`` must not share memory with each
    other, and a torch ``out`` must not require grad (torch refuses that too).
CUDA
    torch CUDA tensors (all arguments on one device) run the CUDA kernels of
    ``csrc/cuda/scan.cu`` on the current stream, asynchronously, and return CUDA tensors;
    same arguments, checks and error messages. Results equal the CPU kernels up to float
    rounding (long rows are scanned in parallel, which reassociates the sums; min-form
    is exact).
Layout warning
    Rollouts from gymnasium's vector environments are time-major ``[T, N]``: pass
    ``time_dim=0``. Without it a ``[T, N]`` array is read as N steps of T sequences, and
    when ``values`` has the same shape nothing can tell the layouts apart: the result is
    silently wrong. (An extra bootstrap step in ``values``, ``[T + 1, N]``, would be
    caught.)
Episode ends
    ``terminated[t]``: step t ended in a terminal state, nothing is bootstrapped after it.
    ``truncated[t]``: step t hit a time limit; bootstrap from ``next_values[t]`` = V(s_{t+1})
    (so ``truncated`` needs ``next_values``). ``dones=`` treats every end as terminated,
    as CleanRL does; it drops the truncation bootstrap and biases values low.
    The end of the array is not an episode end: the last step bootstraps from
    ``bootstrap`` (one value per row; default 0) or ``next_values[..., -1]``.
CleanRL's ``dones``
    CleanRL stores ``dones[t]`` = "obs t is the first of a new episode", i.e. the done
    flag of step t - 1, and keeps the last step's flag in ``next_done``. Ours is the flag
    of step t itself, so shift it by one (time-major ``[T, N]``)::

        dones_ours = np.concatenate([dones[1:], next_done[None]], axis=0)
        values_ours = np.concatenate([values, next_value[None]], axis=0)  # [T + 1, N]
        adv, ret = gae(rewards, values_ours, gamma, lam, dones=dones_ours, time_dim=0)

    Passing CleanRL's buffer as it is cuts each episode one step late.
gymnasium vector environments (the recipe)
    Collect time-major ``[T, N]`` buffers and call with ``time_dim=0``. With
    ``autoreset_mode=SAME_STEP`` the observation returned by a step that ends an
    episode is already the next episode's first; the true last observation is in
    ``info["final_obs"]``. Record per step::

        obs, r, term, trunc, info = envs.step(action)
        nxt = obs.copy()
        done = term | trunc
        nxt[done] = np.stack(info["final_obs"][done])
        rewards[t], terminated[t], truncated[t] = r, term, trunc
        next_values[t] = V(nxt)          # V(s_{t+1}) of this episode

    then ``gae(rewards, values, gamma, lam, terminated=terminated, truncated=truncated,
    next_values=next_values, time_dim=0)`` with ``values[t] = V(obs_t)``. With the
    default ``NEXT_STEP`` mode the observation returned at an episode's last step is its
    true last one (use it for ``next_values[t]``), and the *next* step is a dummy: its
    action is ignored and it returns the reset observation with reward 0. Mark those
    steps ``response_mask[t] = False`` (the step after any ``term | trunc``): a masked
    step carries the recurrence through and is ignored, so the dummy steps change no
    advantage (their own outputs are meaningless; leave them out of the loss).
LLM sequences
    ``response_mask`` uses verl's "skip" semantics: a masked step (False) carries the
    recurrence through unchanged, and its reward and flags are ignored. Trailing padding
    therefore bootstraps 0 after the last token, and ``gae`` equals verl's
    ``compute_gae_advantage_return`` before whitening.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from creditlab import _cuda, reference
from creditlab._backend import (
    as_array,
    bool_array,
    check_real,
    check_unit_interval,
    compiled,
    dtype_of,
    float_array,
    is_torch,
    like,
    may_overlap,
)

__all__ = [
    "discounted_returns",
    "gae",
    "lambda_returns",
    "min_form_returns",
    "softmin_transform",
]


@dataclass
class _Batch:
    """Validated inputs: 2-D, contiguous, one float dtype, in the caller's layout."""

    template: Any
    squeeze: bool
    time_major: bool
    B: int
    T: int
    dtype: np.dtype
    arrays: dict[str, Any] = field(default_factory=dict)
    values_len: int = 0
    device: Any = None  # the CUDA device when the inputs are CUDA tensors, else None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.T, self.B) if self.time_major else (self.B, self.T)

    def batch_major(self, name: str) -> np.ndarray | None:
        """An input as [B, T] (a transposed view for time-major data)."""
        a = self.arrays.get(name)
        return a.T if (a is not None and self.time_major and a.ndim == 2) else a


def _describe_layout(ndim: int) -> str:
    return "[T]" if ndim == 1 else "[B, T] (time_dim=-1) or [T, B] (time_dim=0)"


def _prepare(
    rewards: Any,
    time_dim: int,
    *,
    floats: dict[str, Any] | None = None,
    flags: dict[str, Any] | None = None,
    values: Any = None,
    bootstrap: Any = None,
) -> _Batch:
    device = _cuda.cuda_device(
        {"rewards": rewards, **(floats or {}), **(flags or {}), "values": values,
         "bootstrap": bootstrap}
    )
    cuda = device is not None
    r = float_array(rewards, "rewards", allow_cuda=cuda)
    if r.ndim not in (1, 2):
        raise ValueError(
            f"rewards must be 1-D [T] or 2-D [B, T] / [T, B], got shape {tuple(r.shape)}"
        )
    if isinstance(time_dim, bool) or not isinstance(time_dim, (int, np.integer)):
        raise TypeError(f"time_dim must be an int, got {type(time_dim).__name__}")
    if r.ndim == 1:
        if time_dim not in (0, -1):
            raise ValueError(f"time_dim must be 0 or -1 for 1-D rewards, got {time_dim}")
        time_major = False
    else:
        if time_dim not in (0, 1, -1, -2):
            raise ValueError(
                f"time_dim must be one of 0, 1, -1, -2 for 2-D rewards, got {time_dim}"
            )
        time_major = time_dim in (0, -2)
    shape = tuple(r.shape)
    tax = 0 if (time_major or r.ndim == 1) else 1  # time axis in the caller's layout

    named_floats = {"rewards": r}
    for name, x in (floats or {}).items():
        if x is None:
            continue
        a = float_array(x, name, allow_cuda=cuda)
        if tuple(a.shape) != shape:
            raise ValueError(
                f"{name} must have the same shape as rewards {shape}, got {tuple(a.shape)}"
            )
        named_floats[name] = a
    v = None
    if values is not None:
        v = float_array(values, "values", allow_cuda=cuda)
        ok = [shape, tuple(n + (i == tax) for i, n in enumerate(shape))]
        if tuple(v.shape) not in ok:
            raise ValueError(
                f"values must have shape {ok[0]} or {ok[1]} (one extra time step, the "
                f"bootstrap value), got {tuple(v.shape)}; layout {_describe_layout(r.ndim)}"
            )
    boot = None
    if bootstrap is not None:
        boot = float_array(bootstrap, "bootstrap", allow_cuda=cuda)
        want = () if r.ndim == 1 else (shape[1 - tax],)
        if tuple(boot.shape) != want and not (r.ndim == 1 and tuple(boot.shape) == (1,)):
            raise ValueError(
                f"bootstrap must have shape {want} (one value per sequence), "
                f"got {tuple(boot.shape)}"
            )
    dtype = np.result_type(
        *(dtype_of(x) for x in (*named_floats.values(), v, boot) if x is not None)
    )

    squeeze = r.ndim == 1
    T = shape[tax]
    B = 1 if squeeze else shape[1 - tax]
    batch = _Batch(rewards, squeeze, time_major, B, T, dtype, device=device)

    def norm(a: Any, dt: Any) -> Any:
        if cuda:  # a copy only where the dtype or the strides differ; never in place
            a = a.to(_cuda.torch_dtype(dt)).contiguous()
        else:
            a = np.ascontiguousarray(a, dtype=dt)
        return a.reshape(1, -1) if squeeze else a

    for name, a in named_floats.items():
        batch.arrays[name] = norm(a, dtype)
    for name, x in (flags or {}).items():
        if x is None:
            batch.arrays[name] = None
            continue
        a = bool_array(x, name, allow_cuda=cuda)
        if tuple(a.shape) != shape:
            raise ValueError(
                f"{name} must have the same shape as rewards {shape}, got {tuple(a.shape)}"
            )
        batch.arrays[name] = norm(a, np.bool_)
    if v is not None:
        batch.arrays["values"] = norm(v, dtype)
        batch.values_len = v.shape[tax]
    if boot is not None:
        batch.arrays["bootstrap"] = norm(boot, dtype).reshape(B)
    return batch


def _out_buffer(out: Any, batch: _Batch, name: str = "out") -> tuple[Any, Any]:
    """(array to write into, object to return) for an ``out=`` argument or None.

    numpy arrays on the CPU path; CUDA tensors (on the inputs' device) on the CUDA path.
    """
    cuda = batch.device is not None
    full_shape = (batch.T,) if batch.squeeze else batch.shape
    if out is None:
        if cuda:
            t = _cuda.empty(full_shape, batch.dtype, batch.device)
            return t, t
        a = np.empty(full_shape, batch.dtype)
        return a, like(a, batch.template)
    if is_torch(batch.template) != is_torch(out):
        raise TypeError(f"{name} must be the same kind (numpy/torch) as rewards")
    if is_torch(out) and getattr(out, "requires_grad", False):
        raise ValueError(
            f"{name} requires grad: creditlab's kernels write into it outside autograd, "
            "which torch itself refuses for out= arguments; pass a buffer without "
            "requires_grad (or drop out= and use the returned tensor)"
        )
    if cuda:
        _cuda.common_device({"rewards": batch.template, name: out})
    a = as_array(out, name, allow_cuda=cuda)
    if dtype_of(a) != batch.dtype:
        raise TypeError(f"{name} must have dtype {batch.dtype}, got {dtype_of(a)}")
    if tuple(a.shape) != full_shape:
        raise ValueError(f"{name} must have shape {full_shape}, got {tuple(a.shape)}")
    if not (a.is_contiguous() if cuda else a.flags.c_contiguous and a.flags.writeable):
        raise ValueError(f"{name} must be a writeable C-contiguous array")
    return a, out


def _unalias(buf: Any, batch: _Batch, *others: Any) -> tuple[Any, Any]:
    """(buffer the kernel writes, caller's buffer to copy it into afterwards, or None).

    The kernels read their inputs while they write their outputs, so an ``out=`` buffer
    that shares memory with an input (``out=(adv, values)``, say) would be read after it
    was overwritten. Such a buffer is replaced by a fresh one, copied over at the end.
    """
    if buf is None:
        return None, None
    inputs = [a for a in batch.arrays.values() if a is not None]
    if not any(may_overlap(buf, a) for a in (*inputs, *others)):
        return buf, None
    if batch.device is not None:
        return _cuda.empty(tuple(buf.shape), batch.dtype, batch.device), buf
    return np.empty(buf.shape, batch.dtype), buf


def _copy_back(pairs: list[tuple[Any, Any]]) -> None:
    for fresh, target in pairs:
        if target is None:
            continue
        if is_torch(target):
            target.copy_(fresh)
        else:
            target[...] = fresh


# Family codes of the CUDA scan launchers (csrc/cuda/scan.h: ScanFamily).
_RETURNS, _GAE, _MIN_FORM = 0, 1, 2


def _cuda_scan(family: int, kernel: str, batch: _Batch, *args: Any) -> None:
    """Launch ``_C.cuda_<kernel>_f32/_f64(*args, workspace, bytes, stream)``.

    ``args`` are the kernel's arguments with tensors in place of pointers (None = absent);
    the device workspace for the chunk maps is allocated here on the current stream.
    """
    C = compiled()
    f64 = batch.dtype == np.float64
    fn = getattr(C, f"cuda_{kernel}_{'f64' if f64 else 'f32'}")
    ptrs = [_cuda.ptr(x) if is_torch(x) or x is None else x for x in args]
    with _cuda.on_device(batch.device):
        nbytes = C.cuda_scan_plan(family, f64, batch.B, batch.T, batch.time_major)[3]
        ws = _cuda.empty((nbytes,), np.uint8, batch.device) if nbytes else None
        fn(*ptrs, _cuda.ptr(ws), nbytes, _cuda.stream(batch.device))


def _as2d(a: np.ndarray, batch: _Batch) -> np.ndarray:
    return a.reshape(1, -1) if batch.squeeze else a


def _u8(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a.view(np.uint8)


def _merge_dones(
    dones: Any, terminated: Any, truncated: Any
) -> tuple[Any, Any]:
    if dones is None:
        return terminated, truncated
    if terminated is not None or truncated is not None:
        raise ValueError("pass either dones= or terminated=/truncated=, not both")
    return dones, None


def _check_episode_args(batch: _Batch) -> None:
    a = batch.arrays
    if a.get("truncated") is not None and a.get("next_values") is None:
        raise ValueError(
            "truncated needs next_values: a time-limit end bootstraps from V(s_{t+1}) of the "
            "final observation. Pass next_values=, or use terminated=/dones= to cut the "
            "return instead (biased)."
        )
    if a.get("next_values") is not None and a.get("bootstrap") is not None:
        raise ValueError("pass either next_values= or bootstrap=, not both")


def discounted_returns(
    rewards: Any,
    gamma: float,
    *,
    terminated: Any = None,
    truncated: Any = None,
    dones: Any = None,
    next_values: Any = None,
    bootstrap: Any = None,
    response_mask: Any = None,
    time_dim: int = -1,
    out: Any = None,
) -> Any:
    r"""Sum-form discounted returns ("rewards-to-go").

    .. math:: G_t = r_t + \gamma (1 - \mathrm{term}_t)\,
              [\mathrm{trunc}_t\; V(s_{t+1}) + (1 - \mathrm{trunc}_t)\, G_{t+1}]

    Introduced in book Part I, Chapter 1.

    Parameters
    ----------
    rewards : array [B, T] (or [T, B] with ``time_dim=0``, or [T]), float32/float64
    gamma : float in [0, 1]
    terminated, truncated, dones : bool arrays like ``rewards``, optional
        Episode ends; see the module docstring. ``dones`` is an alias that treats every
        end as terminated.
    next_values : float array like ``rewards``, optional
        V(s_{t+1}) for each step; read at truncated steps and at the last step.
    bootstrap : float array [B] (scalar for 1-D rewards), optional
        Value after the last step of each row; default 0.
    response_mask : bool array like ``rewards``, optional
        False marks steps to skip (verl semantics).
    time_dim : int
        Axis of time: -1/1 (default, [B, T]) or 0/-2 ([T, B]).
    out : array like ``rewards``, optional
        Buffer for the result (same kind, shape, dtype; C-contiguous).

    Returns
    -------
    array like ``rewards``
    """
    gamma = check_unit_interval(gamma, "gamma")
    terminated, truncated = _merge_dones(dones, terminated, truncated)
    batch = _prepare(
        rewards,
        time_dim,
        floats={"next_values": next_values},
        flags={"terminated": terminated, "truncated": truncated, "response_mask": response_mask},
        bootstrap=bootstrap,
    )
    _check_episode_args(batch)
    res, ret = _out_buffer(out, batch)
    res, target = _unalias(res, batch)
    a = batch.arrays
    C = compiled()
    if batch.device is not None:
        _cuda_scan(
            _RETURNS, "discounted_returns", batch, a["rewards"], a.get("next_values"),
            a.get("bootstrap"), a["terminated"], a["truncated"], a["response_mask"], gamma,
            res, batch.B, batch.T, batch.time_major,
        )
    elif C is not None:
        fn = C.discounted_returns_f32 if batch.dtype == np.float32 else C.discounted_returns_f64
        fn(
            a["rewards"], a.get("next_values"), a.get("bootstrap"), _u8(a["terminated"]),
            _u8(a["truncated"]), _u8(a["response_mask"]), gamma, _as2d(res, batch),
            batch.B, batch.T, batch.time_major,
        )
    else:
        g = reference.discounted_returns(
            batch.batch_major("rewards"), gamma,
            terminated=batch.batch_major("terminated"),
            truncated=batch.batch_major("truncated"),
            next_values=batch.batch_major("next_values"),
            bootstrap=a.get("bootstrap"),
            response_mask=batch.batch_major("response_mask"),
        )
        _store(res, g, batch)
    _copy_back([(res, target)])
    return ret


def _store(res: np.ndarray, result_bt: np.ndarray, batch: _Batch) -> None:
    """Write a [B, T] reference result into ``res`` (caller layout)."""
    if batch.squeeze:
        res[...] = result_bt.reshape(-1)
    elif batch.time_major:
        res[...] = result_bt.T
    else:
        res[...] = result_bt


def _gae_impl(
    rewards: Any, values: Any, gamma: float, lam: float, *, terminated: Any, truncated: Any,
    dones: Any, next_values: Any, bootstrap: Any, response_mask: Any, time_dim: int,
    want_adv: bool, out_adv: Any, out_ret: Any,
) -> tuple[Any, Any]:
    gamma = check_unit_interval(gamma, "gamma")
    lam = check_unit_interval(lam, "lam")
    if values is None:
        raise TypeError("values is required (V(s_t) for every step)")
    terminated, truncated = _merge_dones(dones, terminated, truncated)
    batch = _prepare(
        rewards,
        time_dim,
        floats={"next_values": next_values},
        flags={"terminated": terminated, "truncated": truncated, "response_mask": response_mask},
        values=values,
        bootstrap=bootstrap,
    )
    _check_episode_args(batch)
    a = batch.arrays
    if batch.values_len == batch.T + 1 and (
        a.get("bootstrap") is not None or a.get("next_values") is not None
    ):
        raise ValueError(
            "values has T+1 steps, so its last step is the bootstrap; do not also pass "
            "bootstrap= or next_values="
        )
    adv = ret_adv = None
    if want_adv:
        adv, ret_adv = _out_buffer(out_adv, batch, "out[0]" if out_ret is not None else "out")
    res, ret_ret = _out_buffer(out_ret, batch, "out[1]" if want_adv else "out")
    if adv is not None and may_overlap(adv, res):
        raise ValueError("out[0] (advantages) and out[1] (returns) must not share memory")
    adv, adv_target = _unalias(adv, batch)
    res, res_target = _unalias(res, batch)
    C = compiled()
    if batch.device is not None:
        _cuda_scan(
            _GAE, "gae", batch, a["rewards"], a["values"], batch.values_len,
            a.get("next_values"), a.get("bootstrap"), a["terminated"], a["truncated"],
            a["response_mask"], gamma, lam, adv, res, batch.B, batch.T, batch.time_major,
        )
    elif C is not None:
        fn = C.gae_f32 if batch.dtype == np.float32 else C.gae_f64
        fn(
            a["rewards"], a["values"], batch.values_len, a.get("next_values"), a.get("bootstrap"),
            _u8(a["terminated"]), _u8(a["truncated"]), _u8(a["response_mask"]), gamma, lam,
            None if adv is None else _as2d(adv, batch), _as2d(res, batch),
            batch.B, batch.T, batch.time_major,
        )
    else:
        A, G = reference.gae(
            batch.batch_major("rewards"), batch.batch_major("values"), gamma, lam,
            terminated=batch.batch_major("terminated"),
            truncated=batch.batch_major("truncated"),
            next_values=batch.batch_major("next_values"),
            bootstrap=a.get("bootstrap"),
            response_mask=batch.batch_major("response_mask"),
        )
        if adv is not None:
            _store(adv, A, batch)
        _store(res, G, batch)
    _copy_back([(adv, adv_target), (res, res_target)])
    return ret_adv, ret_ret


def _split_out(out: Any) -> tuple[Any, Any]:
    if out is None:
        return None, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("out must be a tuple (advantages_out, returns_out)")
    return out[0], out[1]


def gae(
    rewards: Any,
    values: Any,
    gamma: float,
    lam: float,
    *,
    terminated: Any = None,
    truncated: Any = None,
    dones: Any = None,
    next_values: Any = None,
    bootstrap: Any = None,
    response_mask: Any = None,
    time_dim: int = -1,
    out: Any = None,
) -> tuple[Any, Any]:
    r"""Generalised advantage estimation (Schulman et al. 2016, arXiv:1506.02438).

    .. math::
        \delta_t = r_t + \gamma (1 - \mathrm{term}_t) V^+_t - V_t, \qquad
        A_t = \delta_t + \gamma\lambda (1 - \mathrm{done}_t) A_{t+1}

    with :math:`\mathrm{done} = \mathrm{term} \lor \mathrm{trunc}` and
    :math:`V^+_t` = ``next_values[t]`` if given, else the value of the next step (the
    bootstrap after the last one). ``lam=1`` gives Monte-Carlo advantages
    (:func:`discounted_returns` minus values), ``lam=0`` the one-step TD error.
    Introduced in book Part I, Chapter 1.

    Time-major rollouts (gymnasium vector envs, ``[T, N]``) need ``time_dim=0``: with
    ``values`` of the same shape a missing ``time_dim`` cannot be detected and gives a
    wrong answer. See the module docstring for the vector-env recipe (``final_obs``,
    autoreset modes) and for converting CleanRL's ``dones``.

    Parameters
    ----------
    rewards : array [B, T] (or [T, B] with ``time_dim=0``, or [T]), float32/float64
    values : array like ``rewards``, or with one extra time step (the bootstrap value)
        V(s_t) for each step.
    gamma, lam : float in [0, 1]
    terminated, truncated, dones, next_values, bootstrap, response_mask, time_dim
        As in :func:`discounted_returns`. ``bootstrap`` and ``next_values`` are not
        allowed together with ``values`` of T+1 steps.
    out : tuple of two arrays like ``rewards``, optional
        Buffers for ``(advantages, returns)``.

    Returns
    -------
    advantages, returns : arrays like ``rewards``
        ``returns = advantages + values`` (the lambda-returns), computed before any
        whitening (see :func:`creditlab.masked_whiten`).
    """
    out_adv, out_ret = _split_out(out)
    return _gae_impl(
        rewards, values, gamma, lam, terminated=terminated, truncated=truncated, dones=dones,
        next_values=next_values, bootstrap=bootstrap, response_mask=response_mask,
        time_dim=time_dim, want_adv=True, out_adv=out_adv, out_ret=out_ret,
    )


def lambda_returns(
    rewards: Any,
    values: Any,
    gamma: float,
    lam: float,
    *,
    terminated: Any = None,
    truncated: Any = None,
    dones: Any = None,
    next_values: Any = None,
    bootstrap: Any = None,
    response_mask: Any = None,
    time_dim: int = -1,
    out: Any = None,
) -> Any:
    r"""TD(:math:`\lambda`) returns, :math:`G^\lambda_t = A^{GAE}_t + V_t`.

    Within an episode, :math:`G^\lambda_t = r_t + \gamma[(1-\lambda) V^+_t + \lambda
    G^\lambda_{t+1}]`: ``lam=1`` is the Monte-Carlo return (bootstrapped at the end),
    ``lam=0`` the one-step TD target. Same arguments as :func:`gae`; ``out`` is one
    array. Computed by the GAE kernel without writing the advantages.
    """
    return _gae_impl(
        rewards, values, gamma, lam, terminated=terminated, truncated=truncated, dones=dones,
        next_values=next_values, bootstrap=bootstrap, response_mask=response_mask,
        time_dim=time_dim, want_adv=False, out_adv=None, out_ret=out,
    )[1]


def min_form_returns(
    rewards: Any,
    *,
    terminated: Any = None,
    response_mask: Any = None,
    time_dim: int = -1,
    out: Any = None,
) -> Any:
    r"""Min-form returns: the smallest reward from each step to the end of its episode.

    .. math:: m_t = \min(r_t, m_{t+1}), \qquad m_t = r_t \text{ at terminated steps}

    PURE's min-form value (Cheng et al. 2025, "Stop Summation: Min-Form Credit
    Assignment Is All Process Reward Model Needs for Reasoning", arXiv:2504.15275): a
    trajectory is only as good as its worst step, so adding steps can never raise the
    value. It is the (min, +) reverse scan, the counterpart of :func:`discounted_returns`
    (undiscounted). NaN rewards propagate. With ``response_mask``, masked steps carry
    the minimum through; positions with no unmasked step at or after them get 0.
    Introduced in book Part I, Chapter 1; the subject of Part II.

    Parameters
    ----------
    rewards : array [B, T] (or [T, B] with ``time_dim=0``, or [T]), float32/float64
    terminated : bool array like ``rewards``, optional
    response_mask : bool array like ``rewards``, optional
    time_dim : int
    out : array like ``rewards``, optional

    Returns
    -------
    array like ``rewards``
    """
    batch = _prepare(
        rewards, time_dim, flags={"terminated": terminated, "response_mask": response_mask}
    )
    res, ret = _out_buffer(out, batch)
    res, target = _unalias(res, batch)
    a = batch.arrays
    C = compiled()
    if batch.device is not None:
        _cuda_scan(
            _MIN_FORM, "min_form_returns", batch, a["rewards"], a["terminated"],
            a["response_mask"], res, batch.B, batch.T, batch.time_major,
        )
    elif C is not None:
        fn = C.min_form_returns_f32 if batch.dtype == np.float32 else C.min_form_returns_f64
        fn(
            a["rewards"], _u8(a["terminated"]), _u8(a["response_mask"]), _as2d(res, batch),
            batch.B, batch.T, batch.time_major,
        )
    else:
        m = reference.min_form_returns(
            batch.batch_major("rewards"),
            terminated=batch.batch_major("terminated"),
            response_mask=batch.batch_major("response_mask"),
        )
        _store(res, m, batch)
    _copy_back([(res, target)])
    return ret


def softmin_transform(
    rewards: Any,
    temperature: float = 0.1,
    *,
    response_mask: Any = None,
    time_dim: int = -1,
) -> Any:
    r"""PURE's softmin reward transform, as released with the paper.

    .. math:: r^*_k = \frac{\exp(-r_k / T)}{\sum_j \exp(-r_j / T)}\, r_k

    over each sequence's unmasked steps (masked steps get 0). The sum of :math:`r^*`
    over a sequence is a soft minimum of its rewards: it tends to the minimum as
    ``temperature`` -> 0 and to the mean as ``temperature`` -> inf, so ordinary
    sum-form returns of :math:`r^*` approximate min-form credit assignment.

    Parameters
    ----------
    rewards : array [B, T] (or [T, B] with ``time_dim=0``, or [T]), float32/float64
    temperature : float > 0
    response_mask : bool array like ``rewards``, optional
    time_dim : int

    Returns
    -------
    array like ``rewards``
    """
    temperature = check_real(temperature, "temperature")
    if temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    batch = _prepare(rewards, time_dim, flags={"response_mask": response_mask})
    if batch.device is not None:
        raise ValueError(
            f"rewards is a torch tensor on device {batch.device}; softmin_transform has no "
            "CUDA kernel. Move it with .cpu() first."
        )
    out = np.empty(batch.shape, batch.dtype)
    _softmin_into(out.T if batch.time_major else out, batch.batch_major("rewards"),
                  batch.batch_major("response_mask"), temperature)
    return like(out.reshape(-1) if batch.squeeze else out, batch.template)


def _softmin_into(w: np.ndarray, r: np.ndarray, mask: np.ndarray | None, T: float) -> None:
    """:func:`creditlab.reference.softmin_transform` computed in the output buffer ``w``
    ([B, T] views): no temporaries of the output's size except one bool mask."""
    np.divide(r, -T, out=w)
    off = None if mask is None else ~mask
    if off is not None:
        np.copyto(w, -np.inf, where=off)
    zmax = w.max(axis=-1, keepdims=True, initial=-np.inf)
    zmax[~np.isfinite(zmax)] = 0
    np.subtract(w, zmax, out=w)
    np.exp(w, out=w)
    total = w.sum(axis=-1, keepdims=True)
    np.maximum(total, np.finfo(w.dtype).tiny, out=total)
    np.divide(w, total, out=w)
    np.multiply(w, r, out=w)
    if off is not None:
        np.copyto(w, 0, where=off)
