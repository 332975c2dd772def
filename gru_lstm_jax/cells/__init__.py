"""Recurrent cells as pure functions (the cell protocol) and the registry of cells by name.

Each cell's own functions (``init``, ``project``, ``update``, ...) live in its module, e.g.
:func:`gru_lstm_jax.cells.lstm.lstm_update`, and on the :class:`Cell` it returns.
"""

from gru_lstm_jax.cells.base import (
    Cell,
    available_cells,
    cell_option_names,
    get_cell,
    input_projection,
    matmul,
    recurrent_kernel,
    register_cell,
)
from gru_lstm_jax.cells.gru import GRUState, gru_cell
from gru_lstm_jax.cells.layer_norm_lstm import layer_norm_lstm_cell
from gru_lstm_jax.cells.lstm import LSTMState, lstm_cell
from gru_lstm_jax.cells.lstm_variants import LSTM_VARIANTS, FGRState, lstm_variant_cell
from gru_lstm_jax.cells.min_rnn import MinState, min_gru_cell, min_lstm_cell
from gru_lstm_jax.cells.peephole_lstm import peephole_lstm_cell
from gru_lstm_jax.cells.simple_rnn import RNNState, simple_rnn_cell

__all__ = [
    "LSTM_VARIANTS",
    "Cell",
    "FGRState",
    "GRUState",
    "LSTMState",
    "MinState",
    "RNNState",
    "available_cells",
    "cell_option_names",
    "get_cell",
    "gru_cell",
    "input_projection",
    "layer_norm_lstm_cell",
    "lstm_cell",
    "lstm_variant_cell",
    "matmul",
    "min_gru_cell",
    "min_lstm_cell",
    "peephole_lstm_cell",
    "recurrent_kernel",
    "register_cell",
    "simple_rnn_cell",
]
