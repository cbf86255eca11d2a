"""Blocksworld tables, RAP-style planning (creditlab.rap), the rule-set "prompt" task and
prompt search at a fixed evaluation budget (creditlab.prompt_search)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditlab import prompt_search as ps
from creditlab import rap
from creditlab.envs.blocksworld import BlocksworldEnv, blocksworld_tables
from creditlab.envs.rule_task import RuleTask

# ------------------------------------------------------------------ Blocksworld tables


@pytest.mark.parametrize("n, count", [(3, 13), (4, 73)])
def test_tables_match_the_env(n, count):
    t = blocksworld_tables(n)
    env = BlocksworldEnv(n)
    assert t.num_states == count == len(set(t.states))
    for i, s in enumerate(t.states):
        for a in range(t.num_actions):
            assert t.valid[i, a] == env.is_valid(s, a)
            assert t.states[t.next_state[i, a]] == env.transition(s, a)


def test_distance_is_a_shortest_path():
    t = blocksworld_tables(4)
    for g in (0, 17, 72):
        d = t.distance_to(g)
        assert d[g] == 0 and np.all(d >= 0)
        succ = np.where(t.valid, d[t.next_state], 10**9).min(1)
        others = np.arange(t.num_states) != g
        np.testing.assert_array_equal(d[others], 1 + succ[others])  # Bellman equation
    with pytest.raises(ValueError, match="goal"):
        t.distance_to(73)
    ov = t.goal_overlap(5)
    assert ov[5] == 1.0 and np.all((ov >= 0) & (ov <= 1))


# ------------------------------------------------------------------ RAP-style planning


def test_make_problems_and_validation():
    p = rap.make_problems(20, n_blocks=4, min_moves=3, max_moves=5, seed=1)
    assert np.all((p.optimal >= 3) & (p.optimal <= 5))
    np.testing.assert_array_equal(p.distance[np.arange(20), p.start], p.optimal)
    assert np.all(p.start != p.goal)
    assert np.all(np.isneginf(p.prior_logits[:, ~p.tables.valid]))
    assert np.all(p.log_prior <= 0) and np.all(p.log_self_eval <= 0)
    q = rap.make_problems(20, n_blocks=4, min_moves=3, max_moves=5, seed=1)
    np.testing.assert_array_equal(p.prior_logits, q.prior_logits)
    with pytest.raises(ValueError, match="num"):
        rap.make_problems(0)
    with pytest.raises(ValueError, match="min_moves"):
        rap.make_problems(3, min_moves=5, max_moves=4)
    with pytest.raises(ValueError, match="prior_noise"):
        rap.make_problems(3, prior_noise=-1)
    with pytest.raises(ValueError, match="error"):
        rap.rap_plan(p, {"goal": 1.0}, error=1.5)
    with pytest.raises(ValueError, match="error"):
        rap.greedy_prior_plan(p, error=-0.1)
    with pytest.raises(ValueError, match="unknown terms"):
        rap.rap_plan(p, {"goal_overlap": 1.0})


def test_execute_plan():
    t = blocksworld_tables(3)
    s = t.index[(-1, -1, -1)]
    g = t.index[(1, 2, -1)]                # A on B on C
    assert rap.execute_plan(t, s, g, [1 * 4 + 2, 0 * 4 + 1])
    assert not rap.execute_plan(t, s, g, [0 * 4 + 1, 1 * 4 + 2])  # B not clear
    assert rap.execute_plan(t, g, g, [])


def test_noiseless_prior_makes_greedy_optimal_and_search_solves():
    p = rap.make_problems(30, n_blocks=4, min_moves=3, max_moves=5, prior_noise=0.0,
                          eval_noise=0.0, seed=2)
    assert rap.greedy_prior_plan(p, max_steps=5).solved.all()
    res = rap.rap_plan(p, {"prior": 0.1, "goal": 3.0, "self_eval": 0.3}, num_simulations=40,
                       max_depth=6)
    assert res.solved.all()
    for i, plan in enumerate(res.plans):
        assert res.solved[i] == rap.execute_plan(p.tables, p.start[i], p.goal[i], plan)


def test_search_beats_greedy_and_error_hurts():
    p = rap.make_problems(100, n_blocks=5, min_moves=5, max_moves=7, seed=11)
    w = {"prior": 0.1, "goal": 3.0, "self_eval": 0.3}
    exact = rap.rap_plan(p, w, 0.0, num_simulations=60, max_depth=9, seed=11).solved.mean()
    noisy = rap.rap_plan(p, w, 0.4, num_simulations=60, max_depth=9, seed=11).solved.mean()
    greedy = rap.greedy_prior_plan(p, 0.0, max_steps=9).solved.mean()
    assert exact >= greedy + 0.3
    assert noisy <= exact - 0.2


def test_rap_uct_plan_solves_easy_problems_and_reports_its_plans():
    p = rap.make_problems(30, n_blocks=4, min_moves=3, max_moves=5, prior_noise=0.0,
                          eval_noise=0.0, seed=2)
    w = {"prior": 0.1, "goal": 3.0, "self_eval": 0.3}
    res = rap.rap_uct_plan(p, w, num_calls=40, max_depth=6)
    assert res.solved.all()
    assert 1 <= res.model_calls <= 40
    for i, plan in enumerate(res.plans):
        assert res.solved[i] == rap.execute_plan(p.tables, p.start[i], p.goal[i], plan)
        assert len(plan) <= 6
    again = rap.rap_uct_plan(p, w, num_calls=40, max_depth=6)
    assert again.plans == res.plans
    for cum, q in (("mean", "max"), ("max", "mean")):
        assert rap.rap_uct_plan(p, w, num_calls=40, max_depth=6, cum_reward=cum,
                                calc_q=q).solved.mean() > 0.5


def test_rap_uct_plan_beats_greedy_with_noise_and_validates():
    p = rap.make_problems(60, n_blocks=5, min_moves=5, max_moves=7, seed=11)
    w = {"prior": 0.1, "goal": 3.0, "self_eval": 0.3}
    uct = rap.rap_uct_plan(p, w, 0.0, num_calls=60, max_depth=9, seed=11).solved.mean()
    greedy = rap.greedy_prior_plan(p, 0.0, max_steps=9).solved.mean()
    assert uct >= greedy + 0.3
    # no reward terms: every fast reward is 0, and the plans still come back (as lists)
    res = rap.rap_uct_plan(p, {}, num_calls=10, max_depth=3)
    assert len(res.plans) == 60 and all(len(x) <= 3 for x in res.plans)
    for kw, match in (({"cum_reward": "median"}, "cum_reward"), ({"calc_q": "sum"}, "calc_q"),
                      ({"w_exp": -1.0}, "w_exp"), ({"num_calls": 0}, "num_calls"),
                      ({"error": 2.0}, "error"), ({"max_depth": 0}, "max_depth")):
        with pytest.raises(ValueError, match=match):
            rap.rap_uct_plan(p, w, **kw)
    with pytest.raises(ValueError, match="unknown terms"):
        rap.rap_uct_plan(p, {"goal_overlap": 1.0})


def test_rap_uct_backup_is_the_llm_reasoners_backup():
    # the backup rap_uct_plan calls, on one path, against llm-reasoners' loop kept verbatim
    from creditlab import tree_reference as ref
    rng = np.random.default_rng(0)
    for agg, fn in (("sum", sum), ("mean", np.mean), ("max", max)):
        r = rng.normal(size=6)
        r[0] = 0.0                              # the root's reward (llm-reasoners: 0)
        parent = [-1, 0, 1, 2, 3, 4]
        count, qs, qx, qn = [0] * 6, [0.0] * 6, [0.0] * 6, [0.0] * 6
        ref.backup_returns(parent, list(r), [1.0] * 6, 5, agg, count, qs, qx, qn)
        want = ref.rap_back_propagate(list(r), fn)[::-1]      # root first
        np.testing.assert_allclose(qs, want)
        assert count == [1] * 6


# ------------------------------------------------------------------ the rule task


def test_rule_task_definitions():
    task = RuleTask(n_features=6, n_true=2, n_dev=50, n_test=300, label_noise=0.0, seed=3)
    assert task.num_rules == 6 + 15
    brute = np.array([[all(x[f] for f in rule) for rule in task.rules] for x in task.X_dev])
    np.testing.assert_array_equal(task.fires_dev, brute)
    np.testing.assert_array_equal(task.predict(task.true_mask), task.y_dev)  # no label noise
    assert task.accuracy(task.true_mask, "test") == 1.0
    assert all(len(task.rules[r]) == 2 for r in np.nonzero(task.true_mask)[0])


def test_rule_task_validation():
    for kw in ({"n_features": 1}, {"n_true": 0}, {"p_feature": 1.0}, {"p_feature": (0.5, 0.2)},
               {"label_noise": 0.5}, {"n_dev": 0}, {"p_feature": (0.1, 0.2, 0.3)}):
        with pytest.raises(ValueError):
            RuleTask(**kw)
    task = RuleTask(n_features=5, seed=0)
    with pytest.raises(ValueError, match="mask"):
        task.accuracy(np.zeros(3, bool))
    with pytest.raises(ValueError, match="mask"):
        task.accuracy(np.zeros(task.num_rules, int))
    with pytest.raises(ValueError, match="split"):
        task.predict(np.zeros(task.num_rules, bool), "train")


@given(st.integers(0, 10**6))
@settings(max_examples=25, deadline=None)
def test_reflective_edit_fixes_an_error(seed):
    task = RuleTask(n_features=8, n_dev=40, n_test=10, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    mask = rng.random(task.num_rules) < 0.1
    before = mask.copy()
    wrong = task.predict(mask) != task.y_dev
    r = task.reflect(mask, np.random.default_rng(seed))
    np.testing.assert_array_equal(mask, before)  # input not modified
    if r is None:
        return
    # the flipped rule fires on a misclassified example, and is switched on iff that example
    # is a missed positive (switching a rule on fixes it; switching one off removes a cause)
    implicated = wrong & task.fires_dev[:, r] & (task.y_dev == (not mask[r]))
    assert implicated.any()
    if not mask[r]:
        flipped = mask.copy()
        flipped[r] = True
        assert np.any(implicated & (task.predict(flipped) == task.y_dev))


# ------------------------------------------------------------------ prompt search


@pytest.mark.parametrize("method", ["mcts", "mcts_random", "greedy", "hill", "random"])
def test_search_respects_budget_and_reports_its_best(method):
    task = RuleTask(n_features=10, n_dev=100, n_test=500, seed=4)
    run = {"mcts": lambda: ps.mcts_search(task, 40, seed=1),
           "mcts_random": lambda: ps.mcts_search(task, 40, reflective=False, seed=1),
           "greedy": lambda: ps.greedy_search(task, 40, seed=1, hill_climb=False),
           "hill": lambda: ps.greedy_search(task, 40, seed=1),
           "random": lambda: ps.random_search(task, 40, seed=1)}[method]
    res = run()
    assert 1 <= res.evaluations <= 40
    assert res.test_curve.shape == (40,)
    assert res.dev == task.accuracy(res.mask) and res.test == task.accuracy(res.mask, "test")
    assert res.dev >= task.accuracy(np.zeros(task.num_rules, bool))  # start prompt is scored
    assert res.test_curve[-1] == res.test
    again = run()
    np.testing.assert_array_equal(res.mask, again.mask)


def test_search_validation_and_init_not_modified():
    task = RuleTask(n_features=8, seed=0)
    init = np.zeros(task.num_rules, bool)
    init[3] = True
    keep = init.copy()
    for fn in (ps.mcts_search, ps.greedy_search, ps.random_search):
        fn(task, 10, init=init)
        np.testing.assert_array_equal(init, keep)
        with pytest.raises(ValueError, match="budget"):
            fn(task, 0)
    with pytest.raises(ValueError, match="agg"):
        ps.mcts_search(task, 10, agg="median")
    with pytest.raises(ValueError, match="width"):
        ps.mcts_search(task, 10, width=0)


def test_reflective_edits_beat_random_edits():
    gains = []
    for seed in range(6):
        task = RuleTask(n_features=20, n_dev=300, p_feature=(0.1, 0.8), seed=100 + seed)
        a = ps.mcts_search(task, 120, seed=seed).test
        b = ps.mcts_search(task, 120, reflective=False, seed=seed).test
        gains.append(a - b)
    assert np.mean(gains) > 0.04


def test_rule_bank_order():
    # the rule bank is every single feature and every pair, in this order
    task = RuleTask(n_features=4, seed=0)
    assert task.rules == [(i,) for i in range(4)] + list(itertools.combinations(range(4), 2))
