"""Figures drawn from run folders only (``metrics.jsonl``, ``results.json``, ``predictions.npz``).

Nothing here trains or evaluates a model. Figures are drawn with ``matplotlib.figure.Figure``
directly, so no interactive backend is needed.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from gru_lstm_jax.tasks.base import save_figure
from gru_lstm_jax.training import run_folder

__all__ = [
    "plot_gradient_flow",
    "plot_learning_curves",
    "plot_loss_comparison",
    "plot_metric_vs_length",
]


def plot_learning_curves(workdir: str | os.PathLike) -> pathlib.Path:
    """Draws the train and validation loss and task metric per epoch of one run.

    Returns:
        The path of ``learning_curves.png`` in ``workdir``.
    """
    workdir = pathlib.Path(workdir)
    records = run_folder.read_metrics(workdir)
    metric = next(k[len("val_") :] for k in records[0] if k.startswith("val_") and k != "val_loss")
    epochs = [r["epoch"] for r in records]
    figure = Figure(figsize=(10, 4))
    for axis, name in zip(figure.subplots(1, 2), ("loss", metric), strict=True):
        axis.plot(epochs, [r[f"train_{name}"] for r in records], label="train")
        axis.plot(epochs, [r[f"val_{name}"] for r in records], label="validation")
        axis.set(xlabel="epoch", ylabel=name, title=name)
        if name == "loss":
            axis.set_yscale("log")
        axis.legend()
    return save_figure(figure, workdir / "learning_curves.png")


def plot_loss_comparison(
    workdirs: dict[str, str | os.PathLike], path: str | os.PathLike
) -> pathlib.Path:
    """Draws the train and validation loss of several runs (e.g. LSTM vs GRU) on one figure.

    Args:
        workdirs: ``label -> run folder``.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots(1, 2, sharey=True)
    for label, workdir in workdirs.items():
        records = run_folder.read_metrics(pathlib.Path(workdir))
        epochs = [r["epoch"] for r in records]
        axes[0].plot(epochs, [r["train_loss"] for r in records], label=label)
        axes[1].plot(epochs, [r["val_loss"] for r in records], label=label)
    for axis, title in zip(axes, ("train loss", "validation loss"), strict=True):
        axis.set(xlabel="epoch", title=title, yscale="log")
        axis.legend()
    return save_figure(figure, pathlib.Path(path))


def plot_metric_vs_length(
    results: Sequence[dict],
    path: str | os.PathLike,
    *,
    metric: str,
    title: str,
    split: str = "val",
    baseline: tuple[float, str] | None = None,
    log_y: bool = False,
) -> pathlib.Path:
    """Draws each cell's ``metric`` against the sequence length (a length sweep).

    Args:
        results: dicts with ``"cell"``, ``"length"`` and ``"final"`` (the runs'
            ``results.json`` plus the length).
        path: the PNG to write.
        metric: the key in ``final[split]``, e.g. ``"accuracy"`` or ``"loss"``.
        title: the figure's title.
        split: which split's metric to draw.
        baseline: ``(value, label)`` for a dashed horizontal line, or ``None``.
        log_y: a logarithmic metric axis (for errors that span decades).

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]
    for index, cell in enumerate(sorted({r["cell"] for r in results})):
        rows = sorted(
            (r["length"], r["final"][split][metric]) for r in results if r["cell"] == cell
        )
        marker, line = styles[index % len(styles)]
        # Coinciding curves (every cell at 100%) stay visible through their markers and dashes.
        axis.plot(*zip(*rows, strict=True), marker=marker, linestyle=line, label=cell)
    if baseline is not None:
        axis.axhline(baseline[0], color="0.6", linestyle="--", label=baseline[1])
    lengths = sorted({r["length"] for r in results})
    axis.set(xlabel="sequence length", ylabel=f"{split} {metric}", xscale="log", title=title)
    if log_y:
        axis.set_yscale("log")
    axis.set_xticks(lengths, [str(length) for length in lengths])
    axis.minorticks_off()
    axis.legend()
    return save_figure(figure, pathlib.Path(path))


def plot_gradient_flow(workdir: str | os.PathLike) -> pathlib.Path:
    """Draws ``‖∂L/∂h_t‖`` against ``t`` (log scale) from ``curves.json``.

    Left: at initialisation, the mean over seeds with a band from the smallest to the largest
    seed. Right: after training.

    Returns:
        The path of ``gradient_flow.png`` in ``workdir``.
    """
    workdir = pathlib.Path(workdir)
    curves = run_folder.read_json(workdir / "curves.json")
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots(1, 2, sharey=True)
    for cell, phases in curves.items():
        init = np.asarray(phases["init"])
        steps = np.arange(init.shape[1])
        (line,) = axes[0].plot(steps, init.mean(axis=0), label=cell)
        axes[0].fill_between(steps, init.min(axis=0), init.max(axis=0), alpha=0.25,
                             color=line.get_color())  # fmt: skip
        axes[1].plot(steps, phases["trained"], color=line.get_color(), label=cell)
    seeds = len(next(iter(curves.values()))["init"])
    titles = (f"at initialisation ({seeds} seeds)", "after training")
    for axis, title in zip(axes, titles, strict=True):
        axis.set(xlabel="time step t", yscale="log", title=title)
        axis.legend()
    axes[0].set_ylabel("‖∂L/∂h_t‖")
    return save_figure(figure, workdir / "gradient_flow.png")
