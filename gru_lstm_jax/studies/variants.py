"""The variants study: Greff et al.'s LSTM variants, and minGRU/minLSTM against GRU and LSTM.

:func:`run_variants_study` trains every LSTM variant of
:mod:`~gru_lstm_jax.cells.lstm_variants` on the tasks that need memory (by default XOR at
L = 100, the adding problem at T = 100, temporal order at T = 100 and sine forecasting), and
minGRU, minLSTM, GRU and the LSTM (the family's ``NP``) on XOR at L = 100, the adding problem
and IMDB, several seeds each, through :func:`~gru_lstm_jax.studies.runs.train_grid`: one run
folder per (task, cell, seed) under ``<workdir>/runs``, so the study resumes and a run both
parts share (the LSTM on XOR and adding) trains once. It writes ``study.json`` and
``report.md`` with a figure per task
(:func:`~gru_lstm_jax.analysis.variants_report.write_variants_report`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

from gru_lstm_jax.analysis.variants_report import write_variants_report
from gru_lstm_jax.cells import LSTM_VARIANTS
from gru_lstm_jax.studies.runs import machine, study_configs, train_grid
from gru_lstm_jax.training import run_folder
from gru_lstm_jax.training.user_cells import check_cell_names

__all__ = ["MIN_CELLS", "MIN_TASKS", "VARIANT_TASKS", "run_variants_study"]

VARIANT_TASKS = ("xor", "adding", "temporal_order", "sine")
MIN_TASKS = ("xor", "adding", "imdb")
MIN_CELLS = ("lstm_np", "gru", "min_gru", "min_lstm")


def run_variants_study(
    workdir: str | os.PathLike,
    *,
    variants: Sequence[str] = LSTM_VARIANTS,
    tasks: Sequence[str] = VARIANT_TASKS,
    min_cells: Sequence[str] = MIN_CELLS,
    min_tasks: Sequence[str] = MIN_TASKS,
    seeds: Sequence[int] = (0, 1, 2),
    task_seeds: Mapping[str, Sequence[int]] | None = None,
    mode: str = "full",
    lengths: Mapping[str, Sequence[int]] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    notes: Sequence[str] = (),
    progress: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Runs the study and writes ``study.json``, ``report.md`` and the figures to ``workdir``.

    Args:
        workdir: the study's folder; running again with the same arguments resumes.
        variants: Greff et al.'s variant names (:data:`~gru_lstm_jax.cells.LSTM_VARIANTS`);
            ``"V"`` is the reference and must be among them.
        tasks: registered tasks with a config, on which every variant trains.
        min_cells: registered cells compared on ``min_tasks`` (``()`` for none).
        min_tasks: registered tasks with a config for ``min_cells``.
        seeds: every run's seeds.
        task_seeds: ``{task: seeds}`` for tasks that run other seeds (e.g. fewer on IMDB).
        mode: ``"full"``, ``"quick"`` or ``"smoke"``: the variant of every task's config.
        lengths: ``{task: (L, ...)}``, sweeps of ``config.data.length`` (default
            ``{"xor": (100,)}``, the study task ``xor_L100``), for both parts.
        overrides: ``{task: {"section.field": value}}``, fields of a task's config to set.
        notes: lines for the report.
        progress: called with one line of text per finished run.

    Returns:
        The contents of ``study.json``: ``settings``, ``notes``, ``variant_records`` and
        ``min_records`` (one record per run, see :func:`~gru_lstm_jax.studies.runs.train_grid`)
        and ``wall_time_s``.

    Raises:
        ValueError: for an unknown variant or cell, variants without ``"V"``, no or repeated
            seeds, ``task_seeds``, ``lengths`` or ``overrides`` of a task the study does not
            run, or a bad task, mode, length or override; before any run starts.
    """
    started = datetime.datetime.now()
    unknown = [v for v in variants if v not in LSTM_VARIANTS]
    if unknown or "V" not in variants or len(set(variants)) != len(variants):
        raise ValueError(
            f"variants must be distinct names of {list(LSTM_VARIANTS)} including 'V'; "
            f"got {list(variants)}"
        )
    if min_cells:
        check_cell_names(min_cells, "min_cells", "a module imported before the study")
    task_seeds = {task: tuple(s) for task, s in (task_seeds or {}).items()}
    lengths = {"xor": (100,)} if lengths is None else dict(lengths)
    for field, mapping in (("task_seeds", task_seeds), ("lengths", lengths),
                           ("overrides", overrides or {})):  # fmt: skip
        stray = [task for task in mapping if task not in (*tasks, *min_tasks)]
        if stray:
            raise ValueError(f"{field} names tasks {stray} that the study does not run")
    for name, chosen in [
        ("seeds", seeds),
        *((f"task_seeds[{t!r}]", s) for t, s in task_seeds.items()),
    ]:
        if not chosen or len(set(chosen)) != len(chosen):
            raise ValueError(f"{name} must be distinct ints, at least one; got {list(chosen)}")

    def configs(names: Sequence[str]) -> dict[str, Any]:
        return study_configs(
            names, mode=mode,
            lengths={t: n for t, n in lengths.items() if t in names},
            overrides={t: o for t, o in (overrides or {}).items() if t in names},
        )  # fmt: skip

    parts = [(configs(tasks), [f"lstm_{v.lower()}" for v in variants])]
    parts.append((configs(min_tasks) if min_cells and min_tasks else {}, list(min_cells)))
    path = run_folder.check_writable(workdir)
    records: list[list[dict[str, Any]]] = []
    for part, cells in parts:
        records.append([])
        for task, config in part.items():
            chosen = task_seeds.get(config.data.name, seeds)
            records[-1] += train_grid(path, {task: config}, cells, chosen, progress)
    study = {
        "settings": {
            "mode": mode,
            "variants": list(variants),
            "min_cells": list(min_cells),
            "seeds": [int(s) for s in seeds],
            "task_seeds": {t: [int(s) for s in chosen] for t, chosen in task_seeds.items()},
            "tasks": list(parts[0][0]),
            "min_tasks": list(parts[1][0]),
            "date": started.strftime("%Y-%m-%d %H:%M"),
            "machine": machine(),
            "jax": jax.__version__,
        },
        "notes": list(notes),
        "variant_records": records[0],
        "min_records": records[1],
        "wall_time_s": (datetime.datetime.now() - started).total_seconds(),
    }
    run_folder.write_json(path / "study.json", study)
    write_variants_report(study, path)
    return study
