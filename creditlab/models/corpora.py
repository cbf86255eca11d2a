"""Synthetic, seeded text corpora for :class:`~creditlab.models.TinyTextLM`, each with an
exact checker.

Text is a sequence of whitespace-separated tokens; :class:`Vocab` maps tokens to ids
(0 PAD, 1 BOS, 2 EOS first). Every corpus has

- ``vocab`` — its :class:`Vocab`;
- ``examples(n, seed)`` — ``n`` :class:`TextExample` (prompt tokens, reference response
  tokens, an ``info`` dict with what the checker knows), the same for the same seed;
- ``encode(examples)`` — ragged prompt ids and response ids (EOS appended), ready for
  :meth:`TinyTextLM.logprobs` and for :func:`creditlab.algos.sft_train`;
- ``check(prompt, response)`` — the exact verifier (token strings or ids);

plus what its chapters need:

================================  =====================================================
:class:`ArithmeticCorpus` (a)     a + b with optional "thought" tokens (column digits
                                  and carries, least significant first) before the
                                  answer; short answers (the digits) or long reference
                                  answers (10-20 tokens: the answer and its column sums)
:class:`DialogueCorpus` (b)       a user asks for a colour, the bot offers a fruit; a
                                  hidden rule (the fruit has that colour) decides whether
                                  the user's follow-up is positive or negative
:class:`SceneCorpus` (c)          symbolic scenes (two coloured shapes and a relation)
                                  and captions with per-segment truth by type (object,
                                  attribute, relation)
:class:`InstructionCorpus` (d)    copy / reverse / sort a few letters; responses with
                                  errors and templated judgments naming the wrong tokens
================================  =====================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from creditlab._backend import check_real

__all__ = [
    "ArithmeticCorpus",
    "DialogueCorpus",
    "InstructionCorpus",
    "SceneCorpus",
    "TextExample",
    "Vocab",
]

SPECIALS = ("<pad>", "<bos>", "<eos>")


@dataclass(frozen=True)
class Vocab:
    """Token <-> id map; ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``.

    Parameters
    ----------
    words : sequence of str
        The other tokens, in id order (duplicates and specials are dropped).
    """

    words: tuple[str, ...]
    tokens: tuple[str, ...] = field(init=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.words, str):
            raise TypeError("words must be a sequence of tokens, not one string")
        if not hasattr(self.words, "__iter__"):
            raise TypeError(f"words must be a sequence of tokens, got "
                            f"{type(self.words).__name__}")
        seen: list[str] = list(SPECIALS)
        for w in self.words:
            if not isinstance(w, str) or not w or any(c.isspace() for c in w):
                raise ValueError(f"words must be non-empty strings without spaces, got {w!r}")
            if w not in seen:
                seen.append(w)
        object.__setattr__(self, "tokens", tuple(seen))
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(seen)})

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str | Sequence[str]) -> list[int]:
        """Ids of ``text`` (a string split on whitespace, or a list of tokens)."""
        toks = text.split() if isinstance(text, str) else list(text)
        try:
            return [self._index[t] for t in toks]
        except KeyError as e:
            raise ValueError(f"text has a token not in the vocabulary: {e.args[0]!r}") from e

    def decode(self, ids: Iterable[int], *, stop_at_eos: bool = True) -> list[str]:
        """Tokens of ``ids``; PAD and BOS dropped; stops at (and drops) the first EOS."""
        out = []
        for i in ids:
            i = int(i)
            if i == 2 and stop_at_eos:
                break
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"ids must be in [0, {len(self.tokens)}), got {i}")
            if i > 2:
                out.append(self.tokens[i])
        return out


@dataclass(frozen=True)
class TextExample:
    """One prompt and its reference response (token strings), with checker facts."""

    prompt: tuple[str, ...]
    response: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict, compare=False)


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return int(n)


class _Corpus:
    vocab: Vocab

    def _toks(self, x: Any, name: str) -> list[str]:
        if isinstance(x, TextExample):
            raise TypeError(f"{name} must be tokens or ids, not a TextExample")
        if isinstance(x, str):
            return x.split()
        xs = list(x.tolist() if hasattr(x, "tolist") else x)
        if xs and not isinstance(xs[0], str):
            return self.vocab.decode(xs)
        return [str(t) for t in xs]

    def encode(self, examples: Sequence[TextExample]) -> tuple[list[list[int]],
                                                                list[list[int]]]:
        """Ragged prompt ids and response ids (EOS appended) of ``examples``."""
        prompts = [self.vocab.encode(e.prompt) for e in examples]
        responses = [self.vocab.encode(e.response) + [2] for e in examples]
        return prompts, responses

    def examples(self, n: int, seed: Any = 0) -> list[TextExample]:  # pragma: no cover
        raise NotImplementedError

    def check(self, prompt: Any, response: Any) -> bool:  # pragma: no cover
        raise NotImplementedError

    def check_batch(self, prompts: Sequence[Any], responses: Sequence[Any]) -> np.ndarray:
        """:meth:`check` over a batch (ids or tokens; ids are cut at EOS), bool ``[B]``."""
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses must have the same length")
        return np.array([self.check(p, r) for p, r in zip(prompts, responses)], dtype=bool)


# --------------------------------------------------------------------------------------
# (a) arithmetic


def _digits(x: int) -> list[str]:
    return list(str(int(x)))


class ArithmeticCorpus(_Corpus):
    """``a + b =`` with ``a, b`` uniform in ``[0, 10**n_digits)``.

    Parameters
    ----------
    n_digits : int in [1, 4]
        Short answers have 1-2 tokens at ``n_digits=1`` and 1-3 at ``n_digits=2``.
    thoughts : bool
        Put ``<think> s_0 c_0 s_1 c_1 ... </think>`` before the answer: for each column,
        least significant first, its sum digit and its carry (``c0``/``c1``).
    answer : {"short", "long"}
        ``short``: the digits of a + b. ``long``: ``answer <digits> : `` then each column
        sum, e.g. ``answer 8 5 : 7 + 8 = 1 5 ; 4 + 3 + 1 = 8`` (10-20 tokens at two
        digits): a reference that a verifier cannot check token by token, for
        likelihood-of-reference rewards.

    Examples
    --------
    >>> c = ArithmeticCorpus(n_digits=2, thoughts=True)
    >>> e = c.examples(1, seed=3)[0]
    >>> c.check(e.prompt, e.response)
    True
    """

    def __init__(self, n_digits: int = 2, *, thoughts: bool = False,
                 answer: str = "short") -> None:
        if isinstance(n_digits, bool) or not isinstance(n_digits, (int, np.integer)) \
                or not 1 <= n_digits <= 4:
            raise ValueError(f"n_digits must be an integer in [1, 4], got {n_digits!r}")
        if answer not in ("short", "long"):
            raise ValueError(f"answer must be 'short' or 'long', got {answer!r}")
        self.n_digits, self.thoughts, self.answer = int(n_digits), bool(thoughts), answer
        words = [str(d) for d in range(10)] + ["+", "=", "<think>", "</think>", "c0", "c1",
                                               "answer", ":", ";"]
        self.vocab = Vocab(tuple(words))

    def prompt(self, a: int, b: int) -> tuple[str, ...]:
        return tuple(_digits(a) + ["+"] + _digits(b) + ["="])

    def thought(self, a: int, b: int) -> list[str]:
        """``<think> s_0 c_0 ... </think>``: column sum digits and carries, lsb first."""
        out, carry = ["<think>"], 0
        for i in range(self.n_digits):
            s = (a // 10**i) % 10 + (b // 10**i) % 10 + carry
            carry = s // 10
            out += [str(s % 10), f"c{carry}"]
        return out + ["</think>"]

    def reference(self, a: int, b: int) -> tuple[str, ...]:
        """The reference response for ``a + b`` (thoughts, then the answer)."""
        out = self.thought(a, b) if self.thoughts else []
        if self.answer == "short":
            return tuple(out + _digits(a + b))
        out += ["answer"] + _digits(a + b) + [":"]
        carry, cols = 0, []
        for i in range(max(len(str(a)), len(str(b)))):
            da, db = (a // 10**i) % 10, (b // 10**i) % 10
            s = da + db + carry
            cols.append([str(da), "+", str(db)] + (["+", "1"] if carry else []) + ["="]
                        + _digits(s))
            carry = s // 10
        for j, c in enumerate(cols):
            out += ([";"] if j else []) + c
        return tuple(out)

    def examples(self, n: int, seed: Any = 0) -> list[TextExample]:
        """``n`` problems with uniform operands (seeded)."""
        rng = _rng(seed)
        hi = 10**self.n_digits
        ab = rng.integers(0, hi, size=(_n(n), 2))
        return [TextExample(self.prompt(a, b), self.reference(a, b),
                            {"a": int(a), "b": int(b), "sum": int(a + b)})
                for a, b in ab.tolist()]

    def parse_prompt(self, prompt: Any) -> tuple[int, int]:
        """``(a, b)`` from prompt tokens or ids."""
        t = self._toks(prompt, "prompt")
        try:
            i = t.index("+")
            return int("".join(t[:i])), int("".join(t[i + 1 : t.index("=")]))
        except ValueError as e:
            raise ValueError(f"prompt is not an arithmetic prompt: {t}") from e

    def parse_answer(self, response: Any) -> int | None:
        """The answer a response states, or None if it states none."""
        t = self._toks(response, "response")
        if self.thoughts:
            if "</think>" not in t:
                return None
            t = t[t.index("</think>") + 1 :]
        if self.answer == "long":
            if not t or t[0] != "answer" or ":" not in t:
                return None
            t = t[1 : t.index(":")]
        if not t or len(t) > self.n_digits + 1 or not all(x.isdigit() for x in t):
            return None
        return int("".join(t))

    def check(self, prompt: Any, response: Any) -> bool:
        """Whether the response states the right sum (thoughts are not graded)."""
        a, b = self.parse_prompt(prompt)
        return self.parse_answer(response) == a + b

    def exact_match(self, prompt: Any, response: Any) -> bool:
        """Whether the response equals the reference token for token."""
        a, b = self.parse_prompt(prompt)
        return tuple(self._toks(response, "response")) == self.reference(a, b)


# --------------------------------------------------------------------------------------
# (b) dialogues with a hidden rule

FRUIT_COLOURS = {"apple": "red", "cherry": "red", "banana": "yellow", "lemon": "yellow",
                 "lime": "green", "pear": "green", "plum": "purple", "grape": "purple"}
POSITIVE_FOLLOWUPS = (("thanks",), ("great", "thanks"), ("perfect",))
NEGATIVE_FOLLOWUPS = (("that's", "wrong"), ("no", "not", "that"), ("wrong", "colour"))


class DialogueCorpus(_Corpus):
    """``user want <colour> bot`` -> ``give <fruit>``, then the user's follow-up.

    The hidden rule: the offered fruit has the requested colour (:data:`FRUIT_COLOURS`).
    If it holds, the follow-up is one of :data:`POSITIVE_FOLLOWUPS` ("thanks"), else one
    of :data:`NEGATIVE_FOLLOWUPS` ("that's wrong"). Responses satisfy the rule with
    probability ``p_satisfy``.

    ``info``: ``satisfied`` (bool), ``followup`` (tokens).
    :meth:`followup_data` lays examples out for a follow-up model: prompt = dialogue so
    far, response = follow-up.
    """

    colours = FRUIT_COLOURS
    positive_followups = POSITIVE_FOLLOWUPS
    negative_followups = NEGATIVE_FOLLOWUPS

    def __init__(self, p_satisfy: float = 0.5) -> None:
        check_real(p_satisfy, "p_satisfy")
        if not 0.0 <= p_satisfy <= 1.0:
            raise ValueError(f"p_satisfy must be in [0, 1], got {p_satisfy!r}")
        self.p_satisfy = float(p_satisfy)
        words = ["user", "want", "bot", "give"] + sorted(set(FRUIT_COLOURS.values())) \
            + list(FRUIT_COLOURS) + [w for f in POSITIVE_FOLLOWUPS + NEGATIVE_FOLLOWUPS
                                     for w in f]
        self.vocab = Vocab(tuple(words))

    def examples(self, n: int, seed: Any = 0) -> list[TextExample]:
        rng = _rng(seed)
        colours = sorted(set(FRUIT_COLOURS.values()))
        fruits = list(FRUIT_COLOURS)
        out = []
        for _ in range(_n(n)):
            c = colours[rng.integers(len(colours))]
            good = [f for f in fruits if FRUIT_COLOURS[f] == c]
            bad = [f for f in fruits if FRUIT_COLOURS[f] != c]
            ok = bool(rng.random() < self.p_satisfy)
            pool = good if ok else bad
            f = pool[rng.integers(len(pool))]
            fu_pool = POSITIVE_FOLLOWUPS if ok else NEGATIVE_FOLLOWUPS
            fu = fu_pool[rng.integers(len(fu_pool))]
            out.append(TextExample(("user", "want", c, "bot"), ("give", f),
                                   {"satisfied": ok, "followup": tuple(fu)}))
        return out

    def check(self, prompt: Any, response: Any) -> bool:
        """Whether the response satisfies the hidden rule."""
        p, r = self._toks(prompt, "prompt"), self._toks(response, "response")
        if len(p) < 3 or len(r) != 2 or r[0] != "give" or r[1] not in FRUIT_COLOURS:
            return False
        return FRUIT_COLOURS[r[1]] == p[2]

    def followup_data(self, examples: Sequence[TextExample]
                      ) -> tuple[list[list[int]], list[list[int]]]:
        """Prompts ``x + y + ["user"]`` and responses ``followup + EOS`` (ids)."""
        prompts = [self.vocab.encode(e.prompt + e.response + ("user",)) for e in examples]
        responses = [self.vocab.encode(e.info["followup"]) + [2] for e in examples]
        return prompts, responses


# --------------------------------------------------------------------------------------
# (c) symbolic scenes and captions

COLOURS = ("red", "blue", "green", "yellow")
SHAPES = ("circle", "square", "triangle", "star")
RELATIONS = {"left-of": "right-of", "right-of": "left-of", "above": "below",
             "below": "above"}
SEGMENT_KINDS = ("object", "attribute", "relation")


class SceneCorpus(_Corpus):
    """Scenes of two coloured shapes and a relation; captions with per-segment truth.

    Prompt: ``scene <shape1> <colour1> <rel> <shape2> <colour2>`` (shape 1 <rel> shape 2).
    Reference caption: ``<colour1> <shape1> . <colour2> <shape2> . <shape1> <rel>
    <shape2> .`` — three segments. With probability ``p_error`` per segment, a training
    caption carries a hallucination of that segment's kind: an object segment names a
    shape that is not in the scene ("object") or the wrong colour ("attribute"); the
    relation segment states a wrong relation ("relation").

    :meth:`segment_truth` is the exact checker: one ``(kind, ok)`` per segment, where
    ``kind`` is the kind of error when ``ok`` is False (and the segment's kind when True:
    "object" for object segments, "relation" for the relation).
    """

    def __init__(self, p_error: float = 0.0) -> None:
        check_real(p_error, "p_error")
        if not 0.0 <= p_error <= 1.0:
            raise ValueError(f"p_error must be in [0, 1], got {p_error!r}")
        self.p_error = float(p_error)
        self.vocab = Vocab(("scene", ".") + COLOURS + SHAPES + tuple(RELATIONS))

    def examples(self, n: int, seed: Any = 0) -> list[TextExample]:
        rng = _rng(seed)
        rels = list(RELATIONS)
        out = []
        for _ in range(_n(n)):
            s1, s2 = (SHAPES[i] for i in rng.choice(len(SHAPES), 2, replace=False))
            c1, c2 = (COLOURS[i] for i in rng.integers(len(COLOURS), size=2))
            rel = rels[rng.integers(len(rels))]
            prompt = ("scene", s1, c1, rel, s2, c2)
            segs = [[c1, s1], [c2, s2], [s1, rel, s2]]
            errs = []
            for j, seg in enumerate(segs):
                if rng.random() >= self.p_error:
                    errs.append(None)
                elif j < 2 and rng.random() < 0.5:  # object hallucination
                    seg[1] = str(rng.choice([s for s in SHAPES if s not in (s1, s2)]))
                    errs.append("object")
                elif j < 2:
                    seg[0] = str(rng.choice([c for c in COLOURS if c != seg[0]]))
                    errs.append("attribute")
                else:
                    seg[1] = str(rng.choice([r for r in rels if r != rel]))
                    errs.append("relation")
            resp = tuple(t for seg in segs for t in [*seg, "."])
            out.append(TextExample(prompt, resp, {"errors": errs}))
        return out

    def segments(self, response: Any) -> list[list[str]]:
        """The caption split at ``.`` (a trailing unfinished segment is kept)."""
        segs, cur = [], []
        for t in self._toks(response, "response"):
            if t == ".":
                segs.append(cur)
                cur = []
            else:
                cur.append(t)
        if cur:
            segs.append(cur)
        return segs

    def segment_truth(self, prompt: Any, response: Any) -> list[tuple[str, bool]]:
        """``(kind, ok)`` per segment; a malformed segment is ``("object", False)``."""
        p = self._toks(prompt, "prompt")
        if len(p) != 6 or p[0] != "scene":
            raise ValueError(f"prompt is not a scene prompt: {p}")
        _, s1, c1, rel, s2, c2 = p
        colour = {s1: c1, s2: c2}
        out: list[tuple[str, bool]] = []
        for seg in self.segments(response):
            if len(seg) == 2 and seg[0] in COLOURS and seg[1] in SHAPES:
                if seg[1] not in colour:
                    out.append(("object", False))
                elif colour[seg[1]] != seg[0]:
                    out.append(("attribute", False))
                else:
                    out.append(("object", True))
            elif len(seg) == 3 and seg[1] in RELATIONS:
                a, r, b = seg
                if {a, b} != {s1, s2} or a == b:
                    out.append(("object", False))
                else:
                    ok = r == rel if a == s1 else r == RELATIONS[rel]
                    out.append(("relation", ok))
            else:
                out.append(("object", False))
        return out

    def check(self, prompt: Any, response: Any) -> bool:
        """Every segment true, and both objects and the relation are described."""
        truth = self.segment_truth(prompt, response)
        segs = self.segments(response)
        kinds = {len(s) for s in segs}
        return bool(truth) and all(ok for _, ok in truth) and kinds == {2, 3} \
            and sum(len(s) == 2 for s in segs) == 2


# --------------------------------------------------------------------------------------
# (d) instructions, responses with errors, judgments naming the wrong tokens

LETTERS = tuple("abcdefgh")
TASKS = ("copy", "reverse", "sort")


class InstructionCorpus(_Corpus):
    """``<task> x1 .. xk ->`` with task in copy / reverse / sort, k in [3, 5] letters.

    With probability ``p_error`` a response has 1-2 wrong tokens (a letter replaced by
    another). ``info``: ``wrong`` (bool per response token), ``judgment`` (tokens):
    ``good`` or ``wrong <tok> [<tok>]`` naming the wrong tokens as they appear in the
    response. :meth:`with_judgment` builds the judgment-conditioned prompt CUT uses.
    """

    def __init__(self, p_error: float = 0.5) -> None:
        check_real(p_error, "p_error")
        if not 0.0 <= p_error <= 1.0:
            raise ValueError(f"p_error must be in [0, 1], got {p_error!r}")
        self.p_error = float(p_error)
        self.vocab = Vocab(TASKS + LETTERS + ("->", "judgment", "good", "wrong", "|"))

    @staticmethod
    def target(task: str, letters: Sequence[str]) -> list[str]:
        """The correct response."""
        if task == "copy":
            return list(letters)
        if task == "reverse":
            return list(letters)[::-1]
        if task == "sort":
            return sorted(letters)
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def examples(self, n: int, seed: Any = 0) -> list[TextExample]:
        rng = _rng(seed)
        out = []
        for _ in range(_n(n)):
            task = TASKS[rng.integers(len(TASKS))]
            k = int(rng.integers(3, 6))
            letters = [LETTERS[i] for i in rng.integers(len(LETTERS), size=k)]
            resp = self.target(task, letters)
            wrong = [False] * k
            if rng.random() < self.p_error:
                for j in rng.choice(k, size=int(rng.integers(1, 3)), replace=False):
                    resp[j] = str(rng.choice([x for x in LETTERS if x != resp[j]]))
                    wrong[j] = True
            prompt = (task, *letters, "->")
            out.append(TextExample(prompt, tuple(resp),
                                   {"wrong": wrong, "judgment": self.judgment(prompt, resp)}))
        return out

    def wrong_tokens(self, prompt: Any, response: Any) -> list[bool]:
        """Per response token: is it wrong? (Tokens past the target's length are wrong.)"""
        p, r = self._toks(prompt, "prompt"), self._toks(response, "response")
        if len(p) < 2 or p[0] not in TASKS or p[-1] != "->":
            raise ValueError(f"prompt is not an instruction prompt: {p}")
        tgt = self.target(p[0], p[1:-1])
        return [j >= len(tgt) or t != tgt[j] for j, t in enumerate(r)]

    def judgment(self, prompt: Any, response: Any) -> tuple[str, ...]:
        """``("good",)`` or ``("wrong", <the wrong tokens, in order, without repeats>)``."""
        r = self._toks(response, "response")
        w = self.wrong_tokens(prompt, r)
        p = self._toks(prompt, "prompt")
        if not any(w) and len(r) == len(self.target(p[0], p[1:-1])):
            return ("good",)
        named = list(dict.fromkeys(t for t, x in zip(r, w) if x))
        return ("wrong", *named) if named else ("wrong",)

    def with_judgment(self, prompt: Any, judgment: Sequence[str]) -> tuple[str, ...]:
        """The judgment-conditioned prompt ``judgment <j...> | <prompt>``."""
        return ("judgment", *judgment, "|", *self._toks(prompt, "prompt"))

    def check(self, prompt: Any, response: Any) -> bool:
        """Whether the response is exactly the target."""
        p = self._toks(prompt, "prompt")
        if len(p) < 2 or p[0] not in TASKS:
            raise ValueError(f"prompt is not an instruction prompt: {p}")
        return self._toks(response, "response") == self.target(p[0], p[1:-1])
