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
import numbers
import os
import pathlib
import platform
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np

from gru_lstm_jax.analysis.compare import format_metric, metric_label, shown_in_percent, summarize
from gru_lstm_jax.analysis.compare_report import write_report
from gru_lstm_jax.analysis.model_gradients import fit_decay_rate, split_gradient_norms
from gru_lstm_jax.tasks import Objective, get_task
from gru_lstm_jax.training import run_folder
from gru_lstm_jax.training.loop import load_trained, prepare_run, train_and_evaluate
from gru_lstm_jax.training.user_cells import check_cell_names, import_cell_modules

__all__ = ["DEFAULT_TASKS", "MODES", "run_study", "study_configs"]

DEFAULT_TASKS = ("sine", "xor", "seq2seq")
# The study's mode -> the variant of every task's config.
MODES = {"full": "", "quick": "quick", "smoke": "smoke"}


def _override(config: ml_collections.ConfigDict, field: str, value: Any, where: str) -> None:
    """Sets the existing dotted ``field`` (``"data.data_dir"``) of ``config`` to ``value``."""
    *parents, leaf = field.split(".")
    node = config
    for part in parents:
        if not isinstance(node.get(part), ml_collections.ConfigDict):
            node = None
            break
        node = node[part]
    if node is None or leaf not in node:
        raise ValueError(f"{where}: {field!r} is not a field of the task's config")
    try:
        node[leaf] = value
    except TypeError as error:
        raise ValueError(f"{where}: {field!r} cannot be set to {value!r}: {error}") from error


def _check_lengths(sweep: Any, where: str) -> tuple[int, ...]:
    if isinstance(sweep, str | numbers.Integral) or not isinstance(sweep, Sequence) or not sweep:
        raise ValueError(f"{where} must be a sequence of positive ints; got {sweep!r}")
    if any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 for n in sweep):
        raise ValueError(f"{where} must be positive ints; got {list(sweep)}")
    return tuple(dict.fromkeys(int(n) for n in sweep))


def study_configs(
    tasks: Sequence[str] = DEFAULT_TASKS,
    *,
    mode: str = "full",
    lengths: Mapping[str, Sequence[int]] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, ml_collections.ConfigDict]:
    """The config of every study task, from the registered tasks' configs.

    Args:
        tasks: registered task names, each with a config (``Task.config``), in study order.
        mode: ``"full"`` (each task's own config, ``""``), ``"quick"`` (its shortened
            ``"quick"`` variant) or ``"smoke"`` (its tiny ``"smoke"`` variant, for tests and
            notebooks).
        lengths: ``{task: (L, ...)}``: the task is swept over ``config.data.length``, one study
            task ``<task>_L<L>`` per length; other tasks run at their config's length.
        overrides: ``{task: {"section.field": value}}``: fields of a task's config to set
            (e.g. ``{"imdb": {"data.data_dir": "../shared/data/tfds"}}``); each must exist.

    Returns:
        ``{study task: config}`` in study order, with ``training.progress`` off (the cell and
        seed are set per run).

    Raises:
        ValueError: for an unknown mode, an unregistered task or one without a config or
            without the mode's variant, repeated tasks, ``lengths`` or ``overrides`` that name a
            task not in ``tasks``, a non-positive length, a length sweep of a config without
            ``data.length``, an override of a field the config does not have, or two study
            tasks of the same name.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}; got {mode!r}")
    if isinstance(tasks, str) or not tasks or len(set(tasks)) != len(tasks):
        raise ValueError(
            f"tasks must be distinct registered task names, at least one; got {tasks!r}"
        )
    lengths, overrides = dict(lengths or {}), dict(overrides or {})
    for field, mapping in (("lengths", lengths), ("overrides", overrides)):
        stray = [name for name in mapping if name not in tasks]
        if stray:
            raise ValueError(f"{field} names tasks {stray} that are not in tasks {list(tasks)}")
    configs: dict[str, ml_collections.ConfigDict] = {}

    def add(name: str, config: ml_collections.ConfigDict) -> None:
        if name in configs:
            raise ValueError(f"two study tasks are named {name!r}; rename the task or the sweep")
        configs[name] = config

    for name in tasks:
        task = get_task(name, "tasks")
        if task.config is None:
            raise ValueError(f"task {name!r} has no config (Task.config) to run in a study")
        try:
            base = task.config(MODES[mode])
        except ValueError as error:
            raise ValueError(f"task {name!r} has no {mode!r} config: {error}") from error
        for field, value in overrides.get(name, {}).items():
            _override(base, field, value, f"overrides[{name!r}]")
        base.training.progress = False
        if name not in lengths:
            add(name, base)
            continue
        sweep = _check_lengths(lengths[name], f"lengths[{name!r}]")
        if "length" not in base.data:
            raise ValueError(f"lengths[{name!r}]: task {name!r}'s config has no data.length")
        for length in sweep:
            config = base.copy_and_resolve_references()
            config.data.length = length
            add(f"{name}_L{length}", config)
    return configs


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


def _record(
    task: str, seed: int, objective: Objective, results: dict[str, Any], path: pathlib.Path
) -> dict[str, Any]:
    """One run's numbers for the study, from its results and metrics files."""
    metric = objective.metric_name
    epochs = run_folder.read_metrics(path)
    return {
        "task": task,
        "cell": results["cell"],
        "seed": seed,
        "path": str(path),
        "metric": metric,
        "higher_is_better": objective.higher_is_better,
        "num_params": results["num_params"],
        "test": results["final"]["test"][metric],
        "val": results["final"]["val"][metric],
        "steps_per_s": results["steps_per_s"],
        # The median epoch leaves out the first epoch's compilation.
        "seconds_per_epoch": statistics.median(r["train_time_s"] for r in epochs),
        "wall_time_s": results["wall_time_s"],
        "curve": {
            "epoch": [r["epoch"] for r in epochs],
            "val_loss": [r["val_loss"] for r in epochs],
        },
    }


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


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = jax.devices()[0]
    return f"{cpu}, {os.cpu_count()} cores, jax device {device.platform}"


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
            (see :func:`study_configs`).
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
            :func:`study_configs`); before any run starts.
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
    records = []
    for task, base in configs.items():
        objective = get_task(base.data.name).objective
        for cell in cells:
            for seed in seeds:
                config = base.copy_and_resolve_references()
                config.model.cell = cell
                config.seed = int(seed)
                run_path = path / "runs" / task / cell / f"seed{seed}"
                results = train_and_evaluate(config, run_path)
                record = _record(task, int(seed), objective, results, run_path)
                records.append(record)
                percent = shown_in_percent(objective.higher_is_better, [record["test"]])
                progress(
                    f"{task} {cell} seed {seed}: test {metric_label(record['metric'])} "
                    f"{format_metric(record['test'], percent)} ({run_path})"
                )
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
            "machine": _machine(),
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
