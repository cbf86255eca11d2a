"""HyperGrid with an additive energy, for GFlowNets (Ch11).

States are points ``x in {0, ..., H-1}^D``; a trajectory starts at the origin and each step
either increments one coordinate (staying inside the grid) or stops, which makes the
current point a terminal object. The reward is ``R(x) = exp(-E(x))`` with an *additive*
energy ``E(x) = sum_d e(x_d)``, so every intermediate state has an exact energy, which is
what forward-looking GFlowNets (Pan et al. 2023, arXiv 2302.01687) use for local credit.
The default per-coordinate reward ``r(i) = exp(-e(i))`` puts ``2^D`` modes near the
corners, like the standard HyperGrid (Bengio et al. 2021), but as a product over
coordinates (the standard one is not additive in energy).

The target distribution ``R(x) / Z`` is computed exactly by enumerating the ``H^D``
states; :meth:`HyperGrid.terminal_distribution` computes the exact distribution over
terminal objects of a forward policy table by a forward pass over the DAG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditlab._backend import check_int

__all__ = ["HyperGrid", "coordinate_reward"]


def coordinate_reward(H: int) -> np.ndarray:
    """float64 [H]: ``r(i) = 0.1 + 0.5*1[|u - 1/2| > 1/4] + 2*1[0.3 < |u - 1/2| < 0.4]``
    with ``u = i / (H - 1)`` (the standard HyperGrid's R0, R1, R2 = 0.1, 0.5, 2 and
    thresholds, applied to one coordinate)."""
    H = check_int(H, "H", 2)
    u = np.abs(np.arange(H) / (H - 1) - 0.5)
    return 0.1 + 0.5 * (u > 0.25) + 2.0 * ((u > 0.3) & (u < 0.4))


@dataclass(frozen=True)
class HyperGrid:
    """A D-dimensional grid of side H with reward ``prod_d r(x_d)`` (additive energy).

    Parameters
    ----------
    H : int >= 2
    D : int >= 1
    r : float [H], optional
        Per-coordinate reward (> 0); default :func:`coordinate_reward`.

    Attributes (computed)
    ---------------------
    coords : int64 [S, D] the state of each index (row-major, S = H**D)
    energy : float64 [S] ``E(x) = -sum_d log r(x_d)``
    target : float64 [S] ``R(x) / Z``
    """

    H: int = 8
    D: int = 2
    r: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        H = check_int(self.H, "H", 2)
        D = check_int(self.D, "D", 1)
        if H**D > 1_000_000:
            raise ValueError(f"H**D = {H**D} states is too many to enumerate (limit 1e6)")
        r = coordinate_reward(H) if self.r is None else np.asarray(self.r, np.float64)
        if r.shape != (H,) or not np.all(np.isfinite(r)) or np.any(r <= 0):
            raise ValueError(f"r must hold {H} finite positive numbers, got {self.r!r}")
        object.__setattr__(self, "r", tuple(float(v) for v in r))

    @property
    def n_states(self) -> int:
        return self.H**self.D

    @property
    def n_actions(self) -> int:
        """D increments and the stop action (index D)."""
        return self.D + 1

    @property
    def coords(self) -> np.ndarray:
        return np.stack(np.unravel_index(np.arange(self.n_states), (self.H,) * self.D), 1)

    def index(self, x: np.ndarray) -> np.ndarray:
        """int64 [...]: state index of coordinates ``x`` [..., D]."""
        x = np.asarray(x)
        return np.ravel_multi_index(tuple(np.moveaxis(x, -1, 0)), (self.H,) * self.D)

    @property
    def energy(self) -> np.ndarray:
        return -np.log(np.asarray(self.r))[self.coords].sum(1)

    @property
    def target(self) -> np.ndarray:
        R = np.exp(-self.energy)
        return R / R.sum()

    def action_mask(self) -> np.ndarray:
        """bool [S, D+1]: allowed actions (an increment inside the grid; stop always)."""
        c = self.coords
        return np.concatenate([c < self.H - 1, np.ones((self.n_states, 1), bool)], 1)

    def n_parents(self) -> np.ndarray:
        """int64 [S]: number of parents of each state (coordinates > 0)."""
        return (self.coords > 0).sum(1)

    def terminal_distribution(self, pf: np.ndarray) -> np.ndarray:
        """float64 [S]: exact probability that the forward policy ``pf`` [S, D+1] stops at
        each state (a forward pass over states in order of coordinate sum)."""
        pf = np.asarray(pf, np.float64)
        if pf.shape != (self.n_states, self.n_actions):
            raise ValueError(f"pf must have shape [{self.n_states}, {self.n_actions}], got "
                             f"{pf.shape}")
        c = self.coords
        reach = np.zeros(self.n_states)
        reach[0] = 1.0
        stride = np.array([self.H ** (self.D - 1 - d) for d in range(self.D)])
        for s in np.argsort(c.sum(1), kind="stable"):
            for d in range(self.D):
                if c[s, d] < self.H - 1:
                    reach[s + stride[d]] += reach[s] * pf[s, d]
        return reach * pf[:, self.D]

    def sample(self, pf: np.ndarray, n: int, rng: np.random.Generator,
               max_len: int | None = None) -> dict[str, np.ndarray]:
        """Sample ``n`` trajectories from ``pf`` [S, D+1]; return their transitions, flat.

        ``max_len`` (optional) truncates each trajectory after that many steps, keeping
        only the steps taken before (a truncated trajectory has no terminating step).

        Returns
        -------
        dict with int64 ``s``, ``a``, ``s_next`` (``-1`` after stop), ``traj`` [N] and bool
        ``stop`` [N], and int64 ``last`` [n]: the last state of each trajectory.
        """
        n = check_int(n, "n", 1)
        mask = self.action_mask()
        stride = np.array([self.H ** (self.D - 1 - d) for d in range(self.D)] + [0])
        s = np.zeros(n, np.int64)
        alive = np.ones(n, bool)
        out: dict[str, list[np.ndarray]] = {k: [] for k in ("s", "a", "s_next", "traj", "stop")}
        T = self.D * (self.H - 1) + 1 if max_len is None else check_int(max_len, "max_len", 1)
        for _ in range(T):
            if not alive.any():
                break
            p = np.where(mask[s], pf[s], 0.0)
            cdf = np.cumsum(p, 1)
            a = np.minimum((rng.random((n, 1)) * cdf[:, -1:] > cdf).sum(1), self.D)
            stop = a == self.D
            nxt = np.where(stop, -1, s + stride[a])
            idx = np.flatnonzero(alive)
            for k, v in (("s", s), ("a", a), ("s_next", nxt), ("traj", np.arange(n)),
                         ("stop", stop)):
                out[k].append(v[idx])
            s = np.where(alive & ~stop, nxt, s)
            alive = alive & ~stop
        res = {k: np.concatenate(v) for k, v in out.items()}
        res["last"] = s
        return res
