"""Implicit process rewards learned online from outcomes, for the StepChain trainer (Ch. 9).

Two ``advantage_fn`` objects for :func:`creditlab.algos.stepchain_pg.train`. Each owns a
reward model :math:`\\pi_\\phi` with the policy's architecture (:class:`MLPPolicy`). It is a
separately seeded network given its own SFT step (the same recipe as the policy's, not a copy
of the policy's weights; the papers initialise it from the policy), and, every iteration,
(1) scores the batch's steps with the current model, (2) updates the model from the batch's
outcomes, (3) returns the advantages the policy step uses.

:class:`OPRLCredit` (OPRL / iStar-style, Liu et al. 2025)
    step reward :math:`r_t = \\beta\\log\\pi_\\phi(a_t \\mid s_t)/\\pi_{\\theta_{old}}(a_t \\mid
    s_t)`; the model is trained by trajectory DPO (:func:`creditlab.prefs.traj_dpo_loss`) on
    every (success, failure) pair of a group; advantages
    :func:`creditlab.advantages.oprl_advantages` (:math:`A^E + \\alpha A^S`). Differences
    from the paper: one step is one action (not a whole LLM turn), REINFORCE or the
    trainer's PPO instead of the paper's PPO/GRPO setup, and the model is its own SFT-initialised
    network, not a copy of the current policy.
:class:`PRIMECredit` (PRIME-style, Cui et al. 2025)
    log-ratio :math:`q_t = \\log\\pi_\\phi(a_t)/\\pi_{ref}(a_t)` with :math:`\\pi_{ref}` the
    frozen SFT model; the dense reward is :math:`r_t = \\beta q_t` (PRIME's code,
    ``prime_dp_rm.py``: ``r = q * beta``, ``beta_train`` = 0.05); the model is trained with
    the outcome cross-entropy :math:`\\mathrm{BCE}(\\sigma(\\beta\\sum_t q_t), o)`
    (:func:`creditlab.rewards.implicit_prm_loss`); advantages
    :func:`creditlab.advantages.prime_advantages` on :math:`(\\beta q, o)`. ``update_until``
    freezes the model after that many iterations and ``dense_weight`` replaces
    :math:`\\beta` in the dense reward (both ablations beyond PRIME). Differences: no prompt
    filtering by accuracy, one action per step, and the dense reward is not
    ``prime_norm``-normalised (PRIME divides it by the batch's largest absolute
    return-to-go before RLOO).

Both record, per iteration, ``history["implicit_score"]``: the mean over the batch of the
model's sequence score :math:`\\sum_t` (reward), the proxy the policy is pushed up.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from creditlab._backend import check_int, check_real, check_seed
from creditlab.advantages import oprl_advantages, prime_advantages
from creditlab.algos.stepchain_pg import Episodes, MLPPolicy, sft_init
from creditlab.envs.stepchain import StepChainConfig
from creditlab.prefs import traj_dpo_loss
from creditlab.rewards import implicit_prm_loss, implicit_process_reward

__all__ = ["OPRLCredit", "PRIMECredit"]


class _ImplicitModel:
    def __init__(self, env_config: StepChainConfig, lr: float, hidden: int, seed: int,
                 sft_steps: int) -> None:
        if not isinstance(env_config, StepChainConfig):
            raise TypeError(f"env_config must be a StepChainConfig, got "
                            f"{type(env_config).__name__}")
        if check_real(lr, "lr") <= 0:
            raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
        check_int(hidden, "hidden", 1)
        check_seed(seed)
        check_int(sft_steps, "sft_steps", 0)
        torch.set_num_threads(1)
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.model = MLPPolicy(env_config.obs_dim, env_config.n_actions, hidden)
        torch.random.set_rng_state(state)
        sft_init(self.model, env_config, sft_steps)
        self.ref = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.history: dict[str, list[float]] = {"implicit_score": []}

    def logp(self, net: MLPPolicy, ep: Episodes) -> torch.Tensor:
        x = torch.as_tensor(ep.obs)
        a = torch.as_tensor(ep.actions)
        return torch.log_softmax(net(x), -1).gather(-1, a[..., None])[..., 0]


class OPRLCredit(_ImplicitModel):
    """OPRL-style advantage_fn: trajectory-DPO implicit step rewards, A = A^E + alpha A^S.

    Parameters
    ----------
    env_config : StepChainConfig
    beta : float > 0
        :math:`\\beta` of the step reward and of the DPO loss.
    alpha : float
        Weight of the step advantage (the paper: 1).
    lr : float > 0
        Adam learning rate of the reward model.
    hidden : int
        Width of the model (the policy's, 64, by default).
    seed : int
    sft_steps : int
    """

    def __init__(self, env_config: StepChainConfig, *, beta: float = 0.5, alpha: float = 1.0,
                 lr: float = 3e-3, hidden: int = 64, seed: int = 0, sft_steps: int = 300):
        super().__init__(env_config, lr, hidden, seed, sft_steps)
        if check_real(beta, "beta") <= 0:
            raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
        self.beta, self.alpha = float(beta), check_real(alpha, "alpha")

    def __call__(self, ep: Episodes, group_size: int, rng: np.random.Generator) -> np.ndarray:
        m = torch.as_tensor(ep.mask)
        old = torch.as_tensor(ep.logp)
        with torch.no_grad():
            r = implicit_process_reward(self.logp(self.model, ep), old, self.beta,
                                        response_mask=m).numpy().astype(np.float64)
        self.history["implicit_score"].append(float(r.sum(1).mean()))
        o = ep.correct.astype(np.float64)
        g = np.arange(len(o)) // group_size
        pos, neg = np.nonzero((g[:, None] == g[None, :]) & (o[:, None] > o[None, :]))
        if len(pos):
            lp = self.logp(self.model, ep)
            loss = traj_dpo_loss(lp[pos], old[pos], lp[neg], old[neg], beta=self.beta,
                                 mask_pos=m[pos], mask_neg=m[neg])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return oprl_advantages(o, r, g, ep.mask, alpha=self.alpha)


class PRIMECredit(_ImplicitModel):
    """PRIME-style advantage_fn: online implicit PRM (outcome cross-entropy), RLOO per source.

    Parameters
    ----------
    env_config : StepChainConfig
    beta : float > 0
        :math:`\\beta` of the cross-entropy loss (PRIME's ``beta_train`` = 0.05).
    lr : float > 0
    update_until : int or None
        Update the model only during the first ``update_until`` iterations, then freeze
        it (None: online for the whole run; an ablation beyond PRIME).
    dense_weight : float > 0 or None
        Weight :math:`w` of the dense reward :math:`r_t = w\\,q_t` (None: :math:`w = \\beta`,
        as in PRIME's code; other values are an ablation beyond PRIME).
    hidden, seed, sft_steps
        As :class:`OPRLCredit`.
    """

    def __init__(self, env_config: StepChainConfig, *, beta: float = 0.05, lr: float = 3e-3,
                 update_until: int | None = None, dense_weight: float | None = None,
                 hidden: int = 64, seed: int = 0, sft_steps: int = 300):
        super().__init__(env_config, lr, hidden, seed, sft_steps)
        if check_real(beta, "beta") <= 0:
            raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
        if update_until is not None:
            check_int(update_until, "update_until", 0)
        if dense_weight is not None and check_real(dense_weight, "dense_weight") <= 0:
            raise ValueError(f"dense_weight must be a finite number > 0, got {dense_weight!r}")
        self.beta, self.update_until, self.calls = float(beta), update_until, 0
        self.dense_weight = self.beta if dense_weight is None else float(dense_weight)

    def __call__(self, ep: Episodes, group_size: int, rng: np.random.Generator) -> np.ndarray:
        m = torch.as_tensor(ep.mask)
        with torch.no_grad():
            ref = self.logp(self.ref, ep)
            q = implicit_process_reward(self.logp(self.model, ep), ref, 1.0,
                                        response_mask=m).numpy().astype(np.float64)
        self.history["implicit_score"].append(float(self.beta * q.sum(1).mean()))
        o = ep.correct.astype(np.float64)
        if self.update_until is None or self.calls < self.update_until:
            loss = implicit_prm_loss(self.logp(self.model, ep), ref, torch.as_tensor(o),
                                     self.beta, response_mask=m)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        self.calls += 1
        g = np.arange(len(o)) // group_size
        return prime_advantages(self.dense_weight * q, o, g, ep.mask)   # r_t = beta * q_t
