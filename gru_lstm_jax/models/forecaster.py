"""Sequence-to-one regression: a stacked recurrent encoder and a linear head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.checks import check_compute_dtype, check_positive_int
from gru_lstm_jax.nn import StackedRNN, linear

__all__ = ["Forecaster", "autoregressive_forecast"]


class Forecaster(nnx.Module):
    """Predicts the next value(s) of a series from a window: ``StackedRNN -> Linear``.

    With ``hidden_sizes=(64, 32)`` and the LSTM this is the seed's model,
    ``LSTM(64, return_sequences) -> LSTM(32) -> Dense(1)``, with 29,345 parameters on 1 feature.
    """

    def __init__(
        self,
        cell: str | Cell,
        in_features: int,
        hidden_sizes: Sequence[int],
        *,
        out_features: int = 1,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        compute_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
        **cell_options: Any,
    ):
        """Creates the model.

        Args:
            cell: a registered cell name or a :class:`~gru_lstm_jax.cells.Cell`.
            in_features: features per time step ``F``.
            hidden_sizes: hidden units of each recurrent layer.
            out_features: predicted values per example ``K``.
            dropout: input dropout of every recurrent layer.
            recurrent_dropout: recurrent dropout of every recurrent layer.
            compute_dtype: the operands' dtype in every matrix product, ``"float32"`` or
                ``"bfloat16"`` (mixed precision: see :class:`~gru_lstm_jax.nn.RNN`); the
                predictions are float32.
            rngs: ``nnx.Rngs`` (``params`` and ``dropout`` streams).
            **cell_options: options of a named cell.
        """
        check_positive_int(out_features, "out_features")
        compute_dtype = check_compute_dtype(compute_dtype, "compute_dtype")
        self.encoder = StackedRNN(
            cell, in_features, list(hidden_sizes), dropout=dropout,
            recurrent_dropout=recurrent_dropout, compute_dtype=compute_dtype, rngs=rngs,
            **cell_options,
        )  # fmt: skip
        self.head = linear(
            self.encoder.out_features, out_features, compute_dtype=compute_dtype, rngs=rngs
        )

    def __call__(self, xs: jax.Array, *, lengths: jax.Array | None = None) -> jax.Array:
        """Maps windows ``(B, T, F)`` (optionally of ``lengths`` ``(B,)``) to ``(B, K)``."""
        return self.head(self.encoder(xs, lengths=lengths))


def autoregressive_forecast(model: Forecaster, window: jax.Array, steps: int) -> jax.Array:
    """Forecasts ``steps`` values by feeding each prediction back as the newest input.

    Args:
        model: a forecaster whose output has as many features as its input (``K == F``).
        window: the last observed values ``(T, F)``.
        steps: how many values to forecast.

    Returns:
        ``(steps, F)``: the forecast for the ``steps`` time steps after ``window``.
    """
    window = jnp.asarray(window)
    if window.ndim != 2:
        raise ValueError(f"window must have shape (time, features); got {tuple(window.shape)}")

    def advance(current: jax.Array, _: None) -> tuple[jax.Array, jax.Array]:
        prediction = model(current[None])[0]
        return jnp.concatenate([current[1:], prediction[None]], axis=0), prediction

    _, forecast = jax.lax.scan(advance, window, None, length=steps)
    return forecast
