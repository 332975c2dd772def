"""Datasets as numpy arrays, generated from explicit PRNG keys, and their batching.

A split is a plain dict of numpy arrays with a shared leading dimension ``N``: ``"inputs"``
float32 ``(N, T, F)`` and ``"targets"`` float32 ``(N, K)``, plus any per-example extras (such
as the sine task's ``"target_index"``).

- :func:`make_sine_data`: next-value forecasting of a noisy sine wave, split chronologically
  (its reference predictors are in :mod:`gru_lstm_jax.tasks.sine`).
- :func:`make_xor_data`: remember two bits over a long sequence and output their XOR.
- :func:`make_reverse_data`: a toy translation task (reverse a digit string) for seq2seq models;
  its splits hold int32 token arrays (``"source"``, ``"target_in"``, ``"target_out"``, lengths).
- :func:`shuffled_batches` / :func:`padded_batches`: fixed-shape batches for training and exact
  evaluation; :func:`bucketed_batches` (and ``padded_batches(..., bucket_width=W)``) group
  sequences of similar length and trim the padding.
"""

from gru_lstm_jax.data.batching import (
    bucketed_batches,
    num_examples,
    padded_batches,
    shuffled_batches,
    steps_per_epoch,
)
from gru_lstm_jax.data.seq2seq import (
    BOS_ID,
    EOS_ID,
    FIRST_DIGIT_ID,
    PAD_ID,
    make_reverse_data,
    reverse_vocab_size,
)
from gru_lstm_jax.data.sine import SineData, make_sine_data
from gru_lstm_jax.data.xor import make_xor_data

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "FIRST_DIGIT_ID",
    "PAD_ID",
    "SineData",
    "bucketed_batches",
    "make_reverse_data",
    "make_sine_data",
    "make_xor_data",
    "num_examples",
    "padded_batches",
    "reverse_vocab_size",
    "shuffled_batches",
    "steps_per_epoch",
]
