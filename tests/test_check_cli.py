"""``python -m creditlab.check chNN student.py``: correct, wrong and missing solutions."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from creditlab.exercises import check as check_mod
from creditlab.exercises import grade

CHAPTERS = check_mod.chapters()


def solution_source(chapter: str) -> str:
    return inspect.getsource(importlib.import_module(f"creditlab.solutions.{chapter}"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "creditlab.check", *args],
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_correct_solutions_pass(tmp_path, chapter):
    student = tmp_path / "student.py"
    student.write_text(solution_source(chapter))
    results = grade.grade_file(chapter, student)
    assert [r.exercise for r in results] == [
        f"{chapter}.{e}" for e in check_mod.checks_module(chapter).INVARIANTS]
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_cli_correct_file_exits_zero_and_prints_a_table(tmp_path):
    student = tmp_path / "student.py"
    student.write_text(solution_source("ch01") + "\nprint('hello from the student')\n")
    proc = run_cli("ch01", str(student))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "exercise" in proc.stdout and "ch01.gae" in proc.stdout and "PASS" in proc.stdout
    assert "4/4 exercises pass" in proc.stdout
    assert "hello from the student" not in proc.stdout  # student prints go to stderr
    assert "hello from the student" in proc.stderr


def test_cli_wrong_solution_fails_with_a_message(tmp_path):
    student = tmp_path / "student.py"
    student.write_text(solution_source("ch01") + '''

def discounted_returns(rewards, gamma):  # forgot r_t: shifted by one step
    G, out = 0.0, np.zeros(len(rewards))
    for t in reversed(range(len(rewards))):
        out[t] = G
        G = rewards[t] + gamma * G
    return out
''')
    proc = run_cli("ch01", str(student), "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    by_name = {r["exercise"]: r for r in report["results"]}
    assert by_name["ch01.discounted_returns"]["status"] == "fail"
    assert "wrong value" in by_name["ch01.discounted_returns"]["message"]
    assert by_name["ch01.gae"]["status"] == "pass"
    assert report["passed"] == report["total"] - 1 and report["ok"] is False


def test_cli_missing_and_crashing_functions(tmp_path):
    student = tmp_path / "student.py"
    student.write_text('''
import numpy as np

def td_errors(rewards, values, gamma):
    return rewards + gamma * values[1:] - values[:-1]

def min_form_returns(rewards):
    raise ValueError("oops")
''')
    proc = run_cli("1", str(student), "--json")  # "1" means ch01
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    status = {r["exercise"]: r["status"] for r in report["results"]}
    assert status == {"ch01.discounted_returns": "missing", "ch01.td_errors": "pass",
                      "ch01.gae": "missing", "ch01.min_form_returns": "error"}
    messages = {r["exercise"]: r["message"] for r in report["results"]}
    assert "no function named 'gae'" in messages["ch01.gae"]
    assert "ValueError: oops" in messages["ch01.min_form_returns"]


def test_cli_unimportable_file_fails_every_exercise(tmp_path):
    student = tmp_path / "student.py"
    student.write_text("def gae(:\n")
    results = grade.grade_file("ch01", student)
    assert {r.status for r in results} == {"error"}
    assert "SyntaxError" in results[0].message


def test_cli_usage_errors_exit_two(tmp_path):
    assert run_cli("ch99", str(tmp_path / "x.py")).returncode == 2
    proc = run_cli("ch01", str(tmp_path / "does_not_exist.py"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_table_format():
    results = [grade.Result("ch01.gae", "pass", "ok", 0.0),
               grade.Result("ch01.td_errors", "missing", "no function named 'td_errors'", 0.0)]
    table = grade.format_table(results)
    assert table.splitlines()[0].split() == ["exercise", "result", "message"]
    assert "MISSING" in table and "1/2 exercises pass" in table


def test_creditlab_check_stays_callable(tmp_path):
    import creditlab.check  # noqa: F401 - importing the submodule must not replace the callable

    sol = importlib.import_module("creditlab.solutions.ch01")
    assert creditlab.check("ch01.gae", sol.gae, verbose=False) is True
    assert callable(creditlab.check) and creditlab.check.exercises() == check_mod.exercises()
    with pytest.raises(AssertionError, match="not implemented"):
        creditlab.check("ch01.gae")


def test_main_in_process(tmp_path, capsys):
    student = tmp_path / "s.py"
    student.write_text(solution_source("ch02"))
    assert grade.main(["ch02", str(student)]) == 0
    assert "3/3 exercises pass" in capsys.readouterr().out
    Path(student).write_text("x = 1\n")
    assert grade.main(["ch02", str(student), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["passed"] == 0
