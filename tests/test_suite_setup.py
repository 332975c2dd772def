"""The suite's own setup (``conftest.py``): one compilation cache per run, lighter compilation."""

from __future__ import annotations

import os
import pathlib

import jax
import jax.numpy as jnp


def test_the_run_compiles_into_one_cache_and_without_llvm_optimisation():
    directory = os.environ["JAX_COMPILATION_CACHE_DIR"]
    assert jax.config.jax_compilation_cache_dir == directory
    disabled = os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"].lower() in ("1", "true", "yes", "on")
    assert jax.config.read("jax_disable_most_optimizations") == disabled
    jax.jit(lambda x: x * 2.0 + 1.0)(jnp.arange(3.0)).block_until_ready()
    if os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS") == "0":  # as conftest sets
        assert any(pathlib.Path(directory).iterdir())  # the program went into the cache
