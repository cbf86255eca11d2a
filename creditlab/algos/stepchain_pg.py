"""A small, readable policy-gradient trainer for StepChain (book Part II).

One iteration:

1. draw ``n_prompts`` prompts (difficulties) and which of them carry a verifiable answer;
   sample ``group_size`` responses per prompt from the policy (:class:`StepChainBatch`);
2. score every step with the process reward model (PRM) and the outcome with the
   verifier;
3. turn step rewards into returns-to-go with the chosen *credit assignment*
   (:func:`credit_returns`): sum-form, exact min-form, PURE's softmin, mean, Clip,
   Delta, gated accumulation, or outcome only;
4. turn returns into advantages (:func:`advantages`): one group-baselined score per
   response (``"traj"``), or per-step returns minus a group baseline (``"token"``,
   ``"pure_verl"``), optionally whitened over the batch;
5. one policy-gradient update with a token-mean loss: REINFORCE, or PPO's clipped
   surrogate over a few epochs, optionally with a KL penalty to the initial policy.

The policy starts from an "SFT" initialisation (:func:`sft_init`): cross-entropy toward
a sensible but imperfect step distribution. Everything is seeded; the same config and
seed give the same learning curve. torch runs with one thread (tiny models are much
slower with more).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from creditlab._backend import check_int, check_real, check_seed, make_rng
from creditlab.advantages import dr_grpo, grpo, masked_whiten, rloo
from creditlab.envs.stepchain import EVENT_ID, StepChainBatch, StepChainConfig
from creditlab.process_rewards import clip_process, delta_process, gated_accumulate
from creditlab.progress import tqdm
from creditlab.returns import discounted_returns, min_form_returns, softmin_transform
from creditlab.rewards import OutcomeVerifier, ProcessRewardModel, make_prm

__all__ = [
    "CREDITS",
    "MLPPolicy",
    "PGConfig",
    "TrainResult",
    "advantages",
    "credit_returns",
    "evaluate",
    "run_arms",
    "sample_episodes",
    "summarize",
    "sft_init",
    "train",
]

#: credit-assignment modes understood by :func:`credit_returns`
CREDITS = ("sum", "min", "softmin", "mean", "clip", "delta", "gated", "none")
ESTIMATORS = ("traj", "token", "pure_verl", "gae")
#: group baselines of the ``traj`` estimator
BASELINES = ("rloo", "grpo", "dr_grpo")

#: ``reward_fn(episodes, group_size, rng) -> (step_rewards [B, T], outcome [B])``
RewardFn = Callable[["Episodes", int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
#: ``advantage_fn(episodes, group_size, rng) -> advantages [B, T]`` (Chapter 9)
AdvantageFn = Callable[["Episodes", int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class PGConfig:
    r"""Trainer settings (defaults: the PURE toy of ``research/pure.md`` §8).

    Parameters
    ----------
    credit : str
        One of :data:`CREDITS`. ``"none"`` ignores the PRM (verifier-only training).
    temperature : float
        PURE softmin temperature (``credit="softmin"``).
    eta : float
        Clip threshold (``credit="clip"``).
    delta_final : {"drop", "zero", "keep"}
        Last-step rule of Delta (``credit="delta"``; see
        :func:`creditlab.process_rewards.delta_process`). ``"drop"`` is Gao et al.'s.
    gate_threshold : float
        G-RA gate on the outcome reward (``credit="gated"``).
    prm_coef : float
        Weight of the process reward before the credit transform.
    vr_fraction, outcome_coef : float
        Verifiable outcome reward ``outcome_coef * 1[correct]`` on this fraction of prompts,
        added to every step's return after the transform (never softmin-weighted).
    estimator : {"traj", "token", "pure_verl", "gae"}
        ``traj`` (sequence-level credit): A_i = baseline(G_{i,0}) broadcast to every
        step. ``token`` (per-step): A_{i,t} = G_{i,t} - mean_{j != i} G_{j,0}.
        ``pure_verl`` (per-step): PURE's verl estimator,
        A_{i,t} = G_{i,t} - sum_{j != i} sum_t G_{j,t} / ((n-1) * horizon); PURE-style,
        not PURE: one action per step (PURE writes a step's reward on its last token),
        the horizon in place of the padded response length, no KL penalty in the reward.
        ``gae`` (per-step, with a critic): the step rewards implied by the returns,
        :math:`r_t = G_t - G_{t+1}`, a small value network :math:`V(s_t)` (the policy's
        architecture, one output) and GAE with :math:`\gamma = 1`, ``gae_lambda``
        (:func:`creditlab.returns.gae`, Chapter 1); the critic regresses on the
        :math:`\lambda`-returns, ``critic_steps`` Adam steps per iteration.
    gae_lambda : float in [0, 1]
    critic_lr : float
    critic_steps : int
    baseline : {"rloo", "grpo", "dr_grpo"}
        Group baseline of the ``traj`` estimator, applied to each response's score
        :math:`s_i = G_{i,0}`: ``"rloo"`` :math:`s_i - \mathrm{mean}_{j \ne i} s_j`;
        ``"grpo"`` :math:`(s_i - \bar s_g) / (\mathrm{std}_g(s) + \epsilon)`
        (:func:`creditlab.advantages.grpo`); ``"dr_grpo"`` :math:`s_i - \bar s_g`, GRPO
        without the division by the group's std (:func:`creditlab.advantages.dr_grpo`;
        HARMO's training, Chapter 7). Ignored by the other estimators.
    whiten : bool
        Whiten advantages over the batch's steps (this is separate from the baseline:
        ``baseline="grpo", whiten=False`` still divides by each group's std).
    n_prompts, group_size, iterations : int
    lr : float
        Adam learning rate.
    hidden : int
        Width of the policy's hidden layer.
    ppo_clip : float or None
        None: REINFORCE (one update per batch). A float: PPO's clipped surrogate with
        this epsilon, ``ppo_epochs`` passes over the batch.
    ppo_epochs : int
    kl_coef : float
        Weight of the k3 KL estimate to the initial (SFT) policy.
    sft_steps : int
        Cross-entropy steps of the SFT initialisation.
    eval_every, eval_episodes : int
        Evaluate on fresh sampled episodes every ``eval_every`` iterations.
    seed : int
    """

    credit: str = "min"
    temperature: float = 0.1
    eta: float = 0.8
    delta_final: str = "drop"
    gate_threshold: float = 1.0
    prm_coef: float = 1.0
    vr_fraction: float = 0.0
    outcome_coef: float = 1.0
    estimator: str = "traj"
    gae_lambda: float = 0.95
    critic_lr: float = 1e-2
    critic_steps: int = 5
    baseline: str = "rloo"
    whiten: bool = True
    n_prompts: int = 32
    group_size: int = 4
    iterations: int = 300
    lr: float = 3e-3
    hidden: int = 64
    ppo_clip: float | None = None
    ppo_epochs: int = 1
    kl_coef: float = 0.0
    sft_steps: int = 300
    eval_every: int = 10
    eval_episodes: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.credit not in CREDITS:
            raise ValueError(f"credit must be one of {CREDITS}, got {self.credit!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {self.baseline!r}")
        for k in ("n_prompts", "iterations", "hidden", "ppo_epochs", "eval_every",
                  "eval_episodes", "critic_steps"):
            v = getattr(self, k)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{k} must be an integer >= 1, got {v!r}")
        if int(self.group_size) != self.group_size or self.group_size < 2:
            raise ValueError(f"group_size must be an integer >= 2, got {self.group_size!r}")
        if not 0.0 <= self.vr_fraction <= 1.0:
            raise ValueError(f"vr_fraction must be in [0, 1], got {self.vr_fraction!r}")
        if check_real(self.temperature, "temperature") <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        for k in ("eta", "gate_threshold", "prm_coef", "outcome_coef", "kl_coef"):
            check_real(getattr(self, k), k)
        if check_real(self.lr, "lr") <= 0:
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if check_real(self.critic_lr, "critic_lr") <= 0:
            raise ValueError(f"critic_lr must be a finite number > 0, got {self.critic_lr!r}")
        if not 0.0 <= check_real(self.gae_lambda, "gae_lambda") <= 1.0:
            raise ValueError(f"gae_lambda must be in [0, 1], got {self.gae_lambda!r}")
        check_seed(self.seed)
        if self.ppo_clip is not None and not self.ppo_clip > 0:
            raise ValueError(f"ppo_clip must be None or > 0, got {self.ppo_clip!r}")

    def replace(self, **changes: Any) -> PGConfig:
        return replace(self, **changes)


class MLPPolicy(nn.Module):
    """obs -> tanh hidden layer -> logits over step types."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64) -> None:
        for k, v in (("obs_dim", obs_dim), ("n_actions", n_actions), ("hidden", hidden)):
            check_int(v, k, 1)
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, n_actions)
        )

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


# --------------------------------------------------------------------------------------
# SFT initialisation


def sft_targets(config: StepChainConfig, solved: bool) -> np.ndarray:
    """The SFT step distribution: before the work is done (WORK .70, ANSWER .15, the other
    types share .15) and after (ANSWER .75, WORK .10, the others share .15)."""
    names = config.step_types
    others = [s for s in names if s not in ("work", "answer")]
    p = np.zeros(len(names))
    w, a = (0.10, 0.75) if solved else (0.70, 0.15)
    p[names.index("work")], p[names.index("answer")] = w, a
    for s in others:
        p[names.index(s)] = 0.15 / len(others)
    return p / p.sum()


def _all_states(config: StepChainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every reachable (d, p, t) as observations [S, obs_dim] and SFT targets [S, A]."""
    H = config.horizon
    d, p, t = np.meshgrid(np.asarray(config.difficulties), np.arange(H), np.arange(H),
                          indexing="ij")
    keep = p <= t
    d, p, t = d[keep], p[keep], t[keep]
    obs = config.encode(d, p, t)
    targets = np.stack([sft_targets(config, bool(s)) for s in (p >= d)])
    return obs, targets


def sft_init(policy: MLPPolicy, config: StepChainConfig, steps: int = 300,
             lr: float = 3e-3) -> MLPPolicy:
    """Fit ``policy`` by cross-entropy to :func:`sft_targets` on every reachable state."""
    steps = check_int(steps, "steps", 0)
    if check_real(lr, "lr") <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    obs, targets = _all_states(config)
    x = torch.as_tensor(obs)
    y = torch.as_tensor(targets, dtype=torch.float32)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    for _ in range(int(steps)):
        loss = -(y * torch.log_softmax(policy(x), -1)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return policy


# --------------------------------------------------------------------------------------
# Rollouts


@dataclass
class Episodes:
    """A batch of sampled episodes, [B, T] with T = horizon (padding masked out)."""

    obs: np.ndarray        # float32 [B, T, obs_dim]
    actions: np.ndarray    # int64 [B, T]
    events: np.ndarray     # int64 [B, T], -1 on padding
    mask: np.ndarray       # bool [B, T]
    prm: np.ndarray        # float64 [B, T], 0 on padding
    correct: np.ndarray    # bool [B]
    has_vr: np.ndarray     # bool [B]
    difficulty: np.ndarray  # int [B]
    logp: np.ndarray       # float32 [B, T] log-probabilities of the taken actions
    entropy: np.ndarray | None = None  # float32 [B, T] policy entropy at each step (Ch11)

    @property
    def lengths(self) -> np.ndarray:
        return self.mask.sum(1)


def sample_episodes(
    policy: MLPPolicy,
    config: StepChainConfig,
    prm: ProcessRewardModel | None,
    n_prompts: int,
    group_size: int,
    rng: np.random.Generator,
    verifier: OutcomeVerifier | None = None,
    difficulty: int | None = None,
) -> Episodes:
    """Sample ``group_size`` episodes for each of ``n_prompts`` prompts (rows grouped).

    ``difficulty``: None draws each prompt's difficulty from ``config.difficulties``;
    an int gives every prompt that difficulty (no draw). ``prm`` None: no step scores
    (``prm`` is all zeros and no random numbers are drawn for it)."""
    n_prompts = check_int(n_prompts, "n_prompts", 1)
    group_size = check_int(group_size, "group_size", 1)
    B, H = n_prompts * group_size, config.horizon
    core = StepChainBatch(config, B, rng)
    if difficulty is None:
        diff = np.repeat(rng.choice(np.asarray(config.difficulties), n_prompts), group_size)
    else:
        if int(difficulty) not in config.difficulties:
            raise ValueError(f"difficulty must be one of config.difficulties "
                             f"{config.difficulties}, got {difficulty!r}")
        diff = np.full(B, int(difficulty))
    has_vr = np.zeros(B, bool)
    if verifier is not None:
        has_vr = np.repeat(verifier.assign(n_prompts, rng), group_size)
    obs = core.reset(diff)
    X = np.zeros((B, H, config.obs_dim), np.float32)
    A = np.zeros((B, H), np.int64)
    E = np.full((B, H), -1, np.int64)
    M = np.zeros((B, H), bool)
    L = np.zeros((B, H), np.float32)
    Hs = np.zeros((B, H), np.float32)
    with torch.no_grad():
        for t in range(H):
            active = ~core.done
            if not active.any():
                break
            logits = policy(torch.as_tensor(obs))
            logp_all = torch.log_softmax(logits, -1).numpy()
            cdf = np.cumsum(np.exp(logp_all), 1)
            a = (rng.random((B, 1)) * cdf[:, -1:] > cdf).sum(1)
            a = np.minimum(a, config.n_actions - 1)
            X[:, t], A[:, t], M[:, t] = obs, a, active
            L[:, t] = logp_all[np.arange(B), a]
            Hs[:, t] = -(np.exp(logp_all) * logp_all).sum(1) * active
            obs, ev, _ = core.step(a)
            E[:, t] = ev
    P = prm.score(E, rng) if prm is not None else np.zeros((B, H))
    return Episodes(X, A, E, M, P, core.correct.copy(), has_vr, diff, L, Hs)


# --------------------------------------------------------------------------------------
# Credit assignment and advantages


def credit_returns(
    prm: np.ndarray,
    mask: np.ndarray,
    outcome: np.ndarray,
    config: PGConfig,
) -> np.ndarray:
    r"""Returns-to-go G [B, T] (gamma = 1) under ``config.credit``.

    With step rewards :math:`r` (``prm * prm_coef``, 0 on padding) and outcome reward
    :math:`o` (added after the transform, so it reaches every step):

    ==========  ==============================================================
    sum         :math:`G_t = \sum_{k \ge t} r_k + o`
    min         :math:`G_t = \min_{k \ge t} r_k + o` (exact min-form value)
    softmin     :math:`G_t = \sum_{k \ge t} w_k r_k + o`, :math:`w = \mathrm{softmax}(-r/T)`
    mean        :math:`G_t = \sum_{k \ge t} r_k / K + o`
    clip        :math:`G_t = \sum_{k \ge t} \min(r_k - \eta, 0) + o`
    delta       :math:`G_t = r_t + o` before the last step, :math:`o` on it
                (``delta_final="drop"``; ``"zero"``: :math:`r_t - r_K + o`)
    gated       :math:`G_t = \mathbb 1[o \ge \delta] \sum_{k \ge t} r_k + o`
    none        :math:`G_t = o`
    ==========  ==============================================================

    Padding positions (mask False) get 0.
    """
    r = np.where(mask, prm * config.prm_coef, 0.0)
    o = np.asarray(outcome, np.float64)[:, None]
    c = config.credit
    if c == "sum":
        G = discounted_returns(r, 1.0, response_mask=mask) + o
    elif c == "min":
        G = min_form_returns(r, response_mask=mask) + o
    elif c == "softmin":
        G = discounted_returns(softmin_transform(r, config.temperature, response_mask=mask),
                               1.0, response_mask=mask) + o
    elif c == "mean":
        K = np.maximum(mask.sum(1, keepdims=True), 1)
        G = discounted_returns(r / K, 1.0, response_mask=mask) + o
    elif c == "clip":
        G = discounted_returns(clip_process(r, config.eta, response_mask=mask), 1.0,
                               response_mask=mask) + o
    elif c == "delta":
        G = discounted_returns(
            delta_process(r, response_mask=mask, final_step=config.delta_final), 1.0,
            response_mask=mask) + o
    elif c == "gated":
        G = discounted_returns(
            gated_accumulate(r, o[:, 0], config.gate_threshold, response_mask=mask),
            1.0, response_mask=mask)
    else:
        G = np.broadcast_to(o, r.shape).copy()
    return np.where(mask, G, 0.0)


def advantages(G: np.ndarray, mask: np.ndarray, group_size: int, config: PGConfig) -> np.ndarray:
    """Advantages [B, T] from returns-to-go (rows in consecutive groups of ``group_size``)."""
    B, T = G.shape
    n = group_size
    if config.estimator == "gae":
        raise ValueError("estimator='gae' needs a critic's values: train() computes it")
    index = np.arange(B) // n
    if config.estimator == "traj":
        score = G[:, 0]
        a = {"rloo": rloo, "grpo": grpo, "dr_grpo": dr_grpo}[config.baseline](score, index)
        A = np.broadcast_to(a[:, None], (B, T)).astype(np.float64)
    elif config.estimator == "token":
        g0 = G[:, 0].reshape(-1, n)
        loo = ((g0.sum(1, keepdims=True) - g0) / (n - 1)).reshape(-1)
        A = G - loo[:, None]
    else:  # PURE's verl estimator: per-token return minus the others' mean token return
        tot = np.where(mask, G, 0).sum(1).reshape(-1, n)
        b = ((tot.sum(1, keepdims=True) - tot) / ((n - 1) * T)).reshape(-1)
        A = G - b[:, None]
    if config.whiten and mask.sum() > 1:
        A = masked_whiten(np.ascontiguousarray(A), mask)
    return np.where(mask, A, 0.0)


# --------------------------------------------------------------------------------------
# Evaluation and training


def episode_stats(ep: Episodes, step_types: tuple[str, ...] = ()) -> dict[str, float]:
    """accuracy, steps, filler / repeat fractions of steps, premature and truncation rates,
    answer rate, and the PRM sum and min per episode (means over episodes).

    For each of Chapter 7's step types ``"decompose"``, ``"pattern"`` and ``"guess"`` that
    is in ``step_types`` (the environment's, in action order), the fraction of episodes
    that contain one is added under its name."""
    steps = ep.mask.sum()
    ev = ep.events
    n_f = (ev == EVENT_ID["filler"]).sum()
    n_r = ((ev == EVENT_ID["repeat"]) | (ev == EVENT_ID["repeat_error"])).sum()
    prm_min = np.where(ep.mask, ep.prm, np.inf).min(1)
    return {
        "accuracy": float(ep.correct.mean()),
        "steps": float(ep.lengths.mean()),
        "filler": float(n_f / max(steps, 1)),
        "repeat": float(n_r / max(steps, 1)),
        "premature": float((ev == EVENT_ID["answer_premature"]).any(1).mean()),
        "truncated": float((ev == EVENT_ID["truncated"]).any(1).mean()),
        "prm_sum": float(ep.prm.sum(1).mean()),
        "prm_min": float(prm_min[np.isfinite(prm_min)].mean()) if steps else 0.0,
    } | {
        name: float(((ep.actions == step_types.index(name)) & ep.mask).any(1).mean())
        for name in ("decompose", "pattern", "guess") if name in step_types
    }


def evaluate(policy: MLPPolicy, config: StepChainConfig, prm: ProcessRewardModel,
             n_episodes: int = 2000, seed: int = 0) -> dict[str, float]:
    """:func:`episode_stats` on ``n_episodes`` fresh sampled episodes (one per prompt)."""
    n_episodes = check_int(n_episodes, "n_episodes", 1)
    rng = make_rng(seed)
    ep = sample_episodes(policy, config, prm, n_episodes, 1, rng)
    return episode_stats(ep, config.step_types)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history`` maps each :func:`episode_stats` key (plus ``"iteration"``) to an array
    over evaluations (the first at iteration 0, before any update); ``final`` is the
    last evaluation; ``policy`` the trained policy.
    """

    history: dict[str, np.ndarray]
    final: dict[str, float]
    policy: MLPPolicy
    config: PGConfig
    env_config: StepChainConfig
    prm: ProcessRewardModel
    extras: dict[str, Any] = field(default_factory=dict)


def train(
    env_config: StepChainConfig | None = None,
    prm: ProcessRewardModel | str = "filler",
    config: PGConfig | None = None,
    *,
    progress: bool = True,
    reward_fn: RewardFn | None = None,
    advantage_fn: AdvantageFn | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a policy on StepChain with the chosen credit assignment.

    Parameters
    ----------
    env_config : StepChainConfig, optional
        Default ``StepChainConfig()`` (work / filler / answer, d in {1, 2, 3}, horizon 10,
        error rate 0.1, policy sees d and p).
    prm : ProcessRewardModel or preset name
    config : PGConfig, optional
    progress : bool
        Show a tqdm bar.
    reward_fn : callable, optional
        ``reward_fn(episodes, group_size, rng) -> (step_rewards [B, T], outcome [B])``
        replaces the PRM scores (``episodes.prm``) and the verifier's outcome reward
        before :func:`credit_returns` (Chapter 7 mixes, normalises and corrupts rewards
        here). Rows come in consecutive groups of ``group_size`` responses to one prompt;
        ``rng`` is the trainer's generator. Evaluation is unchanged (true accuracy).
        Non-finite rewards (NaN or inf) on active steps or in the outcome raise
        ``ValueError``; values on padding are ignored.
    advantage_fn : callable, optional
        ``advantage_fn(episodes, group_size, rng) -> advantages [B, T]`` replaces the
        whole credit step (PRM scores, :func:`credit_returns` and :func:`advantages`):
        Chapter 9's learned implicit rewards (:mod:`creditlab.algos.implicit_credit`)
        read the episodes, update their own reward model and return the advantages the
        policy step uses. Cannot be combined with ``reward_fn``.
    **overrides
        PGConfig fields, e.g. ``credit="sum", seed=1``.

    Returns
    -------
    TrainResult
    """
    if reward_fn is not None and advantage_fn is not None:
        raise ValueError("pass reward_fn or advantage_fn, not both")
    if advantage_fn is not None and not callable(advantage_fn):
        raise TypeError(f"advantage_fn must be callable, got {type(advantage_fn).__name__}")
    env_config = env_config or StepChainConfig()
    prm = make_prm(prm) if isinstance(prm, str) else prm
    config = (config or PGConfig()).replace(**overrides) if overrides else (config or PGConfig())
    torch.set_num_threads(1)
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    torch.manual_seed(int(seeds[0].generate_state(1)[0]))
    rng = np.random.default_rng(seeds[1])
    eval_seed = int(seeds[2].generate_state(1)[0])
    verifier = OutcomeVerifier(config.vr_fraction, config.outcome_coef)

    policy = MLPPolicy(env_config.obs_dim, env_config.n_actions, config.hidden)
    sft_init(policy, env_config, config.sft_steps)
    ref = copy.deepcopy(policy).requires_grad_(False) if config.kl_coef > 0 else None
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
    critic = critic_opt = None
    if config.estimator == "gae":
        critic = MLPPolicy(env_config.obs_dim, 1, config.hidden)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=config.critic_lr)

    hist: dict[str, list[float]] = {}

    def log(it: int) -> None:
        stats = evaluate(policy, env_config, prm, config.eval_episodes, eval_seed + it)
        hist.setdefault("iteration", []).append(it)
        for k, v in stats.items():
            hist.setdefault(k, []).append(v)

    log(0)
    bar = tqdm(range(1, config.iterations + 1), disable=not progress, leave=False,
               desc=f"{config.credit} seed {config.seed}")
    for it in bar:
        ep = sample_episodes(policy, env_config, prm, config.n_prompts, config.group_size,
                             rng, verifier)
        if advantage_fn is not None:
            A = _call_advantage_fn(advantage_fn, ep, config.group_size, rng)
            _update(policy, opt, ep, A, config, ref)
            if it % config.eval_every == 0 or it == config.iterations:
                log(it)
            continue
        if reward_fn is None:
            step_r, outcome = ep.prm, verifier.reward(ep.correct, ep.has_vr)
        else:
            step_r, outcome = _call_reward_fn(reward_fn, ep, config.group_size, rng)
        G = credit_returns(step_r, ep.mask, outcome, config)
        if critic is not None:
            A = _gae_step(critic, critic_opt, ep, G, config)
        else:
            A = advantages(G, ep.mask, config.group_size, config)
        _update(policy, opt, ep, A, config, ref)
        if it % config.eval_every == 0 or it == config.iterations:
            log(it)
    history = {k: np.asarray(v) for k, v in hist.items()}
    final = {k: float(v[-1]) for k, v in history.items() if k != "iteration"}
    return TrainResult(history, final, policy, config, env_config, prm)


def _gae_step(critic: MLPPolicy, critic_opt: torch.optim.Optimizer, ep: Episodes,
              G: np.ndarray, config: PGConfig) -> np.ndarray:
    """GAE advantages [B, T] from returns G (r_t = G_t - G_{t+1}) and the critic's values;
    then ``config.critic_steps`` regression steps of the critic on the lambda-returns."""
    from creditlab.returns import gae

    m = ep.mask
    r = G - np.concatenate([G[:, 1:], np.zeros((len(G), 1))], 1)
    r = np.where(m, r, 0.0)
    x = torch.as_tensor(ep.obs)
    with torch.no_grad():
        V = critic(x)[..., 0].numpy().astype(np.float64)
    A, ret = gae(r, np.where(m, V, 0.0), 1.0, config.gae_lambda, response_mask=m)
    xm = x[torch.as_tensor(m)]
    target = torch.as_tensor(ret[m], dtype=torch.float32)
    for _ in range(config.critic_steps):
        loss = ((critic(xm)[:, 0] - target) ** 2).mean()
        critic_opt.zero_grad()
        loss.backward()
        critic_opt.step()
    if config.whiten and m.sum() > 1:
        A = masked_whiten(np.ascontiguousarray(A), m)
    return np.where(m, A, 0.0)


def _call_advantage_fn(advantage_fn: AdvantageFn, ep: Episodes, group_size: int,
                       rng: np.random.Generator) -> np.ndarray:
    A = np.asarray(advantage_fn(ep, group_size, rng), np.float64)
    if A.shape != ep.mask.shape:
        raise ValueError(f"advantage_fn must return advantages of shape {ep.mask.shape}, "
                         f"got {A.shape}")
    if (~np.isfinite(A) & ep.mask).any():
        raise ValueError("advantage_fn returned non-finite advantages (NaN or inf)")
    return np.where(ep.mask, A, 0.0)


def _call_reward_fn(reward_fn: RewardFn, ep: Episodes, group_size: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    out = reward_fn(ep, group_size, rng)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("reward_fn must return a pair (step_rewards [B, T], outcome [B])")
    B, T = ep.mask.shape
    step_r = np.asarray(out[0], np.float64)
    outcome = np.asarray(out[1], np.float64)
    if step_r.shape != (B, T) or outcome.shape != (B,):
        raise ValueError(f"reward_fn must return step_rewards of shape {(B, T)} and outcome of "
                         f"shape {(B,)}, got {step_r.shape} and {outcome.shape}")
    # padding positions are ignored (credit_returns zeroes them), so only active steps count
    bad_steps = ~np.isfinite(step_r) & ep.mask
    if bad_steps.any() or not np.isfinite(outcome).all():
        where = "step_rewards" if bad_steps.any() else "outcome"
        raise ValueError(f"reward_fn returned non-finite {where} (NaN or inf); the trainer "
                         "would turn them into NaN weights")
    return step_r, outcome


def _update(policy: MLPPolicy, opt: torch.optim.Optimizer, ep: Episodes, A: np.ndarray,
            config: PGConfig, ref: MLPPolicy | None, offpolicy: np.ndarray | None = None,
            gamma: float = 1.0, policy_input: Callable[[nn.Module], nn.Module] | None = None,
            ) -> None:
    r"""One policy update on a batch (token-mean loss, ``A`` [B, T] per token).

    ``offpolicy`` (bool [B], optional): rows written by another policy (a guide, or the
    policy under a hint); their tokens use the unclipped shaped loss
    :math:`-A\,\rho/(\rho + \gamma)` (:func:`creditlab.algos.guided.offpolicy_token_loss`)
    instead of the surrogate. ``policy_input`` (optional) maps ``policy`` to the module
    that is called on the batch's masked tokens (e.g. one that appends per-token hints)."""
    m = torch.as_tensor(ep.mask)
    x = torch.as_tensor(ep.obs)[m]
    act = torch.as_tensor(ep.actions)[m]
    adv = torch.as_tensor(A, dtype=torch.float32)[m]
    old = torch.as_tensor(ep.logp)[m]
    net = policy_input(policy) if policy_input is not None else policy
    is_off = None
    if offpolicy is not None:
        is_off = torch.as_tensor(np.broadcast_to(np.asarray(offpolicy, bool)[:, None],
                                                 ep.mask.shape).copy())[m]
    ref_logp = None
    if ref is not None:
        with torch.no_grad():
            ref_logp = torch.log_softmax(ref(x), -1).gather(1, act[:, None])[:, 0]
    for _ in range(config.ppo_epochs if config.ppo_clip is not None else 1):
        logp = torch.log_softmax(net(x), -1).gather(1, act[:, None])[:, 0]
        if config.ppo_clip is None:
            surrogate = adv * logp  # REINFORCE (on-policy, one update)
        else:
            ratio = torch.exp(logp - old)
            eps = config.ppo_clip
            surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv)
        if is_off is not None:
            rho = torch.exp(logp - old)
            surrogate = torch.where(is_off, adv * rho / (rho + gamma), surrogate)
        loss = -surrogate.mean()  # token-mean over the batch's steps
        if ref_logp is not None:
            d = ref_logp - logp
            loss = loss + config.kl_coef * (torch.exp(d) - d - 1).mean()  # k3 estimator
        opt.zero_grad()
        loss.backward()
        opt.step()


def config_dict(config: PGConfig) -> dict[str, Any]:
    return asdict(config)


def run_arms(
    arms: dict[str, dict[str, Any]],
    seeds: Iterable[int],
    env_config: StepChainConfig | None = None,
    prm: ProcessRewardModel | str = "filler",
    **common: Any,
) -> dict[str, list[TrainResult]]:
    """Train every arm (a dict of :class:`PGConfig` overrides) on every seed.

    Shows one progress bar over all runs. ``common`` holds overrides shared by all arms.
    An arm (or ``common``) may also name a ``reward_fn`` (see :func:`train`).

    Returns
    -------
    dict
        ``{arm name: [TrainResult per seed]}``.
    """
    seeds = list(seeds)
    out: dict[str, list[TrainResult]] = {name: [] for name in arms}
    with tqdm(total=len(arms) * len(seeds), desc="runs") as bar:
        for name, kw in arms.items():
            for s in seeds:
                bar.set_postfix_str(f"{name}, seed {s}")
                out[name].append(train(env_config, prm, progress=False, seed=s,
                                       **{**common, **kw}))  # reward_fn passes through
                bar.update()
    return out


def summarize(results: dict[str, list[TrainResult]],
              keys: Iterable[str] = ("accuracy", "steps", "filler", "premature", "truncated"),
              ) -> dict[str, dict[str, np.ndarray]]:
    """Final metrics as arrays over seeds: ``{arm: {key: array [n_seeds]}}``; also prints a
    table of mean +- sd."""
    keys = list(keys)
    table = {arm: {k: np.array([r.final[k] for r in runs]) for k in keys}
             for arm, runs in results.items()}
    width = max(len(a) for a in table) + 2
    print("arm".ljust(width) + "".join(k.rjust(14) for k in keys))
    for arm, cols in table.items():
        print(arm.ljust(width) + "".join(
            f"{cols[k].mean():8.3f}±{cols[k].std():.3f}".rjust(14) for k in keys))
    return table
