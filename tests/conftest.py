"""Shared pytest fixtures."""

from __future__ import annotations

import os

import numpy as np
import pytest

# The suite runs in several worker processes (pytest-xdist); on a GPU each would otherwise
# reserve most of the device's memory at its first computation.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
