"""Argument checks for every layer: a ``ValueError`` or ``TypeError`` that names the argument.

It imports nothing of the package. Ints may be numpy integers (``np.int64(4)``) and reals numpy
floats; a ``bool`` is never taken for a number.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = [
    "COMPUTE_DTYPES",
    "check_bool",
    "check_compute_dtype",
    "check_int",
    "check_positive_int",
    "check_rate",
    "check_real",
]

# The dtypes of the operands of a model's matrix products (mixed precision: see nn.RNN).
COMPUTE_DTYPES = ("float32", "bfloat16")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value: Any, name: str, *, minimum: int) -> None:
    """Checks that ``value`` is an int ``>= minimum``.

    Raises:
        ValueError: ``"{name} must be an int >= {minimum}; got {value!r}"``.
    """
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


def check_positive_int(value: Any, name: str) -> None:
    """Checks that ``value`` is an int ``> 0``.

    Raises:
        ValueError: ``"{name} must be a positive int; got {value!r}"``.
    """
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive int; got {value!r}")


def check_real(
    value: Any, name: str, expected: str, in_range: Callable[[Any], bool] | None = None
) -> None:
    """Checks that ``value`` is a finite real number for which ``in_range`` (if given) holds.

    Raises:
        ValueError: ``"{name} must be {expected}; got {value!r}"``; ``expected`` says in words
            what ``in_range`` accepts, e.g. ``"a fraction in (0, 1)"``.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or (in_range is not None and not in_range(value))
    ):
        raise ValueError(f"{name} must be {expected}; got {value!r}")


def check_bool(value: Any, name: str) -> None:
    """Checks that ``value`` is a Python ``bool`` (not ``np.bool_``, ``0``/``1`` or ``"false"``).

    Raises:
        TypeError: ``"{name} must be a bool (True or False); got {value!r}"``.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False); got {value!r}")


def check_rate(value: Any, name: str) -> None:
    """Checks that ``value`` is a dropout rate, a real number in ``[0, 1)``.

    Raises:
        ValueError: ``"{name} must be a dropout rate in [0, 1); got {value!r}"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a dropout rate in [0, 1); got {value!r}")


def check_compute_dtype(value: Any, name: str) -> np.dtype:
    """Checks that ``value`` is one of :data:`COMPUTE_DTYPES`, by name or as a dtype.

    Returns:
        The dtype, ``jnp.float32`` or ``jnp.bfloat16``.

    Raises:
        ValueError: ``"{name} must be 'float32' or 'bfloat16' ..."`` (:data:`COMPUTE_DTYPES`).
    """
    try:
        dtype = jnp.dtype(value)
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.name not in COMPUTE_DTYPES:
        raise ValueError(
            f"{name} must be {' or '.join(map(repr, COMPUTE_DTYPES))} (or their jnp dtypes); "
            f"got {value!r}"
        )
    return dtype
