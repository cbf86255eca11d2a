r"""Learning from one's own past and future: guided and borrowed samples in a GRPO group
(book Chapter 17).

Three pieces, each usable on its own, and two small StepChain loops built from the
Part II trainer's parts (:func:`creditlab.algos.stepchain_pg.sample_episodes`, with its
``difficulty=`` for re-attempts; its ``_update``, with its off-policy row mask;
:class:`~creditlab.algos.stepchain_pg.MLPPolicy`, :func:`creditlab.advantages.grpo`):

``improvement_bonus``
    HeRL's bonus (Zhang et al. 2026, pinned from the released code):
    :math:`r_i \leftarrow r_i + \alpha\,(r_i^{guided} - r_i)`, :math:`\alpha = 0.05`.
``offpolicy_token_loss``
    the loss on inserted (off-policy) tokens, :math:`-A\,\rho/(\rho + \gamma)` with
    :math:`\rho = \pi_\theta/\pi_{behaviour}` per token, no clipping (HeRL's
    ``mixpolicy_vanilla``; the same shaping as LUFFY's).
``signal_quality``
    NPO-style :math:`S = Q/V` (Near-Future Policy Optimization, 2026): a guide is worth
    mixing when it knows something new (:math:`Q`) and is close (:math:`V`). The paper's
    estimators were not found; ours are reconstructed (:func:`guide_gain`,
    :func:`ratio_second_moment`), hence "NPO-style".

:func:`train_hindsight` is HeRL-style GRPO on a rubric-scored StepChain with a
hint-conditioned policy; :func:`train_with_guide` is GRPO on StepChain that mixes verified
trajectories of a guide policy (a later checkpoint, a past one, a far teacher) into each
group, and :func:`guide_signal` measures Q, V and S of candidate guides;
:func:`train_self_rewarding` is iterative self-rewarding DPO on a
:class:`~creditlab.models.TinyTextLM` (:class:`WordTask`, a noisy judge) with the pairs of
:func:`creditlab.prefs.build_pairs` in ``"self"`` or ``"temporal"`` mode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from creditlab._backend import (
    check_int,
    check_nonnegative,
    check_positive,
    check_unit_interval,
    make_rng,
    number_array,
)
from creditlab.advantages import grpo
from creditlab.algos.stepchain_pg import Episodes, MLPPolicy, sample_episodes, sft_targets
from creditlab.envs.stepchain import StepChainConfig
from creditlab.progress import tqdm
from creditlab.rewards import make_prm

__all__ = [
    "RUBRIC_ITEMS",
    "GuideResult",
    "HindsightResult",
    "ScriptedPolicy",
    "SelfRewardResult",
    "WordTask",
    "dpo_train",
    "guide_gain",
    "guide_signal",
    "improvement_bonus",
    "load_policy",
    "offpolicy_token_loss",
    "ratio_second_moment",
    "rubric_items",
    "signal_quality",
    "train_hindsight",
    "train_self_rewarding",
    "train_with_guide",
]


# --------------------------------------------------------------------------------------
# the three formulas


def improvement_bonus(r: Any, r_guided: Any, alpha: float = 0.05) -> np.ndarray:
    r"""HeRL's improvement-potential bonus (pinned from the released code).

    .. math:: r_i \leftarrow r_i + \alpha\,(r_i^{guided} - r_i)

    Parameters
    ----------
    r : float array [N]
        Rewards of the original (plain) responses.
    r_guided : float array [N]
        Best reward of a guided revision of each response; NaN where no revision was
        attempted (the reward is returned unchanged there).
    alpha : float >= 0
        ``reward_shaping_alpha``; 0.05 in the paper's runs.

    Returns
    -------
    float64 array [N]
        A new array (the inputs are not modified).
    """
    alpha = check_nonnegative(alpha, "alpha")
    r = number_array(r, "r").astype(np.float64)
    g = number_array(r_guided, "r_guided").astype(np.float64)
    if g.shape != r.shape:
        raise ValueError(f"r_guided must have the shape of r {r.shape}, got {g.shape}")
    if not np.isfinite(r).all():
        raise ValueError("r must be finite")
    if np.isinf(g).any():
        raise ValueError("r_guided must be finite or NaN (no revision)")
    return np.where(np.isnan(g), r, r + alpha * (np.nan_to_num(g) - r))


def offpolicy_token_loss(logp: torch.Tensor, logp_behaviour: torch.Tensor, adv: torch.Tensor,
                         mask: torch.Tensor | None = None, gamma: float = 1.0) -> torch.Tensor:
    r"""HeRL's loss on inserted (off-policy) tokens, token-mean over the mask.

    .. math:: L = -\frac{1}{\sum m}\sum_t m_t\, A_t\,\frac{\rho_t}{\rho_t + \gamma},\qquad
              \rho_t = \exp(\log\pi_\theta(a_t) - \log\pi_b(a_t))

    No clipping. The gradient is :math:`A\,\gamma\rho/(\rho+\gamma)^2\,\nabla\log\pi_\theta`:
    largest near :math:`\rho = \gamma`, small both for tokens the learner finds unlikely
    (:math:`\rho \to 0`) and for tokens it already prefers (:math:`\rho \gg 1`).

    Parameters
    ----------
    logp : torch float [N] or [B, T] (numpy arrays are converted)
        Log-probabilities of the tokens under the learner (with gradient).
    logp_behaviour : same shape
        Log-probabilities under the policy that wrote them (detached).
    adv : same shape
        Advantages.
    mask : bool, same shape, optional
    gamma : float > 0
        ``he_shaping_gamma`` = 1 in the paper.

    NaN or inf in the inputs propagate into the loss (as in :mod:`creditlab.prefs`).

    Returns
    -------
    torch scalar
    """
    gamma = check_positive(gamma, "gamma")
    logp = _float_tensor(logp, "logp")
    logp_behaviour = _float_tensor(logp_behaviour, "logp_behaviour")
    adv = _float_tensor(adv, "adv")
    if logp_behaviour.shape != logp.shape or adv.shape != logp.shape:
        raise ValueError(f"logp_behaviour and adv must have the shape of logp "
                         f"{tuple(logp.shape)}, got {tuple(logp_behaviour.shape)} and "
                         f"{tuple(adv.shape)}")
    if mask is not None:
        mask = _bool_tensor(mask, "mask")
        if mask.shape != logp.shape:
            raise ValueError(f"mask must have the shape of logp {tuple(logp.shape)}, got "
                             f"{tuple(mask.shape)}")
    logp_behaviour = logp_behaviour.to(logp.dtype)
    adv = adv.to(logp.dtype)
    rho = torch.exp(logp - logp_behaviour.detach())
    term = adv * rho / (rho + gamma)
    if mask is None:
        return -term.mean()
    m = mask.to(term.dtype)
    return -(term * m).sum() / m.sum().clamp_min(1.0)


def _float_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
        return x
    return torch.as_tensor(number_array(x, name))


def _bool_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if x.dtype != torch.bool:
            raise TypeError(f"{name} must be a bool tensor, got {x.dtype}")
        return x
    from creditlab._backend import bool_array

    return torch.as_tensor(np.array(bool_array(x, name)))


def signal_quality(q: Any, v: Any) -> np.ndarray:
    r"""NPO's signal quality :math:`S = Q / V` (elementwise).

    Parameters
    ----------
    q : float array [K] (>= 0)
        How much the guide knows that the learner does not (:func:`guide_gain`).
    v : float array [K] (> 0)
        How costly its samples are to absorb (:func:`ratio_second_moment`, >= 1).

    Returns
    -------
    float64 array [K]
    """
    q = number_array(q, "q").astype(np.float64)
    v = number_array(v, "v").astype(np.float64)
    if q.shape != v.shape:
        raise ValueError(f"q and v must have the same shape, got {q.shape} and {v.shape}")
    if not np.isfinite(q).all() or (q < 0).any():
        raise ValueError("q must be finite and >= 0")
    if not np.isfinite(v).all() or (v <= 0).any():
        raise ValueError("v must be finite and > 0")
    return q / v


def guide_gain(success_learner: Any, success_guide: Any) -> float:
    r"""NPO-style :math:`Q`: how much more often the guide succeeds where the learner fails.

    .. math:: Q = \max\Big(0,\ \frac{\sum_j (1 - s^{L}_j)\,(s^{G}_j - s^{L}_j)}
              {\sum_j (1 - s^{L}_j)}\Big)

    with :math:`s^L_j, s^G_j \in [0, 1]` the learner's and the guide's success rates on
    probe prompt ``j``. A guide identical to the learner has :math:`Q \approx 0`.
    Reconstructed ("new knowledge": the paper's estimator is not public). 0 when the
    learner fails nowhere.

    Parameters
    ----------
    success_learner, success_guide : float arrays [J] in [0, 1]
    """
    a = number_array(success_learner, "success_learner").astype(np.float64)
    b = number_array(success_guide, "success_guide").astype(np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"success_learner and success_guide must be 1-d of one shape, got "
                         f"{a.shape} and {b.shape}")
    for name, x in (("success_learner", a), ("success_guide", b)):
        if not np.isfinite(x).all() or (x < 0).any() or (x > 1).any():
            raise ValueError(f"{name} must be in [0, 1]")
    w = 1.0 - a
    return float(max(0.0, (w * (b - a)).sum() / w.sum())) if w.sum() > 0 else 0.0


def ratio_second_moment(logp_learner: Any, logp_guide: Any, mask: Any | None = None) -> float:
    r"""NPO-style :math:`V`: the second moment of the per-token importance ratio on the
    guide's own tokens.

    .. math:: V = \mathbb E_{a \sim \pi_G}\Big[\big(\pi_\theta(a)/\pi_G(a)\big)^2\Big]
              \approx \frac{1}{\sum m}\sum_t m_t\, e^{2(\log\pi_\theta - \log\pi_G)}

    This estimates :math:`1 + \chi^2(\pi_\theta \| \pi_G)` under the guide, so
    :math:`V \ge 1` in expectation with equality iff the two policies agree: the
    variance cost of importance-weighting the guide's samples (reconstructed).

    Parameters
    ----------
    logp_learner, logp_guide : float arrays [B, T] (or [N])
        Log-probabilities of the guide's sampled tokens under the learner and the guide.
    mask : bool array of the same shape, optional
    """
    a = number_array(logp_learner, "logp_learner").astype(np.float64)
    b = number_array(logp_guide, "logp_guide").astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"logp_learner and logp_guide must have one shape, got {a.shape} "
                         f"and {b.shape}")
    from creditlab._backend import bool_array

    m = np.ones(a.shape, bool) if mask is None else np.asarray(bool_array(mask, "mask"))
    if m.shape != a.shape:
        raise ValueError(f"mask must have shape {a.shape}, got {m.shape}")
    if not m.any():
        raise ValueError("mask selects no tokens")
    for name, x in (("logp_learner", a), ("logp_guide", b)):
        if not np.isfinite(x[m]).all():
            raise ValueError(f"{name} must be finite on the mask")
    return float(np.exp(2.0 * (a[m] - b[m])).mean())


# --------------------------------------------------------------------------------------
# HeRL-style: a rubric on StepChain and a hint-conditioned policy

#: the rubric of :func:`rubric_items`, in column order
RUBRIC_ITEMS = ("correct", "plan", "verify", "concise")
HINT_STEP_TYPES = ("work", "filler", "answer", "decompose", "pattern")


def rubric_items(ep: Episodes, config: StepChainConfig, slack: int = 3) -> np.ndarray:
    """The K = 4 rubric items of Chapter 17's StepChain, bool [B, 4]:

    ``correct``  the answer is correct; ``plan``  the first step is DECOMPOSE ("split the
    problem first"); ``verify``  a PATTERN step ("let me verify") is written after the
    work is done (progress >= d); ``concise``  at most ``d + slack`` steps.

    ``config.step_types`` must contain ``"decompose"`` and ``"pattern"``.
    """
    st = config.step_types
    if "decompose" not in st or "pattern" not in st:
        raise ValueError("config.step_types must contain 'decompose' and 'pattern'")
    check_int(slack, "slack", 0)
    m, a = ep.mask, ep.actions
    work = (a == st.index("work")) & m
    progress_before = np.cumsum(work, 1) - work  # progress before each step
    done_before = progress_before >= ep.difficulty[:, None]
    plan = (a[:, 0] == st.index("decompose")) & m[:, 0]
    verify = ((a == st.index("pattern")) & m & done_before).any(1)
    concise = ep.lengths <= ep.difficulty + slack
    return np.stack([ep.correct, plan, verify, concise], 1)


class HintedPolicy(nn.Module):
    """A policy that reads an optional hint: ``net(concat(obs, hint))``.

    ``net`` is an :class:`MLPPolicy` over ``obs_dim + K`` inputs; :meth:`with_hints`
    returns a view that appends fixed per-row hints (zeros = the plain prompt), so that
    :func:`sample_episodes` can sample guided re-attempts unchanged.
    """

    def __init__(self, obs_dim: int, n_actions: int, n_hints: int, hidden: int = 64) -> None:
        super().__init__()
        self.n_hints = check_int(n_hints, "n_hints", 1)
        self.net = MLPPolicy(obs_dim + n_hints, n_actions, hidden)

    def forward(self, obs: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        if hint is None:
            hint = obs.new_zeros(*obs.shape[:-1], self.n_hints)
        return self.net(torch.cat([obs, hint.expand(*obs.shape[:-1], self.n_hints)], -1))

    def with_hints(self, hints: np.ndarray) -> nn.Module:
        h = torch.as_tensor(np.asarray(hints, np.float32))
        parent = self

        class _View(nn.Module):
            def forward(self, obs: torch.Tensor) -> torch.Tensor:
                return parent(obs, h)

        return _View()


def _hint_targets(config: StepChainConfig, base: np.ndarray, d: np.ndarray, p: np.ndarray,
                  t: np.ndarray, hint: np.ndarray, strength: float) -> np.ndarray:
    """SFT targets [S, A] under a hint: the base targets mixed with the hinted step,
    ``(1 - strength) * base + strength * onehot`` (the base model's partial instruction
    following)."""
    st = config.step_types
    y = base.copy()
    solved = p >= d
    s = strength

    def mix(rows: np.ndarray, action: str) -> None:
        one = np.zeros(len(st))
        one[st.index(action)] = 1.0
        y[rows] = (1 - s) * y[rows] + s * one

    mix(hint[:, 0] & ~solved, "work")            # correct: work until done ...
    mix(hint[:, 0] & solved, "answer")           # ... then answer
    y[hint[:, 3], st.index("filler")] *= 1 - s   # concise: less filler
    mix(hint[:, 2] & solved, "pattern")          # verify once the work is done
    mix(hint[:, 1] & (t == 0), "decompose")      # plan: split the problem first
    return y / y.sum(1, keepdims=True)


def hinted_sft_init(policy: HintedPolicy, config: StepChainConfig, steps: int = 600,
                    lr: float = 1e-2, strength: float = 0.6, rare: float = 1.0
                    ) -> HintedPolicy:
    """SFT of a :class:`HintedPolicy`: the Part II SFT targets
    (:func:`~creditlab.algos.stepchain_pg.sft_targets`) without a hint, and the same
    targets reweighted toward the hinted items with a hint (a base model that follows
    hints partly: ``strength`` sets how much). ``rare`` scales the SFT probability of
    DECOMPOSE and PATTERN (the behaviours the rubric asks for). Every reachable (d, p, t)
    x every hint pattern, cross-entropy, Adam."""
    steps = check_int(steps, "steps", 0)
    strength = check_unit_interval(strength, "strength")
    check_positive(lr, "lr")
    H, K = config.horizon, policy.n_hints
    d, p, t = np.meshgrid(np.asarray(config.difficulties), np.arange(H), np.arange(H),
                          indexing="ij")
    keep = p <= t
    d, p, t = d[keep], p[keep], t[keep]
    obs = config.encode(d, p, t)
    base = np.stack([sft_targets(config, bool(s)) for s in (p >= d)])
    for name in ("decompose", "pattern"):
        base[:, config.step_types.index(name)] *= check_positive(rare, "rare")
    hints = np.array([[(j >> i) & 1 for i in range(K)] for j in range(2 ** K)], bool)
    X, Y = [], []
    for h in hints:
        hh = np.broadcast_to(h, (len(d), K))
        y = _hint_targets(config, base, d, p, t, hh, strength)
        X.append(np.concatenate([obs, hh.astype(np.float32)], 1))
        Y.append(y / y.sum(1, keepdims=True))
    x = torch.as_tensor(np.concatenate(X))
    y = torch.as_tensor(np.concatenate(Y), dtype=torch.float32)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    for _ in range(steps):
        loss = -(y * torch.log_softmax(policy.net(x), -1)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return policy


@dataclass
class HindsightResult:
    """What :func:`train_hindsight` returns: ``history`` maps ``iteration``,
    ``rubric`` (mean fraction of items met, plain prompts), ``full`` (fraction with every
    item met), ``rubric_hinted`` (after one hinted re-attempt of each failure at test
    time, the better of the two), ``rubric_retry`` (the same with an *unhinted* second
    sample: the control for ``rubric_hinted``), ``zero_var`` (fraction of training groups
    whose rubric scores are all equal, measured after the bonus and the insertion, so
    lowered by construction in the HeRL-style arm) and ``inserted`` (revisions inserted
    per iteration) to arrays over evaluations. ``extras["zero_var_sampled"]``: for every
    training iteration, the fraction of *sampled* groups (before any bonus or insertion)
    whose scores are all equal."""

    history: dict[str, np.ndarray]
    policy: HintedPolicy
    extras: dict[str, Any] = field(default_factory=dict)


def _rubric_score(ep: Episodes, config: StepChainConfig) -> tuple[np.ndarray, np.ndarray]:
    items = rubric_items(ep, config)
    return items.mean(1), items


def evaluate_rubric(policy: HintedPolicy, config: StepChainConfig, n: int, seed: int,
                    ) -> dict[str, float]:
    """Plain rubric satisfaction, full-rubric rate, and the test-time hinted
    self-improvement: every response that misses an item is re-attempted once with its
    unmet items as the hint and the better score is kept (``rubric_hinted``). The control
    ``rubric_retry`` re-attempts the same responses once *without* a hint (best of two
    plain samples); it is drawn after the hinted retry, so the other values do not
    depend on it."""
    rng = make_rng(seed)
    prm = make_prm("filler")
    K = len(RUBRIC_ITEMS)
    ep = sample_episodes(policy.with_hints(np.zeros((n, K))), config, prm, n, 1, rng)
    r, items = _rubric_score(ep, config)
    rev = _resample(policy, config, ep.difficulty, ~items, rng)
    r2 = _rubric_score(rev, config)[0]
    best = np.where(r < 1.0, np.maximum(r, r2), r)
    plain = _resample(policy, config, ep.difficulty, np.zeros_like(items), rng)
    r3 = _rubric_score(plain, config)[0]
    best_plain = np.where(r < 1.0, np.maximum(r, r3), r)
    return {"rubric": float(r.mean()), "full": float((r == 1.0).mean()),
            "rubric_hinted": float(best.mean()), "rubric_retry": float(best_plain.mean())}


def _resample(policy: HintedPolicy, config: StepChainConfig, difficulty: np.ndarray,
              hints: np.ndarray, rng: np.random.Generator) -> Episodes:
    """One episode per row on the given difficulties, with per-row hints."""
    n = len(difficulty)
    out = None
    for dv in np.unique(difficulty):
        rows = np.flatnonzero(difficulty == dv)
        ep = _sample_fixed(policy.with_hints(hints[rows]), config, int(dv), len(rows), rng)
        if out is None:
            out = _empty_like(ep, n)
        for k in ("obs", "actions", "events", "mask", "prm", "correct", "has_vr",
                  "difficulty", "logp", "entropy"):
            getattr(out, k)[rows] = getattr(ep, k)
    assert out is not None
    return out


def _sample_fixed(policy: nn.Module, config: StepChainConfig, d: int, n: int,
                  rng: np.random.Generator) -> Episodes:
    """:func:`sample_episodes` with every prompt of difficulty ``d`` and no step scores."""
    return sample_episodes(policy, config, None, n, 1, rng, difficulty=d)


def _empty_like(ep: Episodes, n: int) -> Episodes:
    def z(x: np.ndarray) -> np.ndarray:
        return np.zeros((n, *x.shape[1:]), x.dtype)
    out = Episodes(*(z(getattr(ep, k)) for k in ("obs", "actions", "events", "mask", "prm",
                                                  "correct", "has_vr", "difficulty", "logp")),
                   entropy=z(ep.entropy))
    out.events[:] = -1
    return out


def _rows(ep: Episodes, idx: np.ndarray) -> Episodes:
    return Episodes(*(getattr(ep, k)[idx] for k in ("obs", "actions", "events", "mask", "prm",
                                                     "correct", "has_vr", "difficulty",
                                                     "logp")), entropy=ep.entropy[idx])


def _pg_step(policy: HintedPolicy, opt: torch.optim.Optimizer, hints: np.ndarray,
             ep: Episodes, A: np.ndarray, off: np.ndarray, epochs: int, clip: float,
             gamma: float) -> None:
    """:func:`creditlab.algos.stepchain_pg._update` (PPO-clip; the shaped off-policy
    loss on the ``off`` rows) with per-row ``hints`` [B, K] fed to the policy."""
    from creditlab.algos.stepchain_pg import PGConfig, _update

    h = np.broadcast_to(hints[:, None, :], (*ep.mask.shape, hints.shape[1]))[ep.mask]
    A_tok = np.broadcast_to(np.asarray(A, np.float32)[:, None], ep.mask.shape).copy()
    cfg = PGConfig(ppo_clip=clip, ppo_epochs=epochs)
    _update(policy, opt, ep, A_tok, cfg, None, offpolicy=off, gamma=gamma,
            policy_input=lambda p: p.with_hints(h))


def train_hindsight(
    env_config: StepChainConfig | None = None,
    *,
    hindsight: bool = True,
    alpha: float = 0.05,
    gamma: float = 1.0,
    replace_top_n: int = 1,
    n_prompts: int = 16,
    group_size: int = 8,
    iterations: int = 60,
    lr: float = 1e-2,
    epochs: int = 2,
    clip: float = 0.2,
    hint_strength: float = 0.6,
    rare: float = 1.0,
    train_context: str = "guided",
    eval_every: int = 10,
    eval_episodes: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> HindsightResult:
    r"""HeRL-style GRPO on the rubric StepChain (``hindsight=False``: plain GRPO).

    Each iteration samples ``group_size`` plain responses to each of ``n_prompts``
    prompts and scores them by the fraction of :data:`RUBRIC_ITEMS` met. With
    ``hindsight``, every group whose best score is below 1 has its best response
    (ties: a random one) re-attempted once by the *same* policy with the unmet items as
    its hint; the improvement bonus :func:`improvement_bonus` (``alpha``) is added to
    that response's reward, and ``replace_top_n`` random slots of the group are
    overwritten by the revision when it scores at least the group's best. GRPO
    advantages; PPO-clip (``clip``, ``epochs``) on ordinary responses,
    :func:`offpolicy_token_loss` (``gamma``) on inserted ones.

    ``train_context`` sets the input an inserted revision is trained under: ``"guided"``
    keeps its hint (the paper's choice, the default here), ``"plain"`` trains it as if it
    had been a plain response, so the off-policy ratio is
    :math:`\rho = \pi_\theta(a \mid \text{no hint}) / \pi_{\mathrm{old}}(a \mid \text{hint})`
    (numerator without, behaviour log-probability with the hint). ``hint_strength`` and
    ``rare`` shape the SFT start (:func:`hinted_sft_init`): the share of probability the
    SFT targets move toward the hinted behaviour, and how rarely the unhinted start plans
    and verifies.

    HeRL-style, not HeRL: one revision per failed group (the paper re-attempts up to 16
    best drafts); a revision is a fresh guided attempt (a StepChain policy cannot read its
    draft); the hint is the unmet-item bit vector rather than a rewrite prompt; a slot is
    replaced only when the revision scores at least the group's best (the paper falls
    back to the best original); sampling is at temperature 1 (the paper uses 0.3); and
    the chapter runs it with ``train_context="plain"``, which the paper does not.

    Returns
    -------
    HindsightResult
    """
    cfg = env_config or StepChainConfig(step_types=HINT_STEP_TYPES, difficulties=(1, 2, 3),
                                        horizon=8, error_rate=0.1, observation="full")
    missing = [t for t in ("decompose", "pattern") if t not in cfg.step_types]
    if missing:
        raise ValueError(f"env_config.step_types must contain 'decompose' and 'pattern' "
                         f"(the rubric's plan and verify items), missing {missing}")
    for k, v in (("n_prompts", n_prompts), ("group_size", group_size),
                 ("iterations", iterations), ("epochs", epochs), ("eval_every", eval_every),
                 ("eval_episodes", eval_episodes)):
        check_int(v, k, 1)
    check_int(replace_top_n, "replace_top_n", 0)
    if group_size < 2:
        raise ValueError(f"group_size must be >= 2 (GRPO needs a group), got {group_size!r}")
    if replace_top_n >= group_size:
        raise ValueError(f"replace_top_n must be < group_size ({group_size}), got "
                         f"{replace_top_n!r}")
    check_nonnegative(alpha, "alpha")
    check_positive(gamma, "gamma")
    check_positive(lr, "lr")
    check_positive(clip, "clip")
    torch.set_num_threads(1)
    ss = np.random.SeedSequence(check_int(seed, "seed", 0)).spawn(3)
    torch.manual_seed(int(ss[0].generate_state(1)[0]))
    rng = np.random.default_rng(ss[1])
    eval_seed = int(ss[2].generate_state(1)[0])
    K = len(RUBRIC_ITEMS)
    policy = HintedPolicy(cfg.obs_dim, cfg.n_actions, K)
    check_unit_interval(hint_strength, "hint_strength")
    check_positive(rare, "rare")
    if train_context not in ("guided", "plain"):
        raise ValueError(f"train_context must be 'guided' or 'plain', got {train_context!r}")
    hinted_sft_init(policy, cfg, strength=hint_strength, rare=rare)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    prm = make_prm("filler")
    hist: dict[str, list[float]] = {}
    zv_sampled: list[float] = []

    def log(it: int, zero_var: float, inserted: float) -> None:
        stats = evaluate_rubric(policy, cfg, eval_episodes, eval_seed + it)
        for k, v in (("iteration", it), *stats.items(), ("zero_var", zero_var),
                     ("inserted", inserted)):
            hist.setdefault(k, []).append(v)

    log(0, np.nan, np.nan)
    G, B = group_size, n_prompts * group_size
    for it in tqdm(range(1, iterations + 1), disable=not progress, leave=False,
                   desc=f"{'HeRL' if hindsight else 'GRPO'} seed {seed}"):
        hints = np.zeros((B, K), bool)
        ep = sample_episodes(policy.with_hints(hints), cfg, prm, n_prompts, G, rng)
        r, items = _rubric_score(ep, cfg)
        rs = r.reshape(n_prompts, G)
        zv_sampled.append(float((rs.max(1) - rs.min(1) < 1e-12).mean()))
        off = np.zeros(B, bool)
        n_ins = 0
        if hindsight:
            rg = r.reshape(n_prompts, G)
            fail = np.flatnonzero(rg.max(1) < 1.0)
            if len(fail):
                cand = np.array([g * G + rng.choice(np.flatnonzero(rg[g] == rg[g].max()))
                                 for g in fail])
                rev = _resample(policy, cfg, ep.difficulty[cand], ~items[cand], rng)
                r_rev, _ = _rubric_score(rev, cfg)
                guided = np.full(B, np.nan)
                guided[cand] = r_rev
                r = improvement_bonus(r, guided, alpha)
                for j, g in enumerate(fail):
                    if r_rev[j] >= rg[g].max() and replace_top_n:
                        slots = g * G + rng.choice(G, replace_top_n, replace=False)
                        for s in slots:
                            for k in ("obs", "actions", "events", "mask", "prm", "correct",
                                      "logp"):
                                getattr(ep, k)[s] = getattr(rev, k)[j]
                            if train_context == "guided":
                                hints[s] = ~items[cand[j]]
                            r[s] = r_rev[j]
                            off[s] = True
                            n_ins += 1
        rg2 = r.reshape(n_prompts, G)
        zero_var = float((rg2.max(1) - rg2.min(1) < 1e-12).mean())
        A = np.asarray(grpo(r, np.arange(B) // G), np.float64)
        _pg_step(policy, opt, hints.astype(np.float32), ep, A, off, epochs, clip, gamma)
        if it % eval_every == 0 or it == iterations:
            log(it, zero_var, n_ins)
    return HindsightResult({k: np.asarray(v, float) for k, v in hist.items()}, policy,
                           {"zero_var_sampled": np.asarray(zv_sampled, float)})


# --------------------------------------------------------------------------------------
# NPO-style: mixing a guide's verified trajectories into the group


@dataclass
class GuideResult:
    """What :func:`train_with_guide` returns: ``history`` (``iteration``, ``accuracy``,
    ``mixed``: guide trajectories inserted per iteration), the trained ``policy`` and the
    ``checkpoints`` saved every ``save_every`` iterations (state dicts, index 0 = start)."""

    history: dict[str, np.ndarray]
    policy: MLPPolicy
    checkpoints: list[dict[str, torch.Tensor]]


def load_policy(state: dict[str, torch.Tensor], config: StepChainConfig,
                hidden: int = 64) -> MLPPolicy:
    """An :class:`MLPPolicy` with the weights of a saved checkpoint."""
    p = MLPPolicy(config.obs_dim, config.n_actions, hidden)
    p.load_state_dict(state)
    return p.requires_grad_(False)


def train_with_guide(
    env_config: StepChainConfig,
    guide: Callable[[int], nn.Module | None] | None = None,
    *,
    n_prompts: int = 16,
    group_size: int = 8,
    iterations: int = 60,
    lr: float = 1e-2,
    epochs: int = 2,
    clip: float = 0.2,
    gamma: float = 1.0,
    offpolicy: str = "clip",
    n_mix: int = 1,
    save_every: int = 5,
    eval_every: int = 5,
    eval_episodes: int = 1000,
    sft_steps: int = 300,
    seed: int = 0,
    progress: bool = False,
) -> GuideResult:
    r"""GRPO on StepChain (reward: the verified answer), optionally mixing a guide.

    ``guide(it)`` returns the guide policy for iteration ``it`` (or None: plain GRPO that
    iteration). With a guide, each group samples ``n_mix`` extra responses from it; each
    one that is correct replaces one of the group's first ``n_mix`` slots (NPO mixes only
    verified-correct guide trajectories; a group's samples are exchangeable). Its tokens
    keep the guide's log-probabilities as the behaviour policy and are trained with
    PPO's clipped surrogate (``offpolicy="clip"``: ratio :math:`\pi_\theta/\pi_G`,
    whose gradient vanishes for tokens the learner finds much less likely than the guide
    and is clipped for those it already prefers) or with :func:`offpolicy_token_loss`
    (``offpolicy="shaped"``, HeRL's). Ordinary responses use PPO-clip. Checkpoints are
    saved every ``save_every`` iterations so that a first pass provides near-future
    guides for a second (the same ``seed`` gives the same start and the same prompts).

    NPO-style: the paper's Q/V estimators, trigger and mixing ratio were not found; this
    loop mixes a fixed number of guide trajectories per group at every iteration.

    Returns
    -------
    GuideResult
    """
    for k, v in (("n_prompts", n_prompts), ("group_size", group_size),
                 ("iterations", iterations), ("epochs", epochs), ("save_every", save_every),
                 ("eval_every", eval_every), ("eval_episodes", eval_episodes)):
        check_int(v, k, 1)
    check_int(sft_steps, "sft_steps", 0)
    check_positive(lr, "lr")
    check_positive(clip, "clip")
    check_positive(gamma, "gamma")
    if offpolicy not in ("clip", "shaped"):
        raise ValueError(f"offpolicy must be 'clip' or 'shaped', got {offpolicy!r}")
    check_int(n_mix, "n_mix", 1)
    if n_mix >= group_size:
        raise ValueError(f"n_mix must be < group_size ({group_size}), got {n_mix!r}")
    if guide is not None and not callable(guide):
        raise TypeError(f"guide must be callable or None, got {type(guide).__name__}")
    from creditlab.algos.stepchain_pg import evaluate, sft_init

    torch.set_num_threads(1)
    ss = np.random.SeedSequence(check_int(seed, "seed", 0)).spawn(4)
    torch.manual_seed(int(ss[0].generate_state(1)[0]))
    rng = np.random.default_rng(ss[1])
    guide_rng = np.random.default_rng(ss[3])
    eval_seed = int(ss[2].generate_state(1)[0])
    prm = make_prm("filler")
    policy = MLPPolicy(env_config.obs_dim, env_config.n_actions)
    sft_init(policy, env_config, sft_steps)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    ckpts = [copy.deepcopy(policy.state_dict())]
    hist: dict[str, list[float]] = {}

    def log(it: int, mixed: float) -> None:
        acc = evaluate(policy, env_config, prm, eval_episodes, eval_seed + it)["accuracy"]
        for k, v in (("iteration", it), ("accuracy", acc), ("mixed", mixed)):
            hist.setdefault(k, []).append(v)

    log(0, np.nan)
    G, B = group_size, n_prompts * group_size
    no_hint = np.zeros((B, 0), np.float32)
    for it in tqdm(range(1, iterations + 1), disable=not progress, leave=False,
                   desc=f"seed {seed}"):
        ep = sample_episodes(policy, env_config, prm, n_prompts, G, rng)
        off = np.zeros(B, bool)
        g_pol = guide(it) if guide is not None else None
        if g_pol is not None:
            d = np.repeat(ep.difficulty[::G], n_mix)
            gep = _resample_plain(g_pol, env_config, d, guide_rng)
            for j in np.flatnonzero(gep.correct):
                g, k_ = divmod(int(j), n_mix)
                s = g * G + k_  # slots 0..n_mix-1 of the group (its samples are exchangeable)
                for k in ("obs", "actions", "events", "mask", "prm", "correct", "logp"):
                    getattr(ep, k)[s] = getattr(gep, k)[j]
                off[s] = True
        r = ep.correct.astype(np.float64)
        A = np.asarray(grpo(r, np.arange(B) // G), np.float64)
        _pg_step(_NoHint(policy), opt, no_hint, ep, A,
                 off if offpolicy == "shaped" else np.zeros(B, bool), epochs, clip, gamma)
        if it % save_every == 0:
            ckpts.append(copy.deepcopy(policy.state_dict()))
        if it % eval_every == 0 or it == iterations:
            log(it, float(off.sum()))
    return GuideResult({k: np.asarray(v, float) for k, v in hist.items()}, policy, ckpts)


class _NoHint(nn.Module):
    n_hints = 0

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        return self.policy(obs)

    def with_hints(self, hints: np.ndarray) -> nn.Module:
        return self.policy


def _resample_plain(policy: nn.Module, config: StepChainConfig, difficulty: np.ndarray,
                    rng: np.random.Generator) -> Episodes:
    out = None
    n = len(difficulty)
    for dv in np.unique(difficulty):
        rows = np.flatnonzero(difficulty == dv)
        ep = _sample_fixed(policy, config, int(dv), len(rows), rng)
        if out is None:
            out = _empty_like(ep, n)
        for k in ("obs", "actions", "events", "mask", "prm", "correct", "has_vr",
                  "difficulty", "logp", "entropy"):
            getattr(out, k)[rows] = getattr(ep, k)
    assert out is not None
    return out


def guide_signal(learner: nn.Module, guides: Sequence[nn.Module], config: StepChainConfig,
                 n_probe: int = 256, seed: int = 0) -> dict[str, np.ndarray]:
    r"""NPO-style :math:`Q`, :math:`V`, :math:`S = Q/V` of each candidate guide on one
    probe batch of ``n_probe`` prompts.

    :math:`Q` = :func:`guide_gain` (the learner's and the guide's success, 8 samples per
    probe prompt); :math:`V` = :func:`ratio_second_moment` of the learner against the
    guide on the guide's own trajectories.

    Returns
    -------
    dict with float arrays [len(guides)] under ``"Q"``, ``"V"``, ``"S"``
    """
    n_probe = check_int(n_probe, "n_probe", 1)
    rng = make_rng(seed)
    d = rng.choice(np.asarray(config.difficulties), n_probe)
    reps = 8
    dd = np.repeat(d, reps)
    learner_ep = _resample_plain(learner, config, dd, rng)
    s_l = learner_ep.correct.reshape(n_probe, reps).mean(1)
    Q, V = [], []
    for g in guides:
        gep = _resample_plain(g, config, dd, rng)
        s_g = gep.correct.reshape(n_probe, reps).mean(1)
        with torch.no_grad():
            lp = torch.log_softmax(learner(torch.as_tensor(gep.obs)), -1)
            lp = lp.gather(2, torch.as_tensor(gep.actions)[..., None])[..., 0].numpy()
        Q.append(guide_gain(s_l, s_g))
        V.append(ratio_second_moment(lp, gep.logp, gep.mask))
    Q_, V_ = np.array(Q), np.array(V)
    return {"Q": Q_, "V": V_, "S": signal_quality(Q_, V_)}




class ScriptedPolicy(nn.Module):
    """The far teacher of Chapter 17's NPO section: DECOMPOSE first (when it is a step
    type), WORK until the progress reaches the difficulty, then ANSWER, with probability
    ``1 - eps`` (the rest spread over the other step types). Needs
    ``observation="full"`` (it reads d, p and t from the one-hot observation)."""

    def __init__(self, config: StepChainConfig, eps: float = 0.02) -> None:
        super().__init__()
        if config.observation != "full":
            raise ValueError("ScriptedPolicy needs observation='full'")
        self.config = config
        self.eps = check_unit_interval(eps, "eps")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        c = self.config
        nd, h1 = len(c.difficulties), c.horizon + 1
        o = obs.reshape(-1, obs.shape[-1])
        d = torch.as_tensor(c.difficulties)[o[:, :nd].argmax(1)]
        p = o[:, nd:nd + h1].argmax(1)
        t = o[:, nd + h1:].argmax(1)
        st = c.step_types
        act = torch.where(p >= d, st.index("answer"), st.index("work"))
        if "decompose" in st:
            act = torch.where(t == 0, st.index("decompose"), act)
        n = c.n_actions
        probs = torch.full((len(o), n), self.eps / max(n - 1, 1))
        probs[torch.arange(len(o)), act] = 1 - self.eps
        return torch.log(probs).reshape(*obs.shape[:-1], n)


# --------------------------------------------------------------------------------------
# Temporal self-rewarding on TinyTextLM


def dpo_train(model: nn.Module, ref: nn.Module, chosen: tuple[Any, Any, Any],
              rejected: tuple[Any, Any, Any], *, steps: int = 25, lr: float = 3e-3,
              beta: float = 0.1, nll_coef: float = 1.0) -> nn.Module:
    r"""A few Adam steps of DPO on fixed pairs, in place, for a
    :class:`~creditlab.models.TinyTextLM`:

    .. math:: L = -\log\sigma\big(\beta[\rho(y_w) - \rho(y_l)]\big)
              - c_{nll}\,\overline{\log\pi_\theta(y_w)}

    (:func:`creditlab.prefs.dpo_loss`, plus a token-mean NLL on the chosen responses,
    RPO-style, which keeps a tiny model from drifting to tokens no pair mentions).

    Parameters
    ----------
    model, ref : TinyTextLM
        The policy (trained) and the frozen reference.
    chosen, rejected : (prompts, responses [P, T], mask [P, T])
        Ragged prompts and the padded responses with their masks (as returned by
        ``TinyTextLM.sample``).
    """
    from creditlab.prefs import dpo_loss

    steps = check_int(steps, "steps", 0)
    check_positive(lr, "lr")
    check_positive(beta, "beta")
    check_nonnegative(nll_coef, "nll_coef")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.no_grad():
        ref_c, _ = ref.logprobs(*chosen)
        ref_r, _ = ref.logprobs(*rejected)
    mc, mr = chosen[2], rejected[2]
    for _ in range(steps):
        lc, _ = model.logprobs(*chosen)
        lr_, _ = model.logprobs(*rejected)
        loss = dpo_loss(lc, ref_c, lr_, ref_r, beta=beta, mask_chosen=mc, mask_rejected=mr)
        loss = loss - nll_coef * lc.sum() / mc.sum().clamp_min(1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@dataclass
class SelfRewardResult:
    """What :func:`train_self_rewarding` returns: per iteration the true-quality gap
    between the chosen and the rejected responses (``gap`` [iters]), the mean true
    quality of the model's samples before each iteration and after the last
    (``quality`` [iters + 1]; ``quality[:-1]`` is measured on each iteration's training
    draw, ``quality[-1]`` on a separate probe, 64 samples of each of the task's
    prompts) and the judge's error rate on the pairs (``flipped`` [iters]: the rejected
    response is truly better)."""

    gap: np.ndarray
    quality: np.ndarray
    flipped: np.ndarray
    model: nn.Module


class WordTask:
    """Chapter 17's toy for self-rewarding: a prompt is one of ``n_prompts`` tokens, a
    response is ``length`` word tokens (of ``n_words``) and EOS; the true quality of a
    response is the mean of a hidden table ``value[prompt, word]`` (uniform in [0, 1])
    over its ``length`` positions (a non-word token scores 0). The judge is the true
    quality plus Gaussian noise ``sigma``: a stand-in for the model's own noisy judge.
    Token ids: 0-2 specials, then prompts, then words."""

    def __init__(self, n_prompts: int = 8, n_words: int = 8, length: int = 5,
                 sigma: float = 0.2, seed: int = 0) -> None:
        self.n_prompts = check_int(n_prompts, "n_prompts", 1)
        self.n_words = check_int(n_words, "n_words", 2)
        self.length = check_int(length, "length", 1)
        self.sigma = check_nonnegative(sigma, "sigma")
        self.value = make_rng(seed).random((self.n_prompts, self.n_words))

    @property
    def vocab_size(self) -> int:
        return 3 + self.n_prompts + self.n_words

    def prompts(self, n: int, rng: np.random.Generator) -> list[list[int]]:
        return [[3 + int(p)] for p in rng.integers(self.n_prompts, size=n)]

    def random_responses(self, n: int, rng: np.random.Generator) -> list[list[int]]:
        """Uniform random word sequences (+ EOS): the SFT data of the initial model."""
        w = rng.integers(self.n_words, size=(n, self.length)) + 3 + self.n_prompts
        return [[*map(int, row), 2] for row in w]

    def quality(self, prompts: Sequence[Sequence[int]], responses: Any) -> np.ndarray:
        """True quality [B] of padded responses [B, T]."""
        r = np.asarray(responses)[:, :self.length]
        p = np.array([q[0] - 3 for q in prompts])
        w = r - 3 - self.n_prompts
        ok = (w >= 0) & (w < self.n_words)
        v = self.value[p[:, None], np.clip(w, 0, self.n_words - 1)]
        return np.where(ok, v, 0.0).sum(1) / self.length

    def judge(self, prompts: Sequence[Sequence[int]], responses: Any,
              rng: np.random.Generator) -> np.ndarray:
        q = self.quality(prompts, responses)
        return q + self.sigma * rng.standard_normal(len(q))


def train_self_rewarding(task: WordTask, model0: nn.Module, *, mode: str = "self",
                         iterations: int = 8, n_prompts: int = 48, n_samples: int = 8,
                         steps: int = 25, lr: float = 3e-3, beta: float = 0.1,
                         nll_coef: float = 1.0, seed: int = 0) -> SelfRewardResult:
    r"""Iterative self-rewarding DPO (``mode="self"``) or its temporal variant.

    Each iteration draws ``n_prompts`` prompts and ``n_samples`` responses to each from
    the current model :math:`M_t`, judged by ``task.judge``. ``"self"``: pairs = best vs
    worst judged sample of each prompt (:func:`creditlab.prefs.build_pairs`), and
    :math:`M_{t+1}` = :func:`dpo_train` from :math:`M_t` (also the reference).
    ``"temporal"`` (Temporal Self-Rewarding-style): a *future* model is first trained
    exactly like ``"self"``; the chosen response is the best judged of its samples
    (future-guided chosen), the rejected one the worst judged of ``model0``'s samples
    for the prompt (anchored rejection), and :math:`M_{t+1}` is trained from
    :math:`M_t` on those pairs. "-style": a noisy oracle judge stands in for the model
    judging itself, and the DPO loss carries an NLL term on the chosen response.
    """
    if mode not in ("self", "temporal"):
        raise ValueError(f"mode must be 'self' or 'temporal', got {mode!r}")
    for k, v in (("iterations", iterations), ("n_prompts", n_prompts),
                 ("n_samples", n_samples)):
        check_int(v, k, 1)
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples!r}")
    from creditlab.prefs import build_pairs

    torch.set_num_threads(1)
    rng = make_rng(seed)
    model = copy.deepcopy(model0)
    anchor = copy.deepcopy(model0).requires_grad_(False)
    L = task.length + 1
    gap, quality, flipped = [], [], []

    def draw(m: nn.Module, prompts: list[list[int]]) -> tuple[Any, Any, np.ndarray,
                                                              np.ndarray]:
        r, _, mk = m.sample(prompts, L, seed=int(rng.integers(2**31)))
        return r, mk, task.quality(prompts, r), task.judge(prompts, r, rng)

    def pick(prompts: list[list[int]], r: Any, mk: Any, i: np.ndarray) -> tuple[Any, Any,
                                                                                 Any]:
        return [prompts[j] for j in i], r[torch.as_tensor(i)], mk[torch.as_tensor(i)]

    for _ in range(int(iterations)):
        base = task.prompts(n_prompts, rng)
        prompts = [p for p in base for _ in range(n_samples)]
        idx = np.repeat(np.arange(n_prompts), n_samples)
        r, mk, q, s = draw(model, prompts)
        quality.append(q.mean())
        ref = copy.deepcopy(model).requires_grad_(False)
        c, rj = build_pairs(s, idx)
        if mode == "self":
            gap.append(float((q[c] - q[rj]).mean()))
            flipped.append(float((q[c] < q[rj]).mean()))
            dpo_train(model, ref, pick(prompts, r, mk, c), pick(prompts, r, mk, rj),
                      steps=steps, lr=lr, beta=beta, nll_coef=nll_coef)
            continue
        future = dpo_train(copy.deepcopy(model), ref, pick(prompts, r, mk, c),
                           pick(prompts, r, mk, rj), steps=steps, lr=lr, beta=beta,
                           nll_coef=nll_coef)
        rf, mf, qf, sf = draw(future, prompts)
        ra, ma, qa, sa = draw(anchor, prompts)
        c, rj = build_pairs(s, idx, mode="temporal", anchor_scores=sa, anchor_index=idx,
                            future_scores=sf, future_index=idx)
        gap.append(float((qf[c] - qa[rj]).mean()))
        flipped.append(float((qf[c] < qa[rj]).mean()))
        dpo_train(model, ref, pick(prompts, rf, mf, c), pick(prompts, ra, ma, rj),
                  steps=steps, lr=lr, beta=beta, nll_coef=nll_coef)
    probe = [[3 + p] for p in range(task.n_prompts) for _ in range(64)]
    quality.append(float(draw(model, probe)[2].mean()))
    return SelfRewardResult(np.array(gap), np.array(quality), np.array(flipped), model)
