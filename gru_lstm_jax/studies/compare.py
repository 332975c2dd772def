"""The LSTM-vs-GRU study: every cell on every task with several seeds, then its report.

:func:`run_study` trains each cell (LSTM, GRU, the tanh RNN, or any registered cell) on each
study task with ``N`` seeds, one run folder per (task, cell, seed), through
:func:`~gru_lstm_jax.training.train_and_evaluate`, so an interrupted study resumes and a
finished run is never trained again. It then measures the gradient flow of one task (below),
aggregates the seeds (:func:`~gru_lstm_jax.analysis.compare.summarize`) and writes
``study.json``, the figures and ``report.md``
(:func:`~gru_lstm_jax.analysis.compare_report.write_report`), whose "Choosing between LSTM and
GRU" section is derived from the measured numbers.

A study task is a registered task (:mod:`gru_lstm_jax.tasks`) that has a config
(``Task.config``), named as registered: a task of one's own too, from a module named in
``imports``. Its config is the task's ``""``, ``"quick"`` or ``"smoke"`` variant (the study's
``mode``) with ``overrides`` applied; ``lengths`` sweeps a task's ``config.data.length``, one
study task ``<task>_L<length>`` per length. Every task is scored by its objective's metric
(``objective.metric_name`` and ``higher_is_better``) and its curves are the validation loss per
epoch; nothing here depends on a task's name.

The gradient flow ‖∂L/∂h_t‖ is measured on the task with the longest sequences among those
whose model is a one-layer, unidirectional classifier with last-step pooling
(``config.model``: ``kind="classifier"``, one hidden size, ``bidirectional=False``,
``pooling="last"``), the model that
:func:`~gru_lstm_jax.analysis.model_gradients.classifier_gradient_norms` differentiates exactly
(XOR's, temporal order's); a study without such a task has no gradient-flow section.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np

from gru_lstm_jax.analysis.compare import summarize
from gru_lstm_jax.analysis.compare_report import write_report
from gru_lstm_jax.analysis.model_gradients import fit_decay_rate, split_gradient_norms
from gru_lstm_jax.studies.runs import machine, study_configs, train_grid
from gru_lstm_jax.training import run_folder
from gru_lstm_jax.training.loop import load_trained, prepare_run
from gru_lstm_jax.training.user_cells import check_cell_names, import_cell_modules

__all__ = ["DEFAULT_TASKS", "run_study"]

DEFAULT_TASKS = ("sine", "xor", "seq2seq")


def _gradient_task(configs: dict[str, ml_collections.ConfigDict]) -> str | None:
    """The task with the longest sequences among those with a one-layer last-step classifier."""
    time_steps = {}
    for task, config in configs.items():
        model = config.model
        if (
            model.get("kind") == "classifier"
            and len(tuple(model.get("hidden_sizes", ()))) == 1
            and not model.get("bidirectional", False)
            and model.get("pooling", "last") == "last"
        ):
            time_steps[task] = np.shape(prepare_run(config).splits["val"]["inputs"])[1]
    return max(time_steps, key=time_steps.__getitem__) if time_steps else None


def _safe_fit(curve: np.ndarray) -> dict[str, float] | None:
    """The decay fit, or None when (nearly) every step underflowed to zero."""
    try:
        return fit_decay_rate(curve)
    except ValueError:
        return None


def _gradient_flow(
    task: str,
    config: ml_collections.ConfigDict,
    records: Sequence[dict[str, Any]],
    cells: Sequence[str],
    seeds: Sequence[int],
    batch_size: int,
) -> dict[str, Any]:
    """‖∂L/∂h_t‖ on ``task``: fresh models (Keras biases) and the trained ones, per cell."""
    result: dict[str, Any] = {"task": task, "cells": {}}
    for cell in cells:
        fresh = config.copy_and_resolve_references()
        fresh.model.cell = cell
        if "chrono_init" in fresh.model:
            fresh.model.chrono_init = False
        init_curves = []
        for seed in seeds:
            fresh.seed = int(seed)
            run = prepare_run(fresh)
            init_curves.append(split_gradient_norms(run, run.steps.init_state().params, batch_size))
        trained_curves = [
            split_gradient_norms(*load_trained(record["path"]), batch_size)
            for record in records
            if record["task"] == task and record["cell"] == cell
        ]
        result["cells"][cell] = {
            "init": [c.tolist() for c in init_curves],
            "trained": [c.tolist() for c in trained_curves],
            "init_fit": _safe_fit(np.mean(init_curves, axis=0)),
            "trained_fit": _safe_fit(np.mean(trained_curves, axis=0)),
        }
    return result


def run_study(
    workdir: str | os.PathLike,
    *,
    cells: Sequence[str] = ("lstm", "gru", "rnn"),
    seeds: Sequence[int] = (0, 1, 2),
    mode: str = "full",
    tasks: Sequence[str] = DEFAULT_TASKS,
    lengths: Mapping[str, Sequence[int]] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    notes: Sequence[str] = (),
    gradient_batch: int = 256,
    progress: Any = print,
    imports: Sequence[str] = (),
) -> dict[str, Any]:
    """Runs the study and writes ``study.json``, the figures and ``report.md`` to ``workdir``.

    Run folders are ``workdir/runs/<task>/<cell>/seed<k>``; running again with the same
    arguments resumes: finished runs are read back, not retrained.

    Args:
        workdir: the study's folder.
        cells: registered cell names (see :func:`~gru_lstm_jax.cells.available_cells`).
        seeds: the seeds; each run's ``config.seed``.
        mode: ``"full"``, ``"quick"`` or ``"smoke"``: the variant of every task's config
            (see :func:`~gru_lstm_jax.studies.runs.study_configs`).
        tasks: registered task names with a config, e.g. ``("sine", "xor", "my_task")``.
        lengths: ``{task: (L, ...)}``, a sweep over ``config.data.length``, e.g.
            ``{"xor": (20, 50, 100)}`` for the study tasks ``xor_L20``, ``xor_L50``,
            ``xor_L100``.
        overrides: ``{task: {"section.field": value}}``, fields of a task's config to set.
        notes: lines for the report (e.g. why a task was left out); kept in ``study.json``.
        gradient_batch: validation sequences averaged in the gradient-flow curves.
        progress: called with one line of text per finished run.
        imports: modules that register cells or tasks of one's own (see
            :func:`~gru_lstm_jax.training.import_cell_modules`), imported before ``cells`` and
            ``tasks`` are looked up and named in every run's ``config.imports``.

    Returns:
        The contents of ``study.json``: ``settings``, ``notes``, ``records`` (one per run),
        ``summary`` (:func:`~gru_lstm_jax.analysis.compare.summarize`), ``gradient_flow``
        (``None`` without a task to measure it on) and ``wall_time_s``.

    Raises:
        ValueError: for a module of ``imports`` that cannot be imported, an unknown cell,
            no or repeated seeds, or a bad task, mode, length or override (see
            :func:`~gru_lstm_jax.studies.runs.study_configs`); before any run starts.
    """
    started = datetime.datetime.now()
    imports = import_cell_modules(imports, "imports")
    check_cell_names(cells, "cells", "imports")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct ints, at least one; got {list(seeds)}")
    path = run_folder.check_writable(workdir)
    configs = study_configs(tasks, mode=mode, lengths=lengths, overrides=overrides)
    for config in configs.values():
        config.imports = imports
    gradient_task = _gradient_task(configs)
    records = train_grid(path, configs, cells, seeds, progress)
    flow = None
    if gradient_task is not None:
        flow = _gradient_flow(
            gradient_task, configs[gradient_task], records, cells, seeds, gradient_batch
        )
    study = {
        "settings": {
            "mode": mode,
            "cells": list(cells),
            "imports": list(imports),
            "seeds": [int(s) for s in seeds],
            "tasks": list(configs),
            "date": started.strftime("%Y-%m-%d %H:%M"),
            "machine": machine(),
            "jax": jax.__version__,
        },
        "notes": list(notes),
        "records": records,
        "summary": summarize(records),
        "gradient_flow": flow,
        "wall_time_s": (datetime.datetime.now() - started).total_seconds(),
    }
    run_folder.write_json(path / "study.json", study)
    write_report(study, path)
    return study
