r"""Exploration bonuses: prediction-error curiosity and hindsight-conditioned curiosity (Ch16).

Curiosity pays an agent for what its forward model cannot yet predict. With a model that
predicts a distribution :math:`f(s, a)` over next observations and the one-hot target
:math:`e_{o'}` of the observation that happened,

.. math::

    r^{\mathrm{ICM}}(s, a, o') = \lVert f(s, a) - e_{o'} \rVert^2 ,

the *prediction-error* bonus (ICM-style: Pathak et al. 2017 predict a learned feature
:math:`\phi(o')`; here the feature is the one-hot observation itself, a tabular
stand-in). It shrinks as the model learns a deterministic transition, and it never
shrinks for a noisy one: with :math:`K` equally likely outcomes the best prediction is
uniform and the expected error stays at :math:`1 - 1/K` (the "noisy TV").

*Curiosity in Hindsight* (Jarrett et al. 2023, BYOL-Hindsight) conditions the predictor on
a hindsight variable :math:`z` that describes the outcome's unpredictable part and is kept
independent of :math:`(s, a)`, so :math:`z` cannot carry what :math:`(s, a)` already
predicts:

.. math::

    r^{\mathrm{H}}(s, a, z, o') = \lVert g(s, a, z) - e_{o'} \rVert^2 ,\qquad
    \mathcal L = \mathcal L_{\mathrm{rec}} + \lambda_{\mathrm{inv}}\, I(z; (s, a)).

Given the realised noise, a noisy outcome is as predictable as a deterministic one, so the
bonus vanishes on noise and survives on novelty. The functions here are
**Hindsight-style** where reconstructed: the paper's exact intrinsic reward and its
invariance loss (a contrastive critic trained adversarially against the generator, on
BYOL latent targets) were not retrieved; we use squared error on one-hot observations and,
for a learned encoder, the exact mutual information of a discrete :math:`z` with the
(state, action) pair in place of the critic (:func:`independence_penalty`).

- :func:`prediction_error_bonus`, :func:`hindsight_bonus` — the two bonuses for a batch of
  transitions, given the model tables;
- :class:`TabularCuriosity` — a tabular forward model that learns online and pays either
  bonus (``n_z=1``: prediction error; ``n_z > 1``: hindsight-conditioned);
- :func:`independence_penalty` — the batch mutual information :math:`I(z; \text{group})`;
- :func:`fit_hindsight_encoder` — a small learned encoder :math:`q(z \mid s, a, o')` and
  predictor trained with reconstruction plus the independence penalty, plus (our
  addition, not in the paper) a bonus for the entropy of the batch-marginal code that
  keeps the codes in use (torch); :class:`HindsightEncoder` holds the result.

The agent loop that takes any bonus is :func:`creditlab.algos.curiosity.explore`; the
environment with a noisy TV is :class:`creditlab.envs.noisy_tv.NoisyTVGridEnv`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    check_seed,
    check_unit_interval,
    float_array,
    int_array,
    is_torch,
    number_array,
)

__all__ = [
    "prediction_error_bonus",
    "hindsight_bonus",
    "independence_penalty",
    "TabularCuriosity",
    "HindsightEncoder",
    "fit_hindsight_encoder",
]


def _index(x: Any, name: str, size: int, what: str) -> np.ndarray:
    a = int_array(x, name)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D [N], got shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= size):
        raise ValueError(f"{name} must hold {what} in 0..{size - 1}, got values in "
                         f"{a.min()}..{a.max()}")
    return a


def _sq_error(pred: np.ndarray, obs_next: np.ndarray) -> np.ndarray:
    """||pred - e_obs||^2 row by row: 1 - 2 pred[obs] + ||pred||^2."""
    n = len(obs_next)
    return 1.0 - 2.0 * pred[np.arange(n), obs_next] + (pred * pred).sum(-1)


def prediction_error_bonus(model: Any, s: Any, a: Any, obs_next: Any) -> np.ndarray:
    r"""ICM-style curiosity: the squared error of the forward model's prediction.

    ``r[i] = || model[s[i], a[i]] - e_{obs_next[i]} ||^2`` (one-hot target ``e``).

    Parameters
    ----------
    model : float32/float64 [S, A, D]
        The predicted next-observation distribution of every (state, action) (any real
        vectors work; a learned table starts uniform, ``1/D``).
    s, a : int [N]
        States in ``0..S-1`` and actions in ``0..A-1``.
    obs_next : int [N]
        Observed next observations in ``0..D-1``.

    Returns
    -------
    ndarray float64 [N]
        The bonus of each transition; a perfect prediction gets 0, a uniform one over
        ``K`` equally likely outcomes ``1 - 1/K`` in expectation.
    """
    m = check_finite(float_array(model, "model"), "model")
    if m.ndim != 3 or 0 in m.shape:
        raise ValueError(f"model must be a non-empty [S, A, D] table, got shape {m.shape}")
    S, A, D = m.shape
    s_ = _index(s, "s", S, "states")
    a_ = _index(a, "a", A, "actions")
    o_ = _index(obs_next, "obs_next", D, "observations")
    if not len(s_) == len(a_) == len(o_):
        raise ValueError(f"s, a and obs_next must have the same length, got {len(s_)}, "
                         f"{len(a_)}, {len(o_)}")
    return _sq_error(m[s_, a_].astype(np.float64), o_)


def hindsight_bonus(model: Any, s: Any, a: Any, z: Any, obs_next: Any) -> np.ndarray:
    r"""Hindsight-style curiosity: the prediction error given the hindsight variable z.

    ``r[i] = || model[s[i], a[i], z[i]] - e_{obs_next[i]} ||^2`` for an integer ``z``
    (the exact tabular version: ``z`` = the realised noise index), or its expectation
    ``sum_k z[i, k] * || model[s[i], a[i], k] - e_{obs_next[i]} ||^2`` when ``z`` holds a
    learned encoder's probabilities ``q(z | s, a, o')``.

    Parameters
    ----------
    model : float32/float64 [S, A, Z, D]
        The predicted next-observation distribution given (state, action, z).
    s, a : int [N]
    z : int [N] in ``0..Z-1``, or float [N, Z] (rows of probabilities)
    obs_next : int [N] in ``0..D-1``

    Returns
    -------
    ndarray float64 [N]

    Notes
    -----
    With ``Z = 1`` this is :func:`prediction_error_bonus`. What makes it ignore noise is
    not the formula but what ``z`` holds: the outcome's unpredictable part only (see
    :func:`independence_penalty`). A ``z`` that also encoded the predictable part would
    make every outcome "predictable" and erase the bonus for novelty too.
    """
    m = check_finite(float_array(model, "model"), "model")
    if m.ndim != 4 or 0 in m.shape:
        raise ValueError(f"model must be a non-empty [S, A, Z, D] table, got shape {m.shape}")
    S, A, Z, D = m.shape
    s_ = _index(s, "s", S, "states")
    a_ = _index(a, "a", A, "actions")
    o_ = _index(obs_next, "obs_next", D, "observations")
    zz = np.asarray(z.detach().cpu() if is_torch(z) else z)
    if zz.dtype.kind == "f":
        q = check_finite(float_array(z, "z"), "z")
        if q.ndim != 2 or q.shape[1] != Z:
            raise ValueError(f"z as probabilities must be [N, Z={Z}], got shape {q.shape}")
        if (q < 0).any() or not np.allclose(q.sum(1), 1.0, atol=1e-4):
            raise ValueError("z as probabilities must be non-negative rows that sum to 1")
        if not len(s_) == len(a_) == len(o_) == len(q):
            raise ValueError("s, a, z and obs_next must have the same length")
        pred = m[s_, a_].astype(np.float64)                       # [N, Z, D]
        n = len(o_)
        err = 1.0 - 2.0 * pred[np.arange(n), :, o_] + (pred * pred).sum(-1)  # [N, Z]
        return (q * err).sum(1)
    z_ = _index(z, "z", Z, "hindsight codes")
    if not len(s_) == len(a_) == len(o_) == len(z_):
        raise ValueError(f"s, a, z and obs_next must have the same length, got {len(s_)}, "
                         f"{len(a_)}, {len(z_)}, {len(o_)}")
    return _sq_error(m[s_, a_, z_].astype(np.float64), o_)


def independence_penalty(q_z: Any, group: Any, n_groups: int | None = None,
                         weights: Any = None) -> Any:
    r"""The batch mutual information :math:`I(z; g)` between a discrete code and a group.

    .. math::

        I = \sum_g \hat p(g) \sum_k \bar q(k \mid g) \log\frac{\bar q(k \mid g)}{\bar q(k)},
        \quad \bar q(\cdot \mid g) = \operatorname{mean}_{i: g_i = g} q_z[i],\quad
        \bar q = \operatorname{mean}_i q_z[i].

    With ``group`` = the (state, action) index of each transition, this is zero exactly
    when the encoder's code distribution does not depend on (s, a): the independence that
    keeps ``z`` from carrying the predictable part of the outcome. (Hindsight-style: the
    paper enforces it with an adversarial contrastive critic; for a discrete ``z`` the
    mutual information has this closed form.)

    Parameters
    ----------
    q_z : float [N, Z] numpy array or torch tensor
        Rows of code probabilities (a torch tensor keeps its graph: use it as a loss).
    group : int [N]
        Group index of each row, in ``0..n_groups-1``.
    n_groups : int >= 1 or None
        If given, every group index must be below it (a check only: groups without rows
        do not change the result).
    weights : float or int [N] >= 0, or None
        Row weights (e.g. counts of repeated transitions); ``None``: all rows weigh 1.
        Means become weighted means and :math:`\hat p(g)` the weight share of ``g``.

    Returns
    -------
    float (numpy input) or 0-d tensor (torch input), >= 0 up to rounding.
    """
    torch_in = is_torch(q_z)
    q_np = check_finite(float_array(q_z, "q_z"), "q_z")
    if q_np.ndim != 2 or 0 in q_np.shape:
        raise ValueError(f"q_z must be a non-empty [N, Z] array, got shape {q_np.shape}")
    if (q_np < 0).any() or not np.allclose(q_np.sum(1), 1.0, atol=1e-4):
        raise ValueError("q_z must hold rows of probabilities (non-negative, summing to 1)")
    g = int_array(group.detach().cpu() if is_torch(group) else group, "group")
    if g.ndim != 1:
        raise ValueError(f"group must be 1-D [N], got shape {g.shape}")
    if n_groups is not None:
        _index(g, "group", check_int(n_groups, "n_groups", lo=1), "group indices")
    elif g.size and g.min() < 0:
        raise ValueError(f"group must hold indices >= 0, got {g.min()}")
    if len(g) != len(q_np):
        raise ValueError(f"group must have one entry per row of q_z ({len(q_np)}), got {len(g)}")
    if weights is None:
        wts = np.ones(len(g))
    else:
        wts = check_finite(number_array(weights, "weights"), "weights")
        if wts.shape != (len(g),) or (wts < 0).any() or wts.sum() <= 0:
            raise ValueError(f"weights must be [N={len(g)}] non-negative numbers with a "
                             f"positive sum, got shape {wts.shape}")
    _, g = np.unique(g, return_inverse=True)   # the groups present, numbered 0..G-1
    g = g.reshape(-1)
    G = int(g.max()) + 1
    counts = np.bincount(g, weights=wts, minlength=G)
    used = counts > 0
    if torch_in:
        import torch

        gi = torch.as_tensor(g, device=q_z.device)
        sums = torch.zeros(G, q_z.shape[1], dtype=q_z.dtype, device=q_z.device)
        wt = torch.as_tensor(wts, dtype=q_z.dtype, device=q_z.device)
        sums = sums.index_add(0, gi, q_z * wt[:, None])
        cnt = torch.as_tensor(counts[used], dtype=q_z.dtype, device=q_z.device)
        cond = sums[torch.as_tensor(used, device=q_z.device)] / cnt[:, None]
        marg = (q_z * wt[:, None]).sum(0) / wt.sum()
        pg = cnt / cnt.sum()
        tiny = torch.finfo(q_z.dtype).tiny
        kl = (cond * (torch.log(cond + tiny) - torch.log(marg + tiny))).sum(1)
        return (pg * kl).sum()
    q = q_np.astype(np.float64)
    sums = np.zeros((G, q.shape[1]))
    np.add.at(sums, g, q * wts[:, None])
    cond = sums[used] / counts[used, None]
    marg = (q * wts[:, None]).sum(0) / wts.sum()
    pg = counts[used] / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(cond > 0, cond * (np.log(cond) - np.log(marg)), 0.0).sum(1)
    return float((pg * kl).sum())


class TabularCuriosity:
    r"""A tabular forward model that learns online and pays its prediction error.

    The table ``model[s, a, z]`` (float64 ``[S, A, Z, D]``, uniform ``1/D`` at the start)
    predicts the next observation. Each call scores the transition, then moves the
    prediction toward the observed one-hot: ``model[s, a, z] += lr * (e_{o'} - model[s,
    a, z])`` (an exponential average; ``lr = 1/n`` would give counts). With ``n_z = 1`` the
    bonus is :func:`prediction_error_bonus` (ICM-style); with ``n_z > 1`` it is
    :func:`hindsight_bonus` given the caller's ``z``.

    Parameters
    ----------
    n_states, n_actions, n_obs : int >= 1
    n_z : int >= 1
        Number of hindsight codes (1: no conditioning).
    lr : float in (0, 1]
        The model's step size.
    scale : float > 0
        Multiplies the bonus.

    Attributes
    ----------
    model : ndarray float64 [S, A, Z, D]
    """

    def __init__(self, n_states: int, n_actions: int, n_obs: int, n_z: int = 1,
                 lr: float = 0.5, scale: float = 1.0) -> None:
        S = check_int(n_states, "n_states", lo=1)
        A = check_int(n_actions, "n_actions", lo=1)
        D = check_int(n_obs, "n_obs", lo=1)
        self.n_z = check_int(n_z, "n_z", lo=1)
        self.lr = check_unit_interval(lr, "lr")
        if self.lr == 0.0:
            raise ValueError("lr must be in (0, 1], got 0")
        self.scale = check_positive(scale, "scale")
        self.model = np.full((S, A, self.n_z, D), 1.0 / D)

    def __call__(self, s: int, a: int, obs_next: int, z: int = 0) -> float:
        """Score the transition (s, a, z) -> obs_next, then learn from it."""
        S, A, Z, D = self.model.shape
        for v, name, size in ((s, "s", S), (a, "a", A), (obs_next, "obs_next", D),
                              (z, "z", Z)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < size:
                raise ValueError(f"{name} must be an int in 0..{size - 1}, got {v!r}")
        row = self.model[s, a, z]
        err = 1.0 - 2.0 * row[obs_next] + float(row @ row)
        row *= 1.0 - self.lr
        row[obs_next] += self.lr
        return self.scale * err


@dataclass
class HindsightEncoder:
    """A learned hindsight encoder ``q(z | s, a, o')`` (from :func:`fit_hindsight_encoder`).

    ``logits(s, a, o') = enc_s[s] + enc_a[a] + sum_p enc_obs[p][o'_p]``: a linear map of the
    one-hot inputs, the next observation given as ``P`` parts (e.g. the next cell and the
    TV screen). ``history`` holds the reconstruction loss (``"rec"``) and the independence
    penalty (``"inv"``) per training step.
    """

    enc_s: np.ndarray
    enc_a: np.ndarray
    enc_obs: list[np.ndarray]
    history: dict[str, np.ndarray] = field(default_factory=dict)

    def probs(self, s: Any, a: Any, obs_next: Any) -> np.ndarray:
        """``q(z | s, a, o')``, float64 ``[N, Z]``, for int ``s, a [N]`` and ``obs_next
        [N, P]``."""
        s_, a_, o_ = _transitions(s, a, obs_next, len(self.enc_s), len(self.enc_a),
                                  [len(e) for e in self.enc_obs])
        x = self.enc_s[s_] + self.enc_a[a_]
        for p, e in enumerate(self.enc_obs):
            x = x + e[o_[:, p]]
        x = x - x.max(1, keepdims=True)
        ex = np.exp(x)
        return ex / ex.sum(1, keepdims=True)

    def code(self, s: int, a: int, obs_next: Any) -> int:
        """The most likely code of one transition (what an online agent conditions on);
        ``obs_next`` is a sequence of ``P`` ints. Trusts its input (a hot loop)."""
        x = self.enc_s[s] + self.enc_a[a]
        for e, o in zip(self.enc_obs, obs_next):
            x = x + e[o]
        return int(x.argmax())


def _transitions(s: Any, a: Any, obs_next: Any, S: int, A: int,
                 sizes: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s_ = _index(s, "s", S, "states")
    a_ = _index(a, "a", A, "actions")
    o_ = int_array(obs_next, "obs_next")
    if o_.ndim != 2 or o_.shape[1] != len(sizes):
        raise ValueError(f"obs_next must be [N, P={len(sizes)}] (one column per observation "
                         f"part), got shape {o_.shape}")
    for p, size in enumerate(sizes):
        _index(o_[:, p], f"obs_next[:, {p}]", size, "observation values")
    if not len(s_) == len(a_) == len(o_) or len(s_) == 0:
        raise ValueError(f"s, a and obs_next must be non-empty and of the same length, got "
                         f"{len(s_)}, {len(a_)}, {len(o_)}")
    return s_, a_, o_


def fit_hindsight_encoder(s: Any, a: Any, obs_next: Any, *, n_states: int, n_actions: int,
                          obs_sizes: Any, n_z: int = 8, indep_weight: float = 1.0,
                          code_entropy: float = 0.1, steps: int = 200, lr: float = 0.1,
                          seed: int = 0) -> HindsightEncoder:
    r"""Learn a hindsight code z from transitions: reconstruction, independence, code use.

    Hindsight-style (BYOL-Hindsight's structure with tabular pieces). The next
    observation comes in ``P`` discrete parts :math:`o' = (o'_1, \dots, o'_P)` (for the
    noisy-TV grid: the next cell and the screen). The encoder :math:`q(z \mid s, a, o')`
    is a softmax of ``enc_s[s] + enc_a[a] + sum_p enc_obs[p][o'_p]``; the predictor of
    each part is a softmax of ``W_p[s, a] + U_p[z]``. Full-batch Adam on

    .. math::

        \mathcal L = \operatorname{mean}_i \sum_k q(k \mid x_i)
        \sum_p \bigl(-\log p(o'_{i,p} \mid s_i, a_i, k)\bigr)
        + \lambda_{\mathrm{inv}}\, I(z; (s, a))
        - \beta\, H(\bar q),
        \qquad \bar q = \operatorname{mean}_i q(\cdot \mid x_i),

    with :math:`I` from :func:`independence_penalty` over the batch grouped by (s, a).
    The reconstruction term asks z to explain whatever (s, a) cannot; the penalty forbids
    z's distribution from depending on (s, a), so z cannot carry the predictable part.
    (The paper uses an adversarial contrastive critic on continuous latents; this exact
    mutual information for a discrete z is our stand-in.) The last term is **our
    addition**, a Hindsight-style departure (the paper has no such term): a bonus for the
    entropy of the batch-marginal code distribution :math:`\bar q` (as in IIC / InfoMax
    clustering), which keeps the codes in use. Without it (``code_entropy=0``) the
    reconstruction term, a mixture fit, settles in local optima with merged channels and
    dead codes, and the independence penalty, which is minimised by a collapsed code,
    does not push against them. The loss is fitted on the distinct transitions weighted
    by their counts (the same loss, cheaper).

    Parameters
    ----------
    s, a : int [N]
        States in ``0..n_states-1`` and actions in ``0..n_actions-1``.
    obs_next : int [N, P]
        The next observation's parts; column ``p`` in ``0..obs_sizes[p]-1``.
    n_states, n_actions : int >= 1
    obs_sizes : sequence of P ints >= 1
    n_z : int >= 2
        Number of codes.
    indep_weight : float >= 0
        :math:`\lambda_{\mathrm{inv}}` (a third-party re-implementation uses 1.0).
    code_entropy : float >= 0
        :math:`\beta`, the weight of the marginal code-entropy bonus (our addition; 0
        turns it off).
    steps : int >= 1
    lr : float > 0
        Adam's step size.
    seed : int >= 0
        The initialisation.

    Returns
    -------
    HindsightEncoder
        ``history`` holds per step ``"rec"`` (the reconstruction term), ``"inv"`` (the
        independence term) and ``"ent"`` (:math:`H(\bar q)`, nats).
    """
    import torch

    S = check_int(n_states, "n_states", lo=1)
    A = check_int(n_actions, "n_actions", lo=1)
    if not isinstance(obs_sizes, (list, tuple)) or not obs_sizes:
        raise TypeError(f"obs_sizes must be a non-empty list or tuple of ints, got {obs_sizes!r}")
    sizes = [check_int(v, "obs_sizes", lo=1) for v in obs_sizes]
    Z = check_int(n_z, "n_z", lo=2)
    s_, a_, o_ = _transitions(s, a, obs_next, S, A, sizes)
    lam = check_nonnegative(indep_weight, "indep_weight")
    beta = check_nonnegative(code_entropy, "code_entropy")
    steps = check_int(steps, "steps", lo=1)
    lr = check_positive(lr, "lr")
    seed = check_seed(seed)
    # the loss is a mean over transitions: fit on the distinct ones, weighted by counts
    rows, counts = np.unique(np.column_stack([s_, a_, o_]), axis=0, return_counts=True)
    sa_keys, sa_idx = np.unique(rows[:, 0] * A + rows[:, 1], return_inverse=True)
    sa_idx = sa_idx.reshape(-1)
    w = torch.as_tensor(counts / counts.sum())
    gen = torch.Generator().manual_seed(seed)

    def param(*shape: int) -> Any:
        return (0.1 * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    enc_s, enc_a = param(S, Z), param(A, Z)
    enc_o = [param(n, Z) for n in sizes]
    Ws = [param(len(sa_keys), n) for n in sizes]
    Us = [param(Z, n) for n in sizes]
    opt = torch.optim.Adam([enc_s, enc_a, *enc_o, *Ws, *Us], lr=lr)
    r = torch.as_tensor(rows, dtype=torch.long)
    wi = torch.as_tensor(sa_idx, dtype=torch.long)
    rec_hist, inv_hist, ent_hist = np.zeros(steps), np.zeros(steps), np.zeros(steps)
    for k in range(steps):
        x = enc_s[r[:, 0]] + enc_a[r[:, 1]]
        for p, e in enumerate(enc_o):
            x = x + e[r[:, 2 + p]]
        q = torch.softmax(x, 1)                                                  # [U, Z]
        nll = 0.0
        for p, (W, U) in enumerate(zip(Ws, Us)):
            logp = torch.log_softmax(W[wi][:, None, :] + U[None], -1)           # [U, Z, n_p]
            nll = nll - logp.gather(2, r[:, 2 + p, None, None].expand(-1, Z, 1))[..., 0]
        rec = (w * (q * nll).sum(1)).sum()
        inv = independence_penalty(q, sa_idx, n_groups=len(sa_keys), weights=counts)
        qbar = (w[:, None] * q).sum(0)                                           # [Z]
        ent = -(qbar * torch.log(qbar + 1e-12)).sum()
        loss = rec + lam * inv - beta * ent
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec_hist[k], inv_hist[k], ent_hist[k] = rec.item(), inv.item(), ent.item()
    return HindsightEncoder(enc_s.detach().numpy().copy(), enc_a.detach().numpy().copy(),
                            [e.detach().numpy().copy() for e in enc_o],
                            {"rec": rec_hist, "inv": inv_hist, "ent": ent_hist})
