"""Silent wrong results found by bad-input testing (issue 15), one test each.

Every test here failed on the code before the fix it names.
"""

from __future__ import annotations

import numpy as np
import pytest

import creditlab as cl

BACKENDS = ["cpp", "python"] if cl.backend_info()["compiled"] else ["python"]

# --------------------------------------------------------------------------------------
# 1. out= sharing memory with an input


def _scan_inputs(dtype, T=40, B=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "rewards": rng.normal(size=(B, T)).astype(dtype),
        "values": rng.normal(size=(B, T)).astype(dtype),
        "next_values": rng.normal(size=(B, T)).astype(dtype),
    }


def _calls():
    """(name, fn(inputs, out) -> result(s), inputs the call reads, number of outputs)."""
    return [
        ("discounted_returns",
         lambda x, out: cl.discounted_returns(x["rewards"], 0.9, next_values=x["next_values"],
                                              out=out), ("rewards", "next_values"), 1),
        ("gae",
         lambda x, out: cl.gae(x["rewards"], x["values"], 0.9, 0.8, out=out),
         ("rewards", "values"), 2),
        ("lambda_returns",
         lambda x, out: cl.lambda_returns(x["rewards"], x["values"], 0.9, 0.8, out=out),
         ("rewards", "values"), 1),
        ("min_form_returns",
         lambda x, out: cl.min_form_returns(x["rewards"], out=out), ("rewards",), 1),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("call", _calls(), ids=lambda c: c[0])
def test_out_aliasing_an_input_gives_the_unaliased_result(call, dtype, backend):
    name, fn, reads, n_out = call
    with cl.use_backend(backend):
        x = _scan_inputs(dtype)
        want = fn({k: v.copy() for k, v in x.items()}, None)
        want = want if n_out == 2 else (want,)
        for alias in reads:
            for slot in range(n_out):
                xx = {k: v.copy() for k, v in x.items()}
                bufs = [np.empty_like(x["rewards"]) for _ in range(n_out)]
                bufs[slot] = xx[alias]
                got = fn(xx, tuple(bufs) if n_out == 2 else bufs[0])
                got = got if n_out == 2 else (got,)
                assert got[slot] is xx[alias]
                for g, w in zip(got, want):
                    np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6,
                                               err_msg=f"{name}: out[{slot}] aliasing {alias}")


def test_out_aliasing_a_view_of_an_input_torch():
    torch = pytest.importorskip("torch")
    x = _scan_inputs(np.float32, T=64)
    r, v = torch.from_numpy(x["rewards"]), torch.from_numpy(x["values"])
    want_a, want_g = cl.gae(r, v, 0.9, 0.8)
    vv = v.clone()
    a, g = cl.gae(r, vv, 0.9, 0.8, out=(torch.empty_like(r), vv))
    assert g is vv
    torch.testing.assert_close(g, want_g)
    torch.testing.assert_close(a, want_a)


def test_out_buffers_sharing_memory_with_each_other_are_rejected():
    x = _scan_inputs(np.float64)
    buf = np.empty_like(x["rewards"])
    with pytest.raises(ValueError, match=r"out\[0\].*out\[1\]"):
        cl.gae(x["rewards"], x["values"], 0.9, 0.8, out=(buf, buf))


def test_out_leaf_tensor_with_requires_grad_is_rejected():
    torch = pytest.importorskip("torch")
    out = torch.zeros(5, requires_grad=True)
    with pytest.raises(ValueError, match="out requires grad"):
        cl.discounted_returns(torch.ones(5), 0.9, out=out)
    assert torch.equal(out.detach(), torch.zeros(5))


# --------------------------------------------------------------------------------------
# 2. visit counts that do not fit the kernels' int32


@pytest.mark.parametrize("backend", BACKENDS)
def test_backup_path_rejects_visit_counts_that_would_wrap(backend):
    from creditlab import trees

    args = (np.array([-1, 0, 1]), np.zeros(3), np.ones(3), np.zeros(3))
    with cl.use_backend(backend):
        with pytest.raises(ValueError, match="visits"):
            trees.backup_path(*args, np.array([2**31, 2**31, 0]), np.array([2]), np.array([1.0]))
        with pytest.raises(ValueError, match="visits"):  # 255 + 1 does not fit uint8
            trees.backup_path(*args, np.array([255, 2, 0], np.uint8), np.array([2]),
                              np.array([1.0]))
        V, N = trees.backup_path(*args, np.array([2**31 - 2, 5, 0]), np.array([2]),
                                 np.array([1.0]))
        assert N.tolist() == [2**31 - 1, 6, 0]
        assert N.dtype == np.int64


@pytest.mark.parametrize("backend", BACKENDS)
def test_qtransforms_read_huge_visit_counts_as_visited(backend):
    from creditlab import trees

    q = np.array([0.5, 0.2, 0.9])
    with cl.use_backend(backend):
        for n in (np.array([2**32, 0, 1]), np.array([2**32, 0, 1], np.uint64)):
            got = trees.qtransform_by_min_max(q, n, 0.0, 1.0)
            np.testing.assert_allclose(got, [0.5, 0.0, 0.9])
            got = trees.qtransform_by_parent_and_siblings(q, n, 0.0)
            np.testing.assert_allclose(got, [0.5 / 0.9, 0.0, 1.0])
        with pytest.raises(ValueError, match="visits"):
            trees.qtransform_completed_by_mix_value(q, np.array([2**32, 0, 1]), np.zeros(3), 0.0)


# --------------------------------------------------------------------------------------
# 3. EPIC and STARC at every scale

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _mdp(seed):
    rng = np.random.default_rng(seed)
    R1, R2 = rng.normal(size=(2, 3, 2, 3))
    P = rng.random((3, 2, 3))
    return R1, R2, P / P.sum(-1, keepdims=True)


SCALES = st.sampled_from([1e-300, 1e-100, 1e-12, 1e-3, 1.0, 1e3, 1e12, 1e77, 1e100, 1e154,
                          1e200, 1e300])


@given(seed=st.integers(0, 10_000), scale=SCALES)
def test_epic_and_starc_are_invariant_to_positive_scale(seed, scale):
    from creditlab import metrics

    R1, R2, P = _mdp(seed)
    assert metrics.epic_distance(R1, scale * R1, 0.9) <= 1e-7
    assert metrics.starc_distance(R1, scale * R1, P, 0.9) <= 1e-7
    d_epic = metrics.epic_distance(R1, R2, 0.9)
    d_starc = metrics.starc_distance(R1, R2, P, 0.9)
    assert abs(metrics.epic_distance(scale * R1, scale * R2, 0.9) - d_epic) <= 1e-9
    assert abs(metrics.starc_distance(scale * R1, scale * R2, P, 0.9) - d_starc) <= 1e-9
    assert abs(metrics.epic_distance(R1, scale * R2, 0.9) - d_epic) <= 1e-9


def test_epic_and_starc_issue_examples():
    from creditlab import metrics

    R1, _, P = _mdp(0)
    assert metrics.epic_distance(R1, 1e-12 * R1, 0.9) == pytest.approx(0.0, abs=1e-9)
    assert metrics.starc_distance(R1, 1e-12 * R1, P, 0.9) == pytest.approx(0.0, abs=1e-9)
    assert metrics.epic_distance(1e80 * R1, 1e80 * R1, 0.9) == pytest.approx(0.0, abs=1e-9)
    assert metrics.starc_distance(1e160 * R1, 1e160 * R1, P, 0.9) == pytest.approx(0.0, abs=1e-9)
    # a flat (potential-shaping-of-a-constant) reward is still recognised at tiny scales
    phi = np.array([1.0, -2.0, 0.5])
    shaped = np.broadcast_to(0.9 * phi[None, None, :] - phi[:, None, None], (3, 2, 3))
    assert metrics.epic_distance(1e-30 * shaped, np.zeros((3, 2, 3)), 0.9) == 0.0


# --------------------------------------------------------------------------------------
# 4. use_backend is local to a thread


@pytest.mark.skipif(not cl.backend_info()["compiled"], reason="needs the compiled backend")
def test_use_backend_in_interleaved_threads_is_thread_local():
    import threading

    from creditlab import _backend

    default = _backend.active_backend()
    other = "python" if default == "cpp" else "cpp"
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, str] = {}

    def thread_a():  # enters first, leaves first, while B is still inside
        with cl.use_backend(other):
            a_in.set()
            b_in.wait(5)
            seen["a_inside"] = _backend.active_backend()
        a_out.set()
        seen["a_after"] = _backend.active_backend()

    def thread_b():
        a_in.wait(5)
        seen["b_before"] = _backend.active_backend()
        with cl.use_backend(other):
            b_in.set()
            a_out.wait(5)
            seen["b_inside"] = _backend.active_backend()
        seen["b_after"] = _backend.active_backend()

    def observer():  # never enters a block: must keep the default throughout
        a_in.wait(5)
        b_in.wait(5)
        seen["observer"] = _backend.active_backend()

    threads = [threading.Thread(target=f) for f in (thread_a, thread_b, observer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"a_inside": other, "a_after": default, "b_before": default,
                    "b_inside": other, "b_after": default, "observer": default}
    assert _backend.active_backend() == default
    assert cl.backend_info()["backend"] == default


# --------------------------------------------------------------------------------------
# 5. NaN / inf in trees: one semantics on both backends (IEEE propagation, as mctx)

SPECIALS = [np.nan, np.inf, -np.inf]


def _tree_case(seed, n_special):
    rng = np.random.default_rng(seed)
    N = int(rng.integers(2, 9))
    parent = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, N)])
    x = rng.normal(size=N)
    for i in rng.choice(N, size=min(n_special, N), replace=False):
        x[i] = SPECIALS[int(rng.integers(0, 3))]
    return rng, parent, x


def _tree_calls(rng, parent, x):
    from creditlab import trees

    N = len(parent)
    r = rng.normal(size=N)
    g = rng.uniform(0, 1, size=N)
    visits = rng.integers(0, 3, size=N)
    leaf = np.array([N - 1])
    A = N
    q, qv, lg = x, rng.integers(0, 3, size=A), rng.normal(size=A)
    calls = {
        "backup_path": lambda: trees.backup_path(parent, r, g, x, visits, leaf, x[-1:]),
        "backup_returns": lambda: trees.backup_returns(parent, x, leaf)[0],
        "leaf_stats": lambda: trees.leaf_stats(parent, x),
        "sibling_stats": lambda: trees.sibling_stats(parent, x),
        "fork_relative": lambda: trees.fork_relative(parent, x),
        "prefix_tree_advantages": lambda: trees.prefix_tree_advantages(parent, x),
        "portool_style_advantages": lambda: trees.portool_style_advantages(parent, x),
        "qtransform_by_min_max": lambda: trees.qtransform_by_min_max(q, qv, -1.0, 1.0),
        "qtransform_by_parent_and_siblings":
            lambda: trees.qtransform_by_parent_and_siblings(q, qv, float(x[0])),
        "qtransform_completed_by_mix_value":
            lambda: trees.qtransform_completed_by_mix_value(q, qv, lg, float(x[0])),
    }
    for op in ("mean", "sum", "max", "min", "lse"):
        calls[f"reduce_up[{op}]"] = (lambda op=op: trees.reduce_up(parent, x, r, g, op=op))
    for op in ("sum", "prod", "max", "min"):
        calls[f"scan_down[{op}]"] = (lambda op=op: trees.scan_down(parent, x, op=op))
    return calls


@pytest.mark.skipif(not cl.backend_info()["compiled"], reason="needs the compiled backend")
@given(seed=st.integers(0, 100_000), n_special=st.integers(1, 3))
def test_tree_functions_agree_on_nan_and_inf_across_backends(seed, n_special):
    rng, parent, x = _tree_case(seed, n_special)
    calls = _tree_calls(rng, parent, x)
    with np.errstate(all="ignore"):
        with cl.use_backend("cpp"):
            got = {k: f() for k, f in calls.items()}
        with cl.use_backend("python"):
            want = {k: f() for k, f in calls.items()}
    for k in calls:
        g, w = got[k], want[k]
        g, w = (g, w) if isinstance(g, tuple) else ((g,), (w,))
        for a, b in zip(g, w):
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9,
                                       atol=1e-9, equal_nan=True, err_msg=k)


def test_qtransform_nan_in_a_visited_q_makes_the_row_nan_like_mctx():
    from creditlab import trees

    q, n = np.array([1.0, np.nan, 0.6, 0.0]), np.array([1, 1, 1, 0])
    for backend in BACKENDS:
        with cl.use_backend(backend):
            assert np.isnan(trees.qtransform_by_parent_and_siblings(q, n, 0.5)).all()
            assert np.isnan(trees.qtransform_completed_by_mix_value(q, n, np.zeros(4), 0.5)).all()
            # a NaN q of an unvisited action is never read
            q2 = np.array([1.0, np.nan, 0.6, 0.0])
            out = trees.qtransform_by_parent_and_siblings(q2, np.array([1, 0, 1, 1]), 0.5)
            np.testing.assert_allclose(out, [1.0, 0.0, 0.6, 0.0])


# --------------------------------------------------------------------------------------
# Also: seeding, 0-D shaping, argument checks named in the issue


@pytest.mark.filterwarnings("ignore")
def test_every_registered_env_resets_the_same_for_the_same_seed():
    import gymnasium as gym

    ids = [k for k in gym.registry if k.startswith("creditlab/")]
    assert "creditlab/StepChain-v0" in ids
    for env_id in ids:
        fresh = gym.make(env_id)
        first = fresh.reset(seed=3)[0]
        again = fresh.reset(seed=3)[0]
        other = gym.make(env_id).reset(seed=3)[0]
        for obs in (again, other):
            if isinstance(first, dict):  # a Dict observation space: compare each entry
                assert first.keys() == obs.keys(), env_id
                for k in first:
                    np.testing.assert_array_equal(first[k], obs[k], err_msg=f"{env_id} {k}")
            else:
                np.testing.assert_array_equal(np.asarray(first), np.asarray(obs),
                                              err_msg=env_id)


def test_potential_shaping_keeps_a_0d_shape():
    from creditlab import shaping

    out = shaping.potential_shaping(np.float64(1.0), np.float64(0.5), np.float64(2.0), 0.9)
    assert np.shape(out) == ()
    assert float(out) == pytest.approx(1.0 + 0.9 * 2.0 - 0.5)
    torch = pytest.importorskip("torch")
    t = shaping.potential_shaping(torch.tensor(1.0), torch.tensor(0.5), torch.tensor(2.0), 0.9)
    assert tuple(t.shape) == ()


@pytest.mark.parametrize("call, match", [
    (lambda: cl.grpo(np.ones(4), np.array([0, 0, 1, 1]), eps=-1), "eps"),
    (lambda: cl.grpo(np.ones(4), np.array([0, 0, 1, 1]), eps=np.nan), "eps"),
    (lambda: cl.grpo(np.ones(4), np.array([0, 0, 1, 1]), eps=np.inf), "eps"),
    (lambda: cl.grpo(np.ones(3), np.array([0, "a", 1], dtype=object)), "index"),
    (lambda: cl.masked_whiten(np.ones(3), np.ones(3, bool), eps=None), "eps"),
    (lambda: cl.discounted_returns(np.ma.masked_array(np.ones(3), [0, 1, 0]), 0.9),
     "rewards"),
    (lambda: cl.metrics.spearman(np.array([1.0, np.nan, 2.0]), np.arange(3.0)), "x"),
])
def test_loose_arguments_named_in_the_issue_are_refused(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_tree_arguments_named_in_the_issue_are_refused():
    from creditlab import trees

    parent = np.array([-1, 0, 0])
    with pytest.raises(ValueError, match="eps"):
        trees.fork_relative(parent, np.ones(3), eps=-1)
    with pytest.raises(ValueError, match="eps"):
        trees.fork_relative(parent, np.ones(3), eps=np.nan)
    with pytest.raises(ValueError, match="max_value"):
        trees.qtransform_by_min_max(np.ones(2), np.ones(2, int), 0.0, np.inf)
    with pytest.raises(TypeError, match="temperature"):
        trees.reduce_up(parent, np.ones(3), op="lse", temperature="1")
    with pytest.raises(TypeError, match="batch_size"):
        trees.SearchTree.empty(2.5, 3, 2)
    with pytest.raises(TypeError, match="dtype"):
        trees.SearchTree.empty(2, 3, 2, dtype=int)


def test_shaping_arguments_named_in_the_issue_are_refused():
    from creditlab import shaping

    fn = shaping.potential_shaping_fn(np.array([0.0, 1.0, 5.0]), 0.9)
    with pytest.raises(ValueError, match="obs"):
        fn(-1, 0, 0.0, 0, False)  # used to read phi[-1]
    with pytest.raises(ValueError, match="terminal"):
        shaping.progress_bonus_table(np.arange(3.0), 1.0, terminal=np.zeros(2, bool))
    with pytest.raises(ValueError, match="terminal"):
        shaping.checkpoint_bonus_table(np.array([0, 1, 0], bool), 1.0,
                                       terminal=np.zeros(5, bool))


def test_big_endian_input_is_converted():
    r = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(cl.discounted_returns(r.astype(">f8"), 0.9),
                                  cl.discounted_returns(r, 0.9))


# --------------------------------------------------------------------------------------
# creditlab.check messages


def test_check_says_when_a_solution_returns_none():
    def forgot_return(rewards, gamma, **kw):
        np.zeros_like(rewards)

    with pytest.raises(AssertionError, match="returned None.*return"):
        cl.check("ch01.discounted_returns", forgot_return, verbose=False)


def test_check_names_the_expected_parameters():
    def renamed(r, discount):
        return cl.discounted_returns(np.asarray(r, float), float(discount))

    with pytest.raises(AssertionError, match="by keyword.*'rewards'.*'gamma'") as err:
        cl.check("ch01.discounted_returns", renamed, verbose=False)
    assert "['r', 'discount']" in str(err.value)


def test_check_shows_the_neighbourhood_of_a_wrong_entry_in_long_inputs():
    from creditlab.exercises import check as grader

    def off_by_one_at_the_end(rewards, gamma, **kw):
        g = np.array(cl.discounted_returns(np.asarray(rewards, float), float(gamma), **kw))
        g[..., -1] += 1.0
        return g

    long = [(kw, exp) for kw, exp in grader._stored("ch01", "discounted_returns")
            if np.size(kw["rewards"]) > 8]
    assert long, "needs a stored case with a long rewards array"
    kw, expected = long[0]
    with pytest.raises(AssertionError) as err:
        grader._compare("ch01.discounted_returns", grader.call(off_by_one_at_the_end, kw),
                        expected, kw)
    msg = str(err.value)
    assert "wrong value at index" in msg and "rewards" in msg
    assert ":" in msg.split("rewards")[1] and "] = [" in msg  # a slice of the values shown


# --------------------------------------------------------------------------------------
# peer conventions offered as options


def test_rloo_singleton_option_matches_both_peer_conventions():
    s = np.array([1.0, 3.0, 5.0])
    idx = np.array([0, 0, 1])
    np.testing.assert_allclose(cl.rloo(s, idx), [-2.0, 2.0, 5.0])  # verl loop: keep
    np.testing.assert_allclose(cl.rloo(s, idx, singleton="zero"), [-2.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="singleton"):
        cl.rloo(s, idx, singleton="drop")


def test_grpo_std_floor_bounds_the_advantage_of_near_constant_groups():
    s = np.array([1.0, 1.0 + 1e-9, 2.0, 4.0])
    idx = np.array([0, 0, 1, 1])
    plain = cl.grpo(s, idx)
    floored = cl.grpo(s, idx, std_floor=0.1)
    assert abs(plain[0]) > 1e-4  # 5e-10 / (7e-10 + 1e-6): rounding blown up 2000x
    assert np.all(np.abs(floored[:2]) < 1e-7)
    np.testing.assert_allclose(floored[2:], plain[2:])  # groups with a real spread agree
    with pytest.raises(ValueError, match="std_floor"):
        cl.grpo(s, idx, std_floor=-1.0)


def test_softmin_transform_allocates_about_its_output_only():
    import tracemalloc

    rng = np.random.default_rng(0)
    r = rng.normal(size=(64, 4096)).astype(np.float32)
    m = rng.random(r.shape) < 0.9
    with np.errstate(all="ignore"):
        want = cl.reference.softmin_transform(r, 0.3, response_mask=m)
    for time_dim, rr, mm in ((-1, r, m), (0, r.T.copy(), m.T.copy())):
        cl.softmin_transform(rr, 0.3, response_mask=mm, time_dim=time_dim)  # warm up
        tracemalloc.start()
        got = cl.softmin_transform(rr, 0.3, response_mask=mm, time_dim=time_dim)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # the output plus one bool mask (a quarter of a float32 output), and small change
        assert peak <= 1.3 * got.nbytes + 64 * 1024, peak / got.nbytes
        np.testing.assert_allclose(got if time_dim == -1 else got.T, want, rtol=1e-5,
                                   atol=1e-7)


# --------------------------------------------------------------------------------------
# the documented CleanRL conversion


def _cleanrl_gae(rewards, values, dones, next_value, next_done, gamma, lam):
    """CleanRL's ppo.py advantage loop (dones[t]: obs t starts an episode)."""
    T = len(rewards)
    adv = np.zeros_like(rewards)
    last = 0.0
    for t in reversed(range(T)):
        if t == T - 1:
            nonterminal, nextvalues = 1.0 - next_done, next_value
        else:
            nonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
        delta = rewards[t] + gamma * nextvalues * nonterminal - values[t]
        adv[t] = last = delta + gamma * lam * nonterminal * last
    return adv


def test_the_documented_cleanrl_dones_conversion_matches_cleanrl():
    rng = np.random.default_rng(0)
    T, N = 16, 3
    rewards, values = rng.normal(size=(2, T, N))
    dones = (rng.random((T, N)) < 0.2).astype(np.float64)
    next_value, next_done = rng.normal(size=N), (rng.random(N) < 0.3).astype(np.float64)
    want = _cleanrl_gae(rewards, values, dones, next_value, next_done, 0.99, 0.95)
    dones_ours = np.concatenate([dones[1:], next_done[None]], axis=0).astype(bool)
    values_ours = np.concatenate([values, next_value[None]], axis=0)
    adv, _ = cl.gae(rewards, values_ours, 0.99, 0.95, dones=dones_ours, time_dim=0)
    np.testing.assert_allclose(adv, want, rtol=1e-10, atol=1e-10)
    as_is, _ = cl.gae(rewards, values_ours, 0.99, 0.95, dones=dones.astype(bool), time_dim=0)
    assert np.abs(as_is - want).max() > 0.1  # the buffer as it is: wrong
