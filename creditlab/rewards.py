"""Reward models for StepChain: hackable process reward models and a verifiable outcome.

A process reward model (PRM) maps each step's *event* (see
:data:`creditlab.envs.stepchain.EVENTS`) to a score in [-1, 1], like a discriminative
PRM's ``p(correct) - p(wrong)`` (PURE's step reward). Real PRMs are imperfect in
recurring ways; here every imperfection is a named, documented parameter:

=====================  ==========================================  ======================
hack (preset name)     what the PRM gets wrong                     parameter
=====================  ==========================================  ======================
``"filler"``           scores content-free filler steps highly      ``filler=0.7``
                       (PURE's "only thinking, not solving")
``"premature"``        also overrates answers given before the      ``filler=0.7``,
                       work is done                                 ``premature=0.3``
``"repeat"``           scores restating a correct step above new    ``repeat=0.9``
                       work (Gao et al. 2024's repeated steps)
``"noisy"``            Gaussian noise on every score                ``noise=0.3``
``"honest"``           none: filler/repeat 0, premature -1          defaults
=====================  ==========================================  ======================

Wrong steps are caught only with probability ``detect``; an uncaught wrong WORK step is
scored like a correct one, an uncaught wrong answer like a correct answer.

The verifiable outcome reward (:class:`OutcomeVerifier`) is ``coef * 1[correct]`` on a
random ``fraction`` of prompts (PURE's "10% verifiable reward"); the policy is never
told which prompts carry it.

Mixing and corrupting rewards (book Chapter 7)
----------------------------------------------
:func:`hybrid` (a verifier where one exists, a reward model elsewhere; a HARMO-style
:math:`R^{hybrid}`), :func:`length_penalty` (HARMO-style group length penalty, a
reconstruction), :func:`flip_noise` (question-wise reward flips of Lv et al. 2025) and
:func:`pattern_reward` (their reasoning-pattern reward, RPR; Chapter 7 uses it
RPR-style, with ``cap=1``). ReNorm, a transform of a
process and an outcome reward, is :func:`creditlab.shaping.renorm`.
:func:`consistency_reward` (Chapter 8) zeroes a judge's reward when its reasoning and its
final choice disagree (R1-Reward-style).

Rewards learned from outcomes (book Chapter 9)
----------------------------------------------
:func:`implicit_process_reward` is the per-step reward
:math:`\beta\\log\\pi_\\phi(a_t \\mid s_t)/\\pi_{ref}(a_t \\mid s_t)` of an implicit PRM
(PRIME, OPRL); :func:`implicit_prm_loss` is PRIME's outcome cross-entropy that trains it;
:func:`answer_clusters` groups a prompt's final answers (equality or a user equivalence)
for label-free rewards (majority vote, cluster frequency, SIOP's cluster weights).

Segment rewards (book Chapter 13)
---------------------------------
:func:`segment_rewards` places per-segment scores (one per reward model / error type,
weighted) on each segment's last token of a ``[B, T]`` response, the dense reward that
FGAIF feeds to PPO; :func:`creditlab.returns.gae` consumes it with the response mask.

Likelihood and information as reward (book Chapter 15)
------------------------------------------------------
:func:`info_gain` is RLP's reward for a thought: how much it raises the log-likelihood of
the observed next token over a no-thought (EMA) baseline. :func:`followup_likelihood` is
an FLR-style reward: the likelihood of a user's positive follow-ups minus that of the
negative ones, under a dialogue model (a reconstruction of the paper's combination).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from creditlab._backend import (
    check_finite,
    check_int,
    check_real,
    check_unit_interval,
    int_array,
    number_array,
    to_numpy,
)
from creditlab.envs.stepchain import EVENTS

__all__ = [
    "PRM_PRESETS",
    "OutcomeVerifier",
    "ProcessRewardModel",
    "consistency_reward",
    "flip_noise",
    "hybrid",
    "length_penalty",
    "make_prm",
    "pattern_reward",
    "answer_clusters",
    "implicit_process_reward",
    "implicit_prm_loss",
    "segment_rewards",
    "FOLLOWUP_COMBINE",
    "followup_likelihood",
    "info_gain",
]


def _check_score(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [-1, 1], got {type(v).__name__}")
    if not np.isfinite(v) or not -1.0 <= v <= 1.0:
        raise ValueError(f"{name} must be a finite number in [-1, 1], got {v}")
    return float(v)


@dataclass(frozen=True)
class ProcessRewardModel:
    """A StepChain PRM: one score per event, imperfect detection, optional noise.

    Parameters
    ----------
    work : float in [-1, 1]
        Score of a correct WORK step (and of an undetected wrong one).
    filler : float in [-1, 1]
        Score of a FILLER step (and of REPEAT with nothing to repeat).
    repeat : float in [-1, 1]
        Score of restating a correct WORK step.
    answer : float in [-1, 1]
        Score of a correct answer (and of an undetected wrong one).
    premature : float in [-1, 1]
        Score of an answer given with ``p < d``.
    error : float in [-1, 1]
        Score of a detected wrong step (WORK, REPEAT of it, or ANSWER after it).
    detect : float in [0, 1]
        Probability that a wrong step is detected.
    truncated : float in [-1, 1]
        Score of the cut-off step at the horizon.
    noise : float >= 0
        Standard deviation of Gaussian noise added to every score (then clipped to [-1, 1]).
    """

    work: float = 0.8
    filler: float = 0.0
    repeat: float = 0.0
    answer: float = 0.9
    premature: float = -1.0
    error: float = -1.0
    detect: float = 0.8
    truncated: float = -0.5
    noise: float = 0.0

    def __post_init__(self) -> None:
        for k in ("work", "filler", "repeat", "answer", "premature", "error", "truncated"):
            object.__setattr__(self, k, _check_score(k, getattr(self, k)))
        d = self.detect
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0.0 <= d <= 1.0:
            raise ValueError(f"detect must be a number in [0, 1], got {d!r}")
        n = self.noise
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not np.isfinite(n) or n < 0:
            raise ValueError(f"noise must be a finite number >= 0, got {n!r}")

    # the score an event gets when nothing is detected, and whether it can be detected
    def _base(self) -> tuple[np.ndarray, np.ndarray]:
        base = {
            "work": self.work, "work_error": self.work, "filler": self.filler,
            "repeat": self.repeat, "repeat_error": self.repeat,
            "answer_correct": self.answer, "answer_wrong": self.answer,
            "answer_premature": self.premature, "truncated": self.truncated,
        }
        detectable = {"work_error", "repeat_error", "answer_wrong"}
        return (np.array([base[e] for e in EVENTS]),
                np.array([e in detectable for e in EVENTS]))

    def score(self, events: Any, rng: np.random.Generator) -> np.ndarray:
        """Scores (float64, same shape as ``events``) of event ids; -1 ids (no step) get 0.

        Parameters
        ----------
        events : int array
            Indices into :data:`~creditlab.envs.stepchain.EVENTS`, or -1 for padding.
        rng : numpy.random.Generator
            Draws detections and noise.
        """
        ev = np.asarray(events)
        if ev.dtype.kind not in "iu":
            raise TypeError(f"events must be an integer array, got dtype {ev.dtype}")
        if ((ev < -1) | (ev >= len(EVENTS))).any():
            raise ValueError(f"events must be in [-1, {len(EVENTS)}), got {ev!r}")
        base, detectable = self._base()
        valid = ev >= 0
        e = np.where(valid, ev, 0)
        s = base[e]
        caught = detectable[e] & (rng.random(ev.shape) < self.detect)
        s = np.where(caught, self.error, s)
        if self.noise > 0:
            s = np.clip(s + self.noise * rng.standard_normal(ev.shape), -1.0, 1.0)
        return np.where(valid, s, 0.0)

    def expected_scores(self) -> dict[str, float]:
        """E[score | event] for every event (detection averaged; noise ignored)."""
        base, detectable = self._base()
        exp = np.where(detectable, self.detect * self.error + (1 - self.detect) * base, base)
        return {e: float(v) for e, v in zip(EVENTS, exp)}

    def expected_work_score(self, error_rate: float) -> float:
        """E[score of a WORK step] = (1-eps) work + eps (detect error + (1-detect) work)."""
        ex = self.expected_scores()
        return float((1 - error_rate) * ex["work"] + error_rate * ex["work_error"])

    def score_table(self) -> list[tuple[str, float, float]]:
        """Rows ``(event, score if undetected, expected score)`` for every event."""
        base, _ = self._base()
        ex = self.expected_scores()
        return [(e, float(b), ex[e]) for e, b in zip(EVENTS, base)]

    def table_markdown(self) -> str:
        """The score table as Markdown (event, score, expected score with detection)."""
        lines = ["| event | score | expected score |", "|---|---|---|"]
        lines += [f"| {e} | {b:+.2f} | {x:+.3f} |" for e, b, x in self.score_table()]
        if self.noise:
            lines.append(f"\nplus N(0, {self.noise}^2) noise, clipped to [-1, 1]")
        return "\n".join(lines)

    def replace(self, **changes: Any) -> ProcessRewardModel:
        """A copy with some scores changed (a different hack)."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


#: named hacks; each is the honest model with the listed scores changed
PRM_PRESETS: dict[str, dict[str, float]] = {
    "honest": {},
    "filler": {"filler": 0.7, "premature": 0.1},
    "premature": {"filler": 0.7, "premature": 0.3},
    "repeat": {"repeat": 0.9, "filler": 0.0, "premature": -1.0},
    "noisy": {"noise": 0.3},
    # Chapter 7's principle judge: every score in [0, 1] (a generative judge's
    # score / max_score); a redundant step ("search again") still looks fairly good
    "principle": {"work": 0.8, "filler": 0.6, "repeat": 0.6, "answer": 0.9,
                  "premature": 0.2, "error": 0.0, "detect": 0.5, "truncated": 0.3,
                  "noise": 0.15},
}


def make_prm(name: str = "filler", **overrides: Any) -> ProcessRewardModel:
    """The preset PRM ``name`` (see :data:`PRM_PRESETS`) with optional score overrides.

    Examples
    --------
    >>> make_prm("filler").filler
    0.7
    >>> make_prm("repeat", detect=1.0).detect
    1.0
    """
    if name not in PRM_PRESETS:
        raise ValueError(f"name must be a PRM preset, one of {sorted(PRM_PRESETS)}; got "
                         f"{name!r}")
    return ProcessRewardModel(**{**PRM_PRESETS[name], **overrides})


@dataclass(frozen=True)
class OutcomeVerifier:
    """Verifiable outcome reward ``coef * 1[correct]`` on a fraction of prompts.

    Parameters
    ----------
    fraction : float in [0, 1]
        Probability that a prompt carries a checkable answer (PURE keeps 10%).
    coef : float
        Reward for a correct answer on such a prompt (0 otherwise).
    """

    fraction: float = 0.1
    coef: float = 1.0

    def __post_init__(self) -> None:
        f = self.fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 <= f <= 1.0:
            raise ValueError(f"fraction must be a number in [0, 1], got {f!r}")
        c = self.coef
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not np.isfinite(c):
            raise ValueError(f"coef must be a finite number, got {c!r}")

    def assign(self, n_prompts: int, rng: np.random.Generator) -> np.ndarray:
        """bool [n_prompts]: which prompts carry a verifiable answer."""
        if self.fraction >= 1.0:
            return np.ones(n_prompts, bool)
        return rng.random(n_prompts) < self.fraction

    def reward(self, correct: Any, has_vr: Any) -> np.ndarray:
        """float64 array: ``coef * correct`` where ``has_vr``, else 0."""
        c, h = np.asarray(correct, bool), np.asarray(has_vr, bool)
        if c.shape != h.shape:
            raise ValueError(f"correct {c.shape} and has_vr {h.shape} must have the same shape")
        return np.where(h & c, float(self.coef), 0.0)



# --------------------------------------------------------------------------------------
# Mixing and corrupting rewards (Chapter 7)


def _vector(x: Any, name: str, bools: bool = False) -> np.ndarray:
    a = to_numpy(x, name)
    if a.dtype.kind not in ("biuf" if bools else "iuf"):
        kinds = "a numeric or bool" if bools else "a numeric"
        raise TypeError(f"{name} must be {kinds} array, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D [B], got shape {tuple(a.shape)}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return a


def _bools(x: Any, name: str, n: int) -> np.ndarray:
    a = to_numpy(x, name)
    if a.dtype != bool:
        raise TypeError(f"{name} must be a bool array, got dtype {a.dtype}")
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {tuple(a.shape)}")
    return a


def _groups(index: Any, n: int) -> np.ndarray:
    g = to_numpy(index, "index")
    if g.dtype.kind not in "iu":
        raise TypeError(f"index must be an integer array of group ids, got dtype {g.dtype}")
    if g.shape != (n,):
        raise ValueError(f"index must have shape ({n},) (one group id per row), got "
                         f"{tuple(g.shape)}")
    return np.unique(g, return_inverse=True)[1].reshape(n)


def consistency_reward(r: Any, reason_choice: Any, final_choice: Any,
                       n_choices: int = 2) -> np.ndarray:
    r"""R1-Reward-style consistency reward: the answer's reward counts only if the reasoning
    agrees with the final choice (book Chapter 8).

    .. math:: \tilde r_i = r_i \, \mathbb 1[z_i = c_i]

    with :math:`z_i` the choice the reasoning argues for and :math:`c_i` the final choice.
    *R1-Reward-style*: the paper has a separate judge model check consistency and its exact
    combination with the accuracy reward is not pinned in our notes; here the check is an
    exact comparison and the combination a product.

    Parameters
    ----------
    r : array [B], numeric (numpy or torch)
        The accuracy reward of each response.
    reason_choice, final_choice : array [B], integer in [0, n_choices)
        The choice the reasoning supports, and the final answer (indices).
    n_choices : int >= 1
        How many answers there are to choose from (2 for a pairwise judge).

    Returns
    -------
    np.ndarray [B], float64 (a new array).
    """
    rv = _vector(r, "r")
    n_choices = check_int(n_choices, "n_choices", 1)
    z, c = to_numpy(reason_choice, "reason_choice"), to_numpy(final_choice, "final_choice")
    for name, a in (("reason_choice", z), ("final_choice", c)):
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer array of choices, got dtype {a.dtype}")
        if a.shape != rv.shape:
            raise ValueError(f"{name} must have shape {rv.shape} (one per reward), got "
                             f"{tuple(a.shape)}")
        if a.size and (a.min() < 0 or a.max() >= n_choices):
            raise ValueError(f"{name} must hold choice indices in [0, {n_choices}), got "
                             f"values in [{a.min()}, {a.max()}]")
    return rv * (z == c)


def hybrid(verifier: Any, model: Any, has_verifier: Any, confidence: float = 1.0) -> np.ndarray:
    r"""HARMO-style hybrid reward: a rule-based check where one exists, a reward model elsewhere.

    .. math:: R^{hybrid}_i = \begin{cases} c\, v_i + (1 - c)\, m_i & \text{prompt } i
              \text{ has a verifier} \\ m_i & \text{otherwise} \end{cases}

    with :math:`c` the confidence placed in the rule-based check (Gulhane & Indurthi
    2025, arXiv:2510.05283, Eq. 3 gives :math:`R = R^{hybrid} + R^\lambda + R^{fmt}`
    with equal weights; add :func:`length_penalty` and a format reward to this).
    *HARMO-style*: the paper describes the hybrid part only as a verifier "with
    confidence" where one applies and the reward model elsewhere; the convex mix
    :math:`c\,v + (1-c)\,m` is our reading, not the paper's formula. Chapter 7 runs
    only :math:`c = 1` (the verifier alone where it exists).

    Parameters
    ----------
    verifier : float array [B]
        Rule-based scores (e.g. ``1[correct]``); ignored where ``has_verifier`` is False.
    model : float array [B]
        Reward-model scores.
    has_verifier : bool array [B]
    confidence : float in [0, 1]

    Returns
    -------
    float64 array [B]
    """
    m = _vector(model, "model")
    v = _vector(verifier, "verifier")
    if v.shape != m.shape:
        raise ValueError(f"verifier {v.shape} and model {m.shape} must have the same shape")
    h = _bools(has_verifier, "has_verifier", len(m))
    c = check_unit_interval(confidence, "confidence")
    return np.where(h, c * v + (1.0 - c) * m, m)


LENGTH_PENALTY_KINDS = ("short", "two_sided")


def length_penalty(lengths: Any, correct: Any, index: Any, p_max: float = 0.5,
                   tau: float = 0.5, kind: str = "short", guard: bool = True) -> np.ndarray:
    r"""HARMO-style group length penalty :math:`R^\lambda` (our reconstruction).

    Gulhane & Indurthi (2025) describe a "generalised dynamic length penalty" with
    parameters :math:`P_{max}` and :math:`\tau` that needs group sampling and at least
    one correct response in the group, and that counters the drift to short answers. The
    formula itself is not published in what we could read; this one has every stated
    property (``research/formulas.md``). For each group :math:`g` with correct responses
    :math:`C_g \ne \emptyset`, :math:`L_{ref} = \mathrm{mean}_{j \in C_g} L_j` and

    .. math:: R^\lambda_i = -P_{max} \min\Big(1, \frac{\max(0, L_{ref} - L_i)}
              {\tau L_{ref}}\Big) \quad (\texttt{kind="short"})

    (``"two_sided"`` uses :math:`|L_i - L_{ref}|`). The *guard*: a group with no correct
    response gets 0. With ``guard=False`` such a group takes its reference from all its
    responses instead, the ablation of Chapter 7.

    Parameters
    ----------
    lengths : int or float array [B] (> 0)
    correct : bool array [B]
    index : int array [B]
        Group (prompt) id of each response.
    p_max : float >= 0
    tau : float > 0
    kind : {"short", "two_sided"}
    guard : bool

    Returns
    -------
    float64 array [B], in [-p_max, 0]
    """
    L = _vector(lengths, "lengths")
    if (L <= 0).any():
        raise ValueError("lengths must be > 0")
    ok = _bools(correct, "correct", len(L))
    g = _groups(index, len(L))
    p_max = check_real(p_max, "p_max")
    if p_max < 0:
        raise ValueError(f"p_max must be >= 0, got {p_max}")
    if check_real(tau, "tau") <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if kind not in LENGTH_PENALTY_KINDS:
        raise ValueError(f"kind must be one of {LENGTH_PENALTY_KINDS}, got {kind!r}")
    if not isinstance(guard, (bool, np.bool_)):
        raise TypeError(f"guard must be a bool, got {type(guard).__name__}")
    G = int(g.max()) + 1 if len(g) else 0
    n_ok = np.bincount(g, ok, G)
    ref = np.bincount(g, L * ok, G) / np.maximum(n_ok, 1)
    if not guard:
        ref = np.where(n_ok > 0, ref, np.bincount(g, L, G) / np.bincount(g, minlength=G))
    has_ref = (n_ok > 0) | (not guard)
    r = ref[g]
    gap = r - L if kind == "short" else np.abs(L - r)
    pen = -p_max * np.minimum(1.0, np.maximum(0.0, gap) / (tau * np.where(r > 0, r, 1.0)))
    return np.where(has_ref[g], pen, 0.0) + 0.0


FLIP_PER = ("question", "response")
FLIP_KINDS = ("symmetric", "false_negative")


def flip_noise(r: Any, p: float, rng: np.random.Generator, per: str = "question",
               index: Any = None, kind: str = "symmetric") -> np.ndarray:
    r"""Binary rewards flipped at random (Lv et al. 2025, arXiv:2505.22653).

    ``per="question"``: each question (group of ``index``) is chosen with probability
    :math:`p`, and every reward of a chosen question is flipped, :math:`r \to 1 - r` (the
    paper's question-wise noise: a whole question's verifier is wrong). ``per="response"``:
    each reward independently. ``kind="false_negative"`` flips only rewards of 1 (a reward
    model that misses correct answers). In expectation the symmetric flip gives
    :math:`\mathbb E[\tilde r] = p + (1 - 2p) r`: the signal shrinks by :math:`1 - 2p`
    and vanishes at :math:`p = 1/2`.

    Parameters
    ----------
    r : array [B] of 0s and 1s
        Float, int or bool (e.g. an episode batch's ``correct``).
    p : float in [0, 1]
    rng : numpy.random.Generator
        Draws one uniform number per question (``per="question"``, in order of first
        appearance) or per response.
    per : {"question", "response"}
    index : int array [B], required for ``per="question"``
        Question id of each response.
    kind : {"symmetric", "false_negative"}

    Returns
    -------
    float64 array [B] of 0s and 1s (a new array; ``r`` is not modified)
    """
    x = _vector(r, "r", bools=True)
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValueError("r must hold binary rewards (0 or 1)")
    p = check_unit_interval(p, "p")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    if per not in FLIP_PER:
        raise ValueError(f"per must be one of {FLIP_PER}, got {per!r}")
    if kind not in FLIP_KINDS:
        raise ValueError(f"kind must be one of {FLIP_KINDS}, got {kind!r}")
    if per == "question":
        if index is None:
            raise ValueError("index (the question id of each response) is required for "
                             "per='question'")
        raw = to_numpy(index, "index")
        g = _groups(raw, len(x))
        # number questions in order of first appearance, so the draw is stable
        _, first = np.unique(g, return_index=True)
        order = np.argsort(np.argsort(first))
        flip = (rng.random(len(first)) < p)[order][g]
    else:
        if index is not None:
            _groups(index, len(x))
        flip = rng.random(len(x)) < p
    if kind == "false_negative":
        flip &= x == 1.0
    return np.where(flip, 1.0 - x, x)


def pattern_reward(tokens: Any, patterns: Any, r_per_hit: float = 1.0, cap: int | None = None,
                   mask: Any = None) -> np.ndarray:
    r"""Reasoning-pattern reward (RPR; Lv et al. 2025, arXiv:2505.22653).

    .. math:: R_i = r_{hit} \cdot \min\big(\mathrm{cap},\ \#\{t : y_{i,t} \in
              \mathcal P,\ m_{i,t}\}\big)

    a reward for the number of key reasoning phrases :math:`\mathcal P` a response
    contains, with no check of the answer. Here a "phrase" is a step type (a token id).

    Parameters
    ----------
    tokens : int array [B, T] or [T]
    patterns : int or non-empty sequence of int
        The ids that count as a hit.
    r_per_hit : float
    cap : int >= 0 or None
        At most this many hits count (None: no cap). ``cap=1`` rewards the presence of
        a pattern.
    mask : bool array like ``tokens``, optional
        False marks padding (never a hit).

    Returns
    -------
    float64 array [B] (a float for a [T] row)
    """
    y = to_numpy(tokens, "tokens")
    if y.dtype.kind not in "iu":
        raise TypeError(f"tokens must be an integer array, got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise ValueError(f"tokens must be 1-D [T] or 2-D [B, T], got shape {tuple(y.shape)}")
    pats = to_numpy(patterns, "patterns")
    if pats.size == 0:
        raise ValueError("patterns must name at least one token id, got an empty sequence")
    if pats.dtype.kind not in "iu":
        raise TypeError(f"patterns must be integer ids, got dtype {pats.dtype}")
    r_per_hit = check_real(r_per_hit, "r_per_hit")
    if cap is not None:
        cap = check_int(cap, "cap", 0)
    m = np.ones(y.shape, bool)
    if mask is not None:
        m = to_numpy(mask, "mask")
        if m.dtype != bool:
            raise TypeError(f"mask must be a bool array, got dtype {m.dtype}")
        if m.shape != y.shape:
            raise ValueError(f"mask must have the shape of tokens {tuple(y.shape)}, got "
                             f"{tuple(m.shape)}")
    hits = (np.isin(y, pats.reshape(-1)) & m).sum(-1).astype(np.float64)
    if cap is not None:
        hits = np.minimum(hits, cap)
    out = r_per_hit * hits
    return float(out) if y.ndim == 1 else out


# --------------------------------------------------------------------------------------
# Chapter 9: rewards learned from outcomes


def implicit_process_reward(logp_phi: Any, logp_ref: Any, beta: float = 1.0, *,
                            response_mask: Any = None) -> Any:
    r"""Implicit process reward of a log-likelihood-ratio reward model (PRIME, OPRL).

    .. math:: r_t = \beta\,\big[\log\pi_\phi(a_t \mid s_t) - \log\pi_{ref}(a_t \mid s_t)\big]

    per step (or token). It telescopes: :math:`\sum_t r_t = \beta\log\pi_\phi(\tau) /
    \pi_{ref}(\tau)`, the sequence score the model was trained on (PRIME's implicit ORM,
    OPRL's trajectory DPO margin). PRIME's code feeds the raw log-ratio (``beta=1``) to
    the policy and keeps :math:`\beta = 0.05` inside the loss; OPRL uses
    :math:`\pi_{ref} = \pi_{\theta_{old}}`, the policy that sampled the batch.

    Parameters
    ----------
    logp_phi, logp_ref : float array or tensor [B, T]
        Log-probabilities of the taken actions under the reward model and the reference.
    beta : float > 0
    response_mask : bool [B, T], optional
        False marks padding (reward 0).

    Returns
    -------
    [B, T], the input's kind (torch keeps the gradient through ``logp_phi``)
    """
    from creditlab import prefs

    a = prefs._t(logp_phi, "logp_phi", (2,))
    b = prefs._t(logp_ref, "logp_ref", (2,))
    if a.shape != b.shape:
        raise ValueError(f"logp_ref must have the shape of logp_phi {tuple(a.shape)}, got "
                         f"{tuple(b.shape)}")
    r = prefs._beta(beta) * (a - b.to(a.dtype))
    m = prefs._mask(response_mask, "response_mask", tuple(r.shape))
    if m is not None:
        r = r.masked_fill(~m.to(r.device), 0.0)
    return prefs._out(r, prefs._is_torch(logp_phi, logp_ref))


def implicit_prm_loss(logp_phi: Any, logp_ref: Any, outcome: Any, beta: float = 0.05, *,
                      response_mask: Any = None, reduction: str = "mean") -> Any:
    r"""PRIME's outcome cross-entropy for an implicit PRM (Cui et al. 2025).

    .. math:: L = \mathrm{BCE}\Big(\sigma\big(\beta\textstyle\sum_t m_t[\log\pi_\phi(a_t)
              - \log\pi_{ref}(a_t)]\big),\ o\Big)

    with :math:`o \in [0, 1]` the verified outcome; :math:`\beta = 0.05` in PRIME's code
    (``beta_train``). Trained this way, :math:`\pi_\phi` is an outcome reward model whose
    per-step log-ratios are process rewards (:func:`implicit_process_reward`).

    Parameters
    ----------
    logp_phi, logp_ref : float array or tensor [B, T]
    outcome : float array [B] in [0, 1]
    beta : float > 0
    response_mask : bool [B, T], optional
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    scalar (or [B]), the input's kind; torch keeps the gradient through ``logp_phi``
    """
    from creditlab import prefs

    torch = prefs._torch()
    a = prefs._t(logp_phi, "logp_phi", (2,))
    b = prefs._t(logp_ref, "logp_ref", (2,))
    if a.shape != b.shape:
        raise ValueError(f"logp_ref must have the shape of logp_phi {tuple(a.shape)}, got "
                         f"{tuple(b.shape)}")
    o = prefs._t(outcome, "outcome", (1,))
    if tuple(o.shape) != (a.shape[0],):
        raise ValueError(f"outcome must have shape ({a.shape[0]},), got {tuple(o.shape)}")
    if not bool(((o >= 0) & (o <= 1)).all()):
        raise ValueError("outcome must hold values in [0, 1]")
    score = prefs._logratio(a, b, response_mask, ("logp_phi", "logp_ref", "response_mask"))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        prefs._beta(beta) * score, o.to(score.dtype).to(score.device), reduction="none")
    return prefs._out(prefs._reduce(loss, reduction), prefs._is_torch(logp_phi, logp_ref))


def answer_clusters(answers: Any, index: Any, *, valid: Any = None,
                    equiv_fn: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Cluster each prompt's final answers; frequencies and the majority.

    Two answers of the same group (same ``index``) share a cluster when they are equal, or
    when ``equiv_fn(a, b)`` is true (greedy: an answer joins the first cluster whose first
    member is equivalent; SIOP clusters with an NLI model, here equality or a user rule).

    Parameters
    ----------
    answers : array-like [N]
        Final answers (any values ``==`` can compare, or ``equiv_fn`` can).
    index : array-like [N]
        Group id (prompt) of each answer.
    valid : bool [N], optional
        False marks a rollout without an answer (truncated): cluster -1, frequency 0,
        never the majority; it still counts in the group size :math:`K`.
    equiv_fn : callable ``(a, b) -> bool``, optional

    Returns
    -------
    cluster : int64 [N]
        Row of the cluster's first member (-1 for invalid rows).
    freq : float64 [N]
        :math:`m_c / K`, the share of the group in the row's cluster (EMPO-style reward,
        SIOP's :math:`q_c` with :math:`\eta = 0`).
    majority : bool [N]
        Whether the row's cluster is the largest of its group (ties: every largest
        cluster; TTRL-style majority-vote reward).
    """
    ans = np.asarray(answers, dtype=object) if equiv_fn is not None else np.asarray(answers)
    if ans.ndim != 1:
        raise ValueError(f"answers must be 1-D [N], got shape {ans.shape}")
    n = len(ans)
    idx = np.asarray(index)
    if idx.ndim != 1 or len(idx) != n:
        raise ValueError(f"index must be 1-D with one group id per answer ({n}), got shape "
                         f"{idx.shape}")
    ok = np.ones(n, bool) if valid is None else _bools(valid, "valid", n)
    if equiv_fn is not None and not callable(equiv_fn):
        raise TypeError(f"equiv_fn must be callable, got {type(equiv_fn).__name__}")
    group = _groups(idx, n)
    cluster = np.full(n, -1, np.int64)
    for g in np.unique(group):
        heads: list[int] = []
        for i in np.flatnonzero((group == g) & ok):
            for h in heads:
                same = equiv_fn(ans[h], ans[i]) if equiv_fn is not None else ans[h] == ans[i]
                if bool(same):
                    cluster[i] = h
                    break
            else:
                heads.append(int(i))
                cluster[i] = i
    K = np.bincount(group)[group].astype(np.float64)
    size = np.bincount(np.where(cluster >= 0, cluster, n), minlength=n + 1)[:n]
    freq = np.where(cluster >= 0, size[np.maximum(cluster, 0)] / K, 0.0)
    best = np.zeros(group.max() + 1 if n else 0)
    np.maximum.at(best, group, freq)
    majority = (cluster >= 0) & (freq >= best[group] - 1e-12)
    return cluster, freq, majority


# --------------------------------------------------------------------------------------
# Chapter 13: segment-level rewards at segment-end tokens


def segment_rewards(scores: Any, ends: Any, mask: Any, weights: Any = None) -> np.ndarray:
    r"""Dense rewards from segment scores, placed at each segment's last token (FGAIF).

    .. math:: r_{b,t} = \sum_{s:\ e_{b,s} = t}\ \sum_k w_k\,S_{b,s,k}

    where segment :math:`s` of response :math:`b` ends at token :math:`e_{b,s}` and
    :math:`S_{b,s,k}` is reward model :math:`k`'s score of it (FGAIF: one model per
    hallucination type, object / attribute / relation, each scoring the sentences of a
    caption; Jing & Du 2024, arXiv:2404.05046). The result is a ``[B, T]`` reward in the
    response-mask convention of :mod:`creditlab.returns`, ready for
    :func:`creditlab.returns.gae` (PPO credits each segment's reward to the tokens
    before it). Example: scores ``[[1, -1]]`` at ends ``[[1, 3]]`` on a 4-token
    response give ``[[0, 1, 0, -1]]``.

    Parameters
    ----------
    scores : float array [B, S] or [B, S, K]
        Segment scores (K reward models). NaN / inf refused.
    ends : int array [B, S]
        Index of each segment's last token in ``[0, T)``; ``-1`` marks a missing segment
        (responses with fewer segments), whose score is ignored.
    mask : bool array [B, T]
        Response mask; every used end must fall on a True position.
    weights : float array [K], optional
        Weight of each reward model (default all 1); only with 3-D ``scores``.

    Returns
    -------
    np.ndarray [B, T] float64
        0 off segment ends and where the mask is False; two segments ending at the same
        token add up.
    """
    S = check_finite(number_array(scores, "scores"), "scores")
    e = int_array(ends, "ends")
    m = to_numpy(mask, "mask")
    if m.dtype != bool:
        raise TypeError(f"mask must be a bool array [B, T], got dtype {m.dtype}")
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D [B, T], got shape {m.shape}")
    if S.ndim not in (2, 3):
        raise ValueError(f"scores must be [B, S] or [B, S, K], got shape {S.shape}")
    if e.shape != S.shape[:2]:
        raise ValueError(f"ends must have shape {S.shape[:2]} (scores' [B, S]), got {e.shape}")
    if m.shape[0] != S.shape[0]:
        raise ValueError(f"mask must have {S.shape[0]} rows (the batch of scores), got "
                         f"{m.shape[0]}")
    if weights is not None:
        if S.ndim != 3:
            raise ValueError("weights need 3-D scores [B, S, K]")
        w = check_finite(number_array(weights, "weights"), "weights")
        if w.shape != (S.shape[2],):
            raise ValueError(f"weights must have shape ({S.shape[2]},), got {w.shape}")
        S = S @ w
    elif S.ndim == 3:
        S = S.sum(-1)
    T = m.shape[1]
    if ((e < -1) | (e >= T)).any():
        raise ValueError(f"ends must be -1 (no segment) or in [0, {T}), got values in "
                         f"[{int(e.min())}, {int(e.max())}]")
    b, s = np.nonzero(e >= 0)
    t = e[b, s]
    if not m[b, t].all():
        raise ValueError("ends must point at tokens inside the response mask")
    out = np.zeros(m.shape, dtype=np.float64)
    np.add.at(out, (b, t), S[b, s])
    return out


# --------------------------------------------------------------------------------------
# Chapter 15: likelihood and information as reward

#: how :func:`followup_likelihood` combines the positive and negative follow-up scores
FOLLOWUP_COMBINE = ("diff", "pos_only", "neg_only")


def info_gain(logp_with_thought: Any, logp_baseline: Any, *, mask: Any = None) -> Any:
    r"""RLP's information-gain reward of a thought (Hatamizadeh et al. 2025).

    .. math:: r(c_t) = \log p_\theta(x_t \mid x_{<t}, c_t) - \log \bar p_\phi(x_t \mid x_{<t})

    the log-likelihood of the observed next token :math:`x_t` after the sampled thought
    :math:`c_t`, minus its log-likelihood under a no-thought baseline (RLP: an EMA copy
    :math:`\phi \leftarrow \tau\phi + (1-\tau)\theta`, :math:`\tau = 0.999`, see
    :func:`creditlab.models.ema_update`). Its expectation over :math:`x_t \sim p^*` is
    :math:`\mathrm{CE}(p^*, \bar p_\phi) - \mathrm{CE}(p^*, p_\theta(\cdot \mid c_t))`
    (RLP's Proposition 1): positive only where the thought makes the next token more
    predictable, about 0 where no thought can help (a token independent of everything a
    thought could compute). Example: ``info_gain([-0.1], [-0.7])`` is ``[0.6]``.

    Parameters
    ----------
    logp_with_thought, logp_baseline : float array or tensor [B] or [B, T]
        Log-probabilities of the same next tokens with the thought (policy) and without
        it (baseline). Integers are cast to float64; NaN / inf propagate.
    mask : bool [same shape], optional
        False marks positions without a thought (reward 0).

    Returns
    -------
    The input's shape and kind (numpy in, numpy out; torch keeps the gradient through
    ``logp_with_thought``; RLP itself treats the reward as a constant).
    """
    from creditlab import prefs

    a = prefs._t(logp_with_thought, "logp_with_thought", (1, 2))
    b = prefs._t(logp_baseline, "logp_baseline", (1, 2))
    if a.shape != b.shape:
        raise ValueError(f"logp_baseline must have the shape of logp_with_thought "
                         f"{tuple(a.shape)}, got {tuple(b.shape)}")
    r = a - b.to(a.dtype)
    m = prefs._mask(mask, "mask", tuple(r.shape))
    if m is not None:
        r = r.masked_fill(~m.to(r.device), 0.0)
    return prefs._out(r, prefs._is_torch(logp_with_thought, logp_baseline))


def _id_rows(x: Any, name: str, allow_empty: bool = False, hi: int | None = None
             ) -> list[list[int]]:
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{name} must be a sequence of token-id sequences, got "
                        f"{type(x).__name__}")
    rows = []
    for i, r in enumerate(x):
        if isinstance(r, (str, bytes)) or not hasattr(r, "__iter__"):
            raise TypeError(f"{name}[{i}] must be a sequence of token ids, got "
                            f"{type(r).__name__}")
        r = list(r.tolist() if hasattr(r, "tolist") else r)
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name}[{i}] must hold integer token ids >= 0, got {v!r}")
            if hi is not None and v >= hi:
                raise ValueError(f"{name}[{i}] must hold token ids in [0, {hi}), got {v}")
        if not r and not allow_empty:
            raise ValueError(f"{name}[{i}] is empty")
        rows.append([int(v) for v in r])
    if not rows:
        raise ValueError(f"{name} must hold at least one sequence")
    return rows


def followup_likelihood(lm: Any, prompts: Any, responses: Any, pos_followups: Any,
                        neg_followups: Any, *, sep: Any = (), combine: str = "diff",
                        return_parts: bool = False) -> Any:
    r"""FLR-style reward: how likely a user's positive follow-ups are after a response.

    For each follow-up utterance :math:`f` (token ids), the dialogue :math:`(x, y)` is
    extended with ``sep`` (the next user turn's marker) and scored by the language model
    ``lm`` as the token-mean log-likelihood

    .. math:: s(f \mid x, y) = \frac{1}{|f|}\sum_k \log p_{LM}(f_k \mid x, y, \mathrm{sep},
              f_{<k}),

    and the reward is (``combine="diff"``)

    .. math:: \mathrm{FLR}(x, y) = \frac{1}{|F^+|}\sum_{f \in F^+} s(f \mid x, y)
              - \frac{1}{|F^-|}\sum_{f \in F^-} s(f \mid x, y).

    **FLR-style, a reconstruction** (Zhang et al. 2025, "Aligning Language Models Using
    Follow-up Likelihood as Reward Signal", arXiv:2409.13948): the positive / negative
    follow-up lists are the paper's design (its code stores one score per follow-up in
    two lists); the combination "mean of positives minus mean of negatives" is our
    reading (the paper's code does it offline). The released scoring line averages raw
    logits at one position; we use the token-mean log-probability instead.
    ``combine="pos_only"`` / ``"neg_only"`` give the mean positive score / minus the
    mean negative score.

    Parameters
    ----------
    lm : TinyTextLM
        The follow-up model (any model with :meth:`~creditlab.models.TinyTextLM.logprobs`).
    prompts, responses : ragged token ids [B][P_b], [B][T_b]
        The dialogue so far; responses without their EOS (the dialogue goes on).
    pos_followups, neg_followups : sequences of token-id sequences
        :math:`F^+` and :math:`F^-` (each non-empty; include the EOS if the model was
        trained with one).
    sep : sequence of int
        Ids inserted between the response and the follow-up (e.g. the id of ``user``).
    combine : {"diff", "pos_only", "neg_only"}
    return_parts : bool
        Also return the per-follow-up scores.

    Returns
    -------
    np.ndarray [B] float64
        The reward; with ``return_parts`` also ``s_pos`` ``[B, |F+|]`` and ``s_neg``
        ``[B, |F-|]``.
    """
    import torch

    if not callable(getattr(lm, "logprobs", None)):
        raise TypeError(f"lm must be a language model with .logprobs (a TinyTextLM), got "
                        f"{type(lm).__name__}")
    if combine not in FOLLOWUP_COMBINE:
        raise ValueError(f"combine must be one of {FOLLOWUP_COMBINE}, got {combine!r}")
    if not isinstance(return_parts, bool):
        raise TypeError(f"return_parts must be a bool, got {type(return_parts).__name__}")
    hi = getattr(lm, "vocab_size", None)
    P = _id_rows(prompts, "prompts", allow_empty=True, hi=hi)
    Y = _id_rows(responses, "responses", allow_empty=True, hi=hi)
    if len(P) != len(Y):
        raise ValueError(f"prompts and responses must have the same length, got {len(P)} "
                         f"and {len(Y)}")
    Fp = _id_rows(pos_followups, "pos_followups", hi=hi)
    Fn = _id_rows(neg_followups, "neg_followups", hi=hi)
    s = _id_rows([sep], "sep", allow_empty=True, hi=hi)[0]
    F = Fp + Fn
    ctx = [p + y + s for p, y in zip(P, Y) for _ in F]
    fu = [f for _ in P for f in F]
    with torch.no_grad():
        lp, m = lm.logprobs(ctx, fu)
    sc = (lp.sum(1) / m.sum(1).clamp_min(1)).double().numpy().reshape(len(P), len(F))
    sp, sn = sc[:, : len(Fp)], sc[:, len(Fp):]
    r = {"diff": sp.mean(1) - sn.mean(1), "pos_only": sp.mean(1),
         "neg_only": -sn.mean(1)}[combine]
    return (r, sp, sn) if return_parts else r
