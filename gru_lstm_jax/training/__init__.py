"""Training: pure jitted steps with optax, the fit loop, run folders, checkpoints and figures."""

from gru_lstm_jax.tasks.objectives import OBJECTIVES, Objective, get_objective
from gru_lstm_jax.training.loop import (
    NonFiniteLossError,
    Run,
    evaluate,
    load_trained,
    prepare_run,
    random_streams,
    train_and_evaluate,
)
from gru_lstm_jax.training.optimizers import make_optimizer
from gru_lstm_jax.training.parallel import DataParallel, data_parallel, initialize_distributed
from gru_lstm_jax.training.steps import Steps, TrainState, make_steps
from gru_lstm_jax.training.user_cells import (
    cells_from_flags,
    check_cell_names,
    choose_cells,
    import_cell_modules,
)

__all__ = [
    "OBJECTIVES",
    "DataParallel",
    "NonFiniteLossError",
    "Objective",
    "Run",
    "Steps",
    "TrainState",
    "cells_from_flags",
    "check_cell_names",
    "choose_cells",
    "data_parallel",
    "evaluate",
    "get_objective",
    "import_cell_modules",
    "initialize_distributed",
    "load_trained",
    "make_optimizer",
    "make_steps",
    "prepare_run",
    "random_streams",
    "train_and_evaluate",
]
