r"""Returns and advantages over Parquet rollout logs with Ray Data.

Rollout logs larger than memory: a directory of Parquet files with one row per step,
naming each row's episode and its position in it (columns ``episode_id``, ``step``,
``reward``, and ``value`` for GAE; the names are arguments). The rows of an episode may
lie in any order and in any files.

:func:`episode_returns` (and :func:`returns_over_parquet`, which reads the files first)
sorts the dataset by episode (``Dataset.sort``: a range-partitioned shuffle, the one Ray's
own ``groupby(...).map_groups`` uses, which puts all rows with one key in one block), so an
episode is never split across blocks; then, per block, it orders the rows by
``(episode, step)`` and calls the creditlab kernel **once for the whole block**: the
block's episodes laid end to end as one sequence, with ``terminated`` set on each
episode's last step, so no return crosses an episode boundary (no padding). Each episode
is taken as complete: its last logged step ends it and nothing is bootstrapped after it.

The result is a lazy Ray Dataset with the input columns, ``return`` and, for GAE,
``advantage``; write it back with ``.write_parquet(dir)`` (not ``.to_pandas()``) when it
does not fit in memory. Running on a Ray cluster is the same call after
``ray.init(address="auto")``, with the logs on storage every node reads (README,
"Inside RL pipelines").

This module imports ray; nothing else in creditlab imports it (the ``creditlab[ray]``
extra installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import ray.data

import creditlab as cl

__all__ = ["KINDS", "block_returns", "episode_returns", "returns_over_parquet",
           "write_example_rollouts"]

KINDS = ("discounted", "gae", "lambda", "min_form")


def _check_kind(kind: str, gamma: float, lam: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    for name, x in (("gamma", gamma), ("lam", lam)):
        if not isinstance(x, (int, float)) or isinstance(x, bool) or not 0.0 <= x <= 1.0:
            raise ValueError(f"{name} must be a number in [0, 1], got {x!r}")


def block_returns(
    batch: dict[str, np.ndarray],
    *,
    kind: str = "discounted",
    gamma: float = 1.0,
    lam: float = 1.0,
    episode_col: str = "episode_id",
    step_col: str = "step",
    reward_col: str = "reward",
    value_col: str = "value",
) -> dict[str, np.ndarray]:
    r"""Returns for every episode of one block (all of each episode's rows are in it).

    The rows are ordered by ``(episode, step)`` and the kernel runs once over the block:

    ========== ========================================================================
    discounted :math:`G_t = r_t + \gamma G_{t+1}` (:func:`creditlab.discounted_returns`)
    gae        ``advantage`` :math:`A_t` and ``return`` :math:`A_t + V_t`
               (:func:`creditlab.gae`, no whitening)
    lambda     :math:`G^\lambda_t` (:func:`creditlab.lambda_returns`)
    min_form   :math:`m_t = \min(r_t, m_{t+1})` (:func:`creditlab.min_form_returns`)
    ========== ========================================================================

    with nothing bootstrapped after an episode's last step.

    Parameters
    ----------
    batch : dict of 1-D numpy arrays [N] (Ray Data's "numpy" batch format)
        ``episode_col`` (any sortable dtype), ``step_col`` (sortable), ``reward_col``
        (float32/float64), ``value_col`` for ``gae`` and ``lambda``.
    kind : {"discounted", "gae", "lambda", "min_form"}
    gamma, lam : float in [0, 1]

    Returns
    -------
    dict of 1-D arrays [N]
        The input columns ordered by ``(episode, step)``, plus ``return`` (and
        ``advantage`` for ``gae``) in the reward's float dtype.
    """
    _check_kind(kind, gamma, lam)
    need = [episode_col, step_col, reward_col] + ([value_col] if kind in ("gae", "lambda")
                                                  else [])
    for c in need:
        if c not in batch:
            raise ValueError(f"column {c!r} is missing (columns: {sorted(batch)})")
    n = len(batch[episode_col])
    if any(len(np.asarray(batch[c])) != n for c in batch):
        raise ValueError("every column must have one entry per row")
    ep, st = np.asarray(batch[episode_col]), np.asarray(batch[step_col])
    order = np.lexsort((st, ep))
    out = {c: np.asarray(v)[order] for c, v in batch.items()}
    if n == 0:
        out["return"] = np.zeros(0, np.float64)
        if kind == "gae":
            out["advantage"] = np.zeros(0, np.float64)
        return out
    ep = out[episode_col]
    r = out[reward_col]
    if r.dtype not in (np.float32, np.float64):
        r = r.astype(np.float64)
    terminated = np.empty(n, bool)
    terminated[:-1] = ep[1:] != ep[:-1]  # the last step of each episode
    terminated[-1] = True
    if kind == "discounted":
        out["return"] = cl.discounted_returns(r, gamma, terminated=terminated)
    elif kind == "min_form":
        out["return"] = cl.min_form_returns(r, terminated=terminated)
    else:
        v = out[value_col].astype(r.dtype, copy=False)
        if kind == "gae":
            out["advantage"], out["return"] = cl.gae(r, v, gamma, lam, terminated=terminated)
        else:
            out["return"] = cl.lambda_returns(r, v, gamma, lam, terminated=terminated)
    return out


def episode_returns(
    ds: ray.data.Dataset,
    *,
    kind: str = "discounted",
    gamma: float = 1.0,
    lam: float = 1.0,
    episode_col: str = "episode_id",
    step_col: str = "step",
    reward_col: str = "reward",
    value_col: str = "value",
    **map_kwargs: Any,
) -> ray.data.Dataset:
    """Returns (and advantages) for every episode of a Ray Dataset of steps.

    Sorts by ``episode_col`` (one episode never spans two blocks), then
    :func:`block_returns` once per block (``map_batches(batch_size=None)``).
    ``map_kwargs`` go to ``map_batches`` (e.g. ``num_cpus``, ``compute``).

    Returns
    -------
    ray.data.Dataset
        Lazy; the rows of each block ordered by ``(episode, step)``.
    """
    _check_kind(kind, gamma, lam)
    if not isinstance(ds, ray.data.Dataset):
        raise TypeError(f"ds must be a ray.data.Dataset, got {type(ds).__name__}")
    kw = dict(kind=kind, gamma=gamma, lam=lam, episode_col=episode_col, step_col=step_col,
              reward_col=reward_col, value_col=value_col)
    return ds.sort(episode_col).map_batches(
        block_returns, batch_size=None, batch_format="numpy", fn_kwargs=kw, **map_kwargs)


def returns_over_parquet(path: str | Path | list[str], **kwargs: Any) -> ray.data.Dataset:
    """:func:`episode_returns` over ``ray.data.read_parquet(path)`` (a file, a directory,
    a list of them, or cloud URIs such as ``s3://bucket/rollouts/``)."""
    if isinstance(path, Path):
        path = str(path)
    return episode_returns(ray.data.read_parquet(path), **kwargs)


def write_example_rollouts(
    path: str | Path,
    *,
    episodes: int = 1000,
    mean_steps: int = 50,
    files: int = 4,
    seed: int = 0,
) -> int:
    """Write a synthetic rollout log (for tests and benchmarks); returns its row count.

    Episode lengths are uniform in [1, 2 * mean_steps - 1]; rewards are float32 normal,
    values float32 normal. The rows are shuffled before they are split into ``files``
    Parquet files, so an episode's steps lie out of order in several files.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 2 * mean_steps, size=episodes)
    n = int(lengths.sum())
    ep = np.repeat(np.arange(episodes, dtype=np.int64), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    step = (np.arange(n) - starts).astype(np.int32)
    perm = rng.permutation(n)
    cols = {"episode_id": ep[perm], "step": step[perm],
            "reward": rng.normal(size=n).astype(np.float32)[perm],
            "value": rng.normal(size=n).astype(np.float32)[perm]}
    Path(path).mkdir(parents=True, exist_ok=True)
    for k, idx in enumerate(np.array_split(np.arange(n), files)):
        pq.write_table(pa.table({c: v[idx] for c, v in cols.items()}),
                       Path(path) / f"rollouts-{k:03d}.parquet")
    return n
