"""StepChain: a synthetic reasoning MDP for process-reward experiments (book Part II).

A prompt has a difficulty ``d`` (the number of WORK steps a solution needs). Each step
the policy writes one step of a chosen type:

``work``
    A real reasoning step: progress ``p += 1``. With probability ``error_rate`` it is
    silently wrong (the policy never observes the error; it poisons the answer).
``filler``
    "Let me think about this carefully." No progress, no risk.
``repeat``
    Restates the latest WORK step (a "correct but unnecessary" step when that step was
    right). No progress, no new risk. With no WORK step yet it is plain filler.
``answer``
    Ends the episode (terminated). The answer is correct iff ``p >= d`` and no WORK
    step was wrong: this is the verifiable outcome.
``decompose``
    "Let me split the problem into parts first." No progress and no risk itself, but
    every later WORK step is wrong with probability ``decompose_error_rate`` instead of
    ``error_rate``: a reasoning pattern that *causes* success (Chapter 7).
``pattern``
    A step that contains a key phrase ("let me verify") and does nothing else: the
    spurious-pattern control of Chapter 7.
``guess``
    Ends the episode with an answer written without any work: correct with probability
    ``guess_rate`` whatever the progress, like a lucky guess (Chapter 7's short answers).

The last three are off by default; with the default step types the dynamics and the
random draws are those of Chapters 5 and 6. From a judge's view (the events below)
DECOMPOSE and PATTERN are filler; a GUESS is a correct or wrong answer.

After ``horizon`` steps without an answer the episode is truncated (and wrong). Which
step types exist, the error rate, the horizon, the difficulties and what the policy
observes are all parameters of :class:`StepChainConfig`.

Every step produces an *event* (:data:`EVENTS`): what a judge that could see everything
would say about it. Process reward models (:mod:`creditlab.rewards`) score events; their
hackability lives there, in documented score tables, not here.

Two interfaces share one batched core:

- :class:`StepChainBatch`: ``n`` prompts stepped together with numpy (what the trainer in
  :mod:`creditlab.algos` uses; no per-environment Python loop);
- :class:`StepChainEnv`: the gymnasium environment ``creditlab/StepChain-v0`` (one prompt;
  vectorise with ``gymnasium.make_vec``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: every step type StepChain knows, in canonical order (new types are appended, so the
#: first four keep their ids)
STEP_TYPES = ("work", "filler", "repeat", "answer", "decompose", "pattern", "guess")

#: what happened at a step; process reward models score these
EVENTS = (
    "work",              # a correct WORK step
    "work_error",        # a WORK step that was silently wrong
    "filler",            # FILLER (or REPEAT with nothing to repeat)
    "repeat",            # REPEAT of a correct WORK step
    "repeat_error",      # REPEAT of a wrong WORK step
    "answer_correct",    # ANSWER with p >= d and no error
    "answer_wrong",      # ANSWER with p >= d after an error
    "answer_premature",  # ANSWER with p < d (unsupported)
    "truncated",         # the step that hit the horizon without an answer (cut-off text)
)
EVENT_ID = {e: i for i, e in enumerate(EVENTS)}

OBSERVATIONS = ("progress", "difficulty_progress", "full")


@dataclass(frozen=True)
class StepChainConfig:
    """Parameters of StepChain.

    Parameters
    ----------
    step_types : tuple of str
        A subset of :data:`STEP_TYPES` containing ``"work"`` and ``"answer"``; action ``i``
        is ``step_types[i]``.
    difficulties : tuple of int >= 1
        Difficulties a prompt is drawn from, uniformly.
    horizon : int >= 1
        Steps before truncation.
    error_rate : float in [0, 1]
        Probability that a WORK step is silently wrong.
    observation : {"progress", "difficulty_progress", "full"}
        What the policy sees, as concatenated one-hot vectors: progress ``p`` (clipped to
        ``horizon``); plus the difficulty ``d``; plus the step counter ``t``. The error is
        never observed. Without ``t`` the policy cannot count to the horizon, like an LLM
        without an exact length counter.
    decompose_error_rate : float in [0, 1] or None
        Error rate of WORK steps taken after a DECOMPOSE step (None: ``error_rate``, so
        decomposing changes nothing). Whether the prompt was decomposed is not observed.
    guess_rate : float in [0, 1]
        Probability that a GUESS is correct.
    """

    step_types: tuple[str, ...] = ("work", "filler", "answer")
    difficulties: tuple[int, ...] = (1, 2, 3)
    horizon: int = 10
    error_rate: float = 0.1
    observation: str = "difficulty_progress"
    decompose_error_rate: float | None = None
    guess_rate: float = 0.3
    action_id: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        st = tuple(self.step_types)
        if not st or len(set(st)) != len(st) or any(s not in STEP_TYPES for s in st):
            raise ValueError(
                f"step_types must be distinct names from {STEP_TYPES}, got {self.step_types!r}"
            )
        if "work" not in st or "answer" not in st:
            raise ValueError(f"step_types must contain 'work' and 'answer', got {st!r}")
        d = tuple(self.difficulties)
        if not d or any(isinstance(x, bool) or int(x) != x or x < 1 for x in d):
            raise ValueError(f"difficulties must be integers >= 1, got {self.difficulties!r}")
        if isinstance(self.horizon, bool) or int(self.horizon) != self.horizon or self.horizon < 1:
            raise ValueError(f"horizon must be an integer >= 1, got {self.horizon!r}")
        if not (isinstance(self.error_rate, (int, float)) and 0.0 <= self.error_rate <= 1.0):
            raise ValueError(f"error_rate must be a number in [0, 1], got {self.error_rate!r}")
        der = self.decompose_error_rate
        if der is not None and not (isinstance(der, (int, float)) and not isinstance(der, bool)
                                    and 0.0 <= der <= 1.0):
            raise ValueError(
                f"decompose_error_rate must be None or a number in [0, 1], got {der!r}")
        g = self.guess_rate
        if isinstance(g, bool) or not (isinstance(g, (int, float)) and 0.0 <= g <= 1.0):
            raise ValueError(f"guess_rate must be a number in [0, 1], got {g!r}")
        if self.observation not in OBSERVATIONS:
            raise ValueError(
                f"observation must be one of {OBSERVATIONS}, got {self.observation!r}"
            )
        object.__setattr__(self, "step_types", st)
        object.__setattr__(self, "difficulties", tuple(int(x) for x in d))
        object.__setattr__(self, "horizon", int(self.horizon))
        object.__setattr__(self, "error_rate", float(self.error_rate))
        object.__setattr__(self, "guess_rate", float(g))
        if der is not None:
            object.__setattr__(self, "decompose_error_rate", float(der))
        object.__setattr__(self, "action_id", {s: i for i, s in enumerate(st)})

    @property
    def n_actions(self) -> int:
        return len(self.step_types)

    @property
    def obs_dim(self) -> int:
        h1 = self.horizon + 1
        return {"progress": h1, "difficulty_progress": len(self.difficulties) + h1,
                "full": len(self.difficulties) + 2 * h1}[self.observation]

    def encode(self, d: np.ndarray, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Observations [n, obs_dim] (float32 one-hots) for difficulty, progress, step."""
        n, h1 = len(p), self.horizon + 1
        out = np.zeros((n, self.obs_dim), np.float32)
        rows = np.arange(n)
        off = 0
        if self.observation != "progress":
            di = np.searchsorted(np.asarray(self.difficulties), d)
            out[rows, di] = 1.0
            off = len(self.difficulties)
        out[rows, off + np.minimum(p, self.horizon)] = 1.0
        if self.observation == "full":
            out[rows, off + h1 + np.minimum(t, self.horizon)] = 1.0
        return out

    def expected_accuracy_ceiling(self) -> float:
        """Accuracy of the best policy: E_d[(1 - error_rate)^d] (WORK d times, answer)."""
        d = np.asarray(self.difficulties, float)
        return float(np.mean((1.0 - self.error_rate) ** d))


class StepChainBatch:
    """``n`` StepChain prompts stepped together (numpy state arrays of length ``n``).

    Parameters
    ----------
    config : StepChainConfig
    n : int >= 1
    rng : numpy.random.Generator

    Attributes
    ----------
    d, p, t : int arrays [n]
        Difficulty, progress, steps taken.
    error : bool array [n]
        Whether any WORK step so far was wrong (hidden from the policy).
    decomposed : bool array [n]
        Whether a DECOMPOSE step was taken (hidden from the policy).
    done, correct, truncated : bool arrays [n]
    """

    def __init__(self, config: StepChainConfig, n: int, rng: np.random.Generator) -> None:
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        self.config = config
        self.n = int(n)
        self.rng = rng
        self._types = np.array([STEP_TYPES.index(s) for s in config.step_types])
        self._has_guess = "guess" in config.step_types
        self.reset()

    def reset(self, difficulty: np.ndarray | None = None) -> np.ndarray:
        """Draw (or set) the difficulties and return the first observations [n, obs_dim]."""
        n = self.n
        if difficulty is None:
            self.d = self.rng.choice(np.asarray(self.config.difficulties), size=n)
        else:
            d = np.asarray(difficulty)
            if d.shape != (n,) or not np.isin(d, self.config.difficulties).all():
                raise ValueError(
                    f"difficulty must have shape ({n},) with values in "
                    f"{self.config.difficulties}, got {d!r}"
                )
            self.d = d.astype(np.int64)
        self.p = np.zeros(n, np.int64)
        self.t = np.zeros(n, np.int64)
        self.error = np.zeros(n, bool)
        self.last_work_error = np.zeros(n, bool)
        self.decomposed = np.zeros(n, bool)
        self.done = np.zeros(n, bool)
        self.correct = np.zeros(n, bool)
        self.truncated = np.zeros(n, bool)
        return self.observe()

    def observe(self) -> np.ndarray:
        return self.config.encode(self.d, self.p, self.t)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply one action per prompt; finished prompts ignore theirs.

        Parameters
        ----------
        actions : int array [n]
            Indices into ``config.step_types``.

        Returns
        -------
        obs : float32 [n, obs_dim]
        events : int array [n]
            Index into :data:`EVENTS` of what happened; -1 for prompts already done.
        active : bool [n]
            Which prompts took this step.
        """
        a = np.asarray(actions)
        if a.shape != (self.n,) or a.dtype.kind not in "iu":
            raise ValueError(f"actions must be an int array of shape ({self.n},), got {a!r}")
        if ((a < 0) | (a >= self.config.n_actions)).any():
            raise ValueError(
                f"actions must be in [0, {self.config.n_actions}) "
                f"(step types {self.config.step_types}), got {a!r}"
            )
        active = ~self.done
        kind = self._types[a]
        ev = np.full(self.n, -1, np.int64)
        work = active & (kind == 0)
        rate = self.config.error_rate
        if self.config.decompose_error_rate is not None:
            rate = np.where(self.decomposed, self.config.decompose_error_rate, rate)
        wrong = work & (self.rng.random(self.n) < rate)
        ev[work] = EVENT_ID["work"]
        ev[wrong] = EVENT_ID["work_error"]
        self.p[work] += 1
        self.error |= wrong
        self.last_work_error[work] = wrong[work]
        ev[active & (kind == 1)] = EVENT_ID["filler"]
        rep = active & (kind == 2)
        has_work = self.p > 0
        ev[rep & ~has_work] = EVENT_ID["filler"]
        ev[rep & has_work & ~self.last_work_error] = EVENT_ID["repeat"]
        ev[rep & has_work & self.last_work_error] = EVENT_ID["repeat_error"]
        ans = active & (kind == 3)
        enough = self.p >= self.d
        ev[ans & ~enough] = EVENT_ID["answer_premature"]
        ev[ans & enough & self.error] = EVENT_ID["answer_wrong"]
        ok = ans & enough & ~self.error
        ev[ok] = EVENT_ID["answer_correct"]
        self.correct |= ok
        # Chapter 7's step types (kinds 4-6); no random draw unless GUESS is a step type
        self.decomposed |= active & (kind == 4)
        ev[active & ((kind == 4) | (kind == 5))] = EVENT_ID["filler"]
        guess = active & (kind == 6)
        if self._has_guess:
            lucky = guess & (self.rng.random(self.n) < self.config.guess_rate)
            ev[guess] = EVENT_ID["answer_wrong"]
            ev[lucky] = EVENT_ID["answer_correct"]
            self.correct |= lucky
            ans = ans | guess
        self.t[active] += 1
        cut = active & ~ans & (self.t >= self.config.horizon)
        ev[cut] = EVENT_ID["truncated"]
        self.truncated |= cut
        self.done |= ans | cut
        return self.observe(), ev, active


class StepChainEnv(gym.Env):
    """gymnasium interface to StepChain (``creditlab/StepChain-v0``): one prompt.

    The reward of a step is the process reward model's score of its event; when the
    episode ends on a prompt that carries a verifiable answer, ``outcome_coef * correct``
    is added. ``info`` holds ``event`` (name), ``prm`` (the PRM score), ``has_vr``,
    ``difficulty`` and, at the end, ``correct``.

    Parameters
    ----------
    prm : str or creditlab.rewards.ProcessRewardModel
        A preset name from :data:`creditlab.rewards.PRM_PRESETS` or a model.
    vr_fraction : float in [0, 1]
        Probability that a prompt carries a verifiable answer (not observed).
    outcome_coef : float
    **config : StepChainConfig fields (step_types, difficulties, horizon, error_rate,
        observation)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        prm: Any = "filler",
        vr_fraction: float = 0.0,
        outcome_coef: float = 1.0,
        render_mode: str | None = None,
        **config: Any,
    ) -> None:
        from creditlab.rewards import OutcomeVerifier, make_prm

        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.config = StepChainConfig(**config)
        if not isinstance(prm, str) and not hasattr(prm, "score"):
            raise TypeError(f"prm must be a preset name or a ProcessRewardModel, got "
                            f"{type(prm).__name__}")
        self.prm = make_prm(prm) if isinstance(prm, str) else prm
        self.verifier = OutcomeVerifier(vr_fraction, outcome_coef)
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, (self.config.obs_dim,), np.float32)
        self.action_space = spaces.Discrete(self.config.n_actions)
        self._core: StepChainBatch | None = None
        self._has_vr = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self._core is None:
            # built on a throwaway generator: StepChainBatch draws a first episode when it
            # is constructed, and drawing that from np_random would make the first
            # reset(seed=k) differ from every later reset(seed=k) (gymnasium's contract)
            self._core = StepChainBatch(self.config, 1, np.random.default_rng(0))
        self._core.rng = self.np_random
        diff = None
        if options and "difficulty" in options:
            diff = np.array([options["difficulty"]])
        obs = self._core.reset(diff)
        self._has_vr = bool(self.verifier.assign(1, self.np_random)[0])
        info = {"difficulty": int(self._core.d[0]), "has_vr": self._has_vr}
        return obs[0], info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._core is None:
            raise RuntimeError("call reset() before step()")
        if self._core.done[0]:
            raise RuntimeError("the episode has ended; call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.config.n_actions}), got {action!r}")
        obs, ev, _ = self._core.step(np.array([int(action)]))
        prm = float(self.prm.score(ev, self.np_random)[0])
        terminated = bool(self._core.done[0] and not self._core.truncated[0])
        truncated = bool(self._core.truncated[0])
        reward = prm
        info: dict[str, Any] = {
            "event": EVENTS[int(ev[0])], "prm": prm, "has_vr": self._has_vr,
            "difficulty": int(self._core.d[0]),
        }
        if terminated or truncated:
            correct = bool(self._core.correct[0])
            info["correct"] = correct
            reward += float(self.verifier.reward(np.array([correct]), np.array([self._has_vr]))[0])
        return obs[0], reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._core is None:
            return None
        c = self._core
        return f"d={c.d[0]} p={c.p[0]} t={c.t[0]} error={bool(c.error[0])} done={bool(c.done[0])}"
