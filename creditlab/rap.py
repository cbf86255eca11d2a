"""RAP-style planning on Blocksworld: MCTS in an imperfect world model with mixed rewards.

RAP (Hao et al., 2023, arXiv:2305.14992) uses one language model twice: as the *agent*
that proposes the next action and as the *world model* that predicts the next state, and
searches the resulting tree with MCTS. Its step reward mixes the agent's action
likelihood, a task heuristic and the model's self-evaluation. This module is the toy
stand-in used in Chapter 18, with no language model:

- the **model prior** ``pi0(a | s)`` is a softmax over ``sharpness * (d(s) - d(s'))``
  (how much the move shortens the true distance to the goal) plus fixed Gaussian noise per
  (s, a), so it is informative but wrong in places, like an LM's action likelihood;
- the **self-evaluation** is a second, independently noisy judgement of the same move,
  ``p_yes(s, a) = sigmoid(sharpness * (d(s) - d(s')) + noise)``;
- the **goal overlap** is the change in the fraction of goal facts that hold, computed on
  the *predicted* next state;
- the **world model** predicts the exact next state except that with probability
  ``error`` it returns the successor of a different valid move (as
  :meth:`creditlab.envs.BlocksworldEnv.world_model`).

The step reward is ``w_prior log pi0(a|s) + w_goal (overlap(s') - overlap(s)) +
w_self log p_yes(s, a)`` (:func:`creditlab.planning.reward_mix`) plus ``goal_bonus`` when
the predicted state is the goal, which also ends the branch (discount 0).

Two searches over the same world model and rewards:

- :func:`rap_plan` is **RAP-style** (PUCT + running mean): :func:`creditlab.planning.mcts`
  (MuZero PUCT with the prior ``pi0`` in the exploration term, the discounted running-mean
  backup, C++ loop), batched over problems; the plan is the most-visited path.
- :func:`rap_uct_plan` is **RAP's own search**, the MCTS of llm-reasoners (the RAP authors'
  library, Blocksworld configuration): prior-free UCT ``Q + w_exp sqrt(ln N(parent) /
  max(1, N(child)))`` with ``w_exp = 1``, where an unexpanded child's ``Q`` is its *fast
  reward* (the reward terms known before the world-model call); a simulation that follows
  the best fast reward to a terminal node or the depth limit; the cumulative-reward backup
  (every node on the path appends the sum of the rewards from itself to the leaf,
  :func:`creditlab.tree_reference.backup_returns`) with ``Q`` the mean of those; and the
  ``max_reward`` output, the terminal path with the largest summed reward.

Either plan is executed open loop in the exact environment.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from creditlab import tree_reference as ref
from creditlab._backend import check_int, check_real, make_rng
from creditlab.envs.blocksworld import BlocksworldTables, blocksworld_tables
from creditlab.planning import RecurrentOutput, mcts, reward_mix

__all__ = [
    "BlocksworldProblems",
    "RapResult",
    "execute_plan",
    "greedy_prior_plan",
    "make_problems",
    "rap_plan",
    "rap_uct_plan",
]

_LOG_FLOOR = -10.0


class BlocksworldProblems(NamedTuple):
    """B start/goal pairs with the per-problem reward tables.

    Attributes
    ----------
    tables : BlocksworldTables
    start, goal : int64 [B]   state indices
    optimal : int64 [B]       fewest moves from start to goal
    prior_logits : float64 [B, S, A]   noisy heuristic action logits (invalid: -inf)
    log_prior : float64 [B, S, A]      ``log softmax(prior_logits)`` floored at -10
    log_self_eval : float64 [B, S, A]  ``log p_yes(s, a)``
    overlap : float64 [B, S]           fraction of goal facts holding in each state
    distance : int64 [B, S]            true distance to each problem's goal
    """

    tables: BlocksworldTables
    start: np.ndarray
    goal: np.ndarray
    optimal: np.ndarray
    prior_logits: np.ndarray
    log_prior: np.ndarray
    log_self_eval: np.ndarray
    overlap: np.ndarray
    distance: np.ndarray


def make_problems(num: int, n_blocks: int = 4, min_moves: int = 4, max_moves: int = 6,
                  prior_sharpness: float = 1.5, prior_noise: float = 1.5,
                  eval_sharpness: float = 2.0, eval_noise: float = 1.5,
                  seed: int = 0) -> BlocksworldProblems:
    """Draw ``num`` problems whose optimal plan has ``min_moves..max_moves`` moves, and the
    noisy prior and self-evaluation tables for each (seeded)."""
    num = check_int(num, "num", 1)
    min_moves = check_int(min_moves, "min_moves", 1)
    max_moves = check_int(max_moves, "max_moves", 1)
    n_blocks = check_int(n_blocks, "n_blocks", 1)
    for name, v in (("prior_sharpness", prior_sharpness), ("eval_sharpness", eval_sharpness),
                    ("prior_noise", prior_noise), ("eval_noise", eval_noise)):
        check_real(v, name)
    if not 1 <= min_moves <= max_moves:
        raise ValueError(f"need 1 <= min_moves <= max_moves, got {min_moves}, {max_moves}")
    for name, v in (("prior_noise", prior_noise), ("eval_noise", eval_noise)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    t = blocksworld_tables(n_blocks)
    rng = make_rng(seed)
    S, A = t.num_states, t.num_actions
    starts, goals, opt, dists = [], [], [], []
    while len(goals) < num:
        g = int(rng.integers(S))
        d = t.distance_to(g)
        ok = np.nonzero((d >= min_moves) & (d <= max_moves))[0]
        if len(ok) == 0:
            continue
        s = int(rng.choice(ok))
        starts.append(s)
        goals.append(g)
        opt.append(int(d[s]))
        dists.append(d)
    dist = np.stack(dists)                                     # [B, S]
    gain = (dist[:, :, None] - dist[np.arange(num)[:, None, None], t.next_state[None]])
    gain = gain.astype(np.float64)                             # [B, S, A]
    logits = prior_sharpness * gain + prior_noise * rng.normal(size=(num, S, A))
    logits = np.where(t.valid[None], logits, -np.inf)
    z = logits - logits.max(-1, keepdims=True)
    log_prior = np.maximum(z - np.log(np.exp(z).sum(-1, keepdims=True)), _LOG_FLOOR)
    e = eval_sharpness * gain + eval_noise * rng.normal(size=(num, S, A))
    log_self = np.maximum(-np.logaddexp(0.0, -e), _LOG_FLOOR)
    overlap = np.stack([t.goal_overlap(g) for g in goals])
    return BlocksworldProblems(t, np.array(starts), np.array(goals), np.array(opt), logits,
                               log_prior, log_self, overlap, dist)


class RapResult(NamedTuple):
    """``plans``: one action list per problem; ``solved`` bool [B] (executed exactly);
    ``model_calls``: world-model calls per problem."""

    plans: list
    solved: np.ndarray
    model_calls: int


def execute_plan(tables: BlocksworldTables, start: int, goal: int, plan: list) -> bool:
    """Run ``plan`` in the exact model from ``start``; True if it reaches ``goal``."""
    S = len(tables.next_state)
    for name, v in (("start", start), ("goal", goal)):
        if check_int(v, name) >= S:
            raise ValueError(f"{name} must be a state index in [0, {S}), got {v}")
    s = int(start)
    if s == goal:
        return True
    for a in plan:
        s = int(tables.next_state[s, int(a)])
        if s == goal:
            return True
    return False


def _predict(t: BlocksworldTables, s: np.ndarray, a: np.ndarray, error: float,
             rng: np.random.Generator) -> np.ndarray:
    """World model: exact successor, or with probability ``error`` another valid move's."""
    nxt = t.next_state[s, a]
    if error > 0:
        flip = rng.random(len(s)) < error
        for i in np.nonzero(flip)[0]:
            others = np.nonzero(t.valid[s[i]])[0]
            others = others[others != a[i]]
            if len(others):
                nxt[i] = t.next_state[s[i], int(rng.choice(others))]
    return nxt


def _setup(problems: BlocksworldProblems, error: float, seed: int):
    """Check ``error``; the problems, their tables, B, a seeded rng and arange(B)."""
    if not 0.0 <= check_real(error, "error") <= 1.0:
        raise ValueError(f"error must be in [0, 1], got {error}")
    B = len(problems.goal)
    return problems, problems.tables, B, make_rng(seed), np.arange(B)


def rap_plan(problems: BlocksworldProblems, weights: dict[str, float], error: float = 0.0,
             num_simulations: int = 100, max_depth: int = 8, goal_bonus: float = 5.0,
             seed: int = 0) -> RapResult:
    """RAP-style planning (PUCT + running mean): batched MCTS in the world model, plans
    executed exactly.

    Departs from RAP's search (:func:`rap_uct_plan`) on purpose: the selection is MuZero's
    PUCT, so the prior ``pi0`` also steers exploration (not only through the reward), the
    backup is mctx's running mean of ``r + gamma G`` (discount 1 inside a branch), and the
    plan is the most-visited path. One simulation is one world-model call.

    Parameters
    ----------
    problems : from :func:`make_problems`
    weights : ``{"prior": w, "goal": w, "self_eval": w}`` (omit or zero a term to ablate it)
    error : world-model error probability in [0, 1]
    num_simulations, max_depth : MCTS budget (one world-model call per simulation)
    goal_bonus : reward for a predicted transition into the goal
    """
    p, t, B, rng, b = _setup(problems, error, seed)
    num_simulations = check_int(num_simulations, "num_simulations", 1)
    max_depth = check_int(max_depth, "max_depth", 1)
    goal_bonus = check_real(goal_bonus, "goal_bonus")

    def recurrent(state: np.ndarray, action: np.ndarray):
        s = np.asarray(state, np.int64)
        done = s == p.goal
        s2 = np.where(done, s, _predict(t, s, action, error, rng))
        terms = {"prior": p.log_prior[b, s, action], "self_eval": p.log_self_eval[b, s, action],
                 "goal": p.overlap[b, s2] - p.overlap[b, s]}
        reached = (s2 == p.goal) & ~done
        r = reward_mix(terms, weights) + goal_bonus * reached
        r = np.where(done, 0.0, r)
        disc = np.where(done | reached, 0.0, 1.0)
        lg = np.maximum(p.prior_logits[b, s2], -1e9)
        return RecurrentOutput(r, disc, lg, np.zeros(B)), s2

    root_logits = np.maximum(p.prior_logits[b, p.start], -1e9)
    out = mcts(root_logits, np.zeros(B), recurrent, num_simulations, p.start.copy(),
               invalid_actions=~t.valid[p.start], max_depth=max_depth)
    tree = out.search_tree
    plans = []
    for i in range(B):
        node, plan = 0, []
        while True:
            visits = tree.children_visits[i, node]
            if visits.max() == 0:
                break
            a = int(np.argmax(visits))
            plan.append(a)
            node = int(tree.children_index[i, node, a])
            if tree.embeddings[i, node] == p.goal[i]:
                break
        plans.append(plan)
    solved = np.array([execute_plan(t, p.start[i], p.goal[i], plans[i]) for i in range(B)])
    return RapResult(plans, solved, int(num_simulations))


def greedy_prior_plan(problems: BlocksworldProblems, error: float = 0.0, max_steps: int = 8,
                      seed: int = 0) -> RapResult:
    """Baseline (chain-of-thought style): follow ``argmax pi0`` in the world model for up to
    ``max_steps`` moves (or until the predicted goal), then execute the plan exactly."""
    p, t, B, rng, b = _setup(problems, error, seed)
    max_steps = check_int(max_steps, "max_steps", 1)
    s = p.start.copy()
    plans: list[list[int]] = [[] for _ in range(B)]
    active = s != p.goal
    for _ in range(int(max_steps)):
        a = np.argmax(p.prior_logits[b, s], -1)
        s2 = _predict(t, s, a, error, rng)
        for i in np.nonzero(active)[0]:
            plans[i].append(int(a[i]))
        s = np.where(active, s2, s)
        active &= s != p.goal
    solved = np.array([execute_plan(t, p.start[i], p.goal[i], plans[i]) for i in range(B)])
    return RapResult(plans, solved, int(max_steps))


_CUM = ("sum", "mean", "max")
_CALC_Q = ("mean", "max")


def rap_uct_plan(problems: BlocksworldProblems, weights: dict[str, float], error: float = 0.0,
                 num_calls: int = 100, max_depth: int = 8, goal_bonus: float = 5.0,
                 w_exp: float = 1.0, cum_reward: str = "sum", calc_q: str = "mean",
                 seed: int = 0) -> RapResult:
    """RAP's MCTS (llm-reasoners, Blocksworld configuration) in the world model, plans
    executed exactly.

    Per problem, iterations of

    1. **select**: from the root, pick the child maximising
       ``UCT = Q(c) + w_exp * sqrt(ln N(n) / max(1, N(c)))`` (no prior), until a node whose
       state is not yet predicted, a terminal node or the depth limit. ``N(n)`` is the number
       of values node n has received; an unexpanded child has ``Q = fast reward``
       ``w_prior log pi0(a|s) + w_self log p_yes(s, a)`` (the terms known before the world
       model is called; llm-reasoners' ``uct_with_fast_reward=True``);
    2. **expand**: one world-model call predicts the child's state; its reward is the fast
       reward plus ``w_goal (overlap(s') - overlap(s))`` and ``goal_bonus`` if ``s'`` is the
       goal; a node is terminal at the predicted goal or at ``max_depth``;
    3. **simulate**: follow the child with the largest fast reward (expanding it, one call
       each) to a terminal node;
    4. **back up** (:func:`creditlab.tree_reference.backup_returns`): every node n on the path
       appends ``cum(n) = cum_reward(r_n, ..., r_leaf)``, the aggregate of the rewards from
       itself to the leaf; ``Q(n) = calc_q`` of its appended values.

    The plan is llm-reasoners' ``output_strategy="max_reward"``: the root-to-terminal path
    of predicted nodes with the largest ``cum_reward`` of its rewards (no terminal node: an
    empty plan, which fails). Ties break to the lowest action index.

    Parameters
    ----------
    problems : from :func:`make_problems`
    weights : ``{"prior": w, "goal": w, "self_eval": w}`` as :func:`rap_plan`
    error : world-model error probability in [0, 1]
    num_calls : world-model calls per problem (the budget unit of :func:`rap_plan`'s
        ``num_simulations``; llm-reasoners counts iterations instead, and one iteration
        costs 0 to ``max_depth`` calls). The search stops when the budget is spent or after
        ``num_calls`` iterations (an iteration that re-selects a terminal node costs no
        call, so a search that has settled on a plan can stop with calls unused).
    max_depth : depth limit (RAP's ``depth_limit``)
    goal_bonus : reward for a predicted transition into the goal
    w_exp : UCT exploration weight (RAP: 1), >= 0
    cum_reward : ``"sum"`` (RAP Blocksworld), ``"mean"`` or ``"max"`` of the future rewards
    calc_q : ``"mean"`` (RAP Blocksworld) or ``"max"`` of a node's appended values

    Returns
    -------
    RapResult whose ``model_calls`` is the most world-model calls any problem used
    (``<= num_calls``).
    """
    p, t, B, rng, _ = _setup(problems, error, seed)
    num_calls = check_int(num_calls, "num_calls", 1)
    max_depth = check_int(max_depth, "max_depth", 1)
    goal_bonus = check_real(goal_bonus, "goal_bonus")
    if check_real(w_exp, "w_exp") < 0:
        raise ValueError(f"w_exp (the exploration weight) must be >= 0, got {w_exp}")
    if cum_reward not in _CUM:
        raise ValueError(f"cum_reward must be one of {_CUM}, got {cum_reward!r}")
    if calc_q not in _CALC_Q:
        raise ValueError(f"calc_q must be one of {_CALC_Q}, got {calc_q!r}")
    zero = np.zeros((B, t.num_states, t.num_actions))
    # fast reward of every (problem, state, action): the goal term is 0 before the model call
    fast_all = zero + reward_mix({"prior": p.log_prior, "self_eval": p.log_self_eval,
                                  "goal": zero}, weights)     # weights {} give a scalar 0
    w_goal = float(weights.get("goal", 0.0))
    valid = [np.nonzero(row)[0].tolist() for row in t.valid]   # valid actions per state
    plans, most_calls = [], 0
    for i in range(B):
        plan, calls = _uct_search(fast_all[i].tolist(), p.overlap[i].tolist(), int(p.goal[i]),
                                  int(p.start[i]), valid, t, error, rng, num_calls, max_depth,
                                  goal_bonus, w_goal, w_exp, cum_reward, calc_q)
        plans.append(plan)
        most_calls = max(most_calls, calls)
    solved = np.array([execute_plan(t, p.start[i], p.goal[i], plans[i]) for i in range(B)])
    return RapResult(plans, solved, int(most_calls))


def _uct_search(fast_i: list, overlap: list, goal: int, start: int, valid: list,
                t: BlocksworldTables, error: float, rng: np.random.Generator, num_calls: int,
                max_depth: int, goal_bonus: float, w_goal: float, w_exp: float,
                cum_reward: str, calc_q: str) -> tuple[list[int], int]:
    """One problem of :func:`rap_uct_plan`: the plan (actions) and the calls used."""
    # per node (lists: the loop touches single entries); node 0 is the root
    state, parent, action, reward = [start], [-1], [-1], [0.0]
    depth, terminal, kids = [0], [False], [dict()]
    count, qsum, qmax, qmin = [0], [0.0], [0.0], [0.0]
    calls = 0

    def expand(n: int, a: int) -> int:
        """Predict the child (n, a): one world-model call; returns its index."""
        s = state[n]
        s2 = int(_predict(t, np.array([s]), np.array([a]), error, rng)[0])
        c = len(state)
        reached = s2 == goal
        state.append(s2)
        parent.append(n)
        action.append(a)
        depth.append(depth[n] + 1)
        reward.append(fast_i[s][a] + w_goal * (overlap[s2] - overlap[s])
                      + goal_bonus * reached)
        terminal.append(reached or depth[c] >= max_depth)
        kids.append({})
        for x in (count, qsum, qmax, qmin):
            x.append(0)
        kids[n][a] = c
        return c

    def uct(n: int, a: int, ln: float) -> float:
        c = kids[n].get(a)
        if c is None:                                  # unexpanded: Q = fast reward
            return fast_i[state[n]][a] + w_exp * math.sqrt(ln)
        q = qsum[c] / count[c] if calc_q == "mean" else qmax[c]
        return q + w_exp * math.sqrt(ln / max(1, count[c]))

    for _ in range(num_calls):                         # iterations
        if calls >= num_calls:
            break
        node, new = 0, False
        while not terminal[node]:                      # 1. select
            ln = math.log(count[node]) if count[node] > 0 else 0.0
            acts = valid[state[node]]
            a = max(acts, key=lambda b, n=node, ln=ln: uct(n, b, ln))
            if a not in kids[node]:
                node, new = expand(node, a), True      # 2. expand
                calls += 1
                break
            node = kids[node][a]
        while new and not terminal[node] and calls < num_calls:   # 3. simulate
            row = fast_i[state[node]]
            a = max(valid[state[node]], key=row.__getitem__)
            if a in kids[node]:
                node = kids[node][a]
            else:
                node = expand(node, a)
                calls += 1
        ref.backup_returns(parent, reward, [1.0] * len(parent), node, cum_reward, count,
                           qsum, qmax, qmin)           # 4. back up
    best, plan = -math.inf, []
    for leaf in range(len(state)):                     # output: max_reward
        if not terminal[leaf]:
            continue
        path, c = [], leaf
        while c > 0:
            path.append(c)
            c = parent[c]
        rs = np.array([reward[c] for c in path])
        v = {"sum": rs.sum, "mean": rs.mean, "max": rs.max}[cum_reward]()
        if v > best:
            best, plan = v, [action[c] for c in path[::-1]]
    return plan, calls
