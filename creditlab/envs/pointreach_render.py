"""Frames for PointReach, drawn with numpy for a whole batch at once (no matplotlib).

The arena is the unit square, ``y`` up. A frame is ``[size, size, 3]`` uint8 (HWC, the
gymnasium image convention); pixel ``(row, col)`` covers ``x in [col, col + 1) / size``
and ``y in (1 - (row + 1) / size, 1 - row / size]``. :func:`project` maps positions to
(fractional) pixel coordinates; the pixel holding a point is ``floor`` of them.

What is drawn, back to front: a dark floor; walls (grey); goals (one colour each, dimmed
to half once their stage is done); distractor blobs (bright colours that are not goal
colours, moving on their own, never touching the task); the arm's links (light grey, arm
variant only); the agent (white disc). Colour
noise, if asked for, is added last to every pixel. Distractors and noise come from a
counter-based hash of ``(seed, episode, t)`` (:func:`hash_uniform`), so a frame depends
only on the environment's seed, episode and step: batched and single environments with
the same seed render the same frames, with no Python loop over environments.
"""

from __future__ import annotations

import numpy as np

from creditlab._backend import check_int, float_array

__all__ = ["project"]

FLOOR = np.array([24, 24, 32], np.uint8)
WALL = np.array([128, 128, 128], np.uint8)
AGENT = np.array([255, 255, 255], np.uint8)
LINK = np.array([170, 170, 170], np.uint8)
#: goal colours (A, B, C, D): red, green, blue, orange
GOAL_COLOURS = np.array([[230, 40, 40], [40, 200, 60], [60, 90, 255], [240, 150, 20]],
                        np.uint8)
#: distractor colours: yellow, magenta, cyan (none is a goal colour)
DISTRACTOR_COLOURS = np.array([[240, 230, 40], [220, 40, 220], [40, 220, 220]], np.uint8)

_M1, _M2, _G = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(
    0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _G
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash_uniform(*keys: np.ndarray | int) -> np.ndarray:
    """Uniform draws in ``[0, 1)`` (float64) from integer keys, broadcast together.

    A counter-based generator: the same keys give the same numbers, in any batch shape.
    """
    h = np.zeros((), np.uint64)
    for k in keys:
        h = _mix(h ^ np.asarray(k).astype(np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def project(pos: np.ndarray, size: int) -> np.ndarray:
    """Pixel coordinates ``(row, col)`` (float64) of arena positions.

    Parameters
    ----------
    pos : float array [..., 2]
        Positions ``(x, y)`` in the unit square.
    size : int >= 1
        Frame side in pixels.

    Returns
    -------
    float64 array [..., 2]
        ``(row, col) = ((1 - y) * size, x * size)``; the pixel is their ``floor``.
    """
    p = float_array(pos, "pos")
    size = check_int(size, "size", 1)
    if p.ndim < 1 or p.shape[-1] != 2:
        raise ValueError(f"pos must have shape [..., 2], got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("pos must be finite (no NaN or inf)")
    p = p.astype(np.float64)
    return np.stack([(1.0 - p[..., 1]) * size, p[..., 0] * size], -1)


def static_layer(size: int, walls: np.ndarray) -> np.ndarray:
    """Floor and walls, ``[size, size, 3]`` uint8 (a pixel is wall if its centre is)."""
    c = (np.arange(size) + 0.5) / size
    x, y = c[None, :], 1.0 - c[:, None]
    img = np.broadcast_to(FLOOR, (size, size, 3)).copy()
    for x0, y0, x1, y1 in walls:
        img[(x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)] = WALL
    return img


def _discs(centres: np.ndarray, radius: float, size: int) -> np.ndarray:
    """Masks ``[..., size, size]`` of pixels within ``radius`` px of ``centres`` (px)."""
    r = np.arange(size) + 0.5
    dr = r[:, None] - centres[..., 0, None, None]
    dc = r[None, :] - centres[..., 1, None, None]
    return dr * dr + dc * dc <= radius * radius


def render(static: np.ndarray, goals: np.ndarray, goal_done: np.ndarray, pos: np.ndarray,
           distractors: np.ndarray | None, noise_keys: tuple | None,
           colour_noise: float, links: np.ndarray | None = None) -> np.ndarray:
    """Frames of a batch, ``[n, size, size, 3]`` uint8.

    Parameters
    ----------
    static : uint8 [size, size, 3]
        Floor and walls (:func:`static_layer`).
    goals : float [K, 2]
        Goal positions.
    goal_done : bool [n, K]
        Goals whose stage is done (drawn at half intensity).
    pos : float [n, 2]
        Agent positions.
    distractors : float [n, D, 2] or None
        Distractor positions.
    noise_keys : (seed [n], episode [n], t [n]) uint64 or None
        Hash keys of the colour noise.
    colour_noise : float
        Standard deviation-like amplitude of the noise, as a fraction of 255 (uniform
        noise in ``[-a, a] * 255`` per pixel and channel).
    links : float [n, P, 2] or None
        Points along the arm's links, drawn grey under the agent.
    """
    n, size = len(pos), static.shape[0]
    img = np.broadcast_to(static, (n, size, size, 3)).copy()
    scale = size / 16.0
    gmask = _discs(project(goals, size), 1.0 * scale, size)            # [K, H, W]
    for k in range(len(goals)):
        col = np.where(goal_done[:, k, None], GOAL_COLOURS[k] // 2, GOAL_COLOURS[k])  # [n, 3]
        m = np.broadcast_to(gmask[k], (n, size, size))
        img[m] = np.repeat(col, int(gmask[k].sum()), axis=0)
    if distractors is not None and distractors.shape[1]:
        dmask = _discs(project(distractors, size), 0.9 * scale, size)  # [n, D, H, W]
        for j in range(distractors.shape[1]):
            img[dmask[:, j]] = DISTRACTOR_COLOURS[j % len(DISTRACTOR_COLOURS)]
    if links is not None:
        lmask = _discs(project(links, size), 0.6 * scale, size).any(1)  # [n, H, W]
        img[lmask] = LINK
    amask = _discs(project(pos, size), max(0.75, 0.8 * scale), size)  # [n, H, W]
    img[amask] = AGENT
    if colour_noise > 0 and noise_keys is not None:
        seed, ep, t = (np.asarray(k, np.uint64)[:, None, None, None] for k in noise_keys)
        pix = np.arange(size * size * 3, dtype=np.uint64).reshape(1, size, size, 3)
        u = hash_uniform(seed, ep, t, pix, 7)
        noisy = img.astype(np.float32) + ((2.0 * u - 1.0) * colour_noise * 255.0)
        img = np.clip(noisy, 0, 255).astype(np.uint8)
    return img


def distractor_positions(seed: np.ndarray, episode: np.ndarray, t: np.ndarray,
                         n_distractors: int) -> np.ndarray:
    """Blob positions ``[n, D, 2]``: straight lines that bounce off the arena's edges.

    Start ``p0 ~ U[0, 1]^2`` and velocity ``v`` (speed 0.02-0.05 per step, any heading)
    are drawn per episode from the hash; the position at step ``t`` is the triangle wave
    ``1 - |((p0 + v t) mod 2) - 1|`` per axis (a reflection at 0 and 1).
    """
    j = np.arange(n_distractors, dtype=np.uint64)[None, :, None]
    ax = np.arange(2, dtype=np.uint64)[None, None, :]
    s, e = seed[:, None, None], episode[:, None, None]
    p0 = hash_uniform(s, e, 11, j, ax)
    ang = 2 * np.pi * hash_uniform(s, e, 12, j)
    speed = 0.02 + 0.03 * hash_uniform(s, e, 13, j)
    v = speed * np.concatenate([np.cos(ang), np.sin(ang)], -1)
    x = (p0 + v * t[:, None, None]) % 2.0
    return 1.0 - np.abs(x - 1.0)
