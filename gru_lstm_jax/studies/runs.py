"""What every study shares: its tasks' configs, the grid of runs, and one record per run.

A study trains every cell on every study task with several seeds through
:func:`~gru_lstm_jax.training.train_and_evaluate`, one run folder per (task, cell, seed) under
``<workdir>/runs``, so an interrupted study resumes and a finished run is read back rather than
trained again (two studies that share a run folder share the run). A study task is a registered
task (:mod:`gru_lstm_jax.tasks`) with a config (``Task.config``), taken in the study's mode:
``"full"`` (the task's own config), ``"quick"`` or ``"smoke"`` (its variants of those names).
"""

from __future__ import annotations

import numbers
import os
import pathlib
import platform
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import ml_collections

from gru_lstm_jax.analysis.compare import format_metric, metric_label, shown_in_percent
from gru_lstm_jax.tasks import Objective, get_task
from gru_lstm_jax.training import run_folder
from gru_lstm_jax.training.loop import train_and_evaluate

__all__ = ["MODES", "machine", "study_configs", "train_grid"]

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
    tasks: Sequence[str],
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


def train_grid(
    path: pathlib.Path,
    configs: Mapping[str, ml_collections.ConfigDict],
    cells: Sequence[str],
    seeds: Sequence[int],
    progress: Callable[[str], Any] = print,
) -> list[dict[str, Any]]:
    """Trains every cell on every study task with every seed, or reads a finished run back.

    A run folder with ``results.json`` is finished: its results are read, after a check that
    its ``config.json`` is the run's config; any other run trains (or resumes) through
    :func:`~gru_lstm_jax.training.train_and_evaluate`.

    Args:
        path: the study's folder; run folders are ``path/runs/<task>/<cell>/seed<k>``.
        configs: ``{study task: config}`` (from :func:`study_configs`).
        cells: registered cell names, each run's ``config.model.cell``.
        seeds: each run's ``config.seed``.
        progress: called with one line of text per finished run.

    Returns:
        One record per run, in the order task, cell, seed: ``task``, ``cell``, ``seed``,
        ``path``, ``metric`` and ``higher_is_better`` (the task objective's), ``num_params``,
        ``test`` and ``val`` (the metric on those splits), ``steps_per_s``,
        ``seconds_per_epoch``, ``wall_time_s`` and ``curve`` (validation loss per epoch).

    Raises:
        ValueError: for a finished run folder whose config differs from the run's (naming the
            fields), or a bad config (see :func:`~gru_lstm_jax.training.train_and_evaluate`).
    """
    records = []
    for task, base in configs.items():
        objective = get_task(base.data.name).objective
        for cell in cells:
            for seed in seeds:
                config = base.copy_and_resolve_references()
                config.model.cell = cell
                config.seed = int(seed)
                run_path = path / "runs" / task / cell / f"seed{seed}"
                if (run_path / "results.json").exists():  # finished: read back, not re-tested
                    run_folder.check_same_config(run_path, config)
                    results = run_folder.read_json(run_path / "results.json")
                else:
                    results = train_and_evaluate(config, run_path)
                record = _record(task, int(seed), objective, results, run_path)
                records.append(record)
                percent = shown_in_percent(objective.higher_is_better, [record["test"]])
                progress(
                    f"{task} {cell} seed {seed}: test {metric_label(record['metric'])} "
                    f"{format_metric(record['test'], percent)} ({run_path})"
                )
    return records


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


def machine() -> str:
    """The CPU model, its core count and JAX's first device's platform, for reports."""
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
