r"""IMDB sentiment (Maas et al. 2011): the seed's LSTM, a stronger bidirectional GRU, a smoke test.

Commands (this project's prepared copy of the data lies beside the checkout)::

    python experiments/imdb.py --workdir runs/imdb --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py --workdir runs/imdb_best \\
        --config=gru_lstm_jax/configs/imdb.py:best --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py predict --workdir runs/imdb "A wonderful film." "Dull and long."

Variants: ``""`` the seed's model, Embedding 128 -> LSTM 64 (dropout 0.2, recurrent dropout
0.2) -> Dense(1) with a sigmoid, 5 epochs; ``"best"`` a bidirectional GRU with mean pooling;
``"smoke"`` a tiny model for the tests (on ``tfds.testing.mock_data``).

Expected result: EXPECTED_RESULT
"""

from __future__ import annotations

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the IMDB config; ``variant`` is ``""`` (the seed's), ``"best"`` or ``"smoke"``."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.objective = "binary_classification"
    config.data = ml_collections.ConfigDict(
        {
            "name": "imdb",
            "data_dir": "",  # "" means TFDS's default data directory
            "vocab_size": 10_000,
            "maxlen": 200,
            "val_fraction": 0.2,
            "keep": "last",  # as Keras's pad_sequences: a long review keeps its ending
            "cache_dir": "~/.cache/gru_lstm_jax",
        }
    )
    config.model = ml_collections.ConfigDict(
        {
            "kind": "text_classifier",
            "cell": "lstm",
            "embed_dim": 128,
            "hidden_sizes": (64,),
            "bidirectional": False,
            "pooling": "last",
            "dropout": 0.2,
            "recurrent_dropout": 0.2,
            "layer_dropout": 0.0,
        }
    )
    config.optimizer = ml_collections.ConfigDict(
        {
            "name": "adam",
            "learning_rate": 1e-3,
            "schedule": "constant",
            "warmup_steps": 0,
            "clip_norm": 1.0,
            "weight_decay": 0.0,
        }
    )
    config.training = ml_collections.ConfigDict(
        {
            "num_epochs": 5,
            "batch_size": 32,
            "eval_batch_size": 500,
            "log_every_steps": 50,
            "checkpoints_to_keep": 2,
            "progress": True,
        }
    )
    if variant == "best":
        config.data.maxlen = 400
        config.model.cell = "gru"
        config.model.bidirectional = True
        config.model.pooling = "mean"
        config.model.dropout = 0.3
        config.model.recurrent_dropout = 0.0
        config.training.num_epochs = 4
        config.training.batch_size = 64
        config.optimizer.schedule = "cosine"
        config.optimizer.learning_rate = 2e-3
    elif variant == "smoke":
        config.data.vocab_size = 40
        config.data.maxlen = 12
        config.data.cache_dir = ""
        config.model.embed_dim = 8
        config.model.hidden_sizes = (8,)
        config.training.num_epochs = 2
        config.training.batch_size = 4
        config.training.eval_batch_size = 8
        config.training.progress = False
    elif variant:
        raise ValueError(f"unknown imdb config variant {variant!r}; use '', 'best' or 'smoke'")
    return config
