"""The LSTM-vs-GRU study's statistics: the seeds aggregated, and the choice derived from them.

The study (:func:`gru_lstm_jax.studies.compare.run_study`) trains every cell on every task with
several seeds and keeps one record per run; this module reads those records, and
:mod:`~gru_lstm_jax.analysis.compare_figures` and :mod:`~gru_lstm_jax.analysis.compare_report`
draw and write them. Nothing here trains.

A record is a dict with ``task`` (the study task, e.g. ``"xor_L50"``), ``cell``, ``seed``,
``metric`` and ``higher_is_better`` (the task objective's metric and its direction),
``num_params``, ``test`` and ``val`` (the metric on those splits), ``steps_per_s`` and
``seconds_per_epoch``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "choose_between_lstm_and_gru",
    "format_mean_std",
    "format_metric",
    "metric_label",
    "shown_in_percent",
    "summarize",
    "task_in_percent",
]

# Metric names written as acronyms in tables; any other name is written with spaces.
_ACRONYMS = {"mae": "MAE", "mse": "MSE", "rmse": "RMSE", "auc": "AUC"}


def metric_label(name: str) -> str:
    """A metric's name for tables: ``"mae" -> "MAE"``, ``"exact_match" -> "exact match"``."""
    return _ACRONYMS.get(name, name.replace("_", " "))


def shown_in_percent(higher_is_better: bool, values: Iterable[float]) -> bool:
    """Whether a metric is shown in percent: a score within [0, 1] where higher is better."""
    return higher_is_better and all(0.0 <= float(v) <= 1.0 for v in values)


def format_metric(value: float, percent: bool) -> str:
    """``"99.5%"`` or ``"0.0834"``."""
    return f"{100 * value:.1f}%" if percent else f"{value:.4f}"


def format_mean_std(mean: float, std: float, percent: bool) -> str:
    """``"99.5 ± 0.3%"`` or ``"0.0834 ± 0.0012"``."""
    return f"{100 * mean:.1f} ± {100 * std:.1f}%" if percent else f"{mean:.4f} ± {std:.4f}"


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Aggregates the seeds of every (task, cell).

    Args:
        records: one dict per run with ``task``, ``cell``, ``metric``, ``higher_is_better``,
            ``num_params``, ``test``, ``val``, ``steps_per_s`` and ``seconds_per_epoch``.

    Returns:
        ``{task: {cell: {"seeds": n, "metric": str, "higher_is_better": bool, "num_params":
        int, "test_mean", "test_std", "val_mean", "val_std", "steps_per_s_mean",
        "steps_per_s_std", "seconds_per_epoch_mean", "seconds_per_epoch_std"}}}`` in the
        records' order; standard deviations are the sample standard deviation over seeds (0 for
        one seed).
    """
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in records:
        groups.setdefault(record["task"], {}).setdefault(record["cell"], []).append(record)
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for task, cells in groups.items():
        summary[task] = {}
        for cell, runs in cells.items():
            entry: dict[str, Any] = {
                "seeds": len(runs),
                "metric": runs[0]["metric"],
                "higher_is_better": bool(runs[0]["higher_is_better"]),
                "num_params": runs[0]["num_params"],
            }
            for field in ("test", "val", "steps_per_s", "seconds_per_epoch"):
                entry[f"{field}_mean"], entry[f"{field}_std"] = _mean_std([r[field] for r in runs])
            summary[task][cell] = entry
    return summary


def task_in_percent(entries: Mapping[str, dict[str, Any]]) -> bool:
    """Whether one task's summary (``{cell: entry}``) is shown in percent."""
    first = next(iter(entries.values()))
    means = [e[f"{split}_mean"] for e in entries.values() for split in ("test", "val")]
    return shown_in_percent(first["higher_is_better"], means)


def choose_between_lstm_and_gru(summary: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The report's "Choosing between LSTM and GRU" paragraphs, derived from the numbers.

    For each task with both cells, the difference of the test means (signed by the metric's
    direction) is called a win when it exceeds two standard errors of the difference (Welch:
    ``sqrt(s_L²/n_L + s_G²/n_G)``), otherwise a tie at this number of seeds (with one seed, or
    zero spread, any nonzero difference larger than 1e-9 counts as a win, and the text says
    the seeds cannot tell). Then parameters and training speed, and an overall recommendation
    from the tallies.

    Args:
        summary: the output of :func:`summarize`.

    Returns:
        Markdown lines (bullets and a final paragraph).
    """
    tasks = [t for t in summary if {"lstm", "gru"} <= set(summary[t])]
    if not tasks:
        return ["The study needs both `lstm` and `gru` among its cells to compare them."]
    lines: list[str] = []
    wins: dict[str, list[str]] = {"lstm": [], "gru": [], "tie": []}
    param_ratios, speed_ratios = [], []
    for task in tasks:
        lstm, gru = summary[task]["lstm"], summary[task]["gru"]
        percent = task_in_percent(summary[task])
        difference = gru["test_mean"] - lstm["test_mean"]
        if not lstm["higher_is_better"]:
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
            f"- `{task}` ({metric_label(lstm['metric'])}, {seeds} seeds): LSTM "
            f"{format_mean_std(lstm['test_mean'], lstm['test_std'], percent)}, GRU "
            f"{format_mean_std(gru['test_mean'], gru['test_std'], percent)}: {verdict}. The GRU "
            f"has {param_ratios[-1]:.2f}x the LSTM's parameters and trained at "
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
    lines += [tally, "", _advice(wins)]
    return lines


def _advice(wins: dict[str, list[str]]) -> str:
    """The closing recommendation from the tally of wins per cell."""

    def named(tasks: list[str]) -> str:
        return ", ".join(f"`{t}`" for t in tasks)

    if wins["lstm"] and not wins["gru"]:
        return (
            f"The LSTM was more accurate where the cells differed ({named(wins['lstm'])}); "
            "prefer it when accuracy matters more than parameters and speed."
        )
    if wins["gru"] and not wins["lstm"]:
        return (
            f"The GRU was as accurate or more accurate everywhere ({named(wins['gru'])} in its "
            "favour) with fewer parameters: on these tasks it is the better default."
        )
    if wins["gru"] and wins["lstm"]:
        return (
            f"Neither cell dominates: the GRU won {named(wins['gru'])} and the LSTM won "
            f"{named(wins['lstm'])}; choose per task, and the GRU when parameters or speed decide."
        )
    return (
        "No task separates the two cells at this number of seeds, so the GRU's smaller "
        "parameter count is the deciding difference; add seeds (`--seeds`) before reading "
        "more into the means."
    )
