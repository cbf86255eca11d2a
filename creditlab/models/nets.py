r"""Small shared networks for control: an MLP, a tiny CNN encoder and a Gaussian policy.

One implementation for every chapter that trains on PointReach (Ch20, 22, 23): policies
for behaviour cloning and PPO (:mod:`creditlab.algos`), progress and reward heads on
frames, value heads. All run on one CPU core in milliseconds per batch.

- :class:`MLP` — ``in_dim -> hidden x layers -> out_dim`` with tanh (or ReLU) units;
- :class:`TinyCNN` — uint8 frames ``[B, H, W, 3]`` (16x16 or 32x32) to features
  ``[B, out_dim]``: two stride-2 3x3 convolutions (16, 32 channels) and a linear layer;
- :class:`GaussianPolicy` — a diagonal Gaussian :math:`\pi(a \mid o) = \mathcal N(\mu(o),
  \mathrm{diag}\,\sigma^2)`, :math:`\mu` an MLP (on CNN features for frames), a learned
  state-independent :math:`\log\sigma`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from creditlab._backend import check_int, check_real, check_seed

__all__ = ["MLP", "TinyCNN", "GaussianPolicy", "as_tensor"]


def as_tensor(x: Any, name: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``x`` (numpy array or tensor, finite numbers) as a tensor of ``dtype``.

    Raises a TypeError naming ``name`` for non-numeric data and a ValueError for NaN/inf.
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        if isinstance(x, np.ma.MaskedArray):
            raise TypeError(f"{name} must be a plain array, not a masked array")
        a = np.asarray(x)
        if a.dtype.kind not in "fiub" or a.dtype.kind == "b":
            raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("=")))
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in (
            torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
        raise TypeError(f"{name} must be a numeric array, got {t.dtype}")
    t = t.to(dtype)
    if t.is_floating_point() and not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return t


def _manual_seed(seed: Any) -> None:
    seed = check_seed(seed)
    if seed is not None:
        torch.manual_seed(seed)


class MLP(nn.Module):
    """A multilayer perceptron ``[B, in_dim] -> [B, out_dim]`` (float32).

    Parameters
    ----------
    in_dim, out_dim : int >= 1
    hidden : int >= 1
    layers : int >= 0
        Hidden layers (0: a linear map).
    activation : {"tanh", "relu"}
    seed : int >= 0, optional
        Seeds the initial weights (torch's global generator otherwise).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 64, layers: int = 2,
                 activation: str = "tanh", seed: int | None = None) -> None:
        super().__init__()
        in_dim, out_dim = check_int(in_dim, "in_dim", 1), check_int(out_dim, "out_dim", 1)
        hidden, layers = check_int(hidden, "hidden", 1), check_int(layers, "layers", 0)
        if activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
        _manual_seed(seed)
        act = nn.Tanh if activation == "tanh" else nn.ReLU
        mods: list[nn.Module] = []
        d = in_dim
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), act()]
            d = hidden
        mods.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*mods)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: Any) -> torch.Tensor:
        x = as_tensor(x, "x")
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"x must have last axis {self.in_dim}, got shape "
                             f"{tuple(x.shape)}")
        return self.net(x)


class TinyCNN(nn.Module):
    """Frames ``[B, H, W, 3]`` (uint8 0-255, or float in [0, 1]) -> features ``[B, out_dim]``.

    Conv(3 -> 16, 3x3, stride 2) - ReLU - Conv(16 -> 32, 3x3, stride 2) - ReLU - flatten -
    Linear(-> ``out_dim``) - ReLU. About 12k parameters at 16x16 and ``out_dim`` 32.

    Parameters
    ----------
    size : {16, 32}
        Frame side.
    out_dim : int >= 1
    seed : int >= 0, optional
    """

    def __init__(self, size: int = 16, out_dim: int = 32, seed: int | None = None) -> None:
        super().__init__()
        if isinstance(size, bool) or size not in (16, 32):
            raise ValueError(f"size must be 16 or 32, got {size!r}")
        out_dim = check_int(out_dim, "out_dim", 1)
        _manual_seed(seed)
        self.size, self.out_dim = int(size), out_dim
        self.conv = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(32 * (size // 4) ** 2, out_dim), nn.ReLU())

    def forward(self, frames: Any) -> torch.Tensor:
        raw = frames
        x = as_tensor(frames, "frames")
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.size, self.size, 3):
            raise ValueError(f"frames must have shape [B, {self.size}, {self.size}, 3], got "
                             f"{tuple(x.shape)}")
        integer = (raw.dtype == torch.uint8) if isinstance(raw, torch.Tensor) else \
            np.asarray(raw).dtype.kind in "iu"
        if integer:
            x = x / 255.0
        return self.head(self.conv(x.permute(0, 3, 1, 2)))


class GaussianPolicy(nn.Module):
    r"""A diagonal Gaussian policy :math:`\mathcal N(\mu_\theta(o), \mathrm{diag}\,
    e^{2\log\sigma})` on state vectors, or on frames through a :class:`TinyCNN`.

    Parameters
    ----------
    obs_dim : int >= 1
        State size (7 for PointReach); ignored with ``frames``.
    act_dim : int >= 1
    hidden, layers : ints
        The mean MLP.
    init_log_std : float
        Initial :math:`\log\sigma` (every action dimension).
    frames : int (16 or 32), optional
        Observations are frames of this side; a TinyCNN encodes them.
    seed : int >= 0, optional

    Notes
    -----
    Actions are unbounded samples; PointReach clips them to ``[-1, 1]``. Log-probabilities
    are those of the unclipped sample (what PPO's ratio needs).
    """

    def __init__(self, obs_dim: int = 7, act_dim: int = 2, hidden: int = 64,
                 layers: int = 2, init_log_std: float = -0.5, frames: int | None = None,
                 seed: int | None = None) -> None:
        super().__init__()
        obs_dim, act_dim = check_int(obs_dim, "obs_dim", 1), check_int(act_dim, "act_dim", 1)
        init_log_std = check_real(init_log_std, "init_log_std")
        _manual_seed(seed)
        self.encoder = TinyCNN(frames) if frames is not None else None
        d = self.encoder.out_dim if self.encoder is not None else obs_dim
        self.mean_net = MLP(d, act_dim, hidden, layers)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))
        self.obs_dim, self.act_dim = obs_dim, act_dim

    def features(self, obs: Any) -> torch.Tensor:
        """CNN features of frames, or the state vectors as float32 ``[B, obs_dim]``."""
        if self.encoder is not None:
            return self.encoder(obs)
        x = as_tensor(obs, "obs")
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape [B, {self.obs_dim}], got {tuple(x.shape)}")
        return x

    def forward(self, obs: Any) -> torch.distributions.Normal:
        """The action distribution (a ``torch.distributions.Normal``, batch ``[B, act]``)."""
        mu = self.mean_net(self.features(obs))
        return torch.distributions.Normal(mu, self.log_std.exp().expand_as(mu))

    def log_prob(self, obs: Any, actions: Any) -> torch.Tensor:
        """:math:`\\log\\pi(a \\mid o)` summed over action dimensions, float32 ``[B]``."""
        a = as_tensor(actions, "actions")
        dist = self(obs)
        if a.shape != dist.mean.shape:
            raise ValueError(f"actions must have shape {tuple(dist.mean.shape)}, got "
                             f"{tuple(a.shape)}")
        return dist.log_prob(a).sum(-1)

    @torch.no_grad()
    def act(self, obs: Any, deterministic: bool = False,
            generator: torch.Generator | None = None) -> np.ndarray:
        """Actions for a batch of observations, float32 numpy ``[B, act_dim]``."""
        dist = self(obs)
        if deterministic:
            return dist.mean.numpy()
        eps = torch.randn(dist.mean.shape, generator=generator)
        return (dist.mean + dist.stddev * eps).numpy()
