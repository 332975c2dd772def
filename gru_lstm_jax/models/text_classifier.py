"""Text classification: token embeddings in front of a sequence classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.checks import check_int, check_positive_int
from gru_lstm_jax.models.classifier import SequenceClassifier

__all__ = ["TextClassifier"]


class TextClassifier(nnx.Module):
    """``Embed -> SequenceClassifier`` over right-padded token ids with their lengths.

    A step holds one token id ``(B, T)``, or several ``(B, T, K)`` whose embeddings are summed
    (a word and the bigram it ends, as :func:`~gru_lstm_jax.data.imdb.encode_texts` gives with
    bigrams; Joulin et al. 2017 sum n-gram embeddings the same way).

    With ``embed_dim=128``, ``hidden_sizes=(64,)``, the LSTM, ``dropout=0.2`` and
    ``recurrent_dropout=0.2`` this is the seed's IMDB model (Embedding 128 -> LSTM 64 -> Dense
    with a sigmoid, the sigmoid being in the loss).
    """

    def __init__(
        self,
        cell: str | Cell,
        vocab_size: int,
        embed_dim: int,
        hidden_sizes: Sequence[int],
        *,
        rngs: nnx.Rngs,
        **classifier_options: Any,
    ):
        """Creates the model.

        Args:
            cell: a registered cell name or a :class:`~gru_lstm_jax.cells.Cell`.
            vocab_size: the number of token ids ``V`` (id 0 is padding).
            embed_dim: the embedding size ``E``.
            hidden_sizes: hidden units of each recurrent layer.
            rngs: ``nnx.Rngs`` (``params`` and ``dropout`` streams).
            **classifier_options: :class:`~gru_lstm_jax.models.SequenceClassifier`'s options
                (``num_outputs``, ``bidirectional``, ``pooling``, dropouts, ``compute_dtype``,
                cell options); the embeddings are float32.
        """
        check_int(vocab_size, "vocab_size", minimum=2)
        check_positive_int(embed_dim, "embed_dim")
        self.vocab_size = vocab_size
        self.embed = nnx.Embed(vocab_size, embed_dim, rngs=rngs)
        self.classifier = SequenceClassifier(
            cell, embed_dim, hidden_sizes, rngs=rngs, **classifier_options
        )

    def __call__(self, ids: jax.Array, *, lengths: jax.Array | None = None) -> jax.Array:
        """Maps token ids ``(B, T)`` or ``(B, T, K)`` with ``lengths`` ``(B,)`` to logits."""
        return self.classifier(self._embed(ids), lengths=lengths)

    def attention_weights(self, ids: jax.Array, *, lengths: jax.Array | None = None) -> jax.Array:
        """The attention pooling's weights ``(B, T)`` over token ids ``(B, T)`` or ``(B, T, K)``.

        See :meth:`~gru_lstm_jax.models.SequenceClassifier.attention_weights`; a model whose
        pooling is not ``"attention"`` raises ``ValueError``.
        """
        return self.classifier.attention_weights(self._embed(ids), lengths=lengths)

    def _embed(self, ids: jax.Array) -> jax.Array:
        """``(B, T, E)``: each step's embedding, the sum over its ids for ``(B, T, K)``."""
        ids = jnp.asarray(ids)
        if ids.ndim not in (2, 3) or not jnp.issubdtype(ids.dtype, jnp.integer):
            raise ValueError(
                f"ids must be integer token ids of shape (batch, time) or (batch, time, ids per "
                f"step); got {ids.dtype} {tuple(ids.shape)}"
            )
        embedded = self.embed(ids)
        return embedded if ids.ndim == 2 else embedded.sum(axis=2)
