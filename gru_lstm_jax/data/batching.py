"""Batches of a dataset split: shuffled full batches for training, padded batches for evaluation.

A split is a plain dict of numpy arrays that share their leading (example) dimension, e.g.
``{"inputs": (N, T, F) float32, "targets": (N, K) float32}``. Every batch has the same keys.

Both iterators give every batch the same shape, so a jitted step compiles once:

- :func:`shuffled_batches` drops the last, incomplete batch of an epoch (a different permutation
  each epoch drops different examples, so none is left out for good).
- :func:`padded_batches` keeps every example, pads the last batch with zeros and adds a
  ``"weights"`` entry (1 for real examples, 0 for padding), so a weighted mean over the batches
  is the exact mean over the split.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping

import jax
import numpy as np

__all__ = ["num_examples", "padded_batches", "shuffled_batches", "steps_per_epoch"]


def num_examples(split: Mapping[str, np.ndarray]) -> int:
    """Returns the number of examples ``N`` of a split, the leading dimension of its arrays.

    Args:
        split: a non-empty dict of arrays, each of shape ``(N, ...)``.

    Returns:
        ``N``.

    Raises:
        ValueError: if the split is empty, an array has no leading dimension or the arrays
            disagree on it (the message lists every key and its shape).
    """
    if not split:
        raise ValueError("split must hold at least one array; got an empty dict")
    shapes = {name: np.shape(array) for name, array in split.items()}
    leading = {shape[0] if shape else None for shape in shapes.values()}
    if len(leading) != 1 or None in leading:
        described = ", ".join(f"{name!r}: {shape}" for name, shape in shapes.items())
        raise ValueError(
            "every array of a split must have the same leading (example) dimension; "
            f"got shapes {{{described}}}"
        )
    return int(leading.pop())


def steps_per_epoch(split: Mapping[str, np.ndarray], batch_size: int) -> int:
    """Returns the number of full batches of one epoch, ``N // batch_size``.

    This is the number of batches :func:`shuffled_batches` yields.

    Args:
        split: a dict of arrays of shape ``(N, ...)``.
        batch_size: the batch size ``B``; a positive int no larger than ``N``.

    Returns:
        ``N // B``, at least 1.

    Raises:
        ValueError: if ``batch_size`` is not a positive int or is larger than the split.
    """
    size = num_examples(split)
    _check_batch_size(batch_size, size, allow_larger=False)
    return size // batch_size


def shuffled_batches(
    split: Mapping[str, np.ndarray], batch_size: int, key: jax.Array
) -> Iterator[dict[str, np.ndarray]]:
    """Yields the full batches of one epoch in an order drawn from ``key``.

    The arguments are checked when this is called, not when the first batch is taken.

    Args:
        split: a dict of arrays of shape ``(N, ...)``.
        batch_size: the batch size ``B``; a positive int no larger than ``N``.
        key: a PRNG key that determines the order; use a new key for every epoch.

    Returns:
        An iterator over ``N // B`` batches, each a dict with the split's keys and arrays of
        shape ``(B, ...)``; the ``N % B`` examples left over are not yielded this epoch.

    Raises:
        ValueError: if ``batch_size`` is not a positive int or is larger than the split.
    """
    size = num_examples(split)
    _check_batch_size(batch_size, size, allow_larger=False)
    order = np.asarray(jax.random.permutation(key, size))
    return _take_batches(split, order, batch_size)


def padded_batches(
    split: Mapping[str, np.ndarray], batch_size: int
) -> Iterator[dict[str, np.ndarray]]:
    """Yields every example exactly once, in order, in batches of exactly ``batch_size``.

    The last batch is padded with zeros up to ``batch_size``. Every batch gets a ``"weights"``
    entry, ``(B,)`` float32, 1 for a real example and 0 for padding, so that
    ``sum(weights * per_example_metric) / sum(weights)`` over all batches is the exact mean over
    the split while the evaluation step sees one shape only.

    Args:
        split: a dict of arrays of shape ``(N, ...)``, without a ``"weights"`` key.
        batch_size: the batch size ``B``; a positive int (it may exceed ``N``).

    Returns:
        An iterator over ``ceil(N / B)`` batches, each a dict with the split's keys, arrays of
        shape ``(B, ...)`` and ``"weights"`` of shape ``(B,)``.

    Raises:
        ValueError: if ``batch_size`` is not a positive int or the split already has a
            ``"weights"`` key.
    """
    size = num_examples(split)
    _check_batch_size(batch_size, size, allow_larger=True)
    if "weights" in split:
        raise ValueError(
            "split must not have a 'weights' key; padded_batches adds its own; "
            f"got keys {sorted(split)}"
        )
    return _padded_batches(split, size, batch_size)


def _take_batches(
    split: Mapping[str, np.ndarray], order: np.ndarray, batch_size: int
) -> Iterator[dict[str, np.ndarray]]:
    """Yields ``split`` indexed by consecutive full slices of ``order``."""
    for start in range(0, len(order) - batch_size + 1, batch_size):
        rows = order[start : start + batch_size]
        yield {name: np.asarray(array)[rows] for name, array in split.items()}


def _padded_batches(
    split: Mapping[str, np.ndarray], size: int, batch_size: int
) -> Iterator[dict[str, np.ndarray]]:
    """Yields consecutive slices of ``split``, the last padded with zeros, with weights."""
    for start in range(0, size, batch_size):
        real = min(batch_size, size - start)
        batch = {}
        for name, array in split.items():
            chunk = np.asarray(array)[start : start + real]
            if real < batch_size:
                padding = np.zeros((batch_size - real, *chunk.shape[1:]), chunk.dtype)
                chunk = np.concatenate([chunk, padding])
            batch[name] = chunk
        weights = np.zeros((batch_size,), np.float32)
        weights[:real] = 1.0
        batch["weights"] = weights
        yield batch


def _check_batch_size(batch_size: object, size: int, *, allow_larger: bool) -> None:
    """Raises ``ValueError`` unless ``batch_size`` is a positive int (``<= size`` if required)."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1  # type: ignore[operator]
    ):
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    if not allow_larger and batch_size > size:
        raise ValueError(
            f"batch_size must be at most the split size {size} so that an epoch has a full "
            f"batch; got batch_size={batch_size}"
        )
