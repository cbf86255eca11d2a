r"""PointReach: a 2-D point mass that reaches goals in order, with state or image observations.

The control task of Chapters 20, 22 and 23 (model-based credit, perceptual rewards,
progress and world-model rewards for robot policies), small enough to train on a CPU.

Task
----
A point mass (radius 0.03) moves in the unit square, ``y`` up, among axis-aligned walls
(``layout``: ``"open"``, ``"obstacle"`` (a central block: two ways around it) or
``"wall"`` (a wall with one gap: a bottleneck)). There are three goals, A (red), B (green)
and C (blue), discs of radius 0.07. A *task* is a sequence of ``n_stages`` distinct goals
(reach A, then B, then C); a stage is done when the agent's centre is within the goal
radius of its goal; the episode terminates when every stage is done. With ``task=None``
each episode draws its sequence at random (the goal-conditioned single-stage task of
``creditlab/PointReach-v0``).

Dynamics (per step): :math:`v_{t+1} = (1 - c)\,v_t + \alpha\,a_t` with damping
:math:`c = 0.3`, :math:`\alpha = 0.02` and :math:`a_t \in [-1, 1]^2` (so the top speed is
about 0.067 per step); :math:`p_{t+1} = p_t + v_{t+1}`, moved one axis at a time: an axis
move that would enter a wall or leave the arena is cancelled and that velocity component
set to 0. There is no noise in the dynamics: only the start, the task (if random) and the
nuisances are drawn.

Progress (exact)
----------------
Let :math:`D_g(p)` be the geodesic (shortest-path, around walls) distance from :math:`p`
to goal :math:`g`, computed once per layout by Dijkstra on a 49x49 grid (8-connected,
walls grown by the agent radius) and read by bilinear interpolation. In stage :math:`k`
(goal :math:`g_k`, entered at position :math:`p^{(k)}`)

.. math::
    \mathrm{progress}_t = \frac{k + \mathrm{clip}\big(1 - \frac{(D_{g_k}(p_t) - \rho)^+}
    {(D_{g_k}(p^{(k)}) - \rho)^+},\ 0, 1\big)}{n_\mathrm{stages}},

the fraction of the task done (1 when every stage is done; :math:`\rho` the goal radius).
It is returned in ``info["progress"]`` with the stage index (``info["stage"]``).

Rewards (``reward``): ``"sparse"`` gives 1 for each stage completed (the task's total is
``n_stages``); ``"progress"`` gives the change of progress (its total is the final
progress), a dense reward with the same optimum.

Observations (``obs``): ``"state"``: float32 ``[7]`` = position, velocity, the current
goal's position and ``stage / n_stages``; ``"pixels"``: uint8 frames ``[size, size, 3]``
(``size`` 16 or 32, :mod:`creditlab.envs.pointreach_render`), where done goals are
dimmed, with optional nuisances that never change the task: ``distractors`` moving blobs
and ``colour_noise`` (uniform per-pixel noise of that amplitude, a fraction of 255);
``"both"``: a dict of the two.

Interfaces
----------
- :class:`PointReachBatch`: ``n`` environments stepped together with numpy (no Python
  loop over environments; auto-reset), about 3e6 state steps/s on one core at ``n = 4096``
  (``benchmarks/bench_substrates.py``);
- :class:`PointReachEnv`: the gymnasium environment (one batch of size 1), registered as
  ``creditlab/PointReach-v0`` and variants (:mod:`creditlab.envs`).

Randomness is counter-based (:func:`~creditlab.envs.pointreach_render.hash_uniform` of
seed, episode and step), so environment ``i`` of a batch reset with ``seed`` follows the
same trajectory as a single environment reset with ``seed + i`` under the same actions.

The 2-link arm (``body="arm"``, ``layout="open"`` only; ``creditlab/PointReachArm-v0``):
the agent is the end effector of an arm with links 0.25 and 0.22 based at the arena's
centre. Actions are joint accelerations, :math:`\dot q_{t+1} = 0.7\,\dot q_t + 0.04\,
a_t`, :math:`q_{t+1} = q_t + \dot q_{t+1}` (the shoulder wraps; the elbow stops at
:math:`\pm 2.8` rad with its velocity zeroed, a joint limit). The state observation has 11
numbers: the 7 above (end effector) then :math:`q, \dot q`. Frames draw the links grey.
Progress, stages, rewards and nuisances are those of the point mass.
"""

from __future__ import annotations

import functools
import heapq
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from creditlab._backend import check_int, check_seed, check_unit_interval, to_numpy
from creditlab.envs import pointreach_render as _render

__all__ = ["PointReachBatch", "PointReachEnv", "LAYOUTS"]

#: layouts: walls as ``(x0, y0, x1, y1)`` rectangles and the goals A, B, C
LAYOUTS: dict[str, dict[str, tuple]] = {
    "open": {"walls": (), "goals": ((0.2, 0.8), (0.8, 0.8), (0.8, 0.2))},
    "obstacle": {"walls": ((0.35, 0.35, 0.65, 0.65),),
                 "goals": ((0.2, 0.8), (0.8, 0.8), (0.8, 0.2))},
    "wall": {"walls": ((0.0, 0.46, 0.62, 0.54),),
             "goals": ((0.2, 0.8), (0.8, 0.8), (0.2, 0.2))},
}
OBS_KINDS = ("state", "pixels", "both")
REWARDS = ("sparse", "progress")
AGENT_RADIUS, GOAL_RADIUS = 0.03, 0.07
DAMPING, ACCEL = 0.3, 0.02
GRID = 48
STATE_DIM = 7
BODIES = ("point", "arm")
#: the 2-link arm: base, link lengths, joint damping and acceleration, elbow limit (rad)
ARM_BASE, ARM_LINKS = np.array([0.5, 0.5]), (0.25, 0.22)
ARM_DAMPING, ARM_ACCEL, ELBOW_LIMIT = 0.3, 0.04, 2.8
ARM_STATE_DIM = 11


def arm_points(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elbow and end-effector positions ``[n, 2]`` of joint angles ``q`` ``[n, 2]``."""
    l1, l2 = ARM_LINKS
    a1, a12 = q[:, 0], q[:, 0] + q[:, 1]
    elbow = ARM_BASE + l1 * np.stack([np.cos(a1), np.sin(a1)], 1)
    return elbow, elbow + l2 * np.stack([np.cos(a12), np.sin(a12)], 1)


def arm_jacobian(q: np.ndarray) -> np.ndarray:
    """d(end effector) / dq, ``[n, 2, 2]``."""
    l1, l2 = ARM_LINKS
    a1, a12 = q[:, 0], q[:, 0] + q[:, 1]
    s1, c1, s12, c12 = np.sin(a1), np.cos(a1), np.sin(a12), np.cos(a12)
    return np.stack([np.stack([-l1 * s1 - l2 * s12, -l2 * s12], 1),
                     np.stack([l1 * c1 + l2 * c12, l2 * c12], 1)], 1)


@functools.cache
def geodesic_fields(layout: str) -> np.ndarray:
    """Geodesic distances to each goal on the grid nodes, ``[K, GRID+1, GRID+1]`` float64.

    Index ``[k, i, j]`` is node ``x = i / GRID, y = j / GRID``. Dijkstra over the free
    nodes (walls grown by the agent radius plus half a cell, 8-connected); blocked nodes
    get the value of their nearest free neighbours plus a cell (so interpolation next to a
    wall stays finite).
    """
    spec = LAYOUTS[layout]
    g = np.arange(GRID + 1) / GRID
    X, Y = np.meshgrid(g, g, indexing="ij")
    grow = AGENT_RADIUS + 0.5 / GRID
    blocked = np.zeros(X.shape, bool)
    for x0, y0, x1, y1 in spec["walls"]:
        blocked |= (X > x0 - grow) & (X < x1 + grow) & (Y > y0 - grow) & (Y < y1 + grow)
    h = 1.0 / GRID
    steps = [(di, dj, h * np.hypot(di, dj)) for di in (-1, 0, 1) for dj in (-1, 0, 1)
             if di or dj]
    out = np.empty((len(spec["goals"]),) + X.shape)
    for k, (gx, gy) in enumerate(spec["goals"]):
        dist = np.full(X.shape, np.inf)
        # seed the nodes around the goal with their straight-line distance
        near = (~blocked) & (np.hypot(X - gx, Y - gy) <= 1.5 * h)
        heap = []
        for i, j in zip(*np.nonzero(near)):
            dist[i, j] = float(np.hypot(X[i, j] - gx, Y[i, j] - gy))
            heap.append((dist[i, j], i, j))
        heapq.heapify(heap)
        while heap:
            d, i, j = heapq.heappop(heap)
            if d > dist[i, j]:
                continue
            for di, dj, c in steps:
                a, b = i + di, j + dj
                if 0 <= a <= GRID and 0 <= b <= GRID and not blocked[a, b] \
                        and d + c < dist[a, b]:
                    dist[a, b] = d + c
                    heapq.heappush(heap, (d + c, a, b))
        while np.isinf(dist).any():  # fill blocked nodes from their free neighbours
            pad = np.pad(dist, 1, constant_values=np.inf)
            nb = np.min([pad[1 + di:GRID + 2 + di, 1 + dj:GRID + 2 + dj]
                         for di, dj, _ in steps], axis=0)
            fill = np.isinf(dist) & np.isfinite(nb)
            dist[fill] = nb[fill] + h
        out[k] = dist
    return out


def geodesic_distance(fields: np.ndarray, goal: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``fields[goal]`` at ``pos`` (``[n]`` ints, ``[n, 2]``) -> ``[n]``."""
    u = np.clip(pos, 0.0, 1.0) * GRID
    i0 = np.minimum(u.astype(np.int64), GRID - 1)
    f = u - i0
    i, j = i0[:, 0], i0[:, 1]
    fx, fy = f[:, 0], f[:, 1]
    F = fields.reshape(-1)
    base = (goal * (GRID + 1) + i) * (GRID + 1) + j  # flat index of node [goal, i, j]
    return ((1 - fx) * (1 - fy) * F[base] + fx * (1 - fy) * F[base + GRID + 1]
            + (1 - fx) * fy * F[base + 1] + fx * fy * F[base + GRID + 2])


def _choice(value: Any, name: str, options: tuple) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


class PointReachBatch:
    """``n`` PointReach environments stepped together (numpy arrays of length ``n``).

    Parameters
    ----------
    n : int >= 1
        Number of environments.
    layout : {"open", "obstacle", "wall"}
    n_stages : int in 1..3
        Goals per task (ignored when ``task`` is given).
    task : sequence of distinct ints in 0..2, optional
        The goal order of every episode (e.g. ``(0, 1, 2)``: A, then B, then C); None
        draws a random order per episode.
    horizon : int >= 1 or None
        Steps before truncation; None never truncates.
    reward : {"sparse", "progress"}
    obs : {"state", "pixels", "both"}
    size : {16, 32}
        Frame side in pixels.
    distractors : int in 0..3
        Moving nuisance blobs in the frames.
    colour_noise : float in [0, 1]
        Amplitude of per-pixel uniform noise (fraction of 255).
    body : {"point", "arm"}
        A point mass, or the end effector of a 2-link arm (``layout="open"`` only).
    autoreset : bool
        Reset an environment in the step that ends its episode (the returned observation
        is then the new episode's; the last one is in ``info["final_obs"]``). Without it a
        finished environment stays frozen (zero reward, done flags repeated).
    seed : int >= 0, optional
        Environment ``i`` uses seed ``seed + i`` (None: drawn from OS entropy).

    Attributes
    ----------
    pos, vel : float64 [n, 2]
    stage : int64 [n]
        Index of the current stage (``n_stages`` once done).
    task : int64 [n, n_stages]
        Goal order of each environment's episode.
    t, episode : int64 [n]
        Step within the episode, episodes finished since the last seeded reset.
    seeds : uint64 [n]

    The attributes are read-only views of the state: progress is cached after each step
    and reset, so change the state only through ``step`` and ``reset``.
    """

    def __init__(self, n: int = 1, *, layout: str = "open", n_stages: int = 1,
                 task: Any = None, horizon: int | None = 50, reward: str = "sparse",
                 obs: str = "state", size: int = 16, distractors: int = 0,
                 colour_noise: float = 0.0, body: str = "point", autoreset: bool = True,
                 seed: int | None = None) -> None:
        self.n = check_int(n, "n", 1)
        self.layout = _choice(layout, "layout", tuple(LAYOUTS))
        spec = LAYOUTS[layout]
        self.walls = np.array(spec["walls"], np.float64).reshape(-1, 4)
        self.goals = np.array(spec["goals"], np.float64)
        K = len(self.goals)
        if task is not None:
            tk = to_numpy(task, "task")
            if tk.ndim != 1 or tk.dtype.kind not in "iu" or not 1 <= len(tk) <= K or \
                    len(set(tk.tolist())) != len(tk) or tk.min() < 0 or tk.max() >= K:
                raise ValueError(f"task must be a sequence of 1..{K} distinct goal indices "
                                 f"in 0..{K - 1}, got {task!r}")
            self.fixed_task = tk.astype(np.int64)
            self.n_stages = len(tk)
        else:
            self.fixed_task = None
            self.n_stages = check_int(n_stages, "n_stages", 1)
            if self.n_stages > K:
                raise ValueError(f"n_stages must be <= {K} (the number of goals), got "
                                 f"{n_stages}")
        self.horizon = None if horizon is None else check_int(horizon, "horizon", 1)
        self.reward_kind = _choice(reward, "reward", REWARDS)
        self.obs_kind = _choice(obs, "obs", OBS_KINDS)
        if isinstance(size, bool) or size not in (16, 32):
            raise ValueError(f"size must be 16 or 32, got {size!r}")
        self.size = int(size)
        self.n_distractors = check_int(distractors, "distractors", 0)
        if self.n_distractors > 3:
            raise ValueError(f"distractors must be in 0..3, got {distractors}")
        self.colour_noise = check_unit_interval(colour_noise, "colour_noise")
        if not isinstance(autoreset, (bool, np.bool_)):
            raise TypeError(f"autoreset must be a bool, got {type(autoreset).__name__}")
        self.autoreset = bool(autoreset)
        self.body = _choice(body, "body", BODIES)
        if self.body == "arm" and layout != "open":
            raise ValueError(f"body='arm' needs layout='open', got layout={layout!r}")
        self.state_dim = ARM_STATE_DIM if self.body == "arm" else STATE_DIM
        self.fields = geodesic_fields(layout)
        self.static = _render.static_layer(self.size, self.walls)
        self.reset(seed=seed)

    # ---- state
    def reset(self, seed: int | None = None, mask: np.ndarray | None = None) -> Any:
        """Start new episodes (all, or those where ``mask``); returns the observations.

        ``seed`` (int >= 0) reseeds every environment (``seed + i``) and restarts the
        episode counters; without it the episode counters advance.
        """
        seed = check_seed(seed)
        if seed is not None or not hasattr(self, "seeds"):
            if seed is None:
                seed = int(np.random.SeedSequence().generate_state(1)[0])
            self.seeds = (np.uint64(seed) + np.arange(self.n, dtype=np.uint64))
            self._rows = np.arange(self.n)
            self.episode = np.zeros(self.n, np.int64)
            self.pos = np.zeros((self.n, 2))
            self.vel = np.zeros((self.n, 2))
            self.q = np.zeros((self.n, 2))
            self.dq = np.zeros((self.n, 2))
            self.stage = np.zeros(self.n, np.int64)
            self.task = np.zeros((self.n, self.n_stages), np.int64)
            self.t = np.zeros(self.n, np.int64)
            self.d0 = np.ones(self.n)
            self.done = np.zeros(self.n, bool)
            self.success = np.zeros(self.n, bool)
            self._new_episodes(np.ones(self.n, bool))
        elif mask is None:
            self.episode += 1
            self._new_episodes(np.ones(self.n, bool))
        else:
            m = np.asarray(mask, bool)
            self.episode[m] += 1
            self._new_episodes(m)
        return self.observe()

    def _new_episodes(self, m: np.ndarray) -> None:
        idx = np.nonzero(m)[0]
        if not len(idx):
            return
        s, e = self.seeds[idx], self.episode[idx].astype(np.uint64)
        K = len(self.goals)
        if self.fixed_task is None:
            u = hash_u(s[:, None], e[:, None], 1, np.arange(K, dtype=np.uint64)[None])
            self.task[idx] = np.argsort(u, axis=1)[:, :self.n_stages]
        else:
            self.task[idx] = self.fixed_task
        # start: the first of 8 uniform candidates that is free and away from all goals
        c = np.arange(8, dtype=np.uint64)[None, :, None]
        u = hash_u(s[:, None, None], e[:, None, None], 2, c,
                   np.arange(2, dtype=np.uint64)[None, None])
        if self.body == "arm":  # joint angles: shoulder anywhere, elbow bent 0.4-2.4 rad
            qc = np.stack([np.pi * (2 * u[..., 0] - 1),
                           np.where(u[..., 1] < 0.5, 1, -1) * (0.4 + 4.0 * np.abs(
                               u[..., 1] - 0.5))], -1)
            cand = arm_points(qc.reshape(-1, 2))[1].reshape(len(idx), 8, 2)
        else:
            cand = 0.08 + 0.84 * u
        ok = ~self._collides(cand.reshape(-1, 2)).reshape(len(idx), 8)
        ok &= (np.linalg.norm(cand[:, :, None] - self.goals[None, None], axis=-1)
               > 2.5 * GOAL_RADIUS).all(-1)
        first = np.argmax(ok, axis=1)
        start = cand[np.arange(len(idx)), first]
        start[~ok.any(1)] = (0.5, 0.08)  # a free fallback (never needed in practice)
        self.pos[idx] = start
        self.vel[idx] = 0.0
        if self.body == "arm":
            self.q[idx] = qc[np.arange(len(idx)), first]
            self.dq[idx] = 0.0
            bad = ~ok.any(1)
            if bad.any():  # fallback: elbow bent, end effector clear of the goals
                self.q[idx[bad]] = (-np.pi / 2, 1.2)
                self.pos[idx[bad]] = arm_points(self.q[idx[bad]])[1]
        self.stage[idx] = 0
        self.t[idx] = 0
        self.done[idx] = False
        self.success[idx] = False
        self.d0[idx] = self._dist(idx)
        self._progress = self._compute_progress()

    def _collides(self, p: np.ndarray) -> np.ndarray:
        r = AGENT_RADIUS
        out = (p < r).any(-1) | (p > 1 - r).any(-1)
        for x0, y0, x1, y1 in self.walls:
            out |= (p[:, 0] > x0 - r) & (p[:, 0] < x1 + r) & (p[:, 1] > y0 - r) & \
                (p[:, 1] < y1 + r)
        return out

    def _dist(self, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Geodesic distance minus goal radius (>= 0) to the current goal, per env."""
        st = np.minimum(self.stage[idx], self.n_stages - 1)
        task = self.task[idx]
        goal = task[np.arange(len(task)), st]
        d = geodesic_distance(self.fields, goal, self.pos[idx])
        return np.maximum(d - GOAL_RADIUS, 0.0)

    def progress(self) -> np.ndarray:
        """Fraction of the task done, float64 ``[n]`` in [0, 1] (module docstring)."""
        return self._progress.copy()

    def _compute_progress(self) -> np.ndarray:
        frac = np.clip(1.0 - self._dist() / np.maximum(self.d0, 1e-9), 0.0, 1.0)
        frac = np.where(self.stage >= self.n_stages, 0.0, frac)
        return (np.minimum(self.stage, self.n_stages) + frac) / self.n_stages

    def target(self) -> np.ndarray:
        """The current goal index per env, int64 ``[n]`` (the last goal once done)."""
        return self.task[self._rows, np.minimum(self.stage, self.n_stages - 1)]

    def goal_done(self) -> np.ndarray:
        """Which goals have their stage done, bool ``[n, K]``."""
        K = len(self.goals)
        done = np.arange(self.n_stages)[None, :] < self.stage[:, None]  # [n, S]
        out = np.zeros((self.n, K), bool)
        np.put_along_axis(out, self.task, done, 1)
        return out

    # ---- observations
    def state_obs(self) -> np.ndarray:
        """float32 ``[n, 7]``: position, velocity, current goal position, stage fraction
        (``[n, 11]`` for the arm: then joint angles and joint velocities)."""
        parts = [self.pos, self.vel, self.goals[self.target()],
                 (self.stage / self.n_stages)[:, None]]
        if self.body == "arm":
            parts += [self.q, self.dq]
        return np.concatenate(parts, 1).astype(np.float32)

    def distractor_pos(self) -> np.ndarray:
        """Distractor positions, float64 ``[n, distractors, 2]``."""
        return _render.distractor_positions(self.seeds, self.episode.astype(np.uint64),
                                            self.t, self.n_distractors)

    def render_frames(self) -> np.ndarray:
        """Frames of every environment, uint8 ``[n, size, size, 3]``."""
        dis = self.distractor_pos() if self.n_distractors else None
        keys = (self.seeds, self.episode.astype(np.uint64), self.t.astype(np.uint64))
        links = None
        if self.body == "arm":
            elbow, ee = arm_points(self.q)
            f = np.linspace(0.0, 1.0, 9)[None, :, None]
            links = np.concatenate([ARM_BASE + f * (elbow - ARM_BASE)[:, None],
                                    elbow[:, None] + f * (ee - elbow)[:, None]], 1)
        return _render.render(self.static, self.goals, self.goal_done(), self.pos, dis,
                              keys, self.colour_noise, links)

    def observe(self) -> Any:
        if self.obs_kind == "state":
            return self.state_obs()
        if self.obs_kind == "pixels":
            return self.render_frames()
        return {"state": self.state_obs(), "pixels": self.render_frames()}

    # ---- dynamics
    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Advance every environment by one step.

        Parameters
        ----------
        actions : float array [n, 2]
            Clipped to ``[-1, 1]``; NaN and inf are refused.

        Returns
        -------
        obs, reward (float64 [n]), terminated (bool [n]), truncated (bool [n]), info
            ``info``: ``progress`` (float64 [n]), ``stage`` (int64 [n]), ``success``
            (bool [n]), ``target`` (int64 [n]); with auto-reset also ``final_obs`` and
            ``final_progress`` (the finished episodes' last values; equal to the
            returned ones elsewhere).
        """
        a = to_numpy(actions, "actions")
        if a.dtype.kind not in "fiu" or a.shape != (self.n, 2):
            raise ValueError(f"actions must be a float array of shape ({self.n}, 2), got "
                             f"{a.dtype} {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError("actions must be finite (no NaN or inf)")
        a = np.clip(a.astype(np.float64), -1.0, 1.0)
        live = ~self.done
        p0 = self._progress
        if self.body == "arm":
            dq = (1.0 - ARM_DAMPING) * self.dq + ARM_ACCEL * a
            q = self.q + dq
            q[:, 0] = (q[:, 0] + np.pi) % (2 * np.pi) - np.pi
            hit = np.abs(q[:, 1]) > ELBOW_LIMIT
            q[:, 1] = np.clip(q[:, 1], -ELBOW_LIMIT, ELBOW_LIMIT)
            dq[:, 1] = np.where(hit, 0.0, dq[:, 1])
            self.q = np.where(live[:, None], q, self.q)
            self.dq = np.where(live[:, None], dq, self.dq)
            pos = arm_points(q)[1]
            vel = pos - self.pos
        else:
            vel = (1.0 - DAMPING) * self.vel + ACCEL * a
            pos = self.pos.copy()
            for ax in (0, 1):
                trial = pos.copy()
                trial[:, ax] += vel[:, ax]
                hit = self._collides(trial)
                pos = np.where(hit[:, None], pos, trial)
                vel[:, ax] = np.where(hit, 0.0, vel[:, ax])
        self.pos = np.where(live[:, None], pos, self.pos)
        self.vel = np.where(live[:, None], vel, self.vel)
        self.t = self.t + live
        # stage completion (at most one stage per step)
        goal = self.goals[self.target()]
        reached = live & (np.linalg.norm(self.pos - goal, axis=1) < GOAL_RADIUS)
        self.stage = self.stage + reached
        finished = self.stage >= self.n_stages
        entered = reached & ~finished
        if entered.any():
            self.d0[entered] = self._dist(entered)
        p1 = self._progress = self._compute_progress()
        if self.reward_kind == "sparse":
            reward = reached.astype(np.float64)
        else:
            reward = np.where(live, p1 - p0, 0.0)
        terminated = live & finished
        truncated = live & ~finished & (self.horizon is not None) & \
            (self.t >= (self.horizon or 0))
        self.success |= terminated
        self.done |= terminated | truncated
        info = {"progress": p1, "stage": self.stage.copy(), "success": self.success.copy(),
                "target": self.target()}
        if not live.all():  # frozen environments repeat their done flags
            terminated = terminated | (~live & self.success)
            truncated = truncated | (~live & ~self.success)
        obs = self.observe()
        if self.autoreset and self.done.any():
            ended = self.done.copy()
            info["final_obs"] = obs
            info["final_progress"] = p1
            self.episode[ended] += 1
            self._new_episodes(ended)
            obs = self.observe()
            info["progress"] = self.progress()
        return obs, reward, terminated, truncated, info


hash_u = _render.hash_uniform


class PointReachEnv(gym.Env):
    """PointReach as a gymnasium environment (module docstring); one batch of size 1.

    Parameters are those of :class:`PointReachBatch` (without ``n``, ``horizon``,
    ``autoreset``: time limits come from the registration's ``max_episode_steps``), plus
    ``render_mode`` (``"rgb_array"`` or None). ``info`` holds ``progress``, ``stage``,
    ``success``, ``target`` and ``task`` (the goal order).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, layout: str = "open", n_stages: int = 1, task: Any = None,
                 reward: str = "sparse", obs: str = "state", size: int = 16,
                 distractors: int = 0, colour_noise: float = 0.0, body: str = "point",
                 render_mode: str | None = None) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.batch = PointReachBatch(1, layout=layout, n_stages=n_stages, task=task,
                                     horizon=None, reward=reward, obs=obs, size=size,
                                     distractors=distractors, colour_noise=colour_noise,
                                     body=body, autoreset=False, seed=0)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        lim = 4.0 if body == "arm" else 1.0  # joint angles in radians
        state = spaces.Box(-lim, lim, (self.batch.state_dim,), np.float32)
        pix = spaces.Box(0, 255, (self.batch.size, self.batch.size, 3), np.uint8)
        self.observation_space = {"state": state, "pixels": pix,
                                  "both": spaces.Dict({"state": state, "pixels": pix})}[obs]
        self._seeded = False

    def _obs(self, o: Any) -> Any:
        return {k: v[0] for k, v in o.items()} if isinstance(o, dict) else o[0]

    def _info(self) -> dict:
        b = self.batch
        self._task = tuple(int(x) for x in b.task[0])
        return {"progress": float(b.progress()[0]), "stage": int(b.stage[0]),
                "success": bool(b.success[0]), "target": int(b.target()[0]),
                "task": self._task}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        if seed is None and not self._seeded:
            seed = int(self.np_random.integers(2**62))
        if seed is not None:
            self._seeded = True
            o = self.batch.reset(seed=seed)
        else:
            o = self.batch.reset()
        return self._obs(o), self._info()

    def step(self, action: Any) -> tuple:
        a = np.asarray(action, dtype=np.float64).reshape(1, 2)
        o, r, term, trunc, info = self.batch.step(a)
        out = {"progress": float(info["progress"][0]), "stage": int(info["stage"][0]),
               "success": bool(info["success"][0]), "target": int(info["target"][0]),
               "task": self._task}
        return self._obs(o), float(r[0]), bool(term[0]), False, out

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self.batch.render_frames()[0]
        return None
