"""The dense layers of the models' heads and attention, in the model's compute dtype."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import nnx

__all__ = ["linear"]


def linear(
    in_features: int, out_features: int, *, compute_dtype: Any, rngs: nnx.Rngs, **options: Any
) -> nnx.Linear:
    """``nnx.Linear`` ``(..., in_features) -> (..., out_features)`` with a float32 result.

    Its product takes ``compute_dtype`` operands, accumulated into float32 (Flax's mixed
    precision: ``dtype=compute_dtype, preferred_element_type=float32``; Flax casts the bias
    to ``compute_dtype`` too, and adds it in float32). The parameters are stored in float32.

    Args:
        in_features: input features.
        out_features: output features.
        compute_dtype: ``jnp.float32`` or ``jnp.bfloat16``.
        rngs: ``nnx.Rngs`` with a ``params`` stream.
        **options: ``nnx.Linear``'s other options, e.g. ``use_bias=False``.

    Returns:
        The layer.
    """
    return nnx.Linear(
        in_features, out_features, dtype=compute_dtype, preferred_element_type=jnp.float32,
        rngs=rngs, **options,
    )  # fmt: skip
