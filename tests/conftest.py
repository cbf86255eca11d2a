"""Shared test configuration.

- hypothesis profiles: "dev" (default) and "ci" (set HYPOTHESIS_PROFILE=ci): no deadline,
  since a 2-core CI machine has noisy timings.
- around each test call, the CUDA device tests' check that the emulator launched a kernel
  (tests/cuda_device.py: check_launches).
(The chapters' time budget under nbval lives in book/conftest.py.)
"""

from __future__ import annotations

import os
import sys
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # noqa: ANN201
    """Around each test: the CUDA device tests' kernel-launch check (tests/cuda_device.py)."""
    cuda_device = sys.modules.get("cuda_device")
    if cuda_device is None:
        return (yield)
    with cuda_device.check_launches(item):
        return (yield)


REPO = Path(__file__).resolve().parents[1]
