"""pytest settings for running the book with nbval (``pytest --nbval-lax book/``, ``make nbval``).

- The HTML build leaves executed copies of every chapter under ``_build/``; pytest does not
  skip ``_build`` by default, so without this the chapters would be collected twice.
- A per-chapter time budget: nbval runs each notebook cell as a test item; the durations of
  a notebook's cells are summed and any notebook over NOTEBOOK_BUDGET_S (150 s, or
  $CREDITLAB_NOTEBOOK_BUDGET_S) fails the run. ``make test`` executes the chapters with
  tools/run_book.py instead, which enforces the same budget.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

collect_ignore_glob = ["_build/*", "_build/**/*"]

NOTEBOOK_BUDGET_S = float(os.environ.get("CREDITLAB_NOTEBOOK_BUDGET_S", "150"))


class NotebookBudget:
    """Sum nbval cell durations per notebook; fail the session past the budget."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path = report.nodeid.split("::")[0]
        if path.endswith(".ipynb"):
            self.seconds[path] += report.duration

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
        if not self.seconds:
            return
        terminalreporter.section("notebook run times")
        for path, s in sorted(self.seconds.items()):
            flag = "  OVER BUDGET" if s > self.budget_s else ""
            terminalreporter.write_line(f"{s:7.1f} s  {path}{flag}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        over = {p: s for p, s in self.seconds.items() if s > self.budget_s}
        if over:
            for p, s in over.items():
                print(f"\nnotebook over its {self.budget_s:.0f} s budget: {p} took {s:.1f} s")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED



def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("creditlab-notebook-budget"):
        config.pluginmanager.register(
            NotebookBudget(NOTEBOOK_BUDGET_S), "creditlab-notebook-budget"
        )
