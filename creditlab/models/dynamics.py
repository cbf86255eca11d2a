r"""An ensemble of learned dynamics models: next state (Gaussian) and, optionally, next frame.

What model-based credit needs (Ch20: MOREC-style transition filters, world-model values;
Ch23: world-model rewards): :math:`M` independently initialised members, each predicting

.. math::
    s_{t+1} - s_t \sim \mathcal N(\mu_m(s_t, a_t), \mathrm{diag}\,\sigma_m^2(s_t, a_t)),

trained by Gaussian negative log-likelihood on its own bootstrap resample of the data
(PETS-style, Chua et al. 2018), inputs and targets standardised with the data's mean and
std. With ``frame_size`` each member also decodes the next frame :math:`\hat x_{t+1} \in
[0, 1]^{H \times W \times 3}` from :math:`(s_t, a_t)` (an MLP with a sigmoid output,
trained by MSE), a minimal action-conditioned frame predictor: with a few hundred steps
it learns the scene but blurs small moving objects (the 2-pixel PointReach agent), the
kind of error a learned pixel model makes. The members are evaluated
together with batched matrix products (no Python loop over members).

Disagreement (the std across members of the predicted means, averaged over dimensions) is
the usual epistemic-uncertainty signal; :meth:`DynamicsEnsemble.sample` draws a member per
row and then the Gaussian (what model rollouts and transition filters draw).

MOREC-style transition filter (Ch20; Luo et al. 2024, "Reward-Consistent Dynamics Models are
Strongly Generalizable for Offline Reinforcement Learning"): a *dynamics reward*
:math:`d(s, a, s')` separates real transitions from model-generated ones
(:class:`TransitionDiscriminator`), and :func:`filtered_step` draws :math:`N` candidate next
states from the ensemble and keeps the one with the highest :math:`d`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from creditlab._backend import check_int, check_real, check_seed
from creditlab.models.nets import as_tensor

__all__ = ["DynamicsEnsemble", "TransitionDiscriminator", "filtered_step"]


class _Linear(nn.Module):
    """``M`` linear maps applied member-wise: ``[M, B, i] -> [M, B, o]``."""

    def __init__(self, M: int, i: int, o: int) -> None:
        super().__init__()
        bound = 1.0 / np.sqrt(i)
        self.w = nn.Parameter(torch.empty(M, i, o).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.empty(M, 1, o).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.b, x, self.w)


class DynamicsEnsemble(nn.Module):
    """``n_members`` MLP dynamics models trained together (module docstring).

    Parameters
    ----------
    state_dim, act_dim : int >= 1
    n_members : int >= 1
    hidden, layers : int >= 1
        Each member's trunk (SiLU units).
    frame_size : int (16 or 32), optional
        Also predict the next frame ``[frame_size, frame_size, 3]``.
    seed : int >= 0, optional
    """

    def __init__(self, state_dim: int, act_dim: int, n_members: int = 5, hidden: int = 64,
                 layers: int = 2, frame_size: int | None = None,
                 seed: int | None = None) -> None:
        super().__init__()
        S, A = check_int(state_dim, "state_dim", 1), check_int(act_dim, "act_dim", 1)
        M = check_int(n_members, "n_members", 1)
        hidden, layers = check_int(hidden, "hidden", 1), check_int(layers, "layers", 1)
        if frame_size is not None and (isinstance(frame_size, bool) or
                                       frame_size not in (16, 32)):
            raise ValueError(f"frame_size must be None, 16 or 32, got {frame_size!r}")
        seed = check_seed(seed)
        if seed is not None:
            torch.manual_seed(seed)
        self.S, self.A, self.M, self.frame_size = S, A, M, frame_size
        dims = [S + A] + [hidden] * layers
        self.trunk = nn.ModuleList(_Linear(M, i, o) for i, o in zip(dims[:-1], dims[1:]))
        self.head = _Linear(M, hidden, 2 * S)
        self.frame_head = (_Linear(M, hidden, frame_size * frame_size * 3)
                           if frame_size else None)
        for k, d in (("in_mean", S + A), ("in_std", S + A), ("out_mean", S), ("out_std", S)):
            self.register_buffer(k, torch.zeros(d) if "mean" in k else torch.ones(d))

    def _check(self, states: Any, actions: Any) -> tuple[torch.Tensor, torch.Tensor]:
        s, a = as_tensor(states, "states"), as_tensor(actions, "actions")
        if s.ndim != 2 or s.shape[1] != self.S:
            raise ValueError(f"states must have shape [B, {self.S}], got {tuple(s.shape)}")
        if a.ndim != 2 or a.shape != (s.shape[0], self.A):
            raise ValueError(f"actions must have shape [{s.shape[0]}, {self.A}], got "
                             f"{tuple(a.shape)}")
        return s, a

    def _trunk(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        x = (torch.cat([s, a], -1) - self.in_mean) / self.in_std
        h = x.expand(self.M, *x.shape) if x.ndim == 2 else x
        for lin in self.trunk:
            h = torch.nn.functional.silu(lin(h))
        return h

    def forward(self, states: Any, actions: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted next-state mean and std, float32 ``[M, B, state_dim]`` each."""
        s, a = self._check(states, actions)
        out = self.head(self._trunk(s, a))
        mu, log_std = out[..., :self.S], out[..., self.S:].clamp(-6.0, 2.0)
        return s + self.out_mean + mu * self.out_std, log_std.exp() * self.out_std

    def predict_frames(self, states: Any, actions: Any) -> torch.Tensor:
        """Predicted next frames in [0, 1], float32 ``[M, B, H, W, 3]``."""
        if self.frame_head is None:
            raise ValueError("this ensemble has no frame head (frame_size=None)")
        s, a = self._check(states, actions)
        f = torch.sigmoid(self.frame_head(self._trunk(s, a)))
        return f.reshape(self.M, s.shape[0], self.frame_size, self.frame_size, 3)

    @torch.no_grad()
    def disagreement(self, states: Any, actions: Any) -> torch.Tensor:
        """Std across members of the predicted means, averaged over dimensions, ``[B]``."""
        mean, _ = self(states, actions)
        return mean.std(0, unbiased=False).mean(-1)

    @torch.no_grad()
    def sample(self, states: Any, actions: Any, seed: int | None = None) -> torch.Tensor:
        """One next state per row: a uniformly drawn member, then its Gaussian, ``[B, S]``."""
        g = torch.Generator().manual_seed(check_seed(seed) or 0)
        mean, std = self(states, actions)
        B = mean.shape[1]
        m = torch.randint(self.M, (B,), generator=g)
        r = torch.arange(B)
        return mean[m, r] + std[m, r] * torch.randn(mean[m, r].shape, generator=g)

    def fit(self, states: Any, actions: Any, next_states: Any, next_frames: Any = None, *,
            steps: int = 1000, batch_size: int = 256, lr: float = 3e-3,
            seed: int = 0) -> np.ndarray:
        """Train every member on its bootstrap resample; returns the loss per step ``[steps]``.

        Parameters
        ----------
        states, next_states : float [N, state_dim]
        actions : float [N, act_dim]
        next_frames : uint8 or float [N, H, W, 3], optional
            Targets of the frame head (uint8 scaled by 1/255).
        steps, batch_size : int >= 1
        lr : float > 0
        seed : int >= 0
            Bootstrap resamples and minibatches.
        """
        s, a = self._check(states, actions)
        s2 = as_tensor(next_states, "next_states")
        if s2.shape != s.shape:
            raise ValueError(f"next_states must have shape {tuple(s.shape)}, got "
                             f"{tuple(s2.shape)}")
        f2 = None
        if next_frames is not None:
            if self.frame_head is None:
                raise ValueError("next_frames given but this ensemble has no frame head")
            raw = next_frames
            f2 = as_tensor(next_frames, "next_frames")
            if tuple(f2.shape) != (len(s), self.frame_size, self.frame_size, 3):
                raise ValueError(f"next_frames must have shape [{len(s)}, {self.frame_size}, "
                                 f"{self.frame_size}, 3], got {tuple(f2.shape)}")
            if (raw.dtype == torch.uint8) if isinstance(raw, torch.Tensor) else \
                    np.asarray(raw).dtype.kind in "iu":
                f2 = f2 / 255.0
            f2 = f2.reshape(len(s), -1)
        steps, batch_size = check_int(steps, "steps", 1), check_int(batch_size, "batch_size", 1)
        lr = check_real(lr, "lr")
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        g = torch.Generator().manual_seed(check_seed(seed))
        x = torch.cat([s, a], -1)
        d = s2 - s
        self.in_mean.copy_(x.mean(0))
        self.in_std.copy_(x.std(0, unbiased=False).clamp_min(1e-6))
        self.out_mean.copy_(d.mean(0))
        self.out_std.copy_(d.std(0, unbiased=False).clamp_min(1e-6))
        N = len(s)
        boot = torch.randint(N, (self.M, N), generator=g)
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        losses = np.empty(steps)
        for k in range(steps):
            idx = boot.gather(1, torch.randint(N, (self.M, min(batch_size, N)), generator=g))
            h = self._trunk(s[idx], a[idx])
            out = self.head(h)
            mu, log_std = out[..., :self.S], out[..., self.S:].clamp(-6.0, 2.0)
            z = ((d[idx] - self.out_mean) / self.out_std - mu) * torch.exp(-log_std)
            loss = (0.5 * z * z + log_std).mean()
            if f2 is not None:
                pf = torch.sigmoid(self.frame_head(h))
                loss = loss + 10.0 * ((pf - f2[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[k] = loss.item()
        return losses


def _transition_input(states: Any, actions: Any, next_states: Any, S: int, A: int
                      ) -> torch.Tensor:
    s, a = as_tensor(states, "states"), as_tensor(actions, "actions")
    s2 = as_tensor(next_states, "next_states")
    if s.ndim != 2 or s.shape[1] != S:
        raise ValueError(f"states must have shape [B, {S}], got {tuple(s.shape)}")
    if a.shape != (s.shape[0], A):
        raise ValueError(f"actions must have shape [{s.shape[0]}, {A}], got {tuple(a.shape)}")
    if s2.shape != s.shape:
        raise ValueError(f"next_states must have shape {tuple(s.shape)}, got "
                         f"{tuple(s2.shape)}")
    return torch.cat([s, a, s2 - s], -1)


class TransitionDiscriminator(nn.Module):
    r"""A MOREC-style dynamics reward: a logistic discriminator of transitions.

    With :math:`x = (s, a, s' - s)` standardised (mean and std of the training rows) and
    :math:`\phi(x) = (x, \{x_i x_j\}_{i \le j})` its linear and quadratic terms,

    .. math:: d(s, a, s') = w^\top \phi(x) + b, \qquad
              D = \sigma(d) \approx P(\text{real} \mid s, a, s'),

    trained by logistic loss with real transitions as positives and model-generated ones as
    negatives (the GAIL discriminator, with the dynamics model as the "policy" that acts
    by choosing :math:`s'`). The logit :math:`d` is the dynamics reward.

    Departures from MOREC (hence "-style"): the discriminator is a quadratic form, not an
    MLP (a small function class whose level sets extrapolate the way linear dynamics do:
    the reason the filter helps off the data), it is fitted once against fixed negatives
    rather than alternated with the model in an adversarial loop, there is no
    ensemble of discriminators, and the negatives are whatever the caller passes: Chapter 20
    uses the model's next states for *another* action (another logged action, or one drawn
    uniformly) paired with the logged ``(s, a)``, and not GAIL/MOREC's model sample for the
    same ``(s, a)`` (with a model accurate on the data that sample is as real as the data,
    label noise that made the filter worse).

    Parameters
    ----------
    state_dim, act_dim : int >= 1
    seed : int >= 0, optional
    """

    def __init__(self, state_dim: int, act_dim: int, seed: int | None = None) -> None:
        super().__init__()
        self.S, self.A = check_int(state_dim, "state_dim", 1), check_int(act_dim, "act_dim", 1)
        seed = check_seed(seed)
        if seed is not None:
            torch.manual_seed(seed)
        d = 2 * self.S + self.A
        self.register_buffer("iu", torch.triu_indices(d, d))
        self.linear = nn.Linear(d + self.iu.shape[1], 1)
        self.register_buffer("x_mean", torch.zeros(d))
        self.register_buffer("x_std", torch.ones(d))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\phi(x)`: float32 ``[B, d + d(d+1)/2]`` from ``x`` ``[B, d]``."""
        z = (x - self.x_mean) / self.x_std
        return torch.cat([z, (z[:, :, None] * z[:, None, :])[:, self.iu[0], self.iu[1]]], 1)

    def forward(self, states: Any, actions: Any, next_states: Any) -> torch.Tensor:
        """The dynamics reward :math:`d(s, a, s')`, float32 ``[B]`` (higher: more real)."""
        x = _transition_input(states, actions, next_states, self.S, self.A)
        return self.linear(self.features(x)).squeeze(-1)

    def fit(self, states: Any, actions: Any, next_states: Any, fake_next_states: Any, *,
            steps: int = 300, lr: float = 0.03) -> np.ndarray:
        """Fit real ``(s, a, s')`` against ``(s, a, s_fake)``; returns the loss ``[steps]``.

        Parameters
        ----------
        states, next_states : float [N, state_dim]
        actions : float [N, act_dim]
        fake_next_states : float [K, N, state_dim] or [N, state_dim]
            K sets of negative next states, row ``i`` of each set paired with the logged
            ``(states[i], actions[i])`` (any negatives aligned with the rows: e.g. the model's
            next states for another action, as in Chapter 20, or for the same ``(s, a)``, as
            in GAIL/MOREC). The K sets are weighted so that positives and negatives count
            equally.
        steps : int >= 1
            Full-batch Adam steps.
        lr : float > 0
        """
        real = _transition_input(states, actions, next_states, self.S, self.A)
        f = as_tensor(fake_next_states, "fake_next_states")
        if f.ndim == 2:
            f = f[None]
        N = real.shape[0]
        if f.ndim != 3 or tuple(f.shape[1:]) != (N, self.S):
            raise ValueError(f"fake_next_states must have shape [K, {N}, {self.S}] or "
                             f"[{N}, {self.S}], got {tuple(f.shape)}")
        steps, lr = check_int(steps, "steps", 1), check_real(lr, "lr")
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        s, a = real[:, :self.S], real[:, self.S:self.S + self.A]
        fake = torch.cat([torch.cat([s, a, fk - s], -1) for fk in f])
        x = torch.cat([real, fake])
        self.x_mean.copy_(x.mean(0))
        self.x_std.copy_(x.std(0, unbiased=False).clamp_min(1e-6))
        phi = self.features(x)
        y = torch.cat([torch.ones(N), torch.zeros(len(fake))])
        w = torch.cat([torch.full((N,), float(len(f))), torch.ones(len(fake))])
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        losses = np.empty(steps)
        for k in range(steps):
            logit = self.linear(phi).squeeze(-1)
            loss = nn.functional.binary_cross_entropy_with_logits(logit, y, weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[k] = loss.item()
        return losses


@torch.no_grad()
def filtered_step(model: DynamicsEnsemble, reward_fn: Any, states: Any, actions: Any,
                  n_candidates: int = 8, seed: int | None = None) -> torch.Tensor:
    r"""MOREC-style transition filter: the most reward-consistent of N sampled next states.

    .. math:: s'_{1..N} \sim \hat P(\cdot \mid s, a), \qquad
              s' = s'_{j^\star}, \quad j^\star = \arg\max_j d(s, a, s'_j)

    (ties: the lowest :math:`j`). With ``n_candidates=1`` this is a plain model step
    (:meth:`DynamicsEnsemble.sample`).

    Parameters
    ----------
    model : DynamicsEnsemble
    reward_fn : callable ``(states [B, S], actions [B, A], next_states [B, S]) -> [B]``
        The dynamics reward (a :class:`TransitionDiscriminator`, or any callable).
    states : float [B, state_dim]
    actions : float [B, act_dim]
    n_candidates : int >= 1
    seed : int >= 0, optional
        The candidates' draws (0 if None).

    Returns
    -------
    torch.Tensor
        float32 ``[B, state_dim]``.
    """
    if not isinstance(model, DynamicsEnsemble):
        raise TypeError(f"model must be a DynamicsEnsemble, got {type(model).__name__}")
    if not callable(reward_fn):
        raise TypeError(f"reward_fn must be callable, got {type(reward_fn).__name__}")
    N = check_int(n_candidates, "n_candidates", 1)
    s, a = model._check(states, actions)
    B = s.shape[0]
    sr, ar = s.repeat_interleave(N, 0), a.repeat_interleave(N, 0)
    cand = model.sample(sr, ar, seed=seed)
    r = torch.as_tensor(reward_fn(sr, ar, cand), dtype=torch.float32).reshape(-1)
    if r.shape != (B * N,):
        raise ValueError(f"reward_fn must return [{B * N}] scores, got {tuple(r.shape)}")
    if not torch.isfinite(r).all():
        raise ValueError("reward_fn returned non-finite scores")
    j = r.reshape(B, N).argmax(1)
    return cand.reshape(B, N, -1)[torch.arange(B), j]
