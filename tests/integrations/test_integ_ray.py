"""Returns over Parquet rollout logs on a local Ray instance, against the in-memory result.

Needs ray[data] and pyarrow (``make test-integrations``); skipped without them.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pq = pytest.importorskip("pyarrow.parquet")

import pandas as pd  # noqa: E402  (a ray[data] dependency)

import creditlab as cl  # noqa: E402
from creditlab.integrations import ray as cray  # noqa: E402

EPISODES, MEAN_STEPS, FILES = 3000, 20, 6
GAMMA, LAM = 0.99, 0.95


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollouts")
    n = cray.write_example_rollouts(path, episodes=EPISODES, mean_steps=MEAN_STEPS,
                                    files=FILES, seed=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    yield path, n
    ray.shutdown()


def in_memory(path, kind):
    """Every episode on its own, in memory: sorted by step, creditlab on the 1-D row."""
    df = pd.concat([pq.read_table(p).to_pandas() for p in sorted(path.glob("*.parquet"))])
    df = df.sort_values(["episode_id", "step"]).reset_index(drop=True)
    ret, adv = np.empty(len(df)), np.empty(len(df))
    for _, idx in df.groupby("episode_id").indices.items():
        r, v = df["reward"].to_numpy()[idx], df["value"].to_numpy()[idx]
        if kind == "discounted":
            ret[idx] = cl.discounted_returns(r, GAMMA)
        elif kind == "min_form":
            ret[idx] = cl.min_form_returns(r)
        elif kind == "lambda":
            ret[idx] = cl.lambda_returns(r, v, GAMMA, LAM)
        else:
            adv[idx], ret[idx] = cl.gae(r, v, GAMMA, LAM)
    df["return"] = ret
    if kind == "gae":
        df["advantage"] = adv
    return df


@pytest.mark.parametrize("kind", cray.KINDS)
def test_ray_equals_in_memory(logs, kind):
    path, n = logs
    got = cray.returns_over_parquet(path, kind=kind, gamma=GAMMA, lam=LAM).to_pandas()
    assert len(got) == n
    got = got.sort_values(["episode_id", "step"]).reset_index(drop=True)
    want = in_memory(path, kind)
    np.testing.assert_array_equal(got["episode_id"], want["episode_id"])
    np.testing.assert_array_equal(got["step"], want["step"])
    cols = ["return"] + (["advantage"] if kind == "gae" else [])
    for c in cols:
        assert got[c].to_numpy().dtype == np.float32  # the reward's dtype
        np.testing.assert_allclose(got[c], want[c], rtol=1e-5, atol=1e-5)


def test_no_episode_spans_two_blocks(logs):
    """The grouping episode_returns uses: several blocks, each episode in exactly one."""
    path, _ = logs

    def tag(batch):
        batch["block"] = np.full(len(batch["episode_id"]), uuid.uuid4().hex)
        return batch

    ds = ray.data.read_parquet(str(path)).sort("episode_id").materialize()
    assert ds.num_blocks() > 1
    df = ds.map_batches(tag, batch_size=None, batch_format="numpy").to_pandas()
    assert df["block"].nunique() > 1
    assert (df.groupby("episode_id")["block"].nunique() == 1).all()
    # and the input really does scatter episodes over files
    files = [pq.read_table(p).column("episode_id").to_numpy() for p in path.glob("*.parquet")]
    in_files = pd.Series(np.concatenate([np.full(len(f), k) for k, f in enumerate(files)]),
                         index=np.concatenate(files))
    assert (in_files.groupby(level=0).nunique() > 1).mean() > 0.5


def test_block_returns_bad_input():
    good = {"episode_id": np.array([1, 0, 1]), "step": np.array([1, 0, 0]),
            "reward": np.array([1.0, 2.0, 3.0], np.float32)}
    copy = {k: v.copy() for k, v in good.items()}
    out = cray.block_returns(good, kind="discounted", gamma=0.5)
    np.testing.assert_allclose(out["return"], [2.0, 3.5, 1.0])  # ep 0: [2]; ep 1: [3, 1]
    assert all((good[k] == copy[k]).all() for k in good)  # inputs unchanged
    with pytest.raises(ValueError, match="value"):
        cray.block_returns(good, kind="gae")
    with pytest.raises(ValueError, match="kind"):
        cray.block_returns(good, kind="sum")
    with pytest.raises(ValueError, match="gamma"):
        cray.block_returns(good, gamma=1.5)
    with pytest.raises(TypeError, match="ds"):
        cray.episode_returns(pd.DataFrame(good))
