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

Likelihood of a reference as reward (book Chapter 14)
-----------------------------------------------------
:func:`reference_logprob`, :func:`reference_prob` and :func:`average_reference_prob`
score a sampled chain of thought :math:`z` by the policy's own probability of a reference
answer :math:`a^*` after it (log-probability, probability as in VeriFree, average
per-token probability as in RLPR; Kwiatkowski et al. 2026); :func:`path_faithfulness`
scores each prefix of a chain by the likelihood of the rest of a gold chain (P2S-style).
All four run :meth:`creditlab.models.TinyTextLM.logprobs` with masks, and gradients flow.

Likelihood and information as reward (book Chapter 15)
------------------------------------------------------
:func:`info_gain` is RLP's reward for a thought: how much it raises the log-likelihood of
the observed next token over a no-thought (EMA) baseline. :func:`followup_likelihood` is
an FLR-style reward: the likelihood of a user's positive follow-ups minus that of the
negative ones, under a dialogue model (a reconstruction of the paper's combination).

Rewards for robot policies (book Chapter 23)
--------------------------------------------
:mod:`creditlab.rewards.robot`: ProcVLM-style progress labels
(:func:`time_progress_labels`, :func:`procedure_progress_labels`), SC-VLA-style refinement
terms (:func:`progress_delta`, :func:`direction_alignment`), EVA-style executability
(:func:`kinematic_smoothness`) and NORA-1.5-style world-model and imitation rewards
(:func:`wm_goal_reward`, :func:`action_deviation`), re-exported here.
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
    "reference_logprob",
    "reference_prob",
    "average_reference_prob",
    "path_faithfulness",
    "p2s_step_weights",
    "p2s_gold_chain",
    "p2s_pfr",
    "hierarchical_reward",
    "FOLLOWUP_COMBINE",
    "followup_likelihood",
    "info_gain",
    # perceptual rewards (Chapter 22): creditlab/rewards/perceptual.py
    "goal_baseline_reward",
    "segment_demos",
    "select_features",
    "StepRewardModel",
    "counterfactual_relabel",
    "temporal_clip",
    "factorized_state_similarity",
    # robot rewards (Chapter 23): creditlab/rewards/robot.py
    "time_progress_labels",
    "procedure_progress_labels",
    "progress_delta",
    "direction_alignment",
    "kinematic_smoothness",
    "wm_goal_reward",
    "action_deviation",
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
# Chapter 14: the likelihood of a reference as reward


def _id_rows(x: Any, name: str, allow_empty: bool = True, vocab: int | None = None,
             min_rows: int = 0) -> list[list[int]]:
    """Validate ``x`` as rows of token ids in ``[0, vocab)`` (rows may be empty only with
    ``allow_empty``; at least ``min_rows`` rows); return them as lists of ints."""
    if x is None or isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{name} must be a sequence of token-id sequences, got "
                        f"{type(x).__name__}")
    if hasattr(x, "tolist") and not isinstance(x, list):
        x = x.tolist()
    rows = []
    for i, r in enumerate(x):
        if isinstance(r, (str, bytes)) or not hasattr(r, "__iter__"):
            raise TypeError(f"{name}[{i}] must be a sequence of token ids, got "
                            f"{type(r).__name__}")
        rows.append(list(r.tolist() if hasattr(r, "tolist") else r))
    if len(rows) < min_rows:
        raise ValueError(f"{name} must hold at least {min_rows} sequence(s), got {len(rows)}")
    for i, r in enumerate(rows):
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}[{i}] must hold integer token ids, got {v!r}")
            if v < 0 or (vocab is not None and v >= vocab):
                raise ValueError(f"{name}[{i}] must hold token ids in [0, {vocab}), got {v}")
        if not allow_empty and not r:
            raise ValueError(f"{name}[{i}] must not be empty")
    return [[int(v) for v in r] for r in rows]


def _step_rows(x: Any, name: str, vocab: int) -> list[list[list[int]]]:
    if x is None or isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{name} must be a sequence of chains, each a sequence of steps "
                        f"(token-id sequences), got {type(x).__name__}")
    if hasattr(x, "tolist") and not isinstance(x, list):
        x = x.tolist()
    return [_id_rows(s, f"{name}[{b}]", vocab=vocab) for b, s in enumerate(x)]


def _check_lm(model: Any) -> int:
    import torch

    if not isinstance(model, torch.nn.Module) or not hasattr(model, "logprobs"):
        raise TypeError(f"model must be a TinyTextLM, got {type(model).__name__}")
    return int(model.vocab_size)


def _ref_logprobs(model: Any, prompts: Any, cots: Any, refs: Any) -> tuple[Any, Any]:
    """Per-token ``log pi(a*_t | p, z, a*_<t)`` ``[B, T]`` and the mask of the refs."""
    V = _check_lm(model)
    P = _id_rows(prompts, "prompts", vocab=V)
    Z = _id_rows(cots, "cots", vocab=V)
    R = _id_rows(refs, "refs", allow_empty=False, vocab=V)
    if not (len(P) == len(Z) == len(R)):
        raise ValueError(f"prompts, cots and refs must have the same length, got {len(P)}, "
                         f"{len(Z)} and {len(R)}")
    if not P:
        raise ValueError("prompts must hold at least one prompt")
    return model.logprobs([p + z for p, z in zip(P, Z)], R)


def reference_logprob(model: Any, prompts: Any, cots: Any, refs: Any, *,
                      reduction: str = "sum") -> Any:
    r"""The policy's log-probability of a reference answer after its chain of thought.

    .. math:: R_{\log}(z) = \log \pi_\theta(a^* \mid p, z)
              = \sum_{t=1}^{|a^*|} \log \pi_\theta(a^*_t \mid p, z, a^*_{<t})

    (``reduction="mean"``: divided by :math:`|a^*|`, the average log-probability).
    Kwiatkowski et al. (2026, arXiv:2602.03979) train with it as the reward of the chain
    of thought :math:`z`; its exact policy gradient is
    :math:`\mathbb E_z[R_{\log}(z)\,\nabla\log\pi(z \mid p) + \nabla R_{\log}(z)]`: a
    REINFORCE term on :math:`z` plus an SFT-like term on :math:`a^*` (no answer is
    sampled). The result keeps its graph, so ``-reference_logprob(...).mean()`` is that
    second term.

    Parameters
    ----------
    model : TinyTextLM
    prompts : ragged token ids [B][P_b]
    cots : ragged token ids [B][Z_b]
        The chains of thought (may be empty: no thought).
    refs : ragged token ids [B][A_b], each non-empty
        The reference answers (include EOS if it should be scored).
    reduction : {"sum", "mean"}

    Returns
    -------
    torch.Tensor [B] float32
        With gradients through ``model``.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    lp, m = _ref_logprobs(model, prompts, cots, refs)
    s = lp.sum(1)
    return s if reduction == "sum" else s / m.sum(1)


def reference_prob(model: Any, prompts: Any, cots: Any, refs: Any) -> Any:
    r"""The probability of the reference answer: :math:`\pi_\theta(a^* \mid p, z)
    = \exp R_{\log}(z)` (VeriFree's reward).

    It is a product of :math:`|a^*|` token probabilities, so it vanishes on long
    references; so do its gradient
    :math:`\nabla\pi(a^* \mid p, z) = \pi(a^* \mid p, z)\,\nabla\log\pi(a^* \mid p, z)`
    and its RLOO advantages. Inputs as in :func:`reference_logprob`; returns
    ``torch.Tensor [B]`` float32 with gradients.
    """
    return reference_logprob(model, prompts, cots, refs).exp()


def average_reference_prob(model: Any, prompts: Any, cots: Any, refs: Any) -> Any:
    r"""The average per-token probability of the reference answer (RLPR's reward).

    .. math:: R_{avg}(z) = \frac{1}{|a^*|}\sum_{t=1}^{|a^*|}
              \pi_\theta(a^*_t \mid p, z, a^*_{<t})

    Inputs as in :func:`reference_logprob`; returns ``torch.Tensor [B]`` float32 in
    [0, 1], with gradients.
    """
    lp, m = _ref_logprobs(model, prompts, cots, refs)
    return (lp.exp() * m).sum(1) / m.sum(1)


def path_faithfulness(model: Any, prompts: Any, steps: Any, ref_steps: Any, answers: Any,
                      *, normalize: str = "mean", weights: str = "uniform") -> Any:
    r"""P2S-style path-faithfulness reward of a chain of thought split into steps.

    For a policy chain with steps :math:`z_1, \dots, z_m` and a gold chain
    :math:`o^*_1, \dots, o^*_M` followed by the answer :math:`y^*`, step :math:`i`
    (:math:`1 \le i \le m`) is scored by how likely the *rest of the gold chain* is
    after the policy's prefix:

    .. math:: r_i = \frac{1}{|s_i|}\log \pi_\theta\big(s_i \,\big|\, q, z_{\le i}\big),
              \qquad s_i = o^*_{> i} \,\|\, y^*,
              \qquad \mathrm{PFR}(z) = \sum_i w_i\, r_i ,

    so the last step's term is the answer likelihood :math:`\log\pi(y^* \mid q, z)` (as
    in P2S) when :math:`m \ge M`. ``weights="uniform"``: :math:`w_i = 1/m`;
    ``"increasing"``: :math:`w_i \propto i` (later steps weigh more; P2S uses an
    increasing sigmoid whose constants are not pinned).

    **P2S-style**, reconstructed from a summary of Zhong et al. (2026, arXiv:2601.20649):
    P2S scores step :math:`i` by the *largest* gain
    :math:`\max_t[\log\pi(s_t \mid q, p_i) - \log\pi(s_t \mid q, p_i^{mask})]` over
    suffix starts :math:`t` against a masked-prefix baseline, and re-synthesises the gold
    chain from the policy each step; we align step :math:`i` with gold step :math:`i`, use
    no baseline and take the gold chain as given.

    Parameters
    ----------
    model : TinyTextLM
    prompts : ragged token ids [B][P_b]
    steps : sequence of B sequences of steps (each a sequence of ids)
        The policy's chain, split into steps (a chain with no steps scores the whole gold
        chain and answer after the prompt, i = 0).
    ref_steps : sequence of B sequences of steps
        The gold chain :math:`o^*` of each example.
    answers : ragged token ids [B][A_b], each non-empty
        :math:`y^*` (with EOS if it should be scored).
    normalize : {"mean", "sum"}
        Token-mean (default; removes the length confound) or summed log-probability.
    weights : {"uniform", "increasing"}

    Returns
    -------
    torch.Tensor [B] float32
        With gradients through ``model`` (use it under ``torch.no_grad()`` as a reward).
    """
    if normalize not in ("mean", "sum"):
        raise ValueError(f"normalize must be 'mean' or 'sum', got {normalize!r}")
    if weights not in ("uniform", "increasing"):
        raise ValueError(f"weights must be 'uniform' or 'increasing', got {weights!r}")
    import torch

    V = _check_lm(model)
    P = _id_rows(prompts, "prompts", vocab=V)
    A = _id_rows(answers, "answers", allow_empty=False, vocab=V)
    Z = _step_rows(steps, "steps", V)
    G = _step_rows(ref_steps, "ref_steps", V)
    if not (len(P) == len(Z) == len(G) == len(A)):
        raise ValueError(f"prompts, steps, ref_steps and answers must have the same length, "
                         f"got {len(P)}, {len(Z)}, {len(G)} and {len(A)}")
    if not P:
        raise ValueError("prompts must hold at least one prompt")
    rows_p, rows_r, owner, w = [], [], [], []
    for b in range(len(P)):
        m = len(Z[b])
        idx = range(1, m + 1) if m else [0]
        ws = np.array([float(i if weights == "increasing" else 1) for i in idx]) if m \
            else np.ones(1)
        ws = ws / ws.sum()
        for i, wi in zip(idx, ws):
            rows_p.append(P[b] + [t for st in Z[b][:i] for t in st])
            rows_r.append([t for st in G[b][i:] for t in st] + A[b])
            owner.append(b)
            w.append(wi)
    lp, mk = model.logprobs(rows_p, rows_r)
    r = lp.sum(1) if normalize == "sum" else lp.sum(1) / mk.sum(1)
    contrib = r * torch.as_tensor(w, dtype=r.dtype, device=r.device)
    out = r.new_zeros(len(P))
    return out.index_add(0, torch.as_tensor(owner, device=r.device), contrib)


def _chunks(z: list[int], m: int) -> list[list[int]]:
    """``z`` split into ``m`` contiguous chunks of equal length (+-1; early ones longer)."""
    q, r = divmod(len(z), m)
    out, k = [], 0
    for i in range(m):
        n = q + (1 if i < r else 0)
        out.append(z[k:k + n])
        k += n
    return out


def p2s_step_weights(m: int, slope: float = 1.0) -> np.ndarray:
    r"""P2S-style increasing step weights :math:`w_i \propto \sigma(\text{slope}\,(i -
    \tfrac{m+1}{2}))`, :math:`i = 1..m`, normalised to sum 1 (the sigmoid's constants are
    not pinned: reconstructed). Returns ``np.ndarray [m]`` float64."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    slope = check_real(slope, "slope")
    if not np.isfinite(slope) or slope < 0:
        raise ValueError(f"slope must be a finite number >= 0, got {slope!r}")
    i = np.arange(1, m + 1, dtype=np.float64)
    w = 1.0 / (1.0 + np.exp(-slope * (i - (m + 1) / 2)))
    return w / w.sum()


def p2s_gold_chain(model: Any, prompts: Any, candidates: Any, answers: Any) -> np.ndarray:
    r"""P2S's gold-chain selection: :math:`o^* = \arg\max_k \log\pi_\theta(y^* \mid q, o_k)`.

    Parameters
    ----------
    model : TinyTextLM
    prompts : ragged token ids [B][P_b]
    candidates : sequence of B sequences of K_b candidate chains (token-id sequences)
    answers : ragged token ids [B][A_b], each non-empty

    Returns
    -------
    np.ndarray [B] int64
        The index of the chosen candidate of each prompt (first on ties).
    """
    import torch

    V = _check_lm(model)
    P = _id_rows(prompts, "prompts", vocab=V)
    A = _id_rows(answers, "answers", allow_empty=False, vocab=V)
    K = _step_rows(candidates, "candidates", V)
    if not (len(P) == len(K) == len(A)):
        raise ValueError(f"prompts, candidates and answers must have the same length, got "
                         f"{len(P)}, {len(K)} and {len(A)}")
    if not P or any(len(k) == 0 for k in K):
        raise ValueError("prompts must hold at least one prompt, each with >= 1 candidate")
    rp = [P[b] + o for b in range(len(P)) for o in K[b]]
    ra = [A[b] for b in range(len(P)) for _ in K[b]]
    with torch.no_grad():
        lp, _ = model.logprobs(rp, ra)
        s = lp.sum(1).numpy()
    out, k = np.zeros(len(P), dtype=np.int64), 0
    for b in range(len(P)):
        out[b] = int(np.argmax(s[k:k + len(K[b])]))
        k += len(K[b])
    return out


def p2s_pfr(model: Any, prompts: Any, chains: Any, gold_steps: Any, answers: Any, *,
            m: int = 4, mask_id: int = 0, slope: float = 1.0,
            normalize: str = "mean") -> Any:
    r"""P2S-style path-faithfulness reward (PFR) in the form pinned in the research notes.

    The policy chain :math:`z` is split into ``m`` equal-token chunks; :math:`p_i` is the
    prefix of its first :math:`i` chunks and :math:`p_i^{mask}` the same prefix with every
    token replaced by ``mask_id``. With the gold chain :math:`o^*` given as steps
    :math:`o^*_1..o^*_M` and :math:`s_t = o^*_t \| \dots \| o^*_M` its suffix from step
    :math:`t`:

    .. math:: r_i = \max_{t=1..M}\big[\log\pi_\theta(s_t \mid q, p_i)
                    - \log\pi_\theta(s_t \mid q, p_i^{mask})\big] \quad (i < m), \qquad
              r_m = \log\pi_\theta(y^* \mid q, z), \qquad
              \mathrm{PFR}(z) = \sum_{i=1}^m w_i r_i

    with :func:`p2s_step_weights` (increasing sigmoid). Log-probabilities are token means
    (``normalize="mean"``) or sums. Compare :func:`path_faithfulness` (the simplified
    aligned form used in Chapter 14's caveat).

    **P2S-style** (Zhong et al. 2026, arXiv:2601.20649, from a detailed summary). Reconstructed:
    the mask (a same-length run of ``mask_id``; P2S's exact masking is not pinned), the
    sigmoid's constants, mean versus sum; the gold chain is given here (choose it with
    :func:`p2s_gold_chain`). Cost: :math:`2(m-1)M + 1` scored rows per chain.

    Parameters
    ----------
    model : TinyTextLM
    prompts : ragged token ids [B][P_b]
    chains : ragged token ids [B][Z_b]
        The policy's chains of thought (may be shorter than ``m``: chunks may be empty).
    gold_steps : sequence of B sequences of M_b >= 1 non-empty steps
    answers : ragged token ids [B][A_b], each non-empty
    m : int >= 1
    mask_id : int, a token id
    slope : float >= 0
    normalize : {"mean", "sum"}

    Returns
    -------
    torch.Tensor [B] float32
        With gradients through ``model`` (use it under ``torch.no_grad()`` as a reward).
    """
    import torch

    if normalize not in ("mean", "sum"):
        raise ValueError(f"normalize must be 'mean' or 'sum', got {normalize!r}")
    V = _check_lm(model)
    w = p2s_step_weights(m, slope)
    if isinstance(mask_id, bool) or not isinstance(mask_id, (int, np.integer)) \
            or not 0 <= mask_id < V:
        raise ValueError(f"mask_id must be a token id in [0, {V}), got {mask_id!r}")
    P = _id_rows(prompts, "prompts", vocab=V)
    Z = _id_rows(chains, "chains", vocab=V)
    G = _step_rows(gold_steps, "gold_steps", V)
    A = _id_rows(answers, "answers", allow_empty=False, vocab=V)
    if not (len(P) == len(Z) == len(G) == len(A)):
        raise ValueError(f"prompts, chains, gold_steps and answers must have the same "
                         f"length, got {len(P)}, {len(Z)}, {len(G)} and {len(A)}")
    if not P:
        raise ValueError("prompts must hold at least one prompt")
    for b, g in enumerate(G):
        if not g or any(not s for s in g):
            raise ValueError(f"gold_steps[{b}] must hold >= 1 steps, each non-empty")
    rows_p, rows_r = [], []
    for b in range(len(P)):
        ch = _chunks(Z[b], m)
        for i in range(1, m):
            pre = [t for c in ch[:i] for t in c]
            for t in range(len(G[b])):
                s = [v for st in G[b][t:] for v in st]
                rows_p += [P[b] + pre, P[b] + [int(mask_id)] * len(pre)]
                rows_r += [s, s]
        rows_p.append(P[b] + Z[b])
        rows_r.append(A[b])
    lp, mk = model.logprobs(rows_p, rows_r)
    r = lp.sum(1) if normalize == "sum" else lp.sum(1) / mk.sum(1)
    out, k = [], 0
    wt = torch.as_tensor(w, dtype=r.dtype, device=r.device)
    for b in range(len(P)):
        M = len(G[b])
        gains = (r[k:k + 2 * (m - 1) * M:2] - r[k + 1:k + 2 * (m - 1) * M:2]).view(m - 1, M)
        k += 2 * (m - 1) * M
        ri = torch.cat([gains.max(1).values, r[k:k + 1]])
        k += 1
        out.append((wt * ri).sum())
    return torch.stack(out)


def hierarchical_reward(outcome: Any, pfr: Any, index: Any, malformed: Any = None
                        ) -> np.ndarray:
    r"""P2S's hierarchical reward integration (HRI) for a batch of groups.

    .. math:: R_b = \begin{cases} -1 & \text{malformed}_b \\
              \text{outcome}_b & \text{group of } b \text{ has a correct rollout}
              \ (\text{outcome} > 0) \\ \mathrm{PFR}_b & \text{otherwise (dense fallback)}
              \end{cases}

    Parameters
    ----------
    outcome : float array [B]
        The verifier's reward (1 correct, 0 wrong).
    pfr : float array [B]
        The path-faithfulness reward (:func:`p2s_pfr`).
    index : int array [B]
        Group id of each rollout.
    malformed : bool array [B], optional

    Returns
    -------
    np.ndarray [B] float64
    """
    o = _vector(outcome, "outcome")
    f = _vector(pfr, "pfr")
    n = len(o)
    if len(f) != n:
        raise ValueError(f"pfr must have the length of outcome ({n}), got {len(f)}")
    g = _groups(index, n)
    bad = np.zeros(n, bool) if malformed is None else _bools(malformed, "malformed", n)
    ok = np.zeros(n, bool)
    for k in np.unique(g):
        sel = g == k
        ok[sel] = bool((o[sel] > 0).any())
    out = np.where(ok, o, f)
    return np.where(bad, -1.0, out)


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
    P = _id_rows(prompts, "prompts", vocab=hi, min_rows=1)
    Y = _id_rows(responses, "responses", vocab=hi, min_rows=1)
    if len(P) != len(Y):
        raise ValueError(f"prompts and responses must have the same length, got {len(P)} "
                         f"and {len(Y)}")
    Fp = _id_rows(pos_followups, "pos_followups", allow_empty=False, vocab=hi, min_rows=1)
    Fn = _id_rows(neg_followups, "neg_followups", allow_empty=False, vocab=hi, min_rows=1)
    s = _id_rows([sep], "sep", vocab=hi)[0]
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


from creditlab.rewards.perceptual import (  # noqa: E402  (Chapter 22)
    StepRewardModel,
    counterfactual_relabel,
    factorized_state_similarity,
    goal_baseline_reward,
    segment_demos,
    select_features,
    temporal_clip,
)
from creditlab.rewards.robot import (  # noqa: E402  (robot rewards, book Chapter 23)
    action_deviation,
    direction_alignment,
    kinematic_smoothness,
    procedure_progress_labels,
    progress_delta,
    time_progress_labels,
    wm_goal_reward,
)
