"""Analyses of trained or untrained cells: gradient flow through time and gate statistics.

The cell-level functions take a cell of the protocol (:class:`~gru_lstm_jax.cells.Cell`), its
parameters and a batch of inputs; :mod:`gru_lstm_jax.analysis.study` applies them to models.
"""

from gru_lstm_jax.analysis.compare import run_study
from gru_lstm_jax.analysis.gates import gate_statistics
from gru_lstm_jax.analysis.gradient_flow import (
    GradientNorms,
    JacobianNorms,
    gradient_norms_over_time,
    hidden_state_gradients,
    jacobian_norms,
)
from gru_lstm_jax.analysis.study import (
    classifier_gradient_norms,
    fit_decay_rate,
    gradient_flow_study,
    split_gradient_norms,
)

__all__ = [
    "GradientNorms",
    "JacobianNorms",
    "classifier_gradient_norms",
    "fit_decay_rate",
    "gate_statistics",
    "gradient_flow_study",
    "gradient_norms_over_time",
    "hidden_state_gradients",
    "jacobian_norms",
    "run_study",
    "split_gradient_norms",
]
