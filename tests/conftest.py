"""Shared pytest fixtures."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

# The suite runs in several worker processes (pytest-xdist); on a GPU each would otherwise
# reserve most of the device's memory at its first computation.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_under_basetemp(tmp_path_factory):
    """Points ``tempfile`` (and subprocesses, through ``TMPDIR``) at pytest's temporary directory.

    TFDS's ``DatasetInfo.initialize_from_bucket`` makes a ``tempfile.mkdtemp("tfds")`` directory
    that it never removes; under pytest's base temporary directory such leftovers are deleted
    with old test runs instead of piling up in the system's ``/tmp``.
    """
    directory = str(tmp_path_factory.mktemp("tempfile"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", directory)
        patch.setenv("TMPDIR", directory)
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
