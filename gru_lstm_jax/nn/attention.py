"""Additive (Bahdanau) attention over a padded sequence of keys.

References:
    Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly Learning to Align and
    Translate" (additive attention: ``score_t = vᵀ tanh(W_k k_t + W_q q)``).

Equations, with ``q`` the query ``(B, Dq)`` and ``k_t`` the key at step ``t`` ``(B, Dk)``::

    score_t = vᵀ tanh(W_k k_t + b_k + W_q q)
    w       = softmax(score) over the valid steps (exactly 0 on masked steps)
    context = Σ_t w_t k_t

The keys are also the values, as in Bahdanau et al. (the annotations of the encoder).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from gru_lstm_jax.checks import check_compute_dtype, check_positive_int
from gru_lstm_jax.nn.linear import linear

__all__ = ["AdditiveAttention", "masked_softmax"]


def masked_softmax(scores: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Softmax over the last axis restricted to the valid positions.

    Masked positions get weight exactly 0, and a row with no valid position gets all zeros (not
    NaN), in the value and in the gradient.

    Args:
        scores: ``(B, T)``.
        mask: boolean ``(B, T)``, True on valid positions, or ``None`` (all valid).

    Returns:
        Weights ``(B, T)`` that sum to 1 over the valid positions of each row with at least one.
    """
    if mask is None:
        return jax.nn.softmax(scores, axis=-1)
    # The maximum over the valid positions only; a fully masked row uses 0 instead of -inf.
    row_max = jnp.max(jnp.where(mask, scores, -jnp.inf), axis=-1, keepdims=True)
    row_max = jax.lax.stop_gradient(jnp.where(jnp.isfinite(row_max), row_max, 0.0))
    # Masked scores are replaced before exp, so no inf (and no 0 * inf in the gradient) appears.
    exponentials = jnp.where(mask, jnp.exp(jnp.where(mask, scores - row_max, 0.0)), 0.0)
    total = jnp.sum(exponentials, axis=-1, keepdims=True)
    return exponentials / jnp.where(total > 0, total, 1.0)


class AdditiveAttention(nnx.Module):
    """Additive attention (Bahdanau, Cho & Bengio 2015) of one query over a sequence of keys.

    Example:
        >>> attention = AdditiveAttention(256, 256, 128, rngs=nnx.Rngs(0))
        >>> context, weights = attention(jnp.zeros((64, 256)), jnp.zeros((64, 20, 256)))
        >>> context.shape, weights.shape
        ((64, 256), (64, 20, 1))

    For a decoder that attends over the same keys at every step, :meth:`project_keys` computes
    ``W_k k + b_k`` once per sequence and ``__call__(..., projected_keys=...)`` reuses it.

    Attributes:
        query_projection: ``W_q``, ``query_features -> attention_features``, no bias.
        key_projection: ``W_k`` and ``b_k``, ``key_features -> attention_features``.
        score_vector: ``v``, an ``nnx.Param`` of shape ``(attention_features,)``.
        query_features: ``Dq``.
        key_features: ``Dk``.
        attention_features: ``A``.
    """

    def __init__(
        self,
        query_features: int,
        key_features: int,
        attention_features: int,
        *,
        compute_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        """Creates the parameters.

        Args:
            query_features: features of the query ``Dq``.
            key_features: features of each key (and value) ``Dk``.
            attention_features: width of the hidden layer of the score ``A``.
            compute_dtype: the operands' dtype in the two projections, ``jnp.float32`` or
                ``jnp.bfloat16`` (see :func:`~gru_lstm_jax.nn.linear.linear`); the scores,
                the softmax and the context are float32.
            rngs: ``nnx.Rngs`` with a ``params`` stream.

        Raises:
            ValueError: if a size is not a positive int, or for another ``compute_dtype``.
        """
        check_positive_int(query_features, "query_features")
        check_positive_int(key_features, "key_features")
        check_positive_int(attention_features, "attention_features")
        compute_dtype = check_compute_dtype(compute_dtype, "compute_dtype")
        self.query_features = query_features
        self.key_features = key_features
        self.attention_features = attention_features
        self.query_projection = linear(
            query_features, attention_features, compute_dtype=compute_dtype, use_bias=False,
            rngs=rngs,
        )  # fmt: skip
        self.key_projection = linear(
            key_features, attention_features, compute_dtype=compute_dtype, rngs=rngs
        )
        # As PyTorch's default for a vector of fan-in A: uniform(±1/√A).
        bound = 1.0 / math.sqrt(attention_features)
        self.score_vector = nnx.Param(
            jax.random.uniform(rngs.params(), (attention_features,), minval=-bound, maxval=bound)
        )

    def _check_keys(self, keys: jax.Array) -> jax.Array:
        keys = jnp.asarray(keys)
        if keys.ndim != 3 or keys.shape[-1] != self.key_features:
            raise ValueError(
                f"keys must have shape (batch, time, {self.key_features}); got {tuple(keys.shape)}"
            )
        return keys

    def project_keys(self, keys: jax.Array) -> jax.Array:
        """Computes ``W_k k_t + b_k`` for every step once, to reuse over many queries.

        Args:
            keys: ``(B, T, Dk)``.

        Returns:
            ``(B, T, A)``.

        Raises:
            ValueError: if ``keys`` has the wrong shape.
        """
        return self.key_projection(self._check_keys(keys))

    def scores(self, query: jax.Array, projected_keys: jax.Array) -> jax.Array:
        """The unnormalised scores ``vᵀ tanh(W_k k_t + b_k + W_q q)``.

        Args:
            query: ``(B, Dq)``.
            projected_keys: ``(B, T, A)`` from :meth:`project_keys`.

        Returns:
            ``(B, T)``.
        """
        hidden = jnp.tanh(projected_keys + self.query_projection(query)[:, None, :])
        return hidden @ self.score_vector[...]

    def __call__(
        self,
        query: jax.Array,
        keys: jax.Array,
        *,
        mask: jax.Array | None = None,
        projected_keys: jax.Array | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """Attends from ``query`` over ``keys``.

        Args:
            query: ``(B, Dq)``.
            keys: ``(B, T, Dk)``; also the values.
            mask: boolean ``(B, T)``, True on valid steps, or ``None`` (all valid). Masked steps
                get weight exactly 0; a row with no valid step gets zero weights and a zero
                context.
            projected_keys: ``(B, T, A)`` from :meth:`project_keys` of the same ``keys``, to
                skip recomputing it; default computed here.

        Returns:
            ``(context (B, Dk), weights (B, T, 1))``.

        Raises:
            ValueError: naming the argument and the expected shape, if a shape or dtype is wrong.
        """
        keys = self._check_keys(keys)
        batch, time = keys.shape[:2]
        query = jnp.asarray(query)
        if query.shape != (batch, self.query_features):
            raise ValueError(
                f"query must have shape (batch, query_features) = ({batch}, "
                f"{self.query_features}); got {tuple(query.shape)}"
            )
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.shape != (batch, time):
                raise ValueError(
                    f"mask must have shape (batch, time) = ({batch}, {time}); "
                    f"got {tuple(mask.shape)}"
                )
            if mask.dtype != jnp.bool_:
                raise ValueError(f"mask must be boolean; got dtype {mask.dtype}")
        if projected_keys is None:
            projected_keys = self.key_projection(keys)
        elif tuple(projected_keys.shape) != (batch, time, self.attention_features):
            raise ValueError(
                f"projected_keys must have shape (batch, time, attention_features) = ({batch}, "
                f"{time}, {self.attention_features}); got {tuple(projected_keys.shape)}"
            )
        weights = masked_softmax(self.scores(query, projected_keys), mask)
        context = jnp.einsum("bt,btd->bd", weights, keys)
        return context, weights[..., None]
