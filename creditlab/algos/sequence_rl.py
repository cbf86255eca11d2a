"""Supervised pre-training and sequence-level RL (GRPO / RLOO / PPO-clip) for TinyTextLM.

:func:`sft_train` fits a :class:`~creditlab.models.TinyTextLM` to (prompt, response)
pairs by token-mean cross-entropy: the "SFT" start of Parts III-V.

:func:`train_seq_rl` is one readable loop, the shape of verl's GRPO/RLOO trainers at
toy size. One iteration:

1. draw ``n_prompts`` prompts, repeat each ``group_size`` times (``index`` = group id);
   sample responses with their log-probs and verl response masks (``model.sample``);
2. score them with ``reward_fn``: one score per response ``[B]`` (sequence level) or
   one reward per token ``[B, T]`` (token level);
3. credit (:func:`seq_advantages`), computed by the library, not here:
   sequence scores -> ``creditlab.advantages.grpo`` / ``rloo`` / ``dr_grpo``, broadcast
   over the response's tokens; token rewards -> ``creditlab.returns.discounted_returns``
   (rewards-to-go under the response mask) minus the group baseline of the whole
   return (``rloo`` / ``dr_grpo`` of :math:`G_0`); or, for PPO with a critic
   (``advantage="gae"``, a model built with ``value_head=True``),
   ``creditlab.returns.gae`` on the value head's estimates, the sequence score placed on
   the last response token, and a value loss toward the :math:`\\lambda`-returns;
4. ``epochs`` passes of the loss, token-mean over the masked tokens:

   .. math:: L = -\\frac{1}{\\sum m}\\sum_{b,t} m_{b,t}\\,
             \\min\\big(\\rho_{b,t} A_{b,t},\\ \\mathrm{clip}(\\rho_{b,t}, 1-\\epsilon,
             1+\\epsilon) A_{b,t}\\big) + \\beta_{KL}\\,\\overline{\\mathrm{KL}_t}

   with :math:`\\rho = \\pi_\\theta / \\pi_{old}` (``clip_eps=None``: the plain policy
   gradient :math:`\\rho A`, whose gradient at :math:`\\rho = 1` is REINFORCE's) and the
   per-token KL to a frozen reference (:func:`creditlab.models.kl`).

Everything is seeded (prompt draws, sampling); with ``torch.set_num_threads(1)`` the same
config gives the same curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from creditlab._backend import (
    check_finite,
    check_real,
    check_unit_interval,
    int_array,
    number_array,
)
from creditlab.advantages import dr_grpo, grpo, masked_whiten, rloo
from creditlab.models.tinylm import (
    KL_KINDS,
    TinyTextLM,
    ema_copy,
    kl,
    kl_penalty,
    pad_sequences,
)
from creditlab.returns import discounted_returns, gae

__all__ = [
    "SEQ_ADVANTAGES",
    "SeqRLConfig",
    "SeqRLResult",
    "checker_accuracy",
    "perplexity",
    "seq_advantages",
    "sft_train",
    "train_seq_rl",
]

#: advantage estimators of :func:`seq_advantages`
SEQ_ADVANTAGES = ("grpo", "rloo", "dr_grpo", "gae")


def _check_model(model: Any) -> None:
    if not isinstance(model, TinyTextLM):
        raise TypeError(f"model must be a TinyTextLM, got {type(model).__name__}")


def _pos_int(v: Any, name: str, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _pos_float(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) \
            or not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


# --------------------------------------------------------------------------------------
# supervised pre-training


def sft_train(model: TinyTextLM, prompts: Sequence[Sequence[int]],
              responses: Sequence[Sequence[int]], *, steps: int, batch_size: int = 64,
              lr: float = 3e-3, schedule: str = "constant", seed: int = 0) -> np.ndarray:
    r"""Supervised fine-tuning: Adam on the token-mean negative log-likelihood.

    .. math:: L = -\frac{1}{\sum m}\sum_{b,t} m_{b,t}\log\pi_\theta(y_{b,t}\mid x_b,
              y_{b,<t})

    over minibatches of ``batch_size`` pairs drawn with replacement (seeded).

    Parameters
    ----------
    model : TinyTextLM
        Trained in place.
    prompts, responses : ragged token ids [N][P_n], [N][T_n]
        Responses include their EOS (``corpus.encode`` appends it).
    steps, batch_size : int >= 1
    lr : float > 0
    schedule : {"constant", "cosine"}
        ``cosine``: the learning rate decays as :math:`lr\,(1 + \cos(\pi s / S))/2`
        over the ``steps`` (steadier ends for a fixed budget).
    seed : int

    Returns
    -------
    np.ndarray [steps] float64
        The loss of each step.
    """
    _check_model(model)
    steps = _pos_int(steps, "steps")
    batch_size = _pos_int(batch_size, "batch_size")
    lr = _pos_float(lr, "lr")
    _pos_int(seed, "seed", 0)
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    p, pm = pad_sequences(prompts, "prompts")
    r, rm = pad_sequences(responses, "responses")
    if len(p) != len(r):
        raise ValueError(f"prompts and responses must have the same length, got {len(p)} "
                         f"and {len(r)}")
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = np.empty(steps)
    model.train()
    for s in range(steps):
        if schedule == "cosine":
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1.0 + np.cos(np.pi * s / steps))
        idx = torch.as_tensor(rng.integers(0, len(p), size=batch_size))
        lp, m = model._logprobs_padded(p[idx], pm[idx], r[idx], rm[idx])
        loss = -lp.sum() / m.sum().clamp_min(1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses[s] = float(loss.detach())
    return losses


@torch.no_grad()
def perplexity(model: TinyTextLM, prompts: Sequence[Sequence[int]],
               responses: Sequence[Sequence[int]]) -> float:
    r"""Per-token perplexity of ``responses``: :math:`\exp(-\frac{1}{\sum m}\sum m\,\ell)`."""
    _check_model(model)
    lp, m = model.logprobs(prompts, responses)
    return float(torch.exp(-lp.sum() / m.sum().clamp_min(1)))


@torch.no_grad()
def checker_accuracy(model: TinyTextLM, corpus: Any, prompts: Sequence[Sequence[int]], *,
                     max_len: int, temperature: float = 0.0, seed: int = 0) -> float:
    """Fraction of ``prompts`` whose sampled response passes ``corpus.check``
    (``temperature=0``: greedy decoding, i.e. exact-match accuracy for the arithmetic
    corpus)."""
    _check_model(model)
    check_real(temperature, "temperature")
    if not hasattr(corpus, "check_batch"):
        raise TypeError("corpus must be a creditlab.models corpus (with check_batch)")
    r, _, m = model.sample(prompts, max_len, temperature=temperature, seed=seed)
    rows = [row[mk] for row, mk in zip(r, m)]
    return float(corpus.check_batch(list(prompts), rows).mean())


# --------------------------------------------------------------------------------------
# sequence RL


@dataclass(frozen=True)
class SeqRLConfig:
    r"""Settings of :func:`train_seq_rl`.

    Parameters
    ----------
    advantage : {"grpo", "rloo", "dr_grpo", "gae"}
        Group estimator (:mod:`creditlab.advantages`). With token-level rewards the
        baseline is the group's (leave-one-out for ``rloo``) mean return, and ``grpo`` is
        ``dr_grpo`` (no division by a std; set ``whiten`` instead). ``gae``: PPO with the
        model's value head (``creditlab.returns.gae``; needs ``value_head=True``).
    n_prompts, group_size : int
        Prompts per iteration and responses per prompt (``group_size >= 2``).
    iterations : int
    lr : float
        Adam learning rate.
    max_len : int
        Longest response sampled.
    temperature : float > 0
        Sampling temperature. Log-probs, ratios and the KL are those of the untempered
        policy (what ``model.logprobs`` gives); verl divides the logits by the sampling
        temperature instead, and at temperature 1 the two agree.
    top_k : int or None
    clip_eps : float or None
        PPO-clip's epsilon; None: plain policy gradient.
    epochs : int
        Passes over each batch (PPO reuses samples; the ratio then moves off 1).
    kl_coef : float >= 0
        Weight of the per-token KL to the reference (the model at the start, frozen).
    kl_kind : {"full", "k1", "k2", "k3", "abs"}
    gamma : float in [0, 1]
        Discount of token-level rewards.
    lam : float in [0, 1]
        GAE's lambda (``advantage="gae"``).
    vf_coef : float >= 0
        Weight of the value loss :math:`\overline{(V - G^\lambda)^2}` (``"gae"``).
    whiten : bool
        ``creditlab.advantages.masked_whiten`` the token advantages over the batch.
    eval_every : int
    seed : int
    stop_id : int
        The token that ends a sampled response (default EOS). Chapter 14 stops at
        ``</think>`` to sample only the chain of thought and scores the reference answer
        after it.
    """

    advantage: str = "grpo"
    n_prompts: int = 16
    group_size: int = 8
    iterations: int = 30
    lr: float = 1e-3
    max_len: int = 8
    temperature: float = 1.0
    top_k: int | None = None
    clip_eps: float | None = 0.2
    epochs: int = 1
    kl_coef: float = 0.0
    kl_kind: str = "k3"
    gamma: float = 1.0
    lam: float = 0.95
    vf_coef: float = 0.5
    whiten: bool = False
    eval_every: int = 10
    seed: int = 0
    stop_id: int = 2

    def __post_init__(self) -> None:
        if self.advantage not in SEQ_ADVANTAGES:
            raise ValueError(f"advantage must be one of {SEQ_ADVANTAGES}, got "
                             f"{self.advantage!r}")
        for k in ("n_prompts", "iterations", "max_len", "epochs", "eval_every"):
            _pos_int(getattr(self, k), k)
        _pos_int(self.group_size, "group_size", 2)
        _pos_int(self.seed, "seed", 0)
        _pos_int(self.stop_id, "stop_id", 0)
        _pos_float(self.lr, "lr")
        _pos_float(self.temperature, "temperature")
        if self.top_k is not None:
            _pos_int(self.top_k, "top_k")
        if self.clip_eps is not None:
            _pos_float(self.clip_eps, "clip_eps")
        for name in ("kl_coef", "gamma", "lam", "vf_coef"):
            check_real(getattr(self, name), name)
        if not np.isfinite(self.kl_coef) or self.kl_coef < 0:
            raise ValueError(f"kl_coef must be a finite number >= 0, got {self.kl_coef!r}")
        if self.kl_kind not in KL_KINDS:
            raise ValueError(f"kl_kind must be one of {KL_KINDS}, got {self.kl_kind!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma!r}")
        if not 0.0 <= self.lam <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {self.lam!r}")
        if not np.isfinite(self.vf_coef) or self.vf_coef < 0:
            raise ValueError(f"vf_coef must be a finite number >= 0, got {self.vf_coef!r}")

    def replace(self, **changes: Any) -> SeqRLConfig:
        return replace(self, **changes)


@dataclass
class SeqRLResult:
    """What :func:`train_seq_rl` returns.

    ``history`` maps ``"iteration"``, ``"reward"`` (mean sequence reward of the batch),
    ``"kl"`` (mean per-token KL), ``"length"`` (mean response length) and every key of
    ``eval_fn``'s dict to arrays over evaluations (the first at iteration 0, before any
    update).
    """

    history: dict[str, np.ndarray] = field(default_factory=dict)
    config: SeqRLConfig | None = None


def seq_advantages(rewards: Any, mask: Any, index: Any, *, advantage: str = "grpo",
                   gamma: float = 1.0, whiten: bool = False, values: Any | None = None,
                   lam: float = 0.95) -> np.ndarray:
    r"""Per-token advantages ``[B, T]`` from sequence or token rewards, via the library.

    - ``rewards`` ``[B]``: :math:`A_{b,t} = m_{b,t}\,\mathrm{adv}(s)_b` with adv one of
      ``creditlab.advantages.grpo`` / ``rloo`` / ``dr_grpo`` over the groups ``index``.
    - ``rewards`` ``[B, T]``: :math:`G = ` ``creditlab.returns.discounted_returns(r,
      gamma, response_mask=m)``; :math:`A_{b,t} = m_{b,t}(G_{b,t} - \bar G_b)` with the
      group baseline :math:`\bar G_b = G_{b,0} - \mathrm{adv}(G_{\cdot,0})_b` (the
      leave-one-out mean for ``rloo``, the group mean otherwise).
    - ``advantage="gae"``: ``creditlab.returns.gae(r, values, gamma, lam,
      response_mask=m)`` with ``values`` :math:`V(s_{b,t})` ``[B, T]``; a sequence score
      is the reward of the last response token. (The :math:`\lambda`-returns are
      ``A + values`` before whitening.) ``index`` is not used.

    ``whiten=True`` applies ``creditlab.advantages.masked_whiten`` over the mask.

    Parameters
    ----------
    rewards : float array [B] or [B, T]
    mask : bool array [B, T]
    index : int array-like [B]
        Group id of each sequence (not used by ``"gae"``, where it may be None).
    advantage : {"grpo", "rloo", "dr_grpo"}
    gamma : float in [0, 1]
    whiten : bool
    values : float array [B, T], optional
        Needed for ``advantage="gae"``.
    lam : float in [0, 1]

    Returns
    -------
    np.ndarray [B, T] float64, 0 where the mask is False (unless whitened)
    """
    if advantage not in SEQ_ADVANTAGES:
        raise ValueError(f"advantage must be one of {SEQ_ADVANTAGES}, got {advantage!r}")
    m = np.asarray(mask.cpu() if hasattr(mask, "cpu") else mask)
    if m.dtype != bool or m.ndim != 2:
        raise ValueError(f"mask must be a bool array [B, T], got {m.dtype} shape {m.shape}")
    if rewards is None:
        raise TypeError("rewards must be a numeric array [B] or [B, T], got None")
    if hasattr(rewards, "detach"):  # a torch tensor, on any device
        rewards = rewards.detach().cpu()
    r = check_finite(number_array(rewards, "rewards"), "rewards")
    if r.ndim == 2 and r.shape != m.shape:
        raise ValueError(f"rewards [B, T] must have the shape of mask {m.shape}, got "
                         f"{r.shape}")
    if index is None and advantage != "gae":
        raise TypeError("index must be an integer array of group ids, got None")
    if index is not None:
        index = int_array(index.cpu() if hasattr(index, "cpu") else index, "index")
    gamma = check_unit_interval(gamma, "gamma")
    lam = check_unit_interval(lam, "lam")
    if advantage == "gae":
        if values is None:
            raise ValueError("values must be given for advantage='gae'")
        v = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values,
                       dtype=np.float64)
        if v.shape != m.shape:
            raise ValueError(f"values must have the shape of mask {m.shape}, got {v.shape}")
        if r.ndim == 1:
            if len(r) != len(m):
                raise ValueError(f"rewards [B] must have one score per row of mask "
                                 f"({len(m)}), got {len(r)}")
            last = np.where(m.any(1), m.shape[1] - 1 - np.argmax(m[:, ::-1], 1), 0)
            tok = np.zeros(m.shape)
            tok[np.arange(len(m)), last] = r * m.any(1)
            r = tok
        elif r.shape != m.shape:
            raise ValueError(f"rewards [B, T] must have the shape of mask {m.shape}, got "
                             f"{r.shape}")
        A = np.asarray(gae(np.where(m, r, 0.0), v, gamma, lam, response_mask=m)[0]) * m
    elif r.ndim == 1:
        if len(r) != len(m):
            raise ValueError(f"rewards [B] must have one score per row of mask ({len(m)}), "
                             f"got {len(r)}")
        fn = {"grpo": grpo, "rloo": rloo, "dr_grpo": dr_grpo}[advantage]
        A = np.asarray(fn(r, index))[:, None] * m
    elif r.ndim == 2:
        if r.shape != m.shape:
            raise ValueError(f"rewards [B, T] must have the shape of mask {m.shape}, got "
                             f"{r.shape}")
        G = np.asarray(discounted_returns(np.where(m, r, 0.0), gamma, response_mask=m))
        G0 = G[:, 0]
        base = G0 - np.asarray(rloo(G0, index) if advantage == "rloo" else dr_grpo(G0, index))
        A = (G - base[:, None]) * m
    else:
        raise ValueError(f"rewards must be [B] or [B, T], got shape {r.shape}")
    if whiten and m.sum() > 1:
        A = np.asarray(masked_whiten(A, m)) * m
    return A


def train_seq_rl(model: TinyTextLM, prompts: Sequence[Sequence[int]],
                 reward_fn: Callable[[list[list[int]], torch.Tensor, torch.Tensor], Any],
                 config: SeqRLConfig | None = None, *, reference: TinyTextLM | None = None,
                 eval_fn: Callable[[TinyTextLM], dict[str, float]] | None = None,
                 direct_fn: Callable[..., Any] | None = None,
                 ) -> SeqRLResult:
    """Train ``model`` in place with GRPO / RLOO / PPO-clip on sampled responses.

    Parameters
    ----------
    model : TinyTextLM
    prompts : ragged token ids [N][P_n]
        The prompt pool; each iteration draws ``n_prompts`` of them (seeded).
    reward_fn : callable
        ``reward_fn(prompts, responses, mask)`` with prompts a list of B id lists,
        responses ``[B, T]`` int64 and mask ``[B, T]`` bool; returns sequence rewards
        ``[B]`` or token rewards ``[B, T]`` (array-like).
    config : SeqRLConfig
    reference : TinyTextLM, optional
        KL reference; default a frozen copy of ``model`` at the start (when
        ``config.kl_coef > 0``).
    eval_fn : callable, optional
        ``eval_fn(model) -> dict`` of metrics, called every ``eval_every`` iterations.
    direct_fn : callable, optional
        ``direct_fn(model, prompts, responses, mask)`` returning a differentiable reward
        ``[B]`` (a torch tensor with gradients through ``model``) whose batch mean is
        *added to the objective*: the direct term :math:`\\nabla R_\\theta(z)` of a
        reward that depends on the parameters, e.g. the SFT-like term of
        ``creditlab.rewards.reference_logprob`` (Chapter 14). The loss becomes
        :math:`L - \\frac1B\\sum_b R_\\theta(z_b)`.

    Returns
    -------
    SeqRLResult
    """
    _check_model(model)
    cfg = config if config is not None else SeqRLConfig()
    if not isinstance(cfg, SeqRLConfig):
        raise TypeError(f"config must be a SeqRLConfig, got {type(cfg).__name__}")
    if not callable(reward_fn):
        raise TypeError("reward_fn must be callable")
    if eval_fn is not None and not callable(eval_fn):
        raise TypeError(f"eval_fn must be callable or None, got {type(eval_fn).__name__}")
    if direct_fn is not None and not callable(direct_fn):
        raise TypeError(f"direct_fn must be callable or None, got "
                        f"{type(direct_fn).__name__}")
    pool = [list(map(int, p)) for p in prompts]
    if not pool:
        raise ValueError("prompts must hold at least one prompt")
    if not 0 <= cfg.stop_id < model.vocab_size:
        raise ValueError(f"stop_id must be a token id in [0, {model.vocab_size}), got "
                         f"{cfg.stop_id}")
    if cfg.advantage == "gae" and model.value is None:
        raise ValueError("advantage='gae' needs a model built with value_head=True")
    if reference is None and cfg.kl_coef > 0:
        reference = ema_copy(model)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist: dict[str, list[float]] = {}

    def log(it: int, stats: dict[str, float]) -> None:
        row = {"iteration": float(it), **stats}
        if eval_fn is not None:
            model.eval()
            row.update({k: float(v) for k, v in eval_fn(model).items()})
        for k, v in row.items():
            hist.setdefault(k, []).append(v)

    log(0, {"reward": np.nan, "kl": 0.0, "length": np.nan})
    for it in range(1, cfg.iterations + 1):
        # 1. prompts and samples
        pick = rng.integers(0, len(pool), size=cfg.n_prompts)
        batch = [pool[i] for i in np.repeat(pick, cfg.group_size)]
        index = np.repeat(np.arange(cfg.n_prompts), cfg.group_size)
        resp, old_lp, mask = model.sample(batch, cfg.max_len, temperature=cfg.temperature,
                                          top_k=cfg.top_k, seed=int(rng.integers(2**31)),
                                          eos_id=cfg.stop_id)
        # 2. rewards, 3. credit (library calls)
        rew = np.asarray(reward_fn(batch, resp, mask), dtype=np.float64)
        V_old = None
        if cfg.advantage == "gae":
            with torch.no_grad():
                V_old, _ = model.values(batch, resp, mask)
        A = seq_advantages(rew, mask.numpy(), index, advantage=cfg.advantage,
                           gamma=cfg.gamma, values=V_old, lam=cfg.lam)
        ret = None if V_old is None else torch.as_tensor(A, dtype=torch.float32) + V_old
        if cfg.whiten and mask.sum() > 1:
            A = np.asarray(masked_whiten(A, mask.numpy())) * mask.numpy()
        A = torch.as_tensor(A, dtype=torch.float32)
        ref_lp = None
        if reference is not None and cfg.kl_kind != "full":
            with torch.no_grad():
                ref_lp, _ = reference.logprobs(batch, resp, mask)
        # 4. loss and update
        n_tok = mask.sum().clamp_min(1)
        for _ in range(cfg.epochs):
            lp, _ = model.logprobs(batch, resp, mask)
            ratio = torch.exp(lp - old_lp)
            surr = ratio * A
            if cfg.clip_eps is not None:
                clipped = ratio.clamp(1 - cfg.clip_eps, 1 + cfg.clip_eps) * A
                surr = torch.minimum(surr, clipped)
            loss = -(surr * mask).sum() / n_tok
            kl_mean = torch.zeros(())
            if ret is not None:  # PPO's critic: regress V(s_t) on the lambda-returns
                V, _ = model.values(batch, resp, mask)
                loss = loss + cfg.vf_coef * (((V - ret) ** 2) * mask).sum() / n_tok
            if direct_fn is not None:
                d = direct_fn(model, batch, resp, mask)
                if not (isinstance(d, torch.Tensor) and d.requires_grad
                        and tuple(d.shape) == (len(batch),)):
                    raise TypeError(f"direct_fn must return a torch tensor [B={len(batch)}] "
                                    f"with gradients through model, got {type(d).__name__} "
                                    f"{tuple(getattr(d, 'shape', ()))}")
                loss = loss - d.mean()
            if reference is not None and cfg.kl_coef > 0:
                k = (kl(model, reference, batch, resp, kind="full", response_mask=mask)
                     if cfg.kl_kind == "full" else kl_penalty(lp, ref_lp, cfg.kl_kind))
                kl_mean = (k * mask).sum() / n_tok
                loss = loss + cfg.kl_coef * kl_mean
            opt.zero_grad()
            loss.backward()
            opt.step()
        seq_r = rew if rew.ndim == 1 else (rew * mask.numpy()).sum(1)
        if it % cfg.eval_every == 0 or it == cfg.iterations:
            log(it, {"reward": float(seq_r.mean()), "kl": float(kl_mean.detach()),
                     "length": float(mask.sum(1).float().mean())})
    return SeqRLResult({k: np.asarray(v) for k, v in hist.items()}, cfg)
