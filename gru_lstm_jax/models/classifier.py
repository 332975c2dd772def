"""Sequence classification: a (bidirectional, stacked) recurrent encoder, pooling and logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.checks import check_compute_dtype, check_positive_int
from gru_lstm_jax.nn import AdditiveAttention, StackedRNN, linear
from gru_lstm_jax.recurrence import sequence_mask

__all__ = ["POOLINGS", "SequenceClassifier"]

POOLINGS = ("last", "mean", "max", "attention")


class SequenceClassifier(nnx.Module):
    """Maps a sequence to class logits: ``StackedRNN -> pooling -> Linear``.

    Pooling ``"last"`` takes the final output of each direction (the last valid step forward,
    the first valid step backward); ``"mean"`` averages the outputs over the valid steps;
    ``"max"`` takes each feature's maximum over the valid steps (0 for an empty sequence);
    ``"attention"`` is additive attention (Bahdanau, Cho & Bengio 2015) from one learned query
    vector over the outputs of the valid steps, whose context vector goes to the head.
    """

    def __init__(
        self,
        cell: str | Cell,
        in_features: int,
        hidden_sizes: Sequence[int],
        *,
        num_outputs: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        layer_dropout: float = 0.0,
        compute_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
        **cell_options: Any,
    ):
        """Creates the model.

        Args:
            cell: a registered cell name or a :class:`~gru_lstm_jax.cells.Cell`.
            in_features: features per time step ``F``.
            hidden_sizes: hidden units of each recurrent layer.
            num_outputs: logits per example ``K`` (1 for binary classification).
            bidirectional: bidirectional recurrent layers.
            pooling: ``"last"``, ``"mean"``, ``"max"`` or ``"attention"``.
            dropout: input dropout of every recurrent layer.
            recurrent_dropout: recurrent dropout of every recurrent layer.
            layer_dropout: dropout between recurrent layers.
            compute_dtype: the operands' dtype in every matrix product, ``"float32"`` or
                ``"bfloat16"`` (mixed precision: see :class:`~gru_lstm_jax.nn.RNN`); the
                logits are float32.
            rngs: ``nnx.Rngs`` (``params`` and ``dropout`` streams).
            **cell_options: options of a named cell.
        """
        check_positive_int(num_outputs, "num_outputs")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}; got {pooling!r}")
        compute_dtype = check_compute_dtype(compute_dtype, "compute_dtype")
        self.pooling = pooling
        self.encoder = StackedRNN(
            cell, in_features, list(hidden_sizes), bidirectional=bidirectional,
            layer_dropout=layer_dropout, return_sequences=pooling != "last", dropout=dropout,
            recurrent_dropout=recurrent_dropout, compute_dtype=compute_dtype, rngs=rngs,
            **cell_options,
        )  # fmt: skip
        features = self.encoder.out_features
        if pooling == "attention":
            self.pooling_query = nnx.Param(
                jax.random.normal(rngs.params(), (features,)) / jnp.sqrt(features)
            )
            self.attention = AdditiveAttention(
                features, features, features, compute_dtype=compute_dtype, rngs=rngs
            )
        self.head = linear(features, num_outputs, compute_dtype=compute_dtype, rngs=rngs)

    def __call__(
        self, xs: jax.Array, *, lengths: jax.Array | None = None, mask: jax.Array | None = None
    ) -> jax.Array:
        """Maps ``(B, T, F)`` sequences (optionally with ``lengths``/``mask``) to ``(B, K)``."""
        pooled, _ = self._encode_and_pool(xs, lengths, mask)
        return self.head(pooled)

    def attention_weights(
        self, xs: jax.Array, *, lengths: jax.Array | None = None, mask: jax.Array | None = None
    ) -> jax.Array:
        """The attention pooling's weights ``(B, T)`` over the steps of ``(B, T, F)`` inputs.

        Each row sums to 1 over the valid steps and is 0 on padding (all 0 for a sequence
        with no valid step); the logits of ``__call__`` are
        ``head(sum_t weights[:, t, None] * encoded[:, t])``, ``encoded`` being the encoder's
        ``(B, T, D)`` outputs.

        Raises:
            ValueError: if the model's pooling is not ``"attention"``.
        """
        if self.pooling != "attention":
            raise ValueError(
                f"attention_weights needs pooling='attention'; this model pools with "
                f"{self.pooling!r}"
            )
        _, weights = self._encode_and_pool(xs, lengths, mask)
        return weights

    def _encode_and_pool(
        self, xs: jax.Array, lengths: jax.Array | None, mask: jax.Array | None
    ) -> tuple[jax.Array, jax.Array | None]:
        """Encodes and pools: ``(pooled (B, D), attention weights (B, T) or None)``."""
        encoded = self.encoder(xs, lengths=lengths, mask=mask)
        if self.pooling == "last":
            return encoded, None
        valid = sequence_mask(lengths, mask, *encoded.shape[:2])
        if self.pooling == "mean":
            if valid is None:
                return encoded.mean(axis=1), None
            count = jnp.maximum(valid.sum(axis=1, keepdims=True), 1)
            return encoded.sum(axis=1) / count, None
        if self.pooling == "max":
            if valid is None:
                return encoded.max(axis=1), None
            masked = jnp.where(valid[..., None], encoded, -jnp.inf)
            return jnp.where(valid.any(axis=1)[:, None], masked.max(axis=1), 0.0), None
        query = jnp.broadcast_to(self.pooling_query[...], (encoded.shape[0], encoded.shape[-1]))
        context, weights = self.attention(query, encoded, mask=valid)
        return context, weights[..., 0]
