r"""A synthetic "CLIP": image and text embeddings of PointReach states, in numpy (Ch22).

Chapter 22 needs a *pretrained* embedding whose geometry we control, so that we can ask
when a similarity to a goal prompt is a good reward. :class:`SyntheticCLIP` embeds a
PointReach state (agent position, which goals are done, nuisance) and two kinds of
"text" (a goal prompt, a baseline prompt) into the same unit sphere of ``dim`` numbers:

.. math::
    x(s) &= \mathrm{normalize}\big(W_t\,\phi(p) + W_d\,\delta
            + (\kappa + \nu\,c(p, \xi))\,u + \eta\,W_n\,\xi + \sigma\,\varepsilon\big), \\
    g(p^*) &= \mathrm{normalize}\big(W_t\,\phi(p^*) + W_d\,\delta^* + \kappa\,u\big), \qquad
    b = \mathrm{normalize}\big(W_t\,\bar\phi + \kappa\,u\big),

with :math:`\phi(p)` Gaussian bumps (width ``width``) on a ``grid`` x ``grid`` lattice of
centres (the task features; a finer grid is more capacity), :math:`\delta` the done flags
of the three goals, :math:`u` a *context* direction that every prompt about the scene
shares (as "a point in an arena" and "a point at the red goal" share most of their
words), :math:`\xi \sim \mathcal N(0, I_m)` a fresh nuisance vector per frame (moving
distractors, colour noise), :math:`c(p, \xi) = \mathrm{decoy}(p) + \xi_0` how strongly a
frame looks like "the scene" (a lamp at ``decoy`` that brightens nearby frames, plus a
random part), :math:`\nu` = ``nuisance``, :math:`\eta` = ``jitter`` (nuisance in
random directions, :math:`W_n` with unit columns) and :math:`\sigma` = ``noise``. The goal prompt
describes the goal state; the baseline prompt the average state.

This is a stand-in, **VLM-RM-style**: real CLIP embeddings are not built this way. The
construction makes explicit the one property VLM-RM's baseline projection relies on:
part of what varies between frames (the nuisance) lies along directions that the goal
and baseline prompts share, and the direction :math:`g - b` is nearly free of it.
``nuisance`` and ``grid`` are the knobs of the chapter's "scale" analogue (less nuisance,
more capacity). Everything is numpy and seeded; no download.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np

from creditlab._backend import check_finite, check_int, check_real, check_seed

__all__ = ["SyntheticCLIP", "HashedTextEncoder"]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class SyntheticCLIP:
    """Seeded synthetic image/text embeddings of 2-D PointReach states (module docstring).

    Parameters
    ----------
    dim : int >= 8
        Embedding size.
    grid : int >= 2
        Task-feature lattice side (capacity).
    width : float > 0, optional
        Width of the task bumps (default ``1 / grid``).
    nuisance : float >= 0
        :math:`\\nu`, the nuisance scale.
    jitter : float >= 0
        :math:`\\eta`, the nuisance in random directions.
    context : float >= 0
        :math:`\\kappa`, the weight of the shared context direction.
    noise : float >= 0
        :math:`\\sigma`, isotropic noise per frame.
    n_nuisance : int >= 1
        :math:`m`, nuisance factors per frame.
    decoy : (float, float)
        Where the lamp is (frames near it look "more like the scene").
    done_scale : float
        Length of each done flag's direction (how visible a dimmed goal is).
    lamp : float >= 0
        The lamp's strength (its peak brightness; width 0.2).
    seed : int >= 0
    """

    def __init__(
        self,
        dim: int = 64,
        *,
        grid: int = 4,
        width: float | None = None,
        nuisance: float = 1.0,
        jitter: float = 0.3,
        context: float = 1.0,
        noise: float = 0.05,
        n_nuisance: int = 8,
        decoy: tuple[float, float] = (0.4, 0.35),
        lamp: float = 2.0,
        done_scale: float = 8.0,
        seed: int = 0,
    ) -> None:
        self.dim = check_int(dim, "dim", 8)
        self.grid = check_int(grid, "grid", 2)
        w = 1.0 / self.grid if width is None else check_real(width, "width")
        if not np.isfinite(w) or w <= 0:
            raise ValueError(f"width must be a finite number > 0, got {width!r}")
        self.width = float(w)
        for name, v in (
            ("nuisance", nuisance),
            ("jitter", jitter),
            ("context", context),
            ("noise", noise),
        ):
            v = check_real(v, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        self.nuisance, self.jitter = float(nuisance), float(jitter)
        self.context, self.noise = float(context), float(noise)
        self.n_nuisance = check_int(n_nuisance, "n_nuisance", 1)
        d = check_finite(np.asarray(decoy, np.float64), "decoy")
        if d.shape != (2,):
            raise ValueError(f"decoy must be a pair of numbers, got {decoy!r}")
        self.decoy = d
        lp = check_real(lamp, "lamp")
        if not np.isfinite(lp) or lp < 0:
            raise ValueError(f"lamp must be a finite number >= 0, got {lamp!r}")
        self.lamp = float(lp)
        ds = check_real(done_scale, "done_scale")
        if not np.isfinite(ds):
            raise ValueError(f"done_scale must be a finite number, got {done_scale!r}")
        self.seed = check_seed(seed)
        if self.seed is None:
            raise TypeError("seed must be an int >= 0, got None")
        rng = np.random.default_rng(self.seed)
        c = (np.arange(self.grid) + 0.5) / self.grid
        self.centres = np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)
        k = len(self.centres)
        self.W_task = rng.standard_normal((self.dim, k)) / np.sqrt(k) * 2.0
        self.W_done = rng.standard_normal((self.dim, 3)) / np.sqrt(self.dim) * ds
        self.u = _unit(rng.standard_normal(self.dim))
        self.W_nuis = rng.standard_normal((self.dim, self.n_nuisance)) / np.sqrt(self.dim)
        g = np.linspace(0.0, 1.0, 21)
        mean_pos = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
        self._phi_bar = self.phi(mean_pos).mean(0)

    # ---- features
    def phi(self, pos: Any) -> np.ndarray:
        """Task features :math:`\\phi(p)`, float64 ``[..., grid**2]`` of positions ``[..., 2]``."""
        p = check_finite(np.asarray(pos, np.float64), "pos")
        if p.shape[-1:] != (2,):
            raise ValueError(f"pos must have last axis 2, got shape {p.shape}")
        d2 = ((p[..., None, :] - self.centres) ** 2).sum(-1)
        return np.exp(-d2 / (2 * self.width**2))

    def decoy_field(self, pos: Any) -> np.ndarray:
        """The lamp's brightness at ``pos`` ``[..., 2]`` -> ``[...]`` in (0, ``lamp``]."""
        p = np.asarray(pos, np.float64)
        return self.lamp * np.exp(-((p - self.decoy) ** 2).sum(-1) / (2 * 0.2**2))

    def sample_nuisance(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Fresh nuisance vectors :math:`\\xi`, float64 ``[*shape, n_nuisance]``."""
        return rng.standard_normal((*shape, self.n_nuisance))

    # ---- towers
    def embed_image(
        self, pos: Any, done: Any = None, xi: Any = None, *, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Unit image embeddings ``[..., dim]`` of states.

        Parameters
        ----------
        pos : float [..., 2], agent positions
        done : bool/float [..., 3], optional, which goals are done (default none)
        xi : float [..., n_nuisance], optional, the nuisance (default: drawn from ``rng``)
        rng : numpy Generator, needed when ``xi`` is None or ``noise > 0``
        """
        p = check_finite(np.asarray(pos, np.float64), "pos")
        shape = p.shape[:-1]
        dn = (
            np.zeros((*shape, 3))
            if done is None
            else np.broadcast_to(np.asarray(done, np.float64), (*shape, 3))
        )
        if xi is None or self.noise > 0:
            if rng is None:
                raise ValueError("rng must be given when xi is None or noise > 0")
        x_i = (
            self.sample_nuisance(shape, rng)
            if xi is None
            else np.broadcast_to(np.asarray(xi, np.float64), (*shape, self.n_nuisance))
        )
        look = self.decoy_field(p) + x_i[..., 0]
        v = (
            self.phi(p) @ self.W_task.T
            + dn @ self.W_done.T
            + (self.context + self.nuisance * look)[..., None] * self.u
            + self.jitter * x_i @ self.W_nuis.T
        )
        if self.noise > 0:
            v = v + self.noise * rng.standard_normal(v.shape)
        return _unit(v)

    def embed_goal(self, goal_pos: Any, done: Any = None) -> np.ndarray:
        """Unit text embedding ``[..., dim]`` of "the agent at ``goal_pos``" (goal prompt)."""
        p = check_finite(np.asarray(goal_pos, np.float64), "goal_pos")
        dn = np.zeros((*p.shape[:-1], 3)) if done is None else np.asarray(done, np.float64)
        return _unit(self.phi(p) @ self.W_task.T + dn @ self.W_done.T + self.context * self.u)

    def embed_baseline(self, goal_positions: Any = None) -> np.ndarray:
        """Unit text embedding ``[dim]`` of the baseline prompt.

        With ``goal_positions`` ``[K, 2]``: "the agent at a goal" (the task part is the mean
        of the goals' task parts, rescaled to their mean length, so that goal and baseline
        prompts are about equally long and :math:`g - b` has only a small component along
        the context :math:`u`, from the random overlap of task and context directions);
        without: "the agent somewhere in the arena" (mean over the arena).
        """
        if goal_positions is None:
            t = self.W_task @ self._phi_bar
            return _unit(t + self.context * self.u)
        gp = check_finite(np.asarray(goal_positions, np.float64), "goal_positions")
        if gp.ndim != 2 or gp.shape[1] != 2 or len(gp) < 1:
            raise ValueError(f"goal_positions must have shape [K, 2], got {gp.shape}")
        tg = self.phi(gp) @ self.W_task.T  # [K, dim]
        t = tg.mean(0)
        t = t * np.linalg.norm(tg, axis=1).mean() / np.linalg.norm(t)
        return _unit(t + self.context * self.u)


class HashedTextEncoder:
    r"""A sentence-embedding stand-in: hashed word n-gram counts, L2-normalised.

    Text is lower-cased and split into words; every n-gram with :math:`n` in ``ngrams``
    adds 1 to the coordinate ``crc32(ngram) mod dim``, with a sign from a second hash.
    Cosine similarity of two embeddings then measures shared words and short phrases, as
    a small sentence encoder does, without knowing which attribute belongs to which
    object beyond ``max(ngrams)`` words (the binding problem of whole-text similarity).
    Deterministic; no download (no pretrained sentence encoder is packaged with
    creditlab; the MiniLM encoder named in the chapter's plan is not used).

    Parameters
    ----------
    dim : int >= 8
    ngrams : tuple of ints >= 1
    """

    def __init__(self, dim: int = 512, ngrams: tuple[int, ...] = (1, 2, 3)) -> None:
        self.dim = check_int(dim, "dim", 8)
        if not ngrams or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in ngrams
        ):
            raise ValueError(f"ngrams must be a non-empty tuple of ints >= 1, got {ngrams!r}")
        self.ngrams = tuple(ngrams)

    def __call__(self, texts: Any) -> np.ndarray:
        """Unit embeddings ``[N, dim]`` float64 of N strings (one string: ``[dim]``)."""
        one = isinstance(texts, str)
        items = [texts] if one else list(texts)
        if not all(isinstance(t, str) for t in items):
            raise TypeError("texts must be a str or a list of str")
        out = np.zeros((len(items), self.dim))
        for i, t in enumerate(items):
            w = re.findall(r"[a-z]+", t.lower())
            for n in self.ngrams:
                for k in range(len(w) - n + 1):
                    g = " ".join(w[k : k + n]).encode()
                    h = zlib.crc32(g)
                    out[i, h % self.dim] += 1.0 if (zlib.adler32(g) & 1) else -1.0
        nrm = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(nrm > 0, nrm, 1.0)
        return out[0] if one else out
