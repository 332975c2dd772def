"""Sine-wave forecasting with LSTM and GRU: one run folder per cell and a comparison figure.

Usage (from the repository root; see ``gru_lstm_jax/configs/sine.py`` for the expected result)::

    python experiments/sine.py --workdir runs/sine
    python experiments/sine.py --workdir runs/sine_gru --cells gru --config.training.num_epochs=10
    PYTHONPATH=. python experiments/sine.py --config.imports=my_cells --config.model.cell=my_cell

``--cells`` trains several cells, one run folder each (default: LSTM and GRU); a cell set in the
config (``--config.model.cell``, or a config file whose cell is not the default's) trains that
cell alone, and giving both is an error. ``--config.imports`` names modules that register cells
of one's own; they are imported before any cell is looked up.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.configs import sine
from gru_lstm_jax.training import cells_from_flags, plots, train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "sine.py"), "Experiment config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/sine", "Folder for the run folders.")
_CELLS = flags.DEFINE_list(
    "cells", ["lstm", "gru"], "Cells to train, one run folder each (not with --config.model.cell)."
)


def cells_to_train() -> tuple[str, ...]:
    """The registered cells of ``--cells`` or of the config; fails before anything is written."""
    config = _CONFIG.value
    return cells_from_flags(config, sine.get_config(), _CELLS)


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    cells = cells_to_train()
    workdir = pathlib.Path(_WORKDIR.value)
    runs = {}
    for cell in cells:
        config = _CONFIG.value.copy_and_resolve_references()
        config.model.cell = cell
        runs[cell] = workdir / cell
        results = train_and_evaluate(config, runs[cell])
        test, reference = results["final"]["test"], results["references"]["test"]
        print(
            f"{cell}: test MSE {test['loss']:.4f} (noise-free sine {reference['noise_free']:.4f}, "
            f"per-window phase fit {reference['phase_fit']:.4f}, sine fit "
            f"{reference['sine_fit']:.4f}, ridge AR {reference['linear_ar']:.4f}), "
            f"MAE {test['mae']:.4f}, "
            f"{results['num_params']:,} params, {results['wall_time_s']:.0f} s -> {runs[cell]}"
        )
        truth = results["noise_free_error"]["test"]
        print(
            f"{' ' * len(cell)}  against the noise-free sine: {cell} {truth['model']:.5f}, "
            f"phase fit {truth['phase_fit']:.5f}, sine fit {truth['sine_fit']:.5f}, "
            f"ridge AR {truth['linear_ar']:.5f}"
        )
    if len(runs) > 1:
        print(f"comparison: {plots.plot_loss_comparison(runs, workdir / 'loss_comparison.png')}")


if __name__ == "__main__":
    app.run(main)
