"""The adding problem: output the sum of the two marked numbers of a long sequence.

Each sequence has ``T = length`` steps of two features, in the formulation of Le, Jaitly &
Hinton (2015, section 4.1) and Arjovsky, Shah & Bengio (2016, section 4.2):

- ``x_t = inputs[t, 0] ~ U[0, 1]``, independent for every step;
- ``m_t = inputs[t, 1]``: 1 at exactly two steps, 0 elsewhere; the first marked step ``a`` is
  uniform on the first half ``{0, ..., ⌊T/2⌋ - 1}`` and the second ``b`` uniform on the second
  half ``{⌊T/2⌋, ..., T - 1}``, so the two marked numbers are at least one and at most ``T - 1``
  steps apart and the second can come at the very last step;
- the target ``y = Σ_t m_t x_t = x_a + x_b``, shape ``(1,)``.

Baseline: ``y`` is the sum of two independent ``U[0, 1]``, so predicting the constant
``E[y] = 1`` gives ``MSE = Var(y) = 2 · 1/12 = 1/6 ≈ 0.167``, the number Le et al. quote; a
model whose MSE stays there has learned nothing about the markers. ``results.json`` gets that
constant predictor's MSE on the test draw (``"constant_one_mse"``).

Hochreiter & Schmidhuber's original task (1997, experiment 4) differs in its details: values in
``[-1, 1]``, the first marker among the first ten steps and the second among the first
``T/2 - 1``, a marker of -1 at the first and the last step, lengths from ``T`` to ``T + T/10``,
and the target ``0.5 + (x_a + x_b) / 4``. This file implements the later, more common
formulation above.

The model is the ``config.model`` head (a :class:`~gru_lstm_jax.models.Forecaster`,
``StackedRNN -> Linear``, with one output) trained on the ``regression`` objective (MSE; the
task metric is the MAE).
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import numpy as np

from gru_lstm_jax.checks import check_int
from gru_lstm_jax.configs import adding as adding_config
from gru_lstm_jax.tasks.base import (
    Data,
    Task,
    build_for_features,
    check_options,
    register_task,
    write_test_predictions,
)
from gru_lstm_jax.tasks.objectives import OBJECTIVES

__all__ = ["ADDING", "CONSTANT_ONE_MSE", "make_adding_data"]

# Var(x_a + x_b) for independent U[0, 1]: the MSE of always predicting E[y] = 1.
CONSTANT_ONE_MSE = 2.0 / 12.0


def make_adding_data(
    key: jax.Array,
    *,
    length: int = 100,
    num_train: int = 10_000,
    num_val: int = 1_000,
    num_test: int = 1_000,
) -> dict[str, dict[str, np.ndarray]]:
    """Generates the adding problem's train, validation and test splits.

    Each split is drawn independently, from its own part of the key.

    Args:
        key: a PRNG key; it alone determines the data.
        length: the number of time steps ``T`` of every sequence; an int ``>= 2``.
        num_train: the number of training sequences; a positive int.
        num_val: the number of validation sequences; a positive int.
        num_test: the number of test sequences; a positive int.

    Returns:
        ``{"train": split, "val": split, "test": split}`` where each split is
        ``{"inputs": (N, T, 2) float32, "targets": (N, 1) float32}``: channel 0 the values in
        ``[0, 1)``, channel 1 the two markers, the target the sum of the two marked values.

    Raises:
        ValueError: naming the argument and the expected value, if an argument is not an int
            in range.
    """
    check_int(length, "length", minimum=2)
    for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
        check_int(value, name, minimum=1)
    sizes = {"train": int(num_train), "val": int(num_val), "test": int(num_test)}
    keys = jax.random.split(key, len(sizes))
    return {
        name: _adding_sequences(split_key, size, int(length))
        for split_key, (name, size) in zip(keys, sizes.items(), strict=True)
    }


def _adding_sequences(key: jax.Array, num: int, length: int) -> dict[str, np.ndarray]:
    """Draws ``num`` sequences: ``{"inputs": (num, length, 2), "targets": (num, 1)}``."""
    value_key, first_key, second_key = jax.random.split(key, 3)
    values = np.asarray(jax.random.uniform(value_key, (num, length)), np.float32)
    half = length // 2
    first = np.asarray(jax.random.randint(first_key, (num,), 0, half))
    second = np.asarray(jax.random.randint(second_key, (num,), half, length))
    rows = np.arange(num)
    markers = np.zeros((num, length), np.float32)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return {"inputs": np.stack([values, markers], axis=-1), "targets": targets[:, None]}


def _load(options: dict[str, Any], key: Any) -> Data:
    check_options(make_adding_data, options, "adding")
    return Data(make_adding_data(key, **options))


def _write_outputs(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    """``predictions.npz`` and the constant-1 predictor's MSE on the test split.

    Returns:
        ``{"constant_one_mse": float}``, about 1/6.
    """
    write_test_predictions(run, params, workdir)
    targets = np.asarray(run.splits["test"]["targets"], np.float64)
    return {"constant_one_mse": float(np.mean((targets - 1.0) ** 2))}


ADDING = register_task(
    Task(
        name="adding",
        objective=OBJECTIVES["regression"],
        load=_load,
        build=build_for_features,
        write_outputs=_write_outputs,
        config=adding_config.get_config,
    )
)
