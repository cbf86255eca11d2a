"""ToolTree: a multi-tool task with stochastic tool failures, rolled out as a tree (Ch11).

A task (a "query") needs a set of 2-4 of ``n_tools`` tools. Each step the agent calls one
tool or answers. A call to a needed tool that has not succeeded yet succeeds with
probability ``1 - fail_prob``; any other call (a tool the task does not need, or one that
already succeeded) is *wasted*. Answering ends the episode: correct (``R_out = +1``) when
every needed tool has succeeded, wrong (``-1``) otherwise; an episode that reaches
``t_max`` steps without answering is unanswerable (``0``). These are PORTool's outcome
values (Wu et al. 2025, arXiv 2510.26020; the project's ``research/formulas.md`` [48]).

State (what a tabular policy sees): the needed set and the succeeded set, two bitmasks,
indexed ``need * 2**n_tools + done``. Action ``a < n_tools`` calls tool ``a``; action
``n_tools`` answers.

:func:`tree_rollout` grows ``n`` trajectories per task as a tree with branching factor at
most ``f`` and shared prefixes (PORTool-style, see there), and returns a
:class:`creditlab.trees.Forest` with per-node data; :func:`sample_chains` draws
independent episodes for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from creditlab._backend import check_int, check_real, float_array
from creditlab.trees import Forest

__all__ = ["ToolTreeConfig", "ToolTreeRollout", "Chains", "sample_chains", "tree_rollout",
           "tasks"]


@dataclass(frozen=True)
class ToolTreeConfig:
    """Parameters of ToolTree.

    Parameters
    ----------
    n_tools : int >= 2
    min_needed, max_needed : int
        A task needs between these many distinct tools (inclusive), ``1 <= min <= max <=
        n_tools``.
    fail_prob : float in [0, 1)
        Probability that a call to a needed, not yet succeeded tool fails (retry needed).
    t_max : int >= 1
        Steps (calls and the answer) before the episode is cut off as unanswerable.
    """

    n_tools: int = 6
    min_needed: int = 2
    max_needed: int = 4
    fail_prob: float = 0.2
    t_max: int = 6

    def __post_init__(self) -> None:
        n = check_int(self.n_tools, "n_tools", 2)
        if n > 10:
            raise ValueError(f"n_tools must be <= 10 (tabular state), got {n}")
        lo = check_int(self.min_needed, "min_needed", 1)
        hi = check_int(self.max_needed, "max_needed", 1)
        if not lo <= hi <= n:
            raise ValueError(f"need 1 <= min_needed <= max_needed <= n_tools, got {lo}, {hi}, {n}")
        p = check_real(self.fail_prob, "fail_prob")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"fail_prob must be in [0, 1), got {p}")
        check_int(self.t_max, "t_max", 1)

    @property
    def n_actions(self) -> int:
        return self.n_tools + 1

    @property
    def n_states(self) -> int:
        return 4**self.n_tools

    @property
    def answer(self) -> int:
        return self.n_tools


def tasks(config: ToolTreeConfig) -> np.ndarray:
    """int64 [K]: every task's needed-tool bitmask (all sets of min..max needed tools)."""
    out = [sum(1 << j for j in c) for k in range(config.min_needed, config.max_needed + 1)
           for c in combinations(range(config.n_tools), k)]
    return np.asarray(out, np.int64)


def _step(config: ToolTreeConfig, need: np.ndarray, done: np.ndarray, a: np.ndarray,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One step for arrays of states; returns (done', answered, outcome, useful_call)."""
    call = a < config.n_tools
    bit = np.where(call, np.left_shift(1, np.minimum(a, config.n_tools - 1)), 0)
    useful = call & ((need & bit) != 0) & ((done & bit) == 0)
    ok = useful & (rng.random(len(a)) >= config.fail_prob)
    done2 = np.where(ok, done | bit, done)
    answered = ~call
    outcome = np.where(answered, np.where(done == need, 1.0, -1.0), 0.0)
    return done2, answered, outcome, useful


def _sample(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(probs, 1)
    a = (rng.random((len(probs), 1)) * cdf[:, -1:] > cdf).sum(1)
    return np.minimum(a, probs.shape[1] - 1)


def _check_policy(policy: np.ndarray, config: ToolTreeConfig) -> np.ndarray:
    p = np.asarray(float_array(policy, "policy"), np.float64)
    if p.shape != (config.n_states, config.n_actions):
        raise ValueError(f"policy must be a probability table [{config.n_states}, "
                         f"{config.n_actions}], got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or not np.allclose(p.sum(1), 1.0):
        raise ValueError("policy must hold finite probabilities >= 0 with rows summing to 1")
    return p


@dataclass
class Chains:
    """Independent episodes, [B, T] with T = t_max (``mask`` marks real steps)."""

    state: np.ndarray     # int64 [B, T]
    action: np.ndarray    # int64 [B, T]
    mask: np.ndarray      # bool [B, T]
    useful: np.ndarray    # bool [B, T]: a call that could make progress
    outcome: np.ndarray   # float64 [B]: +1 correct, -1 wrong, 0 unanswerable
    calls: np.ndarray     # int64 [B]: tool calls (steps that are not the answer)

    @property
    def wasted(self) -> np.ndarray:
        """int64 [B]: calls that could not make progress (tool not needed or done)."""
        return self.calls - (self.useful & self.mask).sum(1)


def sample_chains(policy: np.ndarray, config: ToolTreeConfig, n: int,
                  rng: np.random.Generator, need: np.ndarray | None = None) -> Chains:
    """``n`` independent episodes of ``policy`` (a probability table ``[n_states,
    n_actions]``) on uniformly drawn tasks (or the given ``need`` bitmasks, int [n])."""
    p = _check_policy(policy, config)
    n = check_int(n, "n", 1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    need = rng.choice(tasks(config), n) if need is None else np.asarray(need, np.int64)
    T = config.t_max
    S = np.zeros((n, T), np.int64)
    A = np.zeros((n, T), np.int64)
    M = np.zeros((n, T), bool)
    U = np.zeros((n, T), bool)
    out = np.zeros(n)
    done = np.zeros(n, np.int64)
    alive = np.ones(n, bool)
    for t in range(T):
        s = need * (1 << config.n_tools) + done
        a = _sample(p[s], rng)
        done2, answered, o, useful = _step(config, need, done, a, rng)
        S[:, t], A[:, t], M[:, t], U[:, t] = s, a, alive, useful & alive
        out = np.where(alive & answered, o, out)
        done = np.where(alive, done2, done)
        alive = alive & ~answered
    calls = (M & (A != config.answer)).sum(1)
    return Chains(S, A, M, U, out, calls)


@dataclass
class ToolTreeRollout:
    """Tree rollouts of a batch of tasks: one tree per task, node 0 the query.

    Node arrays are flat over the forest, [M]; ``leaves`` [B, n] are flat indices of each
    tree's trajectory ends.
    """

    forest: Forest
    state: np.ndarray          # int64 [M]: state in which the step was taken (-1 at roots)
    action: np.ndarray         # int64 [M] (-1 at roots)
    useful: np.ndarray         # bool [M]: a call that could make progress
    format_score: np.ndarray   # float64 [M]: 1 for an answer or a successful call, else 0
    leaf_reward: np.ndarray    # float64 [M]: R_out at leaves, 0 elsewhere
    leaves: np.ndarray         # int64 [B, n]
    need: np.ndarray           # int64 [B]

    @property
    def outcome(self) -> np.ndarray:
        """float64 [B, n]: R_out of each trajectory."""
        return self.leaf_reward[self.leaves]


def tree_rollout(policy: np.ndarray, config: ToolTreeConfig, need: np.ndarray,
                 rng: np.random.Generator, n: int = 8, f: int = 2) -> ToolTreeRollout:
    """Grow ``n`` trajectories per task as a tree with branching factor at most ``f``.

    PORTool-style (the paper's rollout keeps ``n - n_c`` of the candidate forks at each
    step; its pruning rule was not recovered, so ours is a labelled reconstruction): the
    query (node 0) gets ``min(f, n)`` first steps; at every later depth each unfinished
    trajectory continues with one step and the free slots (``n`` minus finished minus
    unfinished trajectories) become extra forks (a second, ..., f-th sample) of randomly
    chosen unfinished nodes; slots no node can take (every node already has f children)
    become fresh first steps from the query (the paper samples n first steps; the query
    is the one node allowed more than f children). Every sampled step is its own node
    (siblings may repeat an action); a trajectory ends when it answers or reaches
    ``t_max`` steps. Every tree ends with exactly ``n`` trajectories sharing prefixes.

    Parameters
    ----------
    policy : float [n_states, n_actions]
        Action probabilities per state.
    config : ToolTreeConfig
    need : int [B]
        Needed-tool bitmask of each task.
    rng : numpy Generator
    n : int >= 1
        Trajectories per task.
    f : int >= 1
        Largest number of children of a node (``f = 1``: n independent chains would need
        ``n`` first steps; here ``f = 1`` gives one chain per tree).

    Returns
    -------
    ToolTreeRollout
    """
    p = _check_policy(policy, config)
    n = check_int(n, "n", 1)
    f = check_int(f, "f", 1)
    need = np.asarray(need, np.int64).reshape(-1)
    if len(need) == 0:
        raise ValueError("need must hold at least one task")
    B = len(need)
    # per tree python lists of node data, grown depth by depth (vectorised over trees)
    par: list[list[int]] = [[-1] for _ in range(B)]
    st: list[list[int]] = [[-1] for _ in range(B)]
    act: list[list[int]] = [[-1] for _ in range(B)]
    use: list[list[bool]] = [[False] for _ in range(B)]
    fmt: list[list[float]] = [[0.0] for _ in range(B)]
    rew: list[list[float]] = [[0.0] for _ in range(B)]
    ends: list[list[int]] = [[] for _ in range(B)]
    # frontier: (tree, local node, done mask, depth of that node) of unfinished trajectories
    front = [(b, 0, 0, 0) for b in range(B)]
    first = True
    while front or any(len(e) < n for e in ends):
        by_tree: dict[int, list[int]] = {b: [] for b in range(B) if len(ends[b]) < n}
        for i, fr in enumerate(front):
            by_tree.setdefault(fr[0], []).append(i)
        kids = np.ones(len(front), np.int64)
        extra_roots: list[tuple[int, int, int, int]] = []
        for b, idx in by_tree.items():
            free = (min(f, n) - 1) if first else (n - len(ends[b]) - len(idx))
            for _ in range(max(free, 0)):
                room = [i for i in idx if kids[i] < f]
                if room:
                    kids[room[rng.integers(len(room))]] += 1
                else:  # no fork left: a fresh first step from the query
                    extra_roots.append((b, 0, 0, 0))
        items = [front[i] for i in np.repeat(np.arange(len(front)), kids)] + extra_roots
        b_arr = np.array([x[0] for x in items], np.int64)
        node = np.array([x[1] for x in items], np.int64)
        done = np.array([x[2] for x in items], np.int64)
        depth = np.array([x[3] for x in items], np.int64) + 1
        nd = need[b_arr]
        s = nd * (1 << config.n_tools) + done
        a = _sample(p[s], rng)
        done2, answered, o, useful = _step(config, nd, done, a, rng)
        ok = (~answered) & ((done2 != done) | ~useful)  # a call that did not fail
        new_front = []
        for j in range(len(items)):
            b = int(b_arr[j])
            k = len(par[b])
            par[b].append(int(node[j]))
            st[b].append(int(s[j]))
            act[b].append(int(a[j]))
            use[b].append(bool(useful[j]))
            fmt[b].append(1.0 if answered[j] or ok[j] else 0.0)
            rew[b].append(float(o[j]))
            if answered[j] or depth[j] == config.t_max:
                ends[b].append(k)
            else:
                new_front.append((b, k, int(done2[j]), int(depth[j])))
        front = new_front
        first = False
    forest = Forest.from_parents([np.asarray(x, np.int32) for x in par])
    off = forest.tree_ptr[:-1]
    cat = np.concatenate
    leaves = np.asarray([np.asarray(e, np.int64) + off[b] for b, e in enumerate(ends)])
    return ToolTreeRollout(forest, cat([np.asarray(x, np.int64) for x in st]),
                           cat([np.asarray(x, np.int64) for x in act]),
                           cat([np.asarray(x, bool) for x in use]),
                           cat([np.asarray(x, np.float64) for x in fmt]),
                           cat([np.asarray(x, np.float64) for x in rew]), leaves, need)
