"""The chapters' seeds, in one place that an environment variable can override.

A chapter writes ``SEEDS = creditlab.seeds([0, 1, 2])`` (or ``SEED = creditlab.seed(0)``
when one seed drives it) instead of a literal list. Normally this returns the default;
the seed sweep (``make seeds``, ``tools/seed_sweep.py``) reruns a chapter on seeds it was
not written on by setting

- ``CREDITLAB_SEEDS=5,6,7,8,9``: replaces every seed list (any length), and
- ``CREDITLAB_SEED=5``: replaces the single seed (if only ``CREDITLAB_SEEDS`` is set,
  the single seed is its first entry).

A claim that holds only on the defaults is not a result: the sweep records every
assert of a chapter on such seeds and prints what would have failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from creditlab._backend import check_seed


def _parse(name: str) -> list[int] | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        out = [int(p) for p in text.replace(" ", ",").split(",") if p]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers, got {text!r}") from None
    if not out or any(s < 0 for s in out):
        raise ValueError(f"{name} must list non-negative integers, got {text!r}")
    return out


def seeds(default: Iterable[int]) -> list[int]:
    """The chapter's list of seeds: ``default``, or ``CREDITLAB_SEEDS`` when set.

    Parameters
    ----------
    default : iterable of int
        The seeds the chapter was written with (e.g. ``[0, 1, 2]`` or ``range(5)``): ints
        >= 0 of any size, else a ValueError / TypeError naming ``default``.

    Returns
    -------
    list of int
        ``CREDITLAB_SEEDS`` parsed as ``"5,6,7"`` if set (its length may differ from the
        default's), else ``list(default)``.
    """
    if isinstance(default, (str, bytes)) or not hasattr(default, "__iter__"):
        raise TypeError("default must be an iterable of int seeds >= 0, got "
                        f"{type(default).__name__}")
    items: Any = default.tolist() if hasattr(default, "tolist") else default  # array, tensor
    checked = [check_seed(s, "default") for s in items]
    if any(s is None for s in checked):
        raise TypeError("default must hold int seeds >= 0, got None")
    override = _parse("CREDITLAB_SEEDS")
    return override if override is not None else [int(s) for s in checked]


def seed(default: int) -> int:
    """The chapter's single seed: ``default``, ``CREDITLAB_SEED``, or ``CREDITLAB_SEEDS[0]``.

    ``CREDITLAB_SEED`` wins when both variables are set. ``default`` must be an int >= 0
    (any size); else a ValueError / TypeError naming it, whether or not a variable is set.
    """
    if check_seed(default, "default") is None:
        raise TypeError("default must be an int >= 0, got None")
    one = _parse("CREDITLAB_SEED")
    if one is not None:
        if len(one) != 1:
            raise ValueError(f"CREDITLAB_SEED must be one integer, got {one}")
        return one[0]
    many = _parse("CREDITLAB_SEEDS")
    return many[0] if many is not None else int(default)
