r"""Behaviour cloning and a compact PPO for continuous control on PointReach (Ch20, 22, 23).

- :func:`behaviour_cloning` — fit a :class:`~creditlab.models.GaussianPolicy` to
  demonstration (observation, action) pairs by maximum likelihood (``loss="nll"``) or by
  the mean-squared error of its mean (``loss="mse"``);
- :func:`train_ppo` — PPO-clip (Schulman et al. 2017) with GAE
  (:func:`creditlab.gae`), a separate value MLP, advantage normalisation per minibatch,
  gradient clipping, on :class:`~creditlab.envs.PointReachBatch` (state observations,
  auto-reset, truncation bootstrapped from the final observation's value);
- :func:`evaluate_policy` — success rate and mean episode length of a policy;
- :func:`greedy_reach`, :func:`reinforce_reach` — a reward-greedy controller and a tabular
  REINFORCE learner that judge a (learned) reward by what it makes an agent do (Ch22).

The bar (``tests/test_control.py``, ``benchmarks/bench_substrates.py``): with the defaults
of :class:`PPOConfig` on the single-stage task (``creditlab/PointReach-v0``: random
start, a random one of three goals, 50 steps, dense progress reward), the deterministic
policy succeeds in >= 95% of 500 evaluation episodes after training for < 30 s on one
core (measured 2026-12-05: see the benchmark's table).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from creditlab._backend import check_int, check_real, check_seed, check_unit_interval
from creditlab.envs.pointreach import PointReachBatch
from creditlab.models.nets import MLP, GaussianPolicy, as_tensor
from creditlab.returns import gae

__all__ = ["behaviour_cloning", "PPOConfig", "PPOResult", "train_ppo", "evaluate_policy",
           "greedy_reach", "reinforce_reach"]


def behaviour_cloning(policy: GaussianPolicy, obs: Any, actions: Any, *, steps: int = 500,
                      batch_size: int = 256, lr: float = 3e-3, loss: str = "nll",
                      seed: int = 0) -> np.ndarray:
    """Fit ``policy`` to demonstrations; returns the loss per step, float64 ``[steps]``.

    Parameters
    ----------
    policy : GaussianPolicy
        Trained in place.
    obs : float [N, obs_dim] states, or uint8 [N, H, W, 3] frames for a frame policy
    actions : float [N, act_dim]
        Demonstrated actions (e.g. ``Demos.actions[Demos.valid[:, :-1]]``).
    steps, batch_size : int >= 1
    lr : float > 0
    loss : {"nll", "mse"}
        ``-log pi(a | o)`` (learns the std too) or ``||mu(o) - a||^2``.
    seed : int >= 0
        Minibatch order.
    """
    if not isinstance(policy, GaussianPolicy):
        raise TypeError(f"policy must be a GaussianPolicy, got {type(policy).__name__}")
    as_tensor(obs, "obs")  # numbers (not masked), finite
    o = obs if isinstance(obs, torch.Tensor) else np.asarray(obs)
    a = as_tensor(actions, "actions")
    if len(o) != len(a) or len(a) == 0:
        raise ValueError(f"obs and actions must have the same, non-zero length, got "
                         f"{len(o)} and {len(a)}")
    if not isinstance(loss, str) or loss not in ("nll", "mse"):
        raise ValueError(f"loss must be 'nll' or 'mse', got {loss!r}")
    steps, batch_size = check_int(steps, "steps", 1), check_int(batch_size, "batch_size", 1)
    lr = check_real(lr, "lr")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    policy(o[:1])  # shape against the policy
    g = torch.Generator().manual_seed(check_seed(seed))
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    out = np.empty(steps)
    for k in range(steps):
        idx = torch.randint(len(a), (min(batch_size, len(a)),), generator=g)
        ob = o[idx] if isinstance(o, torch.Tensor) else o[idx.numpy()]
        if loss == "nll":
            lv = -policy.log_prob(ob, a[idx]).mean()
        else:
            lv = ((policy(ob).mean - a[idx]) ** 2).sum(-1).mean()
        opt.zero_grad()
        lv.backward()
        opt.step()
        out[k] = lv.item()
    return out


@dataclass
class PPOConfig:
    """PPO settings (defaults reach the bar of the module docstring).

    ``env`` holds :class:`~creditlab.envs.PointReachBatch` arguments (``obs`` must be
    ``"state"``); ``success_bonus`` is added to the reward of the step that completes the
    task (with the discount it rewards finishing, and finishing sooner, not only getting
    close); ``anneal_lr`` decays the learning rate linearly to 0 over ``iterations``;
    ``budget_s`` stops training after that many seconds (wall clock).
    """

    n_envs: int = 64
    n_steps: int = 32
    iterations: int = 60
    epochs: int = 4
    minibatch: int = 512
    lr: float = 1e-3
    gamma: float = 0.97
    lam: float = 0.9
    clip: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    success_bonus: float = 1.0
    anneal_lr: bool = True
    max_grad_norm: float = 1.0
    hidden: int = 64
    eval_every: int = 10
    eval_episodes: int = 200
    budget_s: float = 30.0
    seed: int = 0
    env: dict = field(default_factory=lambda: {"reward": "progress", "horizon": 50})

    def __post_init__(self) -> None:
        for k in ("n_envs", "n_steps", "iterations", "epochs", "minibatch", "hidden",
                  "eval_every", "eval_episodes"):
            check_int(getattr(self, k), k, 1)
        for k in ("lr", "budget_s"):
            if check_real(getattr(self, k), k) <= 0:
                raise ValueError(f"{k} must be > 0, got {getattr(self, k)}")
        for k in ("gamma", "lam", "clip"):
            check_unit_interval(getattr(self, k), k)
        for k in ("vf_coef", "ent_coef", "max_grad_norm", "success_bonus"):
            if check_real(getattr(self, k), k) < 0:
                raise ValueError(f"{k} must be >= 0, got {getattr(self, k)}")
        check_seed(self.seed)
        if not isinstance(self.env, dict) or self.env.get("obs", "state") != "state":
            raise ValueError("env must be a dict of PointReachBatch arguments with state "
                             "observations")


@dataclass
class PPOResult:
    """What :func:`train_ppo` returns: the policy, the value net and per-iteration logs.

    ``history`` maps ``"iteration"``, ``"env_steps"``, ``"seconds"`` (wall),
    ``"success"`` (deterministic evaluation, NaN between evaluations) and
    ``"episode_return"`` (mean of episodes finished in the iteration) to lists.
    """

    policy: GaussianPolicy
    value: MLP
    history: dict
    seconds: float
    env_steps: int


def evaluate_policy(policy: GaussianPolicy, n_episodes: int = 200, *,
                    deterministic: bool = True, seed: int = 10_000,
                    **env_kwargs: Any) -> tuple[float, float]:
    """Success rate and mean length over ``n_episodes`` (one batch; state observations).

    ``env_kwargs`` are :class:`~creditlab.envs.PointReachBatch` arguments (default horizon
    50); returns ``(success_rate, mean_length)``.
    """
    if not isinstance(policy, GaussianPolicy):
        raise TypeError(f"policy must be a GaussianPolicy, got {type(policy).__name__}")
    n = check_int(n_episodes, "n_episodes", 1)
    seed = check_seed(seed)
    kw = {"horizon": 50, **env_kwargs, "autoreset": False, "seed": seed}
    b = PointReachBatch(n, **kw)
    g = torch.Generator().manual_seed(seed)
    obs = b.observe()
    while not b.done.all():
        obs, *_ = b.step(policy.act(obs, deterministic, generator=g))
    return float(b.success.mean()), float(b.t.mean())


def train_ppo(config: PPOConfig | None = None,
              policy: GaussianPolicy | None = None) -> PPOResult:
    """Train a Gaussian policy with PPO-clip on PointReach (module docstring).

    Parameters
    ----------
    config : PPOConfig, optional
    policy : GaussianPolicy, optional
        Start from this policy (e.g. after behaviour cloning); a new one otherwise.
    """
    cfg = config or PPOConfig()
    if not isinstance(cfg, PPOConfig):
        raise TypeError(f"config must be a PPOConfig, got {type(cfg).__name__}")
    torch.manual_seed(cfg.seed)
    if policy is None:
        policy = GaussianPolicy(7, 2, hidden=cfg.hidden, init_log_std=-0.5)
    elif not isinstance(policy, GaussianPolicy):
        raise TypeError(f"policy must be a GaussianPolicy, got {type(policy).__name__}")
    value = MLP(7, 1, cfg.hidden)
    opt = torch.optim.Adam([*policy.parameters(), *value.parameters()], lr=cfg.lr)
    env = PointReachBatch(cfg.n_envs, **{**cfg.env, "autoreset": True, "seed": cfg.seed})
    gen = torch.Generator().manual_seed(cfg.seed)
    N, T = cfg.n_envs, cfg.n_steps
    hist: dict[str, list] = {k: [] for k in ("iteration", "env_steps", "seconds", "success",
                                             "episode_return")}
    obs = env.observe()
    ep_ret = np.zeros(N)
    t0 = time.perf_counter()
    steps = 0
    for it in range(cfg.iterations):
        if cfg.anneal_lr:  # linearly to 0 over the iterations (CleanRL's default)
            for grp in opt.param_groups:
                grp["lr"] = cfg.lr * (1.0 - it / cfg.iterations)
        OBS = np.zeros((T, N, 7), np.float32)
        A = np.zeros((T, N, 2), np.float32)
        R, V, V1 = np.zeros((T, N)), np.zeros((T, N)), np.zeros((T, N))
        TERM, TRUNC, LP = np.zeros((T, N), bool), np.zeros((T, N), bool), np.zeros((T, N))
        finished = []
        with torch.no_grad():
            for t in range(T):
                dist = policy(obs)
                a = dist.mean + dist.stddev * torch.randn(dist.mean.shape, generator=gen)
                OBS[t], A[t] = obs, a.numpy()
                LP[t] = dist.log_prob(a).sum(-1).numpy()
                V[t] = value(obs)[:, 0].numpy()
                obs, r, term, trunc, info = env.step(a.numpy())
                r = r + cfg.success_bonus * term
                R[t], TERM[t], TRUNC[t] = r, term, trunc
                nxt = info.get("final_obs", obs)
                V1[t] = value(nxt)[:, 0].numpy()
                ep_ret += r
                done = term | trunc
                finished += ep_ret[done].tolist()
                ep_ret[done] = 0.0
        steps += N * T
        adv, ret = gae(R, V, cfg.gamma, cfg.lam, terminated=TERM, truncated=TRUNC,
                       next_values=V1, time_dim=0)
        ob_t, a_t = torch.from_numpy(OBS.reshape(-1, 7)), torch.from_numpy(A.reshape(-1, 2))
        lp_t = torch.from_numpy(LP.reshape(-1)).float()
        adv_t = torch.from_numpy(np.asarray(adv).reshape(-1)).float()
        ret_t = torch.from_numpy(np.asarray(ret).reshape(-1)).float()
        for _ in range(cfg.epochs):
            perm = torch.randperm(N * T, generator=gen)
            for s in range(0, N * T, cfg.minibatch):
                mb = perm[s:s + cfg.minibatch]
                dist = policy(ob_t[mb])
                lp = dist.log_prob(a_t[mb]).sum(-1)
                ratio = torch.exp(lp - lp_t[mb])
                ad = adv_t[mb]
                ad = (ad - ad.mean()) / (ad.std() + 1e-8)
                pg = -torch.min(ratio * ad, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * ad)
                vl = (value(ob_t[mb])[:, 0] - ret_t[mb]) ** 2
                loss = pg.mean() + cfg.vf_coef * vl.mean() - \
                    cfg.ent_coef * dist.entropy().sum(-1).mean()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_([*policy.parameters(), *value.parameters()],
                                               cfg.max_grad_norm)
                opt.step()
        elapsed = time.perf_counter() - t0
        last = it == cfg.iterations - 1 or elapsed > cfg.budget_s
        succ = np.nan
        if (it + 1) % cfg.eval_every == 0 or last:
            succ = evaluate_policy(policy, cfg.eval_episodes, seed=10_000 + it,
                                   **{k: v for k, v in cfg.env.items() if k != "reward"})[0]
        hist["iteration"].append(it)
        hist["env_steps"].append(steps)
        hist["seconds"].append(time.perf_counter() - t0)
        hist["success"].append(succ)
        hist["episode_return"].append(float(np.mean(finished)) if finished else np.nan)
        if last:
            break
    return PPOResult(policy, value, hist, time.perf_counter() - t0, steps)


# ---------------------------------------------------------------------------------------
# controllers that score a reward by what it makes an agent do (Chapter 22)


def greedy_reach(
    batch: Any,
    score_fn: Callable,
    *,
    lookahead: int = 4,
    n_dirs: int = 8,
    max_steps: int | None = None,
) -> np.ndarray:
    r"""Run a reward-greedy controller on an open-layout :class:`PointReachBatch`; return success.

    At every step, for each of ``n_dirs`` unit actions (and "no push"), predict the
    position after holding it for ``lookahead`` steps with the point mass's dynamics
    (:math:`v' = 0.7 v + 0.02 a`, :math:`p' = p + v'`, clipped to the arena; walls
    ignored), score the predictions with ``score_fn(pred, batch)`` (``pred`` float64
    ``[n, n_dirs + 1, 2]`` -> scores ``[n, n_dirs + 1]``) and apply the best action.
    A stand-in for "train a policy on the reward": it follows the reward's local
    gradient, so it fails exactly where the reward points the wrong way or is flat.

    Parameters
    ----------
    batch : PointReachBatch, freshly reset, ``autoreset=False``, ``layout="open"``
    score_fn : callable
    lookahead : int >= 1
    n_dirs : int >= 2
    max_steps : int, optional (default: until every episode is done)

    Returns
    -------
    np.ndarray [n] bool, which episodes completed their task
    """
    from creditlab.envs.pointreach import ACCEL, DAMPING, PointReachBatch

    if not isinstance(batch, PointReachBatch):
        raise TypeError(f"batch must be a PointReachBatch, got {type(batch).__name__}")
    if batch.autoreset or batch.layout != "open" or batch.body != "point":
        raise ValueError("batch must be an open-layout point-mass batch with autoreset=False")
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable, got {type(score_fn).__name__}")
    H = check_int(lookahead, "lookahead", 1)
    K = check_int(n_dirs, "n_dirs", 2)
    ang = 2 * np.pi * np.arange(K) / K
    dirs = np.concatenate([np.stack([np.cos(ang), np.sin(ang)], 1), np.zeros((1, 2))])
    steps = 0
    while not batch.done.all():
        if max_steps is not None and steps >= max_steps:
            break
        p = np.repeat(batch.pos[:, None, :], K + 1, 1)
        v = np.repeat(batch.vel[:, None, :], K + 1, 1)
        for _ in range(H):
            v = (1 - DAMPING) * v + ACCEL * dirs
            p = np.clip(p + v, 0.0, 1.0)
        s = np.asarray(score_fn(p, batch), np.float64)
        if s.shape != p.shape[:2]:
            raise ValueError(f"score_fn must return shape {p.shape[:2]}, got {s.shape}")
        batch.step(dirs[np.argmax(s, 1)].astype(np.float32))
        steps += 1
    return batch.success.copy()


def reinforce_reach(
    reward_fn: Callable,
    *,
    iterations: int = 150,
    n_episodes: int = 128,
    horizon: int = 40,
    cells: int = 8,
    gamma: float = 0.95,
    lr: float = 1.0,
    n_eval: int = 300,
    seed: int = 0,
) -> float:
    r"""Train a tabular softmax policy on a learned reward with REINFORCE; return its success.

    The open PointReach arena (goals A, B, C; point-mass dynamics
    :math:`v' = 0.7 v + 0.02 a`, :math:`p' = \mathrm{clip}(p + v', 0, 1)`), a random start and
    a random goal per episode, ``horizon`` steps, no termination. The policy
    :math:`\pi(a \mid \text{goal}, \text{cell})` is a softmax table over the 8 unit pushes
    and "no push", the state being the goal and the agent's cell in a ``cells`` x ``cells``
    grid. Each iteration rolls out ``n_episodes`` episodes, rewards every visited position
    with ``reward_fn(pos, goal)`` (``pos`` float64 ``[horizon, n, 2]``, ``goal`` int64
    ``[n]`` in 0..2 -> rewards ``[horizon, n]``), and takes a REINFORCE step on
    :math:`G_t = \sum_{k \ge t} \gamma^{k-t} r_k` with a per-time baseline (the batch mean)
    and advantages scaled by their standard deviation (so the reward's scale does not set
    the step size). Unlike :func:`greedy_reach`, the learner sees sums of rewards over
    whole episodes, so per-frame noise in the reward is averaged away.

    Returns the success rate of the greedy (arg-max) policy over ``n_eval`` fresh
    episodes: the share that comes within the goal radius (0.07) at some step.

    Parameters
    ----------
    reward_fn : callable, as above
    iterations, n_episodes, horizon, cells, n_eval : ints >= 1
    gamma : float in [0, 1]
    lr : float > 0
    seed : int >= 0

    Returns
    -------
    float in [0, 1]
    """
    from creditlab.envs.pointreach import ACCEL, DAMPING, GOAL_RADIUS, LAYOUTS

    if not callable(reward_fn):
        raise TypeError(f"reward_fn must be callable, got {type(reward_fn).__name__}")
    iters = check_int(iterations, "iterations", 1)
    N = check_int(n_episodes, "n_episodes", 1)
    H = check_int(horizon, "horizon", 1)
    C = check_int(cells, "cells", 1)
    n_ev = check_int(n_eval, "n_eval", 1)
    gam = check_real(gamma, "gamma")
    if not 0.0 <= gam <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    step = check_real(lr, "lr")
    if not step > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    sd = check_seed(seed)
    if sd is None:
        raise TypeError("seed must be an int >= 0, got None")
    goals = np.asarray(LAYOUTS["open"]["goals"], np.float64)
    ang = 2 * np.pi * np.arange(8) / 8
    dirs = np.concatenate([np.stack([np.cos(ang), np.sin(ang)], 1), np.zeros((1, 2))])
    theta = np.zeros((len(goals), C * C, len(dirs)))

    def rollout(n: int, rng: np.random.Generator, greedy: bool) -> tuple:
        p, v = rng.uniform(0.03, 0.97, (n, 2)), np.zeros((n, 2))
        gi = rng.integers(0, len(goals), n)
        P, S, A = np.zeros((H, n, 2)), np.zeros((H, n), np.int64), np.zeros((H, n), np.int64)
        reached = np.zeros(n, bool)
        for t in range(H):
            c = np.minimum((p * C).astype(np.int64), C - 1)
            S[t] = c[:, 0] * C + c[:, 1]
            logit = theta[gi, S[t]]
            if greedy:
                A[t] = logit.argmax(1)
            else:
                pr = np.exp(logit - logit.max(1, keepdims=True))
                pr /= pr.sum(1, keepdims=True)
                A[t] = np.minimum((pr.cumsum(1) < rng.uniform(size=(n, 1))).sum(1), len(dirs) - 1)
            v = (1 - DAMPING) * v + ACCEL * dirs[A[t]]
            p = np.clip(p + v, 0.0, 1.0)
            P[t] = p
            reached |= np.linalg.norm(p - goals[gi], axis=1) < GOAL_RADIUS
        return P, S, A, gi, reached

    rng = np.random.default_rng(sd)
    steps = np.arange(H)[:, None]
    for _ in range(iters):
        P, S, A, gi, _ = rollout(N, rng, False)
        r = np.asarray(reward_fn(P, gi), np.float64)
        if r.shape != (H, N):
            raise ValueError(f"reward_fn must return shape {(H, N)}, got {r.shape}")
        if not np.isfinite(r).all():
            raise ValueError("reward_fn returned non-finite rewards")
        G = np.zeros_like(r)
        acc = np.zeros(N)
        for t in range(H - 1, -1, -1):
            acc = r[t] + gam * acc
            G[t] = acc
        adv = G - G.mean(1, keepdims=True)
        adv /= adv.std() + 1e-8
        G_idx = np.broadcast_to(gi, (H, N))
        logit = theta[G_idx, S]
        pr = np.exp(logit - logit.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        grad = -pr * adv[..., None]
        grad[steps, np.arange(N)[None], A] += adv
        cell = (G_idx * C * C + S).ravel()  # accumulate per (goal, cell), as np.add.at
        flat = theta.reshape(-1, len(dirs))
        for k in range(len(dirs)):
            flat[:, k] += np.bincount(cell, grad[..., k].ravel(), len(flat)) * (step / N)
    return float(rollout(n_ev, np.random.default_rng(sd + 1), True)[4].mean())
