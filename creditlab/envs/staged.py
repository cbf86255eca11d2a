"""StagedChain: a StepChain-style task in stages with a rubric per stage (book Chapter 10).

An episode has ``K`` stages (default: plan, research, review, answer) of ``L`` steps
each; every step writes one step type of :data:`creditlab.envs.stepchain.STEP_TYPES`
(the same vocabulary as StepChain). Each stage has a *checklist*: the step types that
must appear somewhere in that stage, e.g. the review stage must REPEAT a step (re-check
it) and state the check (PATTERN, "let me verify"). Whether an item is met is
computable from the actions; a *noisy judge* reports each item's verdict flipped with
probability ``judge_flip``. The episode succeeds when every item of every stage's true
checklist is met: the verifiable outcome.

Why a stand-in: RubricEM (2026) has an LLM write the rubrics and an LLM judge score each
stage of a research agent's trajectory. Here the rubrics are fixed and computable, the
judge is a coin flip per item, and a policy is a table of logits per (stage, step): the
credit-assignment question (one broadcast score or one score per stage) stays the same.
A judge rubric can also be *misaligned* with the truth (``judge_checklists``): it then
checks other items than the ones the outcome needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from creditlab._backend import check_int, check_unit_interval, make_rng, to_numpy
from creditlab.envs.stepchain import STEP_TYPES

__all__ = ["StagedChain"]


@dataclass(frozen=True)
class StagedChain:
    """A staged task with per-stage checklists and a noisy judge (module docstring).

    Parameters
    ----------
    stages : tuple of str
        Stage names, in order (``K = len(stages)``).
    step_types : tuple of str
        The actions, names from :data:`~creditlab.envs.stepchain.STEP_TYPES`.
    steps_per_stage : int >= 1
        ``L``: steps in every stage (an episode has ``T = K * L`` steps).
    checklists : tuple of tuples of str
        Per stage, the step types that must appear in it (the true rubric; ``I`` items
        per stage, the same ``I`` for every stage).
    judge_checklists : tuple of tuples of str, optional
        What the judge checks (default: the true checklists). A misaligned rubric.
    judge_flip : float in [0, 0.5)
        Probability that the judge reports an item's verdict wrongly.
    """

    stages: tuple[str, ...] = ("plan", "research", "review", "answer")
    step_types: tuple[str, ...] = ("work", "filler", "repeat", "answer", "decompose",
                                   "pattern")
    steps_per_stage: int = 3
    checklists: tuple[tuple[str, ...], ...] = (("decompose", "pattern"), ("work", "repeat"),
                                               ("repeat", "pattern"), ("work", "answer"))
    judge_checklists: tuple[tuple[str, ...], ...] | None = None
    judge_flip: float = 0.2

    def __post_init__(self) -> None:
        if not self.stages or not all(isinstance(s, str) for s in self.stages):
            raise ValueError(f"stages must be a non-empty tuple of names, got {self.stages!r}")
        st = tuple(self.step_types)
        if not st or len(set(st)) != len(st) or any(s not in STEP_TYPES for s in st):
            raise ValueError(f"step_types must be distinct names from {STEP_TYPES}, got {st!r}")
        check_int(self.steps_per_stage, "steps_per_stage", 1)
        for name in ("checklists", "judge_checklists"):
            cl = getattr(self, name)
            if cl is None:
                continue
            if len(cl) != len(self.stages) or len({len(c) for c in cl}) != 1 or \
                    not len(cl[0]) or any(i not in st for c in cl for i in c):
                raise ValueError(f"{name} must give, for each of the {len(self.stages)} "
                                 f"stages, the same number (>= 1) of step types from "
                                 f"{st}, got {cl!r}")
        if self.judge_checklists is not None and \
                len(self.judge_checklists[0]) != len(self.checklists[0]):
            raise ValueError("judge_checklists must have as many items per stage as checklists")
        if not check_unit_interval(self.judge_flip, "judge_flip") < 0.5:
            raise ValueError(f"judge_flip must be in [0, 0.5), got {self.judge_flip}")

    # ---- sizes
    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def n_items(self) -> int:
        """Items per stage (``I``)."""
        return len(self.checklists[0])

    @property
    def n_actions(self) -> int:
        return len(self.step_types)

    @property
    def horizon(self) -> int:
        """``T = K * L`` steps per episode."""
        return self.n_stages * self.steps_per_stage

    def stage_ids(self, n: int = 1) -> np.ndarray:
        """The stage of each step, int64 ``[n, T]`` (the same for every episode)."""
        row = np.repeat(np.arange(self.n_stages), self.steps_per_stage)
        return np.tile(row, (check_int(n, "n", 1), 1))

    def _items(self, checklists: Any) -> np.ndarray:
        return np.array([[self.step_types.index(i) for i in c] for c in checklists])

    # ---- sampling and scoring
    def sample(self, probs: Any, n: int, seed: Any = None) -> np.ndarray:
        """Sample ``n`` episodes from per-step action probabilities.

        Parameters
        ----------
        probs : float array [K, L, A]
            Action probabilities at each (stage, step).
        n : int >= 1
        seed : int or numpy Generator

        Returns
        -------
        int64 array [n, K, L] of action indices.
        """
        p = to_numpy(probs, "probs").astype(np.float64)
        K, L, A = self.n_stages, self.steps_per_stage, self.n_actions
        if p.shape != (K, L, A) or not np.isfinite(p).all() or (p < 0).any() or \
                not np.allclose(p.sum(-1), 1.0):
            raise ValueError(f"probs must be probability vectors of shape {(K, L, A)}")
        rng = make_rng(seed)
        cdf = np.cumsum(p, -1)
        u = rng.random((check_int(n, "n", 1), K, L, 1))
        return np.minimum((u > cdf[None]).sum(-1), A - 1).astype(np.int64)

    def items_met(self, actions: Any, judge: bool = False) -> np.ndarray:
        """Which checklist items hold, bool ``[n, K, I]`` (the judge's rubric if ``judge``,
        noise-free)."""
        a = to_numpy(actions, "actions")
        if a.ndim != 3 or a.shape[1:] != (self.n_stages, self.steps_per_stage) or \
                a.dtype.kind not in "iu":
            raise ValueError(f"actions must be an int array [n, {self.n_stages}, "
                             f"{self.steps_per_stage}], got {a.dtype} {a.shape}")
        cl = self.judge_checklists if judge and self.judge_checklists else self.checklists
        items = self._items(cl)  # [K, I]
        return (a[:, :, None, :] == items[None, :, :, None]).any(-1)

    def judge(self, actions: Any, seed: Any = None) -> np.ndarray:
        """The noisy judge's verdicts, bool ``[n, K, I]``: each item of the judge's rubric,
        flipped with probability ``judge_flip``."""
        met = self.items_met(actions, judge=True)
        flip = make_rng(seed).random(met.shape) < self.judge_flip
        return met ^ flip

    def success(self, actions: Any) -> np.ndarray:
        """The verifiable outcome, bool ``[n]``: every true item of every stage met."""
        return self.items_met(actions).all((1, 2))

    def success_prob(self, probs: Any) -> float:
        """Exact success probability of a policy ``probs [K, L, A]`` (inclusion-exclusion
        over the items of each stage: P(every item appears) = sum over subsets J of the
        items of (-1)^|J| prod_l (1 - sum_{a in J} p_l(a)))."""
        p = to_numpy(probs, "probs").astype(np.float64)
        items = self._items(self.checklists)
        total = 1.0
        for k in range(self.n_stages):
            its = sorted(set(items[k].tolist()))
            pk = 0.0
            for r in range(len(its) + 1):
                for J in combinations(its, r):
                    miss = 1.0 - p[k][:, list(J)].sum(-1) if J else np.ones(len(p[k]))
                    pk += (-1) ** r * float(np.prod(miss))
            total *= pk
        return float(total)
