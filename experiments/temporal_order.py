"""The temporal-order problem (Hochreiter & Schmidhuber 1997, 6a/6b) with LSTM, GRU, tanh RNN.

Usage (from the repository root; see ``gru_lstm_jax/configs/temporal_order.py`` for the expected
result)::

    python experiments/temporal_order.py --workdir runs/temporal_order
    python experiments/temporal_order.py --workdir runs/to_6b --config.data.num_symbols=3

``--cells`` trains several cells (default: LSTM, GRU and the tanh RNN), each into its own run
folder; a cell set in the config (``--config.model.cell``) trains that cell alone.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.configs import temporal_order
from gru_lstm_jax.training import cells_from_flags, train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    str(pathlib.Path(configs.__file__).parent / "temporal_order.py"),
    "Experiment config.",
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/temporal_order", "Folder for the run folders.")
_CELLS = flags.DEFINE_list(
    "cells", ["lstm", "gru", "rnn"], "Cells to train (not with --config.model.cell)."
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    cells = cells_from_flags(_CONFIG.value, temporal_order.get_config(), _CELLS)
    for cell in cells:
        config = _CONFIG.value.copy_and_resolve_references()
        config.model.cell = cell
        run = pathlib.Path(_WORKDIR.value) / cell
        results = train_and_evaluate(config, run)
        final = results["final"]
        print(f"{cell} ({2**config.data.num_symbols} classes): test accuracy "
              f"{final['test']['accuracy']:.4f} (val {final['val']['accuracy']:.4f}, majority "
              f"class {results['majority_class_accuracy']:.4f}), {results['wall_time_s']:.0f} s "
              f"-> {run}")  # fmt: skip


if __name__ == "__main__":
    app.run(main)
