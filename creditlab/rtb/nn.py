"""RLB for long episodes (paper Sec. 4.1): approximate D(t, b) beyond the exact table.

The exact DP is solved for t <= T0. For longer episodes the paper proposes

- **RLB-NN**: a small network NN(t, b) ~ D(t, b), used everywhere (it must extrapolate
  in t);
- **MapD**: D(t, b) ~ NN(T0, b * T0 / t) for t > T0, i.e. the shadow price depends on the
  budget *rate* b / t only;
- **MapA**: a(t, b, theta) ~ a(T0, b * T0 / t, theta): the exact bid at the mapped state.

:func:`fit_d_network` fits the network (torch; 2 tanh layers of 30 and 15 units as in the
paper) to D / theta_avg on the exact table; :class:`DPolicy` bids with any D-function by
the closed form a = max{delta : theta >= sum_{k<=delta} D(t-1, b-k)}; :class:`MapA` needs
no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditlab.rtb.dp import RLBValue

__all__ = ["DNetwork", "DPolicy", "MapA", "fit_d_network"]


@dataclass
class DNetwork:
    """NN(t, b) ~ D(t, b): inputs (t/T0, b/B0, (b/t)/(B0/T0)), output D / theta_avg."""

    model: Any
    T0: int
    B0: int
    theta_avg: float
    rmse: float  # on held-out table entries, in units of theta_avg

    def __call__(self, t: np.ndarray, b: np.ndarray) -> np.ndarray:
        """D(t, b) for float arrays t >= 1, b >= 0 (any shape); float64, clipped at 0."""
        import torch

        t = np.maximum(np.asarray(t, dtype=np.float64), 1.0)
        b = np.maximum(np.asarray(b, dtype=np.float64), 0.0)
        x = np.stack([t / self.T0, b / self.B0, (b / t) / (self.B0 / self.T0)], -1)
        with torch.no_grad():
            y = self.model(torch.from_numpy(x.reshape(-1, 3)).float()).numpy()
        return np.maximum(y.reshape(t.shape), 0.0).astype(np.float64) * self.theta_avg


def fit_d_network(
    value: RLBValue, *, t_min: int = 20, n_points: int = 20_000, steps: int = 1500,
    lr: float = 1e-2, hidden: tuple[int, int] = (30, 15), seed: int = 0,
) -> DNetwork:
    """Fit NN(t, b) to the exact D(t, b) / theta_avg for t in [t_min, T0] (full batch, Adam).

    Returns a :class:`DNetwork` with the held-out RMSE (units of theta_avg).
    """
    import torch

    from creditlab._backend import check_int, check_real, check_seed

    T0, B0 = value.T, value.B
    t_min = check_int(t_min, "t_min", 0)
    n_points = check_int(n_points, "n_points", 1)
    steps = check_int(steps, "steps", 1)
    if check_real(lr, "lr") <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr}")
    seed = check_seed(seed)
    if t_min < 1 or t_min >= T0:
        raise ValueError(f"t_min must be in 1..T0-1 = {T0 - 1}, got {t_min}")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    t = rng.integers(t_min, T0 + 1, 2 * n_points)
    b = rng.integers(0, B0, 2 * n_points)
    y = value.D[t, b].astype(np.float64) / value.theta_avg
    x = np.stack([t / T0, b / B0, (b / t) / (B0 / T0)], -1)
    X, Y = torch.from_numpy(x).float(), torch.from_numpy(y).float()[:, None]
    model = torch.nn.Sequential(
        torch.nn.Linear(3, hidden[0]), torch.nn.Tanh(), torch.nn.Linear(hidden[0], hidden[1]),
        torch.nn.Tanh(), torch.nn.Linear(hidden[1], 1))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    tr, te = slice(0, n_points), slice(n_points, None)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(X[tr]) - Y[tr]) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        rmse = float(((model(X[te]) - Y[te]) ** 2).mean().sqrt())
    return DNetwork(model, T0, B0, value.theta_avg, rmse)


@dataclass
class DPolicy:
    """Closed-form RLB bid from a D-function ``d_fn(t, b)`` (vectorised).

    mode ``"nn"``: D(t, b) = d_fn(t, b) everywhere (RLB-NN). mode ``"mapd"``:
    D(t, b) = d_fn(T0, b * T0 / t) when t > T0 (MapD), else d_fn(t, b).
    """

    d_fn: Any
    T0: int
    max_price: int = 300
    mode: str = "nn"

    def __post_init__(self) -> None:
        from creditlab._backend import check_int

        if self.mode not in ("nn", "mapd"):
            raise ValueError(f"mode must be 'nn' or 'mapd', got {self.mode!r}")
        self.T0 = check_int(self.T0, "T0", 0)
        self.max_price = check_int(self.max_price, "max_price", 1)

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        t = np.asarray(t_left, dtype=np.float64)[:, None] - 1.0  # D(t-1, .)
        b = np.asarray(budget_left, dtype=np.float64)[:, None]
        k = np.arange(1, self.max_price + 1, dtype=np.float64)[None, :]
        bk = b - k
        if self.mode == "mapd":
            far = t > self.T0
            bk = np.where(far, bk * self.T0 / np.maximum(t, 1.0), bk)
            t = np.where(far, float(self.T0), t)
        D = np.where(t >= 1, self.d_fn(np.broadcast_to(t, bk.shape), np.maximum(bk, 0)), 0.0)
        valid = k <= b
        acc = np.cumsum(np.where(valid, D, 0.0), axis=1)
        ok = (np.asarray(pctr)[:, None] >= acc) & valid
        bad = ~ok
        return np.where(bad.any(1), np.argmax(bad, axis=1), self.max_price)


@dataclass
class MapA:
    """a(t, b, theta) = a(T0, b * T0 / t, theta) for t > T0, exact below (no network)."""

    value: RLBValue

    def __post_init__(self) -> None:
        if not isinstance(self.value, RLBValue):
            raise TypeError(f"value must be an RLBValue (from creditlab.rtb.value_dp), got "
                            f"{type(self.value).__name__}")

    def __call__(self, t_left: np.ndarray, budget_left: np.ndarray, pctr: np.ndarray):  # noqa: ANN204
        T0, B0 = self.value.T, self.value.B
        t = np.asarray(t_left, dtype=np.int64)
        b = np.asarray(budget_left, dtype=np.int64)
        far = t > T0
        bm = np.where(far, np.floor(b * T0 / np.maximum(t, 1)), b).astype(np.int64)
        tm = np.minimum(t, T0)
        a = self.value.bid(tm, np.minimum(bm, B0), pctr)
        return np.minimum(a, b)
