"""Training: pure jitted steps with optax, the fit loop, run folders, checkpoints and figures."""

from gru_lstm_jax.training.loop import (
    NonFiniteLossError,
    Run,
    evaluate,
    load_trained,
    prepare_run,
    random_streams,
    train_and_evaluate,
)
from gru_lstm_jax.training.objectives import OBJECTIVES, Objective, get_objective
from gru_lstm_jax.training.optimizers import make_optimizer
from gru_lstm_jax.training.steps import Steps, TrainState, make_steps

__all__ = [
    "OBJECTIVES",
    "NonFiniteLossError",
    "Objective",
    "Run",
    "Steps",
    "TrainState",
    "evaluate",
    "get_objective",
    "load_trained",
    "make_optimizer",
    "make_steps",
    "prepare_run",
    "random_streams",
    "train_and_evaluate",
]
