"""gru_lstm_jax: LSTM and GRU recurrent networks in JAX and Flax NNX.

Layers, bottom to top: ``cells`` (pure functions), ``recurrence`` (``lax.scan`` over time),
``nn`` (Flax NNX modules). See ``DESIGN.md`` in the project's shared folder for the conventions.
"""

from gru_lstm_jax import cells, nn, recurrence
from gru_lstm_jax.cells import Cell, available_cells, get_cell, register_cell
from gru_lstm_jax.nn import GRU, LSTM, RNN, Bidirectional, SimpleRNN, StackedRNN, summary
from gru_lstm_jax.recurrence import run_scan

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "Cell",
    "SimpleRNN",
    "StackedRNN",
    "available_cells",
    "cells",
    "get_cell",
    "nn",
    "recurrence",
    "register_cell",
    "run_scan",
    "summary",
]
