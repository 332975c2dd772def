"""Flax NNX layers: RNN, LSTM, GRU, SimpleRNN, Bidirectional, StackedRNN, AdditiveAttention.

Every recurrent layer takes ``implementation=`` (``"auto"``, ``"fused"``, ``"scan"``, ``"cudnn"``,
``"cudnn_reference"``) with the meaning of :func:`gru_lstm_jax.recurrence.run_scan`.
"""

from gru_lstm_jax.nn.attention import AdditiveAttention, masked_softmax
from gru_lstm_jax.nn.bidirectional import MERGE_MODES, Bidirectional
from gru_lstm_jax.nn.linear import linear
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
    "linear",
    "masked_softmax",
    "summary",
]
