"""The XOR memory task: remember two bits across a long sequence and output their XOR.

Each sequence has ``length`` steps of one feature. Its first two steps are random bits
``b_0, b_1 ∈ {0, 1}`` and its label is ``b_0 XOR b_1``. After the bits the inputs are zeros, or,
with ``distractors=True``, more random bits that carry no information about the label. A
recurrent network therefore has to keep both bits in its state for ``length - 2`` steps (and
ignore the distractors) before it can answer: the longer the sequence, the harder it is for a
simple RNN, whose gradients vanish over time, and the clearer the advantage of gated cells.

XOR of two bits is not linearly separable and each bit alone says nothing about the label, so the
network cannot get above chance by remembering only one of them.
"""

from __future__ import annotations

import jax
import numpy as np

from gru_lstm_jax.checks import check_int, check_real

__all__ = ["make_xor_data"]


def make_xor_data(
    key: jax.Array,
    *,
    length: int = 20,
    num_sequences: int = 10_000,
    val_fraction: float = 0.2,
    test_sequences: int = 2_000,
    distractors: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Generates the XOR task's train, validation and test splits.

    ``num_sequences`` sequences are drawn and a random ``round(num_sequences * val_fraction)``
    of them form the validation split, the rest the training split. The test split is
    ``test_sequences`` further sequences drawn independently, from another part of the key.

    Args:
        key: a PRNG key; it alone determines the data.
        length: the number of time steps ``T`` of every sequence; an int ``>= 2``.
        num_sequences: the number of sequences shared by train and validation; a positive int.
        val_fraction: the fraction of ``num_sequences`` held out for validation; in ``(0, 1)``.
        test_sequences: the number of test sequences; a positive int.
        distractors: if True, the steps after the two bits are random bits; if False, zeros.

    Returns:
        ``{"train": split, "val": split, "test": split}`` where each split is
        ``{"inputs": (N, T, 1) float32, "targets": (N, 1) float32}``; inputs and targets take
        values in ``{0, 1}``.

    Raises:
        ValueError: naming the argument and the expected value, if an argument is out of range
            or a split would be empty.
    """
    check_int(length, "length", minimum=2)
    check_int(num_sequences, "num_sequences", minimum=1)
    check_int(test_sequences, "test_sequences", minimum=1)
    check_real(val_fraction, "val_fraction", "a fraction in (0, 1)", lambda v: 0 < v < 1)
    if not isinstance(distractors, (bool, np.bool_)):
        raise ValueError(f"distractors must be a bool; got {distractors!r}")

    length, num_sequences, test_sequences = int(length), int(num_sequences), int(test_sequences)
    num_val = round(num_sequences * val_fraction)
    if not 0 < num_val < num_sequences:
        raise ValueError(
            f"num_sequences={num_sequences} with val_fraction={val_fraction} gives "
            f"{num_val} validation and {num_sequences - num_val} training sequences; both "
            "must be at least 1"
        )

    pool_key, val_key, test_key = jax.random.split(key, 3)
    pool = _xor_sequences(pool_key, num_sequences, length, distractors)
    order = np.asarray(jax.random.permutation(val_key, num_sequences))
    val_rows = np.sort(order[:num_val])
    train_rows = np.sort(order[num_val:])
    return {
        "train": {name: array[train_rows] for name, array in pool.items()},
        "val": {name: array[val_rows] for name, array in pool.items()},
        "test": _xor_sequences(test_key, test_sequences, length, distractors),
    }


def _xor_sequences(
    key: jax.Array, num: int, length: int, distractors: bool
) -> dict[str, np.ndarray]:
    """Draws ``num`` XOR sequences: ``{"inputs": (num, length, 1), "targets": (num, 1)}``."""
    bits = np.asarray(jax.random.bernoulli(key, 0.5, (num, length)))
    if not distractors:
        bits = bits & (np.arange(length) < 2)
    labels = np.logical_xor(bits[:, 0], bits[:, 1])
    return {
        "inputs": bits[:, :, None].astype(np.float32),
        "targets": labels[:, None].astype(np.float32),
    }
