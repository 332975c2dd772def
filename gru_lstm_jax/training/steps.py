"""Pure, jitted train and eval steps over a Flax NNX model split into graph and state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from gru_lstm_jax.tasks.base import call_on_inputs
from gru_lstm_jax.tasks.objectives import Objective
from gru_lstm_jax.training.parallel import DataParallel

__all__ = ["Steps", "TrainState", "make_steps"]

Batch = dict[str, jax.Array]


class TrainState(NamedTuple):
    """Everything a train step updates.

    Attributes:
        step: the number of steps taken, an int32 scalar.
        params: the model's ``nnx.Param`` state.
        opt_state: the optax optimizer state.
    """

    step: jax.Array
    params: Any
    opt_state: Any


class Steps(NamedTuple):
    """The jitted functions of a run, built by :func:`make_steps`.

    Attributes:
        init_state: ``() -> TrainState`` at step 0 from the model's current parameters
            (replicated on the mesh under data parallelism).
        train_step: ``(state, batch) -> (state, metrics)``, jitted with ``state`` donated;
            ``metrics`` holds ``loss``, the task metric and ``grad_norm`` (before clipping),
            as device scalars.
        eval_step: ``(params, batch) -> sums``, jitted; ``batch["weights"]`` ``(B,)`` marks real
            examples; returns the weighted sums of ``loss`` and the task metric and ``count``.
        predict: ``(params, batch) -> predictions`` in evaluation mode, jitted.
        model_with: ``params -> model`` in evaluation mode (for analysis and plots).
    """

    init_state: Callable[[], TrainState]
    train_step: Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]
    eval_step: Callable[[Any, Batch], dict[str, jax.Array]]
    predict: Callable[[Any, Batch], jax.Array]
    model_with: Callable[[Any], nnx.Module]


def _fresh(state: Any) -> Any:
    """A copy of an NNX state whose variables belong to the current trace.

    Dropout advances (and :func:`_reseeded` resets) random-stream variables; NNX allows that
    only for variables created at the trace level that mutates them.
    """
    return jax.tree.map(lambda leaf: leaf, state)


def _reseeded(graphdef: Any, params: Any, rest: Any, key: jax.Array) -> Any:
    """The non-parameter state with the ``dropout`` stream reset to ``key``."""
    model = nnx.merge(graphdef, params, _fresh(rest))
    nnx.reseed(model, dropout=key)
    return nnx.split(model, nnx.Param, ...)[2]


def make_steps(
    model: nnx.Module,
    optimizer: optax.GradientTransformation,
    objective: Objective,
    dropout_key: jax.Array,
    forward: Callable[[nnx.Module, Batch, bool], Any] = call_on_inputs,
    parallel: DataParallel | None = None,
) -> Steps:
    """Builds the pure train/eval steps of ``model``.

    Args:
        model: an NNX model; its dropout layers use the ``dropout`` random stream.
        optimizer: the optax transformation (see :func:`make_optimizer`).
        objective: the loss and task metric, functions of ``(predictions, batch)``.
        dropout_key: the run's dropout key; step ``s`` uses ``fold_in(dropout_key, s)``.
        forward: ``forward(model, batch, training) -> predictions`` (a task's
            :attr:`~gru_lstm_jax.tasks.Task.forward`; default ``model(inputs, lengths=...)``).
        parallel: data parallelism: the steps take batches split over its mesh and a state
            replicated on it (see :class:`~gru_lstm_jax.training.parallel.DataParallel`), and
            return the state, metrics, sums and predictions replicated. ``None`` (default):
            plain ``jax.jit``, on the default device.

    Returns:
        :class:`Steps`.
    """
    train_graph, params, rest = nnx.split(model, nnx.Param, ...)
    eval_model = nnx.view(model, deterministic=True, raise_if_not_found=False)
    eval_graph, _, eval_rest = nnx.split(eval_model, nnx.Param, ...)
    metric = objective.metric_name

    def init_state() -> TrainState:
        # A copy, so that donating the state to train_step never invalidates the model's arrays.
        start = jax.tree.map(jnp.copy, params)
        state = TrainState(jnp.zeros((), jnp.int32), start, optimizer.init(start))
        return state if parallel is None else parallel.put_replicated(state)

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        # Dropout masks come from the run's dropout stream folded with the step number, so a
        # resumed run draws exactly the masks an uninterrupted run would.
        key = jax.random.fold_in(dropout_key, state.step)
        step_rest = _reseeded(train_graph, state.params, rest, key)

        def loss_fn(params: Any) -> tuple[jax.Array, Any]:
            predictions = forward(nnx.merge(train_graph, params, _fresh(step_rest)), batch, True)
            return jnp.mean(objective.loss(predictions, batch)), predictions

        (loss, predictions), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        new_state = TrainState(
            state.step + 1, optax.apply_updates(state.params, updates), opt_state
        )
        metrics = {
            "loss": loss,
            metric: jnp.mean(objective.metric(predictions, batch)),
            "grad_norm": optax.tree.norm(grads),
        }
        return new_state, metrics

    def predict(params: Any, batch: Batch) -> Any:
        return forward(nnx.merge(eval_graph, params, _fresh(eval_rest)), batch, False)

    def eval_step(params: Any, batch: Batch) -> dict[str, jax.Array]:
        predictions = predict(params, batch)
        weights = batch["weights"]
        return {
            "loss": jnp.sum(weights * objective.loss(predictions, batch)),
            metric: jnp.sum(weights * objective.metric(predictions, batch)),
            "count": jnp.sum(weights),
        }

    def model_with(params: Any) -> nnx.Module:
        return nnx.merge(eval_graph, params, eval_rest)

    shardings = {}
    if parallel is not None:
        both = (parallel.replicated, parallel.batch)
        shardings = {"in_shardings": both, "out_shardings": parallel.replicated}
    return Steps(
        init_state=init_state,
        train_step=jax.jit(train_step, donate_argnums=0, **shardings),
        eval_step=jax.jit(eval_step, **shardings),
        predict=jax.jit(predict, **shardings),
        model_with=model_with,
    )
