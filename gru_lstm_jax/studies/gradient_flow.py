"""The gradient-flow study: ‖∂L/∂h_t‖ per cell at initialisation and after training on XOR."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gru_lstm_jax.analysis.model_gradients import fit_decay_rate, split_gradient_norms
from gru_lstm_jax.checks import check_positive_int
from gru_lstm_jax.training import load_trained, plots, prepare_run, run_folder, train_and_evaluate
from gru_lstm_jax.training.user_cells import (
    check_cell_names,
    import_cell_modules,
    module_names,
)

__all__ = ["gradient_flow_study"]


def gradient_flow_study(config: Any, workdir: str | os.PathLike) -> dict[str, Any]:
    """Measures ‖∂L/∂h_t‖ per cell at initialisation (several seeds) and after training.

    The fresh models are initialised as ``config.chrono_init_at_start`` says (False: Keras's
    defaults, forget bias 1); the trained model is the XOR config's (``config.xor``). The
    modules named in ``config.imports`` (and ``config.xor.imports``) are imported before the
    cells are looked up, and each training run's config names them too.

    Writes to ``workdir``: ``config.json`` first, one training run folder per cell
    (``train_<cell>``), ``curves.json``
    (``{cell: {"init": [[T floats] per seed], "trained": [T floats]}}``), ``curves.csv``
    (``cell,phase,seed,step,norm``), ``gradient_flow.png`` and, last, ``results.json`` with the
    fitted decay of the seed-mean curve at initialisation and of the trained curve per cell.

    Args:
        config: a gradient-flow config (``gru_lstm_jax/configs/gradient_flow.py``).
        workdir: the study's folder.

    Returns:
        The contents of ``results.json``.

    Raises:
        ValueError: if a module of the imports cannot be imported, a cell is not registered,
            ``num_seeds`` or ``batch_size`` is not a positive int, the XOR config is bad, or
            ``workdir`` is not writable or holds a study with a different config; nothing is
            written then.
    """
    imports = import_cell_modules(
        [
            *module_names(config.get("imports", ()), "config.imports"),
            *module_names(config.xor.get("imports", ()), "config.xor.imports"),
        ]
    )
    check_cell_names(config.cells, "config.cells")
    check_positive_int(config.num_seeds, "config.num_seeds")
    check_positive_int(config.batch_size, "config.batch_size")
    path = run_folder.check_writable(workdir)
    prepare_run(config.xor)  # the XOR config's own checks, before anything is written
    settings = run_folder.check_same_config(path, config, "gradient-flow study")
    path.mkdir(parents=True, exist_ok=True)
    run_folder.write_json(path / "config.json", settings)
    batch_size = config.batch_size
    curves: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {"length": config.xor.data.length, "cells": {}}
    for cell in config.cells:
        task = config.xor.copy_and_resolve_references()
        task.model.cell = cell
        task.imports = imports
        init_curves = []
        fresh = task.copy_and_resolve_references()
        fresh.model.chrono_init = config.chrono_init_at_start
        for seed in range(config.num_seeds):
            fresh.seed = seed
            run = prepare_run(fresh)
            init_curves.append(split_gradient_norms(run, run.steps.init_state().params, batch_size))
        trained = train_and_evaluate(task, path / f"train_{cell}")
        run, params = load_trained(path / f"train_{cell}")
        trained_curve = split_gradient_norms(run, params, batch_size)
        curves[cell] = {
            "init": [c.tolist() for c in init_curves],
            "trained": trained_curve.tolist(),
        }
        results["cells"][cell] = {
            "init": fit_decay_rate(np.mean(init_curves, axis=0)),
            "trained": fit_decay_rate(trained_curve),
            "val_accuracy": trained["final"]["val"]["accuracy"],
        }
    run_folder.write_json(path / "curves.json", curves)
    rows = ["cell,phase,seed,step,norm"]
    for cell, phases in curves.items():
        for seed, curve in enumerate(phases["init"]):
            rows += [f"{cell},init,{seed},{t},{v:.8g}" for t, v in enumerate(curve)]
        rows += [f"{cell},trained,0,{t},{v:.8g}" for t, v in enumerate(phases["trained"])]
    (path / "curves.csv").write_text("\n".join(rows) + "\n")
    plots.plot_gradient_flow(path)
    run_folder.write_json(path / "results.json", results)
    return results
