r"""Reward fine-tuning of :class:`~creditlab.models.Toy2DDiffusion` (Chapter 24).

Two trainers on the substrate's exact per-step log-probabilities
:math:`\log p_\theta(x_{t-1} \mid x_t, c)` (:meth:`Toy2DDiffusion.chain_log_probs`), and
the per-sample denoising error Diffusion-DPO needs:

- :func:`finetune_ddpo` — DDPO-style policy gradient (Black et al. 2023,
  arXiv:2305.13301): the denoising chain is an MDP, every step's ratio
  :math:`\rho_t = p_\theta / p_{\theta_{old}}` gets the chain's advantage, and PPO's
  clipped surrogate (:func:`creditlab.algos.pg_losses.ppo_clip_loss`) is minimised;
  advantages normalised per condition (the paper's per-prompt statistics) or over the
  whole batch.
- :func:`finetune_prdp` — PRDP (Deng et al. 2024, arXiv:2402.08714): regress the
  difference of the trajectories' mean log-ratios to the reference onto the reward
  difference divided by :math:`\beta` (:func:`creditlab.prefs.rdp_loss`), over all pairs
  within a condition, with the per-step proximal clip around :math:`\theta_{old}`.
- :func:`denoising_errors` — :math:`\lVert v - v_\theta(x_t, t, c)\rVert^2` per sample
  (the model's own training target, :math:`v`-prediction), for
  :func:`creditlab.prefs.diffusion_dpo_loss`.

Both trainers run the online loop of the papers: sample ``batch`` chains per training
condition from :math:`\theta_{old}`, score them with a black-box reward, take ``inner``
Adam steps on the whole batch, set :math:`\theta_{old} \leftarrow \theta`. They record
the mean reward of every epoch's samples (the learning curve) and of fresh samples on
held-out conditions. Departures from the papers (named "-style" in the book): one
full-batch step instead of minibatches, no classifier-free guidance, a 2-D model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from creditlab._backend import check_int, check_real, check_seed, float_array, int_array
from creditlab.algos.pg_losses import ppo_clip_loss
from creditlab.models.diffusion2d import Toy2DDiffusion
from creditlab.prefs import diffusion_dpo_loss, rdp_loss

__all__ = ["denoising_errors", "finetune_ddpo", "finetune_prdp", "finetune_set_dpo"]

_NORMS = ("condition", "global")


def denoising_errors(model: Toy2DDiffusion, x0: Any, cond: Any, t: Any, eps: Any
                     ) -> torch.Tensor:
    r"""Per-sample denoising error, ``[B]`` float32, with gradients through ``model``.

    .. math:: e_\theta(x_0) = \lVert v - v_\theta(\sqrt{\bar\alpha_t} x_0 +
              \sqrt{1 - \bar\alpha_t}\,\epsilon, t, c)\rVert^2,\qquad
              v = \sqrt{\bar\alpha_t}\,\epsilon - \sqrt{1 - \bar\alpha_t}\,x_0

    the summand of :meth:`Toy2DDiffusion.loss` (summed over the 2 coordinates): the
    :math:`v`-prediction error, where Diffusion-DPO's paper writes the
    :math:`\epsilon`-prediction error (the two differ by a weight per noise level).

    Parameters
    ----------
    model : Toy2DDiffusion
    x0 : float array [B, 2]
    cond : None, int, or int array [B]
    t : int in [1, T] or int array [B]
    eps : float array [B, 2]
    """
    if not isinstance(model, Toy2DDiffusion):
        raise TypeError(f"model must be a Toy2DDiffusion, got {type(model).__name__}")
    x = model._x(x0 if isinstance(x0, torch.Tensor) else float_array(x0, "x0"), "x0")
    e = model._x(eps if isinstance(eps, torch.Tensor) else float_array(eps, "eps"), "eps")
    if e.shape != x.shape:
        raise ValueError(f"eps must have the shape of x0 {tuple(x.shape)}, got "
                         f"{tuple(e.shape)}")
    B = len(x)
    c = model._cond(cond if cond is None or isinstance(cond, (int, np.integer, torch.Tensor))
                    else int_array(cond, "cond"), B)
    tt = model._t(t if isinstance(t, (int, np.integer, torch.Tensor)) else int_array(t, "t"),
                  B)
    a = model.alpha_bar[tt][:, None].sqrt()
    s = (1 - model.alpha_bar[tt][:, None]).sqrt()
    v = a * e - s * x
    return ((model(a * x + s * e, tt, c) - v) ** 2).sum(-1)


def _common(model: Any, reward_fn: Any, conds: Any, eval_conds: Any, epochs: Any,
            batch: Any, inner: Any, lr: Any, seed: Any
            ) -> tuple[torch.Tensor, torch.Tensor, int, int, int, float, int]:
    if not isinstance(model, Toy2DDiffusion):
        raise TypeError(f"model must be a Toy2DDiffusion, got {type(model).__name__}")
    if not callable(reward_fn):
        raise TypeError("reward_fn must be callable (x0 [n, 2], cond [n]) -> [n]")
    out = []
    for c, n in ((conds, "conds"), (eval_conds, "eval_conds")):
        if isinstance(c, (str, bytes, np.ma.MaskedArray)):
            raise TypeError(f"{n} must be a 1-D list of class ids, got {type(c).__name__}")
        a = np.asarray([] if c is None else c)
        if a.ndim != 1 or (a.size and (a.dtype.kind not in "iu" or a.min() < 0
                                      or a.max() >= model.n_classes)):
            raise ValueError(f"{n} must be a 1-D list of class ids in [0, "
                             f"{model.n_classes}), got {c!r}")
        out.append(torch.as_tensor(a.astype(np.int64)))
    if len(out[0]) == 0:
        raise ValueError("conds must not be empty")
    epochs = check_int(epochs, "epochs", 1)
    batch = check_int(batch, "batch", 2)
    inner = check_int(inner, "inner", 1)
    lr = check_real(lr, "lr")
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    s = check_seed(seed)
    if s is None:
        raise TypeError("seed must be an int >= 0, got None")
    return out[0], out[1], epochs, batch, inner, lr, s


def _reward(reward_fn: Callable, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    r = np.asarray(reward_fn(x.detach().numpy(), c.numpy()), dtype=np.float64)
    if r.shape != (len(x),):
        raise ValueError(f"reward_fn must return [n] = [{len(x)}] rewards, got {r.shape}")
    return torch.from_numpy(np.nan_to_num(r, nan=-1e6, posinf=1e6, neginf=-1e6))


def _loop(model: Toy2DDiffusion, reward_fn: Callable, conds: torch.Tensor,
          eval_conds: torch.Tensor, epochs: int, batch: int, inner: int, lr: float,
          seed: int, grad_clip: float, loss_fn: Callable) -> dict[str, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    c = conds.repeat_interleave(batch)
    ce = eval_conds.repeat_interleave(batch)
    hist: dict[str, list[float]] = {"reward": [], "eval_reward": [], "loss": []}
    diverged = -1
    for ep in range(epochs):
        with torch.no_grad():
            chain = model.sample(len(c), c, seed=gen)
            if not bool(torch.isfinite(chain.x).all()):
                diverged = ep  # the weights produce inf / NaN samples: stop here
                break
            r = _reward(reward_fn, chain.samples, c)
            hist["reward"].append(float(r.mean()))
            if len(ce):
                xe = model.sample(len(ce), ce, seed=gen, return_chain=False)
                hist["eval_reward"].append(float(_reward(reward_fn, xe, ce).mean()))
        for _ in range(inner):
            loss = loss_fn(chain, r)
            if not bool(torch.isfinite(loss)):
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
        hist["loss"].append(float(loss.detach()))
    for k in hist:
        if k != "eval_reward" or len(ce):
            hist[k] += [float("nan")] * (epochs - len(hist[k]))
    out = {k: np.asarray(v) for k, v in hist.items()}
    out["diverged"] = np.asarray(diverged)
    return out


def finetune_ddpo(model: Toy2DDiffusion, reward_fn: Callable, conds: Any, *,
                  eval_conds: Any = None, epochs: int = 30, batch: int = 16,
                  inner: int = 4, lr: float = 1e-3, clip: float = 0.2,
                  normalize: str = "condition", grad_clip: float = 1.0,
                  seed: int = 0) -> dict[str, np.ndarray]:
    r"""DDPO-style PPO fine-tuning of ``model`` in place (Black et al. 2023).

    Every epoch: ``batch`` chains per condition in ``conds`` from :math:`\theta_{old}`,
    rewards :math:`r_i = ` ``reward_fn(x0 [n, 2] ndarray, cond [n] ndarray)``, advantages
    :math:`A_i = (r_i - \bar r) / (s + 10^{-8})` with mean and std over the chain's
    condition (``normalize="condition"``, DDPO's per-prompt tracking without its
    history buffer) or over the batch (``"global"``); then ``inner`` full-batch steps on

    .. math:: L = -\frac{1}{nT}\sum_{i,t}\min\big(\rho_{i,t} A_i,
              \mathrm{clip}(\rho_{i,t}, 1 \pm \epsilon) A_i\big), \quad
              \rho_{i,t} = \frac{p_\theta(x^i_{t-1} \mid x^i_t, c_i)}
              {p_{\theta_{old}}(x^i_{t-1} \mid x^i_t, c_i)}.

    Parameters
    ----------
    model : Toy2DDiffusion (trained in place)
    reward_fn : callable (x0 [n, 2], cond [n]) -> [n] float
    conds : int sequence [N]; eval_conds : int sequence or None (held-out conditions)
    epochs, batch (>= 2), inner : int >= 1
    lr : float > 0 (AdamW, weight decay 1e-4); clip : float in (0, 1)
    normalize : {"condition", "global"}
    grad_clip : float > 0 (global norm)
    seed : int >= 0

    Returns
    -------
    dict of np.ndarray [epochs]: ``reward`` (mean over the epoch's samples, before its
    update), ``eval_reward`` (fresh samples on ``eval_conds``; empty without them),
    ``loss``; NaN after a divergence. ``diverged`` (0-d int): the first epoch whose
    samples were not finite (training stops there), -1 if none.
    """
    conds, eval_conds, epochs, batch, inner, lr, seed = _common(
        model, reward_fn, conds, eval_conds, epochs, batch, inner, lr, seed)
    clip = check_real(clip, "clip")
    if not 0 < clip < 1:
        raise ValueError(f"clip must be in (0, 1), got {clip!r}")
    if normalize not in _NORMS:
        raise ValueError(f"normalize must be one of {_NORMS}, got {normalize!r}")
    grad_clip = check_real(grad_clip, "grad_clip")
    if not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0, got {grad_clip!r}")
    N = len(conds)

    def loss_fn(chain: Any, r: torch.Tensor) -> torch.Tensor:
        if normalize == "condition":
            rr = r.reshape(N, batch)
            a = ((rr - rr.mean(1, keepdim=True)) / (rr.std(1, keepdim=True) + 1e-8))
            a = a.reshape(-1)
        else:
            a = (r - r.mean()) / (r.std() + 1e-8)
        lp = model.chain_log_probs(chain)
        if not bool(torch.isfinite(lp).all()):
            return lp.sum() * float("nan")  # diverged weights: the loop skips the step
        T = lp.shape[1]
        return ppo_clip_loss(lp.reshape(-1), chain.log_prob.reshape(-1),
                             a.to(lp.dtype).repeat_interleave(T), eps=clip)

    return _loop(model, reward_fn, conds, eval_conds, epochs, batch, inner, lr, seed,
                 grad_clip, loss_fn)


def finetune_prdp(model: Toy2DDiffusion, ref: Toy2DDiffusion, reward_fn: Callable,
                  conds: Any, *, eval_conds: Any = None, epochs: int = 30,
                  batch: int = 16, inner: int = 4, lr: float = 1e-3, beta: float = 0.1,
                  clip: float | None = 0.1, grad_clip: float = 1.0,
                  seed: int = 0) -> dict[str, np.ndarray]:
    r"""PRDP fine-tuning of ``model`` in place (Deng et al. 2024): online proximal reward
    difference prediction against the frozen reference ``ref``.

    Every epoch: ``batch`` chains per condition from :math:`\theta_{old}`; for every pair
    :math:`i < j` of chains of the same condition, :func:`creditlab.prefs.rdp_loss` on
    the per-step log-ratios :math:`\log p_\theta - \log p_{ref}` (averaged over steps),
    with targets :math:`(r_i - r_j)/\beta` and the per-step clip ``clip`` around the
    log-ratios of :math:`\theta_{old}`; ``inner`` full-batch steps; the loss is the mean
    over pairs (formulas.md's :math:`1/(N B^2)` sum over pairs up to a constant factor,
    absorbed by the learning rate). No advantage normalisation: the reward scale enters through
    :math:`\beta`.

    Parameters
    ----------
    model : Toy2DDiffusion (trained in place); ref : Toy2DDiffusion (frozen, same config)
    reward_fn, conds, eval_conds, epochs, batch, inner, lr, grad_clip, seed
        As :func:`finetune_ddpo`.
    beta : float > 0
    clip : float > 0 or None (no proximal clip: plain online RDP)

    Returns
    -------
    dict of np.ndarray [epochs], as :func:`finetune_ddpo`.
    """
    conds, eval_conds, epochs, batch, inner, lr, seed = _common(
        model, reward_fn, conds, eval_conds, epochs, batch, inner, lr, seed)
    if not isinstance(ref, Toy2DDiffusion) or ref.config != model.config:
        raise ValueError("ref must be a Toy2DDiffusion with the config of model")
    beta = check_real(beta, "beta")
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    grad_clip = check_real(grad_clip, "grad_clip")
    if not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0, got {grad_clip!r}")
    N = len(conds)
    iu, ju = np.triu_indices(batch, 1)
    ii = torch.as_tensor((np.arange(N)[:, None] * batch + iu[None]).reshape(-1))
    jj = torch.as_tensor((np.arange(N)[:, None] * batch + ju[None]).reshape(-1))
    cache: dict[int, torch.Tensor] = {}  # the reference's log-probs of this epoch's chains

    def loss_fn(chain: Any, r: torch.Tensor) -> torch.Tensor:
        if id(chain) not in cache:
            cache.clear()
            with torch.no_grad():
                cache[id(chain)] = ref.chain_log_probs(chain)
        ref_lp = cache[id(chain)]
        old = chain.log_prob - ref_lp  # log-ratios of theta_old (sampling policy)
        cur = model.chain_log_probs(chain) - ref_lp
        kw = {} if clip is None else {"old_logratio_a": old[ii], "old_logratio_b": old[jj],
                                      "clip": clip}
        return rdp_loss(cur[ii], cur[jj], r[ii].to(cur.dtype), r[jj].to(cur.dtype),
                        beta=beta, **kw)

    return _loop(model, reward_fn, conds, eval_conds, epochs, batch, inner, lr, seed,
                 grad_clip, loss_fn)


def finetune_set_dpo(model: Toy2DDiffusion, ref: Toy2DDiffusion, split_fn: Callable, *,
                     n: int = 64, epochs: int = 30, inner: int = 4, lr: float = 1e-3,
                     beta: float = 1.0, sft: float = 0.0, seed: int = 0,
                     callback: Callable | None = None) -> dict[str, np.ndarray]:
    r"""Online Diffusion-DPO on positive / negative sets of the model's own generations
    (DRAGON-style, Bai et al. 2025), trained in place; unconditional (class 0).

    Every epoch: ``n`` samples from the current model; ``split_fn(x0 [n, 2] ndarray)``
    returns index arrays ``(pos, neg)`` of equal length ``k`` (e.g.
    :func:`creditlab.prefs.leave_one_out_split` on a distribution-level reward, or a
    per-instance ranking); ``pos[i]`` is paired with ``neg[perm[i]]`` (a random
    permutation); ``inner`` Adam steps on :func:`creditlab.prefs.diffusion_dpo_loss` of
    :func:`denoising_errors` under ``model`` and ``ref`` (one fresh :math:`t` and noise
    per pair and step, shared by the two samples of a pair and by both models).

    Parameters
    ----------
    model, ref : Toy2DDiffusion (same config; ``ref`` frozen)
    split_fn : callable (x0 [n, 2] ndarray) -> (pos [k], neg [k])
    n : int >= 4; epochs, inner : int >= 1; lr, beta : float > 0; seed : int >= 0
    sft : float >= 0
        Weight of a denoising (supervised) loss on the positive set added to the DPO
        loss, :math:`\lambda\,\overline{e_\theta(x_w)}` (a departure: without it the
        online loss on a 2-D model drifts, the losers' error growing without bound).
    callback : callable (epoch, x0 [n, 2] ndarray) -> None, optional
        Called with every epoch's samples before the update (for measurements).

    Returns
    -------
    dict: ``loss`` np.ndarray [epochs].
    """
    if not isinstance(model, Toy2DDiffusion):
        raise TypeError(f"model must be a Toy2DDiffusion, got {type(model).__name__}")
    if not isinstance(ref, Toy2DDiffusion) or ref.config != model.config:
        raise ValueError("ref must be a Toy2DDiffusion with the config of model")
    if not callable(split_fn):
        raise TypeError("split_fn must be callable (x0 [n, 2]) -> (pos, neg)")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    n = check_int(n, "n", 4)
    epochs = check_int(epochs, "epochs", 1)
    inner = check_int(inner, "inner", 1)
    sft = check_real(sft, "sft")
    if not np.isfinite(sft) or sft < 0:
        raise ValueError(f"sft must be a finite number >= 0, got {sft!r}")
    for v, name in ((lr, "lr"), (beta, "beta")):
        v = check_real(v, name)
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    s = check_seed(seed)
    if s is None:
        raise TypeError("seed must be an int >= 0, got None")
    gen = torch.Generator().manual_seed(s)
    opt = torch.optim.AdamW(model.parameters(), lr=float(lr), weight_decay=1e-4)
    losses = []
    for ep in range(epochs):
        with torch.no_grad():
            x = model.sample(n, 0, seed=gen, return_chain=False)
        xn = x.numpy().copy()
        if callback is not None:
            callback(ep, xn.copy())
        pos, neg = (np.ascontiguousarray(a, dtype=np.int64) for a in split_fn(xn))
        if pos.shape != neg.shape or pos.ndim != 1 or len(pos) == 0:
            raise ValueError("split_fn must return two non-empty index arrays of equal length")
        perm = torch.randperm(len(neg), generator=gen)
        xw, xl = x[torch.as_tensor(pos)], x[torch.as_tensor(neg)][perm]
        k = len(xw)
        c = torch.zeros(k, dtype=torch.int64)
        for _ in range(inner):
            t = torch.randint(1, model.steps + 1, (k,), generator=gen)
            eps = torch.randn((k, 2), generator=gen)
            with torch.no_grad():
                rw = denoising_errors(ref, xw, c, t, eps)
                rl = denoising_errors(ref, xl, c, t, eps)
            ew = denoising_errors(model, xw, c, t, eps)
            loss = diffusion_dpo_loss(ew, rw, denoising_errors(model, xl, c, t, eps), rl,
                                      beta=float(beta)) + sft * ew.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        losses.append(float(loss.detach()))
    return {"loss": np.asarray(losses)}
