"""Studies: experiments over many runs that train through the engine, then analyse and report.

- :func:`train_grid` and :func:`study_configs` (:mod:`~gru_lstm_jax.studies.runs`): what every
  study shares, the grid of (task, cell, seed) runs, each in its own resumable run folder.
- :func:`run_study` (:mod:`~gru_lstm_jax.studies.compare`): every cell on every registered task
  with several seeds, and the LSTM-vs-GRU report.
- :func:`run_variants_study` (:mod:`~gru_lstm_jax.studies.variants`): Greff et al.'s LSTM
  variants against V, and minGRU/minLSTM against GRU and LSTM.
- :func:`gradient_flow_study` (:mod:`~gru_lstm_jax.studies.gradient_flow`): ‖∂L/∂h_t‖ per cell
  at initialisation and after training.

They sit below :mod:`gru_lstm_jax.training` (they train) and :mod:`gru_lstm_jax.analysis` (they
analyse what was trained).
"""

from gru_lstm_jax.studies.compare import DEFAULT_TASKS, run_study
from gru_lstm_jax.studies.gradient_flow import gradient_flow_study
from gru_lstm_jax.studies.runs import MODES, study_configs, train_grid
from gru_lstm_jax.studies.variants import run_variants_study

__all__ = [
    "DEFAULT_TASKS",
    "MODES",
    "gradient_flow_study",
    "run_study",
    "run_variants_study",
    "study_configs",
    "train_grid",
]
