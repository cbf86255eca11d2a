"""creditlab's estimators in verl's registry, checked against the installed verl.

Needs verl (``make test-integrations`` installs verl 0.9.1 with --no-deps plus the few
imports ``core_algos`` and ``ray_trainer.compute_advantage`` need); skipped without it.
Each registered estimator is compared with verl's own function (not a copy of its code)
on random masked batches; ``creditlab_min_form``, which verl lacks, with a plain loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("verl.trainer.ppo.core_algos")

from omegaconf import OmegaConf  # noqa: E402  (a verl dependency)
from verl import DataProto  # noqa: E402
from verl.trainer.config import AlgoConfig  # noqa: E402
from verl.trainer.ppo import core_algos  # noqa: E402
from verl.trainer.ppo.ray_trainer import compute_advantage  # noqa: E402

from creditlab.integrations import verl as cv  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def batch(seed, B, T, dtype=torch.float32, mask_dtype=torch.int64, group=4, sparse=False):
    """verl-shaped inputs: right-padded response masks, uid strings, singleton groups."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).to(mask_dtype)
    r = torch.randn(B, T, generator=g, dtype=dtype)
    if sparse:  # process rewards on some tokens only (step ends), 0 elsewhere
        r = r * (torch.rand(B, T, generator=g) < 0.2)
    r = r * mask
    values = torch.randn(B, T, generator=g, dtype=dtype)
    uids = [str(uuid.UUID(int=int(k))) for k in torch.randint(0, 2**62, (B,), generator=g)]
    # groups of `group` consecutive responses, and the last response alone
    index = np.array([uids[i // group] for i in range(B - 1)] + [uids[-1]], dtype=object)
    return r, values, mask, index


SHAPES = [(1, 1), (2, 5), (16, 33), (64, 128)]


def test_registry_returns_ours():
    for name, fn in cv.ESTIMATORS.items():
        assert core_algos.get_adv_estimator_fn(name) is fn
    assert set(cv.ESTIMATORS) == {
        "creditlab_gae", "creditlab_grpo", "creditlab_rloo", "creditlab_min_form"}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("B,T", SHAPES[1:])  # whitening needs two unmasked tokens
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gae_equals_verl(seed, B, T, dtype):
    r, v, m, _ = batch(seed, B, T, dtype, mask_dtype=torch.float32)
    want_a, want_r = core_algos.compute_gae_advantage_return(r, v, m, 0.99, 0.95)
    got_a, got_r = cv.creditlab_gae(r, v, m, 0.99, 0.95)
    assert got_a.dtype == want_a.dtype and got_a.shape == (B, T)
    torch.testing.assert_close(got_r, want_r)
    torch.testing.assert_close(got_a, want_a)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("B,T", SHAPES)
@pytest.mark.parametrize("norm", [True, False])
@pytest.mark.parametrize("mask_dtype", [torch.int64, torch.float32, torch.bool])
def test_grpo_equals_verl(seed, B, T, norm, mask_dtype):
    r, _, m, idx = batch(seed, B, T, mask_dtype=mask_dtype)
    want, want2 = core_algos.compute_grpo_outcome_advantage(
        r.clone(), m, idx, norm_adv_by_std_in_grpo=norm)  # verl writes into its sums
    got, got2 = cv.creditlab_grpo(r, m, idx, norm_adv_by_std_in_grpo=norm)
    torch.testing.assert_close(got, want)
    assert got2 is got and want2 is want
    # from the config, as verl's generic compute_advantage passes it
    cfg, _ = cv.creditlab_grpo(r, m, idx, config=AlgoConfig(norm_adv_by_std_in_grpo=norm))
    torch.testing.assert_close(cfg, want)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("B,T", SHAPES)
def test_rloo_equals_verl(seed, B, T):
    r, _, m, idx = batch(seed, B, T)
    want, _ = core_algos.compute_rloo_outcome_advantage(r.clone(), m, idx)
    got, _ = cv.creditlab_rloo(r, m, idx)
    torch.testing.assert_close(got, want)


def min_form_loop(r, m, index, tokens="scored", whiten=True):
    """PURE-style min-form credit as a plain loop over responses and tokens."""
    B, T = r.shape
    rr, mm = r.double().tolist(), (m != 0).tolist()
    G = [[0.0] * T for _ in range(B)]
    for i in range(B):
        cur = None
        for t in reversed(range(T)):
            if mm[i][t] and (tokens == "all" or rr[i][t] != 0):
                cur = rr[i][t] if cur is None else min(cur, rr[i][t])
            G[i][t] = (cur if cur is not None else 0.0) if mm[i][t] else 0.0
    tot = [sum(row) for row in G]
    A = [[0.0] * T for _ in range(B)]
    for i in range(B):
        others = [j for j in range(B) if j != i and index is not None and index[j] == index[i]]
        b = sum(tot[j] for j in others) / (len(others) * T) if others else 0.0
        for t in range(T):
            A[i][t] = (G[i][t] - b) if mm[i][t] else 0.0
    A = torch.tensor(A, dtype=torch.float64)
    mb = m != 0
    if whiten and int(mb.sum()) > 1:
        vals = A[mb]
        A = torch.where(mb, (A - vals.mean()) / torch.sqrt(vals.var() + 1e-8), 0.0)
    return A, torch.tensor(G, dtype=torch.float64)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("B,T", SHAPES)
@pytest.mark.parametrize("tokens", ["scored", "all"])
@pytest.mark.parametrize("grouped", [True, False])
def test_min_form_equals_loop(seed, B, T, tokens, grouped):
    r, _, m, idx = batch(seed, B, T, dtype=torch.float64, sparse=True)
    idx = idx if grouped else None
    cfg = OmegaConf.create({"creditlab_min_form_tokens": tokens})
    want_a, want_g = min_form_loop(r, m, idx, tokens)
    got_a, got_g = cv.creditlab_min_form(r, m, idx, config=cfg)
    torch.testing.assert_close(got_g, want_g)
    torch.testing.assert_close(got_a, want_a)


def test_min_form_blames_the_worst_step():
    """Sanity check on constructed numbers: every token up to the worst step gets it."""
    r = torch.tensor([[0.0, 0.9, 0.0, 0.2, 0.0, 0.7]])
    m = torch.ones_like(r, dtype=torch.int64)
    _, G = cv.creditlab_min_form(r, m, None, config={"creditlab_min_form_whiten": False})
    torch.testing.assert_close(G, torch.tensor([[0.2, 0.2, 0.2, 0.2, 0.7, 0.7]]))
    _, G = cv.creditlab_min_form(r, m, None, config={"creditlab_min_form_tokens": "all"})
    # PURE's verl code: the unscored tokens' zeros enter the minimum, min(0, ...)
    torch.testing.assert_close(G, torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 0.7]]))


def data_proto(seed, B, T, with_values=False):
    r, v, m, idx = batch(seed, B, T, sparse=False)
    tensors = {"token_level_rewards": r, "response_mask": m}
    if with_values:
        tensors["values"] = v
    return DataProto.from_dict(tensors=tensors, non_tensors={"uid": idx})


@pytest.mark.parametrize("ours,theirs,norm", [
    ("creditlab_grpo", "grpo", True), ("creditlab_grpo", "grpo", False),
    ("creditlab_rloo", "rloo", True)])
def test_compute_advantage_end_to_end(ours, theirs, norm):
    """verl's own compute_advantage on a DataProto, one config string apart."""
    cfg = AlgoConfig(adv_estimator=ours, norm_adv_by_std_in_grpo=norm)
    got = compute_advantage(data_proto(0, 64, 48), adv_estimator=ours,
                            norm_adv_by_std_in_grpo=norm, config=cfg)
    want = compute_advantage(data_proto(0, 64, 48), adv_estimator=theirs,
                             norm_adv_by_std_in_grpo=norm, config=cfg)
    torch.testing.assert_close(got.batch["advantages"], want.batch["advantages"])
    torch.testing.assert_close(got.batch["returns"], want.batch["returns"])


def test_compute_advantage_min_form_from_config():
    cfg = OmegaConf.create({"adv_estimator": "creditlab_min_form", "gamma": 1.0, "lam": 1.0,
                            "norm_adv_by_std_in_grpo": True,
                            "creditlab_min_form_tokens": "all"})
    d = data_proto(1, 32, 40)
    want_a, want_g = min_form_loop(d.batch["token_level_rewards"], d.batch["response_mask"],
                                   d.non_tensor_batch["uid"], "all")
    out = compute_advantage(d, adv_estimator=cfg.adv_estimator, config=cfg)
    torch.testing.assert_close(out.batch["advantages"], want_a.float())
    torch.testing.assert_close(out.batch["returns"], want_g.float())


def test_patch_gae_runs_verls_gae_path_on_creditlab():
    cfg = AlgoConfig(adv_estimator="gae", gamma=0.99, lam=0.9)
    want = compute_advantage(data_proto(2, 32, 64, True), adv_estimator="gae",
                             gamma=0.99, lam=0.9, config=cfg)
    verls = core_algos.compute_gae_advantage_return
    restore = cv.patch_gae()
    try:
        assert core_algos.compute_gae_advantage_return is cv.creditlab_gae
        assert core_algos.get_adv_estimator_fn("gae") is cv.creditlab_gae
        got = compute_advantage(data_proto(2, 32, 64, True), adv_estimator="gae",
                                gamma=0.99, lam=0.9, config=cfg)
    finally:
        restore()
    assert core_algos.compute_gae_advantage_return is verls
    torch.testing.assert_close(got.batch["advantages"], want.batch["advantages"])
    torch.testing.assert_close(got.batch["returns"], want.batch["returns"])


def test_gae_from_config_line_says_what_to_do():
    d = data_proto(3, 8, 8)
    with pytest.raises(ValueError, match="patch_gae"):
        compute_advantage(d, adv_estimator="creditlab_gae", config=AlgoConfig())


def test_bad_input_names_the_argument_and_mutates_nothing():
    r, v, m, idx = batch(4, 8, 12)
    r0, m0, idx0 = r.clone(), m.clone(), idx.copy()
    with pytest.raises(ValueError, match="response_mask"):
        cv.creditlab_grpo(r, m[:, :-1], idx)
    with pytest.raises(ValueError, match="index"):
        cv.creditlab_min_form(r, m, idx[:-1])
    with pytest.raises(TypeError, match="token_level_rewards"):
        cv.creditlab_rloo(r.numpy(), m, idx)
    with pytest.raises(ValueError, match="creditlab_min_form_tokens"):
        cv.creditlab_min_form(r, m, idx, config={"creditlab_min_form_tokens": "some"})
    for fn in (cv.creditlab_grpo, cv.creditlab_rloo, cv.creditlab_min_form):
        fn(r, m, idx)
    cv.creditlab_gae(r, v, m, 1.0, 1.0)
    assert torch.equal(r, r0) and torch.equal(m, m0) and (idx == idx0).all()


def _run(code, **env):
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, cwd="/", timeout=300)


CHECK = ("import verl\nfrom verl.trainer.ppo import core_algos\n"
         "print(sorted(k for k in core_algos.ADV_ESTIMATOR_REGISTRY if 'creditlab' in k))")
NAMES = "['creditlab_gae', 'creditlab_grpo', 'creditlab_min_form', 'creditlab_rloo']"


def test_import_hook_env_var():
    """VERL_USE_EXTERNAL_MODULES: verl imports the module in every process."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    p = _run(CHECK, VERL_USE_EXTERNAL_MODULES="creditlab.integrations.verl",
             VERL_USE_EXTERNAL_PLUGINS="none", PYTHONPATH=path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == NAMES


def test_import_hook_entry_point():
    """pip-installed creditlab: `import verl` loads the verl.plugins entry point."""
    eps = [e for e in metadata.entry_points(group="verl.plugins") if e.name == "creditlab"]
    if not eps:
        pytest.skip("creditlab is not pip-installed here (no verl.plugins entry point)")
    p = _run(CHECK)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == NAMES
    p = _run(CHECK, VERL_USE_EXTERNAL_PLUGINS="none")
    assert p.stdout.strip().splitlines()[-1] == "[]"
