r"""A Cosmos-Policy-style joint model: action chunk, future state and value in one network.

Cosmos Policy (Kim et al. 2026) fine-tunes a video diffusion model so that latent frames
hold the action chunk, the future state and the value (expected return), and plans at test
time by sampling N action chunks, predicting each one's future state and value, and
executing the best. :class:`JointPolicyWorldValue` keeps the interface with small MLPs
(Chapter 20): for a state :math:`s` (float ``[S]``) and an action chunk
:math:`\mathbf a = (a_1, \dots, a_H)` (flattened, float ``[H A]``)

.. math::
    \pi(\mathbf a \mid s) = \mathcal N(\mu_\theta(s), \mathrm{diag}\, e^{2 \log\sigma}),
    \qquad \hat s_{+H} = s + f_\theta(s, \mathbf a), \qquad
    \hat V(s) = \sigma(v_\theta(s)) \approx P(\text{success soon} \mid s),

with one shared trunk over :math:`s` (the policy and value read it; the world head reads
it with the chunk). Trained jointly by Gaussian negative log-likelihood of the chunk, mean
squared error of the future state and binary cross-entropy of the value:
:math:`\mathcal L = \mathrm{NLL}_\pi + \lambda_s \mathrm{MSE} + \lambda_V \mathrm{BCE}`.

Departures (hence "-style"): MLP heads instead of a video diffusion model, a unimodal
Gaussian chunk policy instead of a diffusion sampler (so samples spread across modes of the
demonstrations instead of choosing one), and a value of the predicted future state
:math:`\hat V(\hat s_{+H})` as the planning score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from creditlab._backend import check_int, check_positive, check_seed
from creditlab.models.nets import as_tensor

__all__ = ["JointPolicyWorldValue"]


def _mlp(i: int, o: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, o))


class JointPolicyWorldValue(nn.Module):
    """Policy over action chunks, future-state model and value in one module (module docs).

    Parameters
    ----------
    state_dim, act_dim : int >= 1
    chunk : int >= 1
        Steps per action chunk :math:`H`.
    hidden : int >= 1
    init_log_std : float
    seed : int >= 0, optional
    """

    def __init__(self, state_dim: int, act_dim: int, chunk: int = 5, hidden: int = 64,
                 init_log_std: float = -1.0, seed: int | None = None) -> None:
        super().__init__()
        self.S, self.A = check_int(state_dim, "state_dim", 1), check_int(act_dim, "act_dim", 1)
        self.H = check_int(chunk, "chunk", 1)
        hidden = check_int(hidden, "hidden", 1)
        seed = check_seed(seed)
        if seed is not None:
            torch.manual_seed(seed)
        D = self.H * self.A
        self.trunk = nn.Sequential(nn.Linear(self.S, hidden), nn.SiLU())
        self.policy_head = nn.Linear(hidden, D)
        self.log_std = nn.Parameter(torch.full((D,), float(init_log_std)))
        self.world_head = _mlp(hidden + D, self.S, hidden)
        self.value_head = _mlp(hidden, 1, hidden)
        self.register_buffer("s_mean", torch.zeros(self.S))
        self.register_buffer("s_std", torch.ones(self.S))
        self.register_buffer("d_std", torch.ones(self.S))

    def _states(self, states: Any, name: str = "states") -> torch.Tensor:
        s = as_tensor(states, name)
        if s.ndim != 2 or s.shape[1] != self.S:
            raise ValueError(f"{name} must have shape [B, {self.S}], got {tuple(s.shape)}")
        return s

    def _chunks(self, chunks: Any, B: int) -> torch.Tensor:
        c = as_tensor(chunks, "chunks")
        if c.shape != (B, self.H * self.A):
            raise ValueError(f"chunks must have shape [{B}, {self.H * self.A}], got "
                             f"{tuple(c.shape)}")
        return c

    def _h(self, s: torch.Tensor) -> torch.Tensor:
        return self.trunk((s - self.s_mean) / self.s_std)

    def policy(self, states: Any) -> torch.distributions.Normal:
        """The chunk distribution, batch ``[B, H * A]``."""
        mu = self.policy_head(self._h(self._states(states)))
        return torch.distributions.Normal(mu, self.log_std.exp().expand_as(mu))

    def predict(self, states: Any, chunks: Any) -> torch.Tensor:
        """Predicted state after the chunk, float32 ``[B, S]``."""
        s = self._states(states)
        c = self._chunks(chunks, s.shape[0])
        return s + self.d_std * self.world_head(torch.cat([self._h(s), c], -1))

    def value_logit(self, states: Any) -> torch.Tensor:
        """:math:`v_\\theta(s)`, float32 ``[B]``."""
        return self.value_head(self._h(self._states(states))).squeeze(-1)

    @torch.no_grad()
    def value(self, states: Any) -> torch.Tensor:
        """:math:`\\hat V(s) = \\sigma(v_\\theta(s))` in (0, 1), float32 ``[B]``."""
        return torch.sigmoid(self.value_logit(states))

    @torch.no_grad()
    def sample_chunks(self, states: Any, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` chunks per state from the policy, float32 ``[B, n, H * A]``."""
        n = check_int(n, "n", 1)
        g = torch.Generator().manual_seed(check_seed(seed) or 0)
        dist = self.policy(states)
        eps = torch.randn((dist.mean.shape[0], n, dist.mean.shape[1]), generator=g)
        return dist.mean[:, None] + dist.stddev[:, None] * eps

    @torch.no_grad()
    def plan_scores(self, states: Any, chunks: Any) -> torch.Tensor:
        """:math:`\\hat V(\\hat s_{+H})` of each candidate chunk: ``chunks`` ``[B, n, H A]``
        -> float32 ``[B, n]``."""
        s = self._states(states)
        c = as_tensor(chunks, "chunks")
        if c.ndim != 3 or c.shape[0] != s.shape[0] or c.shape[2] != self.H * self.A:
            raise ValueError(f"chunks must have shape [{s.shape[0]}, n, {self.H * self.A}], "
                             f"got {tuple(c.shape)}")
        B, n = c.shape[:2]
        fut = self.predict(s.repeat_interleave(n, 0), c.reshape(B * n, -1))
        return self.value(fut).reshape(B, n)

    def fit(self, states: Any, chunks: Any, future_states: Any, value_states: Any,
            value_targets: Any, *, steps: int = 500, batch_size: int = 256, lr: float = 3e-3,
            world_weight: float = 1.0, value_weight: float = 1.0, seed: int = 0
            ) -> np.ndarray:
        """Joint fit; returns the total loss per step ``[steps]``.

        Parameters
        ----------
        states, future_states : float [N, S]
            Chunk starts and the states ``H`` steps later.
        chunks : float [N, H * A]
        value_states : float [M, S]
            States whose value is supervised.
        value_targets : float [M] in [0, 1]
            E.g. 1 if the task was done soon after that state.
        steps, batch_size : int >= 1
        lr, world_weight, value_weight : float > 0
        seed : int >= 0
        """
        s = self._states(states)
        c = self._chunks(chunks, s.shape[0])
        f = self._states(future_states, "future_states")
        if f.shape != s.shape:
            raise ValueError(f"future_states must have shape {tuple(s.shape)}, got "
                             f"{tuple(f.shape)}")
        vs = self._states(value_states, "value_states")
        vt = as_tensor(value_targets, "value_targets")
        if vt.shape != (vs.shape[0],):
            raise ValueError(f"value_targets must have shape [{vs.shape[0]}], got "
                             f"{tuple(vt.shape)}")
        if ((vt < 0) | (vt > 1)).any():
            raise ValueError("value_targets must lie in [0, 1]")
        steps, batch_size = check_int(steps, "steps", 1), check_int(batch_size, "batch_size", 1)
        lr = check_positive(lr, "lr")
        ww, vw = check_positive(world_weight, "world_weight"), \
            check_positive(value_weight, "value_weight")
        g = torch.Generator().manual_seed(check_seed(seed))
        allS = torch.cat([s, vs])
        self.s_mean.copy_(allS.mean(0))
        self.s_std.copy_(allS.std(0, unbiased=False).clamp_min(1e-6))
        self.d_std.copy_((f - s).std(0, unbiased=False).clamp_min(1e-6))
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        N, M = s.shape[0], vs.shape[0]
        losses = np.empty(steps)
        for k in range(steps):
            i = torch.randint(N, (min(batch_size, N),), generator=g)
            j = torch.randint(M, (min(batch_size, M),), generator=g)
            nll = -self.policy(s[i]).log_prob(c[i]).sum(-1).mean() / c.shape[1]
            mse = (((self.predict(s[i], c[i]) - f[i]) / self.d_std) ** 2).mean()
            bce = nn.functional.binary_cross_entropy_with_logits(self.value_logit(vs[j]), vt[j])
            loss = nll + ww * mse + vw * bce
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[k] = loss.item()
        return losses
