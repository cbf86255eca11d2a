"""Memory across attempts: rubric items an attempt left unmet (Chapter 10), and rewarded
experience across tasks (Chapter 21).

RubricEM (2026) keeps a bank of rubric feedback that a reflection policy writes and the
agent reads on later attempts. :class:`RubricMemory` is the smallest version of that
idea: per task, the items the judge reported unmet on the last attempt, so a retry can
keep what passed and redo what did not.

Agent K (Grosnit et al., 2024) keeps experience from earlier competitions and retrieves it
by the rewards it earned. :class:`ExperienceMemory` is the smallest version: each past task
leaves a key (a vector describing the task) and the configurations it tried with the reward
each earned; a new task retrieves the best-rewarded configurations of its nearest past tasks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab._backend import (
    bool_array,
    check_finite,
    check_int,
    number_array,
    to_numpy,
)

__all__ = ["ExperienceMemory", "RubricMemory"]


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


class ExperienceMemory:
    """Rewarded experience per past task, retrieved by task similarity and then by reward
    (Agent K-style; Agent K retrieves with an LLM from nested long- and short-term memories,
    here retrieval is k-nearest keys in Euclidean distance).

    Parameters
    ----------
    key_dim : int >= 1, the length of a task key
    config_dim : int >= 1, the length of a configuration

    Examples
    --------
    >>> mem = ExperienceMemory(2, 1)
    >>> mem.add([0.0, 0.0], [[0.1], [0.9]], [0.6, 0.8])
    >>> mem.retrieve([0.1, 0.0], n_tasks=1, top=1)[1]
    array([0.8])
    """

    def __init__(self, key_dim: int, config_dim: int) -> None:
        self.key_dim = check_int(key_dim, "key_dim", 1)
        self.config_dim = check_int(config_dim, "config_dim", 1)
        self._keys: list[np.ndarray] = []
        self._configs: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._keys)

    def _key(self, key: Any) -> np.ndarray:
        k = check_finite(number_array(key, "key"), "key")
        if k.shape != (self.key_dim,):
            raise ValueError(f"key must have shape ({self.key_dim},), got {k.shape}")
        return k.copy()

    def add(self, key: Any, configs: Any, rewards: Any) -> None:
        """Store one finished task: its ``key [key_dim]``, the ``configs [n, config_dim]`` it
        tried and the ``rewards [n]`` they earned (known only once the task is scored)."""
        k = self._key(key)
        c = check_finite(number_array(configs, "configs"), "configs")
        if c.ndim != 2 or c.shape[1] != self.config_dim or c.shape[0] == 0:
            raise ValueError(f"configs must have shape (n >= 1, {self.config_dim}), got "
                             f"{c.shape}")
        r = check_finite(number_array(rewards, "rewards"), "rewards")
        if r.shape != (len(c),):
            raise ValueError(f"rewards must have shape ({len(c)},) (one per config), got "
                             f"{r.shape}")
        self._keys.append(k)
        self._configs.append(c.copy())
        self._rewards.append(r.copy())

    def retrieve(self, key: Any, n_tasks: int = 3, top: int = 5, *,
                 standardize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The ``top`` best-rewarded configurations of each of the ``n_tasks`` past tasks
        whose keys are nearest to ``key`` (fewer if the memory holds fewer).

        With ``standardize``, each task's rewards are z-scored over all of that task's
        entries first, :math:`(r - \\bar r_j)/s_j` (:math:`s_j = 1` if they are all
        equal), so that tasks of different difficulty share one scale.

        Returns
        -------
        (configs [p, config_dim], rewards [p]) float64, p <= n_tasks * top; empty arrays
        when the memory is empty.
        """
        k = self._key(key)
        nt = check_int(n_tasks, "n_tasks", 1)
        tp = check_int(top, "top", 1)
        if not isinstance(standardize, (bool, np.bool_)):
            raise TypeError(f"standardize must be a bool, got {type(standardize).__name__}")
        if not self._keys:
            return np.zeros((0, self.config_dim)), np.zeros(0)
        d = np.linalg.norm(np.stack(self._keys) - k, axis=1)
        near = np.argsort(d, kind="stable")[:nt]
        cs, rs = [], []
        for j in near:
            r = self._rewards[j]
            if standardize:
                sd = r.std()
                r = (r - r.mean()) / (sd if sd > 0 else 1.0)
            order = np.argsort(-r, kind="stable")[:tp]
            cs.append(self._configs[j][order])
            rs.append(r[order])
        return np.concatenate(cs), np.concatenate(rs)

    def clear(self) -> None:
        self._keys.clear()
        self._configs.clear()
        self._rewards.clear()
