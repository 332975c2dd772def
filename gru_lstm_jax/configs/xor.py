"""Long-range XOR (the seed's task): remember the first two bits of a sequence of length L.

Command (LSTM, GRU and the tanh RNN at L = 20; one run folder each)::

    python experiments/xor.py --workdir runs/xor

The sweep over L with the accuracy-vs-length figure::

    python experiments/xor.py --workdir runs/xor_sweep --lengths 20,50,100,200

Expected result: EXPECTED_RESULT

The ``smoke`` variant (``--config=gru_lstm_jax/configs/xor.py:smoke``) trains a tiny model on
a few hundred short sequences in seconds; the tests use it.
"""

from __future__ import annotations

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the XOR config; ``variant="smoke"`` gives the tiny test variant."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.objective = "binary_classification"
    config.data = ml_collections.ConfigDict(
        {
            "name": "xor",
            "length": 20,
            "num_sequences": 10_000,
            "val_fraction": 0.2,
            "test_sequences": 2_000,
            "distractors": False,
        }
    )
    config.model = ml_collections.ConfigDict(
        {
            "kind": "classifier",
            "cell": "lstm",
            "hidden_sizes": (32,),
            "bidirectional": False,
            "pooling": "last",
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
            "layer_dropout": 0.0,
            # Gate biases for memories as long as the sequence (Tallec & Ollivier 2018);
            # with a forget bias of 1 the LSTM and GRU stay at chance from L = 50 on.
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
            "num_epochs": 20,
            "batch_size": 64,
            "eval_batch_size": 500,
            "log_every_steps": 25,
            "checkpoints_to_keep": 2,
            "progress": True,
        }
    )
    if variant == "smoke":
        config.data.length = 6
        config.data.num_sequences = 256
        config.data.test_sequences = 64
        config.model.hidden_sizes = (8,)
        config.training.num_epochs = 2
        config.training.batch_size = 32
        config.training.progress = False
    elif variant:
        raise ValueError(f"unknown xor config variant {variant!r}; use '' or 'smoke'")
    return config
