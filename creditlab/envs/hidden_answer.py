"""HiddenAnswerSearch: a multi-turn search task with a hidden answer (book Chapter 9).

A question has a hidden answer :math:`y^* \\in \\{0, \\dots, M-1\\}` drawn uniformly. Each
turn the agent takes one of three actions:

``search``
    An informative tool call: it returns evidence :math:`e = y^*` with probability
    ``accuracy``, else one of the other :math:`M - 1` candidates uniformly.
``browse``
    An uninformative tool call: it returns a candidate drawn uniformly, whatever
    :math:`y^*` (a page that mentions every candidate). The reader knows this, so its
    belief does not move.
``answer``
    Ends the episode with the reader's most probable candidate. Ties are broken toward
    the lowest index: the agent's *prior favourite* answer is candidate 0, so an agent
    that answers without evidence always answers 0 (the consensus trap of label-free
    rewards).

After ``horizon`` turns without an answer the episode is truncated with no answer
(answer ``-1``, never correct).

The **reader** is exact Bayes: after :math:`n` searches with :math:`c_y` of them pointing
at :math:`y`,

.. math:: p(y \\mid h) \\propto a^{c_y}\\,\\Big(\\frac{1 - a}{M - 1}\\Big)^{n - c_y},

with :math:`a` the search accuracy. :meth:`HiddenAnswerBatch.posterior` returns it; the
chapter uses it as the "LLM reader" :math:`\\hat p(c \\mid h_{\\le t})` of SIOP.

The agent observes the turn :math:`t` and the reader's confidence (the top posterior
probability) in ``n_bins`` equal bins: a tabular policy is a table ``[horizon, n_bins, 3]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditlab._backend import check_int, check_real, to_numpy

__all__ = ["HiddenAnswerBatch", "HiddenAnswerConfig", "SearchEpisodes", "rollout_search"]

SEARCH, BROWSE, ANSWER = 0, 1, 2
ACTIONS = ("search", "browse", "answer")


@dataclass(frozen=True)
class HiddenAnswerConfig:
    """Parameters of HiddenAnswerSearch.

    Parameters
    ----------
    n_candidates : int >= 2
        :math:`M`, the number of candidate answers.
    accuracy : float in (1/M, 1)
        Probability that a search returns the hidden answer.
    horizon : int >= 1
        Turns before truncation.
    n_bins : int >= 1
        Confidence bins of the observation.
    """

    n_candidates: int = 4
    accuracy: float = 0.55
    horizon: int = 6
    n_bins: int = 4

    def __post_init__(self) -> None:
        check_int(self.n_candidates, "n_candidates", 2)
        check_int(self.horizon, "horizon", 1)
        check_int(self.n_bins, "n_bins", 1)
        a = check_real(self.accuracy, "accuracy")
        if not 1.0 / self.n_candidates < a < 1.0:
            raise ValueError(f"accuracy must be in (1/n_candidates, 1) = "
                             f"({1.0 / self.n_candidates:.3g}, 1), got {self.accuracy!r}")

    @property
    def n_states(self) -> int:
        return self.horizon * self.n_bins


class HiddenAnswerBatch:
    """``n`` questions stepped together; state arrays of length ``n``.

    Attributes
    ----------
    answer : int [n]      the hidden answer :math:`y^*`
    counts : int [n, M]   how many searches pointed at each candidate
    t : int [n]           turns taken
    done : bool [n]
    final : int [n]       the answer given (-1: none yet / truncated)
    """

    def __init__(self, config: HiddenAnswerConfig, n: int, rng: np.random.Generator,
                 answer: np.ndarray | None = None) -> None:
        self.config, self.n, self.rng = config, check_int(n, "n", 1), rng
        M = config.n_candidates
        self.answer = rng.integers(0, M, n) if answer is None else np.asarray(answer, int)
        if self.answer.shape != (n,) or ((self.answer < 0) | (self.answer >= M)).any():
            raise ValueError(f"answer must be {n} integers in [0, {M}), got {answer!r}")
        self.counts = np.zeros((n, M), np.int64)
        self.t = np.zeros(n, np.int64)
        self.done = np.zeros(n, bool)
        self.final = np.full(n, -1, np.int64)

    def posterior(self) -> np.ndarray:
        """The exact reader :math:`p(y \\mid h)`, float64 [n, M]."""
        c, M = self.config.accuracy, self.config.n_candidates
        logit = self.counts * (np.log(c) - np.log((1 - c) / (M - 1)))
        p = np.exp(logit - logit.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    def observe(self) -> np.ndarray:
        """State ids [n] = t * n_bins + confidence bin (t clipped to horizon - 1)."""
        cfg = self.config
        top = self.posterior().max(1)
        lo = 1.0 / cfg.n_candidates
        b = np.minimum(((top - lo) / (1 - lo) * cfg.n_bins).astype(int), cfg.n_bins - 1)
        return np.minimum(self.t, cfg.horizon - 1) * cfg.n_bins + b

    def step(self, actions: np.ndarray) -> None:
        """Apply one action per question (ignored where done)."""
        cfg, M = self.config, self.config.n_candidates
        a = np.asarray(actions)
        act = ~self.done
        srch = act & (a == SEARCH)
        hit = self.rng.random(self.n) < cfg.accuracy
        other = (self.answer + self.rng.integers(1, M, self.n)) % M
        ev = np.where(hit, self.answer, other)
        self.counts[np.flatnonzero(srch), ev[srch]] += 1
        ans = act & (a == ANSWER)
        self.final[ans] = self.posterior()[ans].argmax(1)  # ties -> lowest index
        self.t[act] += 1
        self.done |= ans | (act & (self.t >= cfg.horizon))


@dataclass
class SearchEpisodes:
    """A batch of HiddenAnswerSearch episodes, ``[B, T]`` with ``T = horizon``.

    ``states``/``actions`` int64 [B, T] (0 on padding), ``mask`` bool [B, T],
    ``post`` float64 [B, T + 1, M] the reader's posterior before turn 0 ... after turn T
    (frozen once done), ``final`` int64 [B] the answer (-1 none), ``answer`` int64 [B]
    the hidden answer, ``lengths`` int [B].
    """

    states: np.ndarray
    actions: np.ndarray
    mask: np.ndarray
    post: np.ndarray
    final: np.ndarray
    answer: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return self.mask.sum(1)

    @property
    def correct(self) -> np.ndarray:
        return self.final == self.answer

    def tool_calls(self) -> np.ndarray:
        """Searches and browses per episode, int [B]."""
        return (((self.actions == SEARCH) | (self.actions == BROWSE)) & self.mask).sum(1)


def rollout_search(probs: np.ndarray, config: HiddenAnswerConfig, n_questions: int,
                   group_size: int, rng: np.random.Generator) -> SearchEpisodes:
    """Sample ``group_size`` episodes per question from a tabular policy.

    Parameters
    ----------
    probs : float array [n_states, 3]
        Action probabilities per state (rows sum to 1).
    config : HiddenAnswerConfig
    n_questions, group_size : int >= 1
        Rows come in consecutive groups of ``group_size`` episodes of one question (same
        hidden answer).
    rng : numpy.random.Generator
    """
    probs = to_numpy(probs, "probs")
    if probs.dtype.kind != "f":
        raise TypeError(f"probs must be a float array, got dtype {probs.dtype}")
    probs = probs.astype(np.float64)
    if probs.shape != (config.n_states, len(ACTIONS)):
        raise ValueError(f"probs must have shape {(config.n_states, len(ACTIONS))}, "
                         f"got {probs.shape}")
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs.sum(1) <= 0).any():
        raise ValueError("probs must be finite, >= 0, with a positive sum in every row")
    check_int(n_questions, "n_questions", 1)
    check_int(group_size, "group_size", 1)
    B, H, M = n_questions * group_size, config.horizon, config.n_candidates
    env = HiddenAnswerBatch(config, B, rng,
                            np.repeat(rng.integers(0, M, n_questions), group_size))
    S = np.zeros((B, H), np.int64)
    A = np.zeros((B, H), np.int64)
    mask = np.zeros((B, H), bool)
    post = np.zeros((B, H + 1, M))
    post[:, 0] = env.posterior()
    cdf = np.cumsum(probs / probs.sum(1, keepdims=True), 1)
    for t in range(H):
        act = ~env.done
        s = env.observe()
        a = (rng.random((B, 1)) > cdf[s]).sum(1).clip(0, len(ACTIONS) - 1)
        S[:, t], A[:, t], mask[:, t] = np.where(act, s, 0), np.where(act, a, 0), act
        env.step(a)
        post[:, t + 1] = env.posterior()
    return SearchEpisodes(S, A, mask, post, env.final.copy(), env.answer.copy())
