"""The adding problem with LSTM, GRU and the tanh RNN, optionally swept over the length T.

Usage (from the repository root; see ``gru_lstm_jax/configs/adding.py`` for the expected result)::

    python experiments/adding.py --workdir runs/adding
    python experiments/adding.py --workdir runs/adding_sweep --lengths 50,100,200
    PYTHONPATH=. python experiments/adding.py --config.imports=my_cells --config.model.cell=my_cell

``--cells`` trains several cells (default: LSTM, GRU and the tanh RNN); a cell set in the config
(``--config.model.cell``, or a config file whose cell is not the default's) trains that cell
alone, and giving both is an error, as is ``--lengths`` with ``--config.data.length``. A sweep
over several lengths also draws ``loss_vs_length.png`` (validation MSE against the length).
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.configs import adding
from gru_lstm_jax.tasks.adding import CONSTANT_ONE_MSE
from gru_lstm_jax.training.sweeps import cells_and_lengths_from_flags, train_length_sweep

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "adding.py"), "Experiment config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/adding", "Folder for the run folders.")
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
    cells, lengths = cells_and_lengths_from_flags(config, adding.get_config(), _CELLS, _LENGTHS)

    def describe(results: dict) -> str:
        test = results["final"]["test"]
        return (
            f"test MSE {test['loss']:.4f} (predicting 1: {results['constant_one_mse']:.4f}), "
            f"test MAE {test['mae']:.4f}"
        )

    train_length_sweep(
        config, _WORKDIR.value, cells, lengths, describe, metric="loss",
        baseline=(CONSTANT_ONE_MSE, "predict 1 (1/6)"), log_y=True,
    )  # fmt: skip


if __name__ == "__main__":
    app.run(main)
