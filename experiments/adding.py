"""The adding problem with LSTM, GRU and the tanh RNN, optionally swept over the length T.

Usage (from the repository root; see ``gru_lstm_jax/configs/adding.py`` for the expected result)::

    python experiments/adding.py --workdir runs/adding
    python experiments/adding.py --workdir runs/adding_sweep --lengths 50,100,200
    PYTHONPATH=. python experiments/adding.py --config.imports=my_cells --config.model.cell=my_cell

``--cells`` trains several cells (default: LSTM, GRU and the tanh RNN); a cell set in the config
(``--config.model.cell``, or a config file whose cell is not the default's) trains that cell
alone, and giving both is an error, as is ``--lengths`` with ``--config.data.length``. A sweep
over several lengths also draws ``mse_vs_length.png``.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.configs import adding
from gru_lstm_jax.tasks.adding import plot_mse_vs_length
from gru_lstm_jax.training import cells_from_flags, run_folder, train_and_evaluate

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


def cells_and_lengths() -> tuple[tuple[str, ...], list[int]]:
    """The registered cells and the lengths to train; fails before anything is written."""
    config = _CONFIG.value
    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    if flags.FLAGS["lengths"].present and "data.length" in overrides:
        raise app.UsageError(
            f"--lengths and --config.data.length both choose the length (--lengths="
            f"{','.join(_LENGTHS.value)}, config.data.length={config.data.length}); give only "
            "one of them"
        )
    cells = cells_from_flags(config, adding.get_config(), _CELLS)
    try:
        lengths = [int(length) for length in _LENGTHS.value]
    except ValueError as error:
        raise app.UsageError(f"--lengths must be integers; got {_LENGTHS.value}") from error
    return cells, lengths or [config.data.length]


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    cells, lengths = cells_and_lengths()
    workdir = pathlib.Path(_WORKDIR.value)
    sweep = []
    for length in lengths:
        for cell in cells:
            config = _CONFIG.value.copy_and_resolve_references()
            config.model.cell = cell
            config.data.length = length
            run = workdir / f"{cell}_T{length}"
            results = train_and_evaluate(config, run)
            sweep.append({**results, "length": length, "workdir": str(run)})
            test = results["final"]["test"]
            print(f"{cell} T={length}: test MSE {test['loss']:.4f} (predicting 1: "
                  f"{results['constant_one_mse']:.4f}), test MAE {test['mae']:.4f}, "
                  f"{results['wall_time_s']:.0f} s -> {run}")  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    run_folder.write_json(workdir / "sweep.json", sweep)
    if len(lengths) > 1:
        figure = plot_mse_vs_length(sweep, workdir / "mse_vs_length.png")
        print(f"sweep figure: {figure}")


if __name__ == "__main__":
    app.run(main)
