"""The adding problem (Le et al. 2015): sum the two marked numbers among T = 100 steps.

Command (LSTM, GRU, tanh RNN; the sweep with ``--lengths 50,100,200,400``)::

    python experiments/adding.py --workdir runs/adding

Expected test MSE, seed 0 (predicting 1 gives 1/6 ≈ 0.167): LSTM 0.0010, GRU 0.0003, RNN 0.1675,
in 25-35 s (LSTM), 20-25 s (GRU), 8-12 s (RNN) on 2 shared CPU cores; the sweep 8 minutes.
Variants: ``quick`` (T = 50, 6 epochs, for studies), ``smoke`` (tests). Seeds 1 and 2, the sweep
and the RNN at short lengths: ``docs/results.md``.
"""

from __future__ import annotations

import ml_collections

from gru_lstm_jax.configs import add_placement


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the adding config; ``variant`` ``"quick"`` (for studies) or ``"smoke"`` (tests)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up.
    config.imports = ()
    add_placement(config)
    config.data = ml_collections.ConfigDict(
        {"name": "adding", "length": 100, "num_train": 10_000, "num_val": 1_000, "num_test": 1_000}
    )
    config.model = ml_collections.ConfigDict(
        {
            "kind": "forecaster",
            "cell": "lstm",
            "compute_dtype": "float32",  # "bfloat16": matrix products in bf16 (README)
            "hidden_sizes": (64,),
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
            # Gate biases for memories as long as the sequence (Tallec & Ollivier 2018).
            "chrono_init": True,
        }
    )
    config.optimizer = ml_collections.ConfigDict(
        {
            "name": "adam",
            "learning_rate": 3e-3,
            "schedule": "constant",
            "warmup_steps": 0,
            "clip_norm": 1.0,
            "weight_decay": 0.0,
        }
    )
    config.training = ml_collections.ConfigDict(
        {
            "num_epochs": 10,
            "batch_size": 64,
            "eval_batch_size": 500,
            "log_every_steps": 25,
            "checkpoints_to_keep": 2,
            "test_checkpoint": "best",
            "progress": True,
        }
    )
    if variant == "quick":
        config.data.length = 50
        config.training.num_epochs = 6
    elif variant == "smoke":
        config.data.length = 8
        config.data.num_train = 128
        config.data.num_val = 32
        config.data.num_test = 32
        config.model.hidden_sizes = (8,)
        config.training.num_epochs = 2
        config.training.batch_size = 32
        config.training.eval_batch_size = 32
        config.training.progress = False
    elif variant:
        raise ValueError(f"unknown adding config variant {variant!r}; use '', 'quick' or 'smoke'")
    return config
