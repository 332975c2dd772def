"""The temporal-order problem: classify a long sequence by the order of its rare symbols.

Hochreiter & Schmidhuber (1997, experiments 6a and 6b). The alphabet is
``a, b, c, d, B, E, X, Y`` (:data:`ALPHABET`; input ``t`` is the one-hot vector of symbol
``s_t``, so ``inputs`` is ``(N, T, 8)``). Every sequence of ``T = length`` steps (indexed from 0)
has

- ``s_0 = B`` and ``s_{T-1} = E``;
- ``K = num_symbols`` relevant symbols ``s_{t_k} ∈ {X, Y}``, each drawn with probability 1/2,
  at steps ``t_k`` drawn uniformly from the inclusive ranges
  ``[⌊lo_k T / 100⌋, ⌊hi_k T / 100⌋]`` (:func:`relevant_ranges`), where ``(lo_k, hi_k)`` is
  ``(10, 20), (50, 60)`` for ``K = 2`` (experiment 6a) and ``(10, 20), (33, 43), (66, 76)`` for
  ``K = 3`` (experiment 6b): the paper's ranges at ``T = 100``, read as 0-based step indices,
  and scaled with ``T`` otherwise (disjoint and clear of ``B`` and ``E`` for every ``T >= 10``);
- a uniformly random distractor from ``a, b, c, d`` at every other step.

The label is the relevant symbols' order read as a binary number with X = 0 and Y = 1, the
first symbol most significant: ``Σ_k [s_{t_k} = Y] 2^{K-1-k}``, one of ``C = 2^K`` classes
(6a: XX, XY, YX, YY -> 0, 1, 2, 3, the paper's classes Q, R, S, U; 6b: XXX ... YYY -> 0 ... 7).
Chance accuracy is ``1/C``; ``results.json`` gets the test split's majority-class rate
(``"majority_class_accuracy"``).

The paper draws each sequence's length from 100 to 110; here every sequence has exactly
``length`` steps, so no padding is needed.

The model is the ``config.model`` head (a :class:`~gru_lstm_jax.models.SequenceClassifier`)
with ``C`` logits, trained on the ``classification`` objective (softmax cross-entropy over
integer labels ``targets (N,)``; the task metric is the accuracy).
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import nnx

from gru_lstm_jax.checks import check_int
from gru_lstm_jax.configs import temporal_order as temporal_order_config
from gru_lstm_jax.tasks.base import (
    Data,
    Task,
    build_for_features,
    check_options,
    register_task,
    write_test_predictions,
)
from gru_lstm_jax.tasks.objectives import OBJECTIVES

__all__ = [
    "ALPHABET",
    "POSITION_RANGES",
    "TEMPORAL_ORDER",
    "make_temporal_order_data",
    "relevant_ranges",
]

ALPHABET = ("a", "b", "c", "d", "B", "E", "X", "Y")
_DISTRACTORS = 4  # symbols 0-3: a, b, c, d
_BEGIN, _END, _X = 4, 5, 6  # Y is _X + 1

# The relevant symbols' step ranges (inclusive) at T = 100, by num_symbols (6a: 2, 6b: 3).
POSITION_RANGES = {2: ((10, 20), (50, 60)), 3: ((10, 20), (33, 43), (66, 76))}

MIN_LENGTH = 10


def relevant_ranges(length: int, num_symbols: int) -> tuple[tuple[int, int], ...]:
    """The inclusive step ranges of the relevant symbols in sequences of ``length`` steps.

    Args:
        length: ``T``; an int ``>= 10``.
        num_symbols: ``K``, 2 (experiment 6a) or 3 (6b).

    Returns:
        ``K`` pairs ``(⌊lo T / 100⌋, ⌊hi T / 100⌋)`` of :data:`POSITION_RANGES`.

    Raises:
        ValueError: naming the argument, for a length under 10 or another ``num_symbols``.
    """
    check_int(length, "length", minimum=MIN_LENGTH)
    if isinstance(num_symbols, bool) or num_symbols not in POSITION_RANGES:
        raise ValueError(f"num_symbols must be 2 (experiment 6a) or 3 (6b); got {num_symbols!r}")
    ranges = POSITION_RANGES[num_symbols]
    return tuple((lo * length // 100, hi * length // 100) for lo, hi in ranges)


def make_temporal_order_data(
    key: jax.Array,
    *,
    length: int = 100,
    num_symbols: int = 2,
    num_train: int = 10_000,
    num_val: int = 1_000,
    num_test: int = 1_000,
) -> dict[str, dict[str, np.ndarray]]:
    """Generates the temporal-order problem's train, validation and test splits.

    Each split is drawn independently, from its own part of the key.

    Args:
        key: a PRNG key; it alone determines the data.
        length: the number of time steps ``T`` of every sequence; an int ``>= 10``.
        num_symbols: the number of relevant symbols ``K``: 2 (experiment 6a, 4 classes) or 3
            (6b, 8 classes).
        num_train: the number of training sequences; a positive int.
        num_val: the number of validation sequences; a positive int.
        num_test: the number of test sequences; a positive int.

    Returns:
        ``{"train": split, "val": split, "test": split}`` where each split is
        ``{"inputs": (N, T, 8) float32 one-hot, "targets": (N,) int32 in [0, 2^K)}``.

    Raises:
        ValueError: naming the argument and the expected value, if an argument is out of range.
    """
    ranges = relevant_ranges(length, num_symbols)
    for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
        check_int(value, name, minimum=1)
    sizes = {"train": int(num_train), "val": int(num_val), "test": int(num_test)}
    keys = jax.random.split(key, len(sizes))
    return {
        name: _temporal_order_sequences(split_key, size, int(length), ranges)
        for split_key, (name, size) in zip(keys, sizes.items(), strict=True)
    }


def _temporal_order_sequences(
    key: jax.Array, num: int, length: int, ranges: tuple[tuple[int, int], ...]
) -> dict[str, np.ndarray]:
    """Draws ``num`` sequences: ``{"inputs": (num, length, 8), "targets": (num,)}``."""
    distractor_key, symbol_key, *position_keys = jax.random.split(key, 2 + len(ranges))
    symbols = np.array(jax.random.randint(distractor_key, (num, length), 0, _DISTRACTORS))
    symbols[:, 0] = _BEGIN
    symbols[:, -1] = _END
    is_y = np.asarray(jax.random.bernoulli(symbol_key, 0.5, (num, len(ranges))))
    rows = np.arange(num)
    for k, ((lo, hi), position_key) in enumerate(zip(ranges, position_keys, strict=True)):
        steps = np.asarray(jax.random.randint(position_key, (num,), lo, hi + 1))
        symbols[rows, steps] = _X + is_y[:, k]
    place_values = 2 ** np.arange(len(ranges) - 1, -1, -1)
    return {
        "inputs": np.eye(len(ALPHABET), dtype=np.float32)[symbols],
        "targets": (is_y @ place_values).astype(np.int32),
    }


def _load(options: dict[str, Any], key: Any) -> Data:
    check_options(make_temporal_order_data, options, "temporal_order")
    splits = make_temporal_order_data(key, **options)
    num_symbols = options.get("num_symbols", 2)
    return Data(splits, {"num_classes": 2**num_symbols, "alphabet": ALPHABET})


def _build(config: ml_collections.ConfigDict, data: Data, rngs: nnx.Rngs) -> nnx.Module:
    return build_for_features(config, data, rngs, out_features=data.info["num_classes"])


def _write_outputs(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    """``predictions.npz`` (test logits and labels) and the test majority-class rate.

    Returns:
        ``{"majority_class_accuracy": float}``, about ``1/C``.
    """
    write_test_predictions(run, params, workdir)
    counts = np.bincount(run.splits["test"]["targets"], minlength=run.data["num_classes"])
    return {"majority_class_accuracy": float(counts.max() / counts.sum())}


TEMPORAL_ORDER = register_task(
    Task(
        name="temporal_order",
        objective=OBJECTIVES["classification"],
        load=_load,
        build=_build,
        write_outputs=_write_outputs,
        config=temporal_order_config.get_config,
    )
)
