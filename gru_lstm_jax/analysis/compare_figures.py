"""The LSTM-vs-GRU study's figures, drawn from its records and summary (nothing is re-trained).

Each function draws one PNG: the seed-banded validation-loss curves of every task, the test
metric against the parameter count, and ‖∂L/∂h_t‖ over time per cell. The records and the
summary are those of :mod:`gru_lstm_jax.analysis.compare`; the gradient flow is the study's
``gradient_flow`` entry (see :func:`gru_lstm_jax.studies.compare.run_study`).
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gru_lstm_jax.analysis.compare import metric_label

__all__ = ["plot_gradient_flow", "plot_learning_curves", "plot_metric_vs_params"]


def plot_learning_curves(records: Sequence[dict[str, Any]], path: pathlib.Path) -> pathlib.Path:
    """One panel per task: each cell's validation loss per epoch, seed mean and min-max band.

    Args:
        records: the study's records; ``curve`` is ``{"epoch": [...], "val_loss": [...]}``.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    tasks = list(dict.fromkeys(r["task"] for r in records))
    figure = Figure(figsize=(4.5 * len(tasks), 3.8), layout="constrained")
    for axes, task in zip(np.atleast_1d(figure.subplots(1, len(tasks))), tasks, strict=True):
        cells = list(dict.fromkeys(r["cell"] for r in records if r["task"] == task))
        lowest = np.inf
        for cell in cells:
            curves = [r["curve"] for r in records if r["task"] == task and r["cell"] == cell]
            epochs = min(len(c["val_loss"]) for c in curves)
            losses = np.array([c["val_loss"][:epochs] for c in curves])
            x = curves[0]["epoch"][:epochs]
            lowest = min(lowest, float(losses.min()))
            (line,) = axes.plot(x, losses.mean(axis=0), marker="o" if epochs < 8 else None,
                                label=f"{cell} ({len(curves)} seeds)")  # fmt: skip
            axes.fill_between(x, losses.min(axis=0), losses.max(axis=0), alpha=0.25,
                              color=line.get_color())  # fmt: skip
        # A task's own loss may reach 0 or below, which a log scale cannot draw.
        axes.set_yscale("log" if lowest > 0 else "linear")
        axes.set(title=task, xlabel="epoch", ylabel="validation loss")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize="small")
    figure.suptitle("Learning curves: seed mean, band from min to max")
    figure.savefig(path, dpi=110)
    return path


def plot_metric_vs_params(
    summary: dict[str, dict[str, dict[str, Any]]], path: pathlib.Path
) -> pathlib.Path:
    """One panel per task: each cell's test metric (mean ± std) against its parameter count.

    Args:
        summary: the output of :func:`~gru_lstm_jax.analysis.compare.summarize`.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    tasks = list(summary)
    figure = Figure(figsize=(4 * len(tasks), 3.6), layout="constrained")
    for axes, task in zip(np.atleast_1d(figure.subplots(1, len(tasks))), tasks, strict=True):
        for cell, entry in summary[task].items():
            axes.errorbar(entry["num_params"], entry["test_mean"], yerr=entry["test_std"],
                          fmt="o", capsize=4, label=cell)  # fmt: skip
        first = next(iter(summary[task].values()))
        direction = "higher" if first["higher_is_better"] else "lower"
        label = f"test {metric_label(first['metric'])} ({direction} is better)"
        axes.set_xscale("log")
        axes.set(title=task, xlabel="parameters", ylabel=label)
        axes.legend(fontsize="small")
    figure.suptitle("Test metric (mean ± std over seeds) against parameter count")
    figure.savefig(path, dpi=110)
    return path


def plot_gradient_flow(flow: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """‖∂L/∂h_t‖ against ``t`` per cell (seed mean), at initialisation and after training.

    Args:
        flow: the study's ``gradient_flow``: ``{"task": str, "cells": {cell: {"init": [[T
            floats] per seed], "trained": [[T floats] per seed], ...}}}``.
        path: the PNG to write.

    Returns:
        ``path``.
    """
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
