"""Studies: experiments over many runs that train through the engine, then analyse and report.

- :func:`run_study` (:mod:`~gru_lstm_jax.studies.compare`): every cell on every registered task
  with several seeds, and the LSTM-vs-GRU report.
- :func:`gradient_flow_study` (:mod:`~gru_lstm_jax.studies.gradient_flow`): ‖∂L/∂h_t‖ per cell
  at initialisation and after training.

They sit below :mod:`gru_lstm_jax.training` (they train) and :mod:`gru_lstm_jax.analysis` (they
analyse what was trained).
"""

from gru_lstm_jax.studies.compare import DEFAULT_TASKS, MODES, run_study, study_configs
from gru_lstm_jax.studies.gradient_flow import gradient_flow_study

__all__ = ["DEFAULT_TASKS", "MODES", "gradient_flow_study", "run_study", "study_configs"]
