"""A toy translation task for sequence-to-sequence models: reverse a string of digits.

The source is a random string of ``min_length`` to ``max_length`` digits and the target is the
same string reversed. Every target token is a copy of exactly one source token, at the mirrored
position, so a working attention model shows a clean anti-diagonal alignment.

Token ids: ``PAD_ID = 0``, ``BOS_ID = 1``, ``EOS_ID = 2`` and digit ``d`` is ``FIRST_DIGIT_ID + d``
(``3 .. 3 + num_digits - 1``); source and target share this vocabulary of
:func:`reverse_vocab_size` tokens.

The three splits are disjoint: no validation or test source string occurs in the training split
or in the other held-out split, so the held-out exact match measures generalisation, not recall.
"""

from __future__ import annotations

import jax
import numpy as np

from gru_lstm_jax.checks import check_int

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "FIRST_DIGIT_ID",
    "PAD_ID",
    "make_reverse_data",
    "reverse_vocab_size",
]

PAD_ID = 0
BOS_ID = 1
EOS_ID = 2
FIRST_DIGIT_ID = 3

# Rounds of fresh candidates drawn for the held-out splits before giving up.
_MAX_ROUNDS = 64


def reverse_vocab_size(num_digits: int) -> int:
    """The number of token ids of the reverse task: PAD, BOS, EOS and ``num_digits`` digits."""
    return FIRST_DIGIT_ID + num_digits


def make_reverse_data(
    key: jax.Array,
    *,
    num_train: int = 10_000,
    num_val: int = 1_000,
    num_test: int = 1_000,
    min_length: int = 3,
    max_length: int = 10,
    num_digits: int = 10,
) -> dict[str, dict[str, np.ndarray]]:
    """Generates the digit-reversal task's train, validation and test splits.

    Lengths are uniform on ``[min_length, max_length]`` and digits uniform on
    ``[0, num_digits)``. Training strings may repeat; held-out strings are distinct from each
    other and from every training string.

    Args:
        key: a PRNG key; it alone determines the data.
        num_train: training sequences; an int ``>= 1``.
        num_val: validation sequences; an int ``>= 1``.
        num_test: test sequences; an int ``>= 1``.
        min_length: the shortest source ``L_min``; an int ``>= 1``.
        max_length: the longest source ``L``; an int ``>= min_length``.
        num_digits: the number of distinct digits; an int ``>= 2``.

    Returns:
        ``{"train": split, "val": split, "test": split}``, each split a dict of int32 arrays:

        - ``"source"`` ``(N, L)``: digit ids, right-padded with ``PAD_ID``.
        - ``"source_lengths"`` ``(N,)``: the number of digits ``n``.
        - ``"target_in"`` ``(N, L + 1)``: ``BOS`` then the reversed digits (teacher forcing).
        - ``"target_out"`` ``(N, L + 1)``: the reversed digits then ``EOS``.
        - ``"target_lengths"`` ``(N,)``: ``n + 1``, the valid steps of both target arrays.

    Raises:
        ValueError: naming the argument and the expected value, if an argument is out of range
            or there are too few distinct strings for the held-out splits.
    """
    check_int(num_train, "num_train", minimum=1)
    check_int(num_val, "num_val", minimum=1)
    check_int(num_test, "num_test", minimum=1)
    check_int(min_length, "min_length", minimum=1)
    check_int(max_length, "max_length", minimum=int(min_length))
    check_int(num_digits, "num_digits", minimum=2)
    shape = (int(min_length), int(max_length), int(num_digits))

    train_key, held_out_key = jax.random.split(key)
    train = _reverse_strings(train_key, int(num_train), *shape)
    seen = {_as_bytes(row) for row in train["source"]}
    held_out = {}
    for index, (name, count) in enumerate((("val", int(num_val)), ("test", int(num_test)))):
        held_out[name] = _distinct_strings(
            jax.random.fold_in(held_out_key, index), count, shape, seen, name
        )
    return {"train": train, **held_out}


def _as_bytes(source_row: np.ndarray) -> bytes:
    return source_row.tobytes()


def _distinct_strings(
    key: jax.Array, count: int, shape: tuple[int, int, int], seen: set[bytes], name: str
) -> dict[str, np.ndarray]:
    """Draws ``count`` strings not in ``seen`` (and adds them to it)."""
    rows: list[dict[str, np.ndarray]] = []
    found = 0
    for round_index in range(_MAX_ROUNDS):
        candidates = _reverse_strings(jax.random.fold_in(key, round_index), count, *shape)
        keep = []
        for row, source in enumerate(candidates["source"]):
            text = _as_bytes(source)
            if text not in seen and found + len(keep) < count:
                seen.add(text)
                keep.append(row)
        rows.append({field: array[keep] for field, array in candidates.items()})
        found += len(keep)
        if found == count:
            return {field: np.concatenate([r[field] for r in rows]) for field in rows[0]}
    min_length, max_length, num_digits = shape
    raise ValueError(
        f"could not draw num_{name}={count} distinct {name} strings of {min_length} to "
        f"{max_length} digits out of {num_digits} that are not in the other splits; "
        "ask for fewer sequences or allow longer strings"
    )


def _reverse_strings(
    key: jax.Array, num: int, min_length: int, max_length: int, num_digits: int
) -> dict[str, np.ndarray]:
    """Draws ``num`` source strings and their reversals as one split (see the public function)."""
    length_key, digit_key = jax.random.split(key)
    lengths = np.asarray(jax.random.randint(length_key, (num,), min_length, max_length + 1))
    digits = np.asarray(jax.random.randint(digit_key, (num, max_length), 0, num_digits))
    positions = np.arange(max_length)
    valid = positions[None, :] < lengths[:, None]
    source = np.where(valid, digits + FIRST_DIGIT_ID, PAD_ID)
    # Reversal within each string's own length: target position t copies source n - 1 - t.
    mirrored = np.clip(lengths[:, None] - 1 - positions[None, :], 0, max_length - 1)
    target = np.where(valid, np.take_along_axis(source, mirrored, axis=1), PAD_ID)
    padding = np.full((num, 1), PAD_ID)
    target_in = np.concatenate([np.full((num, 1), BOS_ID), target], axis=1)
    target_out = np.concatenate([target, padding], axis=1)
    target_out[np.arange(num), lengths] = EOS_ID
    return {
        "source": source.astype(np.int32),
        "source_lengths": lengths.astype(np.int32),
        "target_in": target_in.astype(np.int32),
        "target_out": target_out.astype(np.int32),
        "target_lengths": (lengths + 1).astype(np.int32),
    }
