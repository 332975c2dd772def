"""Tasks: what an experiment trains on (data, model, objective, outputs), registered by name.

Built in: ``sine`` (forecasting), ``xor`` (long-range XOR), ``adding`` (the adding problem),
``temporal_order`` (Hochreiter & Schmidhuber's temporal order), ``imdb`` (sentiment). A task of
one's own is a :class:`Task` given to :func:`register_task` in a module that the config names
in ``imports``; see :mod:`gru_lstm_jax.tasks.base`.
"""

from gru_lstm_jax.tasks import adding, imdb, seq2seq, sine, temporal_order, xor  # noqa: F401  (registers the built-ins)
from gru_lstm_jax.tasks.base import (
    Data,
    Task,
    available_tasks,
    build_for_features,
    call_on_inputs,
    get_task,
    register_task,
    write_test_predictions,
    write_test_probabilities,
)
from gru_lstm_jax.tasks.objectives import OBJECTIVES, Objective, get_objective

__all__ = [
    "OBJECTIVES",
    "Data",
    "Objective",
    "Task",
    "available_tasks",
    "build_for_features",
    "call_on_inputs",
    "get_objective",
    "get_task",
    "register_task",
    "write_test_predictions",
    "write_test_probabilities",
]
