"""The speed and memory harness: training steps timed side by side, and peak memory.

Its modules and scripts, and how it measures: ``README.md`` beside this file. Importing the
package registers the built-in implementations (:mod:`gru_lstm_jax.bench.impls`).
"""

from gru_lstm_jax.bench import impls as impls
from gru_lstm_jax.bench.registry import (
    Impl,
    available_impls,
    build_trainer,
    default_impls,
    get_impl,
    implements,
    register_impl,
)

__all__ = [
    "Impl",
    "available_impls",
    "build_trainer",
    "default_impls",
    "get_impl",
    "implements",
    "register_impl",
]
