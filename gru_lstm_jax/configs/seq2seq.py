"""Attention seq2seq on a toy translation task: reverse a string of 3 to 10 digits.

Bidirectional GRU encoder (64 per direction), additive attention (Bahdanau, Cho & Bengio 2015)
and a GRU decoder (128) with input feeding (Luong, Pham & Manning 2015); see
:mod:`gru_lstm_jax.models.seq2seq`. Command::

    python experiments/seq2seq_attention.py --workdir runs/seq2seq

Expected: 100.0 % exact match on the validation and test strings (seed 0, 6 epochs, 936 steps)
and anti-diagonal attention heatmaps, in 44-46 s on a shared 2-core CPU. Variants: ``quick``
(strings of at most 6 digits, 2 epochs, for studies), ``smoke`` (tests). Other seeds, the LSTM
and the set-up in full: ``docs/results.md``.
"""

from __future__ import annotations

import ml_collections

from gru_lstm_jax.configs import add_placement


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the seq2seq config; ``variant`` ``"quick"`` (for studies) or ``"smoke"`` (tests)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
    add_placement(config)
    config.data = ml_collections.ConfigDict(
        {
            "name": "seq2seq",
            "num_train": 10_000,
            "num_val": 1_000,
            "num_test": 1_000,
            "min_length": 3,
            "max_length": 10,
            "num_digits": 10,
        }
    )
    config.model = ml_collections.ConfigDict(
        {
            "cell": "gru",
            "compute_dtype": "float32",  # "bfloat16": matrix products in bf16 (README)
            "embed_dim": 32,
            "encoder_hidden": 64,
            "decoder_hidden": 128,
            "attention_features": 128,
        }
    )
    config.optimizer = ml_collections.ConfigDict(
        {
            "name": "adam",
            "learning_rate": 3e-3,
            # Cosine decay to 0 over the run (a constant rate: see docs/results.md).
            "schedule": "cosine",
            "warmup_steps": 0,
            "clip_norm": 1.0,
            "weight_decay": 0.0,
        }
    )
    config.training = ml_collections.ConfigDict(
        {
            "num_epochs": 6,
            "batch_size": 64,
            "eval_batch_size": 500,
            "log_every_steps": 25,
            "checkpoints_to_keep": 2,
            "test_checkpoint": "last",
            "progress": True,
        }
    )
    if variant == "quick":
        config.data.max_length = 6
        config.training.num_epochs = 2
    elif variant == "smoke":
        config.data.num_train = 256
        config.data.num_val = 32
        config.data.num_test = 32
        config.data.max_length = 5
        config.model.embed_dim = 8
        config.model.encoder_hidden = 8
        config.model.decoder_hidden = 16
        config.model.attention_features = 16
        config.training.num_epochs = 2
        config.training.batch_size = 32
        config.training.eval_batch_size = 32
        config.training.progress = False
    elif variant:
        raise ValueError(f"unknown seq2seq config variant {variant!r}; use '', 'quick' or 'smoke'")
    return config
