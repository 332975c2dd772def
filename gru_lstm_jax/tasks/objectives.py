"""Objectives: a loss and a task metric per example, pure functions of ``(predictions, batch)``.

Every function maps a model's ``predictions`` and a batch dict to one value per example, shape
``(B,)``; the engine averages them (weighted by ``batch["weights"]`` in evaluation, where the
last batch is padded). Each objective also checks a split's targets against the shapes of the
model's predictions before anything is trained (:attr:`Objective.check`).

===========================  ==========================================  ================
objective                    reads                                        loss / metric
===========================  ==========================================  ================
``regression``               predictions ``(B, K)``, ``targets (B, K)``   MSE / MAE
``binary_classification``    logits ``(B, K)``, ``targets (B, K)`` 0/1    BCE / accuracy
``classification``           logits ``(B, C)``, ``targets (B,)`` ints      CE / accuracy
``sequence``                 ``{"logits" (B, T, V), "tokens" (B, T)}``,   CE per token /
                             ``targets (B, T)`` ints,                     exact match
                             ``target_lengths (B,)``
===========================  ==========================================  ================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "OBJECTIVES",
    "Objective",
    "absolute_error",
    "binary_accuracy",
    "binary_cross_entropy",
    "classification_accuracy",
    "exact_match",
    "get_objective",
    "softmax_cross_entropy",
    "squared_error",
    "token_cross_entropy",
]

Batch = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Objective:
    """A training objective: a per-example loss and a per-example task metric.

    Attributes:
        name: the objective's name, e.g. ``"regression"``.
        loss: ``loss(predictions, batch) -> (B,)``; training minimises its mean.
        metric_name: the task metric's name, e.g. ``"accuracy"``.
        metric: ``metric(predictions, batch) -> (B,)``, averaged over examples.
        higher_is_better: the metric's direction (for studies and reports).
        check: ``check(predictions, split, name)``, or ``None`` for no check: raises
            ``ValueError`` naming ``name``'s field when the split's targets do not fit
            predictions of the shapes and dtypes given (a pytree of ``jax.ShapeDtypeStruct``
            for a batch of that split).
    """

    name: str
    loss: Callable[[Any, Batch], jax.Array]
    metric_name: str
    metric: Callable[[Any, Batch], jax.Array]
    higher_is_better: bool
    check: Callable[[Any, Mapping[str, np.ndarray], str], None] | None = None


def squared_error(predictions: jax.Array, batch: Batch) -> jax.Array:
    """Mean squared error over each example's ``K`` outputs: ``(B, K) -> (B,)``."""
    return jnp.mean((predictions - batch["targets"]) ** 2, axis=-1)


def absolute_error(predictions: jax.Array, batch: Batch) -> jax.Array:
    """Mean absolute error over each example's ``K`` outputs: ``(B, K) -> (B,)``."""
    return jnp.mean(jnp.abs(predictions - batch["targets"]), axis=-1)


def binary_cross_entropy(logits: jax.Array, batch: Batch) -> jax.Array:
    """Binary cross-entropy from logits, averaged over ``K`` outputs: ``(B, K) -> (B,)``."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, batch["targets"]), axis=-1)


def binary_accuracy(logits: jax.Array, batch: Batch) -> jax.Array:
    """1 where ``logit > 0`` agrees with ``target > 0.5`` on all outputs: ``(B, K) -> (B,)``."""
    return jnp.all((logits > 0) == (batch["targets"] > 0.5), axis=-1).astype(jnp.float32)


def softmax_cross_entropy(logits: jax.Array, batch: Batch) -> jax.Array:
    """``-log softmax(logits)[label]``: logits ``(B, C)``, integer ``targets (B,)`` -> ``(B,)``."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])


def classification_accuracy(logits: jax.Array, batch: Batch) -> jax.Array:
    """1 where ``argmax(logits)`` is the label: ``(B, C)``, ``(B,)`` -> ``(B,)``."""
    return (jnp.argmax(logits, axis=-1) == batch["targets"]).astype(jnp.float32)


def _valid_tokens(batch: Batch) -> jax.Array:
    """``(B, T)``: True on the first ``target_lengths[b]`` steps of row ``b``."""
    steps = batch["targets"].shape[1]
    return jnp.arange(steps)[None, :] < batch["target_lengths"][:, None]


def token_cross_entropy(predictions: Mapping[str, jax.Array], batch: Batch) -> jax.Array:
    """Each sequence's mean cross-entropy over its valid target steps: ``(B,)``.

    ``predictions["logits"]`` ``(B, T, V)`` against integer ``targets`` ``(B, T)``; the steps
    at or after ``target_lengths`` ``(B,)`` are left out (0 for a sequence with none).
    """
    valid = _valid_tokens(batch)
    losses = optax.softmax_cross_entropy_with_integer_labels(
        predictions["logits"], batch["targets"]
    )
    return jnp.sum(jnp.where(valid, losses, 0.0), axis=1) / jnp.maximum(jnp.sum(valid, axis=1), 1)


def exact_match(predictions: Mapping[str, jax.Array], batch: Batch) -> jax.Array:
    """1 where ``predictions["tokens"]`` ``(B, T)`` equal ``targets`` on every valid step: ``(B,)``.

    With the targets ending in an end-of-sequence token, stopping early or late is wrong.
    """
    same = (predictions["tokens"] == batch["targets"]) | ~_valid_tokens(batch)
    return jnp.all(same, axis=1).astype(jnp.float32)


def _expect(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{name}: {message}")


def _check_same_shape(predictions: Any, split: Mapping[str, np.ndarray], name: str) -> None:
    targets = np.asarray(split["targets"])
    _expect(
        targets.shape[1:] == tuple(predictions.shape[1:]),
        f"{name}['targets']",
        f"must have shape (N, {', '.join(map(str, predictions.shape[1:]))}) to match the "
        f"model's outputs; got {targets.shape}",
    )


def _check_binary(predictions: Any, split: Mapping[str, np.ndarray], name: str) -> None:
    _check_same_shape(predictions, split, name)
    targets = np.asarray(split["targets"])
    _expect(np.isin(targets, (0, 1)).all(), f"{name}['targets']", "must be 0 or 1 (binary labels)")


def _check_labels(targets: np.ndarray, classes: int, field: str, shape: str) -> None:
    _expect(
        np.issubdtype(targets.dtype, np.integer),
        field,
        f"must be integer labels {shape}; got dtype {targets.dtype}",
    )
    if targets.size:
        low, high = int(targets.min()), int(targets.max())
        _expect(
            low >= 0 and high < classes,
            field,
            f"must be labels in [0, {classes}) for the model's {classes} outputs; got values "
            f"in [{low}, {high}]",
        )


def _check_classes(predictions: Any, split: Mapping[str, np.ndarray], name: str) -> None:
    targets = np.asarray(split["targets"])
    _expect(targets.ndim == 1, f"{name}['targets']", f"must have shape (N,); got {targets.shape}")
    _check_labels(targets, predictions.shape[-1], f"{name}['targets']", "(N,)")


def _check_tokens(predictions: Any, split: Mapping[str, np.ndarray], name: str) -> None:
    targets = np.asarray(split["targets"])
    logits = predictions["logits"]
    _expect(
        targets.ndim == 2 and targets.shape[1] == logits.shape[1],
        f"{name}['targets']",
        f"must have shape (N, {logits.shape[1]}) like the model's logits; got {targets.shape}",
    )
    _check_labels(targets, logits.shape[-1], f"{name}['targets']", "(N, T)")
    _expect("target_lengths" in split, name, "needs 'target_lengths' (N,)")
    lengths = np.asarray(split["target_lengths"])
    in_range = (lengths >= 0) & (lengths <= targets.shape[1])
    _expect(
        lengths.shape == targets.shape[:1] and in_range.all(),
        f"{name}['target_lengths']",
        f"must have shape ({targets.shape[0]},) and values in [0, {targets.shape[1]}]",
    )


OBJECTIVES = {
    objective.name: objective
    for objective in (
        Objective("regression", squared_error, "mae", absolute_error, False, _check_same_shape),
        Objective(
            "binary_classification", binary_cross_entropy, "accuracy", binary_accuracy, True,
            _check_binary,
        ),
        Objective(
            "classification", softmax_cross_entropy, "accuracy", classification_accuracy, True,
            _check_classes,
        ),
        Objective("sequence", token_cross_entropy, "exact_match", exact_match, True, _check_tokens),
    )
}  # fmt: skip


def get_objective(name: str) -> Objective:
    """Returns the :class:`Objective` named ``name`` (a key of :data:`OBJECTIVES`)."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}; got {name!r}")
    return OBJECTIVES[name]
