"""Analyses of trained or untrained cells: gradient flow through time and gate statistics.

The cell-level functions take a cell of the protocol (:class:`~gru_lstm_jax.cells.Cell`), its
parameters and a batch of inputs; :mod:`gru_lstm_jax.analysis.model_gradients` applies them to
models. :mod:`~gru_lstm_jax.analysis.compare` (statistics),
:mod:`~gru_lstm_jax.analysis.compare_figures` and :mod:`~gru_lstm_jax.analysis.compare_report`
read the LSTM-vs-GRU study's records. Nothing here trains: the studies that train and then
analyse are in :mod:`gru_lstm_jax.studies`.
"""

from gru_lstm_jax.analysis.compare import choose_between_lstm_and_gru, summarize
from gru_lstm_jax.analysis.compare_report import write_report
from gru_lstm_jax.analysis.gates import gate_statistics
from gru_lstm_jax.analysis.gradient_flow import (
    GradientNorms,
    JacobianNorms,
    gradient_norms_over_time,
    hidden_state_gradients,
    jacobian_norms,
)
from gru_lstm_jax.analysis.model_gradients import (
    classifier_gradient_norms,
    fit_decay_rate,
    split_gradient_norms,
)

__all__ = [
    "GradientNorms",
    "JacobianNorms",
    "choose_between_lstm_and_gru",
    "classifier_gradient_norms",
    "fit_decay_rate",
    "gate_statistics",
    "gradient_norms_over_time",
    "hidden_state_gradients",
    "jacobian_norms",
    "split_gradient_norms",
    "summarize",
    "write_report",
]
