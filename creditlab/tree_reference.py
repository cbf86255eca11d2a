"""Plain-Python tree backups: the loops the book shows and the kernels are tested against.

Every function here works on ONE tree stored as arrays: ``parent[i] < i`` (nodes in
topological order), ``parent[0] == -1`` for the root, ``-1`` also for unused slots, and
edge data on the child (``r[i]``, ``g[i]`` belong to the edge ``parent[i] -> i``).
They favour clarity over speed; :mod:`creditlab.trees` holds the fast batched versions.
They do not check their arguments (and some update arrays in place, as the kernels do):
:mod:`creditlab.trees` validates the inputs, then calls these loops or the kernels.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "backup_path",
    "backup_returns",
    "connected",
    "considered_visit_sequence",
    "leaf_stats",
    "portool_step_reward",
    "portool_style_advantages",
    "prefix_tree_advantages",
    "qtransform_by_min_max",
    "qtransform_by_parent_and_siblings",
    "qtransform_completed_by_mix_value",
    "rap_back_propagate",
    "reduce_up",
    "scan_down",
    "sibling_stats",
]


def _nanmax(a: float, b: float) -> float:
    if math.isnan(a):
        return a
    if math.isnan(b):
        return b
    return b if b > a else a


def _nanmin(a: float, b: float) -> float:
    if math.isnan(a):
        return a
    if math.isnan(b):
        return b
    return b if b < a else a


def backup_path(parent, r, g, V, N, leaf, v_leaf, op="mean"):
    """mctx-style backup of one path, in place on ``V`` and ``N``.

    ``G <- r[c] + g[c] G`` at each step up; ``mean``: ``V[p] <- (V[p] N[p] + G)/(N[p]+1)``;
    ``sum``: ``V[p] += G``; ``max``/``min``: running max/min; ``N[p] += 1``.
    """
    c, G = int(leaf), float(v_leaf)
    while parent[c] >= 0:
        p = int(parent[c])
        G = float(r[c]) + float(g[c]) * G
        n = int(N[p])
        if op == "mean":
            V[p] = (V[p] * n + G) / (n + 1)
        elif op == "sum":
            V[p] = V[p] + G
        elif op == "max":
            V[p] = _nanmax(float(V[p]), G) if n else G
        else:
            V[p] = _nanmin(float(V[p]), G) if n else G
        N[p] = n + 1
        c = p


def rap_back_propagate(path_rewards, cum_reward):
    """llm-reasoners' ``_back_propagate``, logic kept verbatim: for the path root..leaf
    (rewards listed root first), the value appended to each node, leaf first."""
    rewards, out = [], []
    for reward in reversed(path_rewards):
        rewards.append(reward)
        out.append(cum_reward(rewards[::-1]))
    return out


def backup_returns(parent, r, g, leaf, agg, count, qsum, qmax, qmin):
    """RAP/llm-reasoners backup of one path, in place on the running statistics.

    Each node n on root..leaf gets ``cum(n) = agg(r[n], ..., r[leaf])`` appended to its
    history (``count``, ``qsum``, ``qmax``, ``qmin``); ``disc`` is ``G = r[n] + g[n] G``.
    Returns ``cum(root)``.
    """
    c = int(leaf)
    suffix: list[float] = []
    G = 0.0
    cum = 0.0
    while c >= 0:
        suffix.append(float(r[c]))
        G = float(r[c]) + float(g[c]) * G
        if agg == "sum":
            cum = sum(suffix)
        elif agg == "mean":
            cum = sum(suffix) / len(suffix)
        elif agg == "max":
            cum = suffix[0]
            for x in suffix[1:]:
                cum = _nanmax(cum, x)
        elif agg == "min":
            cum = suffix[0]
            for x in suffix[1:]:
                cum = _nanmin(cum, x)
        else:
            cum = G
        n = int(count[c])
        qsum[c] = qsum[c] + cum if n else cum
        qmax[c] = _nanmax(float(qmax[c]), cum) if n else cum
        qmin[c] = _nanmin(float(qmin[c]), cum) if n else cum
        count[c] = n + 1
        c = int(parent[c])
    return cum


def reduce_up(parent, leaf_value, r, g, w=None, op="mean", v_self=None, w_self=None, T=1.0):
    """Bottom-up aggregation, one reverse pass; ``q_c = r[c] + g[c] V(c)``.

    A child contributes when ``w[c] > 0``; a node with no contributing child keeps
    ``leaf_value``. mean: ``(w_self v_self + sum w q) / (w_self + sum w)``; sum:
    ``sum w q``; max/min over q; lse: ``T log sum w exp(q/T)``.
    """
    n = len(parent)
    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(1, n):
        if parent[i] >= 0 and (w is None or w[i] > 0):
            children[parent[i]].append(i)
    V = np.zeros(n, dtype=np.float64)
    for i in range(n - 1, -1, -1):
        kids = children[i]
        if not kids:
            V[i] = leaf_value[i]
            continue
        q = [float(r[c]) + float(g[c]) * V[c] for c in kids]
        wk = [1.0 if w is None else float(w[c]) for c in kids]
        if op == "mean":
            sw = 0.0 if w_self is None else float(w_self[i])
            sv = 0.0 if v_self is None else float(v_self[i])
            V[i] = (sw * sv + sum(a * b for a, b in zip(wk, q))) / (sw + sum(wk))
        elif op == "sum":
            V[i] = sum(a * b for a, b in zip(wk, q))
        elif op == "max":
            V[i] = q[0]
            for x in q[1:]:
                V[i] = _nanmax(V[i], x)
        elif op == "min":
            V[i] = q[0]
            for x in q[1:]:
                V[i] = _nanmin(V[i], x)
        else:
            z = np.array([math.log(a) + b / T for a, b in zip(wk, q)])
            V[i] = T * float(np.logaddexp.reduce(z))
    return V


def scan_down(parent, x, op="sum"):
    """``Y[root] = identity``, ``Y[i] = Y[parent[i]] (+) x[i]`` for sum/prod/max/min."""
    ident = {"sum": 0.0, "prod": 1.0, "max": -math.inf, "min": math.inf}[op]
    Y = np.zeros(len(parent), dtype=np.float64)
    for i in range(len(parent)):
        p = parent[i]
        if p < 0:
            Y[i] = ident
        elif op == "sum":
            Y[i] = Y[p] + x[i]
        elif op == "prod":
            Y[i] = Y[p] * x[i]
        elif op == "max":
            Y[i] = _nanmax(Y[p], float(x[i]))
        else:
            Y[i] = _nanmin(Y[p], float(x[i]))
    return Y


def leaf_stats(parent, x, is_leaf=None):
    """Count, mean and population std of ``x`` over the leaves in each node's subtree,
    straight from the definition (collect the leaves below each node)."""
    n = len(parent)
    has_child = np.zeros(n, bool)
    for i in range(n):
        if parent[i] >= 0:
            has_child[parent[i]] = True
    leaf = ~has_child if is_leaf is None else np.asarray(is_leaf, bool)
    below: list[list[float]] = [[] for _ in range(n)]
    for i in range(n):
        if leaf[i]:
            c = i
            while c >= 0:
                below[c].append(float(x[i]))
                c = parent[c]
    cnt = np.array([len(v) for v in below], dtype=np.float64)
    mean = np.array([np.mean(v) if v else 0.0 for v in below])
    std = np.array([np.std(v) if v else 0.0 for v in below])
    return cnt, mean, std


def sibling_stats(parent, x):
    """Count, mean and population std of ``x`` over each node's children."""
    n = len(parent)
    kids: list[list[float]] = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] >= 0:
            kids[parent[i]].append(float(x[i]))
    cnt = np.array([len(v) for v in kids], dtype=np.float64)
    mean = np.array([np.mean(v) if v else 0.0 for v in kids])
    std = np.array([np.std(v) if v else 0.0 for v in kids])
    return cnt, mean, std


def connected(parent):
    """Which nodes hang off node 0: node 0 itself, and every node whose parent does.

    ``parent[i] == -1`` for ``i > 0`` marks an unused slot of a fixed-capacity tree; it and
    anything stored under it are not part of the tree (``False``).
    """
    used = [False] * len(parent)
    for i in range(len(parent)):
        used[i] = i == 0 or (parent[i] >= 0 and used[parent[i]])
    return used


def connected_children(parent):
    """``(connected(parent), children)``: the children lists of the connected nodes."""
    used = connected(parent)
    children: list[list[int]] = [[] for _ in range(len(parent))]
    for i in range(1, len(parent)):
        if used[i]:
            children[parent[i]].append(i)
    return used, children


def prefix_tree_advantages(parent, leaf_reward, mode="treerl", leave_one_out=True,
                           sqrt_scale=True, is_leaf=None, eps=1e-6):
    """TreeRL advantages of ONE tree, from the definitions in
    :func:`creditlab.trees.prefix_tree_advantages`: collect the leaves below every node,
    average their (leave-one-out centred) rewards into ``V``, then combine ``V`` of the
    node, its parent and the root (or z-score it among its siblings for ``fork``). Nodes not
    connected to node 0 are ignored: no leaves, 0 out."""
    n = len(parent)
    used, children = connected_children(parent)
    leaves = [i for i in range(n)
              if used[i] and (not children[i] if is_leaf is None else bool(is_leaf[i]))]
    R = {j: float(leaf_reward[j]) for j in leaves}
    if leave_one_out and len(leaves) > 1:
        total = sum(R.values())
        R = {j: r - (total - r) / (len(leaves) - 1) for j, r in R.items()}
    below: list[list[float]] = [[] for _ in range(n)]
    for j in leaves:
        c = j
        while c >= 0:
            below[c].append(R[j])
            c = int(parent[c])
    V = [float(np.mean(v)) if v else 0.0 for v in below]
    out = np.zeros(n)
    for s in range(n):
        if not used[s]:
            continue
        p = int(parent[s])
        if mode == "fork":
            sib = [V[c] for c in children[p]] if p >= 0 else []
            out[s] = _zscore(V[s], sib, eps) if len(sib) >= 2 else 0.0
            continue
        L = V[s] - V[p] if p >= 0 else 0.0
        out[s] = V[s] - V[0] + L if mode == "treerl" else L + V[s]
        if sqrt_scale:
            out[s] /= math.sqrt(max(len(below[s]), 1))
    return out


def _zscore(x, group, eps):
    """``(x - mean(group)) / (std(group) + eps)``; 0 when that denominator is 0."""
    den = float(np.std(group)) + eps
    return (x - float(np.mean(group))) / den if den != 0 else 0.0


def _trajectories(parent):
    """``{leaf j: [node 0, ..., j]}`` for the connected leaves, and the connected flags."""
    used, children = connected_children(parent)
    trajectories = {}
    for j in range(len(parent)):
        if used[j] and not children[j]:
            path, c = [], j
            while c >= 0:
                path.append(c)
                c = int(parent[c])
            trajectories[j] = path[::-1]
    return trajectories, used, children


def portool_step_reward(parent, leaf_reward, gamma=0.95, agg="max", format_score=None,
                        t_max=None):
    """PORTool's step reward of ONE rollout tree, written as the paper's set formula.

    ``R(s) = G({gamma^(T_k - t) R_out(k) + R_fm(s) : k in m(s)})`` for every step s (a
    connected node other than node 0), with t the depth of s, T_k the depth of leaf k,
    m(s) the trajectories (root-to-leaf paths) through s, G = max or mean, and
    ``R_fm(s) = gamma^T_max (format_score[s] - 1/2)`` (0 without ``format_score``);
    T_max defaults to the deepest leaf. Node 0 and unconnected nodes get 0. See
    :func:`creditlab.trees.portool_step_reward` for what is pinned and what is ours.
    """
    n = len(parent)
    trajectories, used, _ = _trajectories(parent)
    T = {j: len(path) - 1 for j, path in trajectories.items()}  # steps of trajectory j
    if t_max is None:
        t_max = max(T.values(), default=0)
    R = np.zeros(n)
    for s in range(1, n):
        if not used[s]:
            continue
        path_to_s = []
        c = s
        while c >= 0:
            path_to_s.append(c)
            c = int(parent[c])
        t = len(path_to_s) - 1
        fm = 0.0 if format_score is None else gamma ** t_max * (float(format_score[s]) - 0.5)
        values = [gamma ** (T[k] - t) * float(leaf_reward[k]) + fm
                  for k, path in trajectories.items() if s in path]
        if agg == "max":
            R[s] = values[0]
            for v in values[1:]:
                R[s] = _nanmax(R[s], v)
        else:
            R[s] = sum(values) / len(values)
    return R


def portool_style_advantages(parent, leaf_reward, lam=1.0, eps=1e-6, *, gamma=0.95,
                             agg="max", format_score=None, t_max=None):
    """PORTool-style advantages of ONE rollout tree, trajectory by trajectory.

    The step reward R(s) is PORTool's (:func:`portool_step_reward`); the fork z-score, the
    trajectory z-score and the blend are the reconstruction documented in
    :func:`creditlab.trees.portool_style_advantages`, written in the paper's notation:
    trajectory j is the root-to-leaf path ending at leaf j with outcome ``R_out(j)``;
    ``m(s)`` is the set of trajectories through step s; ``C(s)`` the children of s. Nodes
    not connected to node 0 (``parent[i] == -1`` for ``i > 0`` marks an unused slot;
    anything stored under one is cut off too) are ignored: 0 out.

    Returns ``(fork, traj, A)``: ``fork[s] = lam * A_fork(s)``, ``traj[j] = A_traj(j)``
    (at leaves, 0 elsewhere) and ``A[(j, s)] = A_traj(j) + lam * A_fork(s)`` for every
    step s != root on trajectory j.
    """
    n = len(parent)
    trajectories, used, children = _trajectories(parent)
    T = {j: len(path) - 1 for j, path in trajectories.items()}
    if t_max is None:
        t_max = max(T.values(), default=0)
    R = portool_step_reward(parent, leaf_reward, gamma, agg, format_score, t_max)
    # fork-relative: z-score of R(s) among the children of its fork parent(s)
    fork = np.zeros(n)
    for s in range(1, n):
        if not used[s]:
            continue
        sib = [R[c] for c in children[parent[s]]]
        if len(sib) >= 2:
            fork[s] = lam * _zscore(R[s], sib, eps)
    # trajectory-relative: z-score of R_out(j) + mean formatting term over the tree's
    # trajectories (GRPO-style)
    r = {}
    for j, path in trajectories.items():
        r[j] = float(leaf_reward[j])
        if format_score is not None and T[j] > 0:
            r[j] += sum(gamma ** t_max * (float(format_score[s]) - 0.5)
                        for s in path[1:]) / T[j]
    traj = np.zeros(n)
    outcomes = list(r.values())
    for j in trajectories:
        traj[j] = _zscore(r[j], outcomes, eps)
    A = {(j, s): traj[j] + fork[s] for j, path in trajectories.items() for s in path[1:]}
    return fork, traj, A


def _softmax(x):
    z = np.exp(x - np.max(x))
    return z / z.sum()


def qtransform_by_min_max(q, visits, min_value, max_value):
    """``((visited ? q : min_value) - min_value) / (max_value - min_value)``, one row."""
    completed = np.where(np.asarray(visits) > 0, q, min_value)
    return (completed - min_value) / (max_value - min_value)


def qtransform_by_parent_and_siblings(q, visits, node_value, eps=1e-8):
    """mctx's default MuZero transform for one node: min-max over the node value and the
    visited children's q; unvisited children get 0."""
    visited = np.asarray(visits) > 0
    safe = np.where(visited, q, node_value)
    lo = np.minimum(node_value, np.min(safe))  # NaN-propagating, as mctx's jnp.minimum
    hi = np.maximum(node_value, np.max(safe))
    completed = np.where(visited, q, lo)
    return (completed - lo) / np.maximum(hi - lo, eps)


def qtransform_completed_by_mix_value(q, visits, prior_logits, raw_value, node_value=None,
                                      value_scale=0.1, maxvisit_init=50.0, rescale_values=True,
                                      use_mixed_value=True, eps=1e-8):
    """Gumbel MuZero's completed Q for one node (mctx ``qtransform_completed_by_mix_value``)."""
    visits = np.asarray(visits)
    visited = visits > 0
    probs = np.maximum(np.finfo(np.float64).tiny, _softmax(np.asarray(prior_logits, float)))
    if use_mixed_value:
        sum_n = float(visits.sum())
        sum_p = float(np.sum(np.where(visited, probs, 0.0)))
        wq = float(np.sum(np.where(visited, probs * q / (sum_p if sum_p > 0 else 1.0), 0.0)))
        value = (raw_value + sum_n * wq) / (sum_n + 1)
    else:
        value = node_value
    completed = np.where(visited, q, value).astype(np.float64)
    if rescale_values:
        completed = (completed - completed.min()) / max(completed.max() - completed.min(), eps)
    return (maxvisit_init + float(visits.max())) * value_scale * completed


def considered_visit_sequence(max_num_considered: int, num_simulations: int) -> list[int]:
    """Sequential halving's schedule (Gumbel MuZero): the visit count an action must have
    to be considered at each simulation, for ``max_num_considered`` actions."""
    if max_num_considered <= 1:
        return list(range(num_simulations))
    log2max = int(math.ceil(math.log2(max_num_considered)))
    seq: list[int] = []
    visits = [0] * max_num_considered
    m = max_num_considered
    while len(seq) < num_simulations:
        extra = max(1, int(num_simulations / (log2max * m)))
        for _ in range(extra):
            seq.extend(visits[:m])
            for i in range(m):
                visits[i] += 1
        m = max(2, m // 2)
    return seq[:num_simulations]
