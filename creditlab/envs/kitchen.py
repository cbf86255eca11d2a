r"""A small text kitchen: objects with a place and a cleanliness, observed as sentences (Ch22).

State: each of ``OBJECTS`` (apple, mug, plate) is at one of ``PLACES`` (counter, fridge,
sink, table) and is clean or dirty: :math:`(4 \cdot 2)^3 = 512` states, indexed by
:meth:`KitchenWorld.index`. Actions (15): ``move(o, p)`` for every object and place, and
``wash(o)``, which cleans ``o`` if it is in the sink (else nothing happens). Transitions
are deterministic.

A goal constrains one or two attributes (``{"apple": {"place": "fridge"}, "mug":
{"clean": "clean"}}``); the task's reward is 1 when every constrained attribute holds
(:meth:`KitchenWorld.holds`). Observations are programmatic English: one sentence per
object place and per cleanliness, from several templates, in shuffled order, with
irrelevant sentences ("A clock ticks on the wall.") mixed in; goals are instructions
("Put the apple in the fridge and wash the mug."). :func:`parse_observation` and
:func:`parse_goal` are rule parsers (regular expressions) that turn them into
object-attribute states (the part an LM plays in StateFactory).

:class:`KitchenTextEnv` is the gymnasium environment (``creditlab/KitchenText-v0``): text
observations (the instruction first, then the scene), 15 discrete actions, reward 1 and
termination when the goal holds.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from creditlab._backend import check_int, check_seed

__all__ = ["KitchenWorld", "KitchenTextEnv", "parse_observation", "parse_goal", "OBJECTS", "PLACES"]

OBJECTS = ("apple", "mug", "plate")
PLACES = ("counter", "fridge", "sink", "table")
_PREP = {"counter": "on", "fridge": "in", "sink": "in", "table": "on"}
_PLACE_T = (
    "The {o} is {pr} the {p}.",
    "There is {a} {o} {pr} the {p}.",
    "{Pr} the {p} you see the {o}.",
)
_CLEAN_T = ("The {o} is {c}.", "The {o} looks {c}.", "You notice that the {o} is {c}.")
_FILLER = (
    "A clock ticks on the wall.",
    "The window is open.",
    "The floor is clean.",
    "A radio plays in the next room.",
    "The lights are on.",
)
_WORD = r"([a-z]+)"
_CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,"


class KitchenWorld:
    """The kitchen's states, actions, text and tabular model (module docstring)."""

    n_objects, n_places = len(OBJECTS), len(PLACES)
    n_states = (len(PLACES) * 2) ** len(OBJECTS)
    n_actions = len(OBJECTS) * len(PLACES) + len(OBJECTS)

    # ---- states as tuples ((place, clean) per object) <-> indices
    def index(self, state: tuple) -> int:
        """Index of ``((place_i, clean_i), ...)`` (place in 0..3, clean in {0, 1})."""
        k = 0
        for p, c in state:
            k = k * 8 + int(p) * 2 + int(c)
        return k

    def state(self, index: int) -> tuple:
        """The tuple of a state index (inverse of :meth:`index`)."""
        i = check_int(index, "index", 0)
        if i >= self.n_states:
            raise ValueError(f"index must be < {self.n_states}, got {index}")
        out = []
        for _ in range(self.n_objects):
            i, r = divmod(i, 8)
            out.append((r // 2, r % 2))
        return tuple(reversed(out))

    def as_dict(self, index: int) -> dict:
        """The object-attribute state ``{object: {"place": p, "clean": c}}`` of an index."""
        return {
            o: {"place": PLACES[p], "clean": "clean" if c else "dirty"}
            for o, (p, c) in zip(OBJECTS, self.state(index))
        }

    def step(self, index: int, action: int) -> int:
        """Next state index (actions: ``o * 4 + p`` moves ``o`` to ``p``; ``12 + o`` washes)."""
        a = check_int(action, "action", 0)
        if a >= self.n_actions:
            raise ValueError(f"action must be < {self.n_actions}, got {action}")
        s = list(self.state(index))
        if a < 12:
            o, p = divmod(a, 4)
            s[o] = (p, s[o][1])
        else:
            o = a - 12
            if s[o][0] == PLACES.index("sink"):
                s[o] = (s[o][0], 1)
        return self.index(tuple(s))

    def action_name(self, action: int) -> str:
        a = check_int(action, "action", 0)
        return f"move {OBJECTS[a // 4]} to {PLACES[a % 4]}" if a < 12 else f"wash {OBJECTS[a - 12]}"

    def transitions(self) -> np.ndarray:
        """``P[s, a, s']`` float64 ``[512, 15, 512]`` (deterministic)."""
        P = np.zeros((self.n_states, self.n_actions, self.n_states))
        for s in range(self.n_states):
            for a in range(self.n_actions):
                P[s, a, self.step(s, a)] = 1.0
        return P

    def holds(self, index: int, goal: dict) -> bool:
        """Whether every attribute the goal constrains holds in the state."""
        st = self.as_dict(index)
        return all(st[o][k] == v for o, attrs in goal.items() for k, v in attrs.items())

    # ---- random goals and text
    def random_goal(self, rng: np.random.Generator, n_constraints: int = 2) -> dict:
        """A goal with ``n_constraints`` (1 or 2) attributes on distinct objects."""
        objs = rng.choice(self.n_objects, n_constraints, replace=False)
        goal: dict = {}
        for o in objs:
            if rng.random() < 0.6:
                goal[OBJECTS[o]] = {"place": PLACES[rng.integers(self.n_places)]}
            else:
                goal[OBJECTS[o]] = {"clean": "clean"}
        return goal

    def describe(self, index: int, rng: np.random.Generator, n_filler: int = 2) -> str:
        """A text observation of a state: random templates, shuffled, with filler."""
        sents = []
        for o, (p, c) in zip(OBJECTS, self.state(index)):
            pl = PLACES[p]
            t = _PLACE_T[rng.integers(len(_PLACE_T))]
            sents.append(
                t.format(
                    o=o,
                    p=pl,
                    pr=_PREP[pl],
                    Pr=_PREP[pl].capitalize(),
                    a="an" if o[0] in "aeiou" else "a",
                )
            )
            t = _CLEAN_T[rng.integers(len(_CLEAN_T))]
            sents.append(t.format(o=o, c="clean" if c else "dirty"))
        sents += list(rng.choice(_FILLER, n_filler, replace=False))
        rng.shuffle(sents)
        return " ".join(sents)

    def instruction(self, goal: dict) -> str:
        """The goal as an instruction ("Put the apple in the fridge and wash the mug.")."""
        parts = []
        for o, attrs in goal.items():
            if "place" in attrs:
                p = attrs["place"]
                parts.append(f"put the {o} {_PREP[p]} the {p}")
            if attrs.get("clean") == "clean":
                parts.append(f"wash the {o}")
        txt = " and ".join(parts)
        return txt[0].upper() + txt[1:] + "."


def parse_observation(text: str) -> dict:
    """Rule parser: a kitchen observation -> ``{object: {"place": p, "clean": c}}``.

    Recognises every template of :class:`KitchenWorld` (and ignores other sentences).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    out: dict = {}
    for sent in re.split(r"(?<=\.)\s+", text.strip().lower()):
        m = re.fullmatch(rf"the {_WORD} is (?:on|in) the {_WORD}\.", sent) or re.fullmatch(
            rf"there is an? {_WORD} (?:on|in) the {_WORD}\.", sent
        )
        if m and m.group(1) in OBJECTS and m.group(2) in PLACES:
            out.setdefault(m.group(1), {})["place"] = m.group(2)
            continue
        m = re.fullmatch(rf"(?:on|in) the {_WORD} you see the {_WORD}\.", sent)
        if m and m.group(2) in OBJECTS and m.group(1) in PLACES:
            out.setdefault(m.group(2), {})["place"] = m.group(1)
            continue
        m = re.fullmatch(rf"(?:you notice that )?the {_WORD} (?:is|looks) (clean|dirty)\.", sent)
        if m and m.group(1) in OBJECTS:
            out.setdefault(m.group(1), {})["clean"] = m.group(2)
    return out


def parse_goal(text: str) -> dict:
    """Rule parser: an instruction -> the goal ``{object: {attribute: value}}``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    out: dict = {}
    t = text.strip().lower().rstrip(".")
    for part in t.split(" and "):
        m = re.fullmatch(rf"put the {_WORD} (?:on|in) the {_WORD}", part.strip())
        if m and m.group(1) in OBJECTS and m.group(2) in PLACES:
            out.setdefault(m.group(1), {})["place"] = m.group(2)
            continue
        m = re.fullmatch(rf"wash the {_WORD}", part.strip())
        if m and m.group(1) in OBJECTS:
            out.setdefault(m.group(1), {})["clean"] = "clean"
    return out


class KitchenTextEnv(gym.Env):
    """The text kitchen as a gymnasium environment (module docstring).

    Each reset draws a start state and a goal (``n_constraints`` attributes); the
    observation is ``instruction + " " + scene``; reward 1 and termination when the goal
    holds.
    """

    metadata = {"render_modes": []}

    def __init__(self, n_constraints: int = 2) -> None:
        self.n_constraints = check_int(n_constraints, "n_constraints", 1)
        if self.n_constraints > 2:
            raise ValueError(f"n_constraints must be 1 or 2, got {n_constraints}")
        self.world = KitchenWorld()
        self.action_space = spaces.Discrete(self.world.n_actions)
        self.observation_space = spaces.Text(max_length=1000, charset=_CHARSET)
        self._rng = np.random.default_rng()

    def _obs(self) -> str:
        return self.world.instruction(self.goal) + " " + self.world.describe(self.s, self._rng)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(check_seed(seed))
        self.goal = self.world.random_goal(self._rng, self.n_constraints)
        while True:
            self.s = int(self._rng.integers(self.world.n_states))
            if not self.world.holds(self.s, self.goal):
                break
        return self._obs(), {"state": self.s, "goal": copy.deepcopy(self.goal)}

    def step(self, action: Any) -> tuple:
        self.s = self.world.step(self.s, int(action))
        done = self.world.holds(self.s, self.goal)
        return (
            self._obs(),
            float(done),
            done,
            False,
            {"state": self.s, "goal": copy.deepcopy(self.goal)},
        )
