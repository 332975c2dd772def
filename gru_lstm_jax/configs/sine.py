"""Sine-wave forecasting (the seed's task): LSTM(64) -> LSTM(32) -> Dense(1) on noisy sin(1.5 x).

Command (LSTM and GRU, one run folder each, then the LSTM-vs-GRU figure; ``--cells gru`` trains
one cell)::

    python experiments/sine.py --workdir runs/sine

Expected: test MSE 0.0130 (LSTM) and 0.0131 (GRU) on seed 0, where the noise-free sine scores
0.0120; 0.0117 and 0.0116 over seeds 0-4, against 0.0104. About 50-65 s per cell on a quiet 2-core
CPU. Variants: ``quick`` (20 epochs, for studies), ``smoke`` (seconds, for the tests). Seeds,
reference predictors and the recipes tried: ``docs/results.md``.
"""

from __future__ import annotations

import math

import ml_collections

from gru_lstm_jax.configs import add_placement


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the sine config; ``variant`` ``"quick"`` (for studies) or ``"smoke"`` (tests)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
    add_placement(config)
    config.data = ml_collections.ConfigDict(
        {
            "name": "sine",
            "num_points": 1000,
            "x_max": 4 * math.pi,
            "frequency": 1.5,
            "noise_std": 0.1,
            "window": 50,
            "test_fraction": 0.2,
            "val_fraction": 0.1,
        }
    )
    config.model = ml_collections.ConfigDict(
        {
            "kind": "forecaster",
            "cell": "lstm",
            "compute_dtype": "float32",  # "bfloat16": matrix products in bf16 (README)
            "hidden_sizes": (64, 32),
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
        }
    )
    config.optimizer = ml_collections.ConfigDict(
        {
            "name": "adam",
            "learning_rate": 3e-3,
            "schedule": "cosine",
            "warmup_steps": 0,
            "clip_norm": 1.0,
            "weight_decay": 0.0,
        }
    )
    config.training = ml_collections.ConfigDict(
        {
            "num_epochs": 100,
            "batch_size": 32,
            "eval_batch_size": 256,
            "log_every_steps": 10,
            "checkpoints_to_keep": 2,
            # The learning rate anneals to 0 and the 76 validation windows are too few to rank
            # epochs (see docs/results.md).
            "test_checkpoint": "last",
            "progress": True,
        }
    )
    if variant == "quick":
        config.training.num_epochs = 20
    elif variant == "smoke":
        config.model.hidden_sizes = (8,)
        config.data.num_points = 200
        config.data.window = 10
        config.training.num_epochs = 2
        config.training.batch_size = 16
        config.training.progress = False
    elif variant:
        raise ValueError(f"unknown sine config variant {variant!r}; use '', 'quick' or 'smoke'")
    return config
