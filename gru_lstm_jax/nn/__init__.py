"""Flax NNX layers: RNN, LSTM, GRU, SimpleRNN, Bidirectional, StackedRNN, AdditiveAttention.

:mod:`gru_lstm_jax.nn.cudnn` adds an optional cuDNN path for the LSTM (``jax.experimental.rnn``).
"""

from gru_lstm_jax.nn.attention import AdditiveAttention, masked_softmax
from gru_lstm_jax.nn.bidirectional import MERGE_MODES, Bidirectional
from gru_lstm_jax.nn.cudnn import (
    cudnn_available,
    cudnn_lstm,
    cudnn_lstm_stack,
    lstm_params_from_cudnn,
    lstm_params_to_cudnn,
)
from gru_lstm_jax.nn.rnn import GRU, LSTM, RNN, SimpleRNN
from gru_lstm_jax.nn.stacked import StackedRNN
from gru_lstm_jax.nn.summary import LayerSummary, ModelSummary, count_params, summary

__all__ = [
    "GRU",
    "LSTM",
    "MERGE_MODES",
    "RNN",
    "AdditiveAttention",
    "Bidirectional",
    "LayerSummary",
    "ModelSummary",
    "SimpleRNN",
    "StackedRNN",
    "count_params",
    "cudnn_available",
    "cudnn_lstm",
    "cudnn_lstm_stack",
    "lstm_params_from_cudnn",
    "lstm_params_to_cudnn",
    "masked_softmax",
    "summary",
]
