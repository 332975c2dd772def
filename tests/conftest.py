"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest

# The suite runs in several worker processes (pytest-xdist); on a GPU each would otherwise
# reserve most of the device's memory at its first computation.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# XLA's backend (LLVM) optimisation off: the tests' programs are tiny and compiling them is most
# of the suite's time. XLA's own passes (fusion, buffer assignment) still run, so memory analyses
# are unchanged, and the numbers differ only by rounding. Test modules marked
# `pytest.mark.compiled_as_users` (the fused recurrence, memory) compile with the optimisation on
# all the same (the fixture below); `JAX_DISABLE_MOST_OPTIMIZATIONS=0 python -m pytest` runs the
# whole suite fully optimised, as users' programs are compiled.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

_COMPILATION_CACHE = "JAX_COMPILATION_CACHE_DIR"
_MIN_COMPILE_TIME = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
_CACHE_DIRECTORY = pytest.StashKey[str]()


def pytest_configure(config):
    """Gives the whole run one JAX persistent compilation cache, removed when the run ends.

    Compilation is most of the suite's time on a 2-core CPU, and many tests compile programs
    that another test, worker process, experiment script or notebook kernel has compiled
    already (the same smoke model, a function rebuilt from a fresh closure); the cache compiles
    each once. The controller makes the directory before pytest-xdist starts its workers, which
    inherit it through the environment, as do subprocesses; JAX reads it when it is first
    imported, which no plugin does before this hook. A cache the caller set up in
    ``JAX_COMPILATION_CACHE_DIR`` is used as it is.
    """
    if hasattr(config, "workerinput") or _COMPILATION_CACHE in os.environ:
        return
    directory = tempfile.mkdtemp(prefix="gru_lstm_jax_test_compilation_cache_")
    config.stash[_CACHE_DIRECTORY] = directory
    os.environ[_COMPILATION_CACHE] = directory
    os.environ[_MIN_COMPILE_TIME] = "0"


def pytest_unconfigure(config):
    directory = config.stash.get(_CACHE_DIRECTORY, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        os.environ.pop(_COMPILATION_CACHE, None)
        os.environ.pop(_MIN_COMPILE_TIME, None)


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


@pytest.fixture(scope="module", autouse=True)
def _compiled_as_users(request):
    """Compiles a module marked ``compiled_as_users`` with XLA's optimisations on, as users do.

    The in-memory caches of compiled programs are cleared on the way in and out, so that no
    program compiled under the other setting is reused.
    """
    if request.node.get_closest_marker("compiled_as_users") is None:
        yield
        return
    import jax

    before = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", False)
    jax.clear_caches()
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", before)
        jax.clear_caches()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
