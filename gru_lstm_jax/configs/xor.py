"""Long-range XOR (the seed's task): remember the first two bits of a sequence of length L.

Commands (LSTM, GRU and the tanh RNN at L = 20, one run folder each; the sweep over L)::

    python experiments/xor.py --workdir runs/xor
    python experiments/xor.py --workdir runs/xor_sweep --lengths 20,50,100,200

Expected (seed 0): 100.0% test accuracy for the three cells at L = 20; in the sweep the GRU keeps
100.0% at every L, the LSTM plateaus at 74.7% at L = 100 and the RNN at 74.9% at L = 200. About
15 s per run at L = 20 on a 2-core CPU, 3.7 minutes for the sweep. Variants: ``quick`` (5 epochs,
for studies), ``smoke`` (tests). The table, seeds, distractors, chrono: ``docs/results.md``.
"""

from __future__ import annotations

import ml_collections

from gru_lstm_jax.configs import add_placement


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the XOR config; ``variant`` ``"quick"`` (for studies) or ``"smoke"`` (tests)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
    add_placement(config)
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
            "compute_dtype": "float32",  # "bfloat16": matrix products in bf16 (README)
            "hidden_sizes": (32,),
            "bidirectional": False,
            "pooling": "last",
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
            "layer_dropout": 0.0,
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
            "num_epochs": 20,
            "batch_size": 64,
            "eval_batch_size": 500,
            "log_every_steps": 25,
            "checkpoints_to_keep": 2,
            "test_checkpoint": "best",
            "progress": True,
        }
    )
    if variant == "quick":
        config.training.num_epochs = 5
    elif variant == "smoke":
        config.data.length = 6
        config.data.num_sequences = 256
        config.data.test_sequences = 64
        config.model.hidden_sizes = (8,)
        config.training.num_epochs = 2
        config.training.batch_size = 32
        config.training.progress = False
    elif variant:
        raise ValueError(f"unknown xor config variant {variant!r}; use '', 'quick' or 'smoke'")
    return config
