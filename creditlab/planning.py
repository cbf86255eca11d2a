"""Planning with a model: batched MCTS (PUCT and Gumbel), greedy step scoring, and k-step
lookahead with receding-horizon commitment; and decoding guided by a value, without
fine-tuning (Chapter 19): :func:`value_augmented_logits` / :func:`value_augmented_sample`
(VAS), :func:`svdd_sample` with :func:`posterior_mean_value` (SVDD), :func:`best_of_n`,
:func:`best_of_n_kl` and :func:`soft_value`.

:func:`mcts` follows mctx's ``muzero_policy`` / ``gumbel_muzero_policy`` (same tree
fields, selection rules, Q-transforms and backup) with the select / expand / backup loop in
C++ (``csrc/trees.h``): per simulation it descends all B trees, then calls back into
Python **once** with the batch of B leaves to evaluate (one batched model call, as mctx
does), then expands and backs up. :func:`mcts_numpy` is the same algorithm vectorised over
the batch in numpy: the reference the C++ loop is tested against, and a benchmark peer.

Differences from mctx, on purpose: ties break to the lowest action index (mctx adds
1e-7 uniform noise in MuZero selection); the returned ``action`` is the argmax of the
action weights (mctx samples MuZero's action from the visit distribution).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from creditlab import tree_reference as ref
from creditlab._backend import (
    check_finite,
    check_int,
    check_real,
    check_unit_interval,
    compiled,
    float_array,
    is_torch,
    like,
    make_rng,
    number_array,
    to_numpy,
)
from creditlab.trees import SearchTree, reduce_up

__all__ = [
    "BestOfN",
    "DecodeOutput",
    "PolicyOutput",
    "RecurrentOutput",
    "SVDDOutput",
    "Trajectory",
    "best_of_n",
    "best_of_n_kl",
    "bayes_search_update",
    "greedy_step",
    "lookahead",
    "mcts",
    "mcts_numpy",
    "posterior_mean_value",
    "receding_horizon",
    "reward_mix",
    "soft_value",
    "svdd_sample",
    "value_augmented_logits",
    "value_augmented_sample",
]


class RecurrentOutput(NamedTuple):
    """What a model returns for a batch of (embedding, action): reward [B], discount [B]
    (in [0, 1]), prior_logits [B, A] for the new node, value [B] of the new node."""

    reward: Any
    discount: Any
    prior_logits: Any
    value: Any


class PolicyOutput(NamedTuple):
    """``action`` [B] (int), ``action_weights`` [B, A] (visit distribution for MuZero,
    ``softmax(logits + completed q)`` for Gumbel) and the ``search_tree``."""

    action: np.ndarray
    action_weights: np.ndarray
    search_tree: SearchTree


RecurrentFn = Callable[[Any, np.ndarray], tuple[RecurrentOutput, Any]]


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _mask_invalid(logits: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    logits = logits - np.max(logits, axis=-1, keepdims=True)
    return np.where(invalid, np.finfo(logits.dtype).min, logits)


@functools.lru_cache(maxsize=64)
def _considered_table(max_considered: int, num_simulations: int) -> np.ndarray:
    """Sequential halving's schedule for m = 0..max_considered, [m + 1, S] int32, read-only
    (cached: it depends on the two integers only, and building it is a Python loop)."""
    table = np.array([ref.considered_visit_sequence(m, num_simulations)
                      for m in range(max_considered + 1)], np.int32)
    table.flags.writeable = False
    return table


def _empty_tree(B: int, N: int, A: int, dt: np.dtype) -> tuple[SearchTree, np.ndarray]:
    """``SearchTree.empty(B, N, A, dt)`` and a zeroed ``[B, N, A]`` workspace of ``dt`` (the
    C++ loop's prior probabilities), carved out of one allocation: numpy asks the OS for
    huge pages for an allocation of 4 MiB or more, so a large search takes a few page faults
    instead of one per 4 KiB page of a dozen separately allocated arrays."""
    i32, f = np.dtype(np.int32), np.dtype(dt)
    specs = [("node_visits", (B, N), i32, 0), ("raw_values", (B, N), f, 0),
             ("node_values", (B, N), f, 0), ("parents", (B, N), i32, -1),
             ("action_from_parent", (B, N), i32, -1), ("children_index", (B, N, A), i32, -1),
             ("children_prior_logits", (B, N, A), f, 0), ("children_visits", (B, N, A), i32, 0),
             ("children_rewards", (B, N, A), f, 0), ("children_discounts", (B, N, A), f, 0),
             ("children_values", (B, N, A), f, 0),
             ("root_invalid_actions", (B, A), np.dtype(bool), False),
             ("prior_probs", (B, N, A), f, 0)]
    sizes = [math.prod(shape) * dtype.itemsize for _, shape, dtype, _ in specs]
    offsets = np.cumsum([0] + [-(-n // 64) * 64 for n in sizes]).tolist()  # 64-byte aligned
    buf = np.zeros(offsets[-1], np.uint8)
    arrays = {}
    for (name, shape, dtype, fill), off, n in zip(specs, offsets, sizes):
        a = buf[off:off + n].view(dtype).reshape(shape)
        if fill:
            a.fill(fill)
        arrays[name] = a
    probs = arrays.pop("prior_probs")
    return SearchTree(**arrays), probs


class _Setup(NamedTuple):
    tree: SearchTree
    prior_probs: np.ndarray
    gumbel: np.ndarray | None
    table: np.ndarray | None
    max_considered: int
    max_depth: int
    S: int


def _setup(root_prior_logits: Any, root_value: Any, num_simulations: int,
           root_embedding: Any, algorithm: str, invalid_actions: Any, max_depth: int | None,
           dirichlet_fraction: float, dirichlet_alpha: float, max_num_considered_actions: int,
           gumbel_scale: float, seed: int | None) -> _Setup:
    if algorithm not in ("muzero", "gumbel"):
        raise ValueError(f"algorithm must be 'muzero' or 'gumbel', got {algorithm!r}")
    logits = float_array(root_prior_logits, "root_prior_logits")
    if logits.ndim != 2:
        raise ValueError(f"root_prior_logits must be [B, A], got shape {logits.shape}")
    B, A = logits.shape
    if B < 1 or A < 1:
        raise ValueError(f"root_prior_logits must be non-empty, got shape {logits.shape}")
    check_finite(logits, "root_prior_logits")
    value = np.atleast_1d(float_array(root_value, "root_value"))
    check_finite(value, "root_value")
    dirichlet_fraction = check_unit_interval(dirichlet_fraction, "dirichlet_fraction")
    if check_real(dirichlet_alpha, "dirichlet_alpha") <= 0:
        raise ValueError(f"dirichlet_alpha must be > 0, got {dirichlet_alpha}")
    check_real(gumbel_scale, "gumbel_scale")
    if value.shape != (B,):
        raise ValueError(f"root_value must be [B] = ({B},), got shape {value.shape}")
    if isinstance(num_simulations, bool) or int(num_simulations) != num_simulations or \
            num_simulations < 1:
        raise ValueError(f"num_simulations must be a positive integer, got {num_simulations}")
    S = int(num_simulations)
    md = S if max_depth is None else int(max_depth)
    if md < 1:
        raise ValueError(f"max_depth must be >= 1, got {max_depth}")
    dt = np.result_type(logits.dtype, value.dtype)
    if invalid_actions is None:
        invalid = np.zeros((B, A), bool)
    else:
        invalid = to_numpy(invalid_actions, "invalid_actions")
        if invalid.dtype != np.bool_ or invalid.shape != (B, A):
            raise ValueError(f"invalid_actions must be a bool [B, A] = {(B, A)} array")
        if np.any(invalid.all(axis=1)):
            raise ValueError("invalid_actions: every tree needs at least one valid action")
    rng = make_rng(seed)
    lg = logits.astype(dt)
    if algorithm == "muzero" and dirichlet_fraction > 0:
        probs = _softmax(lg)
        noise = rng.dirichlet([dirichlet_alpha] * A, size=B)
        probs = (1 - dirichlet_fraction) * probs + dirichlet_fraction * noise
        lg = np.log(np.maximum(probs, np.finfo(dt).tiny)).astype(dt)
    lg = _mask_invalid(lg, invalid)
    tree, prior_probs = _empty_tree(B, S + 1, A, dt)
    tree.children_prior_logits[:, 0] = lg
    tree.raw_values[:, 0] = value
    tree.node_values[:, 0] = value
    tree.node_visits[:, 0] = 1
    tree.root_invalid_actions[:] = invalid
    if root_embedding is not None:
        emb = np.asarray(root_embedding)
        if emb.shape[:1] != (B,):
            raise ValueError(f"root_embedding must have leading dimension B={B}")
        tree.embeddings = np.zeros((B, S + 1) + emb.shape[1:], emb.dtype)
        tree.embeddings[:, 0] = emb
    gumbel = table = None
    m = 0
    if algorithm == "gumbel":
        m = int(max_num_considered_actions)
        if m < 1:
            raise ValueError("max_num_considered_actions must be >= 1")
        gumbel = (gumbel_scale * rng.gumbel(size=(B, A))).astype(dt)
        table = _considered_table(m, S)
    return _Setup(tree, prior_probs, gumbel, table, m, md, S)


def _check_output(out: Any, B: int, A: int, dt: np.dtype) -> tuple[np.ndarray, ...]:
    if not isinstance(out, tuple) or len(out) != 4:
        raise TypeError("recurrent_fn must return (RecurrentOutput(reward, discount, "
                        "prior_logits, value), new_embedding)")
    r, d, lg, v = (np.asarray(x, dtype=dt) for x in out)
    for name, a, shape in (("reward", r, (B,)), ("discount", d, (B,)),
                           ("prior_logits", lg, (B, A)), ("value", v, (B,))):
        if a.shape != shape:
            raise ValueError(f"recurrent_fn returned {name} of shape {a.shape}, expected {shape}")
    if np.any((d < 0) | (d > 1)):
        raise ValueError("recurrent_fn returned a discount outside [0, 1]")
    return r, d, lg, v


def _finish(st: _Setup, algorithm: str) -> PolicyOutput:
    t = st.tree
    B = t.batch_size
    visits = t.children_visits[:, 0]
    if algorithm == "muzero":
        w = visits / np.maximum(visits.sum(-1, keepdims=True), 1)
        return PolicyOutput(np.argmax(w, -1), w, t)
    q = t.qvalues(0)
    logits = t.children_prior_logits[:, 0]
    cq = qtransform_mix(t, q, visits, logits)
    weights = _softmax(logits + cq)
    considered = visits.max(-1, keepdims=True)
    score = np.maximum(-1e9, st.gumbel + logits - logits.max(-1, keepdims=True) + cq)
    score = np.where(visits == considered, score, -np.inf)
    score = np.where(t.root_invalid_actions, -np.inf, score)
    del B
    return PolicyOutput(np.argmax(score, -1), weights, t)


def qtransform_mix(t: SearchTree, q: np.ndarray, visits: np.ndarray,
                   logits: np.ndarray) -> np.ndarray:
    from creditlab.trees import qtransform_completed_by_mix_value

    return qtransform_completed_by_mix_value(q, visits, logits, t.raw_values[:, 0],
                                             t.node_values[:, 0])


def mcts(root_prior_logits: Any, root_value: Any, recurrent_fn: RecurrentFn,
         num_simulations: int, root_embedding: Any = None, *, algorithm: str = "muzero",
         invalid_actions: Any = None, max_depth: int | None = None, pb_c_init: float = 1.25,
         pb_c_base: float = 19652.0, dirichlet_fraction: float = 0.0,
         dirichlet_alpha: float = 0.3, max_num_considered_actions: int = 16,
         gumbel_scale: float = 1.0, value_scale: float = 0.1, maxvisit_init: float = 50.0,
         rescale_values: bool = True, use_mixed_value: bool = True,
         seed: int | None = None) -> PolicyOutput:
    """Batched MCTS over B trees: MuZero PUCT or Gumbel MuZero (mctx semantics).

    Each simulation descends every tree to an unexpanded action (or ``max_depth``) using

    - ``"muzero"``: ``argmax_a qt(a) + sqrt(N) (c1 + log((N + c2 + 1)/c2)) pi(a)/(N_a + 1)``
      with ``qt`` = :func:`~creditlab.trees.qtransform_by_parent_and_siblings`;
    - ``"gumbel"``: at the root, sequential halving over ``g + logits + completed q``; inside,
      ``argmax softmax(logits + completed q) - N_a / (1 + sum N)`` (completed q by mixed
      value, :func:`~creditlab.trees.qtransform_completed_by_mix_value`);

    then calls ``recurrent_fn(embedding[B, ...], action[B])`` once for the whole batch,
    expands, and backs up ``G <- r + gamma G``, ``V <- (V N + G)/(N + 1)`` to the root.

    Parameters
    ----------
    root_prior_logits : float [B, A]
    root_value : float [B]
    recurrent_fn : callable
        ``(embedding, action) -> (RecurrentOutput(reward, discount, prior_logits, value),
        new_embedding)``, batched over B.
    num_simulations : int >= 1
    root_embedding : array [B, ...] or None (then recurrent_fn receives None)
    invalid_actions : bool [B, A], masked at the root only (as mctx).
    dirichlet_fraction, dirichlet_alpha : root noise for MuZero (0 = none, the default).
    seed : for the Dirichlet / Gumbel noise.

    Returns
    -------
    PolicyOutput(action [B], action_weights [B, A], search_tree)
    """
    st = _setup(root_prior_logits, root_value, num_simulations, root_embedding, algorithm,
                invalid_actions, max_depth, dirichlet_fraction, dirichlet_alpha,
                max_num_considered_actions, gumbel_scale, seed)
    C = compiled()
    if C is None:
        return mcts_numpy(root_prior_logits, root_value, recurrent_fn, num_simulations,
                          root_embedding, algorithm=algorithm, invalid_actions=invalid_actions,
                          max_depth=max_depth, pb_c_init=pb_c_init, pb_c_base=pb_c_base,
                          dirichlet_fraction=dirichlet_fraction,
                          dirichlet_alpha=dirichlet_alpha,
                          max_num_considered_actions=max_num_considered_actions,
                          gumbel_scale=gumbel_scale, value_scale=value_scale,
                          maxvisit_init=maxvisit_init, rescale_values=rescale_values,
                          use_mixed_value=use_mixed_value, seed=seed)
    t = st.tree
    B, N, A = t.batch_size, t.num_nodes, t.num_actions
    dt = t.node_values.dtype
    io = {"parent_index": np.zeros(B, np.int32), "action": np.zeros(B, np.int32),
          "node_index": np.zeros(B, np.int32), "reward": np.zeros(B, dt),
          "discount": np.zeros(B, dt), "prior_logits": np.zeros((B, A), dt),
          "value": np.zeros(B, dt), "prior_probs": st.prior_probs,
          "gather_index": np.zeros(B, np.int64), "scatter_index": np.zeros(B, np.int64),
          "action64": np.zeros(B, np.int64)}
    emb = t.embeddings
    # The callback runs once per simulation: a gather by the row indices the C++ loop wrote
    # (b * N + node), the model call and the tuple checks. The C++ side then copies the
    # outputs into its buffers and scatters the new embeddings itself when they are arrays of
    # the exact dtype and shape; anything else takes fill_slow (conversion, shape checks).
    gather, scatter, action = io["gather_index"], io["scatter_index"], io["action64"]
    bufs = (io["reward"], io["discount"], io["prior_logits"], io["value"])
    emb_flat = None if emb is None else emb.reshape((B * N,) + emb.shape[2:])
    shapes = ((B,), (B,), (B, A), (B,))
    names = ("reward", "discount", "prior_logits", "value")
    bad = ("recurrent_fn must return (RecurrentOutput(reward, discount, prior_logits, value), "
           "new_embedding)")

    def evaluate(sim: int) -> tuple:
        res = recurrent_fn(None if emb_flat is None else emb_flat.take(gather, axis=0),
                           action.copy())
        if not isinstance(res, tuple) or len(res) != 2:
            raise TypeError(bad)
        if not isinstance(res[0], tuple) or len(res[0]) != 4:
            raise TypeError(bad)
        return res

    def fill_slow(out: tuple, new: Any) -> None:
        for x, buf, shape, name in zip(out, bufs, shapes, names):
            xs = x.shape if isinstance(x, np.ndarray) else np.shape(x)
            if xs != shape:
                raise ValueError(f"recurrent_fn returned {name} of shape {xs}, "
                                 f"expected {shape}")
            buf[...] = x  # the C++ loop checks discount in [0, 1] after the call
        if emb_flat is not None:
            emb_flat[scatter] = new

    fn = getattr(C, f"tree_mcts_{'f32' if dt == np.float32 else 'f64'}")
    arrays = t.as_dict()
    arrays["root_invalid_actions"] = t.root_invalid_actions.view(np.uint8)
    fn(arrays, io, B, N, A, int(algorithm == "gumbel"), st.S, st.max_depth,
       float(pb_c_init), float(pb_c_base), float(value_scale), float(maxvisit_init),
       bool(rescale_values), bool(use_mixed_value), st.gumbel,
       st.table, 0 if st.table is None else len(st.table), st.max_considered, evaluate,
       emb_flat, fill_slow)
    return _finish(st, algorithm)


def mcts_numpy(root_prior_logits: Any, root_value: Any, recurrent_fn: RecurrentFn,
               num_simulations: int, root_embedding: Any = None, *, algorithm: str = "muzero",
               invalid_actions: Any = None, max_depth: int | None = None,
               pb_c_init: float = 1.25, pb_c_base: float = 19652.0,
               dirichlet_fraction: float = 0.0, dirichlet_alpha: float = 0.3,
               max_num_considered_actions: int = 16, gumbel_scale: float = 1.0,
               value_scale: float = 0.1, maxvisit_init: float = 50.0,
               rescale_values: bool = True, use_mixed_value: bool = True,
               seed: int | None = None) -> PolicyOutput:
    """:func:`mcts` written with numpy, vectorised over the batch (same arguments, same
    result): the reference for the C++ loop and a benchmark peer."""
    st = _setup(root_prior_logits, root_value, num_simulations, root_embedding, algorithm,
                invalid_actions, max_depth, dirichlet_fraction, dirichlet_alpha,
                max_num_considered_actions, gumbel_scale, seed)
    t = st.tree
    B, A = t.batch_size, t.num_actions
    dt = t.node_values.dtype
    bidx = np.arange(B)
    eps = 1e-8
    tiny = np.finfo(dt).tiny

    def select(node: np.ndarray, at_root: bool) -> np.ndarray:
        n = t.children_visits[bidx, node]
        nf = n.astype(dt)
        q = (t.children_rewards[bidx, node] + t.children_discounts[bidx, node]
             * t.children_values[bidx, node])
        logits = t.children_prior_logits[bidx, node]
        visited = n > 0
        if algorithm == "muzero":
            nv = t.node_values[bidx, node][:, None]
            safe = np.where(visited, q, nv)
            lo = np.minimum(nv, safe.min(-1, keepdims=True))
            hi = np.maximum(nv, safe.max(-1, keepdims=True))
            qt = (np.where(visited, q, lo) - lo) / np.maximum(hi - lo, eps)
            N = t.node_visits[bidx, node].astype(dt)[:, None]
            pb_c = pb_c_init + np.log((N + pb_c_base + 1) / pb_c_base)
            e = np.exp(logits - logits.max(-1, keepdims=True))
            prior = e / e.sum(-1, keepdims=True)
            score = qt + np.sqrt(N) * pb_c * prior / (nf + 1)
            if at_root:
                score = np.where(t.root_invalid_actions, -np.inf, score)
            return np.argmax(score, -1)
        # completed by mixed value
        e = np.exp(logits - logits.max(-1, keepdims=True))
        probs = np.maximum(tiny, e / e.sum(-1, keepdims=True))
        sum_n = nf.sum(-1, keepdims=True)
        sum_p = np.where(visited, probs, 0).sum(-1, keepdims=True)
        if use_mixed_value:
            wq = np.where(visited, probs * q / np.where(sum_p > 0, sum_p, 1), 0).sum(-1,
                                                                                    keepdims=True)
            value = (t.raw_values[bidx, node][:, None] + sum_n * wq) / (sum_n + 1)
        else:
            value = t.node_values[bidx, node][:, None]
        cq = np.where(visited, q, value)
        if rescale_values:
            lo, hi = cq.min(-1, keepdims=True), cq.max(-1, keepdims=True)
            cq = (cq - lo) / np.maximum(hi - lo, eps)
        cq = (maxvisit_init + nf.max(-1, keepdims=True)) * value_scale * cq
        if at_root:
            invalid = t.root_invalid_actions
            num_valid = (~invalid).sum(-1)
            m = np.minimum(st.max_considered, num_valid)
            sim = np.minimum(n.sum(-1), st.S - 1)
            considered = st.table[m, sim][:, None]
            lmax = np.where(invalid, -np.inf, logits).max(-1, keepdims=True)
            score = np.maximum(-1e9, st.gumbel + (logits - lmax) + cq)
            score = np.where(invalid, -np.inf, score)
            score = np.where(n != considered, -np.inf, score)
            return np.argmax(score, -1)
        z = logits + cq
        ez = np.exp(z - z.max(-1, keepdims=True))
        score = ez / ez.sum(-1, keepdims=True) - nf / (1 + sum_n)
        return np.argmax(score, -1)

    for sim in range(st.S):
        node = np.zeros(B, np.int64)
        action = np.zeros(B, np.int64)
        active = np.ones(B, bool)
        depth = 0
        while active.any():
            a = select(node, depth == 0)
            action = np.where(active, a, action)
            nxt = t.children_index[bidx, node, action]
            depth += 1
            cont = active & (nxt >= 0) & (depth < st.max_depth)
            node = np.where(cont, nxt, node)
            active = cont
        existing = t.children_index[bidx, node, action]
        new = np.where(existing >= 0, existing, sim + 1)
        e = None if t.embeddings is None else t.embeddings[bidx, node]
        out, emb_new = recurrent_fn(e, action.astype(np.int64))
        r, d, lg, v = _check_output(tuple(out), B, A, dt)
        if t.embeddings is not None:
            t.embeddings[bidx, new] = emb_new
        t.children_prior_logits[bidx, new] = lg
        t.raw_values[bidx, new] = v
        t.node_values[bidx, new] = v
        t.node_visits[bidx, new] += 1
        t.parents[bidx, new] = node
        t.action_from_parent[bidx, new] = action
        t.children_index[bidx, node, action] = new
        t.children_rewards[bidx, node, action] = r
        t.children_discounts[bidx, node, action] = d
        G = t.node_values[bidx, new].copy()
        idx = new.copy()
        going = idx != 0
        while going.any():
            b = bidx[going]
            c = idx[going]
            p = t.parents[b, c]
            a = t.action_from_parent[b, c]
            G[going] = t.children_rewards[b, p, a] + t.children_discounts[b, p, a] * G[going]
            cnt = t.node_visits[b, p].astype(dt)
            t.node_values[b, p] = (t.node_values[b, p] * cnt + G[going]) / (cnt + 1)
            t.node_visits[b, p] += 1
            t.children_values[b, p, a] = t.node_values[b, c]
            t.children_visits[b, p, a] += 1
            idx[going] = p
            going = idx != 0
    return _finish(st, algorithm)


# --------------------------------------------------------------------------------------
# Lookahead planning on a deterministic model (FLARE)

Model = Callable[[Any], Sequence[tuple[Any, Any, float, bool]]]


def lookahead(model: Model, state: Any, depth: int,
              value_fn: Callable[[Any], float] | None = None,
              gamma: float = 1.0) -> tuple[list[Any], float]:
    """Exhaustive depth-k lookahead with max backups (a depth-limited tree, K2 ``max``).

    ``model(state)`` lists the ``(action, next_state, reward, done)`` of every action in
    ``state``. The tree is built breadth first to ``depth`` edges; a non-terminal leaf at
    the horizon is scored ``value_fn(state)`` (0 without one), a terminal one 0; then
    ``V(n) = max_c [r_c + gamma V(c)]`` in one :func:`~creditlab.trees.reduce_up` pass.

    Returns
    -------
    (plan, value) : the best action sequence (``depth`` actions or fewer when it ends)
    and its backed-up value. Ties go to the first action listed.
    """
    if int(depth) != depth or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth}")
    gamma = check_unit_interval(gamma, "gamma")
    if value_fn is not None and not callable(value_fn):
        raise TypeError(f"value_fn must be callable (state -> float) or None, got "
                        f"{type(value_fn).__name__}")
    parent, reward, leaf_value, actions, terminal = [-1], [0.0], [0.0], [None], [False]
    frontier = [(0, state)]
    for _ in range(int(depth)):
        nxt = []
        for node, s in frontier:
            for a, s2, r, done in model(s):
                parent.append(node)
                reward.append(float(r))
                actions.append(a)
                terminal.append(bool(done))
                leaf_value.append(0.0)
                if not done:
                    nxt.append((len(parent) - 1, s2))
        frontier = nxt
    if value_fn is not None:
        for node, s in frontier:
            leaf_value[node] = float(value_fn(s))
    p = np.array(parent, np.int32)
    r = np.array(reward)
    V = reduce_up(p, np.array(leaf_value), r, np.full(len(p), float(gamma)), op="max")
    q = r + gamma * V
    plan = []
    node = 0
    kids = [[] for _ in range(len(p))]
    for i in range(1, len(p)):
        kids[p[i]].append(i)
    while kids[node]:
        best = max(kids[node], key=lambda c: (q[c], -c))
        plan.append(actions[best])
        node = best
    return plan, float(V[0])


def greedy_step(model: Model, state: Any,
                score_fn: Callable[[Any], float] | None = None) -> Any:
    """Step-wise scoring: the action with the best immediate score ``r + score_fn(s')``
    (a depth-1 lookahead); the myopic baseline that commits to early rewards."""
    if score_fn is not None and not callable(score_fn):
        raise TypeError(f"score_fn must be callable (state -> float) or None, got "
                        f"{type(score_fn).__name__}")
    return lookahead(model, state, 1, score_fn)[0][0]


class Trajectory(NamedTuple):
    states: list
    actions: list
    rewards: list
    done: bool

    @property
    def total_reward(self) -> float:
        return float(sum(self.rewards))


def receding_horizon(plan_model: Model, step_fn: Callable[[Any, Any], tuple[Any, float, bool]],
                     state: Any, depth: int, value_fn: Callable[[Any], float] | None = None,
                     commit: int = 1, max_steps: int = 100, gamma: float = 1.0) -> Trajectory:
    """Plan ``depth`` steps ahead with ``plan_model``, execute the first ``commit`` actions
    with ``step_fn(state, action) -> (next_state, reward, done)``, re-plan (FLARE's limited
    commitment). ``commit = depth`` executes whole plans open loop."""
    if int(commit) != commit or not 1 <= commit:
        raise ValueError(f"commit must be a positive integer, got {commit}")
    max_steps = check_int(max_steps, "max_steps", 1)
    check_unit_interval(gamma, "gamma")
    states, acts, rews = [state], [], []
    done = False
    while not done and len(acts) < max_steps:
        plan, _ = lookahead(plan_model, state, depth, value_fn, gamma)
        if not plan:
            break
        for a in plan[: int(commit)]:
            state, r, done = step_fn(state, a)
            states.append(state)
            acts.append(a)
            rews.append(float(r))
            if done or len(acts) >= max_steps:
                break
    return Trajectory(states, acts, rews, done)


def reward_mix(terms: dict[str, Any], weights: dict[str, float]) -> np.ndarray:
    """RAP-style step reward: ``sum_k w_k term_k`` over the named terms (an ablation sets
    a weight to 0). Unknown weight names raise KeyError-free ValueErrors."""
    unknown = set(weights) - set(terms)
    if unknown:
        raise ValueError(f"weights name unknown terms {sorted(unknown)}; terms are "
                         f"{sorted(terms)}")
    arrays = {k: number_array(terms[k], f"terms[{k!r}]") for k in weights}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) > 1:  # no silent broadcasting between terms
        raise ValueError("terms must have one shape, got "
                         + ", ".join(f"{k!r}: {a.shape}" for k, a in arrays.items()))
    out = 0.0
    for k, w in weights.items():
        out = out + check_real(w, f"weights[{k!r}]") * arrays[k]
    return np.asarray(out)


# --------------------------------------------------------------------------------------
# decoding with a value function, without fine-tuning (Chapter 19)


def _beta_list(values: Any, beta: Any) -> tuple[list[Any], list[float]]:
    """``values`` and ``beta`` as two equal-length lists (one entry per reward)."""
    many = isinstance(values, (list, tuple))
    vals = list(values) if many else [values]
    if not vals:
        raise ValueError("values must hold at least one array")
    if isinstance(beta, (list, tuple, np.ndarray)):
        betas = [check_real(b, "beta") for b in np.asarray(beta, dtype=object).ravel()]
    else:
        betas = [check_real(beta, "beta")]
    if len(betas) != len(vals):
        raise ValueError(f"beta must have one weight per value array: {len(vals)} value "
                         f"array(s), got {len(betas)} weight(s)")
    return vals, betas


def value_augmented_logits(base_logits: Any, values: Any, beta: Any = 1.0,
                           top_k: int | None = 20) -> Any:
    r"""VAS's decoding rule: the base logits plus centred, weighted values on the top-k.

    .. math::
        z'_a = z_a + \sum_i \beta_i\,\Big(V_i(s \circ a) - \frac{1}{|K|}\sum_{a' \in K}
        V_i(s \circ a')\Big) \ \text{for } a \in K, \qquad z'_a = -\infty \text{ otherwise},

    with :math:`K` the base model's ``top_k`` tokens (every token whose logit is at least
    the ``top_k``-th largest, so ties are kept, as in Hugging Face's top-k warper and
    :meth:`TinyTextLM.sample`). :math:`\mathrm{softmax}(z')` is
    :math:`\pi_0(a \mid s)\,e^{\sum_i \beta_i V_i(s\circ a)}` renormalised over :math:`K`,
    the KL-regularised optimum :math:`\pi^\star \propto \pi_0 e^{\beta Q}` restricted to the
    base model's top-k (Han et al. 2024, ``VASLogitsProcessor``; the centring changes
    nothing after the softmax and keeps the logits' scale). Several rewards compose by
    adding their weighted values; the weights can change at every call, after training.

    Parameters
    ----------
    base_logits : float array [..., V] (numpy or torch)
        Logits of the frozen base model for the next token.
    values : float array [..., V], or a list of them (one per reward)
        :math:`V_i(s \circ a)`, the value after appending each token ``a`` (only the
        entries in :math:`K` are read; the others may hold anything, NaN included).
    beta : float or sequence of floats
        :math:`\beta_i`, one per value array (0 gives back the base top-k distribution).
    top_k : int >= 1 or None
        None keeps every token.

    Returns
    -------
    float array [..., V], the kind (numpy / torch) and dtype of ``base_logits``
        :math:`-\infty` outside :math:`K`.
    """
    vals, betas = _beta_list(values, beta)
    if top_k is not None:
        top_k = check_int(top_k, "top_k", 1)
    torch_in = is_torch(base_logits)
    z = float_array(base_logits, "base_logits")
    if z.ndim < 1 or z.shape[-1] == 0:
        raise ValueError(f"base_logits must have shape [..., V] with V >= 1, got {z.shape}")
    if np.isnan(z).any() or np.isposinf(z).any():
        raise ValueError("base_logits must not hold NaN or +inf")
    vs = []
    for i, v in enumerate(vals):
        name = "values" if len(vals) == 1 else f"values[{i}]"
        a = float_array(v, name)
        if a.shape != z.shape:
            raise ValueError(f"{name} must have the shape of base_logits {z.shape}, got "
                             f"{a.shape}")
        vs.append(a.astype(np.float64))
    zz = z.astype(np.float64)
    k = z.shape[-1] if top_k is None else min(top_k, z.shape[-1])
    kth = -np.sort(-zz, axis=-1)[..., k - 1 : k]
    keep = (zz >= kth) & np.isfinite(zz)
    if not keep.any(-1).all():
        raise ValueError("base_logits must have at least one finite logit in every row")
    out = zz.copy()
    n_keep = keep.sum(-1, keepdims=True)
    for i, (a, b) in enumerate(zip(vs, betas)):
        if not np.isfinite(a[keep]).all():
            name = "values" if len(vs) == 1 else f"values[{i}]"
            raise ValueError(f"{name} must be finite on the top-k tokens")
        a0 = np.where(keep, a, 0.0)
        out = out + b * (a0 - a0.sum(-1, keepdims=True) / n_keep)
    out = np.where(keep, out, -np.inf).astype(z.dtype)
    return like(out, base_logits) if torch_in else out


class BestOfN(NamedTuple):
    """What :func:`best_of_n` returns."""

    chosen: Any  # the chosen candidate of each group: [B, ...] (or a list of B items)
    index: np.ndarray  # [B] int64, the chosen position within each group
    score: np.ndarray  # [B] float64, its score


def best_of_n(candidates: Any, scores: Any) -> BestOfN:
    r"""Best-of-N selection: in each group keep the candidate with the highest score.

    .. math:: j^\star_b = \arg\max_{j < N} s_{b,j} \quad (\text{ties: the lowest } j)

    Generic: the candidates can be token sequences, 2-D points, plans, anything indexed
    as ``candidates[b][j]``; the scores come from whatever judges them (a reward, a value,
    a verifier). With :math:`N` i.i.d. samples from :math:`\pi_0` the chosen one follows
    a distribution whose KL to :math:`\pi_0` is at most :math:`\log N - (N-1)/N`
    (Beirami et al. 2024; exact for a continuous score without ties).

    Parameters
    ----------
    candidates : array [B, N, ...] (numpy or torch), or a sequence of B sequences of N
    scores : float array [B, N]
        Finite.

    Returns
    -------
    BestOfN
        ``chosen`` (``[B, ...]`` of the candidates' kind, or a list of B items), ``index``
        ``[B]`` int64, ``score`` ``[B]`` float64.
    """
    s = check_finite(number_array(scores, "scores"), "scores")
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"scores must have shape [B, N] with N >= 1, got {s.shape}")
    B, N = s.shape
    idx = np.argmax(s, axis=1).astype(np.int64)
    best = s[np.arange(B), idx]
    if isinstance(candidates, np.ndarray) or is_torch(candidates):
        if tuple(candidates.shape[:2]) != (B, N):
            raise ValueError(f"candidates must have leading shape [B, N] = {(B, N)} like "
                             f"scores, got {tuple(candidates.shape)}")
        if is_torch(candidates):
            import torch

            return BestOfN(candidates[torch.arange(B), torch.as_tensor(idx)], idx, best)
        return BestOfN(candidates[np.arange(B), idx], idx, best)
    if not isinstance(candidates, Sequence) or isinstance(candidates, str):
        raise TypeError(f"candidates must be an array [B, N, ...] or a sequence of B "
                        f"sequences, got {type(candidates).__name__}")
    if len(candidates) != B or any(len(c) != N for c in candidates):
        raise ValueError(f"candidates must hold B = {B} groups of N = {N} like scores")
    return BestOfN([candidates[b][int(idx[b])] for b in range(B)], idx, best)


def best_of_n_kl(p_success: float, n: int) -> float:
    r"""Exact :math:`\mathrm{KL}(\pi_{\text{BoN}} \,\|\, \pi_0)` of best-of-``n``, 0/1 reward.

    With base success rate :math:`p`, the chosen sample is a success with probability
    :math:`q = 1 - (1-p)^n`, distributed as a base success; otherwise a base failure:

    .. math:: \mathrm{KL} = q \log\frac{q}{p} + (1 - q)\log\frac{1 - q}{1 - p}
              \;\le\; \log n - \frac{n-1}{n}.

    ``p_success`` in (0, 1) (at 0 or 1 best-of-n is the base model: 0 is returned),
    ``n >= 1``.
    """
    p = check_unit_interval(p_success, "p_success")
    n = check_int(n, "n", 1)
    if n == 1 or p in (0.0, 1.0):
        return 0.0
    q = -math.expm1(n * math.log1p(-p))  # 1 - (1-p)^n, accurate for tiny p; may round to 1
    return float(q * math.log(q / p) + ((1 - q) * math.log((1 - q) / (1 - p)) if q < 1 else 0.0))


def soft_value(rewards: Any, alpha: float, axis: int = -1) -> np.ndarray:
    r"""Monte Carlo soft value :math:`\alpha \log \frac1K \sum_k e^{r_k/\alpha}` along ``axis``.

    The quantity SVDD's soft value :math:`v_t(x) = \alpha\log\mathbb E[e^{r(x_0)/\alpha}
    \mid x_t = x]` estimates from :math:`K` rollouts: the mean of the rewards as
    :math:`\alpha \to \infty`, their max as :math:`\alpha \to 0` (``alpha = 0`` returns the
    max). Computed stably (max subtracted before the exponential).

    Parameters
    ----------
    rewards : float array [..., K, ...]
        Finite.
    alpha : float >= 0
    axis : int

    Returns
    -------
    np.ndarray, ``rewards``' shape without ``axis``, float64
    """
    r = check_finite(number_array(rewards, "rewards"), "rewards")
    alpha = check_real(alpha, "alpha")
    if alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    axis = check_int(axis, "axis", -max(r.ndim, 1))
    if r.ndim and axis >= r.ndim:
        raise ValueError(f"axis must be in [-{r.ndim}, {r.ndim}) for rewards of shape "
                         f"{r.shape}, got {axis}")
    if r.ndim == 0 or r.shape[axis] == 0:
        raise ValueError(f"rewards must have at least one entry along axis {axis}")
    m = r.max(axis=axis, keepdims=True)
    if alpha == 0.0:
        return np.squeeze(m, axis=axis)
    out = m + alpha * np.log(np.mean(np.exp((r - m) / alpha), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


class DecodeOutput(NamedTuple):
    """What :func:`value_augmented_sample` returns (torch tensors, batch-major)."""

    responses: Any  # [B, T] int64, PAD after the first EOS
    logp: Any  # [B, T] float32, log-prob of each token under the decoding policy
    base_logp: Any  # [B, T] float32, ... under the frozen base model
    mask: Any  # [B, T] bool, True up to and including the first EOS


def value_augmented_sample(base: Any, q_models: Any, prompts: Any, *, beta: Any,
                           max_len: int, top_k: int | None = 20, seed: int = 0,
                           eos_id: int = 2) -> DecodeOutput:
    r"""Decode from a frozen :class:`~creditlab.models.TinyTextLM` steered by token values
    (VAS-style): at every step sample from
    ``softmax(value_augmented_logits(base logits, [Q_i(s, .)], beta, top_k))``.

    Each ``q_models[i]`` is a TinyTextLM whose *logits head is read as values*:
    its output after the prefix :math:`s` is :math:`Q_i(s, a) = V_i(s \circ a)` for every
    token :math:`a` at once (fit it with :func:`creditlab.algos.token_values.fit_token_q`).
    The paper runs a value model on each of the ``top_k`` extensions :math:`s \circ a` instead; the
    quantity is the same, we get all of them from one forward pass.

    Parameters
    ----------
    base : TinyTextLM
        The frozen model; its weights are not changed.
    q_models : TinyTextLM or list of TinyTextLM
        One per reward; same vocabulary as ``base``.
    prompts : ragged sequences of int [B][P_b], or int array [B, P]
    beta : float or list of floats
        One weight per Q model (0: the base model's top-k sampling).
    max_len : int >= 1
    top_k : int >= 1 or None
    seed : int >= 0
    eos_id : int

    Returns
    -------
    DecodeOutput
        ``responses``, ``logp`` (under the decoding policy, so
        ``(logp - base_logp).sum(1)`` is a one-sample estimate of
        :math:`\mathrm{KL}(\pi \,\|\, \pi_0)` per response), ``base_logp``, ``mask``.
    """
    import torch

    from creditlab.models.tinylm import TinyTextLM, pad_sequences

    if not isinstance(base, TinyTextLM):
        raise TypeError(f"base must be a TinyTextLM, got {type(base).__name__}")
    qs = list(q_models) if isinstance(q_models, (list, tuple)) else [q_models]
    _, betas = _beta_list(qs, beta)
    for i, q in enumerate(qs):
        if not isinstance(q, TinyTextLM):
            raise TypeError(f"q_models[{i}] must be a TinyTextLM, got {type(q).__name__}")
        if q.vocab_size != base.vocab_size:
            raise ValueError(f"q_models[{i}] must have the base vocabulary "
                             f"({base.vocab_size}), got {q.vocab_size}")
    max_len = check_int(max_len, "max_len", 1)
    seed = check_int(seed, "seed", 0)
    eos_id = check_int(eos_id, "eos_id", 0)
    if eos_id >= base.vocab_size:
        raise ValueError(f"eos_id must be < the vocabulary size {base.vocab_size}, got {eos_id}")
    p, pm = pad_sequences(prompts, "prompts")
    base._check_ids(p, "prompts")
    prompts = [row[m].tolist() for row, m in zip(p, pm)]
    states: list = []
    steps: list = []  # the decoding policy's logits at each step, [B, V] each

    def steer(z: Any, prev: Any, t: int) -> Any:
        """Add the Q models' values to the base logits (VAS rule); advance them on prev."""
        if t == 0:
            states[:] = [q.start(prompts) for q in qs]
        else:
            states[:] = [q.advance(h, prev) for q, (h, _) in zip(qs, states)]
        zz = value_augmented_logits(z, [v for _, v in states], betas, top_k)
        steps.append(zz)
        return zz

    out, lp_base, mask = base.sample(prompts, max_len, temperature=1.0, top_k=None,
                                     seed=seed, eos_id=eos_id, logits_processor=steer)
    pol = torch.log_softmax(torch.stack(steps, 1), -1)  # [B, T, V]
    lp_pol = pol.gather(2, out.clamp_min(0)[:, :, None]).squeeze(2)
    return DecodeOutput(out, lp_pol.masked_fill(~mask, 0.0), lp_base, mask)


class SVDDOutput(NamedTuple):
    """What :func:`svdd_sample` returns (torch tensors)."""

    samples: Any  # [n, 2] the final x_0
    x: Any  # [n, T + 1, 2] the kept states x_T, ..., x_0
    values: Any  # [n, T] the value of each kept candidate
    calls: int  # value-function evaluations per sample (M per step)


def posterior_mean_value(model: Any, reward_fn: Callable[[Any], Any], cond: Any = None
                         ) -> Callable[[Any, int], Any]:
    r"""SVDD-PM's value estimate :math:`\hat v(x_{t-1}) = r(\hat x_0(x_{t-1}, t-1))`: the
    reward of the denoiser's posterior-mean (Tweedie) prediction, no training needed.

    Returns ``value_fn(x [K, 2], t) -> [K]`` for :func:`svdd_sample` (``t`` in ``[0, T]``;
    at ``t = 0``, :math:`\hat x_0 = x`). Costs one denoiser call per candidate.
    ``reward_fn`` maps points ``[K, 2]`` to rewards ``[K]`` (it need not be
    differentiable).
    """
    if not hasattr(model, "x0_hat"):
        raise TypeError(f"model must be a diffusion model with x0_hat (Toy2DDiffusion), got "
                        f"{type(model).__name__}")
    if not callable(reward_fn):
        raise TypeError(f"reward_fn must be callable, got {type(reward_fn).__name__}")

    def value_fn(x: Any, t: int) -> Any:
        import torch

        with torch.no_grad():
            x0 = model.x0_hat(x, int(t), cond)
        return torch.as_tensor(np.asarray(to_numpy(reward_fn(x0), "reward_fn(x0)"),
                                          dtype=np.float32))

    return value_fn


def svdd_sample(model: Any, value_fn: Callable[[Any, int], Any], n: int, *, M: int = 10,
                alpha: float = 0.0, cond: int | None = None,
                seed: int = 0) -> SVDDOutput:
    r"""Soft value-based decoding (SVDD) for a diffusion model, derivative-free.

    At every reverse step :math:`t = T, \dots, 1`, draw ``M`` candidates from the frozen
    denoiser, score each with the soft value, and keep one:

    .. math::
        x_{t-1}^{(j)} \sim p_{\text{pre}}(\cdot \mid x_t), \ j = 1..M, \qquad
        P(\text{keep } j) \propto \exp\big(\hat v_{t-1}(x_{t-1}^{(j)}) / \alpha\big),

    which samples (as :math:`M \to \infty`) from :math:`p^\star(x_{t-1} \mid x_t) \propto
    p_{\text{pre}}(x_{t-1} \mid x_t)\,\exp(v_{t-1}(x_{t-1})/\alpha)`, the step of the
    KL-regularised optimum (Li et al. 2024). ``alpha = 0`` keeps the argmax (ties: the
    first candidate), which is what the released code does (it computes the softmax and
    takes its argmax).

    Parameters
    ----------
    model : Toy2DDiffusion
        The frozen pretrained denoiser (anything with ``steps`` and
        ``step(x_t, t, cond, M=, seed=)`` returning ``x_prev [n, M, 2]``).
    value_fn : callable
        ``value_fn(x [K, 2], t) -> [K]``: :math:`\hat v_t(x)` for states at step ``t``
        (called with ``t - 1`` for the candidates of step ``t``): SVDD-PM's
        :func:`posterior_mean_value`, or a network regressed on rewards (SVDD-MC).
    n : int >= 1
        Number of samples.
    M : int >= 1
        Candidates per step (``M = 1`` is plain ancestral sampling).
    alpha : float >= 0
        Temperature of the resampling.
    cond : int or None
        Class of a conditional model.
    seed : int >= 0

    Returns
    -------
    SVDDOutput
        ``samples [n, 2]``, ``x [n, T + 1, 2]``, ``values [n, T]``, ``calls`` (value
        evaluations per sample, ``M * T``).
    """
    import torch

    if not (hasattr(model, "step") and hasattr(model, "steps")):
        raise TypeError(f"model must be a diffusion model with step and steps "
                        f"(Toy2DDiffusion), got {type(model).__name__}")
    if not callable(value_fn):
        raise TypeError(f"value_fn must be callable, got {type(value_fn).__name__}")
    n = check_int(n, "n", 1)
    M = check_int(M, "M", 1)
    alpha = check_real(alpha, "alpha")
    if alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    seed = check_int(seed, "seed", 0)
    gen = torch.Generator().manual_seed(seed)
    T = int(model.steps)
    x = torch.randn((n, 2), generator=gen)
    xs, vs = [x], []
    rows = torch.arange(n)
    for t in range(T, 0, -1):
        cand = model.step(x, t, cond, M=M, seed=gen).x_prev  # [n, M, 2]
        v = torch.as_tensor(np.asarray(to_numpy(value_fn(cand.reshape(n * M, 2), t - 1),
                                                "value_fn(x, t)"), dtype=np.float64))
        if tuple(v.shape) != (n * M,):
            raise ValueError(f"value_fn must return one value per candidate ({n * M}), "
                             f"got shape {tuple(v.shape)}")
        if not bool(torch.isfinite(v).all()):
            raise ValueError("value_fn returned NaN or inf")
        v = v.reshape(n, M)
        if alpha == 0.0:
            j = v.argmax(1)
        else:
            j = torch.multinomial(torch.softmax(v / alpha, 1), 1, generator=gen).squeeze(1)
        x = cand[rows, j]
        xs.append(x)
        vs.append(v[rows, j].float())
    return SVDDOutput(x, torch.stack(xs, 1), torch.stack(vs, 1), M * T)


def bayes_search_update(belief: Any, likelihood: Any) -> np.ndarray:
    r"""One Bayesian update of a belief over where a hidden object is (Chapter 20).

    .. math:: b'(c) = \frac{b(c)\,P(o \mid c)}{\sum_{c'} b(c')\,P(o \mid c')}

    where :math:`P(o \mid c)` is the probability of what the last search action showed
    (say "not seen" after a push revealed a set :math:`R` of cells: the miss rate
    :math:`\epsilon` for :math:`c \in R`, 1 elsewhere) if the object were at :math:`c`.
    A push policy that keeps updating this belief does not search the same place twice
    (with :math:`\epsilon = 0`); one that keeps the prior does (Grasping-the-Invisible-style
    search, Yang et al. 2020).

    Parameters
    ----------
    belief : float array [..., C]
        Nonnegative, finite, each row with a positive sum (normalised on the way in).
    likelihood : float array [..., C]
        :math:`P(o \mid c)` in [0, 1], broadcastable to ``belief``.

    Returns
    -------
    np.ndarray
        float64 ``[..., C]``, each row summing to 1. A row whose posterior mass is 0 (the
        observation was impossible under the belief) raises ValueError.
    """
    b = check_finite(float_array(belief, "belief"), "belief").astype(np.float64)
    lk = check_finite(float_array(likelihood, "likelihood"), "likelihood").astype(np.float64)
    if b.ndim == 0 or b.shape[-1] == 0:
        raise ValueError(f"belief must have shape [..., C] with C >= 1, got {b.shape}")
    if (b < 0).any():
        raise ValueError("belief must be nonnegative")
    if (lk < 0).any() or (lk > 1).any():
        raise ValueError("likelihood must lie in [0, 1]")
    try:
        lk = np.broadcast_to(lk, b.shape)
    except ValueError:
        raise ValueError(f"likelihood of shape {lk.shape} does not broadcast to belief's "
                         f"{b.shape}") from None
    z = b.sum(-1, keepdims=True)
    if (z <= 0).any():
        raise ValueError("belief must have a positive sum in every row")
    post = (b / z) * lk
    m = post.sum(-1, keepdims=True)
    if (m <= 0).any():
        raise ValueError("the observation has probability 0 under the belief (posterior "
                         "mass 0)")
    return post / m
