"""Recurrent cells as pure functions (the cell protocol) and the registry of cells by name."""

from gru_lstm_jax.cells.base import (
    Cell,
    SplitStep,
    SplitWeights,
    available_cells,
    cell_option_names,
    get_cell,
    register_cell,
)
from gru_lstm_jax.cells.gru import (
    GRUState,
    gru_cell,
    gru_gates,
    gru_init,
    gru_initial_carry,
    gru_project,
    gru_reset_before_cell,
    gru_step,
)
from gru_lstm_jax.cells.lstm import (
    LSTMState,
    lstm_cell,
    lstm_gates,
    lstm_init,
    lstm_initial_carry,
    lstm_project,
    lstm_step,
)
from gru_lstm_jax.cells.simple_rnn import (
    RNNState,
    simple_rnn_cell,
    simple_rnn_init,
    simple_rnn_initial_carry,
    simple_rnn_project,
    simple_rnn_step,
)

__all__ = [
    "Cell",
    "GRUState",
    "LSTMState",
    "RNNState",
    "SplitStep",
    "SplitWeights",
    "available_cells",
    "cell_option_names",
    "get_cell",
    "gru_cell",
    "gru_gates",
    "gru_init",
    "gru_initial_carry",
    "gru_project",
    "gru_reset_before_cell",
    "gru_step",
    "lstm_cell",
    "lstm_gates",
    "lstm_init",
    "lstm_initial_carry",
    "lstm_project",
    "lstm_step",
    "register_cell",
    "simple_rnn_cell",
    "simple_rnn_init",
    "simple_rnn_initial_carry",
    "simple_rnn_project",
    "simple_rnn_step",
]
