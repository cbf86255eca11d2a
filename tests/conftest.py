"""Shared test configuration.

- hypothesis profiles: "dev" (default) and "ci" (set HYPOTHESIS_PROFILE=ci): no deadline,
  since a 2-core CI machine has noisy timings.
- around each test call, the CUDA device tests' check that the emulator launched a kernel
  (tests/cuda_device.py: check_launches).
- a per-notebook time budget: nbval runs each notebook cell as a test item; the durations
  of a notebook's cells are summed and any notebook over NOTEBOOK_BUDGET_S fails the run.
  The budget plugin is registered globally here so it also sees the book/ items when
  pytest is called as `pytest tests book --nbval-lax`.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

NOTEBOOK_BUDGET_S = float(os.environ.get("CREDITLAB_NOTEBOOK_BUDGET_S", "180"))


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # noqa: ANN201
    """Around each test: the CUDA device tests' kernel-launch check (tests/cuda_device.py)."""
    cuda_device = sys.modules.get("cuda_device")
    if cuda_device is None:
        return (yield)
    with cuda_device.check_launches(item):
        return (yield)


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("creditlab-notebook-budget"):
        config.pluginmanager.register(NotebookBudget(NOTEBOOK_BUDGET_S), "creditlab-notebook-budget")


REPO = Path(__file__).resolve().parents[1]
