"""Losses and task metrics per example, for regression and binary classification."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

__all__ = ["OBJECTIVES", "Objective", "get_objective"]


@dataclasses.dataclass(frozen=True)
class Objective:
    """A training objective: a per-example loss and a per-example task metric.

    Attributes:
        name: ``"regression"`` or ``"binary_classification"``.
        loss: ``loss(predictions (B, K), targets (B, K)) -> (B,)``.
        metric_name: the task metric's name, e.g. ``"accuracy"``.
        metric: ``metric(predictions, targets) -> (B,)``, averaged over examples.
    """

    name: str
    loss: Callable[[jax.Array, jax.Array], jax.Array]
    metric_name: str
    metric: Callable[[jax.Array, jax.Array], jax.Array]


def squared_error(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error of each example over its ``K`` outputs: ``(B, K), (B, K) -> (B,)``."""
    return jnp.mean((predictions - targets) ** 2, axis=-1)


def absolute_error(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean absolute error of each example over its ``K`` outputs: ``(B, K), (B, K) -> (B,)``."""
    return jnp.mean(jnp.abs(predictions - targets), axis=-1)


def binary_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Binary cross-entropy from logits, averaged over ``K`` outputs: ``(B, K) -> (B,)``."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets), axis=-1)


def binary_accuracy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """1 where ``logit > 0`` agrees with ``target > 0.5`` on all outputs: ``(B, K) -> (B,)``."""
    return jnp.all((logits > 0) == (targets > 0.5), axis=-1).astype(jnp.float32)


OBJECTIVES = {
    "regression": Objective("regression", squared_error, "mae", absolute_error),
    "binary_classification": Objective(
        "binary_classification", binary_cross_entropy, "accuracy", binary_accuracy
    ),
}


def get_objective(name: str) -> Objective:
    """Returns the :class:`Objective` named ``name`` (a key of :data:`OBJECTIVES`)."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}; got {name!r}")
    return OBJECTIVES[name]
