"""Long-range XOR (the seed's task): remember the first two bits of a sequence of length L.

Command (LSTM, GRU and the tanh RNN at L = 20; one run folder each)::

    python experiments/xor.py --workdir runs/xor

The sweep over L with the accuracy-vs-length figure::

    python experiments/xor.py --workdir runs/xor_sweep --lengths 20,50,100,200

Expected result (measured with this config, seed 0, 20 epochs; validation / test accuracy):

======  ===============  ===============  ===============  ===============
cell    L = 20           L = 50           L = 100          L = 200
======  ===============  ===============  ===============  ===============
LSTM    100.0 / 100.0 %  100.0 / 100.0 %   76.6 /  74.7 %  100.0 / 100.0 %
GRU     100.0 / 100.0 %  100.0 / 100.0 %  100.0 / 100.0 %  100.0 / 100.0 %
RNN     100.0 / 100.0 %  100.0 / 100.0 %  100.0 / 100.0 %   73.1 /  74.9 %
======  ===============  ===============  ===============  ===============

At L = 100 the LSTM of seed 0 settles at 76.6% validation accuracy from epoch 4 on and stays
there through 40 epochs (a plateau: it has solved part of the XOR); seeds 1 and 2 reach 100.0 /
100.0 %. The tanh RNN fails at L = 200, and already at L = 100 with
``--config.data.distractors`` (72.6% validation accuracy; there the GRU reaches 76.4% and the
LSTM stays at chance within 20 epochs, so distractors need longer training). Without chrono
initialisation (``--config.model.chrono_init=False``: forget bias 1, update bias 0) the LSTM and
GRU stay at chance (about 50%) from L = 50 on in 10 epochs: the forget gate keeps
``σ(1) = 0.73`` of the state per step, so the two bits are gone after a few dozen zero inputs.

Time on this project's 2-core CPU: about 15 s per run at L = 20, 22 s at L = 100 and 43 s at
L = 200 (LSTM); the sweep over the three cells and four lengths took 3.7 minutes.

The ``smoke`` variant (``--config=gru_lstm_jax/configs/xor.py:smoke``) trains a tiny model on
a few hundred short sequences in seconds; the tests use it.
"""

from __future__ import annotations

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the XOR config; ``variant`` ``"quick"`` (for studies) or ``"smoke"`` (tests)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
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
