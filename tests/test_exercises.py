"""Every solution passes its check; every stub fails it; stored answers are current."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import creditlab as cl
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch01 as ch01_checks

NAMES = check_mod.exercises()


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes(name):
    chapter, ex = name.split(".")
    sol = getattr(importlib.import_module(f"creditlab.solutions.{chapter}"), ex)
    assert cl.check(name, sol, verbose=False) is True


@pytest.mark.parametrize("name", NAMES)
def test_stub_fails(name):
    with pytest.raises(AssertionError, match="not implemented"):
        cl.check(name)


def test_wrong_answers_fail_with_a_message():
    def off_by_one(rewards, gamma):
        G, out = 0.0, np.zeros(len(rewards))
        for t in reversed(range(len(rewards))):
            out[t] = G  # forgot r_t
            G = rewards[t] + gamma * G
        return out

    with pytest.raises(AssertionError, match="wrong value"):
        cl.check("ch01.discounted_returns", off_by_one)

    def mutating(rewards):
        rewards.sort()
        return rewards

    with pytest.raises(AssertionError, match="modified its input"):
        cl.check("ch01.min_form_returns", mutating)

    def gae_ignoring_dones(rewards, values, gamma, lam, terminated):
        return cl.gae(rewards, values, gamma, lam)[0]

    with pytest.raises(AssertionError):
        cl.check("ch01.gae", gae_ignoring_dones)


def test_unknown_exercise():
    with pytest.raises(KeyError, match="unknown exercise"):
        cl.check("ch99.nothing", lambda: None)


def test_stored_answers_match_the_library():
    fresh = ch01_checks.make_cases()
    stored = check_mod._cases("ch01")
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)


@pytest.mark.parametrize("chapter", ["ch02", "ch03"])
def test_stored_answers_match_the_library_ch02_ch03(chapter):
    fresh = importlib.import_module(f"creditlab.exercises.checks.{chapter}").make_cases()
    stored = check_mod._cases(chapter)
    assert fresh.keys() == stored.keys()
    for k in fresh:
        np.testing.assert_allclose(stored[k], fresh[k], rtol=1e-12, err_msg=k)


def test_wrong_shaping_terminal_convention_fails():
    def keeps_terminal_potential(rewards, phi, next_phi, gamma, terminated):
        return rewards + gamma * next_phi - phi

    with pytest.raises(AssertionError):
        cl.check("ch02.potential_shaping", keeps_terminal_potential)
