"""A run built from a config, without touching the file system: data, model, steps, streams.

Randomness comes from ``config.seed`` alone, through named streams folded from one root key:
``init`` (parameters), ``data`` (dataset generation), ``shuffle`` (epoch ``e`` uses
``fold_in(shuffle, e)``) and ``dropout`` (step ``s`` uses ``fold_in(dropout, s)``).

A run is data-parallel over the devices of ``config.mesh`` (all of them by default; see
:mod:`~gru_lstm_jax.training.parallel`). The mesh and ``config.distributed`` say where a run
computes, not what: they are left out when a run folder's config is compared
(:data:`~gru_lstm_jax.training.parallel.PLACEMENT_FIELDS`), so a run resumes on another number
of devices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import nnx

from gru_lstm_jax import data as datasets
from gru_lstm_jax.checks import check_compute_dtype, check_positive_int
from gru_lstm_jax.data.batching import check_bucket_width
from gru_lstm_jax.tasks.base import Task, get_task
from gru_lstm_jax.tasks.objectives import Objective
from gru_lstm_jax.training import run_folder
from gru_lstm_jax.training.optimizers import (
    check_clip_norm,
    check_learning_rate,
    make_optimizer,
)
from gru_lstm_jax.training.parallel import DataParallel, data_parallel
from gru_lstm_jax.training.steps import Steps, make_steps
from gru_lstm_jax.training.user_cells import check_cell_names, import_cell_modules

__all__ = ["FIELDS", "STREAMS", "Run", "prepare_run", "random_streams"]

STREAMS = ("init", "data", "shuffle", "dropout")


@dataclasses.dataclass
class Run:
    """Everything a run needs, built from a config without touching the file system.

    Attributes:
        config: the validated config.
        task: the :class:`~gru_lstm_jax.tasks.Task` that ``config.data.name`` names.
        data: what the task keeps about its data besides the splits
            (:attr:`~gru_lstm_jax.tasks.Data.info`: the sine series, the IMDB vocabulary, ...).
        splits: ``{"train", "val", "test"}`` split dicts.
        model: the freshly initialised model.
        steps: the jitted steps.
        steps_per_epoch: full training batches per epoch.
        keys: the named random streams of ``config.seed``.
        parallel: where the steps run: the mesh that batches are split over.
    """

    config: ml_collections.ConfigDict
    task: Task
    data: Any
    splits: dict[str, dict[str, np.ndarray]]
    model: nnx.Module
    steps: Steps
    steps_per_epoch: int
    keys: dict[str, jax.Array]
    parallel: DataParallel

    @property
    def objective(self) -> Objective:
        """The task's :class:`~gru_lstm_jax.tasks.Objective`."""
        return self.task.objective

    def eval_batches(self, split: dict[str, np.ndarray]) -> Iterable[dict[str, np.ndarray]]:
        """``split`` in padded evaluation batches (length-bucketed with ``bucket_width``)."""
        training = self.config.training
        return datasets.padded_batches(
            split, training.eval_batch_size, bucket_width=training.get("bucket_width", 0)
        )

    def predict_split(self, params: Any, split: dict[str, np.ndarray]) -> Any:
        """Evaluation-mode predictions for every example of ``split``, in its order.

        Returns:
            The task's predictions with a first dimension ``N`` (an array, or a pytree of
            them); length-bucketed batches are put back in the split's order.
        """
        size = datasets.num_examples(split)
        # Each batch carries its examples' indices, so bucketed batches can be put back.
        parts, indices = [], []
        for batch in self.eval_batches({**split, "index": np.arange(size)}):
            real = batch["weights"] == 1.0
            index = batch.pop("index")
            predicted = jax.device_get(self.steps.predict(params, self.parallel.put_batch(batch)))
            parts.append(jax.tree.map(lambda a, real=real: np.asarray(a)[real], predicted))
            indices.append(index[real])
        order = np.argsort(np.concatenate(indices), kind="stable")
        return jax.tree.map(lambda *a: np.concatenate(a)[order], *parts)


def random_streams(seed: int) -> dict[str, jax.Array]:
    """The named random streams of a run: ``{"init", "data", "shuffle", "dropout"} -> key``."""
    root = jax.random.key(seed)
    return {name: jax.random.fold_in(root, index) for index, name in enumerate(STREAMS)}


# The fields the engine reads; the data and model sections belong to the task.
FIELDS = {
    "": ("seed", "imports", "data", "model", "optimizer", "training", "mesh", "distributed"),
    "optimizer": (
        "name", "learning_rate", "schedule", "warmup_steps", "clip_norm", "weight_decay",
    ),
    "training": (
        "num_epochs", "batch_size", "eval_batch_size", "log_every_steps", "checkpoints_to_keep",
        "test_checkpoint", "progress", "bucket_width",
    ),
}  # fmt: skip


def _check_fields(config: ml_collections.ConfigDict) -> None:
    """Refuses a field the engine does not read (a typo would be ignored silently)."""
    for section, known in FIELDS.items():
        fields = config if not section else config[section]
        unknown = sorted(set(fields) - set(known))
        if unknown:
            where = f"config.{section}." if section else "config."
            raise ValueError(
                f"{where}{unknown[0]} is not a field the engine reads; the fields of "
                f"{where.rstrip('.')} are {list(known)}"
            )


def _check_task_fits(run: Run) -> None:
    """Raises ``ValueError`` unless the model takes every split and its targets fit the model."""
    params = nnx.state(run.model, nnx.Param)
    for name, split in run.splits.items():
        batch = next(iter(run.eval_batches({k: v[:1] for k, v in split.items()})))
        shapes = {key: np.shape(value) for key, value in split.items()}
        try:
            predictions = jax.eval_shape(run.steps.predict, params, batch)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"task {run.task.name!r}: the model of config.model does not take the {name} "
                f"split's arrays {shapes}: {error}"
            ) from error
        if run.objective.check is not None:
            run.objective.check(predictions, split, f"task {run.task.name!r}, {name} split")


def prepare_run(config: ml_collections.ConfigDict) -> Run:
    """Validates ``config`` and builds data, model, optimizer and steps; writes no file.

    The modules named in ``config.imports`` are imported first, so that ``config.data.name``
    and ``config.model.cell`` can be a task and a cell they register. The task makes the data
    and the model; one batch of every split goes through the model (abstractly, with
    ``jax.eval_shape``) and the objective checks the targets against its outputs.

    Args:
        config: an experiment config (see ``gru_lstm_jax/configs``).

    Returns:
        A :class:`Run`.

    Raises:
        ValueError: for any bad config value (a module of ``config.imports`` that cannot be
            imported, unknown task or cell, non-positive sizes or lengths, a batch larger than
            the training split or not divisible by the number of devices, data that do not
            fit the model, ...), with the field named.
    """
    import_cell_modules(config.get("imports", ()))
    if isinstance(config.model.get("cell"), str):
        check_cell_names([config.model.cell], "config.model.cell")
    if "compute_dtype" in config.model:
        check_compute_dtype(config.model.compute_dtype, "config.model.compute_dtype")
    training = config.training
    _check_fields(config)
    check_positive_int(training.num_epochs, "config.training.num_epochs")
    check_positive_int(training.batch_size, "config.training.batch_size")
    check_positive_int(training.eval_batch_size, "config.training.eval_batch_size")
    check_positive_int(training.checkpoints_to_keep, "config.training.checkpoints_to_keep")
    check_positive_int(training.log_every_steps, "config.training.log_every_steps")
    bucket_width = training.get("bucket_width", 0)
    check_bucket_width(bucket_width, "config.training.bucket_width")
    check_learning_rate(config.optimizer.learning_rate, "config.optimizer.learning_rate")
    check_clip_norm(config.optimizer.clip_norm, "config.optimizer.clip_norm")
    if training.get("test_checkpoint", "best") not in run_folder.TESTED_CHECKPOINTS:
        raise ValueError(
            f"config.training.test_checkpoint must be one of {list(run_folder.TESTED_CHECKPOINTS)}"
            f"; got {training.test_checkpoint!r}"
        )
    parallel = data_parallel(config.get("mesh"))
    parallel.check_batch_size(training.batch_size, "config.training.batch_size")
    parallel.check_batch_size(training.eval_batch_size, "config.training.eval_batch_size")
    task = get_task(config.data.name)
    keys = random_streams(config.seed)
    data = task.load({k: v for k, v in config.data.items() if k != "name"}, keys["data"])
    splits = data.splits
    train_size = datasets.num_examples(splits["train"])
    if training.batch_size > train_size:
        raise ValueError(
            f"config.training.batch_size ({training.batch_size}) is larger than the training "
            f"split ({train_size} examples)"
        )
    if bucket_width and "lengths" not in splits["train"]:
        raise ValueError(
            "config.training.bucket_width needs a task whose examples have lengths (imdb); "
            f"config.data.name is {config.data.name!r}"
        )
    rngs = nnx.Rngs(params=keys["init"], dropout=keys["dropout"])
    model = task.build(config.model, data, rngs)
    steps_per_epoch = train_size // training.batch_size
    optimizer = make_optimizer(config.optimizer, training.num_epochs * steps_per_epoch)
    steps = make_steps(model, optimizer, task.objective, keys["dropout"], task.forward, parallel)
    run = Run(config, task, data.info, splits, model, steps, steps_per_epoch, keys, parallel)
    _check_task_fits(run)
    return run
