"""The gradient-flow study: ‖∂L/∂h_t‖ over time for a trained or fresh sequence classifier.

These functions connect the cell-level analysis (:mod:`gru_lstm_jax.analysis.gradient_flow`)
to the models and run folders of the training layer.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gru_lstm_jax.analysis.gradient_flow import gradient_norms_over_time
from gru_lstm_jax.models import SequenceClassifier
from gru_lstm_jax.nn import RNN
from gru_lstm_jax.training import load_trained, plots, prepare_run, run_folder, train_and_evaluate
from gru_lstm_jax.training.objectives import Objective
from gru_lstm_jax.training.user_cells import (
    check_cell_names,
    import_cell_modules,
    module_names,
)

__all__ = [
    "classifier_gradient_norms",
    "fit_decay_rate",
    "gradient_flow_study",
    "split_gradient_norms",
]


def classifier_gradient_norms(
    model: SequenceClassifier,
    inputs: jax.Array,
    targets: jax.Array,
    objective: Objective,
) -> jax.Array:
    """``‖∂L/∂h_t‖`` of a one-layer classifier with last-step pooling, averaged over the batch.

    ``L`` is the objective's mean loss of the logits ``head(h_T)``, exactly as in training.

    Args:
        model: a :class:`~gru_lstm_jax.models.SequenceClassifier` with one unidirectional
            recurrent layer and ``pooling="last"``, in evaluation mode.
        inputs: ``(B, T, F)``.
        targets: ``(B, K)``.
        objective: the training objective.

    Returns:
        ``(T,)``: the batch mean of ``‖∂L/∂h_t‖₂`` at every step ``t``.

    Raises:
        ValueError: for a model with several or bidirectional layers, or another pooling.
    """
    layers = list(model.encoder.layers)
    if len(layers) != 1 or not isinstance(layers[0], RNN) or model.pooling != "last":
        raise ValueError(
            "model must have one unidirectional recurrent layer and pooling='last'; got "
            f"{len(layers)} layer(s) of type {type(layers[0]).__name__} and "
            f"pooling={model.pooling!r}"
        )
    layer, head = layers[0], model.head

    def loss_fn(outputs: jax.Array, final_carry: Any) -> jax.Array:
        return jnp.mean(objective.loss(head(outputs[:, -1]), targets))

    norms = gradient_norms_over_time(
        layer.cell, layer.cell_params(), jnp.asarray(inputs), loss_fn, hidden_size=layer.hidden_size
    )
    return norms.mean


def fit_decay_rate(norms: Any) -> dict[str, float]:
    """Fits ``log ‖∂L/∂h_t‖ = a + b t`` by least squares over the steps ``t``.

    Going back in time from the loss, the gradient shrinks by ``exp(-b)`` per step. Steps whose
    norm underflowed to exactly 0 in float32 are left out of the fit and counted.

    Args:
        norms: ``(T,)`` non-negative gradient norms, step 0 first, the last one positive.

    Returns:
        ``{"log_rate_per_step": b, "factor_per_step": exp(-b), "first_to_last": norms[0] /
        norms[-1], "underflow_steps": n}``; ``first_to_last`` is the measured factor over the
        whole sequence (0 when the first norm underflowed).

    Raises:
        ValueError: for negative norms, a zero last norm, or fewer than two positive norms.
    """
    norms = np.asarray(norms, np.float64)
    positive = norms > 0
    if norms.ndim != 1 or np.any(norms < 0) or positive.sum() < 2 or not positive[-1]:
        raise ValueError(
            f"norms must be (T,) non-negative values, at least two and the last one positive; "
            f"got {norms!r}"
        )
    steps = np.arange(norms.size)
    slope = np.polyfit(steps[positive], np.log(norms[positive]), 1)[0]
    return {
        "log_rate_per_step": float(slope),
        "factor_per_step": float(np.exp(-slope)),
        "first_to_last": float(norms[0] / norms[-1]),
        "underflow_steps": int(np.sum(~positive)),
    }


def split_gradient_norms(run: Any, params: Any, batch_size: int) -> np.ndarray:
    """The mean ``‖∂L/∂h_t‖`` curve of ``params`` on the first validation sequences of a run.

    Args:
        run: a :class:`~gru_lstm_jax.training.Run` of a classifier config (one unidirectional
            layer, last-step pooling), e.g. the XOR config.
        params: the model's parameters (fresh, or restored from a run folder).
        batch_size: how many of the validation sequences to average over.

    Returns:
        ``(T,)`` float array, step 0 first (see :func:`classifier_gradient_norms`).
    """
    split = run.splits["val"]
    model = run.steps.model_with(params)
    inputs, targets = split["inputs"][:batch_size], split["targets"][:batch_size]
    return np.asarray(classifier_gradient_norms(model, inputs, targets, run.objective))


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
            or ``workdir`` is not writable or holds a study with a different config; nothing is
            written then.
    """
    imports = import_cell_modules(
        [
            *module_names(config.get("imports", ()), "config.imports"),
            *module_names(config.xor.get("imports", ()), "config.xor.imports"),
        ]
    )
    check_cell_names(config.cells, "config.cells")
    path = run_folder.check_writable(workdir)
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
