"""Tabular softmax policy gradient on ToolTree tree rollouts (Ch11): GRPO vs PORTool-style.

One iteration: draw ``n_tasks`` tasks, grow ``n`` trajectories per task as a tree
(:func:`creditlab.envs.tooltree.tree_rollout`), turn the outcomes into per-(step,
trajectory) advantages with the chosen credit rule (:func:`tree_advantages`), and take one
REINFORCE step on a softmax table ``theta[state, action]`` (the mean over all
(trajectory, step) pairs, a shared prefix counted once per trajectory through it, as the
tokens of a shared prefix are in each of its trajectories' sequences).

Credit rules (``arm``):

- ``"grpo"``: ``A(s, j) = A_traj(j)``, the z-score of the outcome over the tree's n
  trajectories, at every step of trajectory j;
- ``"portool"``: PORTool-style, ``A(s, j) = A_traj(j) + lam * A_fork(s)`` from
  :func:`creditlab.trees.portool_style_advantages` (pinned step reward with decay
  ``gamma``, aggregation ``agg``, the tool-success format score; fork z-score and blend
  reconstructed);
- ``"portool_nofork"``: the same trajectory term with the format score, no fork term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditlab._backend import check_int, check_positive, check_real, check_seed
from creditlab.envs.tooltree import (
    ToolTreeConfig,
    ToolTreeRollout,
    sample_chains,
    tasks,
    tree_rollout,
)
from creditlab.progress import tqdm
from creditlab.trees import portool_style_advantages

__all__ = ["TOOLTREE_ARMS", "ToolTreeResult", "pair_weights", "sft_logits",
           "tree_advantages", "train_tooltree"]

TOOLTREE_ARMS = ("grpo", "portool", "portool_nofork")


def sft_logits(config: ToolTreeConfig, strength: float = 1.0) -> np.ndarray:
    """float64 [n_states, n_actions]: an imperfect "SFT" start: +``strength`` on needed,
    not yet succeeded tools and on answering once everything succeeded; 0 elsewhere."""
    strength = check_real(strength, "strength")
    S = np.arange(config.n_states)
    need, done = S >> config.n_tools, S & ((1 << config.n_tools) - 1)
    th = np.zeros((config.n_states, config.n_actions))
    for j in range(config.n_tools):
        th[:, j] = strength * (((need >> j) & 1) & ~((done >> j) & 1) & 1)
    th[:, config.answer] = strength * (done == need)
    return th


def tree_advantages(ro: ToolTreeRollout, arm: str, *, gamma: float = 0.95,
                    agg: str = "max", lam: float = 1.0, t_max: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per-node fork term and per-leaf trajectory term of a credit rule.

    Returns ``(fork [M], traj [M])`` as :func:`creditlab.trees.portool_style_advantages`:
    trajectory j is trained at each step s on its path with ``traj[leaf j] + fork[s]``.
    """
    if arm not in TOOLTREE_ARMS:
        raise ValueError(f"arm must be one of {TOOLTREE_ARMS}, got {arm!r}")
    if arm == "grpo":
        return portool_style_advantages(ro.forest, ro.leaf_reward, lam=0.0, gamma=1.0,
                                        agg="mean")
    fork, traj = portool_style_advantages(ro.forest, ro.leaf_reward, lam=lam, gamma=gamma,
                                          agg=agg, format_score=ro.format_score,
                                          t_max=t_max)
    return (fork if arm == "portool" else np.zeros_like(fork)), traj


def pair_weights(ro: ToolTreeRollout, fork: np.ndarray, traj: np.ndarray
                 ) -> tuple[np.ndarray, int]:
    """``w[s] = sum over trajectories j through step s of (traj[j] + fork[s])`` [M] and
    the number of (trajectory, step) pairs (the loss's denominator)."""
    gp = ro.forest.global_parent()
    w = np.zeros(ro.forest.num_nodes)
    cur = ro.leaves.reshape(-1)
    tj = traj[cur]
    pairs = 0
    while True:
        live = gp[cur] >= 0  # cur is a step (not a query)
        if not live.any():
            break
        c = cur[live]
        np.add.at(w, c, tj[live] + fork[c])
        pairs += int(live.sum())
        cur = np.where(live, gp[cur], cur)
        tj = np.where(live, tj, 0.0)
        cur, tj = cur[live], tj[live]
    return w, pairs


@dataclass
class ToolTreeResult:
    history: dict[str, np.ndarray]   # per evaluation: iteration, accuracy, calls, wasted, ...
    final: dict[str, float]
    theta: np.ndarray


def _evaluate(theta: np.ndarray, config: ToolTreeConfig, n: int, seed: int) -> dict[str, float]:
    pi = _softmax(theta)
    ch = sample_chains(pi, config, n, np.random.default_rng(seed))
    solved = ch.outcome == 1
    ns = max(int(solved.sum()), 1)
    return {"accuracy": float(solved.mean()), "unanswerable": float((ch.outcome == 0).mean()),
            "calls_per_solved": float(ch.calls[solved].sum() / ns),
            "wasted_per_solved": float(ch.wasted[solved].sum() / ns)}


def _softmax(theta: np.ndarray) -> np.ndarray:
    z = np.exp(theta - theta.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def train_tooltree(arm: str, seed: int, config: ToolTreeConfig | None = None, *,
                   iterations: int = 150, n_tasks: int = 16, n: int = 8, f: int = 2,
                   lr: float = 2.0, gamma: float = 0.95, agg: str = "max", lam: float = 1.0,
                   sft: float = 1.0, eval_every: int = 10, eval_episodes: int = 2000,
                   progress: bool = False) -> ToolTreeResult:
    """Train a softmax table with one credit rule (``arm`` in :data:`TOOLTREE_ARMS`).

    Same seed, same task draws and evaluation episodes for every arm. ``lr`` multiplies
    the mean over (trajectory, step) pairs of ``A * (onehot(a) - pi(s))``.
    """
    if arm not in TOOLTREE_ARMS:
        raise ValueError(f"arm must be one of {TOOLTREE_ARMS}, got {arm!r}")
    config = config or ToolTreeConfig()
    iterations = check_int(iterations, "iterations", 1)
    eval_every = check_int(eval_every, "eval_every", 1)
    eval_episodes = check_int(eval_episodes, "eval_episodes", 1)
    n_tasks = check_int(n_tasks, "n_tasks", 1)
    check_positive(lr, "lr")
    if check_seed(seed) is None:
        raise TypeError("seed must be an int >= 0, got None")
    rng = np.random.default_rng(seed)
    eval_seed = int(rng.integers(2**31))
    theta = sft_logits(config, sft)
    all_tasks = tasks(config)
    eye = np.eye(config.n_actions)
    hist: dict[str, list[float]] = {}

    def log(it: int) -> None:
        hist.setdefault("iteration", []).append(it)
        for k, v in _evaluate(theta, config, eval_episodes, eval_seed).items():
            hist.setdefault(k, []).append(v)

    log(0)
    for it in tqdm(range(1, iterations + 1), disable=not progress, leave=False,
                   desc=f"{arm} seed {seed}"):
        pi = _softmax(theta)
        ro = tree_rollout(pi, config, rng.choice(all_tasks, n_tasks), rng, n=n, f=f)
        fork, traj = tree_advantages(ro, arm, gamma=gamma, agg=agg, lam=lam,
                                     t_max=config.t_max)
        w, pairs = pair_weights(ro, fork, traj)
        step = ro.forest.global_parent() >= 0
        s, a = ro.state[step], ro.action[step]
        grad = np.zeros_like(theta)
        np.add.at(grad, s, w[step][:, None] * (eye[a] - pi[s]))
        theta = theta + lr * grad / max(pairs, 1)
        if it % eval_every == 0 or it == iterations:
            log(it)
    history = {k: np.asarray(v) for k, v in hist.items()}
    return ToolTreeResult(history, {k: float(v[-1]) for k, v in history.items()}, theta)
