r"""Perceptual rewards: from pretrained embeddings, demonstrations and factorised states (Ch22).

Four ways to say "what success looks like" without writing a reward by hand:

- :func:`goal_baseline_reward` (VLM-RM, Rocamonde et al. 2023): similarity of an
  observation's embedding to a goal prompt's, after projecting towards the direction from
  a baseline prompt to the goal prompt;
- :func:`segment_demos`, :func:`select_features`, :class:`StepRewardModel`
  (unsupervised perceptual rewards, Sermanet et al. 2016): split a few demonstrations
  into steps, pick each step's most discriminative features, score a frame by per-step
  classifiers;
- :func:`counterfactual_relabel`, :func:`temporal_clip` (RoboReward, 2026): negative
  examples for a progress model trained from successes only;
- :func:`factorized_state_similarity` (StateFactory, 2026): compare an object-attribute
  state with a goal state attribute by attribute.

Chapter 22 measures these rewards with two controllers in :mod:`creditlab.algos.control`:
:func:`~creditlab.algos.control.greedy_reach` (reward-greedy, one frame per candidate) and
:func:`~creditlab.algos.control.reinforce_reach` (a tabular policy trained with REINFORCE).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_int,
    check_real,
    check_seed,
    number_array,
    to_numpy,
)

__all__ = [
    "goal_baseline_reward",
    "segment_demos",
    "select_features",
    "StepRewardModel",
    "counterfactual_relabel",
    "temporal_clip",
    "factorized_state_similarity",
]


def _floats(x: Any, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    a = number_array(x, name)
    if a.ndim not in ndim:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, ndim))} dimensions, got shape {a.shape}"
        )
    return check_finite(a, name)


def _ints(x: Any, name: str) -> np.ndarray:
    a = to_numpy(x, name)
    if a.dtype.kind not in "iu" or a.ndim != 1:
        raise TypeError(f"{name} must be a 1-D integer array, got dtype {a.dtype}, shape {a.shape}")
    return a.astype(np.int64)


# --------------------------------------------------------------------------------------
# VLM-RM


def goal_baseline_reward(x: Any, g: Any, b: Any = None, alpha: float = 0.0) -> np.ndarray:
    r"""VLM-RM's goal-baseline projection reward (Rocamonde et al. 2023, Eq. 3).

    .. math::
        R(x) = 1 - \tfrac12 \big\| (\alpha P + (1 - \alpha) I)(x - g) \big\|_2^2,
        \qquad P = \frac{(g - b)(g - b)^\top}{\|g - b\|^2},

    with :math:`x` the (unit) embedding of an observation, :math:`g` of the goal prompt and
    :math:`b` of a baseline prompt. :math:`\alpha = 0` is the plain CLIP reward
    :math:`1 - \tfrac12\|x - g\|^2 = x \cdot g` (cosine similarity for unit vectors);
    :math:`\alpha = 1` keeps only the component of :math:`x - g` along the direction from
    baseline to goal. Embeddings are used as given (normalise them first, as VLM-RM does;
    the projection matches ``compute_projection_similarity`` in AlignmentResearch/vlmrm).

    Parameters
    ----------
    x : float array [N, D] or [D]
    g : float array [D] or [N, D] (one goal per row)
    b : float array [D] or [N, D], needed when ``alpha > 0``
    alpha : float in [0, 1]

    Returns
    -------
    np.ndarray [N] (or a float for 1-D ``x``), float64
    """
    X = _floats(x, "x", (1, 2))
    G = _floats(g, "g", (1, 2))
    a = check_real(alpha, "alpha")
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    D = X.shape[-1]
    if G.shape[-1] != D or (G.ndim == 2 and X.ndim == 2 and len(G) != len(X)):
        raise ValueError(f"g must have shape [{D}] or [N, {D}] matching x, got {G.shape}")
    diff = X - G
    if a > 0:
        if b is None:
            raise ValueError("b (the baseline embedding) must be given when alpha > 0")
        B = _floats(b, "b", (1, 2))
        if B.shape[-1] != D:
            raise ValueError(f"b must have last axis {D}, got shape {B.shape}")
        d = G - B
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        if (n == 0).any():
            raise ValueError("g and b must differ (the projection direction g - b is 0)")
        d = d / n
        along = (diff * d).sum(-1, keepdims=True) * d  # P (x - g)
        diff = a * along + (1 - a) * diff
    r = 1.0 - 0.5 * (diff**2).sum(-1)
    return float(r) if np.ndim(r) == 0 else r


# --------------------------------------------------------------------------------------
# unsupervised perceptual rewards


def segment_demos(feats: Any, n_steps: int) -> np.ndarray:
    r"""Split one demonstration into ``n_steps`` contiguous steps by dynamic programming.

    Minimises the total within-segment squared deviation (the sum over segments of
    :math:`\sum_{t \in seg} \|f_t - \bar f_{seg}\|^2`), exactly, in :math:`O(K T^2)`.

    **Sermanet-style**: the paper splits demonstrations by a recursive search for the
    split that minimises the average within-segment feature variance; the exact DP here
    optimises the summed squared deviation instead (no recursion, same idea).

    Parameters
    ----------
    feats : float array [T, F], one demonstration's features per frame
    n_steps : int in 1..T

    Returns
    -------
    np.ndarray [T] int64, the step of every frame (0 .. n_steps-1, non-decreasing)
    """
    f = _floats(feats, "feats", (2,))
    T = len(f)
    K = check_int(n_steps, "n_steps", 1)
    if K > T:
        raise ValueError(f"n_steps must be <= the number of frames {T}, got {K}")
    c1 = np.concatenate([np.zeros((1, f.shape[1])), np.cumsum(f, 0)])
    c2 = np.concatenate([[0.0], np.cumsum((f**2).sum(1))])
    i, j = np.meshgrid(np.arange(T + 1), np.arange(T + 1), indexing="ij")
    n = np.maximum(j - i, 1)
    s = c1[j] - c1[i]  # [T+1, T+1, F]
    cost = c2[j] - c2[i] - (s**2).sum(-1) / n  # cost of frames i..j-1
    cost = np.where(j > i, cost, np.inf)
    best = np.full((K + 1, T + 1), np.inf)
    arg = np.zeros((K + 1, T + 1), np.int64)
    best[0, 0] = 0.0
    for k in range(1, K + 1):
        tot = best[k - 1][:, None] + cost  # [i, j]
        arg[k] = np.argmin(tot, 0)
        best[k] = tot[arg[k], np.arange(T + 1)]
    labels = np.empty(T, np.int64)
    j = T
    for k in range(K, 0, -1):
        i0 = arg[k, j]
        labels[i0:j] = k - 1
        j = i0
    return labels


def select_features(feats: Any, labels: Any, k: int) -> np.ndarray:
    r"""The ``k`` most discriminative features of each step (one-vs-rest).

    For step :math:`s` and feature :math:`j` the score is
    :math:`|\mu^{s}_j - \mu^{\neg s}_j| / (\sigma^{s}_j + \sigma^{\neg s}_j + 10^{-8})`,
    means and standard deviations over the frames in step :math:`s` and outside it.

    **Sermanet-style**: the paper ranks features per step by a similar
    between-step / within-step variance ratio; this score is our reconstruction.

    Parameters
    ----------
    feats : float [N, F], frames of all demonstrations
    labels : int [N], their steps (0 .. S-1, every step present)
    k : int in 1..F

    Returns
    -------
    np.ndarray [S, k] int64, feature indices per step (best first)
    """
    f = _floats(feats, "feats", (2,))
    y = _ints(labels, "labels")
    if y.shape != (len(f),):
        raise ValueError(f"labels must have shape [{len(f)}] (one per frame), got {y.shape}")
    k = check_int(k, "k", 1)
    if k > f.shape[1]:
        raise ValueError(f"k must be <= the number of features {f.shape[1]}, got {k}")
    S = int(y.max()) + 1
    if y.min() < 0 or len(np.unique(y)) != S or S < 2:
        raise ValueError("labels must hold every step 0..S-1 with S >= 2")
    out = np.empty((S, k), np.int64)
    for s in range(S):
        a, o = f[y == s], f[y != s]
        score = np.abs(a.mean(0) - o.mean(0)) / (a.std(0) + o.std(0) + 1e-8)
        out[s] = np.argsort(-score, kind="stable")[:k]
    return out


class StepRewardModel:
    r"""Per-step classifiers on selected features, combined into a dense reward.

    Fit on demonstration frames with step labels (:func:`segment_demos`). For each step
    :math:`s`, two feature selections (:func:`select_features`, ``k`` each) and two
    diagonal Gaussians: on the features :math:`J_s` that tell step :math:`s` from the
    other steps, one fitted to all frames of the step (mean :math:`m_s`, deviation
    :math:`v_s`); on the features :math:`E_s` that tell the step's *end* (its last
    ``end_frac`` of frames, at least one per demo) from the rest of the step, one fitted
    to the end frames (:math:`\mu_s, \sigma_s`). A frame :math:`f` is placed in the step
    it fits best and scored by how close it is to that step's end:

    .. math::
        \hat s(f) = \arg\min_s \frac{1}{|J_s|}\sum_{j \in J_s}
                   \frac{(f_j - m_{s,j})^2}{v_{s,j}^2}, \qquad
        c_s(f) = \exp\Big(-\frac{1}{2|E_s|}\sum_{j \in E_s}
                 \frac{(f_j - \mu_{s,j})^2}{\sigma_{s,j}^2}\Big), \qquad
        R(f) = \frac{\hat s(f) + \beta\, c_{\hat s(f)}(f)}{S} \in [0, 1],

    a staircase over steps with smooth treads inside each step (:math:`\beta` = ``tread``
    < 1 keeps a jump at each step's end, so finishing a step always pays).

    **Sermanet-style, reconstructed**: the paper trains per-step classifiers on selected
    Inception features and combines their outputs into one reward; the Gaussian
    classifiers and the combination (step index plus the step's end score) are our
    reading.

    Parameters
    ----------
    k : int >= 1, features per step
    end_frac : float in (0, 1], the fraction of a step's frames that count as its end
    tread : float in (0, 1], :math:`\beta`
    """

    def __init__(self, k: int = 8, end_frac: float = 0.25, tread: float = 0.5) -> None:
        self.k = check_int(k, "k", 1)
        e = check_real(end_frac, "end_frac")
        if not 0 < e <= 1:
            raise ValueError(f"end_frac must be in (0, 1], got {end_frac!r}")
        self.end_frac = float(e)
        b = check_real(tread, "tread")
        if not 0 < b <= 1:
            raise ValueError(f"tread must be in (0, 1], got {tread!r}")
        self.tread = float(b)

    def _fitted(self) -> None:
        if not hasattr(self, "sel"):
            raise RuntimeError(
                "StepRewardModel must be fitted first: call .fit(demo_feats, demo_labels)"
            )

    def fit(self, demo_feats: list, demo_labels: list) -> StepRewardModel:
        """Fit from per-demo features ``[T_i, F]`` and step labels ``[T_i]`` (lists)."""
        if (
            not isinstance(demo_feats, (list, tuple))
            or not demo_feats
            or not isinstance(demo_labels, (list, tuple))
            or len(demo_feats) != len(demo_labels)
        ):
            raise ValueError(
                "demo_feats and demo_labels must be non-empty lists of the same length"
            )
        F = [_floats(f, "demo_feats[i]", (2,)) for f in demo_feats]
        L = [np.asarray(y) for y in demo_labels]
        allf, ally = np.concatenate(F), np.concatenate(L)
        self.sel = select_features(allf, ally, self.k)
        S = len(self.sel)
        floor = 0.05 * allf.std(0) + 1e-6
        self.sel_end = np.zeros((S, self.k), np.int64)
        self.m, self.v = np.zeros((S, self.k)), np.zeros((S, self.k))
        self.mu, self.sd = np.zeros((S, self.k)), np.zeros((S, self.k))
        for s in range(S):
            inside, is_end = [], []
            for f, y in zip(F, L):
                idx = np.nonzero(y == s)[0]
                if len(idx):
                    n = max(1, int(round(self.end_frac * len(idx))))
                    inside.append(f[idx])
                    is_end.append(np.arange(len(idx)) >= len(idx) - n)
            fi, ei = np.concatenate(inside), np.concatenate(is_end)
            J = self.sel[s]
            self.m[s], self.v[s] = fi[:, J].mean(0), np.maximum(fi[:, J].std(0), floor[J])
            if ei.all():  # a step of single frames: its end is the whole step
                Je = J
            else:
                Je = select_features(fi, ei.astype(np.int64), self.k)[1]
            self.sel_end[s] = Je
            e = fi[ei][:, Je]
            self.mu[s], self.sd[s] = e.mean(0), np.maximum(e.std(0), floor[Je])
        self.n_steps = S
        return self

    def _z2(self, f: np.ndarray, mean: np.ndarray, sd: np.ndarray, sel: np.ndarray) -> np.ndarray:
        if f.shape[-1] <= int(self.sel.max()):
            raise ValueError(
                f"feats must have at least {int(self.sel.max()) + 1} features "
                f"(as in fit), got shape {f.shape}"
            )
        sel = f[..., sel]  # [..., S, k]
        return (((sel - mean) / sd) ** 2).mean(-1)

    def step_of(self, feats: Any) -> np.ndarray:
        r""":math:`\hat s(f)`, int64 ``[...]`` of features ``[..., F]``."""
        self._fitted()
        f = _floats(feats, "feats", (1, 2, 3))
        return np.argmin(self._z2(f, self.m, self.v, self.sel), -1)

    def step_scores(self, feats: Any) -> np.ndarray:
        """:math:`c_s(f)` for every step, ``[..., S]`` of features ``[..., F]``."""
        self._fitted()
        f = _floats(feats, "feats", (1, 2, 3))
        return np.exp(-0.5 * self._z2(f, self.mu, self.sd, self.sel_end))

    def __call__(self, feats: Any) -> np.ndarray:
        """The dense reward :math:`R(f)` in [0, 1], ``[...]`` of features ``[..., F]``."""
        self._fitted()
        f = _floats(feats, "feats", (1, 2, 3))
        s = np.argmin(self._z2(f, self.m, self.v, self.sel), -1)
        c = np.take_along_axis(
            np.exp(-0.5 * self._z2(f, self.mu, self.sd, self.sel_end)), s[..., None], -1
        )[..., 0]
        return (s + self.tread * c) / self.n_steps


# --------------------------------------------------------------------------------------
# RoboReward


def counterfactual_relabel(
    goal_ids: Any, n_goals: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    r"""RoboReward's counterfactual relabelling: pair each episode with a *wrong* instruction.

    A successful episode for goal :math:`g` becomes a negative example for a goal
    :math:`g' \ne g` drawn uniformly: under :math:`g'` nothing was achieved, so its
    progress label is 0 at every frame.

    **RoboReward-style**: the paper has a VLM write counterfactual instructions for real
    videos; here an instruction is a goal id.

    Parameters
    ----------
    goal_ids : int array [N], each episode's true goal in 0..n_goals-1
    n_goals : int >= 2
    seed : int >= 0

    Returns
    -------
    (wrong_goal_ids [N] int64, progress_label [N] float64 (all 0))
    """
    g = _ints(goal_ids, "goal_ids")
    n = check_int(n_goals, "n_goals", 2)
    if (g < 0).any() or (g >= n).any():
        raise ValueError(f"goal_ids must be a 1-D integer array in 0..{n - 1}, got {g!r}")
    rng = np.random.default_rng(check_seed(seed))
    wrong = (g + rng.integers(1, n, len(g))) % n
    return wrong.astype(np.int64), np.zeros(len(g))


def temporal_clip(
    lengths: Any, *, n_clips: int = 1, low: float = 0.2, high: float = 0.8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    r"""RoboReward's temporal clipping: cut successful episodes short, label partial progress.

    For episode :math:`i` of length :math:`T_i` (frames :math:`0..T_i`) draw a fraction
    :math:`u \sim U[\text{low}, \text{high}]`, keep frames :math:`0..\lfloor u T_i\rfloor`
    and label the clip's last frame with progress :math:`\lfloor u T_i \rfloor / T_i`
    (time-interpolated progress; the clip is *not* a success).

    **RoboReward-style**: the paper maps clipped videos to discrete progress levels with
    its annotation pipeline; here the label is the fraction of time elapsed.

    Parameters
    ----------
    lengths : int array [N], steps per episode (>= 1)
    n_clips : int >= 1, clips per episode
    low, high : floats with 0 < low <= high < 1
    seed : int >= 0

    Returns
    -------
    (episode [N * n_clips] int64, end [N * n_clips] int64 (last kept frame),
    progress [N * n_clips] float64)
    """
    L = _ints(lengths, "lengths")
    if (L < 1).any():
        raise ValueError(f"lengths must be a 1-D integer array of values >= 1, got {L!r}")
    m = check_int(n_clips, "n_clips", 1)
    lo, hi = check_real(low, "low"), check_real(high, "high")
    if not 0 < lo <= hi < 1:
        raise ValueError(f"low and high must satisfy 0 < low <= high < 1, got {low}, {high}")
    rng = np.random.default_rng(check_seed(seed))
    ep = np.repeat(np.arange(len(L)), m)
    u = rng.uniform(lo, hi, len(ep))
    end = np.floor(u * L[ep]).astype(np.int64)
    return ep.astype(np.int64), end, end / L[ep]


# --------------------------------------------------------------------------------------
# StateFactory


def _exact(a: str, b: str) -> float:
    return float(a == b)


def factorized_state_similarity(
    state: Mapping, goal: Mapping, sim_fn: Callable | None = None, weights: Mapping | None = None
) -> float:
    r"""StateFactory-style reward: attribute-by-attribute similarity of a state to a goal.

    ``state`` and ``goal`` are object-attribute states ``{object: {attribute: value}}``
    (the goal names only what it constrains). With :math:`w_o` the weight of object
    :math:`o` (default 1) and :math:`\mathrm{sim}` a similarity of two values in [0, 1]
    (default exact match),

    .. math:: R(s, g) = \frac{\sum_{o \in g} w_o \frac{1}{|g_o|}\sum_{a \in g_o}
              \mathrm{sim}(s_{o,a}, g_{o,a})}{\sum_{o \in g} w_o},

    routing each goal attribute to the same object's attribute in the state (a missing
    object or attribute scores 0).

    **StateFactory-style**: the paper has an LM build hierarchical object-attribute
    states and uses embedding similarity under hierarchical routing; here the states come
    from a rule parser and the default similarity is exact match.

    Returns
    -------
    float in [0, 1]
    """
    if not isinstance(state, Mapping) or not isinstance(goal, Mapping):
        raise TypeError("state and goal must be mappings {object: {attribute: value}}")
    if not goal:
        raise ValueError("goal must constrain at least one object")
    sim = _exact if sim_fn is None else sim_fn
    if not callable(sim):
        raise TypeError(f"sim_fn must be callable, got {type(sim_fn).__name__}")
    num = den = 0.0
    for obj, attrs in goal.items():
        if not isinstance(attrs, Mapping) or not attrs:
            raise ValueError(f"goal[{obj!r}] must be a non-empty mapping of attributes")
        w = 1.0 if weights is None else float(weights.get(obj, 1.0))
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"weights[{obj!r}] must be a finite number >= 0, got {w!r}")
        have = state.get(obj, {})
        tot = sum(float(sim(have[a], v)) if a in have else 0.0 for a, v in attrs.items())
        num += w * tot / len(attrs)
        den += w
    if den <= 0:
        raise ValueError("weights must not all be 0 on the goal's objects")
    return num / den


# --------------------------------------------------------------------------------------
# a reward-greedy controller for PointReach
