r"""Token-level values of a frozen language model, fitted by TD(:math:`\lambda`) (Ch19).

:func:`fit_token_q` fits :math:`Q(s_t, a) = V(s_t \circ a)`, the expected final reward of
the frozen base policy :math:`\pi_0` after appending token :math:`a` to the prefix
:math:`s_t`, on samples of :math:`\pi_0` itself, VAS-style (Han et al. 2024): same
targets and loss as VAS's code, but :math:`Q(s, \cdot)` is read from one logits head instead
of running a value model on each extension :math:`s \circ a`. The reward sits on the last
response token, the targets are the :math:`\lambda`-returns of ``creditlab.lambda_returns``
(:math:`\gamma = 1`, :math:`\lambda = 0.95` by default) computed once per batch from the
current estimates, and the loss is
:math:`\tfrac12 \overline{(Q(s_t, y_t) - G^\lambda_t)^2}` over the response tokens for
``epochs`` passes. The Q model is a
:class:`~creditlab.models.TinyTextLM` whose logits head is read as the values of all
next tokens (one forward pass gives :math:`Q(s_t, \cdot)` for the whole vocabulary);
:func:`creditlab.planning.value_augmented_sample` decodes with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from creditlab._backend import (
    bool_array,
    check_finite,
    check_int,
    check_positive,
    check_unit_interval,
    number_array,
)
from creditlab.models.tinylm import TinyTextLM
from creditlab.returns import lambda_returns

__all__ = ["fit_token_q", "q_model", "token_q_targets"]


def q_model(base: TinyTextLM, *, seed: int = 0) -> TinyTextLM:
    """A fresh TinyTextLM with the base model's sizes and a zero logits head, to be read
    as :math:`Q(s, \\cdot)` (every value starts at 0)."""
    if not isinstance(base, TinyTextLM):
        raise TypeError(f"base must be a TinyTextLM, got {type(base).__name__}")
    c = base.config
    q = TinyTextLM(c["vocab_size"], embed=c["embed"], hidden=c["hidden"],
                   seed=check_int(seed, "seed", 0))
    with torch.no_grad():
        q.head.weight.zero_()
        q.head.bias.zero_()
    return q


def token_q_targets(rewards: Any, q_taken: Any, mask: Any, *, gamma: float = 1.0,
                    lam: float = 0.95) -> np.ndarray:
    r""":math:`\lambda`-return targets for :math:`Q(s_t, y_t)`, ``[B, T]`` float64.

    The sequence reward :math:`R_b` is placed on the last response token and
    ``creditlab.lambda_returns`` runs with the current estimates as values:

    .. math:: G^\lambda_t = r_t + \gamma\big[(1 - \lambda)\,Q(s_{t+1}, y_{t+1})
              + \lambda\,G^\lambda_{t+1}\big], \qquad G^\lambda_{T_b} = R_b

    (on-policy: the next token is the one :math:`\pi_0` drew, so this is
    SARSA(:math:`\lambda`), and :math:`\lambda = 1` is the Monte Carlo return :math:`R_b`).

    Parameters
    ----------
    rewards : float array [B]
    q_taken : float array [B, T]
        :math:`Q(s_t, y_t)` of the sampled tokens.
    mask : bool array [B, T]
        Response tokens (True up to and including EOS).
    gamma, lam : float in [0, 1]
    """
    m = np.asarray(bool_array(mask, "mask"))
    if m.ndim != 2:
        raise ValueError(f"mask must be a bool array [B, T], got shape {m.shape}")
    r = check_finite(number_array(rewards, "rewards"), "rewards")
    if r.shape != (len(m),):
        raise ValueError(f"rewards must have shape [B] = ({len(m)},), got {r.shape}")
    q = check_finite(number_array(q_taken, "q_taken"), "q_taken")
    if q.shape != m.shape:
        raise ValueError(f"q_taken must have the shape of mask {m.shape}, got {q.shape}")
    gamma = check_unit_interval(gamma, "gamma")
    lam = check_unit_interval(lam, "lam")
    last = np.where(m.any(1), m.shape[1] - 1 - np.argmax(m[:, ::-1], 1), 0)
    tok = np.zeros(m.shape)
    tok[np.arange(len(m)), last] = r * m.any(1)
    return np.asarray(lambda_returns(tok, np.where(m, q, 0.0), gamma, lam,
                                     response_mask=m)) * m


def fit_token_q(q: TinyTextLM, base: TinyTextLM, prompts: Sequence[Sequence[int]],
                reward_fn: Callable[[list[list[int]], torch.Tensor, torch.Tensor], Any], *,
                iterations: int = 100, batch_size: int = 128, max_len: int = 12,
                epochs: int = 2, lr: float = 3e-3, gamma: float = 1.0, lam: float = 0.95,
                seed: int = 0) -> np.ndarray:
    r"""Fit ``q`` in place to the token values of the frozen ``base`` by TD(:math:`\lambda`).

    Each iteration samples ``batch_size`` prompts from ``prompts`` and one response each
    from ``base``, scores them with ``reward_fn(prompts, responses, mask) -> [B]``, builds
    :func:`token_q_targets` from ``q``'s current estimates, and takes ``epochs`` Adam
    steps on :math:`\tfrac12\,\overline{(Q(s_t, y_t) - G^\lambda_t)^2}` (mean over the
    response tokens).

    Returns
    -------
    np.ndarray [iterations] float64
        The loss of the first epoch of each iteration.
    """
    for name, m in (("q", q), ("base", base)):
        if not isinstance(m, TinyTextLM):
            raise TypeError(f"{name} must be a TinyTextLM, got {type(m).__name__}")
    if q is base:
        raise ValueError("q must be a separate model from base (base stays frozen)")
    if q.vocab_size != base.vocab_size:
        raise ValueError(f"q must have the base vocabulary ({base.vocab_size}), got "
                         f"{q.vocab_size}")
    if not callable(reward_fn):
        raise TypeError(f"reward_fn must be callable, got {type(reward_fn).__name__}")
    pool = [list(map(int, p)) for p in prompts]
    if not pool:
        raise ValueError("prompts must hold at least one prompt")
    iterations = check_int(iterations, "iterations", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    max_len = check_int(max_len, "max_len", 1)
    epochs = check_int(epochs, "epochs", 1)
    lr = check_positive(lr, "lr")
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    opt = torch.optim.Adam(q.parameters(), lr=lr)
    losses = np.empty(iterations)
    for it in range(iterations):
        batch = [pool[i] for i in rng.integers(0, len(pool), batch_size)]
        resp, _, mask = base.sample(batch, max_len, seed=int(rng.integers(2**31)))
        rew = np.asarray(reward_fn(batch, resp, mask), dtype=np.float64)
        with torch.no_grad():
            qt = q.logits(batch, resp).gather(-1, resp.unsqueeze(-1)).squeeze(-1)
        G = torch.as_tensor(token_q_targets(rew, qt, mask, gamma=gamma, lam=lam),
                            dtype=torch.float32)
        n_tok = mask.sum().clamp_min(1)
        for e in range(epochs):
            qt = q.logits(batch, resp).gather(-1, resp.unsqueeze(-1)).squeeze(-1)
            loss = 0.5 * (((qt - G) ** 2) * mask).sum() / n_tok
            opt.zero_grad()
            loss.backward()
            opt.step()
            if e == 0:
                losses[it] = float(loss.detach())
    return losses
