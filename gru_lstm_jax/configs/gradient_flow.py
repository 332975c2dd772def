"""Gradient flow: ‖∂L/∂h_t‖ versus t for the tanh RNN, LSTM and GRU, before and after training.

On long-range XOR at L = 100 (the XOR config's model and training): fresh models over several
seeds, then one trained model per cell. Command::

    python experiments/gradient_flow.py --workdir runs/gradient_flow

Expected: at initialisation ``‖∂L/∂h_0‖ / ‖∂L/∂h_99‖`` of the mean over 5 seeds is 0.47 for the
tanh RNN, 3.8e-8 for the LSTM (forget bias 1) and underflows for the GRU; 8.3e-4 and 0.23 with
chrono initialisation. About 5 minutes on a 2-core laptop CPU. Variant: ``smoke`` (tests). The
full table, the trained models and the run folder's files: ``docs/results.md``.
"""

from __future__ import annotations

import ml_collections

from gru_lstm_jax.configs import xor


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Returns the gradient-flow config; ``variant="smoke"`` gives the tiny test variant."""
    config = ml_collections.ConfigDict()
    config.cells = ("rnn", "lstm", "gru")
    # Modules that register cells of one's own, imported before the cells are looked up
    # (--config.imports=my_cells; several: repeat the flag or separate them by commas).
    config.imports = ()
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
