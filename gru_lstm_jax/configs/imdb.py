r"""IMDB sentiment (Maas et al. 2011): the seed's LSTM, a stronger bidirectional GRU, a smoke test.

Commands (this project's prepared copy of the data lies beside the checkout)::

    python experiments/imdb.py --workdir runs/imdb --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py --workdir runs/imdb_best \\
        --config=gru_lstm_jax/configs/imdb.py:best --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py predict --workdir runs/imdb "A wonderful film." "Dull and long."

Variants: ``""`` the seed's model, Embedding 128 -> LSTM 64 (dropout 0.2, recurrent dropout
0.2) -> Dense(1) with a sigmoid, 5 epochs; ``"best"`` Embedding 128 -> bidirectional GRU 192
(input dropout 0.5) -> max pooling over the valid steps -> Dense(1), reviews up to 1,000 tokens
in length-bucketed batches, 4 epochs; ``"smoke"`` a tiny model for the tests (on
``tfds.testing.mock_data``).

Expected result (measured on the real data, 20,000 train / 5,000 validation / 25,000 test
reviews; the tested checkpoint is the one with the best validation loss unless marked "last";
seconds per training epoch on a 2-core CPU shared with one to three other jobs, so the times
are upper bounds):

==============================================================  =========  ==========  =========
run                                                             test acc.  val. acc.   s / epoch
==============================================================  =========  ==========  =========
seed model (this config: cosine lr, keep the last words)         0.8624     0.8820      62-73
seed model, constant lr, keep the last 200 words                 0.8558     0.8752      38-70
seed model, constant lr, keep the first 200 words                0.8344     0.8516      52-102
bi-GRU 64, mean pooling, maxlen 400, 4 epochs                    0.8787     0.8956      158-171
bi-GRU 64, mean, vocab 20k, maxlen 500, dropout 0.5, 3 epochs    0.8784     0.9010      124-129
bi-GRU 64, mean, vocab 20k, maxlen 600, dropout 0.5, 2 epochs    0.8793     0.9034      (loaded)
bi-GRU 64, max, vocab 20k, maxlen 1000, bucketed, 3 epochs       0.8850     0.9074      103-225
bi-GRU 128, max, maxlen 1000, bucketed, 4 epochs, epoch 2        0.8884     0.9088      163-277
bi-GRU 128, as above, last epoch (4)                             0.8895     0.9146      163-277
bi-GRU 128, last epoch, AdamW, weight decay 0.1                  0.8865     0.9098      229-402
bi-GRU 128, attention pooling, epoch 3 of 4 (stopped)            --         0.9010      267-456
bi-GRU 128, last epoch, seed 1                                   0.8882     0.9006      234-329
``best`` (bi-GRU 192, max, maxlen 1000, bucketed), last epoch    0.8963     0.9118      264-387
``best``, seed 1 (``--config.seed=1``)                           0.8944     0.9062      311-448
==============================================================  =========  ==========  =========

The ``best`` variant reaches 0.8963 on the test split (0.8944 with seed 1, which also draws
another validation split). It was chosen over the bi-GRU 128 on validation accuracy, by a
rule fixed after the seed-0 runs (which favoured 128 on validation and 192 on test) and before
the seed-1 runs: both sizes on seeds 0 and 1, the higher mean last-epoch validation accuracy
wins (192: 0.9090, 128: 0.9076). The seed-1 test accuracies were read after the choice; the
mean test accuracies are 0.8954 (192) and 0.8889 (128). Validation loss is lowest after
epoch 2 while validation accuracy keeps rising to the end of the cosine schedule, so the last
epoch is tested. Validation accuracy runs 1-2.5 points above test accuracy because the
validation reviews come from the training split, whose movies differ from the test split's.
The seed-1 and bi-GRU 192 times were measured with two or three other jobs on the two cores.
Length bucketing (``training.bucket_width``) trims every batch to its longest review rounded up
to 50 tokens: the median review has 174 tokens, and the mean training batch runs 268 steps
instead of 1,000 (18 widths, one compilation each), fewer than an unbucketed epoch at maxlen
400. The first run tokenizes the reviews (about 15 s) and caches them in
``data.cache_dir``; later runs load them in a fraction of a second.
"""

from __future__ import annotations

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the IMDB config of ``variant``: ``""``, ``"best"``, ``"quick"`` or ``"smoke"``.

    ``""`` is the seed's model; ``"quick"`` (for studies) one epoch of a small model on the last
    64 words.
    """
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
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
    if variant == "best":
        config.data.vocab_size = 20_000
        config.data.maxlen = 1000  # cuts 0.2-0.3% of the reviews (median 174 tokens)
        config.model.cell = "gru"
        config.model.hidden_sizes = (192,)  # chosen over 128 on validation, see the docstring
        config.model.bidirectional = True
        config.model.pooling = "max"
        config.model.dropout = 0.5
        config.model.recurrent_dropout = 0.0
        config.training.num_epochs = 4
        config.training.batch_size = 64
        config.training.bucket_width = 50
        # Validation accuracy peaks at the end of the cosine schedule, while the validation
        # loss is lowest at epoch 2 (see the table in the module docstring).
        config.training.test_checkpoint = "last"
        config.optimizer.learning_rate = 2e-3
    elif variant == "quick":
        config.data.maxlen = 64
        config.model.embed_dim = 32
        config.model.hidden_sizes = (32,)
        config.training.num_epochs = 1
        config.training.batch_size = 64
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
        raise ValueError(
            f"unknown imdb config variant {variant!r}; use '', 'best', 'quick' or 'smoke'"
        )
    return config
