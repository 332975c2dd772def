"""Temporal order (Hochreiter & Schmidhuber 1997, 6a): classify the order of X and Y in T = 100.

Command (LSTM, GRU, tanh RNN; experiment 6b, three symbols and 8 classes, with
``--config.data.num_symbols=3``)::

    python experiments/temporal_order.py --workdir runs/temporal_order

Expected test accuracy, seed 0: LSTM and GRU 100%, the RNN at chance (25.1%), in 17-23 s per LSTM
or GRU run and 6-10 s for the RNN on 2 shared CPU cores. Variants: ``quick`` (3 epochs, for
studies), ``smoke`` (tests). Seeds 1 and 2, 6b and chrono initialisation: ``docs/results.md``.
"""

from __future__ import annotations

import ml_collections

from gru_lstm_jax.configs import add_placement


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the temporal-order config; ``variant`` ``"quick"`` or ``"smoke"`` (tests)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up.
    config.imports = ()
    add_placement(config)
    config.data = ml_collections.ConfigDict(
        {
            "name": "temporal_order",
            "length": 100,
            "num_symbols": 2,
            "num_train": 10_000,
            "num_val": 1_000,
            "num_test": 1_000,
        }
    )
    config.model = ml_collections.ConfigDict(
        {
            "kind": "classifier",
            "cell": "lstm",
            "compute_dtype": "float32",  # "bfloat16": matrix products in bf16 (README)
            "hidden_sizes": (32,),
            "bidirectional": False,
            "pooling": "last",
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
            "layer_dropout": 0.0,
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
        config.training.num_epochs = 3
    elif variant == "smoke":
        config.data.length = 12
        config.data.num_train = 128
        config.data.num_val = 32
        config.data.num_test = 32
        config.model.hidden_sizes = (8,)
        config.training.num_epochs = 2
        config.training.batch_size = 32
        config.training.eval_batch_size = 32
        config.training.progress = False
    elif variant:
        raise ValueError(
            f"unknown temporal_order config variant {variant!r}; use '', 'quick' or 'smoke'"
        )
    return config
