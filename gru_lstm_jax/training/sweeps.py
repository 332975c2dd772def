"""A sweep over sequence lengths for the experiment scripts: flags, training, figure.

``experiments/xor.py`` and ``experiments/adding.py`` train every chosen cell at every length
of ``--lengths`` (one run folder each, resumable like any run), write ``sweep.json`` and, for
several lengths, a figure of the task's metric against the length.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import ml_collections

from gru_lstm_jax.tasks import get_task
from gru_lstm_jax.training import plots, run_folder
from gru_lstm_jax.training.loop import train_and_evaluate
from gru_lstm_jax.training.parallel import is_primary
from gru_lstm_jax.training.user_cells import cells_from_flags

__all__ = ["cells_and_lengths_from_flags", "train_length_sweep"]


def cells_and_lengths_from_flags(
    config: ml_collections.ConfigDict, default_config: ml_collections.ConfigDict, cells: Any,
    lengths: Any,
) -> tuple[tuple[str, ...], list[int]]:  # fmt: skip
    """The cells of ``--cells`` and the lengths of ``--lengths``; fails before any write.

    Args:
        config: the script's config (the ``--config`` flag's value).
        default_config: the config file's default (see
            :func:`~gru_lstm_jax.training.cells_from_flags`).
        cells: the ``--cells`` ``FlagHolder``.
        lengths: the ``--lengths`` ``FlagHolder`` (a list flag; empty: the config's length).

    Raises:
        absl.app.UsageError: for ``--lengths`` together with ``--config.data.length``,
            lengths that are not integers, or bad cells.
    """
    from absl import app, flags
    from ml_collections import config_flags

    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    if lengths.present and "data.length" in overrides:
        raise app.UsageError(
            f"--lengths and --config.data.length both choose the length (--lengths="
            f"{','.join(lengths.value)}, config.data.length={config.data.length}); give only "
            "one of them"
        )
    chosen = cells_from_flags(config, default_config, cells)
    try:
        values = [int(length) for length in lengths.value]
    except ValueError as error:
        raise app.UsageError(f"--lengths must be integers; got {lengths.value}") from error
    return chosen, values or [config.data.length]


def train_length_sweep(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    cells: Sequence[str],
    lengths: Sequence[int],
    describe: Callable[[dict[str, Any]], str],
    *,
    metric: str | None = None,
    baseline: tuple[float, str] | None = None,
    log_y: bool = False,
) -> list[dict[str, Any]]:
    """Trains every cell at every length, one run folder ``<cell>_L<length>`` each.

    Prints one line per run (``describe(results)``), writes ``sweep.json`` (the runs'
    ``results.json`` with ``length`` and ``workdir``) and, for several lengths,
    ``<metric>_vs_length.png`` (a validation metric against the length).

    Args:
        config: the task's config; ``config.model.cell`` and ``config.data.length`` are set
            per run.
        workdir: the sweep's folder.
        cells: registered cell names.
        lengths: sequence lengths.
        describe: one line of a run's results for the console.
        metric: the figure's key of ``final["val"]`` (default: the task's objective metric;
            ``"loss"`` for the training loss).
        baseline: ``(value, label)`` drawn as a horizontal line in the figure (chance, or a
            constant predictor's error), or ``None``.
        log_y: a logarithmic metric axis.

    Returns:
        The contents of ``sweep.json``.
    """
    workdir = pathlib.Path(workdir)
    sweep = []
    for length in lengths:
        for cell in cells:
            run_config = config.copy_and_resolve_references()
            run_config.model.cell = cell
            run_config.data.length = length
            run = workdir / f"{cell}_L{length}"
            results = train_and_evaluate(run_config, run)
            sweep.append({**results, "length": length, "workdir": str(run)})
            print(
                f"{cell} L={length}: {describe(results)}, {results['wall_time_s']:.0f} s -> {run}"
            )
    if not is_primary():  # with several processes, process 0 writes the sweep's files
        return sweep
    workdir.mkdir(parents=True, exist_ok=True)
    run_folder.write_json(workdir / "sweep.json", sweep)
    if len(lengths) > 1:
        metric = metric or get_task(config.data.name).objective.metric_name
        figure = plots.plot_metric_vs_length(
            sweep, workdir / f"{metric}_vs_length.png", metric=metric, title=config.data.name,
            baseline=baseline, log_y=log_y,
        )  # fmt: skip
        print(f"sweep figure: {figure}")
    return sweep
