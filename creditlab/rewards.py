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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from creditlab.envs.stepchain import EVENTS

__all__ = ["PRM_PRESETS", "OutcomeVerifier", "ProcessRewardModel", "make_prm"]


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

