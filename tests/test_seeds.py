"""creditlab.seeds / creditlab.seed: the chapters' seeds and their environment override."""

from __future__ import annotations

import pytest

import creditlab as cl


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("CREDITLAB_SEEDS", raising=False)
    monkeypatch.delenv("CREDITLAB_SEED", raising=False)


def test_defaults_without_override():
    assert cl.seeds([0, 1, 2]) == [0, 1, 2]
    assert cl.seeds(range(5)) == [0, 1, 2, 3, 4]
    assert cl.seed(0) == 0


def test_seeds_override(monkeypatch):
    monkeypatch.setenv("CREDITLAB_SEEDS", "5,6, 7,8,9")
    assert cl.seeds([0, 1, 2]) == [5, 6, 7, 8, 9]  # length follows the override
    assert cl.seed(0) == 5  # the single seed follows the list's first entry


def test_seed_override_wins(monkeypatch):
    monkeypatch.setenv("CREDITLAB_SEEDS", "5,6,7")
    monkeypatch.setenv("CREDITLAB_SEED", "9")
    assert cl.seed(0) == 9
    assert cl.seeds([0, 1]) == [5, 6, 7]
    monkeypatch.delenv("CREDITLAB_SEEDS")
    assert cl.seeds([0, 1]) == [0, 1]  # CREDITLAB_SEED alone leaves lists alone


@pytest.mark.parametrize("bad", ["a,b", "-1", "1.5"])
def test_bad_values_raise(monkeypatch, bad):
    monkeypatch.setenv("CREDITLAB_SEEDS", bad)
    with pytest.raises(ValueError, match="CREDITLAB_SEEDS"):
        cl.seeds([0])
    monkeypatch.delenv("CREDITLAB_SEEDS")
    monkeypatch.setenv("CREDITLAB_SEED", "3,4")
    with pytest.raises(ValueError, match="CREDITLAB_SEED"):
        cl.seed(0)
