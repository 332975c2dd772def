"""Long-range XOR with LSTM, GRU and the tanh RNN, optionally swept over the length L.

Usage (from the repository root; see ``gru_lstm_jax/configs/xor.py`` for the expected result)::

    python experiments/xor.py --workdir runs/xor
    python experiments/xor.py --workdir runs/xor_sweep --lengths 20,50,100,200
    PYTHONPATH=. python experiments/xor.py --config.imports=my_cells --config.model.cell=my_cell

``--cells`` trains several cells (default: LSTM, GRU and the tanh RNN); a cell set in the config
(``--config.model.cell``, or a config file whose cell is not the default's) trains that cell
alone, and giving both is an error, as is ``--lengths`` with ``--config.data.length``.
``--config.imports`` names modules that register cells of one's own; they are imported before
any cell is looked up.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.configs import xor
from gru_lstm_jax.training.sweeps import cells_and_lengths_from_flags, train_length_sweep

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "xor.py"), "Experiment config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/xor", "Folder for the run folders.")
_CELLS = flags.DEFINE_list(
    "cells", ["lstm", "gru", "rnn"], "Cells to train (not with --config.model.cell)."
)
_LENGTHS = flags.DEFINE_list(
    "lengths",
    [],
    "Sequence lengths to sweep (default: the config's; not with --config.data.length).",
)


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    config = _CONFIG.value
    cells, lengths = cells_and_lengths_from_flags(config, xor.get_config(), _CELLS, _LENGTHS)

    def describe(results: dict) -> str:
        final = results["final"]
        return (
            f"val accuracy {final['val']['accuracy']:.4f}, "
            f"test accuracy {final['test']['accuracy']:.4f}"
        )

    train_length_sweep(config, _WORKDIR.value, cells, lengths, describe, baseline=(0.5, "chance"))


if __name__ == "__main__":
    app.run(main)
