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
        The seeds the chapter was written with (e.g. ``[0, 1, 2]`` or ``range(5)``).

    Returns
    -------
    list of int
        ``CREDITLAB_SEEDS`` parsed as ``"5,6,7"`` if set (its length may differ from the
        default's), else ``list(default)``.
    """
    override = _parse("CREDITLAB_SEEDS")
    return override if override is not None else [int(s) for s in default]


def seed(default: int) -> int:
    """The chapter's single seed: ``default``, ``CREDITLAB_SEED``, or ``CREDITLAB_SEEDS[0]``.

    ``CREDITLAB_SEED`` wins when both variables are set.
    """
    one = _parse("CREDITLAB_SEED")
    if one is not None:
        if len(one) != 1:
            raise ValueError(f"CREDITLAB_SEED must be one integer, got {one}")
        return one[0]
    many = _parse("CREDITLAB_SEEDS")
    return many[0] if many is not None else int(default)
