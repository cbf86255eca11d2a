"""Memory across attempts: a store of the rubric items an attempt left unmet (Chapter 10).

RubricEM (2026) keeps a bank of rubric feedback that a reflection policy writes and the
agent reads on later attempts. :class:`RubricMemory` is the smallest version of that
idea: per task, the items the judge reported unmet on the last attempt, so a retry can
keep what passed and redo what did not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab._backend import bool_array, check_int, to_numpy

__all__ = ["RubricMemory"]


class RubricMemory:
    """Unmet rubric items per task key, from the last recorded attempt.

    Parameters
    ----------
    item_shape : int or tuple of int
        Shape of one attempt's verdicts, e.g. ``(K, I)`` for ``K`` stages of ``I`` items.

    Examples
    --------
    >>> mem = RubricMemory((4, 2))
    >>> mem.record([7], np.ones((1, 4, 2), bool))  # all items met
    >>> mem.unmet([7]).any()
    False
    """

    def __init__(self, item_shape: Any) -> None:
        if isinstance(item_shape, (int, np.integer)):
            shape: tuple = (item_shape,)
        elif isinstance(item_shape, (tuple, list)):
            shape = tuple(item_shape)
        else:
            raise TypeError(f"item_shape must be an int or a tuple of ints, got "
                            f"{type(item_shape).__name__} {item_shape!r}")
        if not shape:
            raise ValueError("item_shape must have at least one dimension")
        self.item_shape = tuple(check_int(d, "item_shape", 1) for d in shape)
        self._store: dict[Any, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._store)

    def _keys(self, keys: Any) -> list:
        ks = to_numpy(np.asarray(keys), "keys")
        if ks.ndim != 1:
            raise ValueError(f"keys must be 1-D (one task key per attempt), got shape {ks.shape}")
        return ks.tolist()

    def record(self, keys: Any, met: Any) -> None:
        """Store, for each key, the items that ``met [n, *item_shape]`` (bool) marks False."""
        ks = self._keys(keys)
        m = to_numpy(bool_array(met, "met"), "met")
        if m.shape != (len(ks), *self.item_shape):
            raise ValueError(f"met must have shape {(len(ks), *self.item_shape)}, got {m.shape}")
        for k, row in zip(ks, m):
            self._store[k] = ~row.copy()

    def unmet(self, keys: Any) -> np.ndarray:
        """Unmet items of each key's last attempt, bool ``[n, *item_shape]`` (all False for a
        key never recorded)."""
        ks = self._keys(keys)
        out = np.zeros((len(ks), *self.item_shape), bool)
        for i, k in enumerate(ks):
            if k in self._store:
                out[i] = self._store[k]
        return out

    def clear(self) -> None:
        self._store.clear()
