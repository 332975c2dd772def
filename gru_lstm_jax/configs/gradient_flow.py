"""Gradient flow: ‖∂L/∂h_t‖ versus t for the tanh RNN, LSTM and GRU, before and after training.

Command::

    python experiments/gradient_flow.py --workdir runs/gradient_flow

The task is long-range XOR at L = 100 (``gru_lstm_jax/configs/xor.py``, same model and
training). At initialisation the gradient of the loss at the last step with respect to every
hidden state is measured for several seeds (a fresh model and a fresh batch per seed); then one
model per cell is trained and measured again. The run folder gets ``curves.json`` and
``curves.csv`` (every curve), ``results.json`` (the fitted decay per cell and phase) and
``gradient_flow.png``.

Expected result: EXPECTED_RESULT

The ``smoke`` variant (``--config=gru_lstm_jax/configs/gradient_flow.py:smoke``) uses short
sequences, two seeds and the XOR smoke training; the tests use it.
"""

from __future__ import annotations

import ml_collections

from gru_lstm_jax.configs import xor


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the gradient-flow config; ``variant="smoke"`` gives the tiny test variant."""
    config = ml_collections.ConfigDict()
    config.cells = ("rnn", "lstm", "gru")
    config.num_seeds = 5
    config.batch_size = 256
    # Fresh models with Keras's initialisation (LSTM forget bias 1), as the textbook argument
    # assumes; the trained models use the XOR config, with chrono initialisation.
    config.chrono_init_at_start = False
    config.xor = xor.get_config("smoke" if variant == "smoke" else "")
    if variant == "smoke":
        config.num_seeds = 2
        config.batch_size = 16
    elif variant:
        raise ValueError(f"unknown gradient_flow config variant {variant!r}; use '' or 'smoke'")
    else:
        config.xor.data.length = 100
    return config
