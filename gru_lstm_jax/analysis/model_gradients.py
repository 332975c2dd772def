"""‖∂L/∂h_t‖ over time for a trained or fresh sequence classifier, and its decay rate.

These functions connect the cell-level analysis (:mod:`gru_lstm_jax.analysis.gradient_flow`)
to models and to the runs of the training layer (taken as arguments; nothing here trains).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gru_lstm_jax.analysis.gradient_flow import gradient_norms_over_time
from gru_lstm_jax.models import SequenceClassifier
from gru_lstm_jax.nn import RNN
from gru_lstm_jax.tasks.objectives import Objective

__all__ = [
    "classifier_gradient_norms",
    "fit_decay_rate",
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
        return jnp.mean(objective.loss(head(outputs[:, -1]), {"targets": targets}))

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
