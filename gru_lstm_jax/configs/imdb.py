r"""IMDB sentiment (Maas et al. 2011): the seed's LSTM, a stronger bidirectional GRU, a smoke test.

Commands (this project's prepared copy of the data lies beside the checkout)::

    python experiments/imdb.py --workdir runs/imdb --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py --workdir runs/imdb_best \
        --config=gru_lstm_jax/configs/imdb.py:best --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py --workdir runs/imdb_bigrams \
        --config=gru_lstm_jax/configs/imdb.py:bigrams --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py predict --workdir runs/imdb "A wonderful film." "Dull and long."

Variants and test accuracy: ``""`` (Embedding 128 -> LSTM 64 -> Dense(1), 5 epochs) 0.855;
``best`` (bidirectional GRU 192, max pooling, length-bucketed reviews up to 1,000 tokens, 4
epochs) 0.893; ``bigrams`` (``best`` with the 100,000 most frequent training bigrams as tokens, 3
epochs) 0.911; ``quick`` (one epoch of a small model, for studies); ``smoke`` (tests, on mock
data). Every run, its time and how ``best`` and ``bigrams`` were chosen: ``docs/results.md``.
"""

from __future__ import annotations

import ml_collections

from gru_lstm_jax.configs import add_placement


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The IMDB config of ``variant``: ``""``, ``"best"``, ``"bigrams"``, ``"quick"``, ``"smoke"``.

    ``""`` is the seed's model; ``"quick"`` (for studies) one epoch of a small model on the last
    64 words.
    """
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
    add_placement(config)
    config.data = ml_collections.ConfigDict(
        {
            "name": "imdb",
            "data_dir": "",  # "" means TFDS's default data directory
            "vocab_size": 10_000,
            "bigrams": 0,  # N > 0: the N most frequent training bigrams as ids of their own
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
            "compute_dtype": "float32",  # "bfloat16": matrix products in bf16 (README)
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
            "schedule": "cosine",
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
            "test_checkpoint": "best",
            # 0: every batch padded to maxlen, as the seed. W > 0: length-bucketed batches
            # trimmed to a multiple of W steps (a compilation per width).
            "bucket_width": 0,
            "progress": True,
        }
    )
    if variant in ("best", "bigrams"):
        config.data.vocab_size = 20_000
        config.data.maxlen = 1000  # nearly every review whole (see docs/results.md)
        config.model.cell = "gru"
        config.model.hidden_sizes = (192,)  # chosen over 128 on validation (docs/results.md)
        config.model.bidirectional = True
        config.model.pooling = "max"
        config.model.dropout = 0.5
        config.model.recurrent_dropout = 0.0
        config.training.num_epochs = 4
        config.training.batch_size = 64
        config.training.bucket_width = 50
        # Validation accuracy peaks at the end of the cosine schedule, not at the lowest
        # validation loss (see docs/results.md).
        config.training.test_checkpoint = "last"
        config.optimizer.learning_rate = 2e-3
        if variant == "bigrams":
            # The 100,000 most frequent training bigrams get ids of their own; one epoch fewer
            # (both chosen on validation accuracy, see docs/results.md).
            config.data.bigrams = 100_000
            config.training.num_epochs = 3
    elif variant == "quick":
        config.data.maxlen = 64
        config.model.embed_dim = 32
        config.model.hidden_sizes = (32,)
        config.training.num_epochs = 1
        config.training.batch_size = 64
    elif variant == "smoke":
        shrink(config)
    elif variant:
        raise ValueError(
            f"unknown imdb config variant {variant!r}; use '', 'best', 'bigrams', 'quick' or "
            "'smoke'"
        )
    return config


def shrink(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config``'s recipe at the ``smoke`` sizes, for tests: data and model train in seconds.

    Returns:
        ``config``, changed in place: 40 word ids (at most 30 bigram ids), 12 steps, 8 units,
        2 epochs of batches of 4, no cache and no progress bar.
    """
    config.data.update(vocab_size=40, bigrams=min(config.data.bigrams, 30), maxlen=12, cache_dir="")
    config.model.update(embed_dim=8, hidden_sizes=(8,))
    config.training.update(num_epochs=2, batch_size=4, eval_batch_size=8, progress=False)
    config.training.bucket_width = min(config.training.bucket_width, 4)
    return config
