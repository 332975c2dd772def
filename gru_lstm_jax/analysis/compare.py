"""The LSTM-vs-GRU study: every cell on every task with several seeds, and a generated report.

:func:`run_study` trains each cell (LSTM, GRU, the tanh RNN, or any registered cell) on each
task with ``N`` seeds, one run folder per (task, cell, seed), through the package's own
training entry points (:func:`~gru_lstm_jax.training.train_and_evaluate` and
:func:`~gru_lstm_jax.training.seq2seq.train_and_evaluate_seq2seq`), so an interrupted study
resumes and a finished run is never trained again. It then measures the gradient flow of the
XOR models, aggregates the seeds (mean ± sample standard deviation) and writes ``study.json``,
the figures and ``report.md``, whose "Choosing between LSTM and GRU" section is derived from
the measured numbers by :func:`choose_between_lstm_and_gru`.

Tasks: ``sine`` (test MSE, lower is better), ``xor_L<L>`` for each XOR length (test accuracy),
``imdb`` (test accuracy; only when the prepared dataset is found) and ``seq2seq`` (test exact
match of the digit-reversal task).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import pathlib
import platform
import statistics
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from matplotlib.figure import Figure

from gru_lstm_jax.analysis.study import fit_decay_rate, split_gradient_norms
from gru_lstm_jax.configs import imdb as imdb_config
from gru_lstm_jax.configs import seq2seq as seq2seq_config
from gru_lstm_jax.configs import sine as sine_config
from gru_lstm_jax.configs import xor as xor_config
from gru_lstm_jax.data.imdb import imdb_is_prepared
from gru_lstm_jax.training import load_trained, prepare_run, run_folder, train_and_evaluate
from gru_lstm_jax.training.seq2seq import train_and_evaluate_seq2seq
from gru_lstm_jax.training.user_cells import check_cell_names, import_cell_modules

__all__ = [
    "TASK_FAMILIES",
    "TaskMetric",
    "choose_between_lstm_and_gru",
    "run_study",
    "study_configs",
    "summarize",
    "write_report",
]

TASK_FAMILIES = ("sine", "xor", "imdb", "seq2seq")


@dataclasses.dataclass(frozen=True)
class TaskMetric:
    """How a task is scored in the study.

    Attributes:
        field: the key in ``results["final"][split]``.
        label: the name in tables, e.g. ``"test MSE"``.
        higher_is_better: the metric's direction.
    """

    field: str
    label: str
    higher_is_better: bool


def task_metric(task: str) -> TaskMetric:
    """The metric of a study task (``"sine"``, ``"xor_L50"``, ``"imdb"``, ``"seq2seq"``)."""
    family = task.split("_")[0]
    if family == "sine":
        return TaskMetric("loss", "MSE", higher_is_better=False)
    if family in ("xor", "imdb"):
        return TaskMetric("accuracy", "accuracy", higher_is_better=True)
    if family == "seq2seq":
        return TaskMetric("exact_match", "exact match", higher_is_better=True)
    raise ValueError(f"unknown study task {task!r}; task families are {list(TASK_FAMILIES)}")


def study_configs(
    *,
    mode: str = "full",
    tasks: Sequence[str] = TASK_FAMILIES,
    xor_lengths: Sequence[int] = (20, 50, 100),
    imdb_data_dir: str | os.PathLike | None = None,
) -> tuple[dict[str, ml_collections.ConfigDict], list[str]]:
    """The config of every study task, and notes on the tasks left out.

    ``mode="full"`` uses each experiment's own config unchanged (``configs/sine.py``,
    ``configs/xor.py`` at each length, ``configs/imdb.py``'s seed model, ``configs/seq2seq.py``).
    ``"quick"`` shortens them: sine 20 epochs; XOR 5 epochs; IMDB one epoch of a small model
    on the last 64 words; seq2seq 300 steps on strings of at most 6 digits. ``"smoke"`` uses
    the configs' tiny ``smoke`` variants (IMDB is left out) for tests and notebooks.

    Args:
        mode: ``"full"``, ``"quick"`` or ``"smoke"``.
        tasks: task families to include, a subset of :data:`TASK_FAMILIES`.
        xor_lengths: the XOR sequence lengths; one task ``xor_L<L>`` each.
        imdb_data_dir: the TFDS data directory holding the prepared ``imdb_reviews``
            (``None``: TFDS's default). IMDB is left out, with a note, when it is not prepared.

    Returns:
        ``(configs, notes)``: ``{task: config}`` in study order (the cell and seed are set
        per run), and human-readable notes on left-out tasks.

    Raises:
        ValueError: for an unknown mode or task family, or a non-positive XOR length.
    """
    if mode not in ("full", "quick", "smoke"):
        raise ValueError(f"mode must be 'full', 'quick' or 'smoke'; got {mode!r}")
    unknown = sorted(set(tasks) - set(TASK_FAMILIES))
    if unknown or not tasks:
        raise ValueError(f"tasks must be a non-empty subset of {list(TASK_FAMILIES)}; got {tasks}")
    if not xor_lengths or any(int(length) < 1 for length in xor_lengths):
        raise ValueError(f"xor_lengths must be positive ints; got {list(xor_lengths)}")
    quick, variant = mode == "quick", "smoke" if mode == "smoke" else ""
    configs: dict[str, ml_collections.ConfigDict] = {}
    notes: list[str] = []
    if "sine" in tasks:
        config = sine_config.get_config(variant)
        if quick:
            config.training.num_epochs = 20
        configs["sine"] = config
    if "xor" in tasks:
        for length in xor_lengths:
            config = xor_config.get_config(variant)
            config.data.length = int(length)
            if quick:
                config.training.num_epochs = 5
            configs[f"xor_L{int(length)}"] = config
    if "imdb" in tasks and mode == "smoke":
        notes.append("IMDB left out: smoke mode has no IMDB setting that runs in seconds.")
    elif "imdb" in tasks:
        if imdb_is_prepared(imdb_data_dir):
            config = imdb_config.get_config()
            config.data.data_dir = str(imdb_data_dir or "")
            if quick:
                config.data.maxlen = 64
                config.model.embed_dim = 32
                config.model.hidden_sizes = (32,)
                config.training.num_epochs = 1
                config.training.batch_size = 64
            configs["imdb"] = config
        else:
            notes.append(
                f"IMDB left out: imdb_reviews is not prepared in data_dir={imdb_data_dir!r} "
                "(in this project: --imdb_data_dir=../shared/data/tfds)."
            )
    if "seq2seq" in tasks:
        config = seq2seq_config.get_config(variant)
        if quick:
            config.data.max_length = 6
            config.training.steps = 300
        configs["seq2seq"] = config
    for config in configs.values():
        if "training" in config and "progress" in config.training:
            config.training.progress = False
    return configs, notes


def _train(task: str, config: ml_collections.ConfigDict, path: pathlib.Path) -> dict[str, Any]:
    if task == "seq2seq":
        return train_and_evaluate_seq2seq(config, path)
    return train_and_evaluate(config, path)


def _record(task: str, seed: int, results: dict[str, Any], path: pathlib.Path) -> dict[str, Any]:
    """One run's numbers for the study, from its results and metrics files."""
    metric = task_metric(task)
    metrics = run_folder.read_metrics(path)
    if task == "seq2seq":
        # seq2seq logs steps, not epochs: an epoch is one pass over the training strings.
        config = run_folder.read_json(path / "config.json")
        steps_per_epoch = config["data"]["num_train"] // config["training"]["batch_size"]
        seconds_per_epoch = steps_per_epoch / results["steps_per_s"]
        curve = {"x": [r["step"] for r in metrics], "loss": [r["train_loss"] for r in metrics]}
    else:
        # The median epoch leaves out the first epoch's compilation.
        seconds_per_epoch = statistics.median(r["train_time_s"] for r in metrics)
        curve = {"x": [r["epoch"] for r in metrics], "loss": [r["val_loss"] for r in metrics]}
    return {
        "task": task,
        "cell": results["cell"],
        "seed": seed,
        "path": str(path),
        "num_params": results["num_params"],
        "test": results["final"]["test"][metric.field],
        "val": results["final"]["val"][metric.field],
        "steps_per_s": results["steps_per_s"],
        "seconds_per_epoch": seconds_per_epoch,
        "wall_time_s": results["wall_time_s"],
        "curve": curve,
    }


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Aggregates the seeds of every (task, cell).

    Args:
        records: one dict per run with ``task``, ``cell``, ``num_params``, ``test``, ``val``,
            ``steps_per_s`` and ``seconds_per_epoch``.

    Returns:
        ``{task: {cell: {"seeds": n, "num_params": int, "test_mean", "test_std", "val_mean",
        "val_std", "steps_per_s_mean", "steps_per_s_std", "seconds_per_epoch_mean",
        "seconds_per_epoch_std"}}}``; standard deviations are the sample standard deviation
        over seeds (0 for one seed).
    """
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in records:
        groups.setdefault(record["task"], {}).setdefault(record["cell"], []).append(record)
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for task, cells in groups.items():
        summary[task] = {}
        for cell, runs in cells.items():
            entry: dict[str, Any] = {"seeds": len(runs), "num_params": runs[0]["num_params"]}
            for field in ("test", "val", "steps_per_s", "seconds_per_epoch"):
                entry[f"{field}_mean"], entry[f"{field}_std"] = _mean_std([r[field] for r in runs])
            summary[task][cell] = entry
    return summary


def _format_metric(value: float, task: str) -> str:
    return f"{value:.4f}" if not task_metric(task).higher_is_better else f"{100 * value:.1f}%"


def _format_pm(mean: float, std: float, task: str) -> str:
    if task_metric(task).higher_is_better:
        return f"{100 * mean:.1f} ± {100 * std:.1f}%"
    return f"{mean:.4f} ± {std:.4f}"


def choose_between_lstm_and_gru(summary: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The report's "Choosing between LSTM and GRU" paragraphs, derived from the numbers.

    For each task with both cells, the difference of the test means is called a win when it
    exceeds two standard errors of the difference (Welch: ``sqrt(s_L²/n_L + s_G²/n_G)``),
    otherwise a tie at this number of seeds (with one seed, or zero spread, any nonzero
    difference larger than 1e-9 counts as a win, and the text says the seeds cannot tell).
    Then parameters and training speed, and an overall recommendation from the tallies.

    Args:
        summary: the output of :func:`summarize`.

    Returns:
        Markdown lines (bullets and a final paragraph).
    """
    tasks = [t for t in summary if {"lstm", "gru"} <= set(summary[t])]
    if not tasks:
        return ["The study needs both `lstm` and `gru` among its cells to compare them."]
    lines: list[str] = []
    wins = {"lstm": [], "gru": [], "tie": []}
    param_ratios, speed_ratios = [], []
    for task in tasks:
        lstm, gru = summary[task]["lstm"], summary[task]["gru"]
        metric = task_metric(task)
        difference = gru["test_mean"] - lstm["test_mean"]
        if not metric.higher_is_better:
            difference = -difference  # positive: GRU better
        error = math.sqrt(
            lstm["test_std"] ** 2 / lstm["seeds"] + gru["test_std"] ** 2 / gru["seeds"]
        )
        seeds = min(lstm["seeds"], gru["seeds"])
        if abs(difference) > max(2 * error, 1e-9):
            winner = "gru" if difference > 0 else "lstm"
            verdict = f"**{winner.upper()}** is better"
            verdict += (
                f" by {abs(difference) / error:.1f} standard errors" if error > 0 else
                f" (one seed or no spread: {seeds} seed(s) cannot tell how reliable this is)"
            )  # fmt: skip
        else:
            winner = "tie"
            verdict = "a **tie**: the difference is within two standard errors"
        wins[winner].append(task)
        param_ratios.append(gru["num_params"] / lstm["num_params"])
        speed_ratios.append(gru["steps_per_s_mean"] / lstm["steps_per_s_mean"])
        lines.append(
            f"- `{task}` ({metric.label}, {seeds} seeds): LSTM "
            f"{_format_pm(lstm['test_mean'], lstm['test_std'], task)}, GRU "
            f"{_format_pm(gru['test_mean'], gru['test_std'], task)}: {verdict}. The GRU has "
            f"{param_ratios[-1]:.2f}x the LSTM's parameters and trained at "
            f"{speed_ratios[-1]:.2f}x its steps per second."
        )
    lines.append("")
    tally = (
        f"Over {len(tasks)} task(s): GRU better on {len(wins['gru'])}, LSTM better on "
        f"{len(wins['lstm'])}, tied on {len(wins['tie'])}. Across tasks the GRU has "
        f"{min(param_ratios):.2f}-{max(param_ratios):.2f}x the LSTM's parameters and trained at "
        f"{min(speed_ratios):.2f}-{max(speed_ratios):.2f}x its steps per second (runs timed one "
        "after another on a shared machine, so speed differences under about 10% are noise; "
        "`experiments/benchmark.py` times them side by side)."
    )
    if wins["lstm"] and not wins["gru"]:
        advice = (
            "The LSTM was more accurate where the cells differed ("
            + ", ".join(f"`{t}`" for t in wins["lstm"])
            + "); prefer it when accuracy matters more than parameters and speed."
        )
    elif wins["gru"] and not wins["lstm"]:
        advice = (
            "The GRU was as accurate or more accurate everywhere ("
            + ", ".join(f"`{t}`" for t in wins["gru"])
            + " in its favour) with fewer parameters: on these tasks it is the better default."
        )
    elif wins["gru"] and wins["lstm"]:
        advice = (
            "Neither cell dominates: the GRU won "
            + ", ".join(f"`{t}`" for t in wins["gru"])
            + " and the LSTM won "
            + ", ".join(f"`{t}`" for t in wins["lstm"])
            + "; choose per task, and the GRU when parameters or speed decide."
        )
    else:
        advice = (
            "No task separates the two cells at this number of seeds, so the GRU's smaller "
            "parameter count is the deciding difference; add seeds (`--seeds`) before reading "
            "more into the means."
        )
    lines += [tally, "", advice]
    return lines


def _gradient_flow(
    configs: dict[str, ml_collections.ConfigDict],
    records: Sequence[dict[str, Any]],
    cells: Sequence[str],
    seeds: Sequence[int],
    batch_size: int,
) -> dict[str, Any] | None:
    """‖∂L/∂h_t‖ on the longest XOR task: fresh (Keras biases) and trained, per cell."""
    xor_tasks = [t for t in configs if t.startswith("xor_L")]
    if not xor_tasks:
        return None
    task = max(xor_tasks, key=lambda t: configs[t].data.length)
    result: dict[str, Any] = {"task": task, "cells": {}}
    for cell in cells:
        fresh = configs[task].copy_and_resolve_references()
        fresh.model.cell = cell
        fresh.model.chrono_init = False
        init_curves, trained_curves = [], []
        for seed in seeds:
            fresh.seed = seed
            run = prepare_run(fresh)
            init_curves.append(split_gradient_norms(run, run.steps.init_state().params, batch_size))
        for record in records:
            if record["task"] == task and record["cell"] == cell:
                run, params = load_trained(record["path"])
                trained_curves.append(split_gradient_norms(run, params, batch_size))
        init_mean = np.mean(init_curves, axis=0)
        trained_mean = np.mean(trained_curves, axis=0)
        result["cells"][cell] = {
            "init": [c.tolist() for c in init_curves],
            "trained": [c.tolist() for c in trained_curves],
            "init_fit": _safe_fit(init_mean),
            "trained_fit": _safe_fit(trained_mean),
        }
    return result


def _safe_fit(curve: np.ndarray) -> dict[str, float] | None:
    """The decay fit, or None when (nearly) every step underflowed to zero."""
    try:
        return fit_decay_rate(curve)
    except ValueError:
        return None


def _plot_learning_curves(records: Sequence[dict[str, Any]], path: pathlib.Path) -> pathlib.Path:
    tasks = list(dict.fromkeys(r["task"] for r in records))
    figure = Figure(figsize=(4.5 * len(tasks), 3.8), layout="constrained")
    for axes, task in zip(np.atleast_1d(figure.subplots(1, len(tasks))), tasks, strict=True):
        cells = list(dict.fromkeys(r["cell"] for r in records if r["task"] == task))
        for cell in cells:
            curves = [r["curve"] for r in records if r["task"] == task and r["cell"] == cell]
            steps = min(len(c["loss"]) for c in curves)
            losses = np.array([c["loss"][:steps] for c in curves])
            x = curves[0]["x"][:steps]
            (line,) = axes.plot(x, losses.mean(axis=0), marker="o" if steps < 8 else None,
                                label=f"{cell} ({len(curves)} seeds)")  # fmt: skip
            axes.fill_between(x, losses.min(axis=0), losses.max(axis=0), alpha=0.25,
                              color=line.get_color())  # fmt: skip
        axes.set_yscale("log")
        seq2seq = task == "seq2seq"
        axes.set(title=task, xlabel="step" if seq2seq else "epoch",
                 ylabel="training loss" if seq2seq else "validation loss")  # fmt: skip
        axes.legend(fontsize="small")
    figure.suptitle("Learning curves: seed mean, band from min to max")
    figure.savefig(path, dpi=110)
    return path


def _plot_metric_vs_params(
    summary: dict[str, dict[str, dict[str, Any]]], path: pathlib.Path
) -> pathlib.Path:
    tasks = list(summary)
    figure = Figure(figsize=(4 * len(tasks), 3.6), layout="constrained")
    for axes, task in zip(np.atleast_1d(figure.subplots(1, len(tasks))), tasks, strict=True):
        for cell, entry in summary[task].items():
            axes.errorbar(entry["num_params"], entry["test_mean"], yerr=entry["test_std"],
                          fmt="o", capsize=4, label=cell)  # fmt: skip
        axes.set_xscale("log")
        axes.set(title=task, xlabel="parameters", ylabel=f"test {task_metric(task).label}")
        axes.legend(fontsize="small")
    figure.suptitle("Test metric (mean ± std over seeds) against parameter count")
    figure.savefig(path, dpi=110)
    return path


def _plot_gradient_flow(flow: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    figure = Figure(figsize=(11, 4), layout="constrained")
    for axes, phase in zip(figure.subplots(1, 2), ("init", "trained"), strict=True):
        for cell, entry in flow["cells"].items():
            curves = np.array(entry[phase])
            if curves.size == 0:
                continue
            # Underflowed steps (exactly 0) cannot be drawn on a log scale.
            mean = np.where(curves.mean(axis=0) > 0, curves.mean(axis=0), np.nan)
            axes.plot(np.arange(mean.size), mean, label=cell)
        axes.set_yscale("log")
        title = "at initialisation (Keras biases)" if phase == "init" else "after training"
        axes.set(title=f"{flow['task']}: {title}", xlabel="time step t",
                 ylabel="‖∂L/∂h_t‖ (seed mean)")  # fmt: skip
        axes.legend(fontsize="small")
    figure.savefig(path, dpi=110)
    return path


def _table(summary: dict[str, dict[str, dict[str, Any]]], task: str) -> list[str]:
    metric = task_metric(task)
    direction = "higher" if metric.higher_is_better else "lower"
    lines = [
        f"| cell | parameters | test {metric.label} ({direction} is better) | "
        f"validation {metric.label} | steps/s | s/epoch |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cell, e in summary[task].items():
        lines.append(
            f"| {cell} | {e['num_params']:,} | {_format_pm(e['test_mean'], e['test_std'], task)} "
            f"| {_format_pm(e['val_mean'], e['val_std'], task)} | "
            f"{e['steps_per_s_mean']:.1f} ± {e['steps_per_s_std']:.1f} | "
            f"{e['seconds_per_epoch_mean']:.2f} ± {e['seconds_per_epoch_std']:.2f} |"
        )
    return lines


def write_report(study: dict[str, Any], workdir: str | os.PathLike) -> pathlib.Path:
    """Writes ``report.md`` (and its figures) for a study.

    Args:
        study: the contents of ``study.json`` (``settings``, ``notes``, ``records``,
            ``summary``, ``gradient_flow``).
        workdir: the study's folder; figures are written beside the report.

    Returns:
        The path of ``report.md``.
    """
    path = pathlib.Path(workdir)
    summary, settings = study["summary"], study["settings"]
    _plot_learning_curves(study["records"], path / "learning_curves.png")
    _plot_metric_vs_params(summary, path / "metric_vs_params.png")
    if study["gradient_flow"]:
        _plot_gradient_flow(study["gradient_flow"], path / "gradient_flow.png")
    cell_names = ", ".join(settings["cells"])
    if settings.get("imports"):
        cell_names += f" (imports {', '.join(settings['imports'])})"
    lines = [
        "# LSTM vs GRU",
        "",
        f"Generated by `experiments/compare.py` ({settings['mode']} mode) on "
        f"{settings['date']}: cells {cell_names}; "
        f"seeds {', '.join(map(str, settings['seeds']))}; "
        f"{settings['machine']}; jax {settings['jax']}. Every number is mean ± sample standard "
        f"deviation over the seeds; the study took {study['wall_time_s'] / 60:.1f} minutes.",
        "",
    ]
    lines += [f"- {note}" for note in study["notes"]] + ([""] if study["notes"] else [])
    lines += ["## Results", ""]
    for task in summary:
        lines += [f"### {task}", "", *_table(summary, task), ""]
    lines += [
        "Steps per second are the median over epochs after the first (seq2seq: over the whole "
        "loop, compilation included), from runs timed one after another.",
        "",
        "## Figures",
        "",
        "![learning curves](learning_curves.png)",
        "",
        "![test metric against parameters](metric_vs_params.png)",
        "",
    ]
    flow = study["gradient_flow"]
    if flow:
        lines += [
            "## Gradient flow",
            "",
            f"‖∂L/∂h_t‖ on `{flow['task']}` validation sequences, computed exactly with "
            "`jax.grad` (`analysis.gradient_norms_over_time`): fresh models with Keras's "
            "biases (forget bias 1; seed mean), and the study's trained models (chrono "
            "initialisation; seed mean). The factor per step is exp(-slope) of a log-linear "
            "fit; below 1 the gradient shrinks going back in time.",
            "",
            "| cell | fresh: factor per step | fresh: ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ "
            "| trained: factor per step | trained: ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ |",
            "|---|---:|---:|---:|---:|",
        ]
        for cell, entry in flow["cells"].items():
            cells = []
            for fit in (entry["init_fit"], entry["trained_fit"]):
                cells += (
                    [f"{fit['factor_per_step']:.3f}", f"{fit['first_to_last']:.2e}"]
                    if fit else ["underflow", "0"]
                )  # fmt: skip
            lines.append(f"| {cell} | " + " | ".join(cells) + " |")
        lines += ["", "![gradient flow](gradient_flow.png)", ""]
    lines += ["## Choosing between LSTM and GRU", "", *choose_between_lstm_and_gru(summary), ""]
    report = path / "report.md"
    report.write_text("\n".join(lines))
    return report


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
    tasks: Sequence[str] = TASK_FAMILIES,
    xor_lengths: Sequence[int] = (20, 50, 100),
    imdb_data_dir: str | os.PathLike | None = None,
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
        mode: ``"full"``, ``"quick"`` or ``"smoke"`` (see :func:`study_configs`).
        tasks: task families, a subset of :data:`TASK_FAMILIES`.
        xor_lengths: XOR sequence lengths.
        imdb_data_dir: the TFDS data directory of ``imdb_reviews``.
        gradient_batch: validation sequences averaged in the gradient-flow curves.
        progress: called with one line of text per finished run.
        imports: modules that register cells of one's own (see
            :func:`~gru_lstm_jax.training.import_cell_modules`), imported before ``cells`` are
            looked up and named in every run's ``config.imports``.

    Returns:
        The contents of ``study.json``: ``settings``, ``notes``, ``records`` (one per run),
        ``summary`` (:func:`summarize`), ``gradient_flow`` and ``wall_time_s``.

    Raises:
        ValueError: for a module of ``imports`` that cannot be imported, an unknown cell, task
            or mode, or no seeds; before any run starts.
    """
    started = datetime.datetime.now()
    imports = import_cell_modules(imports, "imports")
    check_cell_names(cells, "cells", "imports")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct ints, at least one; got {list(seeds)}")
    path = run_folder.check_writable(workdir)
    configs, notes = study_configs(
        mode=mode, tasks=tasks, xor_lengths=xor_lengths, imdb_data_dir=imdb_data_dir
    )
    for config in configs.values():
        config.imports = imports
    records = []
    for task, base in configs.items():
        for cell in cells:
            for seed in seeds:
                config = base.copy_and_resolve_references()
                config.model.cell = cell
                config.seed = int(seed)
                run_path = path / "runs" / task / cell / f"seed{seed}"
                results = _train(task, config, run_path)
                records.append(_record(task, int(seed), results, run_path))
                metric = task_metric(task)
                progress(
                    f"{task} {cell} seed {seed}: test {metric.label} "
                    f"{_format_metric(records[-1]['test'], task)} ({run_path})"
                )
    flow = _gradient_flow(configs, records, cells, seeds, gradient_batch)
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
        "notes": notes,
        "records": records,
        "summary": summarize(records),
        "gradient_flow": flow,
        "wall_time_s": (datetime.datetime.now() - started).total_seconds(),
    }
    run_folder.write_json(path / "study.json", study)
    write_report(study, path)
    return study
