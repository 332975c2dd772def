"""Sine-wave forecasting (the seed's task): LSTM(64) -> LSTM(32) -> Dense(1) on noisy sin(1.5 x).

Command (both cells; each writes its own run folder, then the LSTM-vs-GRU figure)::

    python experiments/sine.py --workdir runs/sine

One cell, or another registered cell::

    python experiments/sine.py --workdir runs/sine_gru --cells gru
    python experiments/sine.py --workdir runs/sine_small --config.model.hidden_sizes="(32,)"
    python experiments/sine.py --workdir runs/sine_seed1 --config.seed=1

Expected result (measured; 684 train / 76 validation / 190 test windows; the tested checkpoint is
the last epoch, see ``training.test_checkpoint``). The noise variance is 0.01, but what a predictor
can reach depends on the split's noise draw, so every run also writes to ``results.json`` the MSE
of reference predictors on the same windows (``"references"``,
:func:`gru_lstm_jax.tasks.sine.reference_predictions`), and each predictor's squared error against
the noise-free sine (``"noise_free_error"``), which takes the noise draw out; the script prints
both for the test split. The references: the noise-free sine itself (the floor); a phase fit that
knows the frequency and the amplitude and fits each window's phase by least squares, which is
what a model that had learned the sine's shape could reach; a sine fit that knows only the
frequency; and a ridge AR(50) fitted on the training windows, its penalty chosen on validation,
which learns from the training split as a model does. Test split, five seeds
(``--config.seed=0`` ... ``4``):

MSE against the noisy targets:

====  ======  ======  ======  =========  ========  ========
seed  floor   LSTM    GRU     phase fit  sine fit  ridge AR
====  ======  ======  ======  =========  ========  ========
0     0.0120  0.0130  0.0131  0.0125     0.0130    0.0132
1     0.0108  0.0115  0.0119  0.0110     0.0116    0.0118
2     0.0089  0.0098  0.0099  0.0092     0.0095    0.0097
3     0.0106  0.0133  0.0124  0.0108     0.0112    0.0111
4     0.0100  0.0108  0.0109  0.0103     0.0109    0.0110
mean  0.0104  0.0117  0.0116  0.0108     0.0112    0.0114
====  ======  ======  ======  =========  ========  ========

Mean squared error against the noise-free sine, in units of 1e-4:

====  ====  ====  =========  ========  ========
seed  LSTM  GRU   phase fit  sine fit  ridge AR
====  ====  ====  =========  ========  ========
0     9.2   9.2   4.6        8.4       10.1
1     4.4   7.3   1.5        3.1       4.2
2     6.3   6.6   1.0        4.6       9.0
3     26.8  18.8  2.4        10.0      11.3
4     10.8  14.0  2.8        12.0      13.2
mean  11.5  11.2  2.5        7.6       9.6
====  ====  ====  =========  ========  ========

Both cells end 0.0007-0.0027 above the floor. Against the noise-free sine they err a little more
than the ridge AR, the other predictor that learns from the 684 noisy training windows, and four
times as much as the phase fit: knowing the sine's shape is worth 0.0003-0.0024 of test MSE (0.0009
on average) that the training windows do not teach. On seed 0 the two cells are equally far from the
truth (9.2e-4 each); the GRU's 0.01314 against the LSTM's 0.01295 is how their errors happen to
correlate with that split's noise. Changing the recipe did not close the gap. On seeds 5-9, which
are reported nowhere else, the LSTM's mean test error against the noise-free sine was 10.7e-4 with
this config (GRU 11.1e-4), and 10.4-13.3e-4 with a learning rate of 1e-3 or 1e-2, batches of 16 or
64, 50 epochs, AdamW weight decay 0.1, or one layer of 32 or 64 units; it was worse with weight
decay 1.0 (16.4e-4), 300 epochs (18.5e-4, one seed) and dropout 0.1 (46e-4, two seeds). More data
did close part of it: with twice the series at the same sampling (``--config.data.num_points=2000
--config.data.x_max=25.1327``, i.e. 8π), the LSTM's mean on seeds 5-9 fell from 10.7e-4 to 7.1e-4
(5.8, 5.0, 6.5, 10.0 and 8.4e-4 against 15.8, 7.7, 15.6, 4.1 and 10.3e-4), so the gap is set by the
training windows more than by the recipe. Testing the
best-validation epoch instead of the last gave numbers within 0.0004 of these on seeds 0-3 but
0.0156 for the LSTM on seed 4, whose best validation loss came at epoch 31 of 100. About 50-65 s per
cell (100 epochs of 21 steps, with compilation and evaluation) on a quiet 2-core laptop CPU; 3-4
minutes per cell when the machine is shared.

The ``smoke`` variant (``--config=gru_lstm_jax/configs/sine.py:smoke``) trains a tiny model for
two epochs in seconds; the tests use it.
"""

from __future__ import annotations

import math

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the sine config; ``variant`` ``"quick"`` (for studies) or ``"smoke"`` (tests)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Modules that register cells or tasks of one's own, imported before they are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
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
            # epochs: the best-validation epoch is often an early, worse one (seed 4: epoch 31).
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
