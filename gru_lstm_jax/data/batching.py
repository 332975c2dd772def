"""Batches of a dataset split: shuffled full batches for training, padded batches for evaluation.

A split is a plain dict of numpy arrays that share their leading (example) dimension, e.g.
``{"inputs": (N, T, F) float32, "targets": (N, K) float32}``. Every batch has the same keys.

Both iterators give every batch the same shape, so a jitted step compiles once:

- :func:`shuffled_batches` drops the last, incomplete batch of an epoch (a different permutation
  each epoch drops different examples, so none is left out for good).
- :func:`padded_batches` keeps every example, pads the last batch with zeros and adds a
  ``"weights"`` entry (1 for real examples, 0 for padding), so a weighted mean over the batches
  is the exact mean over the split.

Length bucketing (``bucket_width``) cuts the padding work of variable-length sequences (a split
with ``"lengths"`` (N,) and right-padded ``"inputs"`` (N, T, ...)): batches are made of
sequences of similar length and their time axis is trimmed to the longest sequence rounded up
to a multiple of ``bucket_width`` (at most T). A model that masks by ``lengths`` computes the
same result on the trimmed batch; a jitted step compiles once per width, at most
``ceil(T / bucket_width)`` times.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping

import jax
import numpy as np

from gru_lstm_jax.checks import check_positive_int

__all__ = [
    "bucketed_batches",
    "check_bucket_width",
    "num_examples",
    "padded_batches",
    "shuffled_batches",
    "steps_per_epoch",
]

BUCKETS_PER_POOL = 50


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
    split: Mapping[str, np.ndarray], batch_size: int, *, bucket_width: int = 0
) -> Iterator[dict[str, np.ndarray]]:
    """Yields every example exactly once, in batches of exactly ``batch_size``.

    The last batch is padded with zeros up to ``batch_size``. Every batch gets a ``"weights"``
    entry, ``(B,)`` float32, 1 for a real example and 0 for padding, so that
    ``sum(weights * per_example_metric) / sum(weights)`` over all batches is the exact mean over
    the split.

    Args:
        split: a dict of arrays of shape ``(N, ...)``, without a ``"weights"`` key.
        batch_size: the batch size ``B``; a positive int (it may exceed ``N``).
        bucket_width: 0 (default) keeps the split's order and the full time axis, so every
            batch has one shape. A positive width needs ``"lengths"`` (N,) and right-padded
            ``"inputs"`` (N, T, ...): the examples come in order of length and each batch's
            ``"inputs"`` is trimmed to ``(B, T_b, ...)``, ``T_b`` the batch's longest length
            rounded up to a multiple of ``bucket_width`` (at least ``bucket_width``, at most T).

    Returns:
        An iterator over ``ceil(N / B)`` batches, each a dict with the split's keys, arrays of
        shape ``(B, ...)`` and ``"weights"`` of shape ``(B,)``.

    Raises:
        ValueError: if ``batch_size`` or ``bucket_width`` is bad (see above) or the split already
            has a ``"weights"`` key.
    """
    size = num_examples(split)
    _check_batch_size(batch_size, size, allow_larger=True)
    _check_bucket_width(split, bucket_width)
    if "weights" in split:
        raise ValueError(
            "split must not have a 'weights' key; padded_batches adds its own; "
            f"got keys {sorted(split)}"
        )
    if not bucket_width:
        return _padded_batches(split, size, batch_size)
    order = np.argsort(np.asarray(split["lengths"]), kind="stable")
    ordered = {name: np.asarray(array)[order] for name, array in split.items()}
    return (_trim(batch, bucket_width) for batch in _padded_batches(ordered, size, batch_size))


def bucketed_batches(
    split: Mapping[str, np.ndarray], batch_size: int, key: jax.Array, bucket_width: int
) -> Iterator[dict[str, np.ndarray]]:
    """Yields the full batches of one epoch, each of sequences of similar length, trimmed.

    The examples are permuted by ``key``, the first ``(N // B) * B`` of them are cut into pools
    of ``BUCKETS_PER_POOL`` batches, each pool is sorted by length and cut into batches, and the
    batches come in an order also drawn from ``key``. Each batch's ``"inputs"`` is trimmed to
    ``(B, T_b, ...)``, ``T_b`` its longest length rounded up to a multiple of ``bucket_width``
    (at least ``bucket_width``, at most T). The same examples as :func:`shuffled_batches` are
    dropped.

    Args:
        split: a dict of arrays of shape ``(N, ...)`` with ``"lengths"`` (N,) and right-padded
            ``"inputs"`` (N, T, ...).
        batch_size: the batch size ``B``; a positive int no larger than ``N``.
        key: a PRNG key that determines the batches and their order; use a new key every epoch.
        bucket_width: a positive int, the granularity of the trimmed time axis.

    Returns:
        An iterator over ``N // B`` batches, each a dict with the split's keys and arrays of
        shape ``(B, ...)`` (``"inputs"``: ``(B, T_b, ...)``).

    Raises:
        ValueError: if ``batch_size`` is not a positive int or is larger than the split, if
            ``bucket_width`` is not a positive int, or the split lacks ``"lengths"`` or
            ``"inputs"``.
    """
    size = num_examples(split)
    _check_batch_size(batch_size, size, allow_larger=False)
    _check_bucket_width(split, bucket_width, allow_zero=False)
    permute_key, order_key = jax.random.split(key)
    order = np.array(jax.random.permutation(permute_key, size))[: size // batch_size * batch_size]
    lengths = np.asarray(split["lengths"])
    pool = BUCKETS_PER_POOL * batch_size
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        order[start : start + pool] = chunk[np.argsort(lengths[chunk], kind="stable")]
    batches = order.reshape(-1, batch_size)
    batches = batches[np.asarray(jax.random.permutation(order_key, len(batches)))]
    return (
        _trim(batch, bucket_width) for batch in _take_batches(split, batches.ravel(), batch_size)
    )


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


def check_bucket_width(bucket_width: object, name: str, *, allow_zero: bool = True) -> None:
    """Raises ``ValueError`` naming ``name`` unless ``bucket_width`` is a positive int (or 0)."""
    bad = isinstance(bucket_width, bool) or not isinstance(bucket_width, numbers.Integral)
    if bad or bucket_width < (0 if allow_zero else 1):
        kind = "a non-negative int (0: no bucketing)" if allow_zero else "a positive int"
        raise ValueError(f"{name} must be {kind}; got {bucket_width!r}")


def _check_bucket_width(
    split: Mapping[str, np.ndarray], bucket_width: object, *, allow_zero: bool = True
) -> None:
    """Raises ``ValueError`` unless ``bucket_width`` is valid and usable on ``split``."""
    check_bucket_width(bucket_width, "bucket_width", allow_zero=allow_zero)
    if bucket_width and not ("lengths" in split and "inputs" in split):
        raise ValueError(
            "length bucketing needs 'lengths' (N,) and right-padded 'inputs' (N, T, ...) in the "
            f"split; got keys {sorted(split)}"
        )
    if bucket_width and np.ndim(split["inputs"]) < 2:
        raise ValueError(
            f"split['inputs'] must have a time axis, (N, T, ...); got shape "
            f"{np.shape(split['inputs'])}"
        )


def _trim(batch: dict[str, np.ndarray], bucket_width: int) -> dict[str, np.ndarray]:
    """``batch`` with ``"inputs"`` cut to its longest length, rounded up to ``bucket_width``."""
    time = batch["inputs"].shape[1]
    longest = int(np.max(batch["lengths"], initial=0))
    width = min(time, max(bucket_width, -(-longest // bucket_width) * bucket_width))
    return {**batch, "inputs": batch["inputs"][:, :width]}


def _check_batch_size(batch_size: object, size: int, *, allow_larger: bool) -> None:
    """Raises ``ValueError`` unless ``batch_size`` is a positive int (``<= size`` if required)."""
    check_positive_int(batch_size, "batch_size")
    if not allow_larger and batch_size > size:
        raise ValueError(
            f"batch_size must be at most the split size {size} so that an epoch has a full "
            f"batch; got batch_size={batch_size}"
        )
