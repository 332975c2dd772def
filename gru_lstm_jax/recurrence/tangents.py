"""Symbolic-zero tangents of the fused recurrence's ``custom_jvp`` (``symbolic_zeros=True``).

A tangent that JAX knows to be zero arrives as a ``SymbolicZero``; the fused recurrence skips
the work it would feed, and makes zeros only where a value is needed.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

__all__ = ["all_zero", "instantiate", "is_zero"]


def is_zero(tangent: Any) -> bool:
    """Whether ``tangent`` is a ``custom_jvp`` symbolic zero (``symbolic_zeros=True``)."""
    return type(tangent) is SymbolicZero


def instantiate(tangents: Any, primals: Any) -> Any:
    """``tangents`` with every symbolic zero replaced by zeros like its primal."""
    return jax.tree.map(
        lambda d, p: jnp.zeros_like(p) if is_zero(d) else d, tangents, primals, is_leaf=is_zero
    )


def all_zero(tangents: Any) -> bool:
    """Whether every leaf of ``tangents`` is a symbolic zero."""
    return all(map(is_zero, jax.tree.leaves(tangents, is_leaf=is_zero)))
