r"""HiddenTargetClutter: find a target hidden under clutter by pushing, then grasp it.

The tabular stand-in of Chapter 20 for "A Deep Learning Approach to Grasping the Invisible"
(Yang et al. 2020): a ``size x size`` grid (8 x 8 by default) where each cell is covered by
clutter with probability ``p_clutter``; the target lies under one covered cell. At the
start the agent gets a *cue*, a noisy glimpse of the target's location (the paper's partly
visible target colour), as a prior over cells

.. math:: b_0(c) \propto \mathbb 1[c \text{ covered}]\,
          \exp\!\big(-\lVert c - (c^\star + \xi)\rVert^2 / (2\sigma^2)\big),
          \quad \xi \sim \mathcal N(0, \sigma^2 I),

with :math:`c^\star` the target cell and :math:`\sigma` = ``cue_sigma`` (cells).

Actions (one step each):

- ``push(c)``: clears the plus-shaped area :math:`R(c)` (``c`` and its 4 neighbours). If the
  target is in :math:`R(c)` it is seen with probability ``1 - miss`` (a miss leaves it
  unseen, but its cell is cleared all the same). Returns whether it was seen and the
  number of newly cleared cells (0: a redundant push).
- ``grasp(c)``: only at the seen target; it succeeds with probability (free neighbours of
  ``c``) / 4 (cells off the grid count as free): a grasp needs room for the fingers.
  Success ends the episode with reward 1.

The episode is truncated after ``horizon`` steps. Randomness: ``numpy.random.Generator``
seeded by ``seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creditlab._backend import check_int, check_positive, check_seed, check_unit_interval

__all__ = ["HiddenTargetClutter"]


class HiddenTargetClutter:
    """The hidden-target clutter grid (module docstring).

    Parameters
    ----------
    size : int >= 2
    p_clutter : float in [0, 1]
        Probability that a cell starts covered (the target's cell always is).
    cue_sigma : float > 0
        Noise of the cue and width of the prior, in cells.
    miss : float in [0, 1)
        Probability that a push over the target fails to show it.
    horizon : int >= 1
    seed : int >= 0, optional

    Attributes
    ----------
    covered : bool [size, size]
    target : tuple (row, col)
    seen : bool
    prior : float64 [size * size]
        The cue's prior :math:`b_0` (flattened row-major).
    t : int
        Steps taken.
    """

    def __init__(self, size: int = 8, p_clutter: float = 0.6, cue_sigma: float = 1.5,
                 miss: float = 0.0, horizon: int = 20, seed: int | None = None) -> None:
        self.size = check_int(size, "size", 2)
        self.p_clutter = check_unit_interval(p_clutter, "p_clutter")
        self.cue_sigma = check_positive(cue_sigma, "cue_sigma")
        self.miss = check_unit_interval(miss, "miss")
        if self.miss >= 1:
            raise ValueError(f"miss must be < 1, got {miss}")
        self.horizon = check_int(horizon, "horizon", 1)
        self.rng = np.random.default_rng(check_seed(seed))
        self.reset()

    def reset(self) -> np.ndarray:
        """A new episode; returns the prior ``[size * size]``."""
        n, rng = self.size, self.rng
        self.covered = rng.random((n, n)) < self.p_clutter
        self.target = (int(rng.integers(n)), int(rng.integers(n)))
        self.covered[self.target] = True
        cue = np.array(self.target) + rng.normal(0.0, self.cue_sigma, 2)
        r, c = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        w = np.exp(-((r - cue[0]) ** 2 + (c - cue[1]) ** 2) / (2 * self.cue_sigma ** 2))
        w = w * self.covered
        self.prior = (w / w.sum()).ravel()
        self.seen, self.done, self.t = False, False, 0
        return self.prior.copy()

    def area(self, cell: int) -> np.ndarray:
        """Flat indices of the plus-shaped area :math:`R(c)` of flat cell ``cell``."""
        n = self.size
        r, c = divmod(self._cell(cell), n)
        out = [(r, c)] + [(r + dr, c + dc) for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
                          if 0 <= r + dr < n and 0 <= c + dc < n]
        return np.array([i * n + j for i, j in out])

    def free_neighbours(self, cell: int) -> int:
        """Uncovered (or off-grid) 4-neighbours of ``cell``, 0..4."""
        n = self.size
        r, c = divmod(self._cell(cell), n)
        k = 0
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            i, j = r + dr, c + dc
            k += not (0 <= i < n and 0 <= j < n) or not self.covered[i, j]
        return k

    def _cell(self, cell: Any) -> int:
        if isinstance(cell, bool) or not isinstance(cell, (int, np.integer)) or \
                not 0 <= cell < self.size ** 2:
            raise ValueError(f"cell must be an int in 0..{self.size ** 2 - 1}, got {cell!r}")
        return int(cell)

    def _tick(self) -> None:
        if self.done:
            raise RuntimeError("the episode is over: call reset()")
        self.t += 1
        if self.t >= self.horizon:
            self.done = True

    def push(self, cell: int) -> tuple[bool, int]:
        """Push at ``cell``: returns (target seen now, newly cleared cells)."""
        R = self.area(cell)
        self._tick()
        flat = self.covered.reshape(-1)
        new = int(flat[R].sum())
        tgt = self.target[0] * self.size + self.target[1]
        if not self.seen and tgt in R and self.rng.random() >= self.miss:
            self.seen = True
        flat[R] = False
        return self.seen, new

    def grasp(self, cell: int) -> float:
        """Grasp at ``cell``: reward 1 on success (ends the episode), else 0."""
        k = self.free_neighbours(cell)
        self._tick()
        tgt = self.target[0] * self.size + self.target[1]
        if self.seen and cell == tgt and self.rng.random() < k / 4:
            self.done = True
            return 1.0
        return 0.0
