"""Sine-wave forecasting (the seed's task): LSTM(64) -> LSTM(32) -> Dense(1) on noisy sin(1.5 x).

Command (both cells; each writes its own run folder, then the LSTM-vs-GRU figure)::

    python experiments/sine.py --workdir runs/sine

One cell, or another registered cell::

    python experiments/sine.py --workdir runs/sine_gru --cells gru
    python experiments/sine.py --workdir runs/sine_small --config.model.hidden_sizes="(32,)"
    python experiments/sine.py --workdir runs/sine_seed1 --config.seed=1

Expected result (measured; 684 train / 76 validation / 190 test windows; the tested checkpoint is
the last epoch, see ``training.test_checkpoint``). The noise variance is 0.01, but what a predictor
can reach depends on the split's noise draw, so every run also writes to ``results.json``
(``"references"``) the MSE of reference predictors on the same windows
(:func:`gru_lstm_jax.data.sine_reference_predictions`; the script prints three of them on the test
split): the noise-free sine itself (the floor); a sine fit that knows the frequency and fits
amplitude and phase to each window by least squares; a phase fit that also knows the amplitude; and
a ridge AR(50) fitted on the training windows, its penalty chosen on validation. Test MSE for five
seeds (``--config.seed=0`` ... ``4``):

====  ==========  =======  =======  ========  =========  ========
seed  test floor  LSTM     GRU      sine fit  phase fit  ridge AR
====  ==========  =======  =======  ========  =========  ========
0     0.0120      0.0130   0.0131   0.0130    0.0132     0.0132
1     0.0108      0.0115   0.0119   0.0116    0.0113     0.0118
2     0.0089      0.0098   0.0099   0.0095    0.0096     0.0097
3     0.0106      0.0133   0.0124   0.0112    0.0115     0.0111
4     0.0100      0.0108   0.0109   0.0109    0.0110     0.0110
mean  0.0104      0.0117   0.0116   0.0112    0.0113     0.0114
====  ==========  =======  =======  ========  =========  ========

Both cells end 0.0007-0.0027 above the floor and within 0.0022 of the best reference. Seed 0's
test split is a hard draw: the best reference on it, the sine fit, scores 0.01300, and the phase
fit, which knows more, 0.01324 (LSTM 0.01295, GRU 0.01314, ridge AR 0.01319). Testing the
best-validation epoch instead gave numbers within 0.0004 of these on seeds 0-3 but 0.0156 for
the LSTM on seed 4, whose best validation loss came at epoch 31 of 100. About 50-65 s per cell
(100 epochs of 21 steps, with compilation and evaluation) on a quiet 2-core laptop CPU; 3-4
minutes per cell when the machine is shared.

The ``smoke`` variant (``--config=gru_lstm_jax/configs/sine.py:smoke``) trains a tiny model for
two epochs in seconds; the tests use it.
"""

from __future__ import annotations

import math

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the sine config; ``variant="smoke"`` gives the tiny test variant."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.objective = "regression"
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
    if variant == "smoke":
        config.model.hidden_sizes = (8,)
        config.data.num_points = 200
        config.data.window = 10
        config.training.num_epochs = 2
        config.training.batch_size = 16
        config.training.progress = False
    elif variant:
        raise ValueError(f"unknown sine config variant {variant!r}; use '' or 'smoke'")
    return config
