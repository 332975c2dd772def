"""Argument checks shared by the data generators: clear errors that name the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

__all__ = ["check_int", "check_real"]


def check_int(value: object, name: str, *, minimum: int) -> None:
    """Raises ``ValueError`` unless ``value`` is an int (``bool`` excluded) ``>= minimum``."""
    if (
        isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum  # type: ignore[operator]
    ):
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


def check_real(
    value: object,
    name: str,
    expected: str,
    in_range: Callable[[float], bool] | None = None,
) -> None:
    """Raises ``ValueError`` unless ``value`` is a finite real number satisfying ``in_range``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or (in_range is not None and not in_range(value))
    ):
        raise ValueError(f"{name} must be {expected}; got {value!r}")
